//! Differential tests: `bpfkit` against Debian's bpftool 7.1 on the real kernel, on programs
//! and maps each test loads itself (the `cli_demo` fixture through `bpftool prog load`, small
//! programs through the library, and programs a background bpftrace loads).
//!
//! Fields that legitimately differ, and why:
//! - `pids`: bpfkit reads owners from /proc fdinfo; Debian's bpftool 7.1 is built without the
//!   BPF-iterator skeleton and prints none. Dropped from bpfkit's side before comparing.
//! - `run_time_ns`/`run_cnt`/`recursion_misses` of programs that run (bpftrace's, and any in a
//!   whole-system list): counters move between the two snapshots when statistics are on.
//! - `loaded_at`: both derive it from boot time and the wall clock at the moment they run;
//!   rounding may put them one second apart.
//! - `btf_id` in an unfiltered `map show`: bpftool 7.1 carries the previous map's `btf_id`
//!   over to maps that have none; the per-map `map show id N` (compared exactly) is right.
//! - `src` of `prog dump xlated -j`: bpftool 7.1 writes a backslash in source text as `\n`;
//!   bpfkit writes the JSON escape `\\`.
//! - The order of `prog_ids`/`map_ids` in `btf show`: bpftool prints them in the order of its
//!   internal hash table; they are compared as sets.
//! - Lists of every object are taken by two processes at two moments while other tests load
//!   and unload objects: such comparisons cover the ids both lists hold.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

fn bpfkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .args(args)
        .output()
        .expect("run bpfkit")
}

fn bpftool(args: &[&str]) -> Output {
    Command::new("bpftool")
        .args(args)
        .output()
        .expect("run bpftool (Debian's bpftool must be installed)")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs both tools; both must succeed. Returns (ours, theirs).
fn both(args: &[&str]) -> (String, String) {
    let ours = bpfkit(args);
    let theirs = bpftool(args);
    assert!(
        theirs.status.success(),
        "bpftool {args:?} failed: {}",
        String::from_utf8_lossy(&theirs.stderr)
    );
    assert!(
        ours.status.success(),
        "bpfkit {args:?} failed: {}",
        String::from_utf8_lossy(&ours.stderr)
    );
    (stdout(&ours), stdout(&theirs))
}

fn both_json(args: &[&str]) -> (Value, Value) {
    let (o, t) = both(args);
    let o: Value = serde_json::from_str(&o).unwrap_or_else(|e| panic!("bpfkit {args:?}: {e}: {o}"));
    let t: Value =
        serde_json::from_str(&t).unwrap_or_else(|e| panic!("bpftool {args:?}: {e}: {t}"));
    (o, t)
}

fn fixtures() -> PathBuf {
    let dir = std::env::var_os("BPFKIT_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fixtures"));
    let obj = dir.join("cli_demo.bpf.o");
    assert!(
        obj.exists(),
        "{} is missing: run scripts/build-fixtures",
        obj.display()
    );
    dir
}

/// A pin directory of its own, removed (with what is pinned there) on drop.
struct PinDir(PathBuf);

impl PinDir {
    fn new(tag: &str) -> PinDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = PathBuf::from(format!(
            "/sys/fs/bpf/bpfkit_cli_{tag}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).expect("create pin dir under /sys/fs/bpf");
        PinDir(p)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `cli_demo` fixture loaded by bpftool, program and maps pinned in a fresh directory.
struct Demo {
    dir: PinDir,
    prog_id: u64,
}

impl Demo {
    fn load() -> Demo {
        let obj = fixtures().join("cli_demo.bpf.o");
        let dir = PinDir::new("demo");
        std::fs::create_dir_all(dir.0.join("maps")).expect("maps dir");
        let out = bpftool(&[
            "prog",
            "load",
            &obj.display().to_string(),
            &dir.path("prog"),
            "pinmaps",
            &dir.path("maps"),
        ]);
        assert!(
            out.status.success(),
            "bpftool prog load: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let show = bpftool(&["prog", "show", "pinned", &dir.path("prog"), "-j"]);
        let v: Value = serde_json::from_slice(&show.stdout).expect("bpftool prog show json");
        let prog_id = v["id"].as_u64().expect("prog id");
        Demo { dir, prog_id }
    }

    fn prog(&self) -> String {
        self.dir.path("prog")
    }

    fn map(&self, name: &str) -> String {
        self.dir.0.join("maps").join(name).display().to_string()
    }

    fn map_id(&self, name: &str) -> u64 {
        let out = bpftool(&["map", "show", "pinned", &self.map(name), "-j"]);
        let v: Value = serde_json::from_slice(&out.stdout).expect("map show json");
        v["id"].as_u64().expect("map id")
    }
}

/// Drops keys bpftool 7.1 cannot print (see the module comment).
fn without_pids(mut v: Value) -> Value {
    match &mut v {
        Value::Array(items) => {
            for i in items {
                if let Some(o) = i.as_object_mut() {
                    o.remove("pids");
                }
            }
        }
        Value::Object(o) => {
            o.remove("pids");
        }
        _ => {}
    }
    v
}

/// Run-time counters move between two snapshots of a running program whenever another test
/// has statistics enabled: drop them from both sides.
fn without_counters(v: &mut Value) {
    if let Some(o) = v.as_object_mut() {
        for k in ["run_time_ns", "run_cnt", "recursion_misses"] {
            o.remove(k);
        }
    }
}

fn assert_loaded_at_close(ours: &mut Value, theirs: &mut Value) {
    let (Some(a), Some(b)) = (ours["loaded_at"].as_i64(), theirs["loaded_at"].as_i64()) else {
        return;
    };
    assert!((a - b).abs() <= 1, "loaded_at {a} vs {b}");
    ours["loaded_at"] = Value::from(b);
}

#[test]
fn prog_show_agrees_with_bpftool() {
    let demo = Demo::load();
    let id = demo.prog_id.to_string();
    for spec in [
        vec!["id", id.as_str()],
        vec!["pinned", &demo.prog()],
        vec!["name", "handle_getppid_enter"],
    ] {
        let mut args = vec!["prog", "show"];
        args.extend(spec.iter().copied());
        args.push("-j");
        let (o, mut t) = both_json(&args);
        let mut o = without_pids(o);
        if o.is_array() {
            // `name` may match programs other tests loaded from the same fixture.
            let pick = |v: &Value| {
                v.as_array()
                    .and_then(|a| a.iter().find(|p| p["id"].as_u64() == Some(demo.prog_id)))
                    .cloned()
                    .expect("our program in the list")
            };
            o = pick(&o);
            t = pick(&t);
        }
        assert_loaded_at_close(&mut o, &mut t);
        assert_eq!(o, t, "prog show {spec:?}");
        // The name is cut at 15 characters by the kernel and completed from BTF.
        assert_eq!(o["name"], "handle_getppid_enter");
    }
    // Text, and pinned paths under -f.
    let (o, t) = both(&["prog", "show", "id", &id, "-f"]);
    assert_eq!(o, t);
    assert!(o.contains(&format!("pinned {}", demo.prog())), "{o}");
    let (o, t) = both_json(&["prog", "show", "id", &id, "-f", "-j"]);
    assert_eq!(without_pids(o), t);
    // -p: bpftool's indented layout, byte for byte (nothing holds the program: no pids).
    let (o, t) = both(&["prog", "show", "id", &id, "-p"]);
    assert_eq!(o, t);
}

#[test]
fn prog_list_agrees_on_common_programs() {
    let demo = Demo::load();
    let (o, t) = both_json(&["prog", "show", "-j"]);
    let o = without_pids(o);
    let (oa, ta) = (o.as_array().unwrap(), t.as_array().unwrap());
    let mut compared = 0;
    for mut p in oa.iter().cloned() {
        let Some(mut q) = ta.iter().find(|q| q["id"] == p["id"]).cloned() else {
            continue;
        };
        assert_loaded_at_close(&mut p, &mut q);
        without_counters(&mut p);
        without_counters(&mut q);
        assert_eq!(p, q);
        compared += 1;
    }
    assert!(compared >= 1, "no program in both lists");
    // The text listing holds our program's block exactly as `prog show id` prints it.
    let id = demo.prog_id.to_string();
    let (one, _) = both(&["prog", "show", "id", &id]);
    let (list, _) = both(&["prog", "show"]);
    assert!(list.contains(&one), "{one} not in the listing");
}

#[test]
fn dump_xlated_is_identical() {
    let demo = Demo::load();
    let p = demo.prog();
    for extra in [vec![], vec!["linum"], vec!["opcodes"], vec!["visual"]] {
        let mut args = vec!["prog", "dump", "xlated", "pinned", p.as_str()];
        args.extend(extra.iter().copied());
        let (o, t) = both(&args);
        assert_eq!(o, t, "prog dump xlated {extra:?}");
    }
    let (o, t) = both(&["prog", "dump", "xlated", "pinned", &p]);
    assert!(
        o.starts_with(
            "int handle_getppid_enter(void * ctx):\n; int handle_getppid_enter(void *ctx)\n"
        ),
        "{o}"
    );
    assert!(o.contains("call pc+"), "subprogram call: {o}");
    assert!(o.contains("int demo_bump(u32 idx):"), "{o}");
    assert!(o.contains("map[id:"), "{o}");
    drop(t);
    for extra in [vec![], vec!["linum"], vec!["opcodes"]] {
        let mut args = vec!["-j", "prog", "dump", "xlated", "pinned", p.as_str()];
        args.extend(extra.iter().copied());
        let (mut o, t) = both_json(&args);
        for e in o.as_array_mut().unwrap() {
            if let Some(Value::String(s)) = e.get_mut("src") {
                *s = s.replace('\\', "\n");
            }
        }
        assert_eq!(o, t, "prog dump xlated -j {extra:?}");
    }
}

#[test]
fn dump_jited_has_functions_and_source() {
    let demo = Demo::load();
    let out = bpfkit(&["prog", "dump", "jited", "pinned", &demo.prog()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = stdout(&out);
    assert!(
        s.starts_with("int handle_getppid_enter(void * ctx):\nbpf_prog_"),
        "{s}"
    );
    assert!(s.contains("int demo_bump(u32 idx):\n"), "{s}");
    assert!(
        s.contains("; k.pid = bpf_get_current_pid_tgid() >> 32;"),
        "{s}"
    );
    assert!(s.lines().any(|l| l.trim_start().starts_with("0:\t")), "{s}");
    assert!(s.contains("leave"), "{s}");
    let op = stdout(&bpfkit(&[
        "prog",
        "dump",
        "jited",
        "pinned",
        &demo.prog(),
        "opcodes",
    ]));
    assert!(op.lines().count() > s.lines().count());
    let j = bpfkit(&["-j", "prog", "dump", "jited", "pinned", &demo.prog()]);
    let v: Value = serde_json::from_slice(&j.stdout).expect("jited json");
    assert_eq!(v.as_array().map(Vec::len), Some(2), "two functions");
}

#[test]
fn map_show_agrees_per_map_and_in_lists() {
    let demo = Demo::load();
    for m in ["demo_hash", "demo_counts"] {
        let (o, t) = both_json(&["map", "show", "pinned", &demo.map(m), "-j"]);
        assert_eq!(without_pids(o), t, "map show {m}");
        let (o, t) = both(&["map", "show", "pinned", &demo.map(m)]);
        assert_eq!(o, t);
        let id = demo.map_id(m).to_string();
        let (o, t) = both_json(&["map", "show", "id", &id, "-f", "-j"]);
        assert_eq!(without_pids(o), t);
    }
    let (o, t) = both_json(&["map", "show", "-j"]);
    let o = without_pids(o);
    let mut compared = 0;
    for m in o.as_array().unwrap() {
        let Some(mut n) = t
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == m["id"])
            .cloned()
        else {
            continue;
        };
        if m.get("btf_id").is_none() {
            n.as_object_mut().unwrap().remove("btf_id");
        }
        assert_eq!(*m, n);
        compared += 1;
    }
    assert!(compared >= 2);
}

#[test]
fn map_dump_and_lookup_agree() {
    let demo = Demo::load();
    let hash = demo.map("demo_hash");
    let counts = demo.map("demo_counts");
    // Fill through both tools.
    let key = ["1", "0", "0", "0", "2", "0", "3", "4"];
    let mut val: Vec<String> = vec![
        "5", "0", "0", "0", "0", "0", "0", "0", "0x61", "0x62", "0x63",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    val.resize(24, "0".into());
    val.extend(
        [
            "0xff", "0xff", "0xff", "0xff", "1", "2", "3", "4", "7", "0", "0", "0", "0x2b", "0",
            "0", "0",
        ]
        .map(String::from),
    );
    let mut args: Vec<&str> = vec!["map", "update", "pinned", &hash, "key"];
    args.extend(key);
    args.push("value");
    args.extend(val.iter().map(String::as_str));
    let o = bpfkit(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = bpftool(&[
        "map", "update", "pinned", &hash, "key", "hex", "09", "00", "00", "00", "01", "00", "02",
        "01", "value", "hex", "01", "00", "00", "00", "00", "00", "00", "00", "00", "00", "00",
        "00", "00", "00", "00", "00", "00", "00", "00", "00", "00", "00", "00", "00", "01", "00",
        "00", "00", "02", "00", "00", "00", "01", "00", "00", "00", "ff", "00", "00", "00",
    ]);
    assert!(o.status.success());
    let o = bpfkit(&[
        "map", "update", "pinned", &counts, "key", "2", "0", "0", "0", "value", "hex", "2a", "00",
        "00", "00", "00", "00", "00", "80", "exist",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Non-BTF maps made by bpftool, filled by bpfkit.
    let dir = PinDir::new("plain");
    let plain = dir.path("plain");
    let o = bpftool(&[
        "map", "create", &plain, "type", "hash", "key", "4", "value", "20", "entries", "8", "name",
        "plain",
    ]);
    assert!(o.status.success());
    let pc = dir.path("pc");
    let o = bpfkit(&[
        "map",
        "create",
        &pc,
        "type",
        "percpu_array",
        "key",
        "4",
        "value",
        "4",
        "entries",
        "2",
        "name",
        "pcarr",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for k in 0..3u8 {
        let ks = k.to_string();
        let mut a = vec![
            "map",
            "update",
            "pinned",
            plain.as_str(),
            "key",
            &ks,
            "0",
            "0",
            "0",
            "value",
        ];
        let v: Vec<String> = (0..20).map(|i| (i * 3 + k as usize).to_string()).collect();
        a.extend(v.iter().map(String::as_str));
        assert!(bpfkit(&a).status.success());
    }
    assert!(bpfkit(&[
        "map", "update", "pinned", &pc, "key", "1", "0", "0", "0", "value", "7", "0", "0", "1"
    ])
    .status
    .success());
    let data = demo.map("cli_demo_data");
    for m in [&hash, &counts, &plain, &pc, &data] {
        let (o, t) = both(&["map", "dump", "pinned", m]);
        assert_eq!(o, t, "map dump {m}");
        let (o, t) = both_json(&["map", "dump", "pinned", m, "-j"]);
        assert_eq!(o, t, "map dump -j {m}");
        let (o, t) = both(&["map", "dump", "pinned", m, "-p"]);
        assert_eq!(o, t, "map dump -p {m}");
    }
    let (o, _) = both_json(&["map", "dump", "pinned", &hash, "-j"]);
    assert_eq!(o.as_array().map(Vec::len), Some(2));
    assert!(o.to_string().contains("\"formatted\""));
    let (o, _) = both(&["map", "dump", "pinned", &plain]);
    assert!(o.ends_with("Found 3 elements\n"), "{o}");
    for args in [
        vec![
            "map",
            "lookup",
            "pinned",
            hash.as_str(),
            "key",
            "1",
            "0",
            "0",
            "0",
            "2",
            "0",
            "3",
            "4",
        ],
        vec![
            "map",
            "lookup",
            "pinned",
            plain.as_str(),
            "key",
            "hex",
            "02",
            "00",
            "00",
            "00",
        ],
        vec![
            "map",
            "lookup",
            "pinned",
            pc.as_str(),
            "key",
            "1",
            "0",
            "0",
            "0",
        ],
        vec!["map", "getnext", "pinned", plain.as_str()],
        vec![
            "map",
            "getnext",
            "pinned",
            counts.as_str(),
            "key",
            "1",
            "0",
            "0",
            "0",
        ],
    ] {
        let (o, t) = both(&args);
        assert_eq!(o, t, "{args:?}");
        let mut j = vec!["-j"];
        j.extend(args.iter().copied());
        let (o, t) = both_json(&j);
        assert_eq!(o, t, "{j:?}");
    }
    // delete, then the entry is gone for both.
    assert!(
        bpfkit(&["map", "delete", "pinned", &plain, "key", "1", "0", "0", "0"])
            .status
            .success()
    );
    let (o, t) = both(&["map", "dump", "pinned", &plain]);
    assert_eq!(o, t);
    assert!(o.ends_with("Found 2 elements\n"));
}

#[test]
fn queue_verbs_agree() {
    let dir = PinDir::new("queue");
    let q = dir.path("q");
    assert!(bpfkit(&[
        "map", "create", &q, "type", "queue", "key", "0", "value", "4", "entries", "4", "name",
        "q1"
    ])
    .status
    .success());
    assert!(
        bpfkit(&["map", "push", "pinned", &q, "value", "1", "2", "3", "4"])
            .status
            .success()
    );
    assert!(
        bpftool(&["map", "enqueue", "pinned", &q, "value", "5", "6", "7", "8"])
            .status
            .success()
    );
    let (o, t) = both(&["map", "peek", "pinned", &q]);
    assert_eq!(o, t);
    assert_eq!(o, "value: 01 02 03 04\n");
    let (o, t) = both_json(&["-j", "map", "peek", "pinned", &q]);
    assert_eq!(o, t);
    let a = stdout(&bpfkit(&["map", "pop", "pinned", &q]));
    let b = stdout(&bpftool(&["map", "dequeue", "pinned", &q]));
    assert_eq!(
        (a.as_str(), b.as_str()),
        ("value: 01 02 03 04\n", "value: 05 06 07 08\n")
    );
    let e = bpfkit(&["map", "pop", "pinned", &q]);
    assert!(!e.status.success());
    assert_eq!(String::from_utf8_lossy(&e.stderr), "Error: empty map\n");
    // freeze: later updates are refused.
    let arr = dir.path("arr");
    assert!(bpfkit(&[
        "map", "create", &arr, "type", "array", "key", "4", "value", "4", "entries", "1", "name",
        "fz"
    ])
    .status
    .success());
    assert!(bpfkit(&["map", "freeze", "pinned", &arr]).status.success());
    let (o, t) = both_json(&["map", "show", "pinned", &arr, "-j"]);
    assert_eq!(without_pids(o.clone()), t);
    assert_eq!(o["frozen"], 1);
    let u = bpfkit(&[
        "map", "update", "pinned", &arr, "key", "0", "0", "0", "0", "value", "1", "1", "1", "1",
    ]);
    assert!(!u.status.success());
    // pin: a second path for the same map.
    let again = dir.path("again");
    assert!(bpfkit(&["map", "pin", "pinned", &arr, &again])
        .status
        .success());
    let (o, _) = both_json(&["map", "show", "pinned", &again, "-j"]);
    assert_eq!(o["name"], "fz");
}

#[test]
fn btf_show_and_dump_agree() {
    let demo = Demo::load();
    let (p, _) = both_json(&["prog", "show", "pinned", &demo.prog(), "-j"]);
    let btf_id = p["btf_id"].as_u64().expect("btf id").to_string();
    let (mut o, mut t) = both_json(&["btf", "show", "id", &btf_id, "-j"]);
    // bpftool lists the ids in the order of its hash table; compare them as sets.
    for v in [&mut o, &mut t] {
        for k in ["prog_ids", "map_ids"] {
            if let Some(Value::Array(a)) = v.get_mut(k) {
                a.sort_by_key(|x| x.as_u64());
            }
        }
    }
    assert_eq!(o, t);
    assert_eq!(o["prog_ids"][0], demo.prog_id);
    let (o, t) = both(&["btf", "show", "id", &btf_id]);
    assert_eq!(o.split("  ").next(), t.split("  ").next());
    assert_eq!(o.len(), t.len());
    let (o, t) = both_json(&["btf", "show", "-j"]);
    let mut compared = 0;
    for b in o.as_array().unwrap() {
        if let Some(c) = t.as_array().unwrap().iter().find(|c| c["id"] == b["id"]) {
            for k in ["id", "size", "kernel", "name"] {
                assert_eq!(b.get(k), c.get(k), "btf {} {k}", b["id"]);
            }
            compared += 1;
        }
    }
    assert!(compared >= 2);
    for args in [
        vec!["btf", "dump", "id", btf_id.as_str()],
        vec!["btf", "dump", "prog", "pinned", &demo.prog()],
        vec!["btf", "dump", "map", "pinned", &demo.map("demo_hash")],
        vec![
            "btf",
            "dump",
            "map",
            "pinned",
            &demo.map("demo_hash"),
            "value",
        ],
        vec!["btf", "dump", "id", btf_id.as_str(), "format", "c"],
    ] {
        let (o, t) = both(&args);
        assert_eq!(o, t, "{args:?}");
    }
    let obj = fixtures().join("cli_demo.bpf.o").display().to_string();
    let (o, t) = both(&["btf", "dump", "file", &obj]);
    assert_eq!(o, t);
    let (o, t) = both_json(&["-j", "btf", "dump", "id", &btf_id]);
    assert_eq!(o, t);
}

#[test]
fn vmlinux_raw_dump_is_identical_and_c_dump_compiles() {
    let tmp = std::env::temp_dir().join(format!("bpfkit_cli_vmlinux_{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let ours = bpfkit(&[
        "btf",
        "dump",
        "file",
        "/sys/kernel/btf/vmlinux",
        "format",
        "raw",
    ]);
    let theirs = bpftool(&[
        "btf",
        "dump",
        "file",
        "/sys/kernel/btf/vmlinux",
        "format",
        "raw",
    ]);
    assert!(ours.status.success() && theirs.status.success());
    assert!(ours.stdout.len() > 1_000_000);
    if ours.stdout != theirs.stdout {
        let o = String::from_utf8_lossy(&ours.stdout);
        let t = String::from_utf8_lossy(&theirs.stdout);
        let first = o.lines().zip(t.lines()).find(|(a, b)| a != b);
        panic!("raw dumps differ, first at {first:?}");
    }
    let c = bpfkit(&[
        "btf",
        "dump",
        "file",
        "/sys/kernel/btf/vmlinux",
        "format",
        "c",
    ]);
    let tc = bpftool(&[
        "btf",
        "dump",
        "file",
        "/sys/kernel/btf/vmlinux",
        "format",
        "c",
    ]);
    assert!(c.status.success() && tc.status.success());
    let ours_h = String::from_utf8_lossy(&c.stdout).into_owned();
    let theirs_h = String::from_utf8_lossy(&tc.stdout).into_owned();
    assert_eq!(
        bpfkit_btf::declared_names(&ours_h),
        bpfkit_btf::declared_names(&theirs_h),
        "named types declared"
    );
    std::fs::write(tmp.join("vmlinux.h"), &ours_h).unwrap();
    std::fs::write(
        tmp.join("t.bpf.c"),
        "#include \"vmlinux.h\"\n#include <bpf/bpf_helpers.h>\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n\
         SEC(\"tracepoint/syscalls/sys_enter_getppid\")\nint t(struct trace_event_raw_sys_enter *ctx)\n\
         { struct task_struct *t = (void *)bpf_get_current_task(); return t ? ctx->id : 0; }\n",
    )
    .unwrap();
    let cc = Command::new("clang")
        .args(["-g", "-O2", "-target", "bpf", "-D__TARGET_ARCH_x86", "-c"])
        .arg(tmp.join("t.bpf.c"))
        .arg("-o")
        .arg(tmp.join("t.bpf.o"))
        .arg("-I")
        .arg(&tmp)
        .output()
        .expect("clang");
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(
        cc.status.success(),
        "clang: {}",
        String::from_utf8_lossy(&cc.stderr)
    );
}

/// A bpftrace run in the background, killed on drop.
struct Bpftrace(Child);

impl Drop for Bpftrace {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn perf_and_prog_show_agree_on_bpftrace_programs() {
    let child = Command::new("bpftrace")
        .args([
            "-e",
            "tracepoint:syscalls:sys_enter_getppid { @a[comm] = count(); } uprobe:/bin/bash:readline { @b = count(); }",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start bpftrace");
    let bt = Bpftrace(child);
    let pid = bt.0.id() as u64;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mine = |v: &Value| -> Vec<Value> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter(|e| e["pid"].as_u64() == Some(pid))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    };
    loop {
        let out = bpftool(&["perf", "show", "-j"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if mine(&v).len() >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "bpftrace did not attach within 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (o, t) = both_json(&["perf", "show", "-j"]);
    let (o, t) = (mine(&o), mine(&t));
    assert_eq!(o, t);
    assert!(
        o.iter()
            .any(|e| e["fd_type"] == "tracepoint" && e["tracepoint"] == "sys_enter_getppid"),
        "{o:?}"
    );
    assert!(
        o.iter()
            .any(|e| e["fd_type"] == "uprobe" && e["filename"] == "/bin/bash"),
        "{o:?}"
    );
    let text = stdout(&bpfkit(&["perf", "show"]));
    assert!(text.contains(&format!("pid {pid}  fd ")), "{text}");
    for e in &o {
        let id = e["prog_id"].as_u64().unwrap().to_string();
        let (mut po, mut pt) = both_json(&["prog", "show", "id", &id, "-j"]);
        assert_loaded_at_close(&mut po, &mut pt);
        without_counters(&mut po);
        without_counters(&mut pt);
        let pids = po.as_object_mut().unwrap().remove("pids");
        assert_eq!(po, pt);
        // bpfkit shows the owning process.
        let pids = pids.expect("pids of a bpftrace program");
        assert!(pids
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["pid"].as_u64() == Some(pid) && p["comm"] == "bpftrace"));
        let (xo, xt) = both(&["prog", "dump", "xlated", "id", &id]);
        assert_eq!(xo, xt);
    }
}

/// A raw tracepoint program loaded and attached by the library, with a link id.
fn raw_tp_link() -> (bpfkit::Program, bpfkit::Link) {
    use bpfkit_insn::{Builder, Reg};
    let mut b = Builder::new();
    b.mov64_imm(Reg::R0, 0).exit();
    let insns = b.build().unwrap();
    let spec = bpfkit::ProgramSpec::new("cli_rawtp", bpfkit::ProgramType::RawTracepoint, &insns)
        .license("GPL");
    let prog = bpfkit::Program::load(&spec).expect("load raw_tracepoint program");
    let link = prog
        .attach_raw_tracepoint("sys_enter")
        .expect("attach raw tracepoint");
    (prog, link)
}

#[test]
fn link_show_pin_detach_agree() {
    let (_prog, link) = raw_tp_link();
    let id = link.id().expect("link id").to_string();
    let (o, t) = both_json(&["link", "show", "id", &id, "-j"]);
    assert_eq!(without_pids(o.clone()), t);
    assert_eq!(o["type"], "raw_tracepoint");
    assert_eq!(o["tp_name"], "sys_enter");
    // This test process owns the link.
    assert!(o["pids"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["pid"].as_u64() == Some(std::process::id() as u64)));
    let (o, t) = both(&["link", "show", "id", &id]);
    let o: String = o
        .lines()
        .filter(|l| !l.starts_with("\tpids"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(o, t);
    let dir = PinDir::new("link");
    let pin = dir.path("l");
    assert!(bpfkit(&["link", "pin", "id", &id, &pin]).status.success());
    let (o, t) = both_json(&["link", "show", "pinned", &pin, "-f", "-j"]);
    assert_eq!(without_pids(o.clone()), t);
    assert_eq!(o["pinned"][0], pin.as_str());
    let (o, t) = both_json(&["link", "show", "-j"]);
    let theirs = t
        .as_array()
        .unwrap()
        .iter()
        .find(|l| {
            l["id"].as_str().is_none()
                && l["id"].as_u64().map(|n| n.to_string()) == Some(id.clone())
        })
        .cloned();
    let ours = o
        .as_array()
        .unwrap()
        .iter()
        .find(|l| {
            l["id"].as_str().is_none()
                && l["id"].as_u64().map(|n| n.to_string()) == Some(id.clone())
        })
        .cloned();
    assert_eq!(ours.map(without_pids), theirs);
    // Raw tracepoint links cannot be detached: both tools say so the same way.
    let o = bpfkit(&["link", "detach", "pinned", &pin]);
    let t = bpftool(&["link", "detach", "pinned", &pin]);
    assert!(!o.status.success() && !t.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&t.stderr)
    );
}

#[test]
fn prog_run_and_pin() {
    use bpfkit_insn::{Builder, Reg};
    let mut b = Builder::new();
    b.mov64_imm(Reg::R0, 7).exit();
    let insns = b.build().unwrap();
    let spec = bpfkit::ProgramSpec::new("cli_run", bpfkit::ProgramType::SocketFilter, &insns)
        .license("GPL");
    let prog = bpfkit::Program::load(&spec).expect("load socket filter");
    let id = prog.id().unwrap().to_string();
    let dir = PinDir::new("run");
    let data = std::env::temp_dir().join(format!("bpfkit_cli_run_{}", std::process::id()));
    std::fs::write(&data, [0u8; 64]).unwrap();
    let d = data.display().to_string();
    let out = format!("{d}.out");
    let r = bpfkit(&[
        "prog", "run", "id", &id, "data_in", &d, "data_out", &out, "repeat", "3",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let s = stdout(&r);
    assert!(
        s.starts_with("Return value: 7, duration (average): "),
        "{s}"
    );
    let (o, t) = both_json(&["-j", "prog", "run", "id", &id, "data_in", &d]);
    assert_eq!(o["retval"], t["retval"]);
    assert_eq!(o["retval"], 7);
    let _ = std::fs::remove_file(&data);
    let _ = std::fs::remove_file(&out);
    let pin = dir.path("p");
    assert!(bpfkit(&["prog", "pin", "id", &id, &pin]).status.success());
    let (o, t) = both_json(&["prog", "show", "pinned", &pin, "-j"]);
    assert_eq!(o["id"], t["id"]);
    assert_eq!(o["id"].to_string(), id);
    assert_eq!(o["name"], "cli_run");
}
