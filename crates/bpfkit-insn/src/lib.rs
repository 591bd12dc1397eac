//! eBPF instructions without a kernel: the 8-byte instruction model with every opcode of the
//! current ISA ([`Insn`], [`op`]), a [`Builder`] that writes programs in Rust with labels, the
//! helper table ([`helpers`]), a disassembler printing bpftool's `prog dump xlated` text
//! ([`xlated`]) or `llvm-objdump -d` syntax ([`objdump`]), and an assembler reading either
//! notation back ([`asm`]).
//!
//! Boundaries: this crate never calls the kernel and depends on no other bpfkit crate. Kernel
//! facts the disassembler prints (kernel symbol names, jited subprogram addresses) come from the
//! caller through the [`xlated::Resolver`] trait.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod asm;
pub mod builder;
mod error;
pub mod helpers;
pub mod insn;
pub mod objdump;
pub mod xlated;

pub use builder::{Builder, IntoLabel, Label};
pub use error::Error;
pub use helpers::{helper_by_id, helper_by_name, HelperGroup, HelperInfo};
pub use insn::{
    check_ld_imm64_pairs, decode_all, insns_to_bytes, op, AluOp, AtomicOp, Insn, JmpOp, Reg, Size,
};

/// The instructions as text in the current kernel's notation, one `N: (xx) …` line each,
/// without kernel symbols: handy in test failures and debug output. For bpftool's exact
/// output use [`xlated::dump`] with a [`xlated::KernelSymbols`] resolver.
pub fn disasm(insns: &[Insn]) -> String {
    xlated::dump(insns, &xlated::NoSymbols, xlated::Dialect::Current, false)
}

#[cfg(test)]
mod robustness {
    use super::*;

    /// A small deterministic generator, so the inputs are reproducible.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 16
        }
    }

    #[test]
    fn every_opcode_disassembles_without_panic() {
        let mut rng = Lcg(7);
        for code in 0..=255u8 {
            for _ in 0..64 {
                let r = rng.next();
                let insns = [
                    Insn::new(
                        code,
                        r as u8,
                        (r >> 4) as u8,
                        (r >> 8) as i16,
                        (r >> 24) as i32,
                    ),
                    Insn::new(0, 0, 0, 0, (r >> 13) as i32),
                ];
                for n in 1..=2 {
                    for d in [xlated::Dialect::Current, xlated::Dialect::PreV4] {
                        let (text, slots) =
                            xlated::format_insn(&insns[..n], 0, &xlated::NoSymbols, d);
                        assert!(!text.is_empty() && (1..=2).contains(&slots));
                    }
                    let (text, _) =
                        objdump::format_insn(&insns[..n], 0, &objdump::Options::default());
                    assert!(!text.is_empty());
                }
            }
        }
    }

    #[test]
    fn garbage_text_gives_errors_not_panics() {
        let mut rng = Lcg(11);
        let alphabet: Vec<char> = "r1w0 =+-*/()[]:#,<>&|^%s0x9fgotocallexitmap_idlock\u{e9}\t"
            .chars()
            .collect();
        for _ in 0..5000 {
            let len = (rng.next() % 24) as usize;
            let s: String = (0..len)
                .map(|_| alphabet[(rng.next() as usize) % alphabet.len()])
                .collect();
            let _ = asm::assemble(&s);
        }
    }

    #[test]
    fn disasm_for_debugging() {
        let mut b = Builder::new();
        b.mov64_imm(Reg::R0, 0).exit();
        assert_eq!(
            disasm(&b.build().unwrap()),
            "   0: (b7) r0 = 0\n   1: (95) exit\n"
        );
    }

    #[test]
    fn decode_of_any_length_is_an_error_or_whole_slots() {
        let bytes: Vec<u8> = (0..40u8).collect();
        for n in 0..bytes.len() {
            match decode_all(&bytes[..n]) {
                Ok(v) => assert_eq!(v.len() * 8, n),
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        }
    }
}
