//! `format raw` must be byte-identical to bpftool's, for vmlinux and for an object's `.BTF`.

mod common;

use bpfkit_btf::Btf;

fn first_difference(a: &[u8], b: &[u8]) -> String {
    let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}: ours {x:?}, bpftool {y:?}", i + 1);
        }
    }
    format!(
        "lengths differ: ours {} lines, bpftool {}",
        a.lines().count(),
        b.lines().count()
    )
}

#[test]
fn vmlinux_raw_text_and_json_identical_to_bpftool() {
    let btf = Btf::vmlinux().unwrap();
    let mut ours = Vec::new();
    btf.dump_raw(&mut ours).unwrap();
    let peer = common::bpftool(&[
        "btf",
        "dump",
        "file",
        "/sys/kernel/btf/vmlinux",
        "format",
        "raw",
    ]);
    assert!(ours == peer, "{}", first_difference(&ours, &peer));
    let mut ours = Vec::new();
    btf.dump_raw_json(&mut ours).unwrap();
    let peer = common::bpftool(&[
        "-j",
        "btf",
        "dump",
        "file",
        "/sys/kernel/btf/vmlinux",
        "format",
        "raw",
    ]);
    assert!(ours == peer, "{}", first_difference(&ours, &peer));
}

#[test]
fn object_raw_identical_to_bpftool() {
    let obj = common::fixture("btf_kinds.bpf.o");
    let btf = Btf::parse(&common::elf_section(&obj, ".BTF")).unwrap();
    let mut ours = Vec::new();
    btf.dump_raw(&mut ours).unwrap();
    let peer = common::bpftool(&[
        "btf",
        "dump",
        "file",
        obj.to_str().unwrap(),
        "format",
        "raw",
    ]);
    assert!(ours == peer, "{}", first_difference(&ours, &peer));
    let text = String::from_utf8(ours).unwrap();
    for kind in [
        "DECL_TAG",
        "TYPE_TAG",
        "FLOAT",
        "DATASEC",
        "FUNC_PROTO",
        "bitfield_size",
    ] {
        assert!(text.contains(kind), "fixture BTF lacks {kind}");
    }
}
