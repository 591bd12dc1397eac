//! The hello world: a tracepoint program calling `bpf_trace_printk` with a marker unique to
//! this test run, and its line read back through `bpfkit prog tracelog`. trace_pipe is
//! global (and reading consumes it), so the program fires on every `getppid` of this process
//! until the marker is seen, and other lines are ignored.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bpfkit_insn::{Builder, Reg, Size};

/// Instructions writing `msg` (at most 31 bytes) to the stack and printing it.
fn printk_program(msg: &[u8]) -> Vec<bpfkit_insn::Insn> {
    assert!(msg.len() < 32);
    let mut buf = [0u8; 32];
    buf[..msg.len()].copy_from_slice(msg);
    let mut b = Builder::new();
    for (i, chunk) in buf.chunks(8).enumerate() {
        let v = u64::from_le_bytes(chunk.try_into().unwrap());
        b.ld_imm64(Reg::R1, v)
            .store_reg(Size::DW, Reg::R10, -32 + 8 * i as i16, Reg::R1);
    }
    b.mov64_reg(Reg::R1, Reg::R10)
        .alu64_imm(bpfkit_insn::AluOp::Add, Reg::R1, -32)
        .mov64_imm(Reg::R2, msg.len() as i32 + 1)
        .call_helper(6)
        .mov64_imm(Reg::R0, 0)
        .exit();
    b.build().expect("assemble")
}

/// The tracelog process, killed on drop.
struct Tracelog(std::process::Child);

impl Drop for Tracelog {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn hello_world_reaches_tracelog() {
    let marker = format!("bpfkit-tl-{}", std::process::id());
    let msg = format!("{marker} Hello, World!\n");
    let insns = printk_program(msg.as_bytes());
    let spec = bpfkit::ProgramSpec::new("cli_hello", bpfkit::ProgramType::Tracepoint, &insns)
        .license("GPL");
    let prog = bpfkit::Program::load(&spec).expect("load the hello-world program");
    let link = prog
        .attach_tracepoint("syscalls", "sys_enter_getppid")
        .expect("attach to syscalls:sys_enter_getppid");

    let child = Command::new(env!("CARGO_BIN_EXE_bpfkit"))
        .args(["prog", "tracelog"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bpfkit prog tracelog");
    let mut tl = Tracelog(child);
    let out = tl.0.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut found = None;
    while Instant::now() < deadline && found.is_none() {
        // std's parent_id() is getppid(2): it fires the tracepoint.
        let _ = std::os::unix::process::parent_id();
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            if line.contains(&marker) {
                found = Some(line);
                break;
            }
        }
        if let Ok(Some(status)) = tl.0.try_wait() {
            panic!("tracelog exited early: {status}");
        }
    }
    drop(link);
    let line = found.expect("the marker line within 30 s");
    assert!(line.contains(&format!("{marker} Hello, World!")), "{line}");
    // trace_pipe's own prefix: task-pid [cpu] flags timestamp: bpf_trace_printk: …
    assert!(line.contains("bpf_trace_printk: "), "{line}");
}
