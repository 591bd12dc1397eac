//! Disassembly in the syntax of `llvm-objdump -d` for BPF objects.
//!
//! The notation is LLVM's BPF assembly: `r1 = 0x21`, `*(u16 *)(r10 - 0x4) = r1`,
//! `r1 = 0x57202c6f6c6c6548 ll`, `if r1 > 0x5 goto +0x3 <LBB0_2>`, `call 0x6`. Two knobs
//! follow llvm-objdump's own: immediates in hex (the default of llvm-objdump since LLVM 15,
//! `--print-imm-hex`) or decimal (LLVM 14, as installed on Debian 12), and whether 32-bit
//! atomics name `w` registers (objects built for `-mcpu=v3`/`+alu32`).
//!
//! Instructions an old LLVM cannot decode (ISA v4, `JSET`, `MOD`, `ST` immediates in LLVM 14)
//! are printed in the notation of the LLVM releases that know them rather than as
//! `<unknown>`; only encodings no release defines print `<unknown>`.

use std::fmt::Write as _;

use crate::insn::{op, Insn};

/// How to print immediates and 32-bit atomics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Immediates and offsets in hex (`0x21`, `-0x8`), as llvm-objdump ≥ 15 prints them.
    pub hex: bool,
    /// `w` registers in 32-bit atomics (`lock *(u32 *)(r1 + 0x0) += w2`), as for objects
    /// built with ALU32 (`-mcpu=v3`).
    pub alu32: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            hex: true,
            alu32: true,
        }
    }
}

impl Options {
    fn imm(&self, v: i64) -> String {
        match (self.hex, v < 0) {
            (false, _) => v.to_string(),
            (true, false) => format!("{v:#x}"),
            (true, true) => format!("-{:#x}", v.unsigned_abs()),
        }
    }

    /// ` + 0x8` / ` - 0x8` inside a memory operand.
    fn mem_off(&self, off: i16) -> String {
        let off = i64::from(off);
        if off >= 0 {
            format!(" + {}", self.imm(off))
        } else {
            format!(" - {}", self.imm(-off))
        }
    }

    fn branch(&self, off: i64) -> String {
        if off >= 0 {
            format!("+{}", self.imm(off))
        } else {
            self.imm(off)
        }
    }
}

fn size_name(code: u8) -> &'static str {
    match code & 0x18 {
        op::B => "u8",
        op::H => "u16",
        op::W => "u32",
        _ => "u64",
    }
}

fn alu_op(opbits: u8, signed: bool) -> Option<&'static str> {
    Some(match (opbits, signed) {
        (op::ADD, false) => "+=",
        (op::SUB, false) => "-=",
        (op::MUL, false) => "*=",
        (op::DIV, false) => "/=",
        (op::DIV, true) => "s/=",
        (op::OR, false) => "|=",
        (op::AND, false) => "&=",
        (op::LSH, false) => "<<=",
        (op::RSH, false) => ">>=",
        (op::MOD, false) => "%=",
        (op::MOD, true) => "s%=",
        (op::XOR, false) => "^=",
        (op::ARSH, false) => "s>>=",
        _ => return None,
    })
}

fn cmp_op(opbits: u8) -> Option<&'static str> {
    Some(match opbits {
        op::JEQ => "==",
        op::JGT => ">",
        op::JGE => ">=",
        op::JSET => "&",
        op::JNE => "!=",
        op::JSGT => "s>",
        op::JSGE => "s>=",
        op::JLT => "<",
        op::JLE => "<=",
        op::JSLT => "s<",
        op::JSLE => "s<=",
        _ => return None,
    })
}

/// A branch of the instruction at `i`: its target slot index, if it is a jump.
pub fn branch_target(insns: &[Insn], i: usize) -> Option<i64> {
    let insn = insns.get(i)?;
    let cls = insn.class();
    if cls != op::JMP && cls != op::JMP32 {
        return None;
    }
    let opbits = insn.code & 0xf0;
    if opbits == op::CALL || opbits == op::EXIT {
        return None;
    }
    let rel = if insn.code == op::JMP32 | op::JA {
        i64::from(insn.imm)
    } else {
        i64::from(insn.off)
    };
    Some(i as i64 + 1 + rel)
}

/// Formats `insns[i]` (two slots for `ld_imm64`) without the address and bytes columns.
/// Returns the text and the number of slots it covers.
pub fn format_insn(insns: &[Insn], i: usize, o: &Options) -> (String, usize) {
    let Some(insn) = insns.get(i) else {
        return (String::new(), 0);
    };
    let c = insn.code;
    let (d, s, off, imm) = (insn.dst, insn.src, insn.off, insn.imm);
    let unknown = || "<unknown>".to_string();
    let text = match insn.class() {
        cls @ (op::ALU | op::ALU64) => {
            let r = if cls == op::ALU64 { 'r' } else { 'w' };
            let opbits = c & 0xf0;
            let is_x = c & op::X != 0;
            match opbits {
                op::END => {
                    if cls == op::ALU64 && !is_x {
                        format!("r{d} = bswap{imm} r{d}")
                    } else if cls == op::ALU {
                        let e = if is_x { "be" } else { "le" };
                        format!("r{d} = {e}{imm} r{d}")
                    } else {
                        unknown()
                    }
                }
                op::NEG => format!("{r}{d} = -{r}{d}"),
                op::MOV => {
                    if is_x && cls == op::ALU64 && off == 1 {
                        let (to, from) = ((imm as u32) >> 16, imm as u32 & 0xffff);
                        format!(
                            "r{d} = addr_space_cast(r{s}, {}, {})",
                            o.imm(i64::from(to)),
                            o.imm(i64::from(from))
                        )
                    } else if is_x {
                        let sx = match off {
                            8 => "(s8)",
                            16 => "(s16)",
                            32 if cls == op::ALU64 => "(s32)",
                            _ => "",
                        };
                        format!("{r}{d} = {sx}{r}{s}")
                    } else {
                        format!("{r}{d} = {}", o.imm(i64::from(imm)))
                    }
                }
                _ => match alu_op(opbits, off == 1) {
                    Some(name) if is_x => format!("{r}{d} {name} {r}{s}"),
                    Some(name) => format!("{r}{d} {name} {}", o.imm(i64::from(imm))),
                    None => unknown(),
                },
            }
        }
        op::LDX => {
            let mode = c & 0xe0;
            let size = match (mode, c & 0x18) {
                (op::MEM, _) => size_name(c),
                (op::MEMSX, op::B) => "s8",
                (op::MEMSX, op::H) => "s16",
                (op::MEMSX, op::W) => "s32",
                _ => return (unknown(), 1),
            };
            format!("r{d} = *({size} *)(r{s}{})", o.mem_off(off))
        }
        op::ST => {
            if c & 0xe0 == op::MEM {
                format!(
                    "*({} *)(r{d}{}) = {}",
                    size_name(c),
                    o.mem_off(off),
                    o.imm(i64::from(imm))
                )
            } else {
                unknown()
            }
        }
        op::STX => {
            let size = size_name(c);
            let mode = c & 0xe0;
            let w = c & 0x18 == op::W;
            let dw = c & 0x18 == op::DW;
            let v = if w && o.alu32 { 'w' } else { 'r' };
            let addr = format!("r{d}{}", o.mem_off(off));
            if mode == op::MEM {
                format!("*({size} *)({addr}) = r{s}")
            } else if mode == op::ATOMIC && (w || dw) {
                let name = match imm & !op::FETCH {
                    op::ATOMIC_ADD => Some(("+=", "add")),
                    op::ATOMIC_OR => Some(("|=", "or")),
                    op::ATOMIC_AND => Some(("&=", "and")),
                    op::ATOMIC_XOR => Some(("^=", "xor")),
                    _ => None,
                };
                match (imm, name) {
                    (_, Some((sym, _))) if imm & op::FETCH == 0 => {
                        format!("lock *({size} *)({addr}) {sym} {v}{s}")
                    }
                    (_, Some((_, fetch))) => {
                        format!("{v}{s} = atomic_fetch_{fetch}(({size} *)({addr}), {v}{s})")
                    }
                    (op::XCHG, None) if dw => format!("r{s} = xchg_64({addr}, r{s})"),
                    (op::XCHG, None) => format!("{v}{s} = xchg32_32({addr}, {v}{s})"),
                    (op::CMPXCHG, None) if dw => {
                        format!("r0 = cmpxchg_64({addr}, r0, r{s})")
                    }
                    (op::CMPXCHG, None) => {
                        format!("{v}0 = cmpxchg32_32({addr}, {v}0, {v}{s})")
                    }
                    (op::LOAD_ACQ, None) => {
                        let src = format!("r{s}{}", o.mem_off(off));
                        let r = if dw { 'r' } else { 'w' };
                        format!("{r}{d} = load_acquire(({size} *)({src}))")
                    }
                    (op::STORE_REL, None) => {
                        let r = if dw { 'r' } else { 'w' };
                        format!("store_release(({size} *)({addr}), {r}{s})")
                    }
                    _ => unknown(),
                }
            } else if mode == op::ATOMIC {
                match imm {
                    op::LOAD_ACQ => {
                        let src = format!("r{s}{}", o.mem_off(off));
                        format!("w{d} = load_acquire(({size} *)({src}))")
                    }
                    op::STORE_REL => format!("store_release(({size} *)({addr}), w{s})"),
                    _ => unknown(),
                }
            } else {
                unknown()
            }
        }
        op::LD => {
            let mode = c & 0xe0;
            if c == op::LD_IMM64 {
                let Some(second) = insns.get(i + 1) else {
                    return (unknown(), 1);
                };
                let value = (u64::from(second.imm as u32) << 32) | u64::from(imm as u32);
                let text = if s == 0 {
                    format!("r{d} = {} ll", o.imm(value as i64))
                } else {
                    format!("ld_pseudo\tr{d}, {s}, {}", o.imm(i64::from(imm)))
                };
                return (text, 2);
            } else if mode == op::ABS {
                format!("r0 = *({} *)skb[{}]", size_name(c), o.imm(i64::from(imm)))
            } else if mode == op::IND {
                format!("r0 = *({} *)skb[r{s}]", size_name(c))
            } else {
                unknown()
            }
        }
        cls => {
            let r = if cls == op::JMP32 { 'w' } else { 'r' };
            let opbits = c & 0xf0;
            match (cls, opbits) {
                (op::JMP, op::CALL) => format!("call {}", o.imm(i64::from(imm))),
                (op::JMP, op::EXIT) => "exit".to_string(),
                (op::JMP, op::JA) => format!("goto {}", o.branch(i64::from(off))),
                (op::JMP32, op::JA) => format!("gotol {}", o.branch(i64::from(imm))),
                (op::JMP, op::JCOND) if s == 0 => {
                    format!("may_goto {}", o.branch(i64::from(off)))
                }
                _ => match cmp_op(opbits) {
                    Some(cmp) if c & op::X != 0 => {
                        format!("if {r}{d} {cmp} {r}{s} goto {}", o.branch(i64::from(off)))
                    }
                    Some(cmp) => format!(
                        "if {r}{d} {cmp} {} goto {}",
                        o.imm(i64::from(imm)),
                        o.branch(i64::from(off))
                    ),
                    None => unknown(),
                },
            }
        }
    };
    (text, 1)
}

/// A symbol of the section being disassembled: a function or a local label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    /// Byte offset in the section.
    pub offset: u64,
    /// Symbol name.
    pub name: String,
}

fn annotate(symbols: &[Symbol], target: u64) -> Option<String> {
    let sym = symbols
        .iter()
        .filter(|s| s.offset <= target)
        .max_by_key(|s| s.offset)?;
    Some(if sym.offset == target {
        format!("<{}>", sym.name)
    } else {
        format!("<{}+{:#x}>", sym.name, target - sym.offset)
    })
}

/// The body of `llvm-objdump -d` for one section: for each symbol a blank line and a
/// `%016x <name>:` header, then one line per instruction (`  index:\tbytes\ttext`), jumps
/// annotated with the symbol they land in.
pub fn dump(insns: &[Insn], symbols: &[Symbol], o: &Options) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < insns.len() {
        let addr = i as u64 * Insn::SIZE as u64;
        for sym in symbols.iter().filter(|s| s.offset == addr) {
            let _ = write!(out, "\n{:016x} <{}>:\n", sym.offset, sym.name);
        }
        let (mut text, slots) = format_insn(insns, i, o);
        let slots = slots.max(1);
        if let Some(t) = branch_target(insns, i) {
            if let Some(a) = u64::try_from(t)
                .ok()
                .and_then(|t| annotate(symbols, t * Insn::SIZE as u64))
            {
                text.push(' ');
                text.push_str(&a);
            }
        }
        let _ = write!(out, "{i:8}:\t");
        let end = (i + slots).min(insns.len());
        let mut first = true;
        for insn in &insns[i..end] {
            for b in insn.to_bytes() {
                if !first {
                    out.push(' ');
                }
                first = false;
                let _ = write!(out, "{b:02x}");
            }
        }
        let _ = writeln!(out, "\t{text}");
        i += slots;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AluOp, AtomicOp, Builder, Reg, Size};

    /// `llvm-objdump -d` (LLVM 14) of clang-built objects; lines LLVM 14 could not decode
    /// (`<unknown>`) are checked separately below.
    const LLVM14: &str = include_str!("testdata/llvm14_objdump.txt");

    fn parse(text: &str) -> Vec<(Vec<Insn>, String)> {
        let mut out = Vec::new();
        for line in text.lines() {
            let mut cols = line.split('\t');
            let (Some(idx), Some(hex)) = (cols.next(), cols.next()) else {
                continue;
            };
            let idx = idx.trim().trim_end_matches(':');
            if idx.is_empty() || !idx.bytes().all(|c| c.is_ascii_digit()) {
                continue;
            }
            let rest: Vec<&str> = cols.collect();
            let bytes: Vec<u8> = hex
                .split(' ')
                .map(|b| u8::from_str_radix(b, 16).unwrap())
                .collect();
            out.push((crate::decode_all(&bytes).unwrap(), rest.join("\t")));
        }
        out
    }

    #[test]
    fn matches_llvm14_objdump_in_decimal_mode() {
        let o = Options {
            hex: false,
            alu32: false,
        };
        let mut checked = 0;
        for (insns, want) in parse(LLVM14) {
            if want == "<unknown>" {
                continue;
            }
            let (mut got, _) = format_insn(&insns, 0, &o);
            // Jump annotations need the section's symbols; compare the instruction part.
            let want = want.split(" <").next().unwrap_or("");
            if got.contains(" <") {
                got.truncate(got.find(" <").unwrap_or(got.len()));
            }
            assert_eq!(got, want);
            checked += 1;
        }
        assert!(checked > 150, "{checked}");
    }

    #[test]
    fn whole_section_layout_matches_llvm14() {
        // .text of a clang-built object: two functions and two local labels.
        let expected = include_str!("testdata/llvm14_text_section.txt");
        let mut insns = Vec::new();
        for (i, _) in parse(expected) {
            insns.extend(i);
        }
        let syms = [
            Symbol {
                offset: 0,
                name: "cb".into(),
            },
            Symbol {
                offset: 0x30,
                name: "sub".into(),
            },
            Symbol {
                offset: 0x68,
                name: "LBB2_2".into(),
            },
            Symbol {
                offset: 0x90,
                name: "LBB2_3".into(),
            },
        ];
        let o = Options {
            hex: false,
            alu32: false,
        };
        assert_eq!(dump(&insns, &syms, &o), expected);
    }

    #[test]
    fn forms_llvm14_cannot_decode() {
        let mut b = Builder::new();
        b.alu64_imm(AluOp::Mod, Reg::R1, 3)
            .alu32_reg(AluOp::Mod, Reg::R1, Reg::R2)
            .store_imm(Size::W, Reg::R10, -8, -1)
            .jmp_imm(crate::JmpOp::Set, Reg::R1, 0x7fff, "l")
            .label("l")
            .alu64_reg(AluOp::Sdiv, Reg::R1, Reg::R2)
            .movsx64(Reg::R1, Reg::R2, 8)
            .movsx32(Reg::R1, Reg::R2, 16)
            .bswap(Reg::R1, 16)
            .load_sx(Size::B, Reg::R0, Reg::R1, 0)
            .jmp_long("l")
            .atomic(AtomicOp::FetchAnd, Size::W, Reg::R1, 0, Reg::R2)
            .atomic(AtomicOp::Xchg, Size::W, Reg::R1, 0, Reg::R2)
            .atomic(AtomicOp::Cmpxchg, Size::W, Reg::R1, 0, Reg::R2)
            .load_acquire(Size::DW, Reg::R0, Reg::R1, 8)
            .store_release(Size::W, Reg::R1, 0, Reg::R2)
            .raw(Insn::new(op::JMP | op::JCOND, 0, 0, 1, 0))
            .raw(Insn::new(op::ALU64 | op::MOV | op::X, 1, 2, 1, 0x10000))
            .ld_imm64(Reg::R1, 0x21)
            .mov64_imm(Reg::R1, -8)
            .raw(Insn::new(0xff, 0, 0, 0, 0));
        let insns = b.build().unwrap();
        let text: Vec<String> = (0..insns.len())
            .filter(|&i| i != 18)
            .map(|i| format_insn(&insns, i, &Options::default()).0)
            .collect();
        assert_eq!(
            text,
            [
                "r1 %= 0x3",
                "w1 %= w2",
                "*(u32 *)(r10 - 0x8) = -0x1",
                "if r1 & 0x7fff goto +0x0",
                "r1 s/= r2",
                "r1 = (s8)r2",
                "w1 = (s16)w2",
                "r1 = bswap16 r1",
                "r0 = *(s8 *)(r1 + 0x0)",
                "gotol -0x6",
                "w2 = atomic_fetch_and((u32 *)(r1 + 0x0), w2)",
                "w2 = xchg32_32(r1 + 0x0, w2)",
                "w0 = cmpxchg32_32(r1 + 0x0, w0, w2)",
                "r0 = load_acquire((u64 *)(r1 + 0x8))",
                "store_release((u32 *)(r1 + 0x0), w2)",
                "may_goto +0x1",
                "r1 = addr_space_cast(r2, 0x1, 0x0)",
                "r1 = 0x21 ll",
                "r1 = -0x8",
                "<unknown>",
            ]
        );
    }

    #[test]
    fn truncated_ld_imm64_is_unknown_not_a_panic() {
        let half = [Insn::ld_imm64(Reg::R1, 0, 1)[0]];
        assert_eq!(
            format_insn(&half, 0, &Options::default()),
            ("<unknown>".to_string(), 1)
        );
        assert_eq!(dump(&half, &[], &Options::default()).lines().count(), 1);
    }
}
