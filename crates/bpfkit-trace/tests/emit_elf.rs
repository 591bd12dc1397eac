//! `bpfkit trace --emit-elf`: the object written for a script with maps and a tracepoint is
//! read back by bpfkit's ELF reader, loaded by Debian's `bpftool prog loadall` and by
//! `bpfkit prog loadall … autoattach`, and counts the getpid calls of one thread in its maps.
//! Needs root, bpftool, and a built `bpfkit` beside this test (`cargo build -p bpfkit-cli`)
//! or `BPFKIT_BIN`.

mod common;

use bpfkit::{Map, Program};
use common::bpfkit_bin;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;

const CALLS: u64 = 500;

/// A thread that reports its tid, makes `CALLS` getpid calls when told to, then reports.
struct Trigger {
    tid: u64,
    go: mpsc::Sender<()>,
    done: mpsc::Receiver<()>,
}

fn trigger() -> Trigger {
    let (tid_tx, tid_rx) = mpsc::channel();
    let (go, go_rx) = mpsc::channel::<()>();
    let (done_tx, done) = mpsc::channel();
    std::thread::spawn(move || {
        // /proc/thread-self -> "PID/task/TID"
        let link = std::fs::read_link("/proc/thread-self").expect("/proc/thread-self");
        let tid: u64 = link
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse().ok())
            .expect("tid");
        tid_tx.send(tid).expect("send tid");
        if go_rx.recv().is_ok() {
            for _ in 0..CALLS {
                // std::process::id() is a getpid(2) call on Linux.
                std::hint::black_box(std::process::id());
            }
            let _ = done_tx.send(());
        }
    });
    let tid = tid_rx.recv().expect("tid");
    Trigger { tid, go, done }
}

/// Writes the object of a script counting the getpid calls of `tid`.
fn emit(dir: &Path, tid: u64) -> PathBuf {
    let obj = dir.join("getpid.bpf.o");
    let script = format!(
        "tracepoint:syscalls:sys_enter_getpid /tid == {tid}/ {{ @calls = count(); @bytid[tid] = count(); }}"
    );
    let stdout = emit_elf(&obj, &script);
    assert!(stdout.is_empty(), "--emit-elf runs nothing");
    obj
}

/// Runs `bpfkit trace --emit-elf obj -e script`, which must succeed; returns its stdout.
fn emit_elf(obj: &Path, script: &str) -> Vec<u8> {
    let out = Command::new(bpfkit_bin())
        .args(["trace", "--emit-elf"])
        .arg(obj)
        .args(["-e", script])
        .output()
        .expect("run bpfkit");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs `TOOL prog loadall obj progs pinmaps maps` (and `autoattach`) with `bpftool` or the
/// built `bpfkit`, which must succeed; returns its stderr.
fn loadall(tool: &str, obj: &Path, progs: &Path, maps: &Path, autoattach: bool) -> String {
    let mut cmd = if tool == "bpftool" {
        Command::new("bpftool")
    } else {
        Command::new(bpfkit_bin())
    };
    cmd.args(["prog", "loadall"])
        .arg(obj)
        .arg(progs)
        .arg("pinmaps")
        .arg(maps);
    if autoattach {
        cmd.arg("autoattach");
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("run {tool} (apt-get install bpftool): {e}"));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{tool} prog loadall: {err}");
    err
}

/// Sum over CPUs of the u64 value at `key` in the pinned per-CPU map.
fn percpu_sum(path: &Path, key: &[u8]) -> u64 {
    let m = Map::from_pin(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let vals = m
        .lookup_percpu(key)
        .expect("lookup")
        .unwrap_or_else(|| panic!("{}: no entry", path.display()));
    vals.iter()
        .map(|v| u64::from_le_bytes(v[..8].try_into().expect("8-byte value")))
        .sum()
}

/// A fresh bpffs directory pair (programs, maps) unique to this test run.
fn pin_dirs(tag: &str) -> (PathBuf, PathBuf) {
    let base = format!("/sys/fs/bpf/bpfkit_emit_{}_{tag}", std::process::id());
    let (p, m) = (PathBuf::from(&base), PathBuf::from(format!("{base}_maps")));
    let _ = std::fs::remove_dir_all(&p);
    let _ = std::fs::remove_dir_all(&m);
    std::fs::create_dir_all(&m).expect("create the map pin dir");
    (p, m)
}

fn check_counts(maps: &Path, tid: u64) {
    assert_eq!(
        percpu_sum(&maps.join("AT_calls"), &0u64.to_le_bytes()),
        CALLS
    );
    assert_eq!(
        percpu_sum(&maps.join("AT_bytid"), &tid.to_le_bytes()),
        CALLS
    );
}

#[test]
fn the_object_has_libbpf_sections() {
    let t = trigger();
    let dir = tempdir("layout");
    let obj = emit(&dir, t.tid);
    let bytes = std::fs::read(&obj).expect("read the object");
    let o = bpfkit_elf::Object::parse("getpid", &bytes).expect("bpfkit's ELF reader accepts it");
    let secs: Vec<&str> = o.programs.iter().map(|p| p.section.as_str()).collect();
    assert_eq!(secs, ["tracepoint/syscalls/sys_enter_getpid"]);
    let mut maps: Vec<&str> = o.maps.iter().map(|m| m.name.as_str()).collect();
    maps.sort();
    assert_eq!(
        maps,
        [
            "AT_bytid",
            "AT_calls",
            "events",
            "getpid.data",
            "getpid.rodata",
            "lost",
            "scratch"
        ]
    );
    assert_eq!(o.license.as_deref(), Some("GPL"));
    assert!(o.btf_ext.is_some(), "the object carries .BTF.ext");
    assert!(o.btf.is_some(), "the object carries .BTF");
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("bpfkit_emit_{}_{tag}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

#[test]
fn bpftool_loads_the_object_and_its_maps_count() {
    let t = trigger();
    let dir = tempdir("bpftool");
    let obj = emit(&dir, t.tid);
    let (progs, maps) = pin_dirs("bpftool");
    let err = loadall("bpftool", &obj, &progs, &maps, false);
    // libbpf took every map with its BTF (it retries without BTF, saying so, when the
    // kernel refuses the types) and the program with its func and line info.
    assert!(!err.contains("Retrying without BTF"), "{err}");
    assert!(!err.contains("skipping"), "{err}");
    // bpftool 7.1 has no autoattach: attach the pinned program here.
    let prog = Program::from_pin(progs.join("sys_enter_getpi")).expect("pinned program");
    let link = prog
        .attach_tracepoint("syscalls", "sys_enter_getpid")
        .expect("attach");
    t.go.send(()).expect("go");
    t.done.recv().expect("done");
    drop(link);
    check_counts(&maps, t.tid);
    // The integer key has a BTF type: bpftool prints it as a number.
    let dump = Command::new("bpftool")
        .args(["-j", "map", "dump", "pinned"])
        .arg(maps.join("AT_bytid"))
        .output()
        .expect("bpftool map dump");
    let text = String::from_utf8_lossy(&dump.stdout);
    assert!(text.contains(&format!("\"key\":{}", t.tid)), "{text}");
    let _ = std::fs::remove_dir_all(&progs);
    let _ = std::fs::remove_dir_all(&maps);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bpfkit_loads_and_autoattaches_the_object() {
    let t = trigger();
    let dir = tempdir("bpfkit");
    let obj = emit(&dir, t.tid);
    let (progs, maps) = pin_dirs("bpfkit");
    loadall("bpfkit", &obj, &progs, &maps, true);
    t.go.send(()).expect("go");
    t.done.recv().expect("done");
    // The pinned link holds the attachment: unpinning it detaches.
    let _ = std::fs::remove_dir_all(&progs);
    check_counts(&maps, t.tid);
    let _ = std::fs::remove_dir_all(&maps);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn callbacks_begin_and_intervals_load_in_both_loaders() {
    // `for` over a map compiles to a callback, which goes to `.text` as a static function
    // with its own func_info; begin is a bare `raw_tp` section, interval a `perf_event` one.
    let dir = tempdir("callbacks");
    let obj = dir.join("cb.bpf.o");
    let script =
        "tracepoint:syscalls:sys_enter_getppid { @c[tid] = 1; for ($kv : @c) { @s = sum($kv.1); } }
                  begin { printf(\"hi\\n\"); } interval:s:1 { print(@c); }";
    emit_elf(&obj, script);
    let bytes = std::fs::read(&obj).expect("read the object");
    let o = bpfkit_elf::Object::parse("cb", &bytes).expect("bpfkit's ELF reader accepts it");
    let mut secs: Vec<&str> = o.programs.iter().map(|p| p.section.as_str()).collect();
    secs.sort();
    assert_eq!(
        secs,
        [
            "perf_event",
            "raw_tp",
            "tracepoint/syscalls/sys_enter_getppid"
        ]
    );
    assert_eq!(o.subprograms.len(), 1, "the callback is a .text subprogram");
    for (tag, tool) in [("cb_bpftool", "bpftool"), ("cb_bpfkit", "bpfkit")] {
        let (progs, maps) = pin_dirs(tag);
        loadall(tool, &obj, &progs, &maps, false);
        let mut pinned: Vec<String> = std::fs::read_dir(&progs)
            .expect("pinned programs")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        pinned.sort();
        assert_eq!(pinned, ["begin", "interval_1", "sys_enter_getpp"], "{tool}");
        let _ = std::fs::remove_dir_all(&progs);
        let _ = std::fs::remove_dir_all(&maps);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_raw_tracepoint_with_btf_typed_args_is_a_tp_btf_section() {
    // `args.p` comes from the tracepoint's BTF prototype, so the program loads as tp_btf:
    // its section must say so, or libbpf loads it as a raw tracepoint and the verifier
    // refuses the typed access.
    let dir = tempdir("tpbtf");
    let obj = dir.join("exec.bpf.o");
    emit_elf(
        &obj,
        "rawtracepoint:sched_process_exec { @[args.p->pid] = count(); }",
    );
    let bytes = std::fs::read(&obj).expect("read the object");
    let o = bpfkit_elf::Object::parse("exec", &bytes).expect("bpfkit's ELF reader accepts it");
    let secs: Vec<&str> = o.programs.iter().map(|p| p.section.as_str()).collect();
    assert_eq!(secs, ["tp_btf/sched_process_exec"]);
    for (tag, tool) in [("tpbtf_bpftool", "bpftool"), ("tpbtf_bpfkit", "bpfkit")] {
        let (progs, maps) = pin_dirs(tag);
        loadall(tool, &obj, &progs, &maps, false);
        let pinned: Vec<String> = std::fs::read_dir(&progs)
            .expect("pinned programs")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        assert_eq!(pinned.len(), 1, "{tool}: {pinned:?}");
        let _ = std::fs::remove_dir_all(&progs);
        let _ = std::fs::remove_dir_all(&maps);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
