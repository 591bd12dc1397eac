//! Attach kinds on the real kernel: tracepoint, raw_tracepoint, tp_btf, uprobe/uretprobe,
//! perf event samplers, kprobe and fentry (which this host lacks or refuses), link pinning.

mod common;

use std::io::Write;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::Duration;

use bpfkit::attach::kprobe::kprobes_available;
use bpfkit::attach::{
    PerfEventConfig, SampleRate, SoftwareEvent, TracingKind, UprobeOptions, UprobeTarget,
};
use bpfkit::{Error, Link, Map, MapSpec, MapType, Program, ProgramSpec, ProgramType};
use bpfkit_insn::{helpers, AluOp, Builder, Insn, JmpOp, Reg, Size};

/// A program that adds 1 to `counts[tgid]` when the current tgid is a key of the hash map.
fn count_by_tgid(counts: &Map) -> Vec<Insn> {
    let mut b = Builder::new();
    b.call_helper(helpers::GET_CURRENT_PID_TGID)
        .alu64_imm(AluOp::Rsh, Reg::R0, 32)
        .store_reg(Size::W, Reg::R10, -4, Reg::R0)
        .mov64_reg(Reg::R2, Reg::R10)
        .alu64_imm(AluOp::Add, Reg::R2, -4)
        .ld_map_fd(Reg::R1, counts.fd().as_raw_fd())
        .call_helper(helpers::MAP_LOOKUP_ELEM)
        .jmp_imm(JmpOp::Eq, Reg::R0, 0, "out")
        .mov64_imm(Reg::R1, 1)
        .atomic_add(Size::DW, Reg::R0, 0, Reg::R1)
        .label("out")
        .mov64_imm(Reg::R0, 0)
        .exit();
    b.build().expect("valid program")
}

/// A program that adds 1 to `counts[0]` when the current tgid is `tgid`.
fn count_own_process(counts: &Map, tgid: u32) -> Vec<Insn> {
    let mut b = Builder::new();
    b.call_helper(helpers::GET_CURRENT_PID_TGID)
        .alu64_imm(AluOp::Rsh, Reg::R0, 32)
        .jmp_imm(JmpOp::Ne, Reg::R0, tgid as i32, "out")
        .store_imm(Size::W, Reg::R10, -4, 0)
        .mov64_reg(Reg::R2, Reg::R10)
        .alu64_imm(AluOp::Add, Reg::R2, -4)
        .ld_map_fd(Reg::R1, counts.fd().as_raw_fd())
        .call_helper(helpers::MAP_LOOKUP_ELEM)
        .jmp_imm(JmpOp::Eq, Reg::R0, 0, "out")
        .mov64_imm(Reg::R1, 1)
        .atomic_add(Size::DW, Reg::R0, 0, Reg::R1)
        .label("out")
        .mov64_imm(Reg::R0, 0)
        .exit();
    b.build().expect("valid program")
}

fn u64_at(map: &Map, key: u32) -> u64 {
    let v = map
        .lookup(&key.to_ne_bytes())
        .unwrap()
        .expect("key present");
    u64::from_ne_bytes(v[..8].try_into().unwrap())
}

/// Runs the getpid_loop fixture: it waits until `ready` returns, then makes `n` getpid calls.
/// The counter for its tgid is registered in `counts` before it is released.
fn run_getpid_child(counts: &Map, n: u32) -> u32 {
    let mut child = Command::new(common::fixture("getpid_loop"))
        .arg(n.to_string())
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawning the getpid_loop fixture");
    let pid = child.id();
    counts
        .update(&pid.to_ne_bytes(), &0u64.to_ne_bytes(), 0)
        .unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "getpid_loop failed: {status}");
    pid
}

fn counts_map() -> Map {
    Map::create(&MapSpec::new(MapType::Hash, 4, 8, 64).name("counts")).unwrap()
}

fn counter_array() -> Map {
    Map::create(&MapSpec::new(MapType::Array, 4, 8, 4).name("counter")).unwrap()
}

#[test]
fn tracepoint_counts_a_childs_getpid_calls() {
    let counts = counts_map();
    let insns = count_by_tgid(&counts);
    let prog = Program::load(&ProgramSpec::new(
        "tp_getpid",
        ProgramType::Tracepoint,
        &insns,
    ))
    .unwrap();
    let link = prog
        .attach_tracepoint("syscalls", "sys_enter_getpid")
        .unwrap();
    assert!(link.perf_event_fd().is_some());
    let link_id = link.id().expect("6.18 has perf links");
    const N: u32 = 1234;
    let pid = run_getpid_child(&counts, N);
    assert_eq!(
        u64_at(&counts, pid),
        N as u64,
        "the child made exactly {N} getpid calls"
    );

    let ids = (prog.id().unwrap(), counts.id());
    drop(link);
    drop(prog);
    drop(counts);
    common::assert_gone(&[ids.0], &[ids.1], &[link_id]);
}

#[test]
fn tracepoint_errors_are_clear() {
    let insns = Builder::new().mov64_imm(Reg::R0, 0).exit().build().unwrap();
    let prog = Program::load(&ProgramSpec::new(
        "tp_none",
        ProgramType::Tracepoint,
        &insns,
    ))
    .unwrap();
    let err = prog
        .attach_tracepoint("syscalls", "no_such_event")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no such tracepoint"), "{err}");
    let sf = Program::load(&ProgramSpec::new("sf", ProgramType::SocketFilter, &insns)).unwrap();
    let err = sf
        .attach_tracepoint("syscalls", "sys_enter_getpid")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("has type socket_filter but tracepoint attachment needs tracepoint"),
        "{err}"
    );
    let ids = [prog.id().unwrap(), sf.id().unwrap()];
    drop(prog);
    drop(sf);
    common::assert_gone(&ids, &[], &[]);
}

#[test]
fn raw_tracepoint_fires() {
    let counter = counter_array();
    let insns = count_own_process(&counter, std::process::id());
    let prog = Program::load(&ProgramSpec::new(
        "rawtp_enter",
        ProgramType::RawTracepoint,
        &insns,
    ))
    .unwrap();
    let link = prog.attach_raw_tracepoint("sys_enter").unwrap();
    let info = link.info().unwrap();
    assert_eq!(info.link_type, bpfkit::LinkType::RawTracepoint);
    assert_eq!(info.name, "sys_enter");
    assert_eq!(info.prog_id, prog.id().unwrap());
    for _ in 0..100 {
        // SAFETY-free: getpid through libc, a syscall the tracepoint sees.
        std::hint::black_box(std::process::id());
        let _ = std::fs::metadata("/");
    }
    assert!(
        u64_at(&counter, 0) >= 100,
        "sys_enter fired for our syscalls"
    );
    let ids = (prog.id().unwrap(), counter.id(), info.id);
    drop(link);
    let before = u64_at(&counter, 0);
    let _ = std::fs::metadata("/");
    assert_eq!(u64_at(&counter, 0), before, "detached on drop");
    drop(prog);
    drop(counter);
    common::assert_gone(&[ids.0], &[ids.1], &[ids.2]);
}

#[test]
fn tp_btf_fires() {
    let counter = counter_array();
    let insns = count_own_process(&counter, std::process::id());
    let spec = ProgramSpec::new("tpbtf_enter", ProgramType::Tracing, &insns)
        .for_tp_btf("sys_enter")
        .unwrap();
    let prog = Program::load(&spec).unwrap();
    let link = prog.attach_btf_target().unwrap();
    for _ in 0..50 {
        let _ = std::fs::metadata("/");
    }
    assert!(u64_at(&counter, 0) >= 50);
    let info = link.info().unwrap();
    // The kernel models tp_btf attachments as raw tracepoint links.
    assert_eq!(info.link_type, bpfkit::LinkType::RawTracepoint);
    assert_eq!(info.name, "sys_enter");
    let ids = (prog.id().unwrap(), counter.id(), info.id);
    drop(link);
    drop(prog);
    drop(counter);
    common::assert_gone(&[ids.0], &[ids.1], &[ids.2]);
    let err = ProgramSpec::new("x", ProgramType::Tracing, &insns)
        .for_tp_btf("no_such_tp")
        .unwrap_err();
    assert!(err.to_string().contains("btf_trace_no_such_tp"), "{err}");
}

/// The function the uprobe tests probe, in this test binary.
#[no_mangle]
#[inline(never)]
pub extern "C" fn bpfkit_uprobe_target(x: u64) -> u64 {
    std::hint::black_box(x).wrapping_mul(3).wrapping_add(1)
}

/// Offsets in x86-64 `struct pt_regs`.
const PT_REGS_RDI: i16 = 14 * 8;
const PT_REGS_RAX: i16 = 10 * 8;

/// Stores the u64 at `ctx + ctx_off` into `slots[slot]`.
fn store_ctx_field(slots: &Map, ctx_off: i16, slot: i32) -> Vec<Insn> {
    let mut b = Builder::new();
    b.load(Size::DW, Reg::R6, Reg::R1, ctx_off)
        .store_imm(Size::W, Reg::R10, -4, slot)
        .mov64_reg(Reg::R2, Reg::R10)
        .alu64_imm(AluOp::Add, Reg::R2, -4)
        .ld_map_fd(Reg::R1, slots.fd().as_raw_fd())
        .call_helper(helpers::MAP_LOOKUP_ELEM)
        .jmp_imm(JmpOp::Eq, Reg::R0, 0, "out")
        .store_reg(Size::DW, Reg::R0, 0, Reg::R6)
        .label("out")
        .mov64_imm(Reg::R0, 0)
        .exit();
    b.build().unwrap()
}

#[cfg(target_arch = "x86_64")]
#[test]
fn uprobe_sees_the_argument_and_uretprobe_the_return_value() {
    let slots = counter_array();
    let entry = store_ctx_field(&slots, PT_REGS_RDI, 0);
    let exit = store_ctx_field(&slots, PT_REGS_RAX, 1);
    let p_entry = Program::load(&ProgramSpec::new("up_arg", ProgramType::Kprobe, &entry)).unwrap();
    let p_exit = Program::load(&ProgramSpec::new("up_ret", ProgramType::Kprobe, &exit)).unwrap();
    let exe = std::env::current_exe().unwrap();
    let me = Some(std::process::id() as i32);
    let l_entry = p_entry
        .attach_uprobe(
            &exe,
            UprobeTarget::Symbol("bpfkit_uprobe_target"),
            &UprobeOptions {
                pid: me,
                ..Default::default()
            },
        )
        .unwrap();
    let l_exit = p_exit
        .attach_uprobe(
            &exe,
            UprobeTarget::Symbol("bpfkit_uprobe_target"),
            &UprobeOptions {
                pid: me,
                retprobe: true,
                ..Default::default()
            },
        )
        .unwrap();
    let r = bpfkit_uprobe_target(std::hint::black_box(424242));
    assert_eq!(r, 424242 * 3 + 1);
    assert_eq!(
        u64_at(&slots, 0),
        424242,
        "uprobe read the argument from rdi"
    );
    assert_eq!(
        u64_at(&slots, 1),
        r,
        "uretprobe read the return value from rax"
    );
    let ids = [p_entry.id().unwrap(), p_exit.id().unwrap()];
    let link_ids = [l_entry.id().unwrap(), l_exit.id().unwrap()];
    drop((l_entry, l_exit));
    bpfkit_uprobe_target(7);
    assert_eq!(u64_at(&slots, 0), 424242, "detached on drop");
    let map_id = slots.id();
    drop((p_entry, p_exit, slots));
    common::assert_gone(&ids, &[map_id], &link_ids);
}

#[test]
fn uprobe_on_a_missing_symbol_names_it() {
    let insns = Builder::new().mov64_imm(Reg::R0, 0).exit().build().unwrap();
    let prog = Program::load(&ProgramSpec::new("up_none", ProgramType::Kprobe, &insns)).unwrap();
    let err = prog
        .attach_uprobe(
            "libc",
            UprobeTarget::Symbol("bpfkit_no_such_symbol"),
            &UprobeOptions::default(),
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("symbol `bpfkit_no_such_symbol` is not defined in") && err.contains("libc.so"),
        "{err}"
    );
    let id = prog.id().unwrap();
    drop(prog);
    common::assert_gone(&[id], &[], &[]);
}

#[test]
fn cpu_clock_sampler_fires_on_every_cpu() {
    let per_cpu =
        Map::create(&MapSpec::new(MapType::PercpuArray, 4, 8, 1).name("samples")).unwrap();
    let mut b = Builder::new();
    b.store_imm(Size::W, Reg::R10, -4, 0)
        .mov64_reg(Reg::R2, Reg::R10)
        .alu64_imm(AluOp::Add, Reg::R2, -4)
        .ld_map_fd(Reg::R1, per_cpu.fd().as_raw_fd())
        .call_helper(helpers::MAP_LOOKUP_ELEM)
        .jmp_imm(JmpOp::Eq, Reg::R0, 0, "out")
        .load(Size::DW, Reg::R1, Reg::R0, 0)
        .alu64_imm(AluOp::Add, Reg::R1, 1)
        .store_reg(Size::DW, Reg::R0, 0, Reg::R1)
        .label("out")
        .mov64_imm(Reg::R0, 0)
        .exit();
    let insns = b.build().unwrap();
    let prog = Program::load(&ProgramSpec::new(
        "cpu_clock",
        ProgramType::PerfEvent,
        &insns,
    ))
    .unwrap();
    // Every millisecond of CPU clock on each CPU, busy or idle.
    let links = prog
        .attach_perf_event(
            PerfEventConfig::Software(SoftwareEvent::CpuClock),
            SampleRate::Period(1_000_000),
        )
        .unwrap();
    let online = bpfkit_sys::mmap::online_cpus().unwrap();
    assert_eq!(links.len(), online.len());
    std::thread::sleep(Duration::from_millis(300));
    let values = per_cpu.lookup_percpu(&0u32.to_ne_bytes()).unwrap().unwrap();
    for cpu in &online {
        let v = u64::from_ne_bytes(values[*cpu][..8].try_into().unwrap());
        assert!(v > 0, "no cpu-clock sample on CPU {cpu}: {values:?}");
    }
    let link_ids: Vec<u32> = links.iter().map(|(_, l)| l.id().unwrap()).collect();
    let ids = (prog.id().unwrap(), per_cpu.id());
    drop(links);
    drop(prog);
    drop(per_cpu);
    common::assert_gone(&[ids.0], &[ids.1], &link_ids);
}

#[test]
fn hardware_events_fail_clearly_without_a_pmu() {
    let insns = Builder::new().mov64_imm(Reg::R0, 0).exit().build().unwrap();
    let prog = Program::load(&ProgramSpec::new("hw", ProgramType::PerfEvent, &insns)).unwrap();
    let has_pmu = std::path::Path::new("/sys/bus/event_source/devices/cpu").exists();
    let res = prog.attach_perf_event(
        PerfEventConfig::from_name("cycles").unwrap(),
        SampleRate::Frequency(99),
    );
    match res {
        Ok(links) => {
            assert!(has_pmu, "cycles attached although there is no cpu PMU");
            assert!(!links.is_empty());
        }
        Err(e) => {
            assert!(!has_pmu, "a machine with a cpu PMU refused cycles: {e}");
            let msg = e.to_string();
            assert!(
                msg.starts_with("this kernel lacks hardware perf events (cpu-cycles)"),
                "{msg}"
            );
            assert!(!msg.contains('\n'), "one line: {msg}");
        }
    }
    let id = prog.id().unwrap();
    drop(prog);
    common::assert_gone(&[id], &[], &[]);
}

#[test]
fn kprobe_counts_getpid_or_names_the_missing_feature() {
    let counts = counts_map();
    let insns = count_by_tgid(&counts);
    let prog = Program::load(&ProgramSpec::new("kp_getpid", ProgramType::Kprobe, &insns)).unwrap();
    let func = bpfkit::attach::kprobe::syscall_function("getpid");
    let res = prog.attach_kprobe(&func, 0, false);
    let mut link_ids = Vec::new();
    if kprobes_available() {
        let link = res.expect("this kernel has the kprobe PMU: the kprobe must attach");
        link_ids.extend(link.id().ok());
        const N: u32 = 321;
        let pid = run_getpid_child(&counts, N);
        assert_eq!(u64_at(&counts, pid), N as u64);
        drop(link);
    } else {
        let err = res.expect_err("no kprobe PMU: attaching must fail");
        eprintln!("kprobe unavailable on this kernel: {err}");
        assert!(matches!(err, Error::NotSupported { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "this kernel lacks kprobes (CONFIG_KPROBES is not set: no /sys/bus/event_source/devices/kprobe)"
        );
    }
    let ids = (prog.id().unwrap(), counts.id());
    drop(prog);
    drop(counts);
    common::assert_gone(&[ids.0], &[ids.1], &link_ids);
}

#[test]
fn fentry_counts_getpid_or_names_the_refusal() {
    let counts = counts_map();
    let insns = count_by_tgid(&counts);
    let func = bpfkit::attach::fentry::syscall_btf_function("getpid").unwrap();
    let spec = ProgramSpec::new("fe_getpid", ProgramType::Tracing, &insns)
        .for_tracing(TracingKind::Fentry, &func)
        .unwrap();
    let mut prog_ids = Vec::new();
    let mut link_ids = Vec::new();
    match Program::load(&spec) {
        Ok(prog) => {
            prog_ids.push(prog.id().unwrap());
            let link = prog.attach_tracing().unwrap();
            link_ids.push(link.id().unwrap());
            const N: u32 = 222;
            let pid = run_getpid_child(&counts, N);
            assert_eq!(u64_at(&counts, pid), N as u64);
        }
        Err(err) => {
            eprintln!("fentry refused on this kernel: {err}");
            assert!(matches!(err, Error::Refused { .. }), "{err:?}");
            assert_eq!(
                err.to_string(),
                "the kernel refused fentry/fexit programs (EPERM under kernel lockdown: /sys/kernel/security/lockdown)"
            );
        }
    }
    let map_id = counts.id();
    drop(counts);
    common::assert_gone(&prog_ids, &[map_id], &link_ids);
}

#[test]
fn pin_reopen_and_unpin_a_link() {
    let dir = common::PinDir::new("linkpin");
    let counter = counter_array();
    let insns = count_own_process(&counter, std::process::id());
    let prog = Program::load(&ProgramSpec::new(
        "pinned_rawtp",
        ProgramType::RawTracepoint,
        &insns,
    ))
    .unwrap();
    let link = prog.attach_raw_tracepoint("sys_enter").unwrap();
    let link_id = link.id().unwrap();
    let prog_id = prog.id().unwrap();
    let path = dir.join("link");
    link.pin(&path).unwrap();
    drop(link);
    drop(prog);
    // The pin keeps the attachment working.
    let before = u64_at(&counter, 0);
    let _ = std::fs::metadata("/");
    assert!(
        u64_at(&counter, 0) > before,
        "the pinned link still runs the program"
    );
    let back = Link::from_pin(&path).unwrap();
    assert_eq!(back.id().unwrap(), link_id);
    assert_eq!(back.info().unwrap().prog_id, prog_id);
    bpfkit::unpin(&path).unwrap();
    drop(back);
    let map_id = counter.id();
    common::assert_gone(&[prog_id], &[], &[link_id]);
    drop(counter);
    common::assert_gone(&[], &[map_id], &[]);
}

/// Two functions for the uprobe.multi test, matched by one pattern.
#[no_mangle]
#[inline(never)]
pub extern "C" fn bpfkit_multi_target_a(x: u64) -> u64 {
    std::hint::black_box(x) + 1
}

/// See [`bpfkit_multi_target_a`].
#[no_mangle]
#[inline(never)]
pub extern "C" fn bpfkit_multi_target_b(x: u64) -> u64 {
    std::hint::black_box(x) + 2
}

#[test]
fn uprobe_multi_attaches_by_pattern() {
    require_feature!(UprobeMulti);
    let counter = counter_array();
    let insns = count_own_process(&counter, std::process::id());
    let spec = ProgramSpec::new("upm_count", ProgramType::Kprobe, &insns)
        .expected_attach_type(bpfkit::AttachType::TraceUprobeMulti);
    let prog = Program::load(&spec).unwrap();
    let exe = std::env::current_exe().unwrap();
    let found = bpfkit::attach::uprobe::matching_symbols(&exe, "bpfkit_multi_target_*").unwrap();
    let names: Vec<&str> = found.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(names, ["bpfkit_multi_target_a", "bpfkit_multi_target_b"]);
    let opts = UprobeOptions {
        pid: Some(std::process::id() as i32),
        ..Default::default()
    };
    let link = prog
        .attach_uprobe_multi(&exe, "bpfkit_multi_target_*", &opts)
        .unwrap();
    for i in 0..5 {
        bpfkit_multi_target_a(i);
        bpfkit_multi_target_b(i);
        bpfkit_multi_target_b(i);
    }
    assert_eq!(u64_at(&counter, 0), 15, "5 calls of a and 10 of b");
    let info = link.info().unwrap();
    assert_eq!(info.link_type, bpfkit::LinkType::UprobeMulti);
    let ids = (prog.id().unwrap(), counter.id(), info.id);
    drop(link);
    drop(prog);
    drop(counter);
    common::assert_gone(&[ids.0], &[ids.1], &[ids.2]);
}

#[test]
fn kprobe_multi_attaches_by_pattern_or_names_the_missing_feature() {
    let counts = counts_map();
    let insns = count_by_tgid(&counts);
    let spec = ProgramSpec::new("kpm_getpid", ProgramType::Kprobe, &insns)
        .expected_attach_type(bpfkit::AttachType::TraceKprobeMulti);
    let prog = Program::load(&spec).unwrap();
    let func = bpfkit::attach::kprobe::syscall_function("getpid");
    let res = prog.attach_kprobe_multi(&func, false);
    let mut link_ids = Vec::new();
    // Kprobes alone are not enough: kprobe.multi needs CONFIG_FPROBE (Debian's 6.1 has
    // kprobes without it).
    if common::features::has(common::features::Feature::KprobeMulti) {
        let link = res.expect("this kernel has kprobe_multi links: kprobe.multi must attach");
        link_ids.extend(link.id().ok());
        const N: u32 = 77;
        let pid = run_getpid_child(&counts, N);
        assert_eq!(u64_at(&counts, pid), N as u64);
        drop(link);
    } else {
        let err = res.expect_err("no kprobe_multi links: kprobe.multi must fail");
        eprintln!("kprobe.multi unavailable on this kernel: {err}");
        assert!(matches!(err, Error::NotSupported { .. }), "{err:?}");
        assert!(!err.to_string().contains('\n'), "one line: {err}");
    }
    let ids = (prog.id().unwrap(), counts.id());
    drop(prog);
    drop(counts);
    common::assert_gone(&[ids.0], &[ids.1], &link_ids);
}

#[test]
fn tracepoint_format_fields_come_from_tracefs() {
    let fields =
        bpfkit::attach::tracepoint::tracepoint_fields("syscalls", "sys_enter_openat").unwrap();
    let nr = fields
        .iter()
        .find(|f| f.name == "__syscall_nr")
        .expect("__syscall_nr field");
    assert_eq!((nr.offset, nr.size, nr.signed), (8, 4, true));
    let filename = fields
        .iter()
        .find(|f| f.name == "filename")
        .expect("filename field");
    assert_eq!(filename.size, 8);
    assert!(fields.iter().any(|f| f.common && f.name == "common_pid"));
    let events = bpfkit_sys::tracefs::list_events().unwrap();
    assert!(events
        .iter()
        .any(|(c, n)| c == "syscalls" && n == "sys_enter_getpid"));
}
