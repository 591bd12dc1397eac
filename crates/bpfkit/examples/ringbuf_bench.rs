//! bpfkit's side of the ring buffer benchmark (bench/ringbuf/run.sh): fills a ring buffer by
//! running a producer through `BPF_PROG_TEST_RUN`, then times `RingBuf::consume` draining it.
//! Prints one line per round: `drain <records> <records per second>`.
//!
//! The producer is bench/ringbuf/ringbuf.bpf.c written with the instruction builder (same
//! instructions: read the sequence number from the global, `bpf_ringbuf_output` it, advance
//! the global on success), because bpfkit's ELF loader is not wired up yet.
//!
//! Usage: ringbuf_bench [rounds, default 5] [ring size in MiB, default 64]

use std::os::fd::AsRawFd;
use std::time::Instant;

use bpfkit::{Map, MapSpec, MapType, Program, ProgramSpec, ProgramType, RingBuf, TestRun};
use bpfkit_insn::{helpers, AluOp, Builder, JmpOp, Reg, Size};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rounds: u64 = args.next().map_or(Ok(5), |a| a.parse())?;
    let mib: u32 = args.next().map_or(Ok(64), |a| a.parse())?;
    let size = mib << 20;
    // A ring of S bytes holds one 16-byte record less than S / 16: the producer may not catch
    // up with the consumer exactly.
    let records = u64::from(size / 16) - 1;

    // The global `seq` of the C program lives in a one-element array (its .bss map).
    let bss = Map::create(&MapSpec::new(MapType::Array, 4, 8, 1).name("bench_bss"))?;
    let ring = Map::create(&MapSpec::new(MapType::Ringbuf, 0, 0, size).name("rb"))?;
    let mut b = Builder::new();
    b.ld_map_value(Reg::R6, bss.fd().as_raw_fd(), 0)
        .load(Size::DW, Reg::R7, Reg::R6, 0)
        .store_reg(Size::DW, Reg::R10, -8, Reg::R7)
        .ld_map_fd(Reg::R1, ring.fd().as_raw_fd())
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
    let insns = b.build()?;
    let prog = Program::load(&ProgramSpec::new(
        "produce",
        ProgramType::SocketFilter,
        &insns,
    ))?;

    let mut rb = RingBuf::new(ring.fd())?;
    let packet = [0u8; 64];
    let (mut sum, mut expect_sum, mut base) = (0u64, 0u64, 0u64);
    for round in 0..rounds {
        prog.test_run(&TestRun {
            data_in: &packet,
            repeat: records as u32,
            ..Default::default()
        })?;
        let t0 = Instant::now();
        let n = rb.consume(|rec| {
            if let Ok(b) = <[u8; 8]>::try_from(rec) {
                sum = sum.wrapping_add(u64::from_ne_bytes(b));
            }
        })? as u64;
        let dt = t0.elapsed().as_secs_f64();
        if n != records {
            return Err(format!("round {round}: consumed {n} of {records} records").into());
        }
        expect_sum = expect_sum.wrapping_add(records * base + records * (records - 1) / 2);
        base += records;
        println!("drain {records} {:.0}", records as f64 / dt);
    }
    if sum != expect_sum {
        return Err(format!("sequence sum {sum}, expected {expect_sum}").into());
    }
    Ok(())
}
