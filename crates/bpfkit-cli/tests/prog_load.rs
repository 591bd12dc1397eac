//! `bpfkit prog load/loadall` on our fixtures: pins, `map name … pinned …` reuse, `type`.

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

fn dir(tag: &str) -> Dir {
    let d = Path::new("/sys/fs/bpf").join(format!("bpfkit_pl_{tag}_{}", std::process::id()));
    bpfkit::create_pin_dir(&d).unwrap();
    Dir(d)
}

#[test]
fn loadall_reuses_a_map_given_by_name_and_pins_maps() {
    let d = dir("reuse");
    let mine = bpfkit::Map::create(&bpfkit::MapSpec::new(bpfkit::MapType::Hash, 4, 8, 16)).unwrap();
    let pinned = d.0.join("counts");
    mine.pin(&pinned).unwrap();
    let progs = d.0.join("progs");
    let maps = d.0.join("maps");
    let obj = fixture("obj_maps.bpf.o");
    let out = bpfkit(&[
        "prog",
        "loadall",
        obj.to_str().unwrap(),
        progs.to_str().unwrap(),
        "map",
        "name",
        "shared_counts",
        "pinned",
        pinned.to_str().unwrap(),
        "pinmaps",
        maps.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let prog = bpfkit::Program::from_pin(progs.join("on_getppid")).unwrap();
    let map_ids = prog.info().unwrap().map_ids;
    assert!(
        map_ids.contains(&mine.id()),
        "on_getppid uses the reused map: {map_ids:?}"
    );
    assert!(bpfkit::Program::from_pin(progs.join("tail_second")).is_ok());
    // Data maps are pinned with '_' for the '.' bpffs refuses; the reused map is the one pinned.
    assert!(bpfkit::Map::from_pin(maps.join("obj_maps_rodata")).is_ok());
    assert!(bpfkit::Map::from_pin(maps.join("outer")).is_ok());
    let again = bpfkit::Map::from_pin(maps.join("shared_counts")).unwrap();
    assert_eq!(again.id(), mine.id());

    let out = bpfkit(&[
        "prog",
        "loadall",
        obj.to_str().unwrap(),
        d.0.join("x").to_str().unwrap(),
        "map",
        "name",
        "nope",
        "id",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nope"), "{err}");
    let out = bpfkit(&[
        "prog",
        "loadall",
        obj.to_str().unwrap(),
        d.0.join("y").to_str().unwrap(),
        "map",
        "name",
    ]);
    assert_eq!(out.status.code(), Some(2), "usage");
}

#[test]
fn load_with_a_program_type_and_a_verifier_failure() {
    let d = dir("type");
    let obj = fixture("obj_globals.bpf.o");
    let pin = d.0.join("p");
    let out = bpfkit(&[
        "prog",
        "load",
        obj.to_str().unwrap(),
        pin.to_str().unwrap(),
        "type",
        "raw_tracepoint",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let prog = bpfkit::Program::from_pin(&pin).unwrap();
    assert_eq!(prog.prog_type(), bpfkit::ProgramType::RawTracepoint);

    let bad = fixture("core_fail.bpf.o");
    let out = bpfkit(&[
        "prog",
        "load",
        bad.to_str().unwrap(),
        d.0.join("q").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines().next().unwrap().contains("reads_missing"),
        "{err}"
    );
    assert!(err.contains("core_fail.bpf.c:18"), "{err}");
    assert!(!d.0.join("q").exists());
}
