//! Kernel probes of `bpfkit trace` against the real kernel, through the built `bpfkit`
//! binary: kprobe and kretprobe (with wildcards), fentry/fexit with `args.NAME` and `retval`
//! typed through BTF, iterators (`iter:task`, `iter:task_file`) and `-l` for all of them.
//!
//! The host kernel has no kprobes and refuses fentry/fexit, so those tests print
//! `skipped: kernel lacks …` there (the `require_feature!` probes of the library's kernel
//! tests, shared by path) and run for real in the kernel matrix's 6.1 and 6.12 guests
//! (`scripts/kernel-matrix`, which puts this binary and `bpfkit` in the guests by default).
//! Needs root and a built `bpfkit` beside this test (`cargo build -p bpfkit-cli`) or
//! `BPFKIT_BIN`.

#[path = "../../bpfkit/tests/common/features.rs"]
pub mod features;
/// Where `require_feature!` looks for the probes.
mod common {
    pub use super::features;
}

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bpfkit_bin() -> PathBuf {
    if let Ok(b) = std::env::var("BPFKIT_BIN") {
        return PathBuf::from(b);
    }
    let exe = std::env::current_exe().expect("path of the test binary");
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary lives in <target>/<profile>/deps")
        .join("bpfkit")
}

/// Generous: the matrix guests run under software emulation.
const LIMIT: Duration = Duration::from_secs(180);

/// One tracer at a time: a slow guest has two vCPUs, and each tracer parses the kernel's BTF.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE.lock().unwrap_or_else(|e| e.into_inner())
}

fn trace(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bpfkit_bin())
        .arg("trace")
        .args(args)
        .output()
        .expect("run bpfkit");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Starts `bpfkit trace -e SCRIPT`, waits until it says its probes are attached, then runs
/// `trigger` every few milliseconds until the tracer exits (its script calls `exit()`);
/// returns its stdout.
fn trace_triggered(script: &str, mut trigger: impl FnMut()) -> String {
    let mut child: Child = Command::new(bpfkit_bin())
        .args(["trace", "-e", script])
        .env("__BPFTRACE_NOTIFY_PROBES_ATTACHED", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run bpfkit");
    // The notify line comes on stdout after the `Attached` line, as current bpftrace prints it.
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut err = child.stderr.take().expect("stderr");
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = stdout
            .read_line(&mut line)
            .expect("read the tracer's stdout");
        if n == 0 {
            let _ = child.wait();
            let mut e = String::new();
            let _ = err.read_to_string(&mut e);
            panic!("the tracer ended before attaching: {seen}{e}");
        }
        if line.trim_end() == "__BPFTRACE_NOTIFY_PROBES_ATTACHED" {
            break;
        }
        seen.push_str(&line);
    }
    let start = Instant::now();
    let status = loop {
        trigger();
        if let Some(st) = child.try_wait().expect("wait for the tracer") {
            break st;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the tracer did not exit within {LIMIT:?} of its trigger");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut out = seen;
    stdout
        .read_to_string(&mut out)
        .expect("read the tracer's stdout");
    let mut rest = String::new();
    let _ = err.read_to_string(&mut rest);
    assert!(status.success(), "{status}: {out}{rest}");
    out
}

/// This thread's id, from /proc/thread-self (a link to `PID/task/TID`).
fn gettid() -> u32 {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name()?.to_str()?.parse().ok())
        .expect("tid from /proc/thread-self")
}

fn nanosleep() {
    std::thread::sleep(Duration::from_micros(100));
}

/// The lines after `Attached N probe(s)`, without the blank lines printed at exit.
fn events(out: &str) -> Vec<&str> {
    out.lines().skip(1).filter(|l| !l.is_empty()).collect()
}

#[test]
fn kprobe_fires_with_probe_and_func() {
    require_feature!(Kprobes);
    let _one = one_at_a_time();
    let pid = std::process::id();
    let out = trace_triggered(
        &format!(
            "kprobe:do_nanosleep /pid == {pid}/ {{ printf(\"%s %s %d\\n\", probe, func, pid); exit(); }}"
        ),
        nanosleep,
    );
    assert!(out.starts_with("Attached 1 probe\n"), "{out}");
    assert_eq!(
        events(&out),
        [format!("kprobe:do_nanosleep do_nanosleep {pid}").as_str()]
    );
}

#[test]
fn kprobe_wildcard_expands_over_traceable_functions() {
    require_feature!(Kprobes);
    let _one = one_at_a_time();
    let pid = std::process::id();
    // do_nanosleep and nothing else in these kernels starts with "do_nanosle".
    let out = trace_triggered(
        &format!("kprobe:do_nanosle* /pid == {pid}/ {{ printf(\"%s\\n\", probe); exit(); }}"),
        nanosleep,
    );
    assert_eq!(out.lines().next(), Some("Attached 1 probe"), "{out}");
    assert_eq!(events(&out), ["kprobe:do_nanosleep"]);
}

#[test]
fn kretprobe_retval_is_the_return_value() {
    require_feature!(Kprobes);
    let _one = one_at_a_time();
    let pid = std::process::id();
    let ppid = std::os::unix::process::parent_id();
    // getppid's syscall function returns the parent's pid.
    let out = trace_triggered(
        &format!(
            "kretprobe:__x64_sys_getppid /pid == {pid}/ {{ printf(\"%s %d\\n\", probe, retval); exit(); }}"
        ),
        || {
            let _ = std::os::unix::process::parent_id();
        },
    );
    assert_eq!(
        events(&out),
        [format!("kretprobe:__x64_sys_getppid {ppid}").as_str()]
    );
}

#[test]
fn fentry_args_are_typed_through_btf() {
    require_feature!(Fentry);
    let _one = one_at_a_time();
    let pid = std::process::id();
    // do_nanosleep(struct hrtimer_sleeper *t, enum hrtimer_mode mode): a relative sleep
    // (HRTIMER_MODE_REL, 1) of the sleeping task itself.
    let script = format!(
        "fentry:vmlinux:do_nanosleep /pid == {pid}/ {{
           printf(\"%s %s mode=%d tid=%d\\n\", probe, func, args.mode, args.t->task->pid);
           exit();
         }}"
    );
    let tid = gettid();
    let out = trace_triggered(&script, nanosleep);
    assert!(out.starts_with("Attached 1 probe\n"), "{out}");
    assert_eq!(
        events(&out),
        [format!("fentry:vmlinux:do_nanosleep do_nanosleep mode=1 tid={tid}").as_str()]
    );
}

#[test]
fn fexit_retval_and_args() {
    require_feature!(Fexit);
    let _one = one_at_a_time();
    let pid = std::process::id();
    let ppid = std::os::unix::process::parent_id();
    let sleep = format!(
        "kretfunc:do_nanosleep /pid == {pid}/ {{ printf(\"%s %d %d\\n\", probe, args.mode, retval); exit(); }}"
    );
    let out = trace_triggered(&sleep, nanosleep);
    // A sleep that ran to its end returns 0.
    assert_eq!(events(&out), ["fexit:vmlinux:do_nanosleep 1 0"]);
    // The return value of getppid's syscall function (BTF names the body, e.g.
    // `__do_sys_getppid`, where kallsyms has the `__x64_sys_getppid` wrapper).
    let f = bpfkit::attach::fentry::syscall_btf_function("getppid").expect("getppid in BTF");
    let getppid = format!("fexit:{f} /pid == {pid}/ {{ printf(\"%d\\n\", retval); exit(); }}");
    let out = trace_triggered(&getppid, || {
        let _ = std::os::unix::process::parent_id();
    });
    assert_eq!(events(&out), [ppid.to_string().as_str()]);
}

#[test]
fn kernel_probe_listing() {
    let _one = one_at_a_time();
    let (ok, out, err) = trace(&["-l", "iter:task*"]);
    assert!(ok, "{err}");
    assert_eq!(out, "iter:task\niter:task_file\niter:task_vma\n");
    // -lv: the parameters from BTF, and the return value for fexit (also where ftrace's
    // list is hidden: the host falls back to BTF's functions).
    let (ok, out, err) = trace(&["-lv", "fexit:vmlinux:do_nanosleep"]);
    assert!(ok, "{err}");
    assert_eq!(
        out,
        "fexit:vmlinux:do_nanosleep\n    struct hrtimer_sleeper * t\n    \
         enum hrtimer_mode mode\n    int retval\n"
    );
    require_feature!(Kprobes);
    let (ok, out, err) = trace(&["-l", "kprobe:do_nanosle*"]);
    assert!(ok, "{err}");
    assert_eq!(out, "kprobe:do_nanosleep\n");
    require_feature!(Fentry);
    let (ok, out, err) = trace(&["-l", "fentry:do_nanosle*"]);
    assert!(ok, "{err}");
    assert_eq!(out, "fentry:vmlinux:do_nanosleep\n");
}

#[test]
fn iter_task_sees_this_process() {
    require_feature!(Btf);
    let _one = one_at_a_time();
    let pid = std::process::id();
    let comm = std::fs::read_to_string("/proc/self/comm").expect("own comm");
    let (ok, out, err) = trace(&[
        "-e",
        "iter:task { printf(\"%d %d %s\\n\", ctx->task->tgid, ctx->task->pid, ctx->task->comm); }",
    ]);
    assert!(ok, "{err}");
    assert!(out.starts_with("Attached 1 probe\n"), "{out}");
    // Every thread of this process (the test harness runs tests on threads), each under
    // its own name; the main thread's is the process's comm.
    let main = format!("{pid} {pid} {}", comm.trim_end());
    assert!(
        events(&out).contains(&main.as_str()),
        "{main} not in\n{out}"
    );
    // Other processes are listed too: the iterator walks every task (kthreadd is pid 2).
    assert!(events(&out).contains(&"2 2 kthreadd"), "{out}");
}

#[test]
fn iter_task_file_sees_an_open_fd() {
    require_feature!(Btf);
    let _one = one_at_a_time();
    let pid = std::process::id();
    let f = std::fs::File::open("/proc/self/status").expect("open a file");
    let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
    let (ok, out, err) = trace(&[
        "-e",
        &format!("iter:task_file /ctx->task->pid == {pid}/ {{ printf(\"fd %d\\n\", ctx->fd); }}"),
    ]);
    drop(f);
    assert!(ok, "{err}");
    let want = format!("fd {fd}");
    assert!(
        events(&out).contains(&want.as_str()),
        "{want} not in\n{out}"
    );
}

#[test]
fn kernel_probe_errors_are_one_line() {
    let _one = one_at_a_time();
    let (ok, _, err) = trace(&["-e", "iter:no_such_iterator { }"]);
    assert!(!ok);
    assert!(
        err.contains("the kernel has no iterator named 'no_such_iterator'"),
        "{err}"
    );
    let (ok, _, err) = trace(&["-e", "fentry:no_such_function_xyz { }"]);
    assert!(!ok);
    assert!(
        err.contains("function no_such_function_xyz is not in the kernel's BTF"),
        "{err}"
    );
}

#[test]
fn kprobe_offset_reaches_the_kernel() {
    require_feature!(Kprobes);
    let _one = one_at_a_time();
    // Byte 1 of a function is inside its first instruction (endbr64, or the 5-byte call or
    // nop of ftrace): the kernel refuses a kprobe there, which it would not if the offset
    // were dropped. `+0` is the function's start.
    let (ok, _, err) = trace(&["-e", "kprobe:do_nanosleep+1 { exit(); }"]);
    assert!(!ok, "a kprobe inside an instruction attached");
    assert!(err.contains("kprobe:do_nanosleep+1"), "{err}");
    let pid = std::process::id();
    let out = trace_triggered(
        &format!("kprobe:do_nanosleep+0 /pid == {pid}/ {{ printf(\"%s\\n\", probe); exit(); }}"),
        nanosleep,
    );
    assert_eq!(events(&out), ["kprobe:do_nanosleep"]);
}

#[test]
fn fexit_reads_a_user_string_argument_and_an_error() {
    require_feature!(Fexit);
    let _one = one_at_a_time();
    let pid = std::process::id();
    let path = format!("/nonexistent/bpfkit-kernel-probes-{pid}");
    // do_sys_openat2(int dfd, const char __user *filename, struct open_how *how): the
    // path as passed, AT_FDCWD (-100) and -ENOENT.
    let script = format!(
        "fexit:do_sys_openat2 /pid == {pid}/ {{
           printf(\"%s %d %d\\n\", str(args.filename), args.dfd, retval); exit();
         }}"
    );
    let out = trace_triggered(&script, || {
        let _ = std::fs::File::open(&path);
    });
    assert_eq!(events(&out), [format!("{path} -100 -2").as_str()]);
}

#[test]
fn fentry_on_a_module_function() {
    require_feature!(Fentry);
    if !Path::new("/sys/kernel/btf/dummy").exists() {
        features::Skip {
            feature: features::Feature::Btf,
            reason: "no /sys/kernel/btf/dummy: the dummy module is not loaded".into(),
        }
        .report();
        return;
    }
    let _one = one_at_a_time();
    let dev = format!("bpfkp{}", std::process::id());
    // Registering a dummy device calls the module's ndo_init, dummy_dev_init(struct
    // net_device *dev): its argument typed through vmlinux's BTF from the module's.
    let script = "fentry:dummy:dummy_dev_init { printf(\"%s %s %s\\n\", probe, func, args.dev->name); exit(); }";
    let mut added = false;
    let out = trace_triggered(script, || {
        if !added {
            added = true;
            let st = Command::new("ip")
                .args(["link", "add", &dev, "type", "dummy"])
                .status()
                .expect("run ip");
            assert!(st.success(), "ip link add {dev} type dummy: {st}");
        }
    });
    let _ = Command::new("ip").args(["link", "del", &dev]).status();
    // Listing reads the module's BTF (6.12's dummy has no dummy_dev_uninit any more).
    let (ok, list, err) = trace(&["-l", "fentry:dummy:dummy_dev_in*"]);
    assert!(ok, "{err}");
    assert_eq!(list, "fentry:dummy:dummy_dev_init\n");
    assert_eq!(
        events(&out),
        [format!("fentry:dummy:dummy_dev_init dummy_dev_init {dev}").as_str()]
    );
}
