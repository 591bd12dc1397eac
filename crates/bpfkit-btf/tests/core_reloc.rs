//! CO-RE relocations computed against BTF built here, against vmlinux, and on a clang object.

mod common;

use bpfkit_btf::*;

fn member<'a>(name: &'a str, type_id: u32, bit_offset: u32, bitfield_size: u8) -> NewMember<'a> {
    NewMember {
        name,
        type_id,
        bit_offset,
        bitfield_size,
    }
}

fn relo(type_id: u32, access: &str, kind: CoreReloKind) -> CoreRelo {
    CoreRelo {
        insn_off: 0,
        type_id,
        access_str_off: 0,
        access: access.into(),
        kind: kind as u32,
    }
}

/// Local: `struct task___v1 { int pid; long missing; }`, `enum e { A = 1, B = 2 }`.
fn local_btf() -> (Btf, u32, u32) {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED).unwrap();
    let long = b.add_int("long", 8, INT_SIGNED).unwrap();
    let task = b
        .add_struct(
            "task___v1",
            16,
            &[member("pid", int, 0, 0), member("missing", long, 64, 0)],
        )
        .unwrap();
    let e = b.add_enum("e", 4, false, &[("A", 1), ("B", 2)]).unwrap();
    (b.build().unwrap(), task, e)
}

/// Target: `struct task { char pad[8]; unsigned short flags:3; int pid; }`, `enum e { B = 7 }`.
fn target_btf(extra_flavour_offset: Option<u32>) -> Btf {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED).unwrap();
    let chr = b.add_int("char", 1, 0).unwrap();
    let ushort = b.add_int("unsigned short", 2, 0).unwrap();
    let arr = b.add_array(chr, int, 8).unwrap();
    b.add_struct(
        "task",
        16,
        &[
            member("pad", arr, 0, 0),
            member("flags", ushort, 64 + 5, 3),
            member("pid", int, 96, 0),
        ],
    )
    .unwrap();
    if let Some(off) = extra_flavour_offset {
        b.add_struct("task___other", 16, &[member("pid", int, off, 0)])
            .unwrap();
    }
    b.add_enum("e", 4, false, &[("B", 7)]).unwrap();
    b.build().unwrap()
}

fn value(r: Relocation) -> (u64, u64) {
    match r {
        Relocation::Value { local, target, .. } => (local, target),
        Relocation::Poison => panic!("unexpected poison"),
    }
}

#[test]
fn field_type_and_enum_relocations_against_built_btf() {
    let (local, task, e) = local_btf();
    let target = target_btf(None);
    let t = [&target];
    assert_eq!(
        value(
            relocate(
                &local,
                &relo(task, "0:0", CoreReloKind::FieldByteOffset),
                &t
            )
            .unwrap()
        ),
        (0, 12)
    );
    assert_eq!(
        value(relocate(&local, &relo(task, "0:0", CoreReloKind::FieldByteSize), &t).unwrap()),
        (4, 4)
    );
    assert_eq!(
        value(relocate(&local, &relo(task, "0:0", CoreReloKind::FieldSigned), &t).unwrap()),
        (1, 1)
    );
    assert_eq!(
        value(relocate(&local, &relo(task, "0:1", CoreReloKind::FieldExists), &t).unwrap()),
        (1, 0)
    );
    assert_eq!(
        relocate(
            &local,
            &relo(task, "0:1", CoreReloKind::FieldByteOffset),
            &t
        )
        .unwrap(),
        Relocation::Poison
    );
    assert_eq!(
        value(relocate(&local, &relo(task, "0", CoreReloKind::TypeExists), &t).unwrap()),
        (1, 1)
    );
    assert_eq!(
        value(relocate(&local, &relo(task, "0", CoreReloKind::TypeSize), &t).unwrap()),
        (16, 16)
    );
    assert_eq!(
        value(relocate(&local, &relo(task, "0", CoreReloKind::TypeIdLocal), &t).unwrap()),
        (task as u64, task as u64)
    );
    let target_id = target.find_by_name_kind("task", Kind::Struct).unwrap();
    assert_eq!(
        value(relocate(&local, &relo(task, "0", CoreReloKind::TypeIdTarget), &t).unwrap()),
        (task as u64, target_id as u64)
    );
    // The target lacks `missing`, so the types do not match member for member.
    assert_eq!(
        value(relocate(&local, &relo(task, "0", CoreReloKind::TypeMatches), &t).unwrap()),
        (1, 0)
    );
    assert_eq!(
        value(relocate(&local, &relo(e, "1", CoreReloKind::EnumvalValue), &t).unwrap()),
        (2, 7)
    );
    assert_eq!(
        value(relocate(&local, &relo(e, "1", CoreReloKind::EnumvalExists), &t).unwrap()),
        (1, 1)
    );
    assert_eq!(
        value(relocate(&local, &relo(e, "0", CoreReloKind::EnumvalExists), &t).unwrap()),
        (1, 0)
    );
    assert_eq!(
        relocate(&local, &relo(e, "0", CoreReloKind::EnumvalValue), &t).unwrap(),
        Relocation::Poison
    );
}

#[test]
fn bitfield_shifts_and_load_size() {
    // Local and target are the same struct: values are what BPF_CORE_READ_BITFIELD expects.
    let target = target_btf(None);
    let task = target.find_by_name_kind("task", Kind::Struct).unwrap();
    let t = [&target];
    let v = |k| value(relocate(&target, &relo(task, "0:1", k), &t).unwrap()).1;
    assert_eq!(v(CoreReloKind::FieldByteOffset), 8);
    assert_eq!(v(CoreReloKind::FieldByteSize), 2);
    assert_eq!(v(CoreReloKind::FieldSigned), 0);
    // bits 5..8 of a 16-bit load: shift left to drop the 64-8 high bits, right by 64-3.
    assert_eq!(v(CoreReloKind::FieldLshiftU64), 64 - 8);
    assert_eq!(v(CoreReloKind::FieldRshiftU64), 64 - 3);
}

#[test]
fn ambiguous_candidates_are_an_error_and_agreeing_ones_are_not() {
    let (local, task, _) = local_btf();
    let disagree = target_btf(Some(0));
    let err = relocate(
        &local,
        &relo(task, "0:0", CoreReloKind::FieldByteOffset),
        &[&disagree],
    )
    .unwrap_err();
    assert!(err.to_string().contains("ambiguous"), "{err}");
    let agree = target_btf(Some(96));
    assert_eq!(
        value(
            relocate(
                &local,
                &relo(task, "0:0", CoreReloKind::FieldByteOffset),
                &[&agree]
            )
            .unwrap()
        ),
        (0, 12)
    );
}

#[test]
fn patching_instructions() {
    // r1 = *(u32 *)(r2 + 0); r0 = 4 (alu64 mov imm); r3 = ld_imm64 16
    let mut insns = vec![
        0x61, 0x21, 0, 0, 0, 0, 0, 0, //
        0xb7, 0x00, 0, 0, 4, 0, 0, 0, //
        0x18, 0x03, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let v = |local, target, ls, ts| Relocation::Value {
        local,
        target,
        local_size: ls,
        target_size: ts,
        size_adjustable: true,
        matched: None,
    };
    patch_insn(&mut insns, 0, &v(0, 12, 4, 8)).unwrap();
    assert_eq!(
        &insns[0..4],
        &[0x79, 0x21, 12, 0],
        "offset 12 and a u64 load"
    );
    patch_insn(&mut insns, 1, &v(4, 0x1234, 0, 0)).unwrap();
    assert_eq!(&insns[12..16], &0x1234i32.to_le_bytes());
    patch_insn(&mut insns, 2, &v(16, 0x1_0000_0002, 0, 0)).unwrap();
    assert_eq!(&insns[20..24], &2u32.to_le_bytes());
    assert_eq!(&insns[28..32], &1u32.to_le_bytes());
    // A mismatch between the instruction and the local value is refused.
    assert!(patch_insn(&mut insns, 1, &v(4, 8, 0, 0)).is_err());
    assert!(patch_insn(&mut insns, 9, &v(4, 8, 0, 0)).is_err());
    patch_insn(&mut insns, 1, &Relocation::Poison).unwrap();
    assert_eq!(insns[8], 0x85);
    assert_eq!(&insns[12..16], &POISON_HELPER.to_le_bytes());
}

#[test]
fn vmlinux_task_struct_pid_offset() {
    let vmlinux = Btf::vmlinux().unwrap();
    let ts = vmlinux
        .find_by_name_kind("task_struct", Kind::Struct)
        .unwrap();
    let pid = vmlinux
        .type_by_id(ts)
        .unwrap()
        .members()
        .iter()
        .find(|m| m.name == "pid")
        .unwrap()
        .bit_offset
        / 8;
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED).unwrap();
    let local_ts = b
        .add_struct("task_struct___mine", 4, &[member("pid", int, 0, 0)])
        .unwrap();
    let local = b.build().unwrap();
    let r = relocate(
        &local,
        &relo(local_ts, "0:0", CoreReloKind::FieldByteOffset),
        &[&vmlinux],
    )
    .unwrap();
    assert_eq!(value(r), (0, pid as u64));
}

#[test]
fn clang_object_relocations_are_consistent_with_its_instructions() {
    let obj = common::fixture("btf_kinds.bpf.o");
    let btf = Btf::parse(&common::elf_section(&obj, ".BTF")).unwrap();
    let ext = BtfExt::parse(&common::elf_section(&obj, ".BTF.ext"), &btf).unwrap();
    let sec = "tracepoint/syscalls/sys_enter_getpid";
    let relos = ext.core_relos_of(sec);
    assert!(relos.len() >= 8, "only {} relocations", relos.len());
    assert!(!ext.func_info_of(sec).is_empty());
    let li = ext.line_info_of(sec);
    assert!(li
        .iter()
        .any(|l| l.file_name(&btf).unwrap().ends_with("btf_kinds.bpf.c") && l.line > 0));
    let text = common::elf_section(&obj, sec);
    let vmlinux = Btf::vmlinux().unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    for r in relos {
        kinds.insert(r.kind);
        // Against its own BTF, every relocation is the identity, and the instruction holds it.
        let own = relocate(&btf, r, &[&btf]).unwrap();
        let Relocation::Value { local, target, .. } = own.clone() else {
            panic!("{r:?} poisoned against itself")
        };
        assert_eq!(local, target, "{r:?}");
        let mut copy = text.clone();
        patch_insn(&mut copy, (r.insn_off / 8) as usize, &own).unwrap();
        assert_eq!(copy, text, "{r:?}");
        // Against vmlinux, `task_struct___v1.pid` finds task_struct.pid; the missing field and
        // the local-only enum do not exist there.
        let k = relocate(&btf, r, &[&vmlinux]).unwrap();
        let mut copy = text.clone();
        patch_insn(&mut copy, (r.insn_off / 8) as usize, &k).unwrap();
    }
    assert!(kinds.len() >= 6, "relocation kinds covered: {kinds:?}");
}

#[test]
fn sanitize_rewrites_newer_kinds() {
    let obj = common::fixture("btf_kinds.bpf.o");
    let btf = Btf::parse(&common::elf_section(&obj, ".BTF")).unwrap();
    let old = btf.sanitize(&Features::for_kernel(4, 18)).unwrap();
    assert!(old.len() >= btf.len());
    for id in 1..=btf.len() {
        let k = old.kind_of(id).unwrap();
        assert!(
            !matches!(
                k,
                Kind::Func
                    | Kind::FuncProto
                    | Kind::Var
                    | Kind::Datasec
                    | Kind::Float
                    | Kind::DeclTag
                    | Kind::TypeTag
                    | Kind::Enum64
            ),
            "[{id}] is still {k}"
        );
        assert!(
            !old.name_of(id).unwrap().contains('.'),
            "[{id}] {}",
            old.name_of(id).unwrap()
        );
    }
    // 5.2 has FUNC and DATASEC but only static functions and no DECL_TAG.
    let mid = btf.sanitize(&Features::for_kernel(5, 2)).unwrap();
    let mut funcs = 0;
    for id in 1..=btf.len() {
        let t = mid.type_by_id(id).unwrap();
        assert_ne!(t.kind, Kind::DeclTag);
        if let Detail::Func { linkage, .. } = t.detail {
            assert_eq!(linkage, FuncLinkage::Static);
            funcs += 1;
        }
    }
    assert!(funcs >= 2);
    let same = btf.sanitize(&Features::all()).unwrap();
    assert_eq!(same.type_section(), btf.type_section());
}

#[test]
fn builder_round_trip_and_edits() {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED).unwrap();
    let var = b.add_var("counter", int, VarLinkage::Global).unwrap();
    let sec = b
        .add_datasec(
            ".bss",
            0,
            &[VarSecinfo {
                type_id: var,
                offset: 0,
                size: 0,
            }],
        )
        .unwrap();
    let big = b.add_enum("big", 8, false, &[("HUGE", 1 << 40)]).unwrap();
    let proto = b.add_func_proto(int, &[("x", int), ("", 0)]).unwrap();
    let f = b.add_func("f", proto, FuncLinkage::Global).unwrap();
    b.set_datasec(
        sec,
        4,
        &[VarSecinfo {
            type_id: var,
            offset: 0,
            size: 4,
        }],
    )
    .unwrap();
    assert!(b.set_datasec(int, 4, &[]).is_err());
    let btf = b.build().unwrap();
    let t = btf.type_by_id(sec).unwrap();
    assert_eq!(
        t.detail,
        Detail::Datasec {
            size: 4,
            vars: vec![VarSecinfo {
                type_id: var,
                offset: 0,
                size: 4
            }]
        }
    );
    let Detail::Enum(e) = btf.type_by_id(big).unwrap().detail else {
        panic!()
    };
    assert!(e.is64);
    assert_eq!(e.values[0].value, 1 << 40);
    let Detail::Func { linkage, .. } = btf.type_by_id(f).unwrap().detail else {
        panic!()
    };
    assert_eq!(linkage, FuncLinkage::Global);
    let again = BtfBuilder::from_btf(&btf).unwrap().to_bytes();
    assert_eq!(again, btf.as_bytes());
    let mut raw = Vec::new();
    btf.dump_raw(&mut raw).unwrap();
    let raw = String::from_utf8(raw).unwrap();
    assert!(
        raw.contains(
            "[4] ENUM64 'big' encoding=UNSIGNED size=8 vlen=1\n\t'HUGE' val=1099511627776ULL"
        ),
        "{raw}"
    );
}

/// Field sizes past 32 bits (found by fuzzing) give values or errors, not overflows.
#[test]
fn huge_fields_do_not_overflow() {
    let mut b = BtfBuilder::new();
    let chr = b.add_int("char", 1, 0).unwrap();
    let int = b.add_int("int", 4, INT_SIGNED).unwrap();
    let big = b.add_array(chr, int, 0x4000_0000).unwrap();
    let huge = b.add_array(big, int, 0xffff_ffff).unwrap();
    let s = b
        .add_struct(
            "s",
            u32::MAX,
            &[
                member("big", big, 0, 0),
                member("huge", huge, 0, 0),
                member("bf", int, 0xff_fff0, 31),
            ],
        )
        .unwrap();
    let btf = b.build().unwrap();
    for k in 0..=5 {
        let kind = CoreReloKind::from_u32(k).unwrap();
        for access in ["0:0", "0:1", "0:2", "4294967295:1"] {
            let _ = relocate(&btf, &relo(s, access, kind), &[&btf]);
        }
    }
    let r = relocate(&btf, &relo(s, "0:0", CoreReloKind::FieldByteSize), &[&btf]).unwrap();
    assert_eq!(value(r), (0x4000_0000, 0x4000_0000));
    assert!(relocate(&btf, &relo(s, "0:0", CoreReloKind::FieldLshiftU64), &[&btf]).is_err());
    let mut out = Vec::new();
    let _ = btf.dump_c(&mut out);
}
