//! The instruction model: one 8-byte eBPF instruction slot, registers, opcode constants and the
//! typed operation enums the builder and disassembler share.

use crate::Error;

/// Opcode and field constants of the eBPF instruction set, with the uapi's numbering.
///
/// An opcode byte is `class | size | mode` for loads and stores and `class | source | op` for ALU
/// and jump instructions.
pub mod op {
    /// Class: non-standard loads (`ld_imm64`, legacy `LD_ABS`/`LD_IND`).
    pub const LD: u8 = 0x00;
    /// Class: load into a register from memory.
    pub const LDX: u8 = 0x01;
    /// Class: store an immediate to memory.
    pub const ST: u8 = 0x02;
    /// Class: store a register to memory (also atomics).
    pub const STX: u8 = 0x03;
    /// Class: 32-bit arithmetic.
    pub const ALU: u8 = 0x04;
    /// Class: 64-bit jumps, calls and exit.
    pub const JMP: u8 = 0x05;
    /// Class: 32-bit jumps (and `gotol` via `JMP32 | JA`).
    pub const JMP32: u8 = 0x06;
    /// Class: 64-bit arithmetic.
    pub const ALU64: u8 = 0x07;

    /// Size: 32 bits.
    pub const W: u8 = 0x00;
    /// Size: 16 bits.
    pub const H: u8 = 0x08;
    /// Size: 8 bits.
    pub const B: u8 = 0x10;
    /// Size: 64 bits.
    pub const DW: u8 = 0x18;

    /// Mode: 64-bit immediate (`ld_imm64`).
    pub const IMM: u8 = 0x00;
    /// Mode: legacy absolute packet load.
    pub const ABS: u8 = 0x20;
    /// Mode: legacy indirect packet load.
    pub const IND: u8 = 0x40;
    /// Mode: regular memory access.
    pub const MEM: u8 = 0x60;
    /// Mode: sign-extending load (ISA v4).
    pub const MEMSX: u8 = 0x80;
    /// Mode: atomic operation (STX class).
    pub const ATOMIC: u8 = 0xc0;

    /// Source: immediate operand.
    pub const K: u8 = 0x00;
    /// Source: register operand.
    pub const X: u8 = 0x08;

    /// ALU op: `+=`.
    pub const ADD: u8 = 0x00;
    /// ALU op: `-=`.
    pub const SUB: u8 = 0x10;
    /// ALU op: `*=`.
    pub const MUL: u8 = 0x20;
    /// ALU op: `/=` (signed when `off == 1`).
    pub const DIV: u8 = 0x30;
    /// ALU op: `|=`.
    pub const OR: u8 = 0x40;
    /// ALU op: `&=`.
    pub const AND: u8 = 0x50;
    /// ALU op: `<<=`.
    pub const LSH: u8 = 0x60;
    /// ALU op: `>>=` (logical).
    pub const RSH: u8 = 0x70;
    /// ALU op: negate.
    pub const NEG: u8 = 0x80;
    /// ALU op: `%=` (signed when `off == 1`).
    pub const MOD: u8 = 0x90;
    /// ALU op: `^=`.
    pub const XOR: u8 = 0xa0;
    /// ALU op: `=` (sign-extending when `off` is 8, 16 or 32).
    pub const MOV: u8 = 0xb0;
    /// ALU op: `s>>=` (arithmetic).
    pub const ARSH: u8 = 0xc0;
    /// ALU op: byte swap / endianness conversion.
    pub const END: u8 = 0xd0;
    /// END source: convert to little endian.
    pub const TO_LE: u8 = 0x00;
    /// END source: convert to big endian.
    pub const TO_BE: u8 = 0x08;

    /// Jump op: unconditional.
    pub const JA: u8 = 0x00;
    /// Jump op: `==`.
    pub const JEQ: u8 = 0x10;
    /// Jump op: `>` unsigned.
    pub const JGT: u8 = 0x20;
    /// Jump op: `>=` unsigned.
    pub const JGE: u8 = 0x30;
    /// Jump op: `&` non-zero.
    pub const JSET: u8 = 0x40;
    /// Jump op: `!=`.
    pub const JNE: u8 = 0x50;
    /// Jump op: `>` signed.
    pub const JSGT: u8 = 0x60;
    /// Jump op: `>=` signed.
    pub const JSGE: u8 = 0x70;
    /// Jump class op: function call.
    pub const CALL: u8 = 0x80;
    /// Jump class op: return from function.
    pub const EXIT: u8 = 0x90;
    /// Jump op: `<` unsigned.
    pub const JLT: u8 = 0xa0;
    /// Jump op: `<=` unsigned.
    pub const JLE: u8 = 0xb0;
    /// Jump op: `<` signed.
    pub const JSLT: u8 = 0xc0;
    /// Jump op: `<=` signed.
    pub const JSLE: u8 = 0xd0;
    /// Jump op: conditional pseudo jump (`may_goto`).
    pub const JCOND: u8 = 0xe0;

    /// Atomic imm: add.
    pub const ATOMIC_ADD: i32 = 0x00;
    /// Atomic imm: or.
    pub const ATOMIC_OR: i32 = 0x40;
    /// Atomic imm: and.
    pub const ATOMIC_AND: i32 = 0x50;
    /// Atomic imm: xor.
    pub const ATOMIC_XOR: i32 = 0xa0;
    /// Atomic imm flag: return the old value in the source register.
    pub const FETCH: i32 = 0x01;
    /// Atomic imm: exchange (always fetches).
    pub const XCHG: i32 = 0xe0 | FETCH;
    /// Atomic imm: compare-and-exchange against `r0` (always fetches).
    pub const CMPXCHG: i32 = 0xf0 | FETCH;
    /// Atomic imm: load-acquire (`STX | ATOMIC`, result in `dst`).
    pub const LOAD_ACQ: i32 = 0x100;
    /// Atomic imm: store-release.
    pub const STORE_REL: i32 = 0x110;

    /// `ld_imm64` src: plain 64-bit constant.
    pub const PSEUDO_NONE: u8 = 0;
    /// `ld_imm64` src: imm is a map fd.
    pub const PSEUDO_MAP_FD: u8 = 1;
    /// `ld_imm64` src: imm is a map fd, second imm an offset into its value.
    pub const PSEUDO_MAP_VALUE: u8 = 2;
    /// `ld_imm64` src: imm is a BTF id of a kernel variable.
    pub const PSEUDO_BTF_ID: u8 = 3;
    /// `ld_imm64` src: imm is a relative instruction offset of a function.
    pub const PSEUDO_FUNC: u8 = 4;
    /// `ld_imm64` src: imm is an index into the fd array.
    pub const PSEUDO_MAP_IDX: u8 = 5;
    /// `ld_imm64` src: imm is an fd-array index, second imm a value offset.
    pub const PSEUDO_MAP_IDX_VALUE: u8 = 6;

    /// Call src: bpf-to-bpf call, imm is the relative offset.
    pub const PSEUDO_CALL: u8 = 1;
    /// Call src: kernel function call, imm is its BTF id.
    pub const PSEUDO_KFUNC_CALL: u8 = 2;

    /// Opcode of the first `ld_imm64` slot.
    pub const LD_IMM64: u8 = LD | DW | IMM;

    /// `JMP | JCOND` src: `may_goto` (a bounded-loop escape the verifier rewrites).
    pub const MAY_GOTO: u8 = 0;
    /// `ALU64 | MOV | X` off: arena address-space cast (imm = dst_as << 16 | src_as).
    pub const ADDR_SPACE_CAST: i16 = 1;
    /// `ALU64 | MOV | X` off the verifier uses for an inlined per-CPU address computation.
    pub const ADDR_PERCPU: i16 = -1;
    /// `ST` mode of the verifier's speculation barrier (`nospec`); no uapi name.
    pub const NOSPEC: u8 = 0xc0;
}

/// Extracts the class bits of an opcode.
pub const fn class(code: u8) -> u8 {
    code & 0x07
}

/// A register of the eBPF machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Reg {
    /// Return value, helper result.
    R0 = 0,
    /// First argument; the context on entry.
    R1 = 1,
    /// Second argument.
    R2 = 2,
    /// Third argument.
    R3 = 3,
    /// Fourth argument.
    R4 = 4,
    /// Fifth argument.
    R5 = 5,
    /// Callee-saved.
    R6 = 6,
    /// Callee-saved.
    R7 = 7,
    /// Callee-saved.
    R8 = 8,
    /// Callee-saved.
    R9 = 9,
    /// Read-only frame pointer.
    R10 = 10,
}

impl Reg {
    /// All registers in numbering order.
    pub const ALL: [Reg; 11] = [
        Reg::R0,
        Reg::R1,
        Reg::R2,
        Reg::R3,
        Reg::R4,
        Reg::R5,
        Reg::R6,
        Reg::R7,
        Reg::R8,
        Reg::R9,
        Reg::R10,
    ];

    /// The register numbered `n`, if it exists.
    pub fn from_num(n: u8) -> Option<Reg> {
        Reg::ALL.get(usize::from(n)).copied()
    }

    /// The register number (0–10).
    pub const fn num(self) -> u8 {
        self as u8
    }
}

impl From<Reg> for u8 {
    fn from(r: Reg) -> u8 {
        r as u8
    }
}

/// The access size of a load, store or atomic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Size {
    /// 8 bits.
    B,
    /// 16 bits.
    H,
    /// 32 bits.
    W,
    /// 64 bits.
    DW,
}

impl Size {
    /// The size bits of the opcode.
    pub const fn bits(self) -> u8 {
        match self {
            Size::B => op::B,
            Size::H => op::H,
            Size::W => op::W,
            Size::DW => op::DW,
        }
    }

    /// The size encoded in an opcode.
    pub const fn from_code(code: u8) -> Size {
        match code & 0x18 {
            op::B => Size::B,
            op::H => Size::H,
            op::W => Size::W,
            _ => Size::DW,
        }
    }

    /// Width in bytes.
    pub const fn bytes(self) -> usize {
        match self {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        }
    }
}

/// An arithmetic operation (for both ALU and ALU64 classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AluOp {
    /// `+=`
    Add,
    /// `-=`
    Sub,
    /// `*=`
    Mul,
    /// unsigned `/=`
    Div,
    /// signed `s/=` (ISA v4)
    Sdiv,
    /// `|=`
    Or,
    /// `&=`
    And,
    /// `<<=`
    Lsh,
    /// logical `>>=`
    Rsh,
    /// unsigned `%=`
    Mod,
    /// signed `s%=` (ISA v4)
    Smod,
    /// `^=`
    Xor,
    /// `=`
    Mov,
    /// arithmetic `s>>=`
    Arsh,
}

impl AluOp {
    /// The op bits and the `off` field value selecting this operation.
    pub const fn encoding(self) -> (u8, i16) {
        match self {
            AluOp::Add => (op::ADD, 0),
            AluOp::Sub => (op::SUB, 0),
            AluOp::Mul => (op::MUL, 0),
            AluOp::Div => (op::DIV, 0),
            AluOp::Sdiv => (op::DIV, 1),
            AluOp::Or => (op::OR, 0),
            AluOp::And => (op::AND, 0),
            AluOp::Lsh => (op::LSH, 0),
            AluOp::Rsh => (op::RSH, 0),
            AluOp::Mod => (op::MOD, 0),
            AluOp::Smod => (op::MOD, 1),
            AluOp::Xor => (op::XOR, 0),
            AluOp::Mov => (op::MOV, 0),
            AluOp::Arsh => (op::ARSH, 0),
        }
    }
}

/// A conditional jump comparison (for both JMP and JMP32 classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JmpOp {
    /// `==`
    Eq,
    /// unsigned `>`
    Gt,
    /// unsigned `>=`
    Ge,
    /// `&` (jump if any bit set)
    Set,
    /// `!=`
    Ne,
    /// signed `>`
    Sgt,
    /// signed `>=`
    Sge,
    /// unsigned `<`
    Lt,
    /// unsigned `<=`
    Le,
    /// signed `<`
    Slt,
    /// signed `<=`
    Sle,
}

impl JmpOp {
    /// The op bits of the opcode.
    pub const fn bits(self) -> u8 {
        match self {
            JmpOp::Eq => op::JEQ,
            JmpOp::Gt => op::JGT,
            JmpOp::Ge => op::JGE,
            JmpOp::Set => op::JSET,
            JmpOp::Ne => op::JNE,
            JmpOp::Sgt => op::JSGT,
            JmpOp::Sge => op::JSGE,
            JmpOp::Lt => op::JLT,
            JmpOp::Le => op::JLE,
            JmpOp::Slt => op::JSLT,
            JmpOp::Sle => op::JSLE,
        }
    }

    /// The comparison encoded by op bits, if they name one.
    pub const fn from_bits(bits: u8) -> Option<JmpOp> {
        Some(match bits & 0xf0 {
            op::JEQ => JmpOp::Eq,
            op::JGT => JmpOp::Gt,
            op::JGE => JmpOp::Ge,
            op::JSET => JmpOp::Set,
            op::JNE => JmpOp::Ne,
            op::JSGT => JmpOp::Sgt,
            op::JSGE => JmpOp::Sge,
            op::JLT => JmpOp::Lt,
            op::JLE => JmpOp::Le,
            op::JSLT => JmpOp::Slt,
            op::JSLE => JmpOp::Sle,
            _ => return None,
        })
    }
}

/// An atomic read-modify-write operation (`STX | ATOMIC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AtomicOp {
    /// `lock *(p) += src`
    Add,
    /// `lock *(p) |= src`
    Or,
    /// `lock *(p) &= src`
    And,
    /// `lock *(p) ^= src`
    Xor,
    /// `src = atomic_fetch_add(p, src)`
    FetchAdd,
    /// `src = atomic_fetch_or(p, src)`
    FetchOr,
    /// `src = atomic_fetch_and(p, src)`
    FetchAnd,
    /// `src = atomic_fetch_xor(p, src)`
    FetchXor,
    /// `src = xchg(p, src)`
    Xchg,
    /// `r0 = cmpxchg(p, r0, src)`
    Cmpxchg,
}

impl AtomicOp {
    /// The `imm` value selecting this operation.
    pub const fn imm(self) -> i32 {
        match self {
            AtomicOp::Add => op::ATOMIC_ADD,
            AtomicOp::Or => op::ATOMIC_OR,
            AtomicOp::And => op::ATOMIC_AND,
            AtomicOp::Xor => op::ATOMIC_XOR,
            AtomicOp::FetchAdd => op::ATOMIC_ADD | op::FETCH,
            AtomicOp::FetchOr => op::ATOMIC_OR | op::FETCH,
            AtomicOp::FetchAnd => op::ATOMIC_AND | op::FETCH,
            AtomicOp::FetchXor => op::ATOMIC_XOR | op::FETCH,
            AtomicOp::Xchg => op::XCHG,
            AtomicOp::Cmpxchg => op::CMPXCHG,
        }
    }
}

/// One 8-byte instruction slot. A 64-bit immediate load (`ld_imm64`) takes two slots; the second
/// has `code == 0` and carries the upper 32 bits in `imm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Insn {
    /// Opcode byte.
    pub code: u8,
    /// Destination register number (low nibble of byte 1).
    pub dst: u8,
    /// Source register number (high nibble of byte 1), or a pseudo-source tag.
    pub src: u8,
    /// Signed offset (jumps, memory, and some ISA v4 variants).
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

impl Insn {
    /// Size in bytes of one instruction slot.
    pub const SIZE: usize = 8;

    /// An instruction from its fields; register numbers are kept to 4 bits.
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            dst: dst & 0x0f,
            src: src & 0x0f,
            off,
            imm,
        }
    }

    /// The little-endian kernel encoding: code, `src << 4 | dst`, off, imm.
    pub fn to_bytes(&self) -> [u8; 8] {
        let off = self.off.to_le_bytes();
        let imm = self.imm.to_le_bytes();
        [
            self.code,
            (self.src << 4) | (self.dst & 0x0f),
            off[0],
            off[1],
            imm[0],
            imm[1],
            imm[2],
            imm[3],
        ]
    }

    /// Decodes one slot from its little-endian encoding.
    pub fn from_bytes(b: &[u8; 8]) -> Insn {
        Insn {
            code: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// The opcode class (`op::LD` … `op::ALU64`).
    pub const fn class(&self) -> u8 {
        class(self.code)
    }

    /// True for the first slot of a two-slot `ld_imm64`.
    pub const fn is_ld_imm64(&self) -> bool {
        self.code == op::LD_IMM64
    }

    /// The two slots of `ld_imm64 dst, value` with the given pseudo source.
    pub const fn ld_imm64(dst: Reg, src: u8, value: u64) -> [Insn; 2] {
        [
            Insn::new(op::LD_IMM64, dst as u8, src, 0, value as u32 as i32),
            Insn::new(0, 0, 0, 0, (value >> 32) as u32 as i32),
        ]
    }
}

/// Encodes instructions as the byte stream the kernel takes.
pub fn insns_to_bytes(insns: &[Insn]) -> Vec<u8> {
    let mut out = Vec::with_capacity(insns.len() * Insn::SIZE);
    for insn in insns {
        out.extend_from_slice(&insn.to_bytes());
    }
    out
}

/// Decodes a byte stream into instruction slots.
///
/// Fails when the length is not a multiple of 8 or when the last slot starts an `ld_imm64`
/// that has no second half.
pub fn decode_all(bytes: &[u8]) -> Result<Vec<Insn>, Error> {
    let chunks = bytes.chunks_exact(Insn::SIZE);
    if !chunks.remainder().is_empty() {
        return Err(Error::Truncated { len: bytes.len() });
    }
    let insns: Vec<Insn> = chunks
        .map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            Insn::from_bytes(&b)
        })
        .collect();
    check_ld_imm64_pairs(&insns)?;
    Ok(insns)
}

/// Checks that every `ld_imm64` is followed by its second slot.
pub fn check_ld_imm64_pairs(insns: &[Insn]) -> Result<(), Error> {
    let mut i = 0;
    while i < insns.len() {
        if insns[i].is_ld_imm64() {
            match insns.get(i + 1) {
                Some(next) if next.code == 0 => i += 2,
                _ => return Err(Error::HalfLdImm64 { index: i }),
            }
        } else {
            i += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_roundtrip_and_nibbles() {
        let i = Insn::new(op::STX | op::MEM | op::H, 10, 1, -4, 0);
        assert_eq!(i.to_bytes(), [0x6b, 0x1a, 0xfc, 0xff, 0, 0, 0, 0]);
        assert_eq!(Insn::from_bytes(&i.to_bytes()), i);
        let m = Insn::new(op::ALU64 | op::MOV | op::K, 1, 0, 0, 33);
        assert_eq!(m.to_bytes(), [0xb7, 0x01, 0, 0, 0x21, 0, 0, 0]);
    }

    #[test]
    fn decode_errors() {
        assert!(matches!(
            decode_all(&[0u8; 12]),
            Err(Error::Truncated { len: 12 })
        ));
        let half = insns_to_bytes(&[Insn::ld_imm64(Reg::R1, 0, 5)[0]]);
        assert!(matches!(
            decode_all(&half),
            Err(Error::HalfLdImm64 { index: 0 })
        ));
        let full = insns_to_bytes(&Insn::ld_imm64(Reg::R1, 0, 0x1122_3344_5566_7788));
        let got = decode_all(&full).unwrap();
        assert_eq!(got[0].imm as u32, 0x5566_7788);
        assert_eq!(got[1].imm as u32, 0x1122_3344);
        assert_eq!(decode_all(&[]).unwrap(), vec![]);
    }

    #[test]
    fn reg_numbers() {
        assert_eq!(Reg::from_num(10), Some(Reg::R10));
        assert_eq!(Reg::from_num(11), None);
        assert_eq!(u8::from(Reg::R7), 7);
    }
}
