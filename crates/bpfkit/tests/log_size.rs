//! A fixed verifier log buffer (`ProgramSpec::log_size`): a log longer than the buffer fails
//! the load with `ENOSPC` instead of the buffer growing; one that fits loads. Real kernel.

use bpfkit::{Error, Program, ProgramSpec, ProgramType};
use bpfkit_insn::{Builder, Reg};

fn insns() -> Vec<bpfkit_insn::Insn> {
    let mut b = Builder::new();
    for i in 0..20 {
        b.mov64_imm(Reg::R0, i);
    }
    b.exit().build().expect("valid program")
}

fn errno(e: &Error) -> Option<i32> {
    match e {
        Error::Verifier { source, .. } | Error::Sys(source) => source.errno(),
        _ => None,
    }
}

#[test]
fn a_log_longer_than_a_fixed_buffer_fails_with_enospc() {
    let insns = insns();
    // 128 bytes: the smallest buffer every kernel takes (before 6.4 a smaller one is EINVAL);
    // level 2 logs each of the 21 instructions, far more than that.
    let spec = ProgramSpec::new("tiny_log", ProgramType::SocketFilter, &insns)
        .log_level(2)
        .log_size(128);
    let err = Program::load(&spec).expect_err("a 128-byte log cannot hold the verifier's log");
    assert_eq!(errno(&err), Some(28), "{err}");
}

#[test]
fn a_fixed_buffer_that_fits_loads_with_its_log() {
    let insns = insns();
    let spec = ProgramSpec::new("roomy_log", ProgramType::SocketFilter, &insns)
        .log_level(1)
        .log_size(1 << 20);
    let prog = Program::load(&spec).expect("a 1 MiB log buffer fits");
    assert!(
        prog.verifier_log().contains("processed"),
        "{}",
        prog.verifier_log()
    );
}
