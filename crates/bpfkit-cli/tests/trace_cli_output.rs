//! `bpfkit trace` command-line wording and output forms that bpftrace's runtime cases compare
//! byte for byte: error messages, listings from tracefs and vmlinux BTF, `--info`, JSON
//! `attached_probes`, and `print(@m, top, div)`. Runs the built binary on the real kernel.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_bpfkit");

/// Runs `bpfkit trace ARGS` and returns (exit code, stdout, stderr).
fn trace(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(BIN)
        .arg("trace")
        .args(args)
        .output()
        .expect("run bpfkit");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn command_line_errors_use_bpftrace_wording() {
    let (rc, _, err) = trace(&["no_such_file_bpfkit.bt"]);
    assert_eq!(rc, 1);
    assert_eq!(
        err,
        "ERROR: failed to open file 'no_such_file_bpfkit.bt': No such file or directory\n"
    );
    for (pid, msg) in [
        (
            "a1111",
            "ERROR: Failed to parse pid: invalid integer: a1111\n",
        ),
        (
            "111a1",
            "ERROR: Failed to parse pid: invalid trailing bytes: 111a1\n",
        ),
        ("5000000", "ERROR: Pid out of range: 5000000\n"),
    ] {
        let (rc, out, err) = trace(&["-p", pid, "-e", "begin { print(1); }"]);
        assert_eq!((rc, out.as_str(), err.as_str()), (1, "", msg), "-p {pid}");
    }
    let (rc, _, err) = trace(&["-q", "-f", "jsonx", "-e", "begin { }"]);
    assert_eq!(rc, 1);
    assert_eq!(err, "ERROR: Invalid output format \"jsonx\"\n");
}

#[test]
fn listing_a_missing_script_warns_and_searches() {
    let (rc, out, err) = trace(&["-l", "no_such_file_bpfkit.bt"]);
    assert_eq!(rc, 0);
    assert_eq!(out, "");
    assert_eq!(
        err,
        "WARNING: It appears that 'no_such_file_bpfkit.bt' is a filename but the file does not \
         exist. Treating 'no_such_file_bpfkit.bt' as a search pattern.\n"
    );
}

#[test]
fn listing_a_script_names_its_probes() {
    let dir = std::env::temp_dir().join(format!("bpfkit_list_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("probes.bt");
    std::fs::write(
        &file,
        "interval:ms:1000 {}\ninterval:s:1 {}\nprofile:hz:99 {}\ntracepoint:syscalls:sys_enter_getpid {}\n",
    )
    .expect("write script");
    let (rc, out, _) = trace(&["-l", file.to_str().expect("utf-8 path")]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(rc, 0);
    assert_eq!(
        out,
        "interval:ms:\ninterval:s:\nprofile:hz:\ntracepoint:syscalls:sys_enter_getpid\n"
    );
}

#[test]
fn listing_all_includes_raw_tracepoints_with_btf_params() {
    let (rc, out, _) = trace(&["-l"]);
    assert_eq!(rc, 0);
    assert!(out.lines().any(|l| l == "rawtracepoint:sched_switch"));
    let (rc, out, _) = trace(&["-lv", "rawtracepoint:sched_switch"]);
    assert_eq!(rc, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"rawtracepoint:sched_switch"));
    // The wrapper's leading `void *__data` is left out; the task pointers are there.
    assert!(!out.contains("__data"), "{out}");
    assert!(lines.contains(&"    struct task_struct * prev"), "{out}");
    assert!(lines.contains(&"    struct task_struct * next"), "{out}");
}

#[test]
fn listing_struct_definitions_from_vmlinux_btf() {
    let (rc, out, _) = trace(&["-lv", "struct task_struct,struct fd"]);
    assert_eq!(rc, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"vmlinux: struct task_struct {"));
    assert!(lines.contains(&"\tpid_t pid;"), "{out}");
    assert!(lines.contains(&"vmlinux: struct fd {"), "{out}");
    assert_eq!(lines.last(), Some(&"};"));
}

#[test]
fn info_lists_probe_types() {
    let (rc, out, _) = trace(&["--info"]);
    assert_eq!(rc, 0);
    let kprobes = std::path::Path::new("/sys/bus/event_source/devices/kprobe").exists();
    let want = format!("  kprobe_session: {}", if kprobes { "yes" } else { "no" });
    assert!(out.lines().any(|l| l == want), "{out}");
}

#[test]
fn json_attached_probes_has_count() {
    let (rc, out, _) = trace(&["-f", "json", "-e", "begin { exit(); }"]);
    assert_eq!(rc, 0);
    assert_eq!(
        out.lines().next(),
        Some("{\"type\": \"attached_probes\", \"count\": 1, \"data\": {\"probes\": 1}}")
    );
}

#[test]
fn print_with_top_and_div() {
    let prog = "begin { @[\"a\"] = avg(10); @[\"b\"] = avg(20); @[\"c\"] = avg(30); \
                @[\"d\"] = avg(40); print(@, 2, 10); clear(@); }";
    let (rc, out, _) = trace(&["-q", "-f", "json", "-e", prog]);
    assert_eq!(rc, 0);
    assert_eq!(
        out,
        "{\"type\": \"stats\", \"data\": {\"@\": {\"c\": 3, \"d\": 4}}}\n"
    );
    let prog =
        "begin { @[1] = hist(10); @[2] = hist(20); @[3] = hist(30); print(@, 2); clear(@); }";
    let (rc, out, _) = trace(&["-q", "-f", "json", "-e", prog]);
    assert_eq!(rc, 0);
    assert_eq!(
        out,
        "{\"type\": \"hist\", \"data\": {\"@\": {\"2\": [{\"min\": 16, \"max\": 31, \"count\": 1}], \
         \"3\": [{\"min\": 16, \"max\": 31, \"count\": 1}]}}}\n"
    );
}

#[test]
fn stats_print_in_bpftrace_form() {
    let (rc, out, _) = trace(&[
        "-q",
        "-e",
        "begin { print(@); } end { @ = stats(-10); @ = stats(-5); @ = stats(5); }",
    ]);
    assert_eq!(rc, 0);
    let lines: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines,
        [
            "@: { .count = 0, .average = 0, .total = 0 }",
            "@: { .count = 3, .average = -3, .total = -10 }"
        ]
    );
}

#[test]
fn declared_but_unused_map_warns() {
    let (rc, _, err) = trace(&["-q", "-e", "let @a = percpuhash(1); begin { exit(); }"]);
    assert_eq!(rc, 0);
    assert!(
        err.lines().any(|l| l.ends_with("WARNING: Unused map: @a")),
        "{err}"
    );
    let (rc, _, err) = trace(&["-q", "-e", "let @a = hash(2); begin { @a[1] = 1; exit(); }"]);
    assert_eq!(rc, 0);
    assert!(!err.contains("Unused map"), "{err}");
}
