//! `for ($kv : @map) { … }` and `len(@map)`: each iteration is a call of a callback
//! subprogram by `bpf_for_each_map_elem`. The callback has its own stack frame; the integer
//! variables of the enclosing probe travel through slots of the shared per-CPU scratch
//! buffer (written before the call, read back after it), and memory variables already live
//! there. The callback is compiled separately and appended to the program; its address is
//! loaded with a placeholder map load of a negative fd-array index (which no script value
//! can produce) that [`link`] turns into a `BPF_PSEUDO_FUNC` load.

use super::layout::size_of;
use super::{unsupported, Gen, ValueKind, Var, R};
use crate::ast::{Block, Expr, ExprKind};
use crate::regalloc::{self, Arg, Lowered, Op, Src};
use crate::types::Type;
use bpfkit_insn::{helpers as h, insn::op, Insn, JmpOp, Size};

impl Gen<'_, '_> {
    /// The address of callback subprogram `id`: a map load of fd-array index `-1 - id`, a
    /// placeholder only [`link`] reads (a real map index is never negative).
    fn func_addr(&mut self, id: usize) -> super::V {
        let v = self.v();
        let idx = i32::try_from(id).map_or(i32::MIN, |n| -1 - n);
        self.emit(Op::MapPtr(v, idx));
        v
    }

    /// Compiles `for ($var : @map) body`.
    pub(super) fn for_map(&mut self, var: &str, m: &Expr, body: &Block) -> R<()> {
        let ExprKind::Map { name, .. } = &m.kind else {
            return Err(unsupported(m.span, "for over this expression"));
        };
        let (mi, def) = self.map_def(name, m.span)?;
        let (Some(kt), ValueKind::Plain(vt)) = (def.key.clone(), def.value.clone()) else {
            return Err(unsupported(
                m.span,
                "for over an aggregation or keyless map",
            ));
        };
        let (ks, vs) = (size_of(&kt), size_of(&vt));
        // Integer variables of the probe, by name, with their scratch slots.
        let mut ints: Vec<(String, super::V, bool)> = self
            .vars
            .iter()
            .filter_map(|(n, v)| match v {
                Var::Int(r, s) | Var::Slot(r, _, s) => Some((n.clone(), *r, *s)),
                Var::Mem(..) => None,
            })
            .collect();
        ints.sort_by(|a, b| a.0.cmp(&b.0));
        let (_, base) = self.alloc(8 * ints.len() as u32);
        for (i, (_, r, _)) in ints.iter().enumerate() {
            let p = self.scratch_at(base + 8 * i as u32);
            self.emit(Op::Store(Size::DW, p, 0, Src::V(*r)));
        }
        let (_, kv_off) = self.alloc(ks + vs);

        let id = self.cx.subprogs.len();
        self.cx.subprogs.push((Vec::new(), Vec::new()));
        let (top, zmax, lowered) = {
            let mut cb = Gen::new(&mut *self.cx, self.res);
            cb.span = self.span;
            cb.scratch_top = self.scratch_top;
            cb.ctx = cb.v();
            // The prologue [`link`] adds puts the key pointer in r1.
            let key = cb.ctx;
            cb.emit(Op::Entry(key));
            cb.scratch = cb.call_lookup_const_zero();
            let kv = cb.scratch_at(kv_off);
            cb.memcpy(kv, key, ks);
            let val = cb.call(h::MAP_LOOKUP_ELEM, vec![Arg::Map(mi), Arg::V(kv)]);
            let ok = cb.l();
            cb.emit(Op::Br(JmpOp::Ne, val, Src::Imm(0), ok));
            cb.emit(Op::Exit(0));
            cb.emit(Op::Label(ok));
            let vdst = cb.scratch_at(kv_off + ks);
            cb.memcpy(vdst, val, vs);
            cb.vars = self.vars.clone();
            cb.var_kptr = self.var_kptr.clone();
            cb.addr_vars = self.addr_vars.clone();
            cb.ptr_vars = self.ptr_vars.clone();
            cb.var_rooms = self.var_rooms.clone();
            for (i, (n, _, s)) in ints.iter().enumerate() {
                let p = cb.scratch_at(base + 8 * i as u32);
                let r = cb.v();
                cb.emit(Op::Load(Size::DW, r, p, 0));
                // An address-taken variable keeps its slot in the callback.
                let var = match self.vars.get(n) {
                    Some(Var::Slot(_, off, _)) => Var::Slot(r, *off, *s),
                    _ => Var::Int(r, *s),
                };
                cb.vars.insert(n.clone(), var);
            }
            cb.vars
                .insert(var.to_string(), Var::Mem(kv_off, Type::Tuple(vec![kt, vt])));
            let cont = cb.l();
            let brk = cb.l();
            cb.exit_label = brk;
            cb.loops.push((cont, brk));
            cb.block(body)?;
            for (l, rc) in [(cont, 0), (brk, 1)] {
                cb.emit(Op::Label(l));
                for (i, (n, _, _)) in ints.iter().enumerate() {
                    if let Some(Var::Int(r, _) | Var::Slot(r, _, _)) = cb.vars.get(n).cloned() {
                        let p = cb.scratch_at(base + 8 * i as u32);
                        cb.emit(Op::Store(Size::DW, p, 0, Src::V(r)));
                    }
                }
                cb.emit(Op::Exit(rc));
            }
            let lowered = regalloc::lower(&cb.ops, &cb.spans)
                .map_err(|e| super::Diagnostic::error(self.span, e))?;
            (cb.scratch_top, cb.zero_max, lowered)
        };
        self.scratch_top = self.scratch_top.max(top);
        self.zero_max = self.zero_max.max(zmax);
        if let Some(slot) = self.cx.subprogs.get_mut(id) {
            *slot = lowered;
        }
        let f = self.func_addr(id);
        self.call(
            h::FOR_EACH_MAP_ELEM,
            vec![Arg::Map(mi), Arg::V(f), Arg::Imm(0), Arg::Imm(0)],
        );
        for (i, (_, r, _)) in ints.iter().enumerate() {
            let p = self.scratch_at(base + 8 * i as u32);
            self.emit(Op::Load(Size::DW, *r, p, 0));
        }
        Ok(())
    }

    /// `len(@map)`: the number of elements `bpf_for_each_map_elem` visits with a callback
    /// that always continues.
    pub(super) fn map_len(&mut self, mi: i32) -> super::V {
        let id = self.cx.subprogs.len();
        let ret = vec![
            Insn::new(op::ALU64 | op::MOV | op::K, 0, 0, 0, 0),
            exit_insn(),
        ];
        self.cx.subprogs.push((ret, Vec::new()));
        let f = self.func_addr(id);
        self.call(
            h::FOR_EACH_MAP_ELEM,
            vec![Arg::Map(mi), Arg::V(f), Arg::Imm(0), Arg::Imm(0)],
        )
    }
}

fn exit_insn() -> Insn {
    Insn::new(op::JMP | op::EXIT, 0, 0, 0, 0)
}

/// Appends the callback subprograms to the probe's program (each behind a prologue moving
/// the key pointer from r2 to r1) and resolves the placeholder loads of their addresses.
pub(super) fn link(main: Lowered, subs: Vec<Lowered>) -> (Lowered, Vec<u32>) {
    let (mut insns, mut spans) = main;
    let mut starts = Vec::new();
    for (sub, sspans) in subs {
        let start = insns.len();
        starts.push(start);
        insns.push(Insn::new(op::ALU64 | op::MOV | op::X, 1, 2, 0, 0));
        spans.extend(sspans.into_iter().map(|(i, s)| (i + start + 1, s)));
        insns.extend(sub);
    }
    for i in 0..insns.len().saturating_sub(1) {
        if !insns[i].is_ld_imm64() || insns[i].src != op::PSEUDO_MAP_IDX || insns[i].imm >= 0 {
            continue;
        }
        let n = -1 - i64::from(insns[i].imm);
        if let Some(&start) = usize::try_from(n).ok().and_then(|n| starts.get(n)) {
            insns[i].src = op::PSEUDO_FUNC;
            insns[i].imm = start as i32 - i as i32 - 1;
            insns[i + 1].imm = 0;
        }
    }
    let funcs = starts.iter().map(|&s| s as u32).collect();
    ((insns, spans), funcs)
}

/// The program BTF and `bpf_func_info` records (8 bytes each) a program with callback
/// subprograms needs: the kernel only accepts `BPF_PSEUDO_FUNC` loads with func_info. Every
/// function gets a static `long f(long)` type (named `probe`, `cb1`, …, as program names
/// need not be identifiers); `funcs` are the callbacks' first instructions.
pub fn func_btf(funcs: &[u32]) -> Result<(Vec<u8>, Vec<u8>), String> {
    let build = || -> bpfkit_btf::Result<(Vec<u8>, Vec<u8>)> {
        let mut b = bpfkit_btf::BtfBuilder::new();
        let long = b.add_int("long", 8, bpfkit_btf::INT_SIGNED)?;
        let proto = b.add_func_proto(long, &[("a", long)])?;
        let mut info = Vec::new();
        for (i, off) in std::iter::once(0).chain(funcs.iter().copied()).enumerate() {
            let n = if i == 0 {
                "probe".to_string()
            } else {
                format!("cb{i}")
            };
            let id = b.add_func(&n, proto, bpfkit_btf::FuncLinkage::Static)?;
            info.extend(off.to_le_bytes());
            info.extend(id.to_le_bytes());
        }
        Ok((b.to_bytes(), info))
    };
    build().map_err(|e| e.to_string())
}
