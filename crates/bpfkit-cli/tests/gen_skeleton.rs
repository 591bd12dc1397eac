//! `bpfkit gen skeleton`: output on a fixture object, the embed modes, and bad input.

use std::path::PathBuf;
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

fn gen(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .args(["gen", "skeleton"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn writes_a_skeleton_to_stdout() {
    let obj = fixture("obj_globals.bpf.o");
    let out = gen(&[obj.to_str().unwrap(), "--name", "globals"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let src = String::from_utf8(out.stdout).unwrap();
    assert!(src.contains(&format!("include_bytes!({:?})", obj.display().to_string())));
    assert!(src.contains("pub struct GlobalsSkel {"));
    assert!(src.contains("pub struct Rodata {"));
    let out = gen(&[obj.to_str().unwrap(), "--embed", "env:GLOBALS_OBJ"]);
    let src = String::from_utf8(out.stdout).unwrap();
    assert!(src.contains("include_bytes!(env!(\"GLOBALS_OBJ\"))"));
    assert!(
        src.contains("pub struct ObjGlobalsSkel {"),
        "the name defaults to the file's"
    );
}

#[test]
fn bad_input_fails_with_one_line() {
    let out = gen(&["/nonexistent.bpf.o"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("Error: failed to read /nonexistent.bpf.o"),
        "{err}"
    );
    let obj = fixture("obj_globals.bpf.o");
    let out = gen(&[obj.to_str().unwrap(), "--embed", "sideways"]);
    assert_eq!(out.status.code(), Some(2));
    let junk = std::env::temp_dir().join(format!("bpfkit-junk-{}.bpf.o", std::process::id()));
    std::fs::write(&junk, b"\x7fELF\x02\x01\x01 not an object").unwrap();
    let out = gen(&[junk.to_str().unwrap()]);
    let _ = std::fs::remove_file(&junk);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("Error: failed to generate a skeleton of"),
        "{err}"
    );
}
