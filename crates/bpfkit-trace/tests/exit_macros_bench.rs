//! On the real kernel: the kernel-side exit flag (no probe body runs after `exit()`), the
//! `Map full` warning of a declared small map, macro expansion (`errorf` with `expanded
//! from`, the stdlib `assert`), block values that are aggregations, `for` without
//! parentheses, callback addresses that no script literal can collide with, and
//! `--mode bench`.

mod common;

use bpfkit_trace::driver::Options;
use bpfkit_trace::runtime::OutputFormat;

/// Runs `script` with `opts`; returns the exit status and the standard output.
fn run_with(script: &str, opts: &Options) -> (i32, String) {
    let (r, out, err) = common::run_opts(script, opts);
    let code = r.unwrap_or_else(|e| panic!("{e}\nstderr: {err}"));
    (code, out)
}

fn run(script: &str) -> (i32, String) {
    run_with(script, &Options::default())
}

#[test]
fn interval_body_runs_once_after_exit() {
    // Without the flag the 1 ms timer fires again before user space detaches it.
    for _ in 0..5 {
        let (code, out) = run("i:ms:1 { @n = count(); @ts += 10; exit(); }");
        assert_eq!(code, 0);
        assert_eq!(out, "Attached 1 probe\n\n\n@n: 1\n@ts: 10\n");
    }
}

#[test]
fn end_still_runs_after_exit() {
    let (_, out) = run("i:ms:1 { exit(); } end { printf(\"end ran\\n\"); }");
    assert_eq!(out, "Attached 2 probes\nend ran\n\n\n");
}

#[test]
fn full_hash_map_warns() {
    let (code, out) = run("let @a = hash(1); begin { @a[1] = 1; @a[2] = 2; }");
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "Attached 1 probe\nstdin:1:38-47: WARNING: Map full; can't update element\n\
         Additional Info - helper: map_update_elem, retcode: -7\n\n\n@a[1]: 1\n"
    );
}

#[test]
fn full_percpu_hash_warns_but_lru_evicts() {
    let (_, out) = run("let @a = percpuhash(1); begin { @a[1] = count(); @a[2] = count(); }");
    assert!(
        out.contains("WARNING: Map full; can't update element\n"),
        "{out}"
    );
    assert!(out.ends_with("\n@a[1]: 1\n"), "{out}");
    let (_, out) = run("let @a = percpulruhash(1); begin { @a[1] = count(); @a[2] = count(); }");
    assert_eq!(out, "Attached 1 probe\n\n\n@a[2]: 1\n");
}

#[test]
fn errorf_in_macro_names_the_call_site() {
    let script = "macro bad() { errorf(\"Something bad\"); } begin { bad(); }";
    let (code, out) = run(script);
    assert_eq!(code, 0);
    let want = format!(
        "Attached 1 probe\nstdin:1:15-38: ERROR: Something bad\n\
         stdin:1:50-55: ERROR: expanded from\n{script}\n{}~~~~~\n\n\n",
        " ".repeat(49)
    );
    assert_eq!(out, want);
}

#[test]
fn stdlib_assert_fails_with_its_place() {
    let (code, out) = run("BEGIN { assert(false, \"My error message\"); }");
    assert_eq!(code, 1);
    assert!(
        out.contains("\nstdlib/base.bt:6:5-37: ERROR: assert failed: My error message\nstdin:1:9-42: ERROR: expanded from\n"),
        "{out}"
    );
    let (code, out) = run("BEGIN { assert(1 + 1 == 2, \"math\"); printf(\"fine\\n\"); }");
    assert_eq!(code, 0);
    assert_eq!(out, "Attached 1 probe\nfine\n\n\n");
}

#[test]
fn macro_parameters_bind_variables_maps_and_expressions() {
    let script = "macro add(a, b) { a + b } macro inc($x) { $x += 1; } \
        macro put(@m, k) { @m[k] = add(k, 10); } \
        BEGIN { $v = 1; inc($v); inc($v); put(@q, 5); printf(\"%d %d\\n\", add(2, 3), $v); }";
    let (_, out) = run(script);
    assert_eq!(out, "Attached 1 probe\n5 3\n\n\n@q[5]: 15\n");
}

#[test]
fn block_value_aggregation_is_assigned() {
    let (_, out) = run("begin { @ = { let $a = 100; avg($a) }; @c = { count() }; }");
    assert_eq!(out, "Attached 1 probe\n\n\n@: 100\n\n@c: 1\n");
}

#[test]
fn for_without_parentheses() {
    let (_, out) =
        run("begin { @a[1] = 7; for $kv : @a { print($kv); } for $i : 0..2 { print($i); } }");
    assert_eq!(out, "Attached 1 probe\n(1, 7)\n0\n1\n\n\n@a[1]: 7\n");
}

#[test]
fn literal_like_old_callback_placeholder_stays_a_number() {
    // 0x5eb7c0de00000000 was the constant that stood for a callback's address.
    let (_, out) = run(
        "begin { @a[1] = 2; $x = 0x5eb7c0de00000000; for ($kv : @a) { } \
         printf(\"%lx %d\\n\", $x, len(@a)); }",
    );
    assert_eq!(out, "Attached 1 probe\n5eb7c0de00000000 1\n\n\n@a[1]: 2\n");
}

#[test]
fn bench_mode_times_each_bench_probe() {
    let opts = Options {
        bench: true,
        quiet: true,
        format: OutputFormat::Json,
        ..Options::default()
    };
    let (code, out) = run_with("bench:a { @a++; } bench:b { @b++; }", &opts);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    let parse = |line: &str, name: &str| -> (u64, u64) {
        let head =
            format!("{{\"type\": \"benchmark_result\", \"data\": {{\"{name}\": {{\"average\": ");
        let rest = line.strip_prefix(&head).unwrap_or_else(|| panic!("{line}"));
        let (avg, rest) = rest
            .split_once(", \"iters\": ")
            .unwrap_or_else(|| panic!("{line}"));
        let iters = rest.strip_suffix("}}}").unwrap_or_else(|| panic!("{line}"));
        (avg.parse().unwrap_or(0), iters.parse().unwrap_or(0))
    };
    let (avg_a, iters_a) = parse(lines[0], "a");
    let (avg_b, iters_b) = parse(lines[1], "b");
    assert!(
        avg_a > 0 && avg_b > 0 && iters_a > 0 && iters_b > 0,
        "{out}"
    );
    // The maps count the runs: each bench body ran once per iteration.
    assert_eq!(
        lines[2],
        format!("{{\"type\": \"map\", \"data\": {{\"@a\": {iters_a}}}}}")
    );
    assert_eq!(
        lines[3],
        format!("{{\"type\": \"map\", \"data\": {{\"@b\": {iters_b}}}}}")
    );
}

#[test]
fn bench_probes_do_not_run_without_bench_mode() {
    let (code, out) = run("bench:a { @a++; }");
    assert_eq!(code, 0);
    assert_eq!(out, "Attached 1 probe\n\n\n");
}

#[test]
fn fine_grained_hist_splits_each_power_of_two() {
    let (_, out) = run("begin { $i = 14; while ($i < 20) { @ = hist($i, 2); $i++; } }");
    let bar = |n: usize| format!("|{}{}|", "@".repeat(n), " ".repeat(52 - n));
    let want = format!(
        "Attached 1 probe\n\n\n@: \n[14, 16)               2 {}\n[16, 20)               4 {}\n\n",
        bar(26),
        bar(52)
    );
    assert_eq!(out, want);
    let opts = Options {
        quiet: true,
        format: OutputFormat::Json,
        ..Options::default()
    };
    let (_, out) = run_with(
        "begin { @ = hist(5, 1); @ = hist(6, 1); @ = hist(0, 1); }",
        &opts,
    );
    assert_eq!(
        out,
        "{\"type\": \"hist\", \"data\": {\"@\": [{\"min\": 0, \"max\": 0, \"count\": 1}, \
         {\"min\": 1, \"max\": 1, \"count\": 0}, {\"min\": 2, \"max\": 2, \"count\": 0}, \
         {\"min\": 3, \"max\": 3, \"count\": 0}, {\"min\": 4, \"max\": 5, \"count\": 1}, \
         {\"min\": 6, \"max\": 7, \"count\": 1}]}}\n"
    );
}

#[test]
fn no_warnings_silences_warnf_and_map_full() {
    let opts = Options {
        no_warnings: true,
        ..Options::default()
    };
    let (_, out) = run_with(
        "let @a = hash(1); begin { warnf(\"careful\"); @a[1] = 1; @a[2] = 2; }",
        &opts,
    );
    assert_eq!(out, "Attached 1 probe\n\n\n@a[1]: 1\n");
}

#[test]
fn macro_variables_are_its_own() {
    let script = "macro m() { $x = 7; $x * 2 } macro inc($v) { $t = $v; $v = $t + 1; } \
        BEGIN { $x = 1; $y = m(); inc($x); printf(\"%d %d\\n\", $x, $y); }";
    let (_, out) = run(script);
    assert_eq!(out, "Attached 1 probe\n2 14\n\n\n");
    let (r, _, _) = common::run_any("macro m() { $q } BEGIN { $q = 1; printf(\"%d\\n\", m()); }");
    let msg = r.err().unwrap_or_default();
    assert!(
        msg.starts_with("stdin:1:13-15: ERROR: Undefined or undeclared variable: $q\n"),
        "{msg}"
    );
}

#[test]
fn full_map_check_adds_no_branch_to_long_loops() {
    // 5000 updates of a 4096-key map in one loop: the verifier still accepts it (a branch
    // per update would exceed its limit on pending branches), and the overflow is reported.
    let (_, out) = run(
        "begin { $i = 0; while ($i < 5000) { @m[$i] = 1; $i++; } printf(\"%d\\n\", len(@m)); \
         clear(@m); }",
    );
    assert_eq!(
        out,
        "Attached 1 probe\n4096\nstdin:1:37-47: WARNING: Map full; can't update element\n\
         Additional Info - helper: map_update_elem, retcode: -7\n\n\n"
    );
    let (_, out) =
        run("begin { @a[1] = 1; @a[2] = 2; for ($kv : @a) { @b[$kv.0] = $kv.1 * 10; } }");
    assert_eq!(
        out,
        "Attached 1 probe\n\n\n@a[1]: 1\n@a[2]: 2\n@b[1]: 10\n@b[2]: 20\n"
    );
}

#[test]
fn nested_macro_errorf_lists_every_call_site() {
    let script = "macro a() { errorf(\"deep\"); } macro b() { a(); } begin { b(); }";
    let (_, out) = run(script);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.get(1), Some(&"stdin:1:13-27: ERROR: deep"), "{out}");
    assert_eq!(
        lines.get(2),
        Some(&"stdin:1:43-46: ERROR: expanded from"),
        "{out}"
    );
    assert_eq!(
        lines.get(5),
        Some(&"stdin:1:58-61: ERROR: expanded from"),
        "{out}"
    );
}
