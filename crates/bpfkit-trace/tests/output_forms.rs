//! Output forms on the real kernel, compared byte for byte with what bpftrace prints: enum
//! symbolisation with `%s`, `%gr` GFP flags, record values in maps (text and JSON), `hist(v,
//! k)` buckets, `system()` in JSON, `--no-warnings`, `cat()` limited by
//! `BPFTRACE_MAX_CAT_BYTES`, bpftrace's wording of a `has_key()` key mismatch, and a load
//! failing as it would with `BPFTRACE_LOG_SIZE` too small for the verifier log.

mod common;

use bpfkit_trace::driver::Options;
use bpfkit_trace::runtime::OutputFormat;
use common::{stdout as run, stdout_opts as run_with};

fn json_opts() -> Options {
    Options {
        format: OutputFormat::Json,
        quiet: true,
        allow_unsafe: true,
        ..Options::default()
    }
}

#[test]
fn enum_values_print_their_names_with_percent_s() {
    let defs = "enum Foo { ONE = 1, TWO = 2, OTHER = 99999 };";
    let direct = format!(
        "{defs} begin {{ printf(\"%d %s %d %s %d %s\\n\", ONE, ONE, TWO, TWO, OTHER, OTHER); exit() }}"
    );
    assert_eq!(
        run(&direct),
        "Attached 1 probe\n1 ONE 2 TWO 99999 OTHER\n\n\n"
    );
    let var = format!("{defs} begin {{ $t = TWO; printf(\"%s|\", $t); @o = OTHER; printf(\"%s\\n\", @o); exit() }}");
    assert!(run(&var).contains("TWO|OTHER\n"));
    let cast = format!(
        "{defs} begin {{ $x = 100; printf(\"%s %s\\n\", (enum Foo)1, (enum Foo)$x); exit() }}"
    );
    assert!(run(&cast).contains("\nONE 100\n"));
    let width = "enum Foo { A, B, C, }; begin { printf(\"%-5s %5s %s\\n\", A, B, C); exit() }";
    assert!(run(width).contains("\nA         B C\n"));
    let json = run_with(&direct, &json_opts());
    assert_eq!(
        json,
        "{\"type\": \"printf\", \"data\": \"1 ONE 2 TWO 99999 OTHER\\n\"}\n"
    );
}

#[test]
fn enum_map_keys_print_their_names_in_text_only() {
    let script = "enum Foo { ONE = 1, TWO }; begin { @k[ONE] = 1; @t[TWO, \"a\"] = 2; @u[(enum Foo)7] = 3; }";
    assert_eq!(
        run(script),
        "Attached 1 probe\n\n\n@k[ONE]: 1\n@t[TWO, a]: 2\n@u[7]: 3\n"
    );
    let json = run_with("enum Foo { ONE = 1 }; begin { @k[ONE] = 1; }", &json_opts());
    assert_eq!(
        json,
        "{\"type\": \"map\", \"data\": {\"@k\": {\"1\": 1}}}\n"
    );
}

#[test]
fn gfp_flags_print_by_name() {
    let out = run("begin { printf(\"%gr|%gr|%gr\\n\", 0x1, 0xcc0, 0); exit() }");
    assert_eq!(out, "Attached 1 probe\nGFP_DMA|GFP_KERNEL|none\n\n\n");
}

#[test]
fn records_print_with_field_names() {
    let out = run("begin { print(@); } end { @ = (a=1, b=(2, \"hi\")) }");
    assert_eq!(
        out,
        "Attached 2 probes\n@: { .a = 0, .b = (0, ) }\n\n\n@: { .a = 1, .b = (2, hi) }\n"
    );
    let json = run_with(
        "begin { $v = (x=1, y=2); @a = (a=0, b=1, c=\"str\", d=(5, 6), e=$v); }",
        &json_opts(),
    );
    assert_eq!(
        json,
        "{\"type\": \"map\", \"data\": {\"@a\": {\"a\": 0, \"b\": 1, \"c\": \"str\", \"d\": [5,6], \"e\": {\"x\": 1, \"y\": 2}}}}\n"
    );
}

#[test]
fn hist_with_bits_splits_powers_of_two() {
    let json = run_with(
        "begin { @ = hist(0, 2); @ = hist(7, 2); @ = hist(9, 2); @ = hist(11, 2); }",
        &json_opts(),
    );
    assert_eq!(
        json,
        "{\"type\": \"hist\", \"data\": {\"@\": [{\"min\": 0, \"max\": 0, \"count\": 1}, \
         {\"min\": 1, \"max\": 1, \"count\": 0}, {\"min\": 2, \"max\": 2, \"count\": 0}, \
         {\"min\": 3, \"max\": 3, \"count\": 0}, {\"min\": 4, \"max\": 4, \"count\": 0}, \
         {\"min\": 5, \"max\": 5, \"count\": 0}, {\"min\": 6, \"max\": 6, \"count\": 0}, \
         {\"min\": 7, \"max\": 7, \"count\": 1}, {\"min\": 8, \"max\": 9, \"count\": 1}, \
         {\"min\": 10, \"max\": 11, \"count\": 1}]}}\n"
    );
    let text = run("begin { @ = hist(9, 2); @ = hist(20, 2); }");
    assert!(text.contains("\n[8, 10)                1 |"), "{text}");
    assert!(text.contains("\n[20, 24)               1 |"), "{text}");
    let (r, _, _) = common::run_any("begin { @ = hist(1, 6); }");
    assert!(
        r.as_ref().is_err_and(|m| m.starts_with(
            "stdin:1:21-22: ERROR: hist(): the bits argument must be a constant from 0 to 5"
        )),
        "{r:?}"
    );
}

#[test]
fn system_output_is_a_syscall_record_in_json() {
    let json = run_with("begin { system(\"echo a b c\"); }", &json_opts());
    assert_eq!(json, "{\"type\": \"syscall\", \"data\": \"a b c\\n\"}\n");
}

#[test]
fn no_warnings_silences_warnf() {
    let opts = Options {
        no_warnings: true,
        ..Options::default()
    };
    let out = run_with("begin { warnf(\"no warn\"); printf(\"ok\\n\"); }", &opts);
    assert_eq!(out, "Attached 1 probe\nok\n\n\n");
    let loud = run("begin { warnf(\"loud\"); }");
    assert!(loud.contains("stdin:1:9-22: WARNING: loud\n"), "{loud}");
}

#[test]
fn cat_prints_at_most_max_cat_bytes() {
    std::env::set_var("BPFTRACE_MAX_CAT_BYTES", "3");
    let out = run("begin { cat(\"/proc/self/cmdline\"); printf(\"|\\n\"); }");
    std::env::remove_var("BPFTRACE_MAX_CAT_BYTES");
    // The tracer's own command line starts with a path: three bytes of it, then `|`.
    let line = out.lines().nth(1).unwrap_or_default();
    assert_eq!(line.chars().count(), 4, "{out:?}");
    assert!(line.ends_with('|'), "{out:?}");
}

#[test]
fn has_key_key_mismatch_uses_bpftrace_wording() {
    let (r, _, _) = common::run_any(
        "begin { @g[1, \"hi\"] = 2; if (has_key(@g, (1, 2))) { printf(\"ok\\n\"); } }",
    );
    let msg = r.expect_err("a mismatched key must be refused");
    assert!(
        msg.starts_with(
            "stdin:1:42-48: ERROR: Argument mismatch for @g: trying to access with arguments: \
             '(int8,int8)' when map expects arguments: '(int8,string[3])'"
        ),
        "{msg}"
    );
}

#[test]
fn block_aggregations_unparenthesised_for_and_errno_names() {
    let out = run("begin { @ = { let $a = 100; avg($a) }; }");
    assert_eq!(out, "Attached 1 probe\n\n\n@: 100\n\n");
    let out =
        run("begin { for $i : 0..2 { printf(\"%d \", $i); } printf(\"%s\\n\", strerror(EPERM)); }");
    assert_eq!(out, "Attached 1 probe\n0 1 Operation not permitted\n\n\n");
}

#[test]
fn kernel_enums_are_named_from_btf() {
    let out = run(
        "begin { printf(\"%s %s\\n\", (enum skb_drop_reason)2, (enum skb_drop_reason)100000); }",
    );
    assert_eq!(
        out,
        "Attached 1 probe\nSKB_DROP_REASON_NOT_SPECIFIED 100000\n\n\n"
    );
}

#[test]
fn record_fields_read_back_and_strings_widen() {
    let out = run(
        "begin { $v = (x=1, y=\"ab\"); printf(\"%d %s\\n\", $v.x, $v.y); \
         @a = (a=1, b=\"x\"); @a = (a=2, b=\"a much longer string\"); }",
    );
    assert_eq!(
        out,
        "Attached 1 probe\n1 ab\n\n\n@a: { .a = 2, .b = a much longer string }\n"
    );
}

#[test]
fn enum_names_in_system_and_diagnostics() {
    let opts = Options {
        allow_unsafe: true,
        ..Options::default()
    };
    let out = run_with(
        "enum E { A = 5 }; begin { warnf(\"w %s\", A); system(\"echo %s %d\", A, A); }",
        &opts,
    );
    assert_eq!(
        out,
        "Attached 1 probe\nstdin:1:27-43: WARNING: w A\nA 5\n\n\n"
    );
}
