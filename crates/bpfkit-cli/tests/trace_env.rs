//! bpftrace's environment knobs under `bpfkit trace`: `BPFTRACE_LOG_SIZE` with `-v` (a
//! verifier log buffer too small for the log fails the load with bpftrace's error and
//! warning; a large one loads and runs) and `BPFTRACE_MAX_CAT_BYTES` (how much of a file
//! `cat()` prints). Runs on the real kernel.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_bpfkit");
const SCRIPT: &str = r#"begin { if (str($1) == str($2)) { printf("%s\n", str($1)); exit() } }"#;

#[test]
fn a_too_small_log_buffer_fails_with_bpftraces_words() {
    let out = Command::new(BIN)
        .args(["trace", "-v", "-e", SCRIPT, "hello", "hello"])
        .env("BPFTRACE_LOG_SIZE", "2")
        .output()
        .expect("run bpfkit trace");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines.contains(
            &"ERROR: Error loading BPF program for begin_1. Error code: -28 (No space left on device)."
        ),
        "{err}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(
            "WARNING: Kernel log seems to be trimmed. This may be due to buffer not being big enough"
        ) && l.ends_with("current value of 2 bytes")),
        "{err}"
    );
}

#[test]
fn a_large_log_buffer_loads() {
    let out = Command::new(BIN)
        .args(["trace", "-v", "-e", SCRIPT, "hello", "hello"])
        .env("BPFTRACE_LOG_SIZE", "10000000")
        .output()
        .expect("run bpfkit trace");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.lines().any(|l| l == "hello"), "{stdout}");
}

#[test]
fn cat_prints_at_most_max_cat_bytes() {
    let path = std::env::temp_dir().join(format!("bpfkit_cat_{}", std::process::id()));
    std::fs::write(&path, "abcdef\n").expect("write the file");
    let script = format!("begin {{ cat(\"{}\"); exit(); }}", path.display());
    let run = |limit: Option<&str>| {
        let mut c = Command::new(BIN);
        c.args(["trace", "-e", &script]);
        if let Some(l) = limit {
            c.env("BPFTRACE_MAX_CAT_BYTES", l);
        }
        let out = c.output().expect("run bpfkit trace");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let limited = run(Some("3"));
    let whole = run(None);
    let _ = std::fs::remove_file(&path);
    assert_eq!(limited, "Attached 1 probe\nabc\n\n");
    assert_eq!(whole, "Attached 1 probe\nabcdef\n\n\n");
}
