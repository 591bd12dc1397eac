//! `usdt:` probes against the real kernel, through the built `bpfkit` binary and the
//! `usdt_demo` test program (tests/fixtures/usdt_demo.user.c, Debian's sys/sdt.h, built by
//! scripts/build-fixtures): argument specs of every form read byte-exactly, the semaphore
//! counted only while its probe is attached, `-p PID`, wildcards and `-l`. Needs root, a
//! built `bpfkit` beside this test (`cargo build -p bpfkit-cli`) or `BPFKIT_BIN`, and the
//! fixtures in `BPFKIT_FIXTURES` (or target/fixtures).

mod common;

use common::{bpfkit_bin, text, trace};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The demo program, as an absolute path (probe names carry it).
fn demo() -> String {
    let dir = std::env::var_os("BPFKIT_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/fixtures"));
    let p = dir.join("usdt_demo");
    assert!(
        p.exists(),
        "{} is missing: run scripts/build-fixtures",
        p.display()
    );
    std::fs::canonicalize(&p)
        .expect("canonical fixture path")
        .display()
        .to_string()
}

/// One test at a time: a usdt probe attached without `-p` fires in every process running
/// the demo, so two tests running it at once would see each other's events.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn arguments_of_every_spec_form() {
    let _one = one_at_a_time();
    let d = demo();
    let script = format!(
        "usdt:{d}:demo:regs {{ printf(\"regs %d %d %d\\n\", arg0, arg1, arg2); }}
         usdt:{d}:demo:indexed {{ printf(\"indexed %d %d\\n\", arg0, arg1); }}
         usdt:{d}:frame {{ printf(\"frame %d %d %d %s\\n\", arg0, arg1, arg2, probe); }}
         usdt:{d}:demo:guarded {{ printf(\"guarded %d\\n\", arg0); }}
         usdt:{d}:demo:global {{ printf(\"global %d %d\\n\", arg0, arg1); }}"
    );
    let out = trace(&["-e", &script, "-c", &d]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    // -4@%edi, -8@$1099511627776, 1@%sil; -4@8(%rdi,%rsi,4), -4@$-7; -8@-8(%rbp),
    // -2@-28(%rbp), -8@$123456789012; -8@demo_counter(%rip), -4@8+demo_table(%rip); -4@%edi.
    assert_eq!(
        text(&out.stdout),
        format!(
            "Attached 5 probes\nregs -5 1099511627776 201\nindexed -40 -7\n\
             frame -3000 -300 123456789012 usdt:{d}:demo:frame\nglobal -77 3000000\n\
             guarded 42\n\n\n"
        )
    );
    // The kernel counted the semaphore up while the uprobe was attached.
    assert!(err.contains("guarded: 1\n"), "{err}");
}

#[test]
fn semaphore_guarded_probe_fires_only_when_attached() {
    let _one = one_at_a_time();
    let d = demo();
    let alone = Command::new(&d).output().expect("run usdt_demo");
    assert_eq!(text(&alone.stderr), "guarded: 0\n");
    // Another probe attached: the guarded one's semaphore stays 0 and it does not fire.
    let other = trace(&[
        "-e",
        &format!("usdt:{d}:demo:regs {{ printf(\"r\\n\"); }}"),
        "-c",
        &d,
    ]);
    assert_eq!(text(&other.stdout), "Attached 1 probe\nr\n\n\n");
    assert!(text(&other.stderr).contains("guarded: 0\n"));
    let on = trace(&[
        "-e",
        &format!("usdt:{d}:demo:guarded {{ printf(\"g %d\\n\", arg0); }}"),
        "-c",
        &d,
    ]);
    assert_eq!(text(&on.stdout), "Attached 1 probe\ng 42\n\n\n");
    assert!(text(&on.stderr).contains("guarded: 1\n"));
}

#[test]
fn wildcards_count_every_probe() {
    let _one = one_at_a_time();
    let d = demo();
    let out = trace(&[
        "-e",
        &format!("usdt:{d}:demo:* {{ @[probe] = count(); }}"),
        "-c",
        &d,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // `twice` is inlined at two sites: two uprobes, one probe name.
    let mut want = String::from("Attached 7 probes\n\n\n");
    for (p, n) in [
        ("frame", 1),
        ("global", 1),
        ("guarded", 1),
        ("indexed", 1),
        ("regs", 1),
        ("twice", 2),
    ] {
        want.push_str(&format!("@[usdt:{d}:demo:{p}]: {n}\n"));
    }
    assert_eq!(text(&out.stdout), want);
}

#[test]
fn a_probe_inlined_twice_reads_each_site_s_arguments() {
    let _one = one_at_a_time();
    let d = demo();
    let out = trace(&[
        "-e",
        &format!("usdt:{d}:demo:twice {{ printf(\"%d\\n\", arg0); }}"),
        "-c",
        &d,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "Attached 2 probes\n11\n22\n\n\n");
}

#[test]
fn pid_filter_finds_the_binary_of_the_process() {
    let _one = one_at_a_time();
    let d = demo();
    let mut child = Command::new(&d)
        .arg("wait")
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn usdt_demo");
    let pid = child.id().to_string();
    // `-l 'usdt:*' -p PID`: the probes of every file the process maps (the demo's own; libc
    // and ld.so have none on Debian).
    let listed = trace(&["-l", "usdt:*", "-p", &pid]);
    let want: String = ["frame", "global", "guarded", "indexed", "regs", "twice"]
        .iter()
        .map(|p| format!("usdt:{d}:demo:{p}\n"))
        .collect();
    assert_eq!(text(&listed.stdout), want, "{}", text(&listed.stderr));
    let mut tracer = Command::new(bpfkit_bin())
        .args(["trace", "-p", &pid, "-e"])
        .arg("usdt:*:demo:indexed { printf(\"%d %d\\n\", pid, arg0); exit(); }")
        .env("__BPFTRACE_NOTIFY_PROBES_ATTACHED", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn bpfkit");
    // The `Attached` line, then the notify line (on stdout, as bpftrace prints it).
    let mut stdout = BufReader::new(tracer.stdout.take().expect("stdout"));
    let mut head = String::new();
    for _ in 0..2 {
        stdout
            .read_line(&mut head)
            .expect("attached and notify lines");
    }
    assert_eq!(
        head,
        "Attached 1 probe\n__BPFTRACE_NOTIFY_PROBES_ATTACHED\n"
    );
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"go\n")
        .expect("release usdt_demo");
    assert!(child.wait().expect("usdt_demo").success());
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("tracer output");
    assert!(tracer.wait().expect("bpfkit").success());
    assert_eq!(rest, format!("{pid} -40\n\n\n"));
}

#[test]
fn listing_as_bpftrace_prints_it() {
    let _one = one_at_a_time();
    let d = demo();
    let out = trace(&["-l", &format!("usdt:{d}:*")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let want: String = ["frame", "global", "guarded", "indexed", "regs", "twice"]
        .iter()
        .map(|p| format!("usdt:{d}:demo:{p}\n"))
        .collect();
    assert_eq!(text(&out.stdout), want);
    let out = trace(&["-l", &format!("usdt:{d}:demo:*a*")]);
    assert_eq!(
        text(&out.stdout),
        format!("usdt:{d}:demo:frame\nusdt:{d}:demo:global\nusdt:{d}:demo:guarded\n")
    );
}

#[test]
fn a_missing_probe_or_argument_is_an_error() {
    let _one = one_at_a_time();
    let d = demo();
    let out = trace(&["-e", &format!("usdt:{d}:demo:nope {{ }}")]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains(&format!(
            "No probes matched the attach point 'usdt:{d}:demo:nope'"
        )),
        "{}",
        text(&out.stderr)
    );
    let out = trace(&[
        "-e",
        &format!("usdt:{d}:demo:guarded {{ printf(\"%d\\n\", arg1); }}"),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr)
            .contains("usdt probe demo:guarded has 1 argument(s): arg1 does not exist"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn python_import_probes_behind_their_semaphores() {
    // Debian's CPython is built with its USDT probes, each guarded by a semaphore
    // (PyDTrace_*_ENABLED); they fire only while the semaphore is counted up.
    let py = "/usr/bin/python3";
    let has_notes = std::fs::read(py)
        .ok()
        .and_then(|d| bpfkit_elf::notes::usdt_probes(&d).ok())
        .is_some_and(|n| n.iter().any(|p| p.name == "import__find__load__start"));
    if !has_notes {
        return;
    }
    let _one = one_at_a_time();
    let out = trace(&[
        "-e",
        &format!(
            "usdt:{py}:python:import__find__load__start {{ printf(\"import %s\\n\", str(arg0)); }}"
        ),
        "-c",
        &format!("{py} -c pass"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.starts_with("Attached 1 probe\n"), "{s}");
    // The interpreter imports its codecs on every start.
    assert!(s.lines().any(|l| l == "import encodings"), "{s}");
}

#[test]
fn binary_from_the_c_command() {
    let _one = one_at_a_time();
    let d = demo();
    // No binary, or a wildcard one: `-c` names the program, as in bpftrace. The inlined
    // probe has two sites, each attached and counted as bpftrace 0.17 counts them
    // ("Attaching 2 probes...", and 7 for all six probes of the demo).
    let out = trace(&["-e", "usdt:twice { printf(\"%d\\n\", arg0); }", "-c", &d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "Attached 2 probes\n11\n22\n\n\n");
    let out = trace(&["-e", "usdt:*:demo:* { @[probe] = count(); }", "-c", &d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("Attached 7 probes\n"), "{stdout}");
    assert!(
        stdout.contains(&format!("@[usdt:{d}:demo:twice]: 2\n")),
        "{stdout}"
    );
    // A wildcard that does not match the command's path matches nothing.
    let out = trace(&["-e", "usdt:/nonexistent*:demo:twice { }", "-c", &d]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("No probes matched the attach point"),
        "{}",
        text(&out.stderr)
    );
}
