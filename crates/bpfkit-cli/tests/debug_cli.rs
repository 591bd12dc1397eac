//! `-d/--debug`: every bpf() call on stderr, and the verifier log of each program loaded.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    let dir = std::env::var_os("BPFKIT_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/fixtures"));
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} is missing: run scripts/build-fixtures",
        p.display()
    );
    p
}

fn bpfkit(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .args(args)
        .output()
        .unwrap()
}

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn debug_prog_load_prints_the_load_call_and_the_verifier_log() {
    let d = Dir(Path::new("/sys/fs/bpf").join(format!("bpfkit_dbg_{}", std::process::id())));
    bpfkit::create_pin_dir(&d.0).unwrap();
    let pin = d.0.join("prog");
    let obj = fixture("obj_maps.bpf.o");
    // -d after the verb's arguments, as bpftool accepts it.
    let out = bpfkit(&[
        "prog",
        "load",
        obj.to_str().unwrap(),
        pin.to_str().unwrap(),
        "-d",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("bpf(BPF_PROG_LOAD) = ") && !l.contains("= -1")),
        "{err}"
    );
    assert!(err.contains("bpf(BPF_MAP_CREATE) = "), "{err}");
    assert!(err.contains("verifier log of program "), "{err}");
    // The statistics line the verifier writes at the end of a successful verification.
    assert!(
        err.contains("processed ") && err.contains(" insns (limit "),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn debug_map_show_prints_the_id_walk() {
    let map = bpfkit::Map::create(&bpfkit::MapSpec::new(bpfkit::MapType::Array, 4, 4, 1)).unwrap();
    let id = map.id();
    let out = bpfkit(&["-d", "map", "show"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.lines()
            .next()
            .is_some_and(|l| l.starts_with("bpf(BPF_MAP_GET_NEXT_ID, start_id 0) = 0, next_id ")),
        "{err}"
    );
    assert!(
        err.contains(&format!("bpf(BPF_MAP_GET_FD_BY_ID, id {id}) = ")),
        "{err}"
    );
    // The walk ends when the kernel has no id after the last one.
    assert!(
        err.lines()
            .any(|l| l.starts_with("bpf(BPF_MAP_GET_NEXT_ID, start_id ")
                && l.ends_with("= -1 ENOENT")),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{id}: array")));
    // Without -d, nothing of it.
    let quiet = bpfkit(&["map", "show"]);
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("bpf("));
}
