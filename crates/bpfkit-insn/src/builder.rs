//! A builder for writing eBPF programs in Rust, with labels resolved at `build()`.
//!
//! ```
//! use bpfkit_insn::{Builder, JmpOp, Reg, helpers};
//! let mut b = Builder::new();
//! b.mov64_imm(Reg::R0, 0)
//!     .jmp_imm(JmpOp::Eq, Reg::R1, 0, "out")
//!     .call_helper(helpers::KTIME_GET_NS)
//!     .label("out")
//!     .exit();
//! let insns = b.build().unwrap();
//! assert_eq!(insns[1].off, 1);
//! ```

use std::collections::HashMap;

use crate::insn::{op, AluOp, AtomicOp, Insn, JmpOp, Reg, Size};
use crate::Error;

/// A jump target. Created unbound by [`Builder::new_label`] or by naming it; bound to the
/// position of the next instruction by [`Builder::bind`] or [`Builder::label`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Label(usize);

/// Anything that designates a label: a [`Label`] or a label name.
pub trait IntoLabel {
    /// The label, creating a named one on first use.
    fn into_label(self, b: &mut Builder) -> Label;
}

impl IntoLabel for Label {
    fn into_label(self, _: &mut Builder) -> Label {
        self
    }
}

impl IntoLabel for &str {
    fn into_label(self, b: &mut Builder) -> Label {
        b.named(self)
    }
}

impl IntoLabel for String {
    fn into_label(self, b: &mut Builder) -> Label {
        b.named(&self)
    }
}

impl IntoLabel for &String {
    fn into_label(self, b: &mut Builder) -> Label {
        b.named(self)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Off,
    Imm,
}

#[derive(Debug)]
struct LabelSlot {
    name: Option<String>,
    pos: Option<usize>,
}

/// Appends instructions and resolves label references into relative offsets.
///
/// Every method appends at the end and returns `&mut Self` for chaining; mistakes with labels are
/// collected and reported by [`Builder::build`].
#[derive(Debug, Default)]
pub struct Builder {
    insns: Vec<Insn>,
    labels: Vec<LabelSlot>,
    by_name: HashMap<String, Label>,
    fixups: Vec<(usize, Label, Field)>,
    errors: Vec<Error>,
}

fn r(reg: Reg) -> u8 {
    reg.num()
}

impl Builder {
    /// An empty program.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Number of instruction slots so far (an `ld_imm64` counts two).
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// True when nothing has been appended.
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    fn named(&mut self, name: &str) -> Label {
        if let Some(l) = self.by_name.get(name) {
            return *l;
        }
        let l = Label(self.labels.len());
        self.labels.push(LabelSlot {
            name: Some(name.to_string()),
            pos: None,
        });
        self.by_name.insert(name.to_string(), l);
        l
    }

    fn label_name(&self, l: Label) -> String {
        match self.labels.get(l.0).and_then(|s| s.name.clone()) {
            Some(n) => n,
            None => format!("#{}", l.0),
        }
    }

    /// A fresh anonymous label, not yet bound.
    pub fn new_label(&mut self) -> Label {
        let l = Label(self.labels.len());
        self.labels.push(LabelSlot {
            name: None,
            pos: None,
        });
        l
    }

    /// Binds a label to the position of the next instruction.
    pub fn bind(&mut self, label: impl IntoLabel) -> &mut Self {
        let l = label.into_label(self);
        let here = self.insns.len();
        let name = self.label_name(l);
        match self.labels.get_mut(l.0) {
            Some(slot) => match slot.pos {
                Some(first) => self.errors.push(Error::DuplicateLabel {
                    name,
                    first,
                    second: here,
                }),
                None => slot.pos = Some(here),
            },
            // A Label from another builder: report it rather than bind something unrelated.
            None => self.errors.push(Error::UndefinedLabel { name }),
        }
        self
    }

    /// Binds the label `name` to the position of the next instruction.
    pub fn label(&mut self, name: &str) -> &mut Self {
        self.bind(name)
    }

    /// Position the label is bound to, if it is bound yet.
    pub fn label_pos(&self, label: Label) -> Option<usize> {
        self.labels.get(label.0).and_then(|s| s.pos)
    }

    /// Appends one raw instruction slot.
    pub fn raw(&mut self, insn: Insn) -> &mut Self {
        self.insns.push(insn);
        self
    }

    /// Appends raw instruction slots.
    pub fn raw_all(&mut self, insns: &[Insn]) -> &mut Self {
        self.insns.extend_from_slice(insns);
        self
    }

    fn alu(&mut self, class: u8, aop: AluOp, dst: Reg, src: Option<Reg>, imm: i32) -> &mut Self {
        let (bits, off) = aop.encoding();
        let (s, sreg) = match src {
            Some(s) => (op::X, r(s)),
            None => (op::K, 0),
        };
        self.raw(Insn::new(class | bits | s, r(dst), sreg, off, imm))
    }

    /// `dst = imm` (64-bit, sign-extended).
    pub fn mov64_imm(&mut self, dst: Reg, imm: i32) -> &mut Self {
        self.alu(op::ALU64, AluOp::Mov, dst, None, imm)
    }

    /// `dst = src` (64-bit).
    pub fn mov64_reg(&mut self, dst: Reg, src: Reg) -> &mut Self {
        self.alu(op::ALU64, AluOp::Mov, dst, Some(src), 0)
    }

    /// `wdst = imm` (32-bit, upper half zeroed).
    pub fn mov32_imm(&mut self, dst: Reg, imm: i32) -> &mut Self {
        self.alu(op::ALU, AluOp::Mov, dst, None, imm)
    }

    /// `wdst = wsrc` (32-bit, upper half zeroed).
    pub fn mov32_reg(&mut self, dst: Reg, src: Reg) -> &mut Self {
        self.alu(op::ALU, AluOp::Mov, dst, Some(src), 0)
    }

    /// 64-bit `dst op= imm`.
    pub fn alu64_imm(&mut self, aop: AluOp, dst: Reg, imm: i32) -> &mut Self {
        self.alu(op::ALU64, aop, dst, None, imm)
    }

    /// 64-bit `dst op= src`.
    pub fn alu64_reg(&mut self, aop: AluOp, dst: Reg, src: Reg) -> &mut Self {
        self.alu(op::ALU64, aop, dst, Some(src), 0)
    }

    /// 32-bit `wdst op= imm`.
    pub fn alu32_imm(&mut self, aop: AluOp, dst: Reg, imm: i32) -> &mut Self {
        self.alu(op::ALU, aop, dst, None, imm)
    }

    /// 32-bit `wdst op= wsrc`.
    pub fn alu32_reg(&mut self, aop: AluOp, dst: Reg, src: Reg) -> &mut Self {
        self.alu(op::ALU, aop, dst, Some(src), 0)
    }

    /// 64-bit `dst = -dst`.
    pub fn neg64(&mut self, dst: Reg) -> &mut Self {
        self.raw(Insn::new(op::ALU64 | op::NEG, r(dst), 0, 0, 0))
    }

    /// 32-bit `wdst = -wdst`.
    pub fn neg32(&mut self, dst: Reg) -> &mut Self {
        self.raw(Insn::new(op::ALU | op::NEG, r(dst), 0, 0, 0))
    }

    /// `dst = (s8|s16|s32) src`, sign-extending into 64 bits (`bits` is 8, 16 or 32).
    pub fn movsx64(&mut self, dst: Reg, src: Reg, bits: i16) -> &mut Self {
        self.raw(Insn::new(
            op::ALU64 | op::MOV | op::X,
            r(dst),
            r(src),
            bits,
            0,
        ))
    }

    /// `wdst = (s8|s16) wsrc`, sign-extending into 32 bits (`bits` is 8 or 16).
    pub fn movsx32(&mut self, dst: Reg, src: Reg, bits: i16) -> &mut Self {
        self.raw(Insn::new(
            op::ALU | op::MOV | op::X,
            r(dst),
            r(src),
            bits,
            0,
        ))
    }

    /// `dst = be16/be32/be64 dst` (convert host to big endian).
    pub fn to_be(&mut self, dst: Reg, bits: i32) -> &mut Self {
        self.raw(Insn::new(op::ALU | op::END | op::TO_BE, r(dst), 0, 0, bits))
    }

    /// `dst = le16/le32/le64 dst` (convert host to little endian; truncation on this host).
    pub fn to_le(&mut self, dst: Reg, bits: i32) -> &mut Self {
        self.raw(Insn::new(op::ALU | op::END | op::TO_LE, r(dst), 0, 0, bits))
    }

    /// `dst = bswap16/32/64 dst` (unconditional byte swap, ISA v4).
    pub fn bswap(&mut self, dst: Reg, bits: i32) -> &mut Self {
        self.raw(Insn::new(op::ALU64 | op::END, r(dst), 0, 0, bits))
    }

    fn ld_imm64_src(&mut self, dst: Reg, src: u8, lo: i32, hi: i32) -> &mut Self {
        self.raw(Insn::new(op::LD_IMM64, r(dst), src, 0, lo))
            .raw(Insn::new(0, 0, 0, 0, hi))
    }

    /// `dst = value` as a two-slot 64-bit immediate load.
    pub fn ld_imm64(&mut self, dst: Reg, value: u64) -> &mut Self {
        self.ld_imm64_src(
            dst,
            op::PSEUDO_NONE,
            value as u32 as i32,
            (value >> 32) as u32 as i32,
        )
    }

    /// `dst = map` for the map with file descriptor `fd` (`BPF_PSEUDO_MAP_FD`).
    pub fn ld_map_fd(&mut self, dst: Reg, fd: i32) -> &mut Self {
        self.ld_imm64_src(dst, op::PSEUDO_MAP_FD, fd, 0)
    }

    /// `dst = &value + off` of the single-element map `fd` (`BPF_PSEUDO_MAP_VALUE`).
    pub fn ld_map_value(&mut self, dst: Reg, fd: i32, off: u32) -> &mut Self {
        self.ld_imm64_src(dst, op::PSEUDO_MAP_VALUE, fd, off as i32)
    }

    /// `dst = map` for entry `idx` of the load's fd array (`BPF_PSEUDO_MAP_IDX`).
    pub fn ld_map_idx(&mut self, dst: Reg, idx: i32) -> &mut Self {
        self.ld_imm64_src(dst, op::PSEUDO_MAP_IDX, idx, 0)
    }

    /// `dst = &value + off` of fd-array entry `idx` (`BPF_PSEUDO_MAP_IDX_VALUE`).
    pub fn ld_map_idx_value(&mut self, dst: Reg, idx: i32, off: u32) -> &mut Self {
        self.ld_imm64_src(dst, op::PSEUDO_MAP_IDX_VALUE, idx, off as i32)
    }

    /// `dst = &kernel_var` for the vmlinux BTF id of a variable (`BPF_PSEUDO_BTF_ID`).
    pub fn ld_btf_id(&mut self, dst: Reg, btf_id: i32) -> &mut Self {
        self.ld_imm64_src(dst, op::PSEUDO_BTF_ID, btf_id, 0)
    }

    /// `dst = &subprogram` at `label`, e.g. a `bpf_loop` callback (`BPF_PSEUDO_FUNC`).
    pub fn ld_func(&mut self, dst: Reg, label: impl IntoLabel) -> &mut Self {
        let l = label.into_label(self);
        self.fixups.push((self.insns.len(), l, Field::Imm));
        self.ld_imm64_src(dst, op::PSEUDO_FUNC, 0, 0)
    }

    /// `dst = *(size *)(src + off)`.
    pub fn load(&mut self, size: Size, dst: Reg, src: Reg, off: i16) -> &mut Self {
        self.raw(Insn::new(
            op::LDX | op::MEM | size.bits(),
            r(dst),
            r(src),
            off,
            0,
        ))
    }

    /// `dst = *(s8|s16|s32 *)(src + off)`, sign-extending (ISA v4).
    pub fn load_sx(&mut self, size: Size, dst: Reg, src: Reg, off: i16) -> &mut Self {
        self.raw(Insn::new(
            op::LDX | op::MEMSX | size.bits(),
            r(dst),
            r(src),
            off,
            0,
        ))
    }

    /// `*(size *)(dst + off) = src`.
    pub fn store_reg(&mut self, size: Size, dst: Reg, off: i16, src: Reg) -> &mut Self {
        self.raw(Insn::new(
            op::STX | op::MEM | size.bits(),
            r(dst),
            r(src),
            off,
            0,
        ))
    }

    /// `*(size *)(dst + off) = imm`.
    pub fn store_imm(&mut self, size: Size, dst: Reg, off: i16, imm: i32) -> &mut Self {
        self.raw(Insn::new(
            op::ST | op::MEM | size.bits(),
            r(dst),
            0,
            off,
            imm,
        ))
    }

    /// An atomic operation on `*(size *)(dst + off)` with `src` (size W or DW).
    pub fn atomic(&mut self, aop: AtomicOp, size: Size, dst: Reg, off: i16, src: Reg) -> &mut Self {
        self.raw(Insn::new(
            op::STX | op::ATOMIC | size.bits(),
            r(dst),
            r(src),
            off,
            aop.imm(),
        ))
    }

    /// `lock *(size *)(dst + off) += src`.
    pub fn atomic_add(&mut self, size: Size, dst: Reg, off: i16, src: Reg) -> &mut Self {
        self.atomic(AtomicOp::Add, size, dst, off, src)
    }

    /// `dst = load_acquire((size *)(src + off))`.
    pub fn load_acquire(&mut self, size: Size, dst: Reg, src: Reg, off: i16) -> &mut Self {
        self.raw(Insn::new(
            op::STX | op::ATOMIC | size.bits(),
            r(dst),
            r(src),
            off,
            op::LOAD_ACQ,
        ))
    }

    /// `store_release((size *)(dst + off), src)`.
    pub fn store_release(&mut self, size: Size, dst: Reg, off: i16, src: Reg) -> &mut Self {
        self.raw(Insn::new(
            op::STX | op::ATOMIC | size.bits(),
            r(dst),
            r(src),
            off,
            op::STORE_REL,
        ))
    }

    /// Legacy `r0 = *(size *)skb[imm]` (socket filters).
    pub fn ld_abs(&mut self, size: Size, imm: i32) -> &mut Self {
        self.raw(Insn::new(op::LD | op::ABS | size.bits(), 0, 0, 0, imm))
    }

    /// Legacy `r0 = *(size *)skb[src + imm]` (socket filters).
    pub fn ld_ind(&mut self, size: Size, src: Reg, imm: i32) -> &mut Self {
        self.raw(Insn::new(op::LD | op::IND | size.bits(), 0, r(src), 0, imm))
    }

    /// `dst = addr_space_cast(src, to, from)`: converts an arena pointer between address
    /// spaces (ISA v4, arena maps).
    pub fn addr_space_cast(&mut self, dst: Reg, src: Reg, to: u16, from: u16) -> &mut Self {
        let imm = ((u32::from(to) << 16) | u32::from(from)) as i32;
        self.raw(Insn::new(
            op::ALU64 | op::MOV | op::X,
            r(dst),
            r(src),
            op::ADDR_SPACE_CAST,
            imm,
        ))
    }

    /// `may_goto label`: jumps to `label` once the verifier-managed loop budget runs out.
    pub fn may_goto(&mut self, label: impl IntoLabel) -> &mut Self {
        let l = label.into_label(self);
        self.jump(op::JMP | op::JCOND, 0, op::MAY_GOTO, 0, l, Field::Off)
    }

    /// Calls the helper with the given id (see [`crate::helpers`]).
    pub fn call_helper(&mut self, id: u32) -> &mut Self {
        self.raw(Insn::new(op::JMP | op::CALL, 0, 0, 0, id as i32))
    }

    /// Calls a kernel function by BTF id; `btf_fd_idx` selects a module BTF in the fd array
    /// (0 for vmlinux).
    pub fn call_kfunc(&mut self, btf_id: i32, btf_fd_idx: i16) -> &mut Self {
        self.raw(Insn::new(
            op::JMP | op::CALL,
            0,
            op::PSEUDO_KFUNC_CALL,
            btf_fd_idx,
            btf_id,
        ))
    }

    /// A bpf-to-bpf call of the subprogram at `label`.
    pub fn call_label(&mut self, label: impl IntoLabel) -> &mut Self {
        let l = label.into_label(self);
        self.fixups.push((self.insns.len(), l, Field::Imm));
        self.raw(Insn::new(op::JMP | op::CALL, 0, op::PSEUDO_CALL, 0, 0))
    }

    /// Returns from the program or subprogram with `r0`.
    pub fn exit(&mut self) -> &mut Self {
        self.raw(Insn::new(op::JMP | op::EXIT, 0, 0, 0, 0))
    }

    fn jump(&mut self, code: u8, dst: u8, src: u8, imm: i32, label: Label, f: Field) -> &mut Self {
        self.fixups.push((self.insns.len(), label, f));
        self.raw(Insn::new(code, dst, src, 0, imm))
    }

    /// `goto label`.
    pub fn jmp(&mut self, label: impl IntoLabel) -> &mut Self {
        let l = label.into_label(self);
        self.jump(op::JMP | op::JA, 0, 0, 0, l, Field::Off)
    }

    /// `gotol label`: an unconditional jump with a 32-bit offset (ISA v4).
    pub fn jmp_long(&mut self, label: impl IntoLabel) -> &mut Self {
        let l = label.into_label(self);
        self.jump(op::JMP32 | op::JA, 0, 0, 0, l, Field::Imm)
    }

    /// `if reg <op> imm goto label` (64-bit compare).
    pub fn jmp_imm(&mut self, jop: JmpOp, reg: Reg, imm: i32, label: impl IntoLabel) -> &mut Self {
        let l = label.into_label(self);
        self.jump(op::JMP | jop.bits() | op::K, r(reg), 0, imm, l, Field::Off)
    }

    /// `if a <op> b goto label` (64-bit compare).
    pub fn jmp_reg(&mut self, jop: JmpOp, a: Reg, b: Reg, label: impl IntoLabel) -> &mut Self {
        let l = label.into_label(self);
        self.jump(op::JMP | jop.bits() | op::X, r(a), r(b), 0, l, Field::Off)
    }

    /// `if wreg <op> imm goto label` (32-bit compare).
    pub fn jmp32_imm(
        &mut self,
        jop: JmpOp,
        reg: Reg,
        imm: i32,
        label: impl IntoLabel,
    ) -> &mut Self {
        let l = label.into_label(self);
        self.jump(
            op::JMP32 | jop.bits() | op::K,
            r(reg),
            0,
            imm,
            l,
            Field::Off,
        )
    }

    /// `if wa <op> wb goto label` (32-bit compare).
    pub fn jmp32_reg(&mut self, jop: JmpOp, a: Reg, b: Reg, label: impl IntoLabel) -> &mut Self {
        let l = label.into_label(self);
        self.jump(op::JMP32 | jop.bits() | op::X, r(a), r(b), 0, l, Field::Off)
    }

    /// Resolves every label reference and returns the instructions.
    pub fn build(&self) -> Result<Vec<Insn>, Error> {
        if let Some(e) = self.errors.first() {
            return Err(e.clone());
        }
        let mut out = self.insns.clone();
        for &(index, label, field) in &self.fixups {
            let name = || self.label_name(label);
            let target = self
                .label_pos(label)
                .ok_or_else(|| Error::UndefinedLabel { name: name() })?;
            let offset = target as i64 - index as i64 - 1;
            let Some(insn) = out.get_mut(index) else {
                return Err(Error::UndefinedLabel { name: name() });
            };
            match field {
                Field::Off => {
                    insn.off = i16::try_from(offset).map_err(|_| Error::JumpOutOfRange {
                        index,
                        name: name(),
                        offset,
                    })?
                }
                Field::Imm => {
                    insn.imm = i32::try_from(offset).map_err(|_| Error::JumpOutOfRange {
                        index,
                        name: name(),
                        offset,
                    })?
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_and_backward_labels() {
        let mut b = Builder::new();
        let top = b.new_label();
        b.bind(top)
            .mov64_imm(Reg::R0, 1)
            .jmp_imm(JmpOp::Gt, Reg::R1, 5, "end")
            .jmp_reg(JmpOp::Eq, Reg::R1, Reg::R2, top)
            .jmp32_reg(JmpOp::Eq, Reg::R1, Reg::R2, "end")
            .label("end")
            .exit();
        let insns = b.build().unwrap();
        assert_eq!(insns[1].off, 2);
        assert_eq!(insns[1].code, 0x25);
        assert_eq!(insns[2].off, -3);
        assert_eq!(insns[2].code, 0x1d);
        assert_eq!(insns[3].off, 0);
        assert_eq!(insns[3].code, 0x1e);
    }

    #[test]
    fn label_errors() {
        let mut b = Builder::new();
        b.jmp("nowhere").exit();
        assert_eq!(
            b.build(),
            Err(Error::UndefinedLabel {
                name: "nowhere".into()
            })
        );
        let mut b = Builder::new();
        b.label("x").exit().label("x");
        assert!(matches!(
            b.build(),
            Err(Error::DuplicateLabel {
                first: 0,
                second: 1,
                ..
            })
        ));
        let mut b = Builder::new();
        let l = b.new_label();
        b.jmp(l);
        assert_eq!(b.build(), Err(Error::UndefinedLabel { name: "#0".into() }));
    }

    #[test]
    fn out_of_range_jump_and_gotol() {
        let mut b = Builder::new();
        b.jmp("far");
        for _ in 0..40000 {
            b.mov64_imm(Reg::R0, 0);
        }
        b.label("far").exit();
        assert!(matches!(
            b.build(),
            Err(Error::JumpOutOfRange {
                index: 0,
                offset: 40000,
                ..
            })
        ));
        let mut b = Builder::new();
        b.jmp_long("far");
        for _ in 0..40000 {
            b.mov64_imm(Reg::R0, 0);
        }
        b.label("far").exit();
        let insns = b.build().unwrap();
        assert_eq!(insns[0].code, 0x06);
        assert_eq!(insns[0].imm, 40000);
    }

    #[test]
    fn maps_calls_and_subprograms() {
        let mut b = Builder::new();
        b.ld_map_fd(Reg::R1, 7)
            .ld_map_value(Reg::R2, 8, 16)
            .call_label("sub")
            .ld_func(Reg::R3, "sub")
            .call_helper(crate::helpers::MAP_LOOKUP_ELEM)
            .exit()
            .label("sub")
            .mov64_imm(Reg::R0, 0)
            .exit();
        let i = b.build().unwrap();
        assert_eq!((i[0].code, i[0].src, i[0].imm, i[1].imm), (0x18, 1, 7, 0));
        assert_eq!((i[2].src, i[2].imm, i[3].imm), (2, 8, 16));
        assert_eq!((i[4].code, i[4].src, i[4].imm), (0x85, 1, 4));
        assert_eq!((i[5].src, i[5].imm), (4, 3));
        assert_eq!((i[7].code, i[7].src, i[7].imm), (0x85, 0, 1));
    }

    #[test]
    fn alu_variants_encode() {
        let mut b = Builder::new();
        b.alu64_reg(AluOp::Sdiv, Reg::R1, Reg::R2)
            .alu32_imm(AluOp::Smod, Reg::R1, 3)
            .movsx64(Reg::R1, Reg::R2, 8)
            .bswap(Reg::R1, 16)
            .to_be(Reg::R1, 16)
            .load_sx(Size::B, Reg::R0, Reg::R1, 0)
            .atomic(AtomicOp::Cmpxchg, Size::DW, Reg::R1, 0, Reg::R2);
        b.addr_space_cast(Reg::R1, Reg::R2, 1, 0)
            .may_goto("end")
            .label("end");
        let i = b.build().unwrap();
        assert_eq!((i[7].code, i[7].off, i[7].imm), (0xbf, 1, 0x10000));
        assert_eq!((i[8].code, i[8].src, i[8].off), (0xe5, 0, 0));
        assert_eq!((i[0].code, i[0].off), (0x3f, 1));
        assert_eq!((i[1].code, i[1].off), (0x94, 1));
        assert_eq!((i[2].code, i[2].off), (0xbf, 8));
        assert_eq!((i[3].code, i[3].imm), (0xd7, 16));
        assert_eq!((i[4].code, i[4].imm), (0xdc, 16));
        assert_eq!(i[5].code, 0x91);
        assert_eq!((i[6].code, i[6].imm), (0xdb, 0xf1));
    }
}
