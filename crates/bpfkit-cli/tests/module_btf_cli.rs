//! `bpfkit btf dump file /sys/kernel/btf/<module>` (split BTF), with and without
//! `-B/--base-btf`, against Debian's bpftool 7.1, which needs `-B` for it.
//!
//! The host has no modules and skips (the line `scripts/kernel-matrix` counts as a skip); the
//! matrix guests load veth, whose BTF this checks.

use std::io::Write;
use std::process::{Command, Output};

use bpfkit_btf::declared_names;

const VETH: &str = "/sys/kernel/btf/veth";
const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {cmd}: {e}"))
}

fn ok(cmd: &str, args: &[&str]) -> String {
    let o = run(cmd, args);
    assert!(
        o.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn bpfkit(args: &[&str]) -> String {
    ok(env!("CARGO_BIN_EXE_bpfkit"), args)
}

/// Skips (with the line the kernel matrix counts) unless veth's BTF is there.
fn have_veth_btf() -> bool {
    if std::path::Path::new(VETH).exists() {
        return true;
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("module_btf_cli")
        .to_string();
    let line = format!("{test}: skipped: kernel lacks module BTF (no {VETH}: veth not loaded)\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    false
}

#[test]
fn raw_dump_of_module_btf_matches_bpftool_with_base() {
    if !have_veth_btf() {
        return;
    }
    let theirs = ok("bpftool", &["-B", VMLINUX, "btf", "dump", "file", VETH]);
    assert!(theirs.contains("STRUCT 'veth_priv'"), "{theirs:.300}");
    let ours_b = bpfkit(&["-B", VMLINUX, "btf", "dump", "file", VETH]);
    assert_eq!(ours_b, theirs, "with -B");
    let ours_long = bpfkit(&["btf", "dump", "file", VETH, "--base-btf", VMLINUX]);
    assert_eq!(ours_long, theirs, "with --base-btf after the noun");
    // Without -B bpfkit reads a module's sysfs BTF on top of vmlinux by itself.
    assert_eq!(bpfkit(&["btf", "dump", "file", VETH]), theirs, "without -B");
    let ours_j = bpfkit(&["-B", VMLINUX, "btf", "dump", "file", VETH, "-j"]);
    let theirs_j = ok(
        "bpftool",
        &["-B", VMLINUX, "btf", "dump", "file", VETH, "-j"],
    );
    let a: serde_json::Value = serde_json::from_str(&ours_j).unwrap();
    let b: serde_json::Value = serde_json::from_str(&theirs_j).unwrap();
    assert_eq!(a, b, "-j");
}

#[test]
fn c_dump_of_module_btf_declares_the_module_types() {
    if !have_veth_btf() {
        return;
    }
    let ours = bpfkit(&["-B", VMLINUX, "btf", "dump", "file", VETH, "format", "c"]);
    let theirs = ok(
        "bpftool",
        &["-B", VMLINUX, "btf", "dump", "file", VETH, "format", "c"],
    );
    let (o, t) = (declared_names(&ours), declared_names(&theirs));
    assert!(
        o.contains("struct veth_priv"),
        "ours lacks struct veth_priv"
    );
    // bpftool writes all of vmlinux before the module's types; bpfkit writes the module's
    // types and the vmlinux types they need. Each name bpfkit declares, bpftool declares too.
    let extra: Vec<&String> = o.difference(&t).collect();
    assert!(extra.is_empty(), "declared by us only: {extra:?}");
    assert!(
        t.contains("struct veth_priv"),
        "bpftool's lacks struct veth_priv"
    );
    assert!(ours.starts_with("#ifndef __VMLINUX_H__"));
}

#[test]
fn module_btf_objects_show_and_dump_by_id_like_bpftool() {
    if !have_veth_btf() {
        return;
    }
    let ours: serde_json::Value = serde_json::from_str(&bpfkit(&["btf", "show", "-j"])).unwrap();
    let theirs: serde_json::Value =
        serde_json::from_str(&ok("bpftool", &["btf", "show", "-j"])).unwrap();
    let pick = |v: &serde_json::Value| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == "veth")
            .cloned()
            .unwrap_or_else(|| panic!("no veth BTF object in {v}"))
    };
    let (o, t) = (pick(&ours), pick(&theirs));
    for k in ["id", "size", "kernel", "name"] {
        assert_eq!(o.get(k), t.get(k), "{k}: ours {o} theirs {t}");
    }
    assert_eq!(o["kernel"], true);
    let id = o["id"].as_u64().unwrap().to_string();
    let theirs = ok("bpftool", &["btf", "dump", "id", &id]);
    assert!(theirs.contains("STRUCT 'veth_priv'"), "{theirs:.300}");
    assert_eq!(
        bpfkit(&["btf", "dump", "id", &id]),
        theirs,
        "btf dump id {id}"
    );
    let file = bpfkit(&["btf", "dump", "file", VETH]);
    assert_eq!(file, theirs, "by id and from sysfs");
}
