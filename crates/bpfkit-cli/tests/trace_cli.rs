//! `bpfkit trace` end to end on the running kernel: the acceptance one-liner against a marker
//! exec, probe listings against tracefs and bpftrace, bpftrace-compatible map output, clean
//! shutdown on SIGINT, and script errors with carets.

use bpfkit_trace::harness::stats_as_current_bpftrace;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_bpfkit");

fn unique(tag: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("bpfkit_{tag}_{}_{t}", std::process::id())
}

/// Reads lines of a pipe on a thread so a test can wait with a deadline.
fn lines(r: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(r).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_line(
    rx: &mpsc::Receiver<String>,
    pred: impl Fn(&str) -> bool,
    secs: u64,
) -> Option<String> {
    let end = Instant::now() + Duration::from_secs(secs);
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(l) if pred(&l) => return Some(l),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}

/// Stops a traced child if the test fails before it does.
struct Guard(u32);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .status();
    }
}

/// Ids of the BPF programs process `pid` holds, from its fdinfo.
fn prog_ids(pid: u32) -> Vec<u32> {
    let mut ids = Vec::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return ids;
    };
    for e in dir.filter_map(Result::ok) {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        ids.extend(
            text.lines()
                .filter_map(|l| l.strip_prefix("prog_id:"))
                .filter_map(|v| v.trim().parse::<u32>().ok()),
        );
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn interrupt(pid: u32) {
    let st = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(st.success());
}

#[test]
fn acceptance_one_liner_prints_pid_comm_and_full_argv() {
    let script = r#"tracepoint:syscalls:sys_enter_execve,tracepoint:syscalls:sys_enter_execveat { printf("pid: %d, comm: %s, args: %s\n", pid, comm, join(args->argv)); }"#;
    let mut child = Command::new(BIN)
        .args(["trace", "-e", script])
        .env("__BPFTRACE_NOTIFY_PROBES_ATTACHED", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn bpfkit trace");
    let _guard = Guard(child.id());
    let out = lines(child.stdout.take().expect("stdout"));
    let _err = lines(child.stderr.take().expect("stderr"));
    assert!(
        wait_line(&out, |l| l == "__BPFTRACE_NOTIFY_PROBES_ATTACHED", 20).is_some(),
        "no notify line"
    );
    let ids = prog_ids(child.id());
    assert_eq!(ids.len(), 2, "one program per tracepoint: {ids:?}");
    let marker = unique("marker");
    let sh = Command::new("/bin/sh")
        .args(["-c", &format!("exec /bin/true {marker} a b c")])
        .spawn()
        .expect("spawn marker");
    let sh_pid = sh.id();
    let mut sh = sh;
    assert!(sh.wait().expect("marker").success());
    let want = format!("pid: {sh_pid}, comm: sh, args: /bin/true {marker} a b c");
    let tail = format!("args: /bin/true {marker} a b c");
    let got = wait_line(&out, |l| l.ends_with(&tail), 10);
    assert_eq!(got.as_deref(), Some(want.as_str()));
    let t = Instant::now();
    interrupt(child.id());
    let st = child.wait().expect("wait");
    assert!(st.success(), "exit status {st:?}");
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "took {:?} to stop",
        t.elapsed()
    );
    for id in ids {
        let st = Command::new("bpftool")
            .args(["prog", "show", "id", &id.to_string()])
            .output()
            .expect("bpftool");
        assert!(!st.status.success(), "program {id} outlived bpfkit trace");
    }
}

#[test]
fn pid_filter_only_sees_that_process() {
    let mut target = Command::new("/bin/sh")
        .args(["-c", "read x; /bin/true; exec /bin/true"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn target");
    let tpid = target.id();
    let script = r#"tracepoint:syscalls:sys_enter_execve { printf("%d\n", pid); }"#;
    let mut child = Command::new(BIN)
        .args(["trace", "-p", &tpid.to_string(), "-e", script])
        .env("__BPFTRACE_NOTIFY_PROBES_ATTACHED", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn bpfkit trace");
    let _guard = Guard(child.id());
    let out = lines(child.stdout.take().expect("stdout"));
    let _err = lines(child.stderr.take().expect("stderr"));
    assert_eq!(
        wait_line(&out, |_| true, 20).as_deref(),
        Some("Attached 1 probe")
    );
    assert!(wait_line(&out, |l| l.contains("NOTIFY"), 20).is_some());
    // Other processes exec meanwhile; none of them may show up.
    for _ in 0..3 {
        let _ = Command::new("/bin/true").status();
    }
    use std::io::Write;
    target
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"go\n")
        .expect("write");
    assert!(target.wait().expect("wait").success());
    let mut seen = Vec::new();
    while let Some(l) = wait_line(&out, |_| true, 1) {
        seen.push(l);
    }
    interrupt(child.id());
    let _ = child.wait();
    // The first /bin/true runs in a forked child (another pid), the second replaces the
    // shell itself: exactly one exec belongs to the traced pid.
    assert_eq!(seen, vec![tpid.to_string()]);
}

#[test]
fn syscall_tracepoint_listing_is_exactly_tracefs() {
    let out = Command::new(BIN)
        .args(["trace", "-l", "tracepoint:syscalls:*"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let ours: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    let mut want: Vec<String> = std::fs::read_dir("/sys/kernel/tracing/events/syscalls")
        .expect("tracefs syscalls")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("format").exists())
        .map(|e| format!("tracepoint:syscalls:{}", e.file_name().to_string_lossy()))
        .collect();
    want.sort();
    assert!(want.len() > 100);
    assert_eq!(ours, want);
}

fn peer(args: &[&str]) -> String {
    let out = Command::new("bpftrace")
        .args(args)
        .output()
        .expect("bpftrace is installed on this machine");
    stats_as_current_bpftrace(&String::from_utf8_lossy(&out.stdout))
}

#[test]
fn execve_arguments_listing_matches_bpftrace() {
    let out = Command::new(BIN)
        .args(["trace", "-lv", "tracepoint:syscalls:sys_enter_execve"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let ours = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(ours.contains("    const char *const * argv\n"));
    assert_eq!(ours, peer(&["-lv", "tracepoint:syscalls:sys_enter_execve"]));
}

/// Our output and bpftrace's for the same script, without the first (attach) line.
fn both(script: &str) -> (String, String) {
    let out = Command::new(BIN)
        .args(["trace", "-e", script])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours = String::from_utf8_lossy(&out.stdout).into_owned();
    let theirs = peer(&["-e", script]);
    let tail = |s: &str| {
        s.split_once('\n')
            .map(|x| x.1.to_string())
            .unwrap_or_default()
    };
    (tail(&ours), tail(&theirs))
}

#[test]
fn begin_end_and_map_printing_match_bpftrace() {
    let script = r#"BEGIN { printf("start %d %5d|%-4s|%x\n", 1 + 2, 42, "ab", 255); @h = hist(5); @h = hist(100); @g[1] = hist(0); @c["z"] = count(); @c["y"] = count(); @c["y"] = count(); @s[1] = stats(4); @s[2] = stats(8); @s[2] = stats(20); @l = lhist(15, 0, 100, 10); @l = lhist(-5, 0, 100, 10); @a[1, "x"] = 3; @m = max(3); @m = max(9); @n = min(-3); @v = avg(7); @v = avg(2); exit(); } END { printf("end\n"); }"#;
    let (ours, theirs) = both(script);
    assert!(ours.contains("start 3    42|ab  |ff\n"), "{ours}");
    assert_eq!(ours, theirs);
}

#[test]
fn variables_loops_and_conditions_match_bpftrace() {
    let script = r#"BEGIN { $i = 0; $s = 0; while ($i < 10) { $i++; if ($i % 2 == 0) { continue; } $s += $i; } @sum = $s; @t = $s > 20 ? 1 : 2; @x = 7; @x += 3; @x++; @k[$i, "even"] = $i * 2; unroll(3) { @u++; } exit(); }"#;
    let (ours, theirs) = both(script);
    assert!(ours.contains("@sum: 25\n"), "{ours}");
    assert_eq!(ours, theirs);
}

#[test]
fn interval_probe_fires_and_exit_stops_it() {
    let out = Command::new(BIN)
        .args([
            "trace",
            "-e",
            "interval:ms:50 { @n++; if (@n == 3) { printf(\"three\\n\"); exit(); } }",
        ])
        .output()
        .expect("run");
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert_eq!(s, "Attached 1 probe\nthree\n\n\n@n: 3\n");
}

#[test]
fn dash_c_runs_the_command_and_exits_with_it() {
    let marker = unique("c");
    let script = format!(
        "tracepoint:syscalls:sys_enter_execve {{ if (strlen(comm) > 0) {{ @[comm] = count(); }} }} END {{ printf(\"done {marker}\\n\"); }}"
    );
    let out = Command::new(BIN)
        .args(["trace", "-q", "-c", "/bin/true", "-e", &script])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.starts_with(&format!("done {marker}\n")), "{s}");
}

#[test]
fn errors_point_at_the_script() {
    let run = |script: &str| {
        let out = Command::new(BIN)
            .args(["trace", "-e", script])
            .output()
            .expect("run");
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e =
        run("tracepoint:syscalls:sys_enter_openat { printf(\"%s\\n\", str(args.nosuchfield)); }");
    assert!(e.contains("stdin:1:"), "{e}");
    assert!(e.contains("nosuchfield"), "{e}");
    assert!(e.contains('~') || e.contains('^'), "{e}");
    let e = run("tracepoint:nosuchcat:nosuchevent { exit(); }");
    assert!(e.starts_with("stdin:1:1"), "{e}");
    let e = run("BEGIN { printf(\"%d\\n\"); }");
    assert!(e.contains("stdin:1:"), "{e}");
    let e = run("BEGIN { print($nope); }");
    assert!(e.contains("stdin:1:"), "{e}");
    let e = run("kprobe:vfs_read { exit(); }");
    let first = e.lines().next().unwrap_or_default();
    assert!(
        first.ends_with("this kernel lacks kprobes (CONFIG_KPROBES is not set)"),
        "{e}"
    );
    // A loop the verifier cannot bound: its log, then the script line behind the insn.
    let e = run("BEGIN { $i = 0; while ($i < 10) { @x = 1; } }");
    assert!(e.contains("infinite loop detected"), "{e}");
    assert!(e.contains("stdin:1:"), "{e}");
    assert!(
        e.contains("\nBEGIN { $i = 0; while ($i < 10) { @x = 1; } }\n"),
        "{e}"
    );
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
fn dry_run_and_instruction_dump() {
    let out = Command::new(BIN)
        .args([
            "trace",
            "--dry-run",
            "-d",
            "insns",
            "-e",
            "BEGIN { @x = count(); }",
        ])
        .output()
        .expect("run");
    assert!(out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("call"), "{e}");
    assert!(out.stdout.is_empty());
}
