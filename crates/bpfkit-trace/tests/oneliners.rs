//! Classic bpftrace one-liners run by our driver and by the installed bpftrace: the output
//! after the attach line must be byte-identical. Scripts that depend on live events trigger
//! them themselves and compare what is deterministic.

use bpfkit_trace::driver::{self, Options};
use std::process::Command;

fn ours(script: &str) -> String {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let r = driver::run("stdin", script, &Options::default(), &mut out, &mut err);
    assert_eq!(r, Ok(0), "stderr: {}", String::from_utf8_lossy(&err));
    let s = String::from_utf8_lossy(&out).into_owned();
    s.split_once('\n')
        .map(|x| x.1.to_string())
        .unwrap_or_default()
}

fn peer(script: &str) -> String {
    let out = Command::new("bpftrace")
        .args(["-e", script])
        .output()
        .expect("bpftrace is installed on this machine");
    let s = stats_as_current_bpftrace(&String::from_utf8_lossy(&out.stdout));
    s.split_once('\n')
        .map(|x| x.1.to_string())
        .unwrap_or_default()
}

/// The installed bpftrace (0.17) prints stats as `@s: count 2, average 4, total 8`; current
/// bpftrace, which `bpfkit trace` follows, as `@s: { .count = 2, .average = 4, .total = 8 }`.
fn stats_as_current_bpftrace(s: &str) -> String {
    let mut out = String::new();
    for line in s.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        let parts = body.split_once(": count ").and_then(|(name, rest)| {
            let (c, rest) = rest.split_once(", average ")?;
            let (a, t) = rest.split_once(", total ")?;
            Some((name, c, a, t))
        });
        match parts {
            Some((name, c, a, t)) => {
                out.push_str(&format!(
                    "{name}: {{ .count = {c}, .average = {a}, .total = {t} }}"
                ));
                out.push_str(&line[body.len()..]);
            }
            None => out.push_str(line),
        }
    }
    out
}

fn same(script: &str) {
    let a = ours(script);
    let b = peer(script);
    assert_eq!(a, b, "script: {script}");
    assert!(!a.is_empty());
}

#[test]
fn printf_conversions() {
    same(
        r#"BEGIN { printf("%d %u %x %X %o %c|\n", -5, 7, 255, 255, 8, 65); printf("%5d|%-5d|%05d|%s|%10s|%-10s|\n", 42, 42, 42, "str", "right", "left"); exit(); }"#,
    );
}

#[test]
fn histograms_wide_and_narrow() {
    same("BEGIN { @h = hist(5); @h = hist(1000); @h = hist(1000000); @h = hist(0); @h = hist(1); exit(); }");
    same("BEGIN { @l = lhist(3, 0, 50, 5); @l = lhist(33, 0, 50, 5); @l = lhist(77, 0, 50, 5); exit(); }");
}

#[test]
fn aggregations_sorted_by_value() {
    same(
        r#"BEGIN { @c["a"] = count(); @c["b"] = count(); @c["b"] = count(); @c["c"] = count(); @c["c"] = count(); @c["c"] = count(); @s[1] = sum(30); @s[2] = sum(10); @s[3] = sum(20); @mx = max(4); @mx = max(11); @mn = min(4); @mn = min(-2); @a = avg(10); @a = avg(20); @st = stats(3); @st = stats(5); exit(); }"#,
    );
}

#[test]
fn multi_key_maps_and_tuples() {
    same(
        r#"BEGIN { @m[1, "a"] = 10; @m[2, "b"] = 5; @t = (1, "x", 2); @k["one", 2, "three"] = 1; exit(); }"#,
    );
}

#[test]
fn arithmetic_and_logic() {
    same("BEGIN { $a = 10; $b = 3; printf(\"%d %d %d %d %d %d %d %d %d %d\\n\", $a + $b, $a - $b, $a * $b, $a / $b, $a % $b, $a << 2, $a >> 1, $a & $b, $a | $b, $a ^ $b); printf(\"%d %d %d %d\\n\", $a > $b && $b > 0, $a < $b || $b == 3, !$a, -$a); exit(); }");
}

#[test]
fn syscall_count_by_comm_sees_our_own_calls() {
    // Event-driven: the counts vary, but our getpid burst must be counted exactly.
    let me = std::process::id();
    let script = format!(
        "tracepoint:syscalls:sys_enter_getppid /pid == {me}/ {{ @n = count(); if (@n == 50) {{ exit(); }} }}"
    );
    let t = std::thread::spawn(|| {
        for _ in 0..400 {
            std::thread::sleep(std::time::Duration::from_millis(5));
            for _ in 0..10 {
                let _ = std::os::unix::process::parent_id();
            }
        }
    });
    let s = ours(&script);
    assert!(s.starts_with("\n\n@n: "), "{s}");
    let n: u64 = s.trim().trim_start_matches("@n: ").parse().expect("count");
    assert!((50..=60).contains(&n), "{s}");
    drop(t);
}
