//! The skeleton generator on fixture objects: layout of the data-section structs (with
//! padding), accessors per map and program, and bad input. (The execsnoop example compiles and
//! runs a generated skeleton end to end.)

mod common;

use bpfkit::skeleton::{generate, Embed, Plain, SkeletonOptions};
use common::fixture;

fn gen(name: &str) -> String {
    let path = fixture(&format!("{name}.bpf.o"));
    let bytes = std::fs::read(&path).unwrap();
    let opts = SkeletonOptions {
        name: name.into(),
        embed: Embed::IncludeBytes(path.display().to_string()),
    };
    generate(&bytes, &format!("{name}.bpf.o"), &opts).unwrap()
}

#[test]
fn data_sections_become_exact_repr_c_structs() {
    let src = gen("obj_globals");
    for want in [
        "pub struct Rodata {",
        "pub target_tid: i32,",
        "pub _pad0: [u8; 4],",
        "pub step: u64,",
        "pub struct Data {",
        "pub multiplier: u64,",
        "pub struct Bss {",
        "pub last_comm: [i8; 16],",
        "const SIZE: usize = 16;",
        "pub struct OpenObjGlobalsSkel {",
        "pub fn open() -> bpfkit::Result<OpenObjGlobalsSkel>",
        "pub on_getppid: &'a bpfkit::Program,",
        "rodata: get(\"obj_glob.rodata\")?,",
        "pub fn set_bss(&self, v: &Bss)",
    ] {
        assert!(src.contains(want), "missing `{want}` in:\n{src}");
    }
    assert!(
        !src.contains("pub fn set_rodata"),
        ".rodata is frozen after load"
    );
}

#[test]
fn maps_of_every_kind_get_a_field() {
    let src = gen("obj_maps");
    for m in ["inner_a", "inner_b", "outer", "shared_counts", "jump"] {
        assert!(src.contains(&format!("pub {m}: &'a bpfkit::Map,")), "{m}");
    }
    assert!(src.contains("pub tail_second: &'a bpfkit::Program,"));
}

#[test]
fn plain_round_trips_arrays_and_numbers() {
    let v: [u32; 3] = [1, 0xdead_beef, 7];
    let b = v.to_bytes();
    assert_eq!(b.len(), 12);
    assert_eq!(<[u32; 3]>::from_bytes(&b), Some(v));
    assert_eq!(
        <[u32; 3]>::from_bytes(&b[..11]),
        None,
        "short input is refused"
    );
}

#[test]
fn inline_embedding_and_bad_objects() {
    let path = fixture("obj_globals.bpf.o");
    let bytes = std::fs::read(&path).unwrap();
    let opts = SkeletonOptions {
        name: "g".into(),
        embed: Embed::Inline,
    };
    let src = generate(&bytes, "obj_globals.bpf.o", &opts).unwrap();
    assert!(src.contains("pub static OBJECT: &[u8] = b\"\\x7f\\x45\\x4c\\x46"));
    let err = generate(b"\x7fELF\x02\x01", "x.bpf.o", &opts)
        .unwrap_err()
        .to_string();
    assert!(!err.is_empty());
    assert!(generate(&[0u8; 3], "x.bpf.o", &opts).is_err());
}

#[test]
fn skeletons_of_libbpf_tools_objects() {
    for tool in ["execsnoop", "opensnoop", "runqlat", "biolatency", "tcplife"] {
        let bin = std::fs::read(format!("/usr/sbin/{tool}")).unwrap();
        let objects = bpfkit_elf::extract_embedded_objects(&bin);
        let opts = SkeletonOptions {
            name: tool.into(),
            embed: Embed::Inline,
        };
        let src = generate(objects[0], &format!("{tool}.bpf.o"), &opts)
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert!(
            src.contains("pub struct Rodata {"),
            "{tool}: .rodata struct"
        );
        assert!(src.contains("pub rodata: &'a bpfkit::Map,"), "{tool}");
    }
    // runqlat's .rodata holds its filters, typed from BTF.
    let bin = std::fs::read("/usr/sbin/runqlat").unwrap();
    let objects = bpfkit_elf::extract_embedded_objects(&bin);
    let opts = SkeletonOptions {
        name: "runqlat".into(),
        embed: Embed::Inline,
    };
    let src = generate(objects[0], "runqlat.bpf.o", &opts).unwrap();
    assert!(src.contains("pub targ_tgid: i32,"), "{src}");
}
