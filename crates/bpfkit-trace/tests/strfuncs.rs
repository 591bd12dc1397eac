//! Functions worded in user space, run under the real kernel through the built `bpfkit`
//! binary: `strerror`, `signal_name`, `ntop`/`pton`, `strftime`, `buf`, `errorf`/`warnf`,
//! `cat` of a missing file and printf length modifiers. Needs root and a built
//! `bpfkit` beside this test (`cargo build -p bpfkit-cli`), or `BPFKIT_BIN`.

mod common;

/// Runs `bpfkit trace -e prog` and returns its stdout lines.
fn trace(prog: &str) -> Vec<String> {
    let out = common::trace(&["-e", prog]);
    assert!(
        out.status.success(),
        "{prog}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn has(prog: &str, want: &[&str]) {
    let lines = trace(prog);
    for w in want {
        assert!(
            lines.iter().any(|l| l == w),
            "{prog}: no line {w:?} in {lines:?}"
        );
    }
}

#[test]
fn strerror_and_signal_name() {
    has(
        "begin { print(strerror(22)); @e = strerror(2); }",
        &["Invalid argument", "@e: No such file or directory"],
    );
    has(
        "begin { print(signal_name(2)); print(signal_name(0)); print(signal_name(1024)); }",
        &["Interrupt", "Unknown signal 0", "N/A"],
    );
}

#[test]
fn ntop_and_pton() {
    has(
        r#"begin { printf("%s %s %s|%s\n", ntop(0x0100007f), ntop(2, pton("10.1.2.3")), ntop(10, pton("fe80::1")), ntop(0xffff0000)); }"#,
        &["127.0.0.1 10.1.2.3 fe80::1|0.0.255.255"],
    );
}

#[test]
fn strftime_values() {
    // 1.5 s after boot minus boot itself: the same offset, so the difference is exact.
    let lines = trace(
        r#"begin { printf("%s %s\n", strftime("%s.%f", 1500000000), strftime("%s.%f", 0)); }"#,
    );
    let line = lines
        .iter()
        .find(|l| l.contains('.'))
        .expect("a timestamp line");
    let nums: Vec<f64> = line.split(' ').filter_map(|v| v.parse().ok()).collect();
    assert_eq!(nums.len(), 2, "{line}");
    let d = nums.first().copied().unwrap_or(0.0) - nums.get(1).copied().unwrap_or(0.0);
    assert!((d - 1.5).abs() < 1e-6, "{line}");
    let lines = trace(r#"begin { @[strftime("%Y-%m-%d", nsecs)] = 1; }"#);
    assert!(
        lines
            .iter()
            .any(|l| l.len() == 16 && l.starts_with("@[20") && l.ends_with("]: 1")),
        "{lines:?}"
    );
}

#[test]
fn buffers() {
    has(
        r#"begin { @[buf("ok_key", 7)] = 1; $a = buf("hi", 2); printf("a=%r %rx|%rh\n", $a, buf("Hi\0", 3), buf("AB", 2)); }"#,
        &["a=hi \\x48\\x69\\x00|41 42", "@[ok_key\\x00]: 1"],
    );
}

#[test]
fn errorf_warnf_cat_and_lengths() {
    has(
        r#"begin { errorf("bad %d", 1); warnf("meh %s", "x"); }"#,
        &[
            "stdin:1:9-28: ERROR: bad 1",
            "stdin:1:30-50: WARNING: meh x",
        ],
    );
    has(
        r#"begin { cat("/does/not/exist"); }"#,
        &["ERROR: failed to open file '/does/not/exist' (No such file or directory)"],
    );
    has(
        r#"begin { $x = 0x12345678abcdef; printf("%hhx %hx %x %jx\n", $x, $x, $x, $x); }"#,
        &["ef cdef 78abcdef 12345678abcdef"],
    );
}
