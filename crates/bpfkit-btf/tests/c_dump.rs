//! `format c`: the header compiles with clang for the BPF target, reproduces every named
//! record's size and member offsets, and declares the same named types as bpftool's.

mod common;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::process::Command;

use bpfkit_btf::{declared_names, Btf, Detail, Kind};

fn scratch_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("bpfkit-btf-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn clang_bpf(dir: &std::path::Path, source: &str) {
    let c = dir.join("t.c");
    std::fs::write(&c, source).unwrap();
    let out = Command::new("clang")
        .args(["-target", "bpf", "-O2", "-Werror", "-c"])
        .arg(&c)
        .arg("-o")
        .arg(dir.join("t.o"))
        .arg("-I")
        .arg(dir)
        .output()
        .expect("run clang");
    let err = String::from_utf8_lossy(&out.stderr);
    let first: Vec<&str> = err.lines().take(20).collect();
    assert!(out.status.success(), "clang failed:\n{}", first.join("\n"));
}

/// Size and offset assertions for every record whose name is unique in `btf`.
fn layout_asserts(btf: &Btf, min_records: usize) -> String {
    let mut count = std::collections::HashMap::<&str, u32>::new();
    for t in btf.types() {
        let t = t.unwrap();
        if matches!(
            t.kind,
            Kind::Struct | Kind::Union | Kind::Enum | Kind::Enum64 | Kind::Fwd
        ) && !t.name.is_empty()
        {
            *count.entry(t.name).or_default() += 1;
        }
    }
    let mut s = String::new();
    let mut n = 0;
    for t in btf.types() {
        let t = t.unwrap();
        let kw = match t.kind {
            Kind::Struct => "struct",
            Kind::Union => "union",
            _ => continue,
        };
        if t.name.is_empty() || count[t.name] != 1 {
            continue;
        }
        let Detail::Composite { size, members } = &t.detail else {
            continue;
        };
        n += 1;
        writeln!(
            s,
            "_Static_assert(sizeof({kw} {}) == {size}, \"size of {}\");",
            t.name, t.name
        )
        .unwrap();
        for m in members {
            if m.name.is_empty() || m.bitfield_size != 0 || m.bit_offset % 8 != 0 {
                continue;
            }
            writeln!(
                s,
                "_Static_assert(__builtin_offsetof({kw} {}, {}) == {}, \"{}.{}\");",
                t.name,
                m.name,
                m.bit_offset / 8,
                t.name,
                m.name
            )
            .unwrap();
        }
    }
    assert!(n >= min_records, "only {n} records checked");
    s
}

#[test]
fn vmlinux_header_compiles_with_exact_layout() {
    let btf = Btf::vmlinux().unwrap();
    let mut h = Vec::new();
    btf.dump_c(&mut h).unwrap();
    let dir = scratch_dir("vmlinux");
    std::fs::write(dir.join("vmlinux.h"), &h).unwrap();
    let src = format!(
        "#include \"vmlinux.h\"\n{}\nint get_pid(struct task_struct *t) {{ return t->pid; }}\n",
        layout_asserts(&btf, 5000)
    );
    clang_bpf(&dir, &src);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn vmlinux_header_declares_the_same_named_types_as_bpftool() {
    let btf = Btf::vmlinux().unwrap();
    let mut h = Vec::new();
    btf.dump_c(&mut h).unwrap();
    let ours = declared_names(&String::from_utf8(h).unwrap());
    let peer = common::bpftool(&[
        "btf",
        "dump",
        "file",
        "/sys/kernel/btf/vmlinux",
        "format",
        "c",
    ]);
    let peer = declared_names(&String::from_utf8(peer).unwrap());
    assert!(
        peer.len() > 10_000,
        "bpftool declared only {} names",
        peer.len()
    );
    let only_ours: BTreeSet<_> = ours.difference(&peer).take(20).collect();
    let only_peer: BTreeSet<_> = peer.difference(&ours).take(20).collect();
    assert!(
        only_ours.is_empty() && only_peer.is_empty(),
        "only in ours: {only_ours:?}\nonly in bpftool's: {only_peer:?}"
    );
}

#[test]
fn object_header_compiles_with_exact_layout() {
    let obj = common::fixture("btf_kinds.bpf.o");
    let btf = Btf::parse(&common::elf_section(&obj, ".BTF")).unwrap();
    let mut h = Vec::new();
    btf.dump_c(&mut h).unwrap();
    let text = String::from_utf8(h.clone()).unwrap();
    for needle in [
        "__attribute__((packed))",
        ": 3;",
        "(*fns[4])(int, char *)",
        "enum small {",
        "double d;",
    ] {
        assert!(text.contains(needle), "header lacks {needle:?}:\n{text}");
    }
    let dir = scratch_dir("object");
    std::fs::write(dir.join("vmlinux.h"), &h).unwrap();
    let src = format!("#include \"vmlinux.h\"\n{}\n", layout_asserts(&btf, 4));
    clang_bpf(&dir, &src);
    let ours = declared_names(&text);
    let peer = common::bpftool(&["btf", "dump", "file", obj.to_str().unwrap(), "format", "c"]);
    assert_eq!(ours, declared_names(&String::from_utf8(peer).unwrap()));
    std::fs::remove_dir_all(&dir).unwrap();
}
