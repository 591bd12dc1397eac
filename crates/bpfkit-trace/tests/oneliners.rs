//! Classic bpftrace one-liners run by our driver and by the installed bpftrace: the output
//! after the attach line must be byte-identical. Scripts that depend on live events trigger
//! them themselves and compare what is deterministic.

mod common;

use bpfkit_trace::harness::stats_as_current_bpftrace;
use common::body as ours;
use std::process::Command;

fn peer(script: &str) -> String {
    let out = Command::new("bpftrace")
        .args(["-e", script])
        .output()
        .expect("bpftrace is installed on this machine");
    common::after_first_line(&stats_as_current_bpftrace(&String::from_utf8_lossy(
        &out.stdout,
    )))
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
