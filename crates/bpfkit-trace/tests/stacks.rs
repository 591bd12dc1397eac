//! `kstack` / `ustack` against the real kernel: the frames of this process's getpid calls.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Runs `script` while a thread of this process calls getpid; stdout without the attach line.
fn run_with_getpid(script: &str) -> String {
    // One tracer at a time: every script here filters on this process's pid, so a run would
    // also see the getpid calls of a test running beside it (each runtime reads frames from its
    // own stack-trace map; that part could overlap).
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let t = std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            // std::process::id() is a getpid(2) call on Linux.
            let _ = std::process::id();
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let (r, out, err) = common::run_any(script);
    stop.store(true, Ordering::Relaxed);
    t.join().expect("getpid thread");
    assert_eq!(r, Ok(0), "stderr: {err}");
    common::after_first_line(&out)
}

/// Whether `/proc/kallsyms` names `sym`.
fn kallsyms_has(sym: &str) -> bool {
    let text = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
    text.lines()
        .any(|l| l.split_whitespace().nth(2) == Some(sym))
}

#[test]
fn kstack_of_getpid_names_the_syscall_entry() {
    let pid = std::process::id();
    let out = run_with_getpid(&format!(
        "tracepoint:syscalls:sys_enter_getpid /pid == {pid}/ {{ @[kstack] = count(); exit(); }}"
    ));
    // `@[` then one frame a line, each indented by 8 spaces, then `]: N` (N ≥ 1: a call or
    // two more may land between exit() and the detach).
    let body = out
        .split_once("@[\n")
        .and_then(|(_, r)| r.split_once("]: "))
        .map(|(f, _)| f)
        .unwrap_or_else(|| panic!("no stack key in {out:?}"));
    let frames: Vec<&str> = body.lines().collect();
    assert!(!frames.is_empty(), "{out:?}");
    for f in &frames {
        let name = f
            .strip_prefix("        ")
            .and_then(|n| n.split_once('+'))
            .map(|(n, off)| {
                assert!(off.parse::<u64>().is_ok(), "offset in {f:?}");
                n
            })
            .unwrap_or_else(|| panic!("frame {f:?}"));
        assert!(kallsyms_has(name), "{name} not in /proc/kallsyms");
    }
    assert!(
        frames
            .iter()
            .any(|f| f.contains("entry_SYSCALL") || f.contains("do_syscall")),
        "no syscall entry frame in {frames:?}"
    );
}

#[test]
fn stacks_with_modes_limits_and_tuples() {
    let pid = std::process::id();
    let out = run_with_getpid(&format!(
        "tracepoint:syscalls:sys_enter_getpid /pid == {pid}/ {{ \
         printf(\"%s|\\n\", kstack(1)); print((kstack(raw, 1), 7)); \
         printf(\"%s|\\n\", ustack(perf, 1)); exit(); }}"
    ));
    let lines: Vec<&str> = out.lines().collect();
    // kstack(1): an empty line, one indented frame, then `|`.
    assert_eq!(lines.first(), Some(&""), "{out:?}");
    assert!(
        lines
            .get(1)
            .is_some_and(|l| l.starts_with("        ") && l.contains('+')),
        "{out:?}"
    );
    assert_eq!(lines.get(2), Some(&"|"), "{out:?}");
    // raw: the bare hex address inside the tuple.
    assert_eq!(lines.get(3), Some(&"("), "{out:?}");
    assert!(
        lines
            .get(4)
            .is_some_and(|l| u64::from_str_radix(l, 16).is_ok()),
        "{out:?}"
    );
    assert_eq!(lines.get(5), Some(&", 7)"), "{out:?}");
    // perf: tab, hex address, name, and the mapped file of this test binary's libc.
    assert_eq!(lines.get(6), Some(&""), "{out:?}");
    let perf = lines.get(7).copied().unwrap_or_default();
    let rest = perf.strip_prefix('\t').unwrap_or_else(|| panic!("{out:?}"));
    let (addr, rest) = rest.split_once(' ').unwrap_or_else(|| panic!("{out:?}"));
    assert!(u64::from_str_radix(addr, 16).is_ok(), "{perf:?}");
    assert!(rest.ends_with(')') && rest.contains(" (/"), "{perf:?}");
    assert_eq!(lines.get(8), Some(&"|"), "{out:?}");
}
