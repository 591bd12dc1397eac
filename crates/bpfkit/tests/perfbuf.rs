//! Kernel tests of `PerfBuf`: samples sent by real BPF programs on chosen CPUs arrive, and
//! when the rings overflow the lost counts the kernel reports add up exactly.

mod common;

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use bpfkit::{
    Map, MapSpec, MapType, PerfBuf, PerfBufOptions, PerfEvent, Program, ProgramSpec, ProgramType,
    TestRun,
};
use bpfkit_insn::{helpers, AluOp, Builder, JmpOp, Reg, Size};

/// `BPF_F_TEST_RUN_ON_CPU`.
const RUN_ON_CPU: u32 = 1;

fn perf_map() -> Map {
    let cpus = bpfkit_sys::mmap::possible_cpus().expect("possible CPUs") as u32;
    Map::create(&MapSpec::new(MapType::PerfEventArray, 4, 4, cpus).name("pb_test"))
        .expect("create perf event array")
}

/// A raw tracepoint program that sends `count` samples of 8 bytes (0, 1, 2, … as u64) to the
/// current CPU's perf event, in a bounded loop.
fn sender(map: &Map, count: i32) -> Program {
    let mut b = Builder::new();
    b.mov64_reg(Reg::R6, Reg::R1)
        .mov64_imm(Reg::R7, 0)
        .label("again")
        .store_reg(Size::DW, Reg::R10, -8, Reg::R7)
        .mov64_reg(Reg::R1, Reg::R6)
        .ld_map_fd(Reg::R2, map.fd().as_raw_fd())
        // BPF_F_CURRENT_CPU, zero-extended: the upper 32 bits of the flags must stay clear.
        .mov32_imm(Reg::R3, -1)
        .mov64_reg(Reg::R4, Reg::R10)
        .alu64_imm(AluOp::Add, Reg::R4, -8)
        .mov64_imm(Reg::R5, 8)
        .call_helper(helpers::PERF_EVENT_OUTPUT)
        .alu64_imm(AluOp::Add, Reg::R7, 1)
        .jmp_imm(JmpOp::Lt, Reg::R7, count, "again")
        .mov64_imm(Reg::R0, 0)
        .exit();
    let insns = b.build().expect("assemble sender");
    Program::load(&ProgramSpec::new(
        "pb_send",
        ProgramType::RawTracepoint,
        &insns,
    ))
    .expect("load sender")
}

fn run_on(prog: &Program, cpu: usize) {
    prog.test_run(&TestRun {
        flags: RUN_ON_CPU,
        cpu: cpu as u32,
        ..Default::default()
    })
    .expect("test run on CPU");
}

fn seq(data: &[u8]) -> u64 {
    u64::from_ne_bytes(data[..8].try_into().expect("8-byte sample"))
}

#[test]
fn samples_arrive_per_cpu_in_order() {
    let map = perf_map();
    let prog = sender(&map, 100);
    let ids = (prog.id().expect("prog id"), map.id());
    let cpus = bpfkit_sys::mmap::online_cpus().expect("online CPUs");
    let mut pb = PerfBuf::new(map.fd(), &PerfBufOptions::default()).expect("PerfBuf::new");
    assert_eq!(pb.cpus(), cpus);

    for &cpu in &cpus {
        run_on(&prog, cpu);
    }
    let mut per_cpu: Vec<Vec<u64>> = vec![Vec::new(); cpus.iter().max().map_or(0, |m| m + 1)];
    let want = 100 * cpus.len();
    let mut got = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while got < want {
        pb.poll(Some(Duration::from_millis(100)), |ev| match ev {
            PerfEvent::Sample { cpu, data } => {
                // 8 bytes sent; the kernel pads the raw record to keep 8-byte alignment.
                assert_eq!(data.len(), 12);
                per_cpu[cpu].push(seq(data));
                got += 1;
            }
            PerfEvent::Lost { cpu, count } => panic!("lost {count} on CPU {cpu} with roomy rings"),
        })
        .expect("poll");
        assert!(
            Instant::now() < deadline,
            "only {got} of {want} samples arrived"
        );
    }
    for &cpu in &cpus {
        assert_eq!(per_cpu[cpu], (0..100).collect::<Vec<u64>>(), "CPU {cpu}");
        assert_eq!(pb.cpu_received(cpu), 100);
    }
    assert_eq!((pb.received(), pb.lost()), (want as u64, 0));

    drop(pb);
    drop(prog);
    drop(map);
    common::assert_gone(&[ids.0], &[ids.1], &[]);
}

#[test]
fn overflow_lost_count_is_produced_minus_received() {
    const BURST: u64 = 1000;
    let map = perf_map();
    let burst = sender(&map, BURST as i32);
    let one = sender(&map, 1);
    let ids = [burst.id().expect("id"), one.id().expect("id")];
    let map_id = map.id();
    let cpus = bpfkit_sys::mmap::online_cpus().expect("online CPUs");
    // One data page per CPU: 4096 / 24-byte records = about 170 samples before it is full.
    let opts = PerfBufOptions::default().pages_per_cpu(1);
    let mut pb = PerfBuf::new(map.fd(), &opts).expect("PerfBuf::new");
    assert_eq!(pb.ring_size(), bpfkit_sys::mmap::page_size());

    let mut lost_seen = 0u64;
    let mut lost_events = 0u64;
    let mut received = 0u64;
    let mut drain = |pb: &mut PerfBuf| {
        pb.consume(|ev| match ev {
            PerfEvent::Sample { .. } => received += 1,
            PerfEvent::Lost { count, .. } => {
                lost_seen += count;
                lost_events += 1;
            }
        })
        .expect("consume")
    };

    // Fill every ring far past its size without reading.
    for &cpu in &cpus {
        run_on(&burst, cpu);
    }
    drain(&mut pb);
    // The kernel writes the lost notice in front of the next sample that fits, so send one
    // more sample on each CPU to bring the counts out.
    for &cpu in &cpus {
        run_on(&one, cpu);
    }
    drain(&mut pb);

    let produced = (BURST + 1) * cpus.len() as u64;
    assert!(lost_seen > 0, "the rings did not overflow");
    assert!(
        lost_events >= cpus.len() as u64,
        "one lost notice per CPU at least"
    );
    assert_eq!(lost_seen, produced - received, "lost = produced - received");
    assert_eq!(pb.lost(), lost_seen);
    assert_eq!(pb.received(), received);
    for &cpu in &cpus {
        assert_eq!(
            pb.cpu_lost(cpu) + pb.cpu_received(cpu),
            BURST + 1,
            "CPU {cpu}"
        );
    }

    drop(pb);
    drop((burst, one, map));
    common::assert_gone(&ids, &[map_id], &[]);
}

#[test]
fn watermark_wakeup_and_bad_options() {
    let map = perf_map();
    let prog = sender(&map, 50);
    let ids = (prog.id().expect("id"), map.id());
    let opts = PerfBufOptions::default()
        .pages_per_cpu(4)
        .wakeup(bpfkit::Wakeup::Watermark(512));
    let mut pb = PerfBuf::new(map.fd(), &opts).expect("PerfBuf::new");
    let cpu = bpfkit_sys::mmap::online_cpus().expect("online")[0];
    // 50 samples of 24 bytes pass the 512-byte watermark, so the poll wakes up.
    run_on(&prog, cpu);
    let mut got = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while got < 50 {
        got += pb
            .poll(Some(Duration::from_millis(200)), |_| {})
            .expect("poll");
        assert!(Instant::now() < deadline, "only {got} of 50 samples");
    }
    assert_eq!(pb.cpu_received(cpu), 50);
    drop(pb);

    let err =
        PerfBuf::new(map.fd(), &PerfBufOptions::default().pages_per_cpu(3)).expect_err("3 pages");
    assert!(err.to_string().contains("power of two"), "{err}");
    let arr = Map::create(&MapSpec::new(MapType::Array, 4, 4, 1).name("pb_wrong")).expect("array");
    let err = PerfBuf::new(arr.fd(), &PerfBufOptions::default()).expect_err("array");
    assert!(err.to_string().contains("perf_event_array"), "{err}");
    let arr_id = arr.id();

    drop((prog, map, arr));
    common::assert_gone(&[ids.0], &[ids.1, arr_id], &[]);
}

#[test]
fn samples_wrapping_the_ring_end_arrive_intact() {
    let map = perf_map();
    let prog = sender(&map, 100);
    let ids = (prog.id().expect("id"), map.id());
    let cpu = bpfkit_sys::mmap::online_cpus().expect("online")[0];
    // One 4096-byte page per ring and 24-byte records: record 170 starts 16 bytes before the
    // end and its body wraps to the start, so it is handed out from the scratch copy.
    let opts = PerfBufOptions::default().pages_per_cpu(1).cpus(vec![cpu]);
    let mut pb = PerfBuf::new(map.fd(), &opts).expect("PerfBuf::new");
    let mut got = Vec::new();
    for _ in 0..3 {
        run_on(&prog, cpu);
        pb.consume(|ev| match ev {
            PerfEvent::Sample { data, .. } => got.push(seq(data)),
            PerfEvent::Lost { count, .. } => panic!("lost {count}"),
        })
        .expect("consume");
    }
    let want: Vec<u64> = (0..3).flat_map(|_| 0..100).collect();
    assert_eq!(got, want);
    assert_eq!(pb.received(), 300);
    drop(pb);
    drop((prog, map));
    common::assert_gone(&[ids.0], &[ids.1], &[]);
}
