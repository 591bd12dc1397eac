//! Without privileges, loading a program and creating a map fail with one line naming the
//! missing capability, and nothing panics. The unprivileged side is this test binary itself,
//! re-run under `setpriv` as user nobody with no capabilities.

mod common;

use std::process::Command;

use bpfkit::{Map, MapSpec, MapType, Program, ProgramSpec, ProgramType};
use bpfkit_insn::{Builder, Reg};

const CHILD_ENV: &str = "BPFKIT_UNPRIVILEGED_CHILD";

/// Loads a program and creates a map. Under the parent test (env set, no privileges) it prints
/// each error on a tagged line for the parent to check; run directly (as root) both must work.
#[test]
fn load_and_map_create() {
    let insns = Builder::new().mov64_imm(Reg::R0, 0).exit().build().unwrap();
    let load = Program::load(&ProgramSpec::new(
        "unpriv",
        ProgramType::SocketFilter,
        &insns,
    ));
    let map = Map::create(&MapSpec::new(MapType::Array, 4, 8, 1).name("unpriv"));
    if std::env::var_os(CHILD_ENV).is_some() {
        match load {
            Ok(_) => println!("LOAD-OK"),
            Err(e) => println!("LOAD-ERR: {e}"),
        }
        match map {
            Ok(_) => println!("MAP-OK"),
            Err(e) => println!("MAP-ERR: {e}"),
        }
        return;
    }
    let prog = load.expect("as root the load works");
    let map = map.expect("as root the map create works");
    let ids = (prog.id().unwrap(), map.id());
    drop(prog);
    drop(map);
    common::assert_gone(&[ids.0], &[ids.1], &[]);
}

#[test]
fn unprivileged_errors_name_the_capability() {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(&exe)
        .args([
            "--exact",
            "load_and_map_create",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .expect("running setpriv (util-linux)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the unprivileged run must not fail or panic:\n{stdout}\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    for tag in ["LOAD-ERR: ", "MAP-ERR: "] {
        let line = stdout
            .lines()
            // libtest may print its "test … ..." prefix on the same line.
            .find_map(|l| l.find(tag).map(|at| &l[at + tag.len()..]))
            .unwrap_or_else(|| panic!("no {tag} line: the unprivileged call succeeded?\n{stdout}"));
        assert!(line.contains("missing CAP_BPF"), "{tag}{line}");
        assert!(line.contains("Operation not permitted"), "{tag}{line}");
    }
}
