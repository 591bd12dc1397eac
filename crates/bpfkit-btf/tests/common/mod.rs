//! Helpers shared by the integration tests: fixtures and the bpftool peer.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use object::{Object, ObjectSection};

/// The fixture folder (`$BPFKIT_FIXTURES`, else `<workspace>/target/fixtures`).
pub fn fixtures() -> PathBuf {
    std::env::var_os("BPFKIT_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/fixtures"))
}

/// Path of a built fixture; panics (failing the test) with the command to build it when absent.
pub fn fixture(name: &str) -> PathBuf {
    let p = fixtures().join(name);
    assert!(
        p.exists(),
        "fixture {} is missing: run scripts/build-fixtures",
        p.display()
    );
    p
}

/// Bytes of ELF section `name` of `path`.
pub fn elf_section(path: &std::path::Path, name: &str) -> Vec<u8> {
    let data = std::fs::read(path).unwrap();
    let obj = object::File::parse(&*data).unwrap();
    let sec = obj
        .section_by_name(name)
        .unwrap_or_else(|| panic!("{} has no {name}", path.display()));
    sec.data().unwrap().to_vec()
}

/// Runs bpftool with `args`, returning stdout; panics on failure.
pub fn bpftool(args: &[&str]) -> Vec<u8> {
    let out = Command::new("bpftool")
        .args(args)
        .output()
        .expect("run bpftool");
    assert!(
        out.status.success(),
        "bpftool {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
