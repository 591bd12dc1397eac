//! The code generator's virtual-register IR and its lowering to eBPF: live intervals over the
//! linear op order (stretched across loop back edges), linear-scan allocation into r2–r5 for
//! values that never live across a helper call and r6–r9 for those that do, spilling the
//! interval that ends last to an 8-byte stack slot, with slots reused once their interval ends.
//! r0 and r1 stay free as scratch for reloading spilled operands; a helper's arguments are
//! moved into r1–r5 right before the call, straight from their register or slot.

use crate::diag::Span;
use bpfkit_insn::{AluOp, Builder, Insn, JmpOp, Label, Reg, Size};
use std::collections::HashMap;

/// A virtual register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct V(pub u32);

/// A branch target inside one program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct L(pub u32);

/// A register or an immediate operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Src {
    /// A virtual register.
    V(V),
    /// A 32-bit immediate (sign-extended).
    Imm(i32),
}

/// A helper argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// A virtual register.
    V(V),
    /// A constant.
    Imm(i64),
    /// The map with this index in the program's fd array.
    Map(i32),
}

/// One IR operation.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// `v = r1` (the context) at program entry.
    Entry(V),
    /// `v = constant`.
    Imm(V, i64),
    /// `d = s`.
    Mov(V, V),
    /// `d OP= s` (64-bit).
    Alu(AluOp, V, Src),
    /// `d = -d`.
    Neg(V),
    /// Byte swap of the low `bits` bits of `d`.
    Bswap(V, i32),
    /// `d = *(size *)(base + off)`.
    Load(Size, V, V, i16),
    /// `*(size *)(base + off) = src`.
    Store(Size, V, i16, Src),
    /// `d = &map` (for map-value arithmetic on array maps).
    MapPtr(V, i32),
    /// `d = &value + off` of the single-element array map with this index.
    MapValue(V, i32, u32),
    /// `d = &kernel_var` for this vmlinux BTF id (`BPF_PSEUDO_BTF_ID`).
    BtfVar(V, i32),
    /// A helper call; the result lands in `ret`.
    Call {
        /// Helper id.
        helper: u32,
        /// Arguments r1…r5.
        args: Vec<Arg>,
        /// Where r0 goes.
        ret: Option<V>,
    },
    /// A branch target.
    Label(L),
    /// `goto`.
    Jmp(L),
    /// `if a OP b goto`.
    Br(JmpOp, V, Src, L),
    /// `return imm`.
    Exit(i32),
}

/// Where an interval lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loc {
    Reg(Reg),
    Slot(i16),
}

fn uses(op: &Op, out: &mut Vec<V>) {
    match op {
        Op::Entry(v)
        | Op::Imm(v, _)
        | Op::Neg(v)
        | Op::Bswap(v, _)
        | Op::MapPtr(v, _)
        | Op::MapValue(v, _, _)
        | Op::BtfVar(v, _) => out.push(*v),
        Op::Mov(a, b) | Op::Load(_, a, b, _) => out.extend([*a, *b]),
        Op::Alu(_, a, s) | Op::Store(_, a, _, s) | Op::Br(_, a, s, _) => {
            out.push(*a);
            if let Src::V(b) = s {
                out.push(*b);
            }
        }
        Op::Call { args, ret, .. } => {
            out.extend(args.iter().filter_map(|a| match a {
                Arg::V(v) => Some(*v),
                _ => None,
            }));
            out.extend(ret.iter().copied());
        }
        Op::Label(_) | Op::Jmp(_) | Op::Exit(_) => {}
    }
}

#[derive(Clone, Copy, Debug)]
struct Interval {
    v: V,
    start: usize,
    end: usize,
    crosses_call: bool,
}

/// Live intervals of every register of `ops`, in start order.
fn intervals(ops: &[Op]) -> Vec<Interval> {
    let mut range: HashMap<V, (usize, usize)> = HashMap::new();
    let mut tmp = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        tmp.clear();
        uses(op, &mut tmp);
        for v in &tmp {
            let e = range.entry(*v).or_insert((i, i));
            e.0 = e.0.min(i);
            e.1 = e.1.max(i);
        }
    }
    let labels = label_positions(ops);
    let back_edges: Vec<(usize, usize)> = ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| match op {
            Op::Jmp(l) | Op::Br(_, _, _, l) => labels.get(l).filter(|&&t| t < i).map(|&t| (t, i)),
            _ => None,
        })
        .collect();
    // A value live into a loop stays live until the back edge, whatever its last use.
    loop {
        let mut changed = false;
        for &(top, bottom) in &back_edges {
            for r in range.values_mut() {
                if r.0 < top && r.1 >= top && r.1 < bottom {
                    r.1 = bottom;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let calls: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| matches!(op, Op::Call { .. }).then_some(i))
        .collect();
    let mut out: Vec<Interval> = range
        .into_iter()
        .map(|(v, (start, end))| Interval {
            v,
            start,
            end,
            crosses_call: calls.iter().any(|&c| start < c && end >= c),
        })
        .collect();
    out.sort_by_key(|i| (i.start, i.v));
    out
}

const CALLER: [Reg; 4] = [Reg::R2, Reg::R3, Reg::R4, Reg::R5];
const CALLEE: [Reg; 4] = [Reg::R6, Reg::R7, Reg::R8, Reg::R9];
const ARG_REGS: [Reg; 5] = [Reg::R1, Reg::R2, Reg::R3, Reg::R4, Reg::R5];

/// The allocation: a location per register and the stack bytes the spill slots use.
#[derive(Debug)]
pub struct Allocation {
    locs: HashMap<V, Loc>,
    /// Bytes of stack used by spill slots.
    pub stack_bytes: u32,
    /// Registers that ended on the stack.
    pub spilled: usize,
}

/// Linear-scan allocation of `ops`' registers.
pub fn allocate(ops: &[Op]) -> Allocation {
    let ivs = intervals(ops);
    let mut free_caller: Vec<Reg> = CALLER.iter().rev().copied().collect();
    let mut free_callee: Vec<Reg> = CALLEE.iter().rev().copied().collect();
    let mut free_slots: Vec<i16> = Vec::new();
    let mut next_slot: i16 = 0;
    let mut active: Vec<Interval> = Vec::new();
    let mut locs: HashMap<V, Loc> = HashMap::new();
    let mut spilled = 0;
    let mut new_slot = |free: &mut Vec<i16>| {
        free.pop().unwrap_or_else(|| {
            next_slot += 1;
            -8 * next_slot
        })
    };
    for iv in ivs {
        active.retain(|a| {
            if a.end < iv.start {
                match locs.get(&a.v) {
                    Some(Loc::Reg(r)) if CALLER.contains(r) => free_caller.push(*r),
                    Some(Loc::Reg(r)) => free_callee.push(*r),
                    Some(Loc::Slot(s)) => free_slots.push(*s),
                    None => {}
                }
                false
            } else {
                true
            }
        });
        let reg = if iv.crosses_call {
            free_callee.pop()
        } else {
            free_caller.pop().or_else(|| free_callee.pop())
        };
        let loc = match reg {
            Some(r) => Loc::Reg(r),
            None => {
                // Spill whichever usable interval ends last: it blocks a register longest.
                let victim = active
                    .iter()
                    .filter(|a| match locs.get(&a.v) {
                        Some(Loc::Reg(r)) => !iv.crosses_call || CALLEE.contains(r),
                        _ => false,
                    })
                    .max_by_key(|a| a.end)
                    .copied();
                spilled += 1;
                match victim {
                    Some(vi) if vi.end > iv.end => {
                        // The victim moves to the stack for its whole interval, which began
                        // before the owners of freed slots ended: it needs a fresh slot.
                        let slot = new_slot(&mut Vec::new());
                        let r = locs.insert(vi.v, Loc::Slot(slot));
                        r.unwrap_or(Loc::Slot(slot))
                    }
                    _ => Loc::Slot(new_slot(&mut free_slots)),
                }
            }
        };
        locs.insert(iv.v, loc);
        active.push(iv);
    }
    let stack_bytes = locs
        .values()
        .filter_map(|l| match l {
            Loc::Slot(s) => Some(u32::from(s.unsigned_abs())),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    Allocation {
        locs,
        stack_bytes,
        spilled,
    }
}

fn imm_fits(v: i64) -> Option<i32> {
    i32::try_from(v).ok()
}

struct Lower<'a> {
    b: Builder,
    alloc: &'a Allocation,
    labels: HashMap<L, Label>,
}

impl Lower<'_> {
    fn loc(&self, v: V) -> Loc {
        self.alloc
            .locs
            .get(&v)
            .copied()
            .unwrap_or(Loc::Reg(Reg::R0))
    }

    /// The register holding `v`, reloading a spilled one into `scratch`.
    fn read(&mut self, v: V, scratch: Reg) -> Reg {
        match self.loc(v) {
            Loc::Reg(r) => r,
            Loc::Slot(s) => {
                self.b.load(Size::DW, scratch, Reg::R10, s);
                scratch
            }
        }
    }

    /// The register to compute `v` into (`scratch` when spilled; see [`Lower::write`]).
    fn target(&self, v: V, scratch: Reg) -> Reg {
        match self.loc(v) {
            Loc::Reg(r) => r,
            Loc::Slot(_) => scratch,
        }
    }

    fn write(&mut self, v: V, from: Reg) {
        if let Loc::Slot(s) = self.loc(v) {
            self.b.store_reg(Size::DW, Reg::R10, s, from);
        }
    }

    fn label(&mut self, l: L) -> Label {
        if let Some(x) = self.labels.get(&l) {
            return *x;
        }
        let x = self.b.new_label();
        self.labels.insert(l, x);
        x
    }

    fn imm(&mut self, r: Reg, v: i64) {
        match imm_fits(v) {
            Some(i) => self.b.mov64_imm(r, i),
            None => self.b.ld_imm64(r, v as u64),
        };
    }

    fn op(&mut self, op: &Op) {
        match op {
            Op::Entry(v) => match self.loc(*v) {
                Loc::Reg(r) => {
                    self.b.mov64_reg(r, Reg::R1);
                }
                Loc::Slot(s) => {
                    self.b.store_reg(Size::DW, Reg::R10, s, Reg::R1);
                }
            },
            Op::Imm(v, x) => {
                let t = self.target(*v, Reg::R0);
                self.imm(t, *x);
                self.write(*v, t);
            }
            Op::Mov(d, s) => {
                let sr = self.read(*s, Reg::R1);
                match self.loc(*d) {
                    Loc::Reg(r) => {
                        if r != sr {
                            self.b.mov64_reg(r, sr);
                        }
                    }
                    Loc::Slot(o) => {
                        self.b.store_reg(Size::DW, Reg::R10, o, sr);
                    }
                }
            }
            Op::Alu(aop, d, s) => {
                let dr = self.read(*d, Reg::R0);
                match s {
                    Src::V(sv) => {
                        let sr = self.read(*sv, Reg::R1);
                        self.b.alu64_reg(*aop, dr, sr);
                    }
                    Src::Imm(i) => {
                        self.b.alu64_imm(*aop, dr, *i);
                    }
                }
                self.write(*d, dr);
            }
            Op::Neg(d) => {
                let dr = self.read(*d, Reg::R0);
                self.b.neg64(dr);
                self.write(*d, dr);
            }
            Op::Bswap(d, bits) => {
                let dr = self.read(*d, Reg::R0);
                self.b.bswap(dr, *bits);
                self.write(*d, dr);
            }
            Op::Load(size, d, base, off) => {
                let br = self.read(*base, Reg::R1);
                let dr = self.target(*d, Reg::R0);
                self.b.load(*size, dr, br, *off);
                self.write(*d, dr);
            }
            Op::Store(size, base, off, s) => {
                let br = self.read(*base, Reg::R0);
                match s {
                    Src::V(sv) => {
                        let sr = self.read(*sv, Reg::R1);
                        self.b.store_reg(*size, br, *off, sr);
                    }
                    Src::Imm(i) => {
                        self.b.store_imm(*size, br, *off, *i);
                    }
                }
            }
            Op::MapPtr(d, idx) => {
                let dr = self.target(*d, Reg::R0);
                self.b.ld_map_idx(dr, *idx);
                self.write(*d, dr);
            }
            Op::MapValue(d, idx, off) => {
                let dr = self.target(*d, Reg::R0);
                self.b.ld_map_idx_value(dr, *idx, *off);
                self.write(*d, dr);
            }
            Op::BtfVar(d, id) => {
                let dr = self.target(*d, Reg::R0);
                self.b.ld_btf_id(dr, *id);
                self.write(*d, dr);
            }
            Op::Call { helper, args, ret } => {
                for (a, r) in args.iter().zip(ARG_REGS) {
                    match a {
                        Arg::V(v) => match self.loc(*v) {
                            Loc::Reg(x) => {
                                if x != r {
                                    self.b.mov64_reg(r, x);
                                }
                            }
                            Loc::Slot(s) => {
                                self.b.load(Size::DW, r, Reg::R10, s);
                            }
                        },
                        Arg::Imm(x) => self.imm(r, *x),
                        Arg::Map(i) => {
                            self.b.ld_map_idx(r, *i);
                        }
                    }
                }
                self.b.call_helper(*helper);
                if let Some(v) = ret {
                    match self.loc(*v) {
                        Loc::Reg(r) => {
                            self.b.mov64_reg(r, Reg::R0);
                        }
                        Loc::Slot(s) => {
                            self.b.store_reg(Size::DW, Reg::R10, s, Reg::R0);
                        }
                    }
                }
            }
            Op::Label(l) => {
                let x = self.label(*l);
                self.b.bind(x);
            }
            Op::Jmp(l) => {
                let x = self.label(*l);
                self.b.jmp(x);
            }
            Op::Br(jop, a, s, l) => {
                let x = self.label(*l);
                let ar = self.read(*a, Reg::R0);
                match s {
                    Src::V(sv) => {
                        let sr = self.read(*sv, Reg::R1);
                        self.b.jmp_reg(*jop, ar, sr, x);
                    }
                    Src::Imm(i) => {
                        self.b.jmp_imm(*jop, ar, *i, x);
                    }
                }
            }
            Op::Exit(code) => {
                self.b.mov64_imm(Reg::R0, *code);
                self.b.exit();
            }
        }
    }
}

/// Instructions and `(first instruction, span)` pairs.
pub type Lowered = (Vec<Insn>, Vec<(usize, Span)>);

/// The index in `ops` of each label.
fn label_positions(ops: &[Op]) -> HashMap<L, usize> {
    ops.iter()
        .enumerate()
        .filter_map(|(i, op)| match op {
            Op::Label(l) => Some((*l, i)),
            _ => None,
        })
        .collect()
}

/// Drops ops no path reaches (code after `exit()`, `break`, `continue`): the verifier
/// rejects unreachable instructions.
pub fn prune(ops: &[Op], spans: &[Span]) -> (Vec<Op>, Vec<Span>) {
    let labels = label_positions(ops);
    let mut seen = vec![false; ops.len()];
    let mut work = vec![0usize];
    while let Some(i) = work.pop() {
        if i >= ops.len() || seen[i] {
            continue;
        }
        seen[i] = true;
        match &ops[i] {
            Op::Jmp(l) => work.extend(labels.get(l)),
            Op::Br(_, _, _, l) => {
                work.extend(labels.get(l));
                work.push(i + 1);
            }
            Op::Exit(_) => {}
            _ => work.push(i + 1),
        }
    }
    let mut out = (Vec::new(), Vec::new());
    for (i, op) in ops.iter().enumerate() {
        if seen[i] {
            out.0.push(op.clone());
            out.1.push(spans.get(i).copied().unwrap_or_default());
        }
    }
    out
}

/// Allocates registers for `ops` and emits instructions; the second vector maps each span
/// of `spans` (one per op) to the first instruction it produced.
pub fn lower(ops: &[Op], spans: &[Span]) -> Result<Lowered, String> {
    let (ops, spans) = prune(ops, spans);
    let (ops, spans) = (&ops[..], &spans[..]);
    let alloc = allocate(ops);
    if alloc.stack_bytes > 512 {
        return Err(format!(
            "the program needs {} bytes of stack for spilled values (at most 512)",
            alloc.stack_bytes
        ));
    }
    let mut lw = Lower {
        b: Builder::new(),
        alloc: &alloc,
        labels: HashMap::new(),
    };
    let mut table = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        if let Some(s) = spans.get(i) {
            if table.last().map(|(_, t)| t) != Some(s) {
                table.push((lw.b.len(), *s));
            }
        }
        lw.op(op);
    }
    let insns = lw.b.build().map_err(|e| e.to_string())?;
    Ok((insns, table))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(ret: V) -> Op {
        Op::Call {
            helper: 5,
            args: vec![],
            ret: Some(ret),
        }
    }

    #[test]
    fn values_across_calls_get_callee_saved_registers() {
        let ops = vec![
            Op::Imm(V(0), 1),
            call(V(1)),
            Op::Alu(AluOp::Add, V(0), Src::V(V(1))),
            Op::Exit(0),
        ];
        let a = allocate(&ops);
        assert!(matches!(a.locs[&V(0)], Loc::Reg(r) if CALLEE.contains(&r)));
        assert_eq!(a.spilled, 0);
    }

    #[test]
    fn pressure_spills_and_slots_are_reused() {
        let mut ops = Vec::new();
        // Six values live across a call: two must spill.
        for i in 0..6 {
            ops.push(Op::Imm(V(i), i64::from(i)));
        }
        ops.push(call(V(100)));
        for i in 0..6 {
            ops.push(Op::Alu(AluOp::Add, V(100), Src::V(V(i))));
        }
        // Later values reuse the freed slots.
        for i in 10..16 {
            ops.push(Op::Imm(V(i), 1));
        }
        ops.push(call(V(101)));
        for i in 10..16 {
            ops.push(Op::Alu(AluOp::Add, V(101), Src::V(V(i))));
        }
        ops.push(Op::Exit(0));
        let a = allocate(&ops);
        assert_eq!(a.spilled, 4);
        assert_eq!(a.stack_bytes, 16);
        let (insns, _) = lower(&ops, &[]).unwrap();
        assert!(insns.len() > ops.len());
    }

    #[test]
    fn a_spilled_victim_never_shares_a_slot_with_an_earlier_value() {
        // v0 lives throughout; v1..v4 fill the callee-saved registers around a call, v5 is
        // spilled and dies, then v6..v9 force v0 (the longest) out to the stack.
        let mut ops = vec![Op::Entry(V(0))];
        for i in 1..=5 {
            ops.push(Op::Imm(V(i), 1));
        }
        ops.push(call(V(50)));
        for i in 1..=5 {
            ops.push(Op::Alu(AluOp::Add, V(50), Src::V(V(i))));
        }
        for i in 6..=9 {
            ops.push(Op::Imm(V(i), 1));
        }
        ops.push(call(V(51)));
        for i in 6..=9 {
            ops.push(Op::Alu(AluOp::Add, V(51), Src::V(V(i))));
        }
        ops.push(Op::Alu(AluOp::Add, V(51), Src::V(V(0))));
        ops.push(Op::Exit(0));
        let a = allocate(&ops);
        let ivs = intervals(&ops);
        for x in &ivs {
            for y in &ivs {
                let overlap = x.v != y.v && x.start <= y.end && y.start <= x.end;
                if overlap {
                    assert_ne!(a.locs[&x.v], a.locs[&y.v], "{:?} and {:?} share", x.v, y.v);
                }
            }
        }
    }

    #[test]
    fn loops_keep_outer_values_alive() {
        let ops = vec![
            Op::Imm(V(0), 0),
            Op::Imm(V(1), 10),
            Op::Label(L(0)),
            Op::Alu(AluOp::Add, V(0), Src::Imm(1)),
            Op::Imm(V(2), 5),
            Op::Alu(AluOp::Add, V(2), Src::Imm(1)),
            Op::Br(JmpOp::Lt, V(0), Src::V(V(1)), L(0)),
            Op::Exit(0),
        ];
        let ivs = intervals(&ops);
        let v1 = ivs.iter().find(|i| i.v == V(1)).unwrap();
        assert_eq!(v1.end, 6);
        let a = allocate(&ops);
        assert_ne!(a.locs[&V(2)], a.locs[&V(0)]);
        assert_ne!(a.locs[&V(2)], a.locs[&V(1)]);
    }
}
