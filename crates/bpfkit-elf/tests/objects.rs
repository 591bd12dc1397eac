//! Object model tests on C fixtures (tests/fixtures/elf_*.bpf.c, built by scripts/build-fixtures)
//! and on the BPF objects embedded in Debian's libbpf-tools.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use bpfkit_btf::{Detail, Kind};
use bpfkit_elf::*;
use bpfkit_insn::op;

fn fixtures_dir() -> PathBuf {
    match std::env::var_os("BPFKIT_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/fixtures"),
    }
}

fn fixture_bytes(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(format!("{name}.bpf.o"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "fixture {} is missing ({e}); run scripts/build-fixtures first",
            path.display()
        )
    })
}

fn fixture(name: &str) -> Object {
    Object::parse(name, &fixture_bytes(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every DATASEC of the model's BTF but `.ksyms` has its real size and entries in increasing,
/// non-overlapping offset order inside it, as the kernel checks on BTF load.
fn assert_datasecs_valid(o: &Object, what: &str) {
    let btf = o.btf.as_ref().unwrap();
    for t in btf.types() {
        let t = t.unwrap();
        let Detail::Datasec { size, vars } = &t.detail else {
            continue;
        };
        if t.name == ".ksyms" {
            continue;
        }
        let mut end = 0;
        for v in vars {
            assert!(
                v.offset >= end,
                "{what}: DATASEC {} entries overlap or are unsorted",
                t.name
            );
            end = v.offset + v.size;
        }
        assert!(
            end <= *size,
            "{what}: DATASEC {} entries past its size {size}",
            t.name
        );
        if let Some(m) = o
            .maps
            .iter()
            .find(|m| m.data.as_ref().is_some_and(|d| d.section == t.name))
        {
            assert_eq!(*size, m.value_size, "{what}: DATASEC {}", t.name);
        }
    }
}

fn prog<'a>(o: &'a Object, name: &str) -> &'a Program {
    o.program(name)
        .unwrap_or_else(|| panic!("no program {name}"))
}

#[test]
fn program_kinds_come_from_section_names() {
    let o = fixture("elf_progs");
    assert_eq!(o.license.as_deref(), Some("Dual BSD/GPL"));
    assert_eq!(o.kernel_version, Some(0x060c00));
    let kind = |n: &str| prog(&o, n).kind.clone().unwrap();
    let k = kind("tp_execve");
    assert_eq!(
        (k.prog_type(), k.target.as_deref()),
        (ProgType::Tracepoint, Some("syscalls/sys_enter_execve"))
    );
    assert_eq!(kind("raw_switch").prog_type(), ProgType::RawTracepoint);
    assert_eq!(kind("kp_unlink").prog_type(), ProgType::Kprobe);
    assert_eq!(kind("xdp_pass").attach_type(), Some(AttachType::Xdp));
    let k = kind("xdp_devmap");
    assert_eq!(
        (k.attach_type(), k.prog_flags()),
        (Some(AttachType::XdpDevmap), sec::BPF_F_XDP_HAS_FRAGS)
    );
    assert_eq!(kind("tc_in").attach_type(), Some(AttachType::TcxIngress));
    assert_eq!(kind("sock_filter").prog_type(), ProgType::SocketFilter);
    assert_eq!(
        kind("cg_egress").attach_type(),
        Some(AttachType::CgroupInetEgress)
    );
    assert_eq!(kind("cg_connect4").prog_type(), ProgType::CgroupSockAddr);
    let k = kind("fentry_unlink");
    assert_eq!(
        (k.prog_type(), k.attach_type()),
        (ProgType::Tracing, Some(AttachType::TraceFentry))
    );
    let k = kind("up_main");
    assert!(k.sleepable());
    let t = sec::parse_uprobe_target(k.target.as_deref().unwrap()).unwrap();
    assert_eq!((t.binary, t.func), ("/bin/true", Some("main")));
    assert_eq!(kind("lsm_open").attach_type(), Some(AttachType::LsmMac));
    // Two programs share one section; each has its own instructions.
    assert_eq!(prog(&o, "exit_one").section, prog(&o, "exit_two").section);
    assert_ne!(
        prog(&o, "exit_one").section_insn_off,
        prog(&o, "exit_two").section_insn_off
    );

    let mut subs: Vec<_> = o
        .subprograms
        .iter()
        .map(|s| (s.name.as_str(), s.section.as_str(), s.global))
        .collect();
    subs.sort();
    assert_eq!(
        subs,
        [
            ("global_helper", ".text", true),
            ("loop_cb", ".text", false),
            ("same_section_leaf", "tp/sched/sched_process_exit", false),
            ("second_leaf", ".text", false),
            ("static_leaf", ".text", false),
        ]
    );
}

/// Names of the functions each linked call lands on, checked by following the patched offset.
fn linked_calls(o: &Object, name: &str) -> Vec<String> {
    let idx = o.programs.iter().position(|p| p.name == name).unwrap();
    let l = o.link_program(idx).unwrap();
    let mut total = 0;
    for (f, start) in &l.functions {
        let func = o.func(*f).unwrap();
        assert_eq!(*start, total, "functions are laid out back to back");
        total += func.insns.len();
    }
    assert_eq!(total, l.insns.len());
    let mut out = Vec::new();
    for (i, insn) in l.insns.iter().enumerate() {
        if insn.code == op::JMP | op::CALL && insn.src == op::PSEUDO_CALL {
            let target = (i as i64 + i64::from(insn.imm) + 1) as usize;
            let (f, _) = l
                .functions
                .iter()
                .find(|(_, s)| *s == target)
                .expect("call lands on a function start");
            out.push(o.func(*f).unwrap().name.clone());
        }
    }
    // Every function gets a func_info record at its first instruction.
    let fi: Vec<u32> = l.func_info.iter().map(|r| r.insn_off).collect();
    let starts: Vec<u32> = l.functions.iter().map(|(_, s)| *s as u32).collect();
    assert_eq!(fi, starts, "{name}: func_info");
    out
}

#[test]
fn subprogram_calls_are_linked_transitively() {
    let o = fixture("elf_progs");
    assert_eq!(
        linked_calls(&o, "tp_execve"),
        ["global_helper", "static_leaf"]
    );
    assert_eq!(
        linked_calls(&o, "raw_switch"),
        ["global_helper", "second_leaf", "static_leaf"]
    );
    assert_eq!(linked_calls(&o, "kp_unlink"), ["static_leaf"]);
    assert_eq!(
        linked_calls(&o, "exit_two"),
        ["second_leaf", "same_section_leaf"]
    );
    assert!(linked_calls(&o, "exit_one").is_empty());

    // The relocations of the appended functions come along, rebased.
    let idx = o
        .programs
        .iter()
        .position(|p| p.name == "tp_execve")
        .unwrap();
    let l = o.link_program(idx).unwrap();
    let bss = o.map_index("elf_prog.bss").unwrap();
    let helper_start = l.functions[1].1;
    assert!(l.relocations.iter().any(|r| r.insn > helper_start
        && r.target
            == RelocTarget::MapValue {
                map: bss,
                offset: 0
            }));
    assert!(l
        .relocations
        .iter()
        .all(|r| !matches!(r.target, RelocTarget::Call { .. })));
    // line_info of the subprograms is rebased into the linked program too.
    assert!(l
        .line_info
        .iter()
        .any(|r| r.insn_off as usize >= helper_start));
    assert!(o.link_program(99).is_err());

    // A callback's address: the ld_imm64 becomes BPF_PSEUDO_FUNC pointing at the appended copy.
    let idx = o
        .programs
        .iter()
        .position(|p| p.name == "loop_prog")
        .unwrap();
    assert!(matches!(
        o.programs[idx].relocations.as_slice(),
        [Relocation {
            insn: 1,
            target: RelocTarget::FuncAddr {
                func: FuncRef::Subprogram(_),
                insn_off: 0
            }
        }]
    ));
    let l = o.link_program(idx).unwrap();
    let names: Vec<_> = l
        .functions
        .iter()
        .map(|(f, _)| o.func(*f).unwrap().name.as_str())
        .collect();
    assert_eq!(names, ["loop_prog", "loop_cb"]);
    let ld = l.insns[1];
    assert_eq!((ld.code, ld.src), (op::LD_IMM64, op::PSEUDO_FUNC));
    assert_eq!(1 + ld.imm as usize + 1, l.functions[1].1);
    assert_eq!(l.insns[2].imm, 0);
}

#[test]
fn global_data_becomes_internal_maps() {
    let o = fixture("elf_progs");
    let names: Vec<_> = o.maps.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "counts",
            "elf_prog.data",
            "elf_prog.rodata",
            ".data.custom",
            ".rodata.custom",
            "elf_prog.bss"
        ]
    );
    let rodata = o.map("elf_prog.rodata").unwrap();
    assert_eq!(
        rodata.map_flags,
        maps::BPF_F_RDONLY_PROG | maps::BPF_F_MMAPABLE
    );
    assert_eq!(
        (
            rodata.map_type,
            rodata.key_size,
            rodata.value_size,
            rodata.max_entries
        ),
        (2, 4, 12, 1)
    );
    let d = rodata.data.as_ref().unwrap();
    assert_eq!(d.kind, DataKind::Rodata);
    assert_eq!(&d.bytes[..4], &42i32.to_le_bytes());
    assert_eq!(&d.bytes[4..12], b"fixture\0");
    let vars: Vec<_> = d
        .vars
        .iter()
        .map(|v| (v.name.as_str(), v.offset, v.size))
        .collect();
    assert_eq!(vars, [("rodata_filter", 0, 4), ("rodata_name", 4, 8)]);
    let data = o.map("elf_prog.data").unwrap();
    assert_eq!(data.map_flags, maps::BPF_F_MMAPABLE);
    assert_eq!(data.data.as_ref().unwrap().bytes, 7i32.to_le_bytes());
    let bss = o.map("elf_prog.bss").unwrap().data.as_ref().unwrap();
    assert_eq!(
        (bss.kind, bss.bytes.as_slice()),
        (DataKind::Bss, &[0u8; 8][..])
    );
    assert_eq!(
        o.map(".rodata.custom")
            .unwrap()
            .data
            .as_ref()
            .unwrap()
            .bytes,
        9i64.to_le_bytes()
    );

    // clang leaves DATASEC sizes and offsets zero; the model's BTF has them from the ELF.
    for name in ["elf_progs", "elf_maps", "elf_externs", "elf_naming"] {
        assert_datasecs_valid(&fixture(name), name);
    }
    let btf = o.btf.as_ref().unwrap();
    let id = btf.find_by_name_kind(".rodata", Kind::Datasec).unwrap();
    assert_eq!(rodata.btf_value_type_id, id);
    let Detail::Datasec { size, vars } = btf.type_by_id(id).unwrap().detail else {
        panic!()
    };
    assert_eq!(size, 12);
    let offs: Vec<_> = vars
        .iter()
        .map(|v| (btf.name_of(v.type_id).unwrap().to_string(), v.offset))
        .collect();
    assert_eq!(
        offs,
        [
            ("rodata_filter".to_string(), 0),
            ("rodata_name".to_string(), 4)
        ]
    );

    // Data references become map-value relocations with the variable's offset.
    let tc = prog(&o, "tc_in");
    let ro = o.map_index("elf_prog.rodata").unwrap();
    assert_eq!(
        tc.relocations,
        [Relocation {
            insn: 0,
            target: RelocTarget::MapValue { map: ro, offset: 4 }
        }]
    );
}

#[test]
fn internal_map_names_match_libbpf_loading_the_same_object() {
    // Let libbpf (through bpftool) load the fixture and name its maps, then compare.
    let path = fixtures_dir().join("elf_naming.bpf.o");
    let o = fixture("elf_naming");
    let ours: BTreeSet<String> = o.maps.iter().map(|m| m.name.clone()).collect();
    let pin = format!("/sys/fs/bpf/bpfkit_elf_naming_{}", std::process::id());
    // The pins keep program and maps alive while bpftool reads them; removed however the test ends.
    struct Unpin(String);
    impl Drop for Unpin {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _unpin = Unpin(pin.clone());
    let st = Command::new("bpftool")
        .args(["prog", "loadall"])
        .arg(&path)
        .arg(&pin)
        .status()
        .unwrap();
    assert!(st.success(), "bpftool prog loadall failed");
    let out = Command::new("bpftool")
        .args(["-j", "prog", "show", "pinned"])
        .arg(format!("{pin}/naming"))
        .output()
        .unwrap();
    let json = String::from_utf8_lossy(&out.stdout).to_string();
    let ids: Vec<u32> = json
        .split("\"map_ids\":[")
        .nth(1)
        .and_then(|s| s.split(']').next())
        .unwrap_or_else(|| panic!("no map_ids in {json}"))
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let mut theirs = BTreeSet::new();
    let mut flags = Vec::new();
    for id in ids {
        let out = Command::new("bpftool")
            .args(["-j", "map", "show", "id", &id.to_string()])
            .output()
            .unwrap();
        let j = String::from_utf8_lossy(&out.stdout).to_string();
        let name = j
            .split("\"name\":\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .to_string();
        let fl = j
            .split("\"flags\":")
            .nth(1)
            .and_then(|s| s.split([',', '}']).next())
            .unwrap()
            .trim()
            .to_string();
        flags.push((name.clone(), fl.parse::<u32>().unwrap()));
        theirs.insert(name);
    }
    assert_eq!(ours, theirs);
    for (name, fl) in flags {
        assert_eq!(o.map(&name).unwrap().map_flags, fl, "flags of {name}");
    }
}

#[test]
fn btf_maps_with_every_attribute() {
    let o = fixture("elf_maps");
    let m = o.map("pinned_hash").unwrap();
    assert_eq!(m.origin, MapOrigin::Btf);
    assert_eq!(
        (m.map_type, m.key_size, m.value_size, m.max_entries),
        (1, 8, 24, 1024)
    );
    assert_eq!((m.map_flags, m.pinning), (1, maps::LIBBPF_PIN_BY_NAME));
    let btf = o.btf.as_ref().unwrap();
    assert_eq!(btf.name_of(m.btf_key_type_id).unwrap(), "key_t");
    assert_eq!(btf.name_of(m.btf_value_type_id).unwrap(), "val_t");
    let m = o.map("sized_array").unwrap();
    assert_eq!(
        (
            m.map_type,
            m.key_size,
            m.value_size,
            m.max_entries,
            m.numa_node
        ),
        (6, 4, 24, 4, Some(0))
    );
    assert_eq!(m.btf_key_type_id, 0);
    let m = o.map("events").unwrap();
    assert_eq!((m.map_type, m.max_entries), (27, 256 * 1024));
    let m = o.map("bloom").unwrap();
    assert_eq!((m.map_type, m.value_size, m.map_extra), (30, 8, 3));

    let outer = o.map("outer").unwrap();
    assert_eq!(
        (outer.map_type, outer.key_size, outer.value_size),
        (maps::MAP_TYPE_ARRAY_OF_MAPS, 4, 4)
    );
    let inner = outer.inner.as_ref().unwrap();
    assert_eq!(
        (
            inner.map_type,
            inner.key_size,
            inner.value_size,
            inner.max_entries
        ),
        (2, 4, 4, 2)
    );
    assert_eq!(inner.origin, MapOrigin::InnerTemplate);
    assert_eq!(
        outer.init_slots,
        [
            SlotInit {
                slot: 0,
                target: SlotTarget::Map("inner_a".into())
            },
            SlotInit {
                slot: 2,
                target: SlotTarget::Map("inner_b".into())
            }
        ]
    );
    let oh = o.map("outer_hash").unwrap();
    let inner = oh.inner.as_ref().unwrap();
    assert_eq!(
        (oh.map_type, inner.value_size, inner.max_entries),
        (maps::MAP_TYPE_HASH_OF_MAPS, 8, 1)
    );
    assert!(oh.init_slots.is_empty());
    let jt = o.map("jump_table").unwrap();
    assert_eq!(
        (jt.map_type, jt.key_size, jt.value_size, jt.max_entries),
        (maps::MAP_TYPE_PROG_ARRAY, 4, 4, 3)
    );
    assert_eq!(
        jt.init_slots,
        [
            SlotInit {
                slot: 1,
                target: SlotTarget::Program("tail_a".into())
            },
            SlotInit {
                slot: 2,
                target: SlotTarget::Program("tail_b".into())
            }
        ]
    );
    // Map references in code point at the right definitions.
    let entry = prog(&o, "entry");
    let used: Vec<&str> = entry
        .relocations
        .iter()
        .filter_map(|r| match r.target {
            RelocTarget::Map { map } => Some(o.maps[map].name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(used, ["pinned_hash", "sized_array", "outer", "jump_table"]);
}

#[test]
fn legacy_maps_section() {
    let o = fixture("elf_legacy");
    let m: Vec<_> = o
        .maps
        .iter()
        .map(|m| {
            (
                m.name.as_str(),
                m.origin,
                m.map_type,
                m.key_size,
                m.value_size,
                m.max_entries,
                m.map_flags,
            )
        })
        .collect();
    assert_eq!(
        m,
        [
            ("old_hash", MapOrigin::Legacy, 1, 4, 8, 128, 0),
            (
                "old_array",
                MapOrigin::Legacy,
                2,
                4,
                4,
                16,
                maps::BPF_F_RDONLY_PROG
            )
        ]
    );
    let p = prog(&o, "legacy_prog");
    let targets: Vec<_> = p.relocations.iter().map(|r| r.target).collect();
    assert_eq!(
        targets,
        [RelocTarget::Map { map: 0 }, RelocTarget::Map { map: 1 }]
    );
}

#[test]
fn kconfig_and_ksym_externs() {
    let o = fixture("elf_externs");
    let kinds: Vec<(&str, bool, &ExternKind)> = o
        .externs
        .iter()
        .map(|e| (e.name.as_str(), e.weak, &e.kind))
        .collect();
    let find = |n: &str| {
        kinds
            .iter()
            .find(|k| k.0 == n)
            .unwrap_or_else(|| panic!("extern {n}"))
    };
    assert!(matches!(
        find("CONFIG_HZ"),
        (
            _,
            false,
            ExternKind::Kconfig {
                ty: KconfigType::Int {
                    size: 4,
                    signed: true
                },
                ..
            }
        )
    ));
    assert!(matches!(
        find("CONFIG_BPF_SYSCALL"),
        (
            _,
            false,
            ExternKind::Kconfig {
                ty: KconfigType::Bool,
                ..
            }
        )
    ));
    assert!(matches!(
        find("CONFIG_BPF_JIT"),
        (
            _,
            true,
            ExternKind::Kconfig {
                ty: KconfigType::Tristate,
                ..
            }
        )
    ));
    assert!(matches!(
        find("CONFIG_LOCALVERSION"),
        (
            _,
            true,
            ExternKind::Kconfig {
                ty: KconfigType::CharArray { len: 16 },
                ..
            }
        )
    ));
    assert!(matches!(
        find("LINUX_HAS_BPF_COOKIE"),
        (
            _,
            false,
            ExternKind::Kconfig {
                ty: KconfigType::Bool,
                ..
            }
        )
    ));
    let btf = o.btf.as_ref().unwrap();
    let ExternKind::Ksym { type_id: Some(t) } = find("runqueues").2 else {
        panic!("runqueues is typed")
    };
    assert_eq!(btf.name_of(btf.resolve_type(*t).unwrap()).unwrap(), "rq");
    assert!(matches!(
        find("bpf_prog_active"),
        (_, false, ExternKind::Ksym { type_id: None })
    ));
    assert!(matches!(
        find("bpfkit_missing_sym"),
        (_, true, ExternKind::Ksym { type_id: None })
    ));
    assert!(matches!(
        find("bpf_task_acquire"),
        (_, false, ExternKind::Kfunc { .. })
    ));
    assert!(matches!(
        find("bpf_task_release"),
        (_, false, ExternKind::Kfunc { .. })
    ));

    let p = prog(&o, "on_fork");
    let kc = o.map_index("elf_ext.kconfig").unwrap();
    let ext = |n: &str| o.externs.iter().position(|e| e.name == n).unwrap();
    let kfuncs: Vec<_> = p
        .relocations
        .iter()
        .filter(|r| matches!(r.target, RelocTarget::Kfunc { .. }))
        .map(|r| r.target)
        .collect();
    assert_eq!(
        kfuncs,
        [
            RelocTarget::Kfunc {
                ext: ext("bpf_task_acquire")
            },
            RelocTarget::Kfunc {
                ext: ext("bpf_task_release")
            }
        ]
    );
    for r in &p.relocations {
        if let RelocTarget::Kfunc { .. } = r.target {
            assert_eq!(p.insns[r.insn].code, op::JMP | op::CALL);
        }
    }
    assert!(p.relocations.iter().any(|r| r.target
        == RelocTarget::Ksym {
            ext: ext("runqueues")
        }));
    let ExternKind::Kconfig { offset: hz_off, .. } = o.externs[ext("CONFIG_HZ")].kind else {
        panic!()
    };
    assert!(p.relocations.iter().any(|r| r.target
        == RelocTarget::MapValue {
            map: kc,
            offset: hz_off
        }));

    // Values: from the config text, LINUX_* from the environment, weak missing → 0.
    let config = parse_kconfig(
        "CONFIG_HZ=250\nCONFIG_BPF_SYSCALL=y\nCONFIG_BPF_JIT=m\nCONFIG_LOCALVERSION=\"-bpfkit\"\n",
    )
    .unwrap();
    let env = KconfigEnv {
        config,
        kernel_version: 0x061200,
        has_bpf_cookie: true,
        has_syscall_wrapper: true,
    };
    let data = o.kconfig_data(&env).unwrap().unwrap();
    assert_eq!(data.len() as u32, o.maps[kc].value_size);
    let at = |n: &str| {
        let ExternKind::Kconfig { offset, size, .. } = o.externs[ext(n)].kind else {
            panic!()
        };
        data[offset as usize..(offset + size) as usize].to_vec()
    };
    assert_eq!(at("LINUX_KERNEL_VERSION"), 0x061200u32.to_le_bytes());
    assert_eq!(at("LINUX_HAS_BPF_COOKIE"), [1]);
    assert_eq!(at("CONFIG_HZ"), 250i32.to_le_bytes());
    assert_eq!(at("CONFIG_BPF_SYSCALL"), [1]);
    assert_eq!(at("CONFIG_BPF_JIT"), 2u32.to_le_bytes());
    assert_eq!(&at("CONFIG_LOCALVERSION")[..8], b"-bpfkit\0");
    assert_eq!(at("CONFIG_BPFKIT_NOT_THERE"), [0; 4]);
    // A missing non-weak value is an error naming it.
    let env = KconfigEnv {
        config: parse_kconfig("CONFIG_BPF_SYSCALL=y\n").unwrap(),
        ..env
    };
    let e = o.kconfig_data(&env).unwrap_err().to_string();
    assert!(e.contains("CONFIG_HZ"), "{e}");

    // The .kconfig DATASEC of the model's BTF matches the map layout.
    let id = btf.find_by_name_kind(".kconfig", Kind::Datasec).unwrap();
    let Detail::Datasec { size, vars } = btf.type_by_id(id).unwrap().detail else {
        panic!()
    };
    assert_eq!(size, o.maps[kc].value_size);
    for v in vars {
        let e = o.externs.iter().find(|e| e.btf_id == v.type_id).unwrap();
        let ExternKind::Kconfig { offset, .. } = e.kind else {
            panic!()
        };
        assert_eq!(v.offset, offset, "{}", e.name);
    }
}

#[test]
fn core_relocations_are_rebased_per_program() {
    let o = fixture("elf_externs");
    let p = prog(&o, "on_fork");
    let btf = o.btf.as_ref().unwrap();
    let ext = o.btf_ext.as_ref().unwrap();
    let in_file = ext.core_relos_of(&p.section);
    assert_eq!(p.core_relos.len(), in_file.len());
    let kinds: BTreeSet<u32> = p.core_relos.iter().map(|r| r.kind).collect();
    // FIELD_BYTE_OFFSET (BPF_CORE_READ), FIELD_EXISTS, TYPE_SIZE, ENUMVAL_VALUE.
    for k in [0, 2, 9, 11] {
        assert!(kinds.contains(&k), "kind {k} in {kinds:?}");
    }
    for r in &p.core_relos {
        assert!((r.insn_off as usize) < p.insns.len());
    }
    let exists = p.core_relos.iter().find(|r| r.kind == 2).unwrap();
    assert_eq!(btf.name_of(exists.type_id).unwrap(), "task_struct___v1");
    // The FIELD_EXISTS record sits on the instruction that loads its result (a mov of 1).
    let insn = p.insns[exists.insn_off as usize];
    assert_eq!((insn.code, insn.imm), (op::ALU64 | op::MOV | op::K, 1));
}

fn readelf(args: &[&str], path: &std::path::Path) -> String {
    let out = Command::new("llvm-readelf")
        .args(args)
        .arg(path)
        .output()
        .expect("llvm-readelf runs");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn libbpf_tools_objects_parse_as_llvm_readelf_sees_them() {
    let dir = std::env::temp_dir().join(format!("bpfkit_elf_tools_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for tool in [
        "execsnoop",
        "opensnoop",
        "exitsnoop",
        "syscount",
        "runqlat",
        "biolatency",
        "tcplife",
        "bashreadline",
    ] {
        let bin = std::fs::read(format!("/usr/sbin/{tool}"))
            .unwrap_or_else(|e| panic!("/usr/sbin/{tool}: {e}"));
        let objs = extract_embedded_objects(&bin);
        assert_eq!(objs.len(), 1, "{tool} embeds one BPF object");
        let path = dir.join(format!("{tool}.bpf.o"));
        std::fs::write(&path, objs[0]).unwrap();
        let o = Object::from_file(&path).unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert_eq!(o.name, tool);
        assert_datasecs_valid(&o, tool);

        // Sections: index → (name, flags) from llvm-readelf's table.
        let sections = readelf(&["-S", "-W"], &path);
        let mut secs = std::collections::HashMap::new();
        for line in sections.lines() {
            let Some(rest) = line.trim_start().strip_prefix('[') else {
                continue;
            };
            let Some((idx, rest)) = rest.split_once(']') else {
                continue;
            };
            let Ok(idx) = idx.trim().parse::<usize>() else {
                continue;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            if f.len() >= 7 {
                let size = usize::from_str_radix(f[4], 16).unwrap_or(0);
                secs.insert(idx, (f[0].to_string(), f[6].to_string(), size));
            }
        }
        let symbols = readelf(&["-s", "-W"], &path);
        let mut progs = BTreeSet::new();
        let mut maps = BTreeSet::new();
        for line in symbols.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 {
                continue;
            }
            let Ok(ndx) = f[6].parse::<usize>() else {
                continue;
            };
            let Some((sec, flags, _)) = secs.get(&ndx) else {
                continue;
            };
            match f[3] {
                "FUNC" if flags.contains('X') && sec != ".text" && f[4] == "GLOBAL" => {
                    progs.insert(f[7].to_string());
                }
                "OBJECT" if sec == ".maps" => {
                    maps.insert(f[7].to_string());
                }
                _ => {}
            }
        }
        for (sec, _, size) in secs.values() {
            let data = sec == ".data"
                || sec == ".rodata"
                || sec == ".bss"
                || sec.starts_with(".data.")
                || sec.starts_with(".rodata.");
            if data && *size > 0 {
                maps.insert(internal_map_name(tool, sec));
            }
        }
        let ours_progs: BTreeSet<String> = o.programs.iter().map(|p| p.name.clone()).collect();
        assert_eq!(ours_progs, progs, "{tool}: programs");
        let ours_maps: BTreeSet<String> = o
            .maps
            .iter()
            .filter(|m| m.data.as_ref().is_none_or(|d| d.kind != DataKind::Kconfig))
            .map(|m| m.name.clone())
            .collect();
        assert_eq!(ours_maps, maps, "{tool}: maps");
        assert_eq!(
            o.license.as_deref().map(|l| l.contains("GPL")),
            Some(true),
            "{tool}: license"
        );
        for (i, p) in o.programs.iter().enumerate() {
            assert!(p.kind.is_some());
            let l = o.link_program(i).unwrap_or_else(|e| panic!("{tool}: {e}"));
            assert!(
                !l.func_info.is_empty() && !l.line_info.is_empty(),
                "{tool}/{}: BTF.ext",
                p.name
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn runqlat_and_biolatency_details() {
    let bin = std::fs::read("/usr/sbin/biolatency").unwrap();
    let o = Object::parse("biolatency_bpf", extract_embedded_objects(&bin)[0]).unwrap();
    assert_eq!(o.externs.len(), 1);
    assert_eq!(o.externs[0].name, "LINUX_KERNEL_VERSION");
    assert!(o.map("biolate.kconfig").is_some());
    let k = o
        .program("block_rq_insert_btf")
        .unwrap()
        .kind
        .clone()
        .unwrap();
    assert_eq!(
        (k.prog_type(), k.attach_type(), k.target.as_deref()),
        (
            ProgType::Tracing,
            Some(AttachType::TraceRawTp),
            Some("block_rq_insert")
        )
    );
    // The tp_btf and raw_tp flavours both call the shared static handlers in .text.
    let i = o
        .programs
        .iter()
        .position(|p| p.name == "block_rq_insert")
        .unwrap();
    let l = o.link_program(i).unwrap();
    let names: Vec<_> = l
        .functions
        .iter()
        .map(|(f, _)| o.func(*f).unwrap().name.as_str())
        .collect();
    assert_eq!(names, ["block_rq_insert", "handle_block_rq_insert"]);
}
