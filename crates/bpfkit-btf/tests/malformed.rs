//! Malformed BTF and BTF.ext give errors, never panics or endless loops.

mod common;

use bpfkit_btf::*;

fn header(type_len: u32, str_len: u32) -> Vec<u8> {
    let mut h = vec![0x9f, 0xeb, 1, 0];
    for w in [24u32, 0, type_len, type_len, str_len] {
        h.extend_from_slice(&w.to_le_bytes());
    }
    h
}

fn btf_from(types: &[u32], strings: &[u8]) -> Vec<u8> {
    let mut b = header(types.len() as u32 * 4, strings.len() as u32);
    for w in types {
        b.extend_from_slice(&w.to_le_bytes());
    }
    b.extend_from_slice(strings);
    b
}

const fn info(kind: u32, vlen: u32) -> u32 {
    (kind << 24) | vlen
}

#[test]
fn bad_headers() {
    assert!(matches!(Btf::parse(b""), Err(Error::Truncated { .. })));
    assert!(matches!(
        Btf::parse(&[0x12, 0x34, 1, 0]),
        Err(Error::BadMagic { found: 0x3412, .. })
    ));
    let mut v = header(0, 1);
    v.push(0);
    v[2] = 2;
    assert!(
        matches!(Btf::parse(&v), Err(Error::BadHeader { .. })),
        "version 2"
    );
    let mut v = header(100, 1);
    v.push(0);
    let e = Btf::parse(&v).unwrap_err();
    assert!(e.to_string().contains("type section"), "{e}");
    let mut v = header(0, 1);
    v[4] = 8;
    v.push(0);
    assert!(
        matches!(Btf::parse(&v), Err(Error::BadHeader { .. })),
        "short hdr_len"
    );
    // String section without the leading empty string, or without a final NUL.
    assert!(Btf::parse(&btf_from(&[], b"a\0")).is_err());
    assert!(Btf::parse(&btf_from(&[], b"\0a")).is_err());
    assert!(Btf::parse(&btf_from(&[], b"\0")).unwrap().is_empty());
}

#[test]
fn bad_types() {
    // Unknown kind 25.
    let e = Btf::parse(&btf_from(&[0, info(25, 0), 0], b"\0")).unwrap_err();
    assert!(matches!(e, Error::BadType { id: 1, .. }), "{e}");
    // Name offset past the strings.
    let e = Btf::parse(&btf_from(&[99, info(8, 0), 0], b"\0")).unwrap_err();
    assert!(e.to_string().contains("name offset 99"), "{e}");
    // A struct claiming more members than the section holds.
    let e = Btf::parse(&btf_from(&[0, info(4, 5), 4, 0, 1, 0], b"\0")).unwrap_err();
    assert!(matches!(e, Error::Truncated { .. }), "{e}");
    // A member name out of range is found when the type is decoded.
    let btf = Btf::parse(&btf_from(&[0, info(4, 1), 4, 77, 0, 0], b"\0")).unwrap();
    assert!(matches!(
        btf.type_by_id(1),
        Err(Error::BadString { offset: 77, .. })
    ));
    assert!(btf.dump_raw(&mut Vec::new()).is_err());
    // Ids out of range.
    assert!(matches!(
        btf.type_by_id(2),
        Err(Error::TypeIdOutOfRange { id: 2, max: 1 })
    ));
    assert!(btf.name_of(u32::MAX).is_err());
}

#[test]
fn type_loops_are_errors() {
    // [1] typedef a -> [2], [2] typedef b -> [1], [3] struct s { [3] x; }, [4] array of [4],
    // [5] ptr -> [6] func_proto(ret [5], param [5]), [7] const -> [7]
    let types = [
        1,
        info(8, 0),
        2,
        3,
        info(8, 0),
        1,
        5,
        info(4, 1),
        4,
        7,
        3,
        0,
        0,
        info(3, 0),
        0,
        4,
        1,
        2,
        0,
        info(2, 0),
        6,
        0,
        info(13, 1),
        5,
        0,
        5,
        0,
        info(10, 0),
        7,
    ];
    let btf = Btf::parse(&btf_from(&types, b"\0a\0b\0s\0x\0")).unwrap();
    assert!(matches!(
        btf.resolve_type(1),
        Err(Error::TypeLoop { id: 1 })
    ));
    assert!(matches!(btf.resolve_type(7), Err(Error::TypeLoop { .. })));
    assert!(btf.type_size(4).is_err());
    assert!(btf.type_size(1).is_err());
    let mut raw = Vec::new();
    btf.dump_raw(&mut raw).unwrap();
    assert_eq!(String::from_utf8(raw).unwrap().lines().count(), 9);
    // The C dump stops with an error instead of recursing forever.
    assert!(btf.dump_c(&mut Vec::new()).is_err());
}

#[test]
fn bad_ext() {
    let btf = Btf::parse(&btf_from(&[], b"\0sec\0")).unwrap();
    assert!(matches!(
        BtfExt::parse(b"\x00\x00\x01\x00", &btf),
        Err(Error::Truncated { .. })
    ));
    let mut ext = vec![0x9f, 0xeb, 1, 0];
    for w in [32u32, 0, 12, 12, 0, 24, 0] {
        ext.extend_from_slice(&w.to_le_bytes());
    }
    // func_info: record size 8, section "sec" claiming 1000 records.
    for w in [8u32, 1, 1000] {
        ext.extend_from_slice(&w.to_le_bytes());
    }
    let e = BtfExt::parse(&ext, &btf).unwrap_err();
    assert!(e.to_string().contains("1000 records"), "{e}");
    // Record size below the minimum.
    ext[32..36].copy_from_slice(&4u32.to_le_bytes());
    assert!(BtfExt::parse(&ext, &btf).is_err());
    // Section name offset out of range.
    ext[32..36].copy_from_slice(&8u32.to_le_bytes());
    ext[36..40].copy_from_slice(&500u32.to_le_bytes());
    assert!(matches!(
        BtfExt::parse(&ext, &btf),
        Err(Error::BadString { offset: 500, .. })
    ));
}

/// Every single-byte corruption of a real object's BTF either parses or errors, and whatever
/// parses can be dumped (or refused) without a panic.
#[test]
fn corrupted_object_btf_never_panics() {
    let obj = common::fixture("btf_kinds.bpf.o");
    let good = common::elf_section(&obj, ".BTF");
    let ext = common::elf_section(&obj, ".BTF.ext");
    let base = Btf::parse(&good).unwrap();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut parsed = 0;
    for _ in 0..4000 {
        let mut b = good.clone();
        for _ in 0..1 + next() % 3 {
            let at = (next() % b.len() as u64) as usize;
            b[at] = next() as u8;
        }
        if let Ok(btf) = Btf::parse(&b) {
            parsed += 1;
            let _ = btf.dump_raw(&mut std::io::sink());
            let _ = btf.dump_c(&mut std::io::sink());
            for id in 1..=btf.len() {
                let _ = btf.type_size(id);
                let _ = btf.resolve_type(id);
            }
            let _ = btf.sanitize(&Features::for_kernel(4, 18));
            let _ = BtfExt::parse(&ext, &btf);
        }
        let mut e = ext.clone();
        let at = (next() % e.len() as u64) as usize;
        e[at] = next() as u8;
        let _ = BtfExt::parse(&e, &base);
    }
    assert!(parsed > 200, "only {parsed} corrupted inputs parsed");
}

/// Split BTF: ids continue after the base, string offsets past the base's strings are the
/// split's own, and lookups search the base first.
#[test]
fn split_btf_on_a_base() {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED).unwrap();
    b.add_struct(
        "shared",
        4,
        &[NewMember {
            name: "v",
            type_id: int,
            bit_offset: 0,
            bitfield_size: 0,
        }],
    )
    .unwrap();
    let base = b.build().unwrap();
    let base_strs = base.string_section().len() as u32;
    // [3] ptr -> [1]; [4] struct mod_only { int *p; } named at offset base_strs + 1.
    let strings = b"\0mod_only\0p\0";
    let types = [
        0,
        info(2, 0),
        1,
        base_strs + 1,
        info(4, 1),
        8,
        base_strs + 10,
        3,
        0,
    ];
    let split = Btf::parse_split(&btf_from(&types, strings), &base).unwrap();
    assert_eq!(split.start_id(), 3);
    assert_eq!(split.len(), 4);
    assert_eq!(split.find_by_name_kind("mod_only", Kind::Struct), Some(4));
    assert_eq!(split.find_by_name_kind("shared", Kind::Struct), Some(2));
    let t = split.type_by_id(4).unwrap();
    assert_eq!(t.members()[0].name, "p");
    assert_eq!(
        split.name_of(split.resolve_type(1).unwrap()).unwrap(),
        "int"
    );
    let mut raw = Vec::new();
    split.dump_raw(&mut raw).unwrap();
    assert_eq!(
        String::from_utf8(raw).unwrap(),
        "[3] PTR '(anon)' type_id=1\n[4] STRUCT 'mod_only' size=8 vlen=1\n\t'p' type_id=3 bits_offset=0\n"
    );
    let mut c = Vec::new();
    split.dump_c(&mut c).unwrap();
    let c = String::from_utf8(c).unwrap();
    assert!(c.contains("struct mod_only {\n\tint *p;\n};"), "{c}");
    assert!(
        !c.contains("struct shared"),
        "only what the split types need comes from the base:\n{c}"
    );
    // bpftool prints the same for the split file on its base.
    let dir = std::env::temp_dir().join(format!("bpfkit-btf-split-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("base"), base.as_bytes()).unwrap();
    std::fs::write(dir.join("split"), btf_from(&types, strings)).unwrap();
    let (b, sp) = (dir.join("base"), dir.join("split"));
    let peer = common::bpftool(&[
        "btf",
        "dump",
        "file",
        sp.to_str().unwrap(),
        "-B",
        b.to_str().unwrap(),
        "format",
        "raw",
    ]);
    let mut ours = Vec::new();
    split.dump_raw(&mut ours).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&peer)
    );
    std::fs::remove_dir_all(&dir).unwrap();
    // The same bytes from shared storage parse the same.
    let shared: SharedBytes = std::sync::Arc::new(btf_from(&types, strings));
    assert_eq!(Btf::from_shared_split(shared, &base).unwrap().len(), 4);
    // Without the base, the name offsets are out of range.
    assert!(Btf::parse(&btf_from(&types, strings)).is_err());
}
