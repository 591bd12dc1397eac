//! Program load, info, test_run, verifier rejection and pinning, on the real kernel.

mod common;

use std::os::fd::AsRawFd;

use bpfkit::{Error, Map, MapSpec, MapType, Program, ProgramSpec, ProgramType, TestRun};
use bpfkit_insn::{helpers, AluOp, Builder, JmpOp, Reg, Size};
use bpfkit_sys::obj::ObjKind;

fn ret_imm(v: i32) -> Vec<bpfkit_insn::Insn> {
    Builder::new()
        .mov64_imm(Reg::R0, v)
        .exit()
        .build()
        .expect("valid program")
}

#[test]
fn load_reports_id_name_tag_and_runs() {
    let insns = ret_imm(7);
    let prog = Program::load(&ProgramSpec::new(
        "ret_seven",
        ProgramType::SocketFilter,
        &insns,
    ))
    .expect("a two-instruction socket filter loads");
    let id = prog.id().unwrap();
    let info = prog.info().unwrap();
    assert_eq!(info.id, id);
    assert_eq!(info.name, "ret_seven");
    assert_eq!(info.program_type(), Some(ProgramType::SocketFilter));
    assert_eq!(info.tag_hex().len(), 16);
    assert_eq!(info.tag, prog.tag().unwrap());
    assert!(info.gpl_compatible);
    let xl = prog.xlated_insns().unwrap();
    assert_eq!(xl.len(), 2);
    assert_eq!(xl[0].imm, 7);

    let out = prog
        .test_run(&TestRun {
            data_in: &[0u8; 64],
            repeat: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(out.retval, 7);

    // Reopening by id gives the same program; both fds must go for the program to go.
    let again = Program::from_id(id).unwrap();
    assert_eq!(again.prog_type(), ProgramType::SocketFilter);
    assert_eq!(again.name(), "ret_seven");
    drop(prog);
    common::assert_alive(ObjKind::Prog, id);
    drop(again);
    common::assert_gone(&[id], &[], &[]);
}

#[test]
fn verifier_rejection_carries_the_log() {
    // Exits without setting R0: the verifier refuses with "R0 !read_ok".
    let insns = Builder::new().exit().build().unwrap();
    let err = Program::load(&ProgramSpec::new(
        "bad_exit",
        ProgramType::SocketFilter,
        &insns,
    ))
    .expect_err("the verifier must reject a program that never sets R0");
    match &err {
        Error::Verifier { name, log, source } => {
            assert_eq!(name, "bad_exit");
            assert!(log.contains("R0 !read_ok"), "log: {log}");
            assert_eq!(source.errno(), Some(libc::EACCES));
        }
        other => panic!("expected a verifier error, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("rejected by the verifier"), "{text}");
    assert!(
        text.contains("R0 !read_ok"),
        "the message holds the log: {text}"
    );
}

#[test]
fn verifier_log_grows_past_the_first_buffer() {
    // Level 2 logs every instruction's state: with ~4000 instructions the log is megabytes,
    // far past the first 64 KiB buffer, so loading succeeds only if the buffer grows.
    let mut b = Builder::new();
    b.mov64_imm(Reg::R0, 0);
    for i in 0..4000 {
        b.alu64_imm(AluOp::Add, Reg::R0, i % 7);
    }
    b.exit();
    let insns = b.build().unwrap();
    let prog =
        Program::load(&ProgramSpec::new("big_log", ProgramType::SocketFilter, &insns).log_level(2))
            .expect("a straight-line program loads with a full log");
    let log = prog.verifier_log();
    assert!(log.len() > 64 * 1024, "log is only {} bytes", log.len());
    assert!(
        log.contains("processed 4002 insns"),
        "log ends with the statistics: {}",
        &log[log.len().saturating_sub(300)..]
    );
    let id = prog.id().unwrap();
    drop(prog);
    common::assert_gone(&[id], &[], &[]);
}

#[test]
fn program_using_a_map_lists_it() {
    let map = Map::create(&MapSpec::new(MapType::Array, 4, 8, 1).name("cnt")).unwrap();
    let map_id = map.id();
    let mut b = Builder::new();
    b.store_imm(Size::W, Reg::R10, -4, 0)
        .mov64_reg(Reg::R2, Reg::R10)
        .alu64_imm(AluOp::Add, Reg::R2, -4)
        .ld_map_fd(Reg::R1, map.fd().as_raw_fd())
        .call_helper(helpers::MAP_LOOKUP_ELEM)
        .jmp_imm(JmpOp::Eq, Reg::R0, 0, "out")
        .mov64_imm(Reg::R1, 1)
        .atomic_add(Size::DW, Reg::R0, 0, Reg::R1)
        .label("out")
        .mov64_imm(Reg::R0, 0)
        .exit();
    let insns = b.build().unwrap();
    let prog = Program::load(&ProgramSpec::new(
        "count_runs",
        ProgramType::SocketFilter,
        &insns,
    ))
    .unwrap();
    assert_eq!(prog.info().unwrap().map_ids, vec![map_id]);
    prog.test_run(&TestRun {
        data_in: &[0u8; 64],
        repeat: 25,
        ..Default::default()
    })
    .unwrap();
    let v = map.lookup(&0u32.to_ne_bytes()).unwrap().unwrap();
    assert_eq!(u64::from_ne_bytes(v[..8].try_into().unwrap()), 25);
    let prog_id = prog.id().unwrap();
    drop(prog);
    drop(map);
    common::assert_gone(&[prog_id], &[map_id], &[]);
}

#[test]
fn pin_reopen_and_unpin_a_program() {
    let dir = common::PinDir::new("progpin");
    let insns = ret_imm(3);
    let prog = Program::load(&ProgramSpec::new(
        "pinned",
        ProgramType::SocketFilter,
        &insns,
    ))
    .unwrap();
    let id = prog.id().unwrap();
    let path = dir.join("prog");
    prog.pin(&path).unwrap();
    drop(prog);
    // The pin keeps it alive.
    common::assert_alive(ObjKind::Prog, id);
    let back = Program::from_pin(&path).unwrap();
    assert_eq!(back.id().unwrap(), id);
    assert_eq!(back.prog_type(), ProgramType::SocketFilter);
    // Pinning twice at one path is refused with a clear message.
    let twice = back.pin(&path).unwrap_err().to_string();
    assert!(twice.contains("exists already"), "{twice}");
    bpfkit::unpin(&path).unwrap();
    assert!(!path.exists());
    drop(back);
    common::assert_gone(&[id], &[], &[]);
}

#[test]
fn pin_paths_are_checked() {
    let dir = common::PinDir::new("badpin");
    let insns = ret_imm(0);
    let prog = Program::load(&ProgramSpec::new(
        "badpin",
        ProgramType::SocketFilter,
        &insns,
    ))
    .unwrap();
    let dotted = prog.pin(dir.join("a.b")).unwrap_err().to_string();
    assert!(
        dotted.contains("bpffs refuses names containing '.'"),
        "{dotted}"
    );
    let tmp = std::env::temp_dir().join(common::unique("notbpffs"));
    let outside = prog.pin(&tmp).unwrap_err().to_string();
    assert!(outside.contains("is not on a bpffs mount"), "{outside}");
    let missing = Program::from_pin(dir.join("nothing"))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("no program is pinned at"), "{missing}");
    let id = prog.id().unwrap();
    drop(prog);
    common::assert_gone(&[id], &[], &[]);
}

#[test]
fn introspection_lists_what_we_loaded() {
    let map = Map::create(&MapSpec::new(MapType::Array, 4, 8, 1).name("intro_map")).unwrap();
    let insns = ret_imm(0);
    let prog = Program::load(&ProgramSpec::new(
        "intro_rawtp",
        ProgramType::RawTracepoint,
        &insns,
    ))
    .unwrap();
    let link = prog.attach_raw_tracepoint("sys_exit").unwrap();
    let (prog_id, map_id, link_id) = (prog.id().unwrap(), map.id(), link.id().unwrap());

    let progs: Vec<_> = bpfkit::loaded_programs().collect::<Result<_, _>>().unwrap();
    let p = progs
        .iter()
        .find(|p| p.id == prog_id)
        .expect("our program is listed");
    assert_eq!(p.name, "intro_rawtp");
    assert_eq!(p.program_type(), Some(ProgramType::RawTracepoint));
    assert!(progs.windows(2).all(|w| w[0].id < w[1].id), "id order");

    let maps: Vec<_> = bpfkit::loaded_maps().collect::<Result<_, _>>().unwrap();
    let m = maps
        .iter()
        .find(|m| m.id == map_id)
        .expect("our map is listed");
    assert_eq!(m.name, "intro_map");

    let links: Vec<_> = bpfkit::loaded_links().collect::<Result<_, _>>().unwrap();
    let l = links
        .iter()
        .find(|l| l.id == link_id)
        .expect("our link is listed");
    assert_eq!(l.prog_id, prog_id);
    assert_eq!(l.link_type.name(), "raw_tracepoint");
    assert_eq!(l.name, "sys_exit");

    let btfs: Vec<_> = bpfkit::loaded_btfs().collect::<Result<_, _>>().unwrap();
    assert!(
        btfs.iter().any(|b| b.kernel_btf && b.name == "vmlinux"),
        "{btfs:?}"
    );

    drop(link);
    drop(prog);
    drop(map);
    common::assert_gone(&[prog_id], &[map_id], &[link_id]);
}

#[test]
fn run_time_stats_count_runs_while_enabled() {
    let insns = ret_imm(1);
    let prog = Program::load(&ProgramSpec::new(
        "stats",
        ProgramType::SocketFilter,
        &insns,
    ))
    .unwrap();
    let guard = bpfkit::enable_run_time_stats().unwrap();
    prog.test_run(&TestRun {
        data_in: &[0u8; 64],
        repeat: 40,
        ..Default::default()
    })
    .unwrap();
    let info = prog.info().unwrap();
    assert_eq!(info.run_cnt, 40);
    assert!(info.run_time_ns > 0);
    drop(guard);
    let id = prog.id().unwrap();
    drop(prog);
    common::assert_gone(&[id], &[], &[]);
}

#[test]
fn bpf_map_iterator_visits_every_map() {
    let maps: Vec<Map> = (0..3)
        .map(|i| {
            Map::create(&MapSpec::new(MapType::Array, 4, 8, 1).name(format!("iter{i}"))).unwrap()
        })
        .collect();
    // For each map: seq_write(meta->seq, "MAP!", 4).
    let mut b = Builder::new();
    b.load(Size::DW, Reg::R6, Reg::R1, 8)
        .jmp_imm(JmpOp::Eq, Reg::R6, 0, "out")
        .load(Size::DW, Reg::R7, Reg::R1, 0)
        .load(Size::DW, Reg::R1, Reg::R7, 0)
        .store_imm(Size::W, Reg::R10, -4, i32::from_ne_bytes(*b"MAP!"))
        .mov64_reg(Reg::R2, Reg::R10)
        .alu64_imm(AluOp::Add, Reg::R2, -4)
        .mov64_imm(Reg::R3, 4)
        .call_helper(helpers::SEQ_WRITE)
        .label("out")
        .mov64_imm(Reg::R0, 0)
        .exit();
    let insns = b.build().unwrap();
    let spec = ProgramSpec::new("iter_maps", ProgramType::Tracing, &insns)
        .for_iter("bpf_map")
        .unwrap();
    let prog = Program::load(&spec).unwrap();
    let link = prog.attach_iter().unwrap();
    let out = link.read_iter().unwrap();
    assert!(
        out.len() % 4 == 0 && out.chunks(4).all(|c| c == b"MAP!"),
        "{out:?}"
    );
    // Every map in the system is visited: at least ours (other tests may add or drop theirs).
    assert!(out.len() / 4 >= maps.len(), "{} records", out.len() / 4);
    let ids = (prog.id().unwrap(), link.id().unwrap());
    let map_ids: Vec<u32> = maps.iter().map(|m| m.id()).collect();
    drop(link);
    drop(prog);
    drop(maps);
    common::assert_gone(&[ids.0], &map_ids, &[ids.1]);
}
