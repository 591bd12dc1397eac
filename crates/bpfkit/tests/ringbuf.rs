//! Kernel tests of `RingBuf` and `UserRingBuf`: records produced by real BPF programs (run
//! through `BPF_PROG_TEST_RUN`) arrive complete, in order, and nothing is left behind.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bpfkit::{Map, MapSpec, MapType, Program, ProgramSpec, ProgramType, RingBuf, TestRun};
use bpfkit_insn::{helpers, AluOp, Builder, JmpOp, Reg, Size};

/// A packet big enough for a socket filter test run.
const PACKET: [u8; 64] = [0; 64];

fn counter_map(tag: &str) -> Map {
    Map::create(
        &MapSpec::new(MapType::Array, 4, 8, 1)
            .name(common::unique(tag).chars().take(15).collect::<String>()),
    )
    .expect("create counter array")
}

fn ring_map(size: u32) -> Map {
    Map::create(&MapSpec::new(MapType::Ringbuf, 0, 0, size).name("rb_test"))
        .expect("create ring buffer map")
}

fn read_counter(m: &Map) -> u64 {
    let v = m
        .lookup(&0u32.to_ne_bytes())
        .expect("lookup counter")
        .expect("counter slot");
    u64::from_ne_bytes(v[..8].try_into().expect("8-byte counter"))
}

/// A socket filter that sends the counter's value as an 8-byte record and increments the
/// counter only when the record was accepted, so a full ring delays a number but never skips
/// it: the numbers in the ring are exactly 0, 1, 2, … in order.
fn seq_producer(counter: &Map, ring: &Map) -> Program {
    let mut b = Builder::new();
    b.ld_map_value(Reg::R6, counter.fd_raw(), 0)
        .load(Size::DW, Reg::R7, Reg::R6, 0)
        .store_reg(Size::DW, Reg::R10, -8, Reg::R7)
        .ld_map_fd(Reg::R1, ring.fd_raw())
        .mov64_reg(Reg::R2, Reg::R10)
        .alu64_imm(AluOp::Add, Reg::R2, -8)
        .mov64_imm(Reg::R3, 8)
        .mov64_imm(Reg::R4, 0)
        .call_helper(helpers::RINGBUF_OUTPUT)
        .jmp_imm(JmpOp::Ne, Reg::R0, 0, "out")
        .alu64_imm(AluOp::Add, Reg::R7, 1)
        .store_reg(Size::DW, Reg::R6, 0, Reg::R7)
        .label("out")
        .mov64_imm(Reg::R0, 0)
        .exit();
    let insns = b.build().expect("assemble producer");
    Program::load(&ProgramSpec::new(
        "rb_seq",
        ProgramType::SocketFilter,
        &insns,
    ))
    .expect("load producer")
}

trait FdRaw {
    fn fd_raw(&self) -> i32;
}

impl FdRaw for Map {
    fn fd_raw(&self) -> i32 {
        std::os::fd::AsRawFd::as_raw_fd(&self.fd())
    }
}

fn run(prog: &Program, repeat: u32) {
    prog.test_run(&TestRun {
        data_in: &PACKET,
        repeat,
        ..Default::default()
    })
    .expect("test run");
}

#[test]
fn million_records_in_order_none_lost() {
    const WANT: u64 = 1_000_000;
    let counter = counter_map("rbcnt");
    // 256 KiB holds 16384 records of 16 bytes: the ring wraps about 60 times.
    let ring = ring_map(256 * 1024);
    let prog = seq_producer(&counter, &ring);
    let ids = (prog.id().expect("prog id"), counter.id(), ring.id());

    let mut rb = RingBuf::new(ring.fd()).expect("RingBuf::new");
    assert_eq!(rb.size(0), 256 * 1024);
    let done = AtomicBool::new(false);
    let mut next = 0u64;
    let mut bad: Option<String> = None;
    let produced = std::thread::scope(|s| {
        let producer = s.spawn(|| {
            let mut runs = 0u64;
            while read_counter(&counter) < WANT {
                run(&prog, 20_000);
                runs += 20_000;
            }
            done.store(true, Ordering::Release);
            runs
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let finished = done.load(Ordering::Acquire);
            rb.poll(Some(Duration::from_millis(20)), |rec| {
                if bad.is_none() {
                    match <[u8; 8]>::try_from(rec) {
                        Ok(b) if u64::from_ne_bytes(b) == next => {}
                        Ok(b) => {
                            bad = Some(format!("record {next} holds {}", u64::from_ne_bytes(b)))
                        }
                        Err(_) => {
                            bad = Some(format!("record {next} is {} bytes, not 8", rec.len()))
                        }
                    }
                }
                next += 1;
            })
            .expect("poll");
            if finished && rb.available(0) == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "consumer stuck at record {next}");
        }
        producer.join().expect("producer thread")
    });
    let total = read_counter(&counter);
    assert_eq!(bad, None);
    assert!(total >= WANT, "producer stopped at {total}");
    assert!(
        produced >= total,
        "{produced} runs cannot make {total} records"
    );
    assert_eq!(next, total, "records received");
    assert_eq!(rb.consumed(), total);
    assert_eq!(rb.ring_consumed(0), total);

    drop(rb);
    drop(prog);
    drop(counter);
    drop(ring);
    common::assert_gone(&[ids.0], &[ids.1, ids.2], &[]);
}

/// A socket filter that reserves a 16-byte record holding the counter, submits it when the
/// counter is even and discards it when odd, and always increments the counter.
fn discard_producer(counter: &Map, ring: &Map) -> Program {
    let mut b = Builder::new();
    b.ld_map_value(Reg::R6, counter.fd_raw(), 0)
        .load(Size::DW, Reg::R7, Reg::R6, 0)
        .alu64_imm(AluOp::Add, Reg::R7, 1)
        .store_reg(Size::DW, Reg::R6, 0, Reg::R7)
        .alu64_imm(AluOp::Sub, Reg::R7, 1)
        .ld_map_fd(Reg::R1, ring.fd_raw())
        .mov64_imm(Reg::R2, 12)
        .mov64_imm(Reg::R3, 0)
        .call_helper(helpers::RINGBUF_RESERVE)
        .jmp_imm(JmpOp::Eq, Reg::R0, 0, "out")
        .store_reg(Size::DW, Reg::R0, 0, Reg::R7)
        .store_imm(Size::W, Reg::R0, 8, 0x5eed)
        .mov64_reg(Reg::R1, Reg::R0)
        .mov64_imm(Reg::R2, 0)
        .mov64_reg(Reg::R8, Reg::R7)
        .alu64_imm(AluOp::And, Reg::R8, 1)
        .jmp_imm(JmpOp::Ne, Reg::R8, 0, "discard")
        .call_helper(helpers::RINGBUF_SUBMIT)
        .jmp("out")
        .label("discard")
        .call_helper(helpers::RINGBUF_DISCARD)
        .label("out")
        .mov64_imm(Reg::R0, 0)
        .exit();
    let insns = b.build().expect("assemble producer");
    Program::load(&ProgramSpec::new(
        "rb_discard",
        ProgramType::SocketFilter,
        &insns,
    ))
    .expect("load producer")
}

#[test]
fn discarded_records_are_skipped_and_odd_sizes_stay_aligned() {
    let counter = counter_map("rbdis");
    let ring = ring_map(64 * 1024);
    let prog = discard_producer(&counter, &ring);
    let ids = (prog.id().expect("prog id"), counter.id(), ring.id());
    let mut rb = RingBuf::new(ring.fd()).expect("RingBuf::new");

    // 12-byte records take 24 bytes each (8 header + 12 rounded up to 16): 1000 fit.
    run(&prog, 1000);
    let mut got = Vec::new();
    let n = rb
        .consume(|rec| {
            assert_eq!(rec.len(), 12);
            let seq = u64::from_ne_bytes(rec[..8].try_into().expect("8 bytes"));
            let tag = u32::from_ne_bytes(rec[8..12].try_into().expect("4 bytes"));
            assert_eq!(tag, 0x5eed);
            got.push(seq);
        })
        .expect("consume");
    assert_eq!(n, 500);
    assert_eq!(got, (0..1000).step_by(2).collect::<Vec<u64>>());
    assert_eq!(rb.available(0), 0, "discarded records are consumed too");
    assert_eq!(
        rb.consume(|_| panic!("ring should be empty"))
            .expect("consume"),
        0
    );

    // consume_ring_n stops after the limit and leaves the rest for later.
    run(&prog, 20);
    let mut first = Vec::new();
    let n = rb
        .consume_ring_n(0, 3, |r| {
            first.push(u64::from_ne_bytes(r[..8].try_into().expect("8 bytes")))
        })
        .expect("consume 3");
    assert_eq!((n, first), (3, vec![1000, 1002, 1004]));
    assert_eq!(rb.consume(|_| {}).expect("consume rest"), 7);
    assert_eq!(rb.consumed(), 510);

    drop(rb);
    drop(prog);
    drop(counter);
    drop(ring);
    common::assert_gone(&[ids.0], &[ids.1, ids.2], &[]);
}

#[test]
fn two_rings_in_one_epoll() {
    let c1 = counter_map("rbg1");
    let c2 = counter_map("rbg2");
    let r1 = ring_map(16 * 1024);
    let r2 = ring_map(32 * 1024);
    let p1 = seq_producer(&c1, &r1);
    let p2 = seq_producer(&c2, &r2);
    let ids = [p1.id().expect("id"), p2.id().expect("id")];
    let map_ids = [c1.id(), c2.id(), r1.id(), r2.id()];

    let mut rb = RingBuf::new(r1.fd()).expect("RingBuf::new");
    assert_eq!(rb.add(r2.fd()).expect("add"), 1);
    assert_eq!(rb.len(), 2);

    run(&p1, 100);
    run(&p2, 250);
    let mut per_ring = [Vec::new(), Vec::new()];
    let mut total = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while total < 350 {
        total += rb
            .poll_with_ring(Some(Duration::from_millis(100)), |ring, rec| {
                per_ring[ring].push(u64::from_ne_bytes(rec.try_into().expect("8 bytes")))
            })
            .expect("poll");
        assert!(
            Instant::now() < deadline,
            "only {total} of 350 records arrived"
        );
    }
    assert_eq!(per_ring[0], (0..100).collect::<Vec<u64>>());
    assert_eq!(per_ring[1], (0..250).collect::<Vec<u64>>());
    assert_eq!((rb.ring_consumed(0), rb.ring_consumed(1)), (100, 250));

    // A poll with nothing to read times out with no records.
    let t = Instant::now();
    assert_eq!(
        rb.poll(Some(Duration::from_millis(50)), |_| {})
            .expect("poll"),
        0
    );
    assert!(t.elapsed() >= Duration::from_millis(45));

    drop(rb);
    drop((p1, p2, c1, c2, r1, r2));
    common::assert_gone(&ids, &map_ids, &[]);
}

#[test]
fn wrong_map_type_is_refused() {
    let arr = counter_map("rbwrong");
    let err = RingBuf::new(arr.fd()).expect_err("an array is not a ring buffer");
    assert!(err.to_string().contains("ringbuf"), "{err}");
    let id = arr.id();
    drop(arr);
    common::assert_gone(&[], &[id], &[]);
}

/// A socket filter that drains the user ring buffer: its callback reads each record's first
/// 8 bytes with `bpf_dynptr_read` and adds them to slot 0 of `sums`; the program stores the
/// number of records drained in slot 1.
fn user_ring_drainer(sums: &Map, user_ring: &Map) -> Program {
    let mut b = Builder::new();
    let cb = b.new_label();
    b.ld_map_fd(Reg::R1, user_ring.fd_raw())
        .ld_func(Reg::R2, cb)
        .mov64_imm(Reg::R3, 0)
        .mov64_imm(Reg::R4, 0)
        .call_helper(helpers::USER_RINGBUF_DRAIN)
        .ld_map_value(Reg::R6, sums.fd_raw(), 8)
        .store_reg(Size::DW, Reg::R6, 0, Reg::R0)
        .mov64_imm(Reg::R0, 0)
        .exit()
        .bind(cb)
        .mov64_reg(Reg::R3, Reg::R1)
        .mov64_reg(Reg::R1, Reg::R10)
        .alu64_imm(AluOp::Add, Reg::R1, -8)
        .mov64_imm(Reg::R2, 8)
        .mov64_imm(Reg::R4, 0)
        .mov64_imm(Reg::R5, 0)
        .call_helper(helpers::DYNPTR_READ)
        .jmp_imm(JmpOp::Ne, Reg::R0, 0, "cb_out")
        .load(Size::DW, Reg::R1, Reg::R10, -8)
        .ld_map_value(Reg::R2, sums.fd_raw(), 0)
        .load(Size::DW, Reg::R3, Reg::R2, 0)
        .alu64_reg(AluOp::Add, Reg::R3, Reg::R1)
        .store_reg(Size::DW, Reg::R2, 0, Reg::R3)
        .label("cb_out")
        .mov64_imm(Reg::R0, 0)
        .exit();
    let cb = b.label_pos(cb).expect("cb label") as u32;
    let insns = b.build().expect("assemble drainer");
    // The kernel wants BTF func_info for programs with callbacks: one `int f(void)` prototype,
    // a static function for the main program and one for the callback.
    let btf = bpfkit_sys::btf::btf_load(&two_funcs_btf()).expect("load BTF");
    let mut func_info = Vec::new();
    for (insn_off, type_id) in [(0u32, 3u32), (cb, 4)] {
        func_info.extend_from_slice(&insn_off.to_ne_bytes());
        func_info.extend_from_slice(&type_id.to_ne_bytes());
    }
    let spec = ProgramSpec::new("urb_drain", ProgramType::SocketFilter, &insns).btf(
        std::os::fd::AsFd::as_fd(&btf),
        &func_info,
        8,
        &[],
        0,
    );
    Program::load(&spec).expect("load drainer")
}

/// BTF: [1] int, [2] int (void), [3] static func "main", [4] static func "cb".
fn two_funcs_btf() -> Vec<u8> {
    let strings: &[u8] = b"\0int\0main\0cb\0";
    let types: [[u32; 4]; 4] = [
        // INT "int": 4 bytes, signed, 32 bits.
        [1, 1 << 24, 4, (1 << 24) | 32],
        // FUNC_PROTO returning [1], no parameters (the fourth word is not part of it).
        [0, 13 << 24, 1, 0],
        // FUNC "main" of type [2], static linkage.
        [5, 12 << 24, 2, 0],
        // FUNC "cb" of type [2], static linkage.
        [10, 12 << 24, 2, 0],
    ];
    // Only INT carries a fourth word.
    let words: Vec<u32> = types
        .iter()
        .enumerate()
        .flat_map(|(i, t)| t[..if i == 0 { 4 } else { 3 }].to_vec())
        .collect();
    let mut out = Vec::new();
    out.extend_from_slice(&0xeb9fu16.to_ne_bytes());
    out.extend_from_slice(&[1, 0]);
    let type_len = (words.len() * 4) as u32;
    for v in [24u32, 0, type_len, type_len, strings.len() as u32] {
        out.extend_from_slice(&v.to_ne_bytes());
    }
    for w in words {
        out.extend_from_slice(&w.to_ne_bytes());
    }
    out.extend_from_slice(strings);
    out
}

#[test]
fn user_ring_buffer_records_reach_the_program() {
    let sums =
        Map::create(&MapSpec::new(MapType::Array, 4, 16, 1).name("urb_sums")).expect("sums array");
    let user_ring = Map::create(&MapSpec::new(MapType::UserRingbuf, 0, 0, 16 * 1024).name("urb"))
        .expect("user ring buffer");
    let prog = user_ring_drainer(&sums, &user_ring);
    let ids = (prog.id().expect("id"), sums.id(), user_ring.id());
    let mut urb = bpfkit::UserRingBuf::new(user_ring.fd()).expect("UserRingBuf::new");

    // 12-byte records take 24 bytes: 682 fit in 16 KiB, the 683rd does not.
    let mut written = 0u64;
    while urb
        .write_with(12, |buf| {
            buf[..8].copy_from_slice(&(written + 1).to_ne_bytes());
            buf[8..].copy_from_slice(&[0xab; 4]);
        })
        .expect("write")
    {
        written += 1;
    }
    assert_eq!(written, 16 * 1024 / 24);
    assert_eq!(urb.written(), written);
    assert!(urb.free() < 24);

    run(&prog, 1);
    let v = sums
        .lookup(&0u32.to_ne_bytes())
        .expect("lookup")
        .expect("slot");
    let sum = u64::from_ne_bytes(v[..8].try_into().expect("8"));
    let drained = u64::from_ne_bytes(v[8..16].try_into().expect("8"));
    assert_eq!(drained, written);
    assert_eq!(sum, written * (written + 1) / 2);
    assert_eq!(urb.free(), 16 * 1024, "the program consumed everything");

    // The space is reusable, including records that wrap around the end of the ring.
    for i in 0..100u64 {
        assert!(urb.write(&(1000 + i).to_ne_bytes()).expect("write"));
    }
    run(&prog, 1);
    let v = sums
        .lookup(&0u32.to_ne_bytes())
        .expect("lookup")
        .expect("slot");
    assert_eq!(u64::from_ne_bytes(v[8..16].try_into().expect("8")), 100);
    assert_eq!(
        u64::from_ne_bytes(v[..8].try_into().expect("8")),
        sum + (1000..1100).sum::<u64>()
    );

    let err = urb
        .write(&vec![0u8; 16 * 1024])
        .expect_err("record larger than the ring");
    assert!(err.to_string().contains("does not fit"), "{err}");

    drop(urb);
    drop((prog, sums, user_ring));
    common::assert_gone(&[ids.0], &[ids.1, ids.2], &[]);
}
