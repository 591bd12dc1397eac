//! Debian's bpftrace tools (`/usr/sbin/*.bt`) under `bpfkit trace FILE`: each tool whose
//! probes this kernel supports starts, attaches (the `__BPFTRACE_NOTIFY_PROBES_ATTACHED`
//! line), prints its header, and reports the event a test triggers.
//!
//! `every_tool_is_covered_or_excluded` keeps the list honest: every installed tool is either
//! run by a test here or excluded for a reason the test checks (it uses kprobes, which this
//! kernel lacks, a uprobe symbol the installed library does not export, or a kernel data
//! symbol /proc/kallsyms does not list).
//!
//! `BPFKIT_TRACER` runs the same tests against another tracer (e.g. `/usr/bin/bpftrace`), to
//! check the tests themselves.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bpfkit_trace::attach::{AttachTarget, ProbeKind};

const NOTIFY: &str = "__BPFTRACE_NOTIFY_PROBES_ATTACHED";
const TOOLS: &str = "/usr/sbin";

/// Tools run by a test below.
const COVERED: &[&str] = &[
    "bashreadline",
    "bitesize",
    "cpuwalk",
    "execsnoop",
    "gethostlatency",
    "killsnoop",
    "naptime",
    "opensnoop",
    "pidpersec",
    "runqlat",
    "setuids",
    "statsnoop",
    "syncsnoop",
    "syscount",
    "writeback",
];

/// Tools this kernel or this system cannot run, with the reason.
const EXCLUDED: &[(&str, Exclusion)] = &[
    ("biolatency", Exclusion::Kprobes),
    ("biosnoop", Exclusion::Kprobes),
    ("biostacks", Exclusion::Kprobes),
    ("capable", Exclusion::Kprobes),
    ("dcsnoop", Exclusion::Kprobes),
    ("mdflush", Exclusion::Kprobes),
    ("oomkill", Exclusion::Kprobes),
    ("swapin", Exclusion::Kprobes),
    ("tcpaccept", Exclusion::Kprobes),
    ("tcpconnect", Exclusion::Kprobes),
    ("tcplife", Exclusion::Kprobes),
    ("tcpretrans", Exclusion::Kprobes),
    ("tcpsynbl", Exclusion::Kprobes),
    ("undump", Exclusion::Kprobes),
    ("vfscount", Exclusion::Kprobes),
    ("vfsstat", Exclusion::Kprobes),
    ("xfsdist", Exclusion::Kprobes),
    ("loads", Exclusion::MissingKernelSymbol("avenrun")),
    ("runqlen", Exclusion::KernelField("cfs_rq", "nr_running")),
    (
        "tcpdrop",
        Exclusion::NoTrigger(
            "kfree_skb of a socket-owned (transmit-side) skb needs a firewall rule or route",
        ),
    ),
    (
        "threadsnoop",
        Exclusion::MissingSymbol("libpthread.so.0", "pthread_create"),
    ),
    (
        "sslsnoop",
        Exclusion::MissingSymbol("libcrypto.so.3", "rsa_ossl_public_encrypt"),
    ),
    (
        "ssllatency",
        Exclusion::MissingSymbol("libcrypto.so.3", "rsa_ossl_public_encrypt"),
    ),
];

#[derive(Clone, Copy, Debug)]
enum Exclusion {
    /// A kprobe/kretprobe: the kernel has no CONFIG_KPROBES.
    Kprobes,
    /// A uprobe on a symbol the library's dynamic symbol table lacks (glibc ≥ 2.34 moved
    /// pthread_create into libc; OpenSSL's `*_ossl_*` functions are local).
    MissingSymbol(&'static str, &'static str),
    /// `kaddr()` of a data symbol /proc/kallsyms does not list (no CONFIG_KALLSYMS_ALL).
    MissingKernelSymbol(&'static str),
    /// The tool reads a field of a kernel struct that this kernel's BTF no longer has (the
    /// tool's own copy of the struct takes the kernel's layout; bpftrace rejects it too).
    KernelField(&'static str, &'static str),
    /// The tool compiles, but no harmless action here makes the event it reports (why).
    NoTrigger(&'static str),
}

fn tool_path(name: &str) -> PathBuf {
    Path::new(TOOLS).join(format!("{name}.bt"))
}

fn parse_tool(name: &str) -> bpfkit_trace::ast::Program {
    let path = tool_path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bpfkit_trace::parse_program(&path.display().to_string(), &text)
        .unwrap_or_else(|e| panic!("{} does not parse:\n{e}", path.display()))
}

fn dynamic_symbols(lib: &str) -> String {
    let path = Path::new("/usr/lib/x86_64-linux-gnu").join(lib);
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("nm {}: {e}", path.display()));
    assert!(out.status.success(), "nm -D {} failed", path.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn every_tool_is_covered_or_excluded() {
    let mut installed: Vec<String> = std::fs::read_dir(TOOLS)
        .expect("/usr/sbin")
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".bt"))
                .map(str::to_string)
        })
        .collect();
    installed.sort();
    assert!(
        installed.len() > 20,
        "Debian's bpftrace tools are not installed in {TOOLS} (apt-get install bpftrace)"
    );
    let kprobes = Path::new("/sys/bus/event_source/devices/kprobe").exists();
    for name in &installed {
        let prog = parse_tool(name);
        let kinds: Vec<ProbeKind> = prog
            .probes
            .iter()
            .flat_map(|p| &p.attach_points)
            .map(|a| a.kind)
            .collect();
        let uses_kprobes = kinds
            .iter()
            .any(|k| matches!(k, ProbeKind::Kprobe | ProbeKind::Kretprobe));
        match EXCLUDED.iter().find(|(n, _)| n == name) {
            Some((_, Exclusion::Kprobes)) => {
                assert!(uses_kprobes, "{name} is excluded for kprobes but has none");
                assert!(!kprobes, "{name}: this kernel has kprobes now, run it");
                println!("excluded {name}: uses kprobes (CONFIG_KPROBES is not set)");
            }
            Some((_, Exclusion::MissingSymbol(lib, sym))) => {
                let uses = prog
                    .probes
                    .iter()
                    .flat_map(|p| &p.attach_points)
                    .any(|a| matches!(&a.target, AttachTarget::User { target, .. } if format!("{target:?}").contains(sym)));
                assert!(uses, "{name} is excluded for {sym} but does not probe it");
                let syms = dynamic_symbols(lib);
                assert!(
                    !syms
                        .lines()
                        .any(|l| l.split_whitespace().last() == Some(*sym)),
                    "{lib} exports {sym} now: run {name}"
                );
                println!("excluded {name}: {lib} does not export {sym}");
            }
            Some((_, Exclusion::MissingKernelSymbol(sym))) => {
                let text = std::fs::read_to_string(tool_path(name)).expect("tool text");
                assert!(
                    text.contains(&format!("kaddr(\"{sym}\")")),
                    "{name} does not use kaddr(\"{sym}\")"
                );
                let kallsyms = std::fs::read_to_string("/proc/kallsyms").expect("/proc/kallsyms");
                assert!(
                    !kallsyms
                        .lines()
                        .any(|l| l.split_whitespace().nth(2) == Some(*sym)),
                    "/proc/kallsyms lists {sym} now: run {name}"
                );
                println!("excluded {name}: /proc/kallsyms does not list {sym}");
            }
            Some((_, Exclusion::KernelField(st, field))) => {
                let text = std::fs::read_to_string(tool_path(name)).expect("tool text");
                assert!(
                    text.contains(&format!("->{field}")),
                    "{name} does not read {field}"
                );
                let btf = bpfkit_btf::Btf::vmlinux().expect("vmlinux BTF");
                let id = btf
                    .find_by_name_kind(st, bpfkit_btf::Kind::Struct)
                    .expect("struct in vmlinux BTF");
                let has = btf
                    .type_by_id(id)
                    .expect("struct type")
                    .members()
                    .iter()
                    .any(|m| m.name == *field);
                assert!(!has, "struct {st} has {field} again: run {name}");
                println!("excluded {name}: struct {st} has no {field} on this kernel");
            }
            Some((_, Exclusion::NoTrigger(why))) => {
                let out = Command::new(env!("CARGO_BIN_EXE_bpfkit"))
                    .args(["trace", "--dry-run"])
                    .arg(tool_path(name))
                    .output()
                    .expect("run bpfkit trace --dry-run");
                assert!(
                    out.status.success(),
                    "{name} no longer compiles:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                println!("excluded {name}: compiles, but no trigger here: {why}");
            }
            None => {
                assert!(
                    COVERED.contains(&name.as_str()),
                    "{name}.bt is neither covered by a test nor excluded"
                );
                assert!(
                    !uses_kprobes || kprobes,
                    "{name} uses kprobes, which this kernel lacks"
                );
            }
        }
    }
    for name in COVERED {
        assert!(
            installed.iter().any(|n| n == name),
            "{name}.bt is not installed"
        );
    }
}

/// The tracer command: `BPFKIT_TRACER` (words) or this package's `bpfkit trace`.
fn tracer() -> Vec<String> {
    match std::env::var("BPFKIT_TRACER") {
        Ok(t) => t.split_whitespace().map(str::to_string).collect(),
        Err(_) => vec![
            env!("CARGO_BIN_EXE_bpfkit").to_string(),
            "trace".to_string(),
        ],
    }
}

/// A tool running under the tracer, its stdout and stderr in a file.
struct Running {
    name: String,
    child: Child,
    out: PathBuf,
    started: Instant,
}

impl Running {
    fn start(name: &str) -> Running {
        let out = std::env::temp_dir().join(format!("bpfkit-bt-{}-{name}.out", std::process::id()));
        let file = File::create(&out).expect("output file");
        let err = file.try_clone().expect("output file");
        let t = tracer();
        let child = Command::new(&t[0])
            .args(&t[1..])
            .arg(tool_path(name))
            .env(NOTIFY, "1")
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", t[0]));
        let mut r = Running {
            name: name.to_string(),
            child,
            out,
            started: Instant::now(),
        };
        r.wait_line(NOTIFY, Duration::from_secs(15))
            .unwrap_or_else(|| panic!("{name} did not attach:\n{}", r.output()));
        r
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.out).unwrap_or_default()).into_owned()
    }

    /// Waits for a line matching `pattern` (a regex over the whole line); the line.
    fn wait_line(&mut self, pattern: &str, limit: Duration) -> Option<String> {
        let re = regex(pattern);
        let t = Instant::now();
        loop {
            if let Some(l) = self.output().lines().find(|l| re.is_match(l)) {
                return Some(l.to_string());
            }
            let exited = self.child.try_wait().ok().flatten().is_some();
            if exited || t.elapsed() > limit {
                // One last look: the line may have come with the exit.
                return self
                    .output()
                    .lines()
                    .find(|l| re.is_match(l))
                    .map(str::to_string);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn expect_line(&mut self, pattern: &str, what: &str) -> String {
        self.wait_line(pattern, Duration::from_secs(5))
            .unwrap_or_else(|| {
                panic!(
                    "{}: no {what} line matching {pattern:?} after {:?}; output:\n{}",
                    self.name,
                    self.started.elapsed(),
                    self.output()
                )
            })
    }

    /// Ctrl-C: SIGINT to the tracer, then its whole output once it exited.
    fn interrupt(mut self) -> String {
        signal(self.child.id(), "INT");
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(st)) = self.child.try_wait() {
                let out = self.output();
                assert!(
                    st.success(),
                    "{} exited with {st} after SIGINT:\n{out}",
                    self.name
                );
                return out;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "{} did not exit within 10 s of SIGINT:\n{}",
            self.name,
            self.output()
        );
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            signal(self.child.id(), "KILL");
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.out);
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args(["-s", sig, &pid.to_string()])
        .status();
}

fn regex(p: &str) -> ::regex::Regex {
    ::regex::Regex::new(p).unwrap_or_else(|e| panic!("bad regex {p:?}: {e}"))
}

fn run(cmd: &str, args: &[&str]) -> u32 {
    let mut c = Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    let pid = c.id();
    let st = c.wait().expect("wait");
    assert!(st.code().is_some(), "{cmd} {args:?} died: {st}");
    pid
}

fn marker(tag: &str) -> String {
    format!("/tmp/bpfkit-bt-{}-{tag}-marker", std::process::id())
}

fn header(r: &mut Running, text: &str) {
    r.expect_line(&format!("^{}$", ::regex::escape(text)), "header");
}

#[test]
fn execsnoop() {
    let mut r = Running::start("execsnoop");
    header(
        &mut r,
        &format!("{:<10} {:<5} {}", "TIME(ms)", "PID", "ARGS"),
    );
    let m = marker("exec");
    let pid = run("/bin/echo", &[&m]);
    let line = r.expect_line(
        &format!(r"^\d+\s+{pid}\s+/bin/echo {}$", ::regex::escape(&m)),
        "event",
    );
    println!("{line}");
}

#[test]
fn opensnoop() {
    let mut r = Running::start("opensnoop");
    header(
        &mut r,
        &format!(
            "{:<6} {:<16} {:>4} {:>3} {}",
            "PID", "COMM", "FD", "ERR", "PATH"
        ),
    );
    let m = marker("open");
    assert!(File::open(&m).is_err());
    let me = std::process::id();
    r.expect_line(
        &format!(r"^{me}\s+\S+\s+-1\s+2 {}$", ::regex::escape(&m)),
        "event",
    );
}

#[test]
fn statsnoop() {
    let mut r = Running::start("statsnoop");
    header(
        &mut r,
        &format!("{:<6} {:<16} {:>3} {}", "PID", "COMM", "ERR", "PATH"),
    );
    let m = marker("stat");
    assert!(std::fs::metadata(&m).is_err());
    let me = std::process::id();
    r.expect_line(
        &format!(r"^{me}\s+\S+\s+2 {}$", ::regex::escape(&m)),
        "event",
    );
}

#[test]
fn killsnoop() {
    let mut r = Running::start("killsnoop");
    header(
        &mut r,
        &format!(
            "{:<9} {:<6} {:<16} {:<4} {:<6} {}",
            "TIME", "PID", "COMM", "SIG", "TPID", "RESULT"
        ),
    );
    let mut target = Command::new("sleep").arg("30").spawn().expect("sleep");
    let tpid = target.id();
    let kpid = run("/usr/bin/kill", &["-0", &tpid.to_string()]);
    let _ = target.kill();
    let _ = target.wait();
    r.expect_line(
        &format!(r"^\d\d:\d\d:\d\d\s+{kpid}\s+kill\s+0\s+{tpid}\s+0$"),
        "event",
    );
}

#[test]
fn syscount() {
    let mut r = Running::start("syscount");
    header(&mut r, "Counting syscalls... Hit Ctrl-C to end.");
    // 100,000 one-byte reads and writes: read (0) and write (1) lead the syscall table and
    // dd the processes.
    run(
        "dd",
        &["if=/dev/zero", "of=/dev/null", "bs=1", "count=100000"],
    );
    let out = r.interrupt();
    let tail = out
        .split("Top 10 syscalls IDs:")
        .nth(1)
        .unwrap_or_else(|| panic!("no syscall table:\n{out}"));
    let (ids, procs) = tail
        .split_once("Top 10 processes:")
        .unwrap_or_else(|| panic!("no process table:\n{out}"));
    let count = |text: &str, key: &str| -> u64 {
        let re = regex(&format!(r"(?m)^@\w+\[{}\]: (\d+)$", ::regex::escape(key)));
        re.captures(text)
            .and_then(|c| c[1].parse().ok())
            .unwrap_or_else(|| panic!("no @…[{key}] line in:\n{text}"))
    };
    assert!(count(ids, "0") >= 100_000, "{out}");
    assert!(count(ids, "1") >= 100_000, "{out}");
    assert!(count(procs, "dd") >= 200_000, "{out}");
}

/// Histogram lines as bpftrace prints them (`[4, 8)   12 |@@@@   |`).
const HIST_LINE: &str = r"^[\[(][^\]]*[\])]\s+\d+ \|@*\s*\|$";

#[test]
fn runqlat() {
    let mut r = Running::start("runqlat");
    header(&mut r, "Tracing CPU scheduler... Hit Ctrl-C to end.");
    for _ in 0..5 {
        run("sleep", &["0.01"]);
    }
    let out = r.interrupt();
    let after = out
        .split("@usecs:")
        .nth(1)
        .unwrap_or_else(|| panic!("no @usecs histogram:\n{out}"));
    let re = regex(HIST_LINE);
    assert!(
        after.lines().any(|l| re.is_match(l)),
        "no histogram lines:\n{out}"
    );
}

#[test]
fn bashreadline() {
    let mut r = Running::start("bashreadline");
    header(&mut r, &format!("{:<9} {:<6} {}", "TIME", "PID", "COMMAND"));
    // readline only runs on a terminal: script(1) gives bash a pty.
    let m = marker("bash");
    let mut c = Command::new("script")
        .args(["-q", "-c", "bash --norc -i", "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("script");
    {
        use std::io::Write;
        let stdin = c.stdin.as_mut().expect("stdin");
        let _ = writeln!(stdin, "echo {m}");
        let _ = writeln!(stdin, "exit");
    }
    let got = r.wait_line(
        &format!(r"^\d\d:\d\d:\d\d\s+\d+\s+echo {}$", ::regex::escape(&m)),
        Duration::from_secs(5),
    );
    let _ = c.kill();
    let _ = c.wait();
    assert!(got.is_some(), "no readline event:\n{}", r.output());
}

#[test]
fn naptime() {
    let mut r = Running::start("naptime");
    header(
        &mut r,
        &format!(
            "{:<8} {:<6} {:<16} {:<6} {:<16} {}",
            "TIME", "PPID", "PCOMM", "PID", "COMM", "SECONDS"
        ),
    );
    // nanosleep(2) itself (sleep(1) uses clock_nanosleep): 20 ms.
    let pid = run(
        "perl",
        &["-e", "my $t = pack('qq', 0, 20000000); syscall(35, $t, 0)"],
    );
    // The parent is the test thread that forked perl: its tid, not the test's pid.
    r.expect_line(
        &format!(r"^\d\d:\d\d:\d\d\s+\d+\s+\S+\s+{pid}\s+perl\s+0\.020$"),
        "event",
    );
}

#[test]
fn setuids() {
    let mut r = Running::start("setuids");
    header(
        &mut r,
        &format!(
            "{:<8} {:<6} {:<16} {:<6} {:<9} {}",
            "TIME", "PID", "COMM", "UID", "SYSCALL", "ARGS (RET)"
        ),
    );
    // setuid(0) as root (x86-64 syscall 105) succeeds and changes nothing.
    let pid = run("perl", &["-e", "syscall(105, 0)"]);
    r.expect_line(
        &format!(r"^\d\d:\d\d:\d\d\s+{pid}\s+perl\s+0\s+setuid\s+uid=0 \(0\)$"),
        "event",
    );
}

#[test]
fn syncsnoop() {
    let mut r = Running::start("syncsnoop");
    header(
        &mut r,
        &format!("{:<9} {:<6} {:<16} {}", "TIME", "PID", "COMM", "EVENT"),
    );
    let pid = run("sync", &[]);
    r.expect_line(
        &format!(r"^\d\d:\d\d:\d\d\s+{pid}\s+sync\s+tracepoint:syscalls:sys_enter_sync$"),
        "event",
    );
}

#[test]
fn pidpersec() {
    let mut r = Running::start("pidpersec");
    header(&mut r, "Tracing new processes... Hit Ctrl-C to end.");
    for _ in 0..5 {
        run("true", &[]);
    }
    let re = regex(r"^\d\d:\d\d:\d\d PIDs/sec: @: (\d+)$");
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(4) {
        let out = r.output();
        if out
            .lines()
            .filter_map(|l| re.captures(l))
            .any(|c| c[1].parse::<u64>().is_ok_and(|n| n >= 5))
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no second with >= 5 new processes:\n{}", r.output());
}

#[test]
fn cpuwalk() {
    let mut r = Running::start("cpuwalk");
    header(&mut r, "Sampling CPU at 99hz... Hit Ctrl-C to end.");
    run("timeout", &["0.5", "sh", "-c", "while :; do :; done"]);
    let out = r.interrupt();
    let after = out
        .split("@cpu:")
        .nth(1)
        .unwrap_or_else(|| panic!("no @cpu histogram:\n{out}"));
    let re = regex(HIST_LINE);
    assert!(
        after.lines().any(|l| re.is_match(l)),
        "no histogram lines:\n{out}"
    );
}

#[test]
fn bitesize() {
    let mut r = Running::start("bitesize");
    header(&mut r, "Tracing block device I/O... Hit Ctrl-C to end.");
    // Direct writes to a file on the root file system bypass the page cache: dd's own
    // requests reach the disk.
    let path = format!("/var/tmp/bpfkit-bt-{}-bitesize", std::process::id());
    run(
        "dd",
        &[
            "if=/dev/zero",
            &format!("of={path}"),
            "bs=64k",
            "count=4",
            "oflag=direct",
        ],
    );
    let _ = std::fs::remove_file(&path);
    let out = r.interrupt();
    assert!(
        out.contains("I/O size (bytes) histograms by process name:"),
        "{out}"
    );
    let after = out
        .split("@[dd]:")
        .nth(1)
        .unwrap_or_else(|| panic!("no histogram for dd:\n{out}"));
    let re = regex(r"^\[\d+K?, \d+K?\)\s+[1-9]\d* \|@+\s*\|$");
    assert!(
        after.lines().any(|l| re.is_match(l)),
        "no filled bucket for dd:\n{out}"
    );
}

#[test]
fn writeback() {
    let mut r = Running::start("writeback");
    header(
        &mut r,
        &format!(
            "{:<9} {:<8} {:<8} {:<16} {}",
            "TIME", "DEVICE", "PAGES", "REASON", "ms"
        ),
    );
    // Dirty pages on the root file system, then sync(1): the flusher writes them back.
    let path = format!("/var/tmp/bpfkit-bt-{}-writeback", std::process::id());
    std::fs::write(&path, vec![7u8; 1 << 20]).expect("dirty file");
    run("sync", &[]);
    let _ = std::fs::remove_file(&path);
    r.expect_line(
        r"^\d\d:\d\d:\d\d\s+\S+\s+\d+\s+\S+\s+\d+\.\d{3}$",
        "writeback",
    );
}

#[test]
fn gethostlatency() {
    let mut r = Running::start("gethostlatency");
    header(
        &mut r,
        &format!(
            "{:<9} {:<6} {:<16} {:>6} {}",
            "TIME", "PID", "COMM", "LATms", "HOST"
        ),
    );
    let pid = run("getent", &["ahosts", "localhost"]);
    r.expect_line(
        &format!(r"^\d\d:\d\d:\d\d\s+{pid}\s+getent\s+\d+ localhost$"),
        "lookup",
    );
}
