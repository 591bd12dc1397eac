//! `argN` of a USDT probe: the N-th argument spec of the site compiled to a register load
//! from `pt_regs`, a `bpf_probe_read_user` of `disp(base,index,scale)` (or of a symbol, found
//! through the load bias `ip - pc`), or a constant, then cut to the spec's size and sign- or
//! zero-extended to 64 bits.

use super::*;
use crate::usdt::{pt_regs_slot, UsdtPoint};
use bpfkit_elf::notes::UsdtArgLoc;

impl Gen<'_, '_> {
    /// The full 64-bit value of register `name` in the probed thread.
    fn usdt_reg(&mut self, name: &str, span: Span) -> R<V> {
        let Some((off, shift)) = pt_regs_slot(name) else {
            return Err(Diagnostic::error(
                span,
                format!("USDT argument register %{name} is not supported"),
            ));
        };
        let v = self.v();
        self.emit(Op::Load(Size::DW, v, self.ctx, off));
        if shift > 0 {
            self.alu(AluOp::Rsh, v, Src::Imm(shift));
        }
        Ok(v)
    }

    /// Reads `n` bytes of user memory at `addr` (zero when the read fails).
    fn read_user(&mut self, addr: V, n: u32) -> V {
        let (slot, _) = self.alloc(8);
        self.emit(Op::Store(Size::DW, slot, 0, Src::Imm(0)));
        self.call(
            h::PROBE_READ_USER,
            vec![Arg::V(slot), Arg::Imm(i64::from(n)), Arg::V(addr)],
        );
        let v = self.v();
        self.emit(Op::Load(Size::DW, v, slot, 0));
        v
    }

    pub(super) fn usdt_arg(&mut self, u: &UsdtPoint, n: usize, span: Span) -> R<Val> {
        let Some(a) = u.args.get(n).cloned() else {
            return Err(Diagnostic::error(
                span,
                format!(
                    "usdt probe {}:{} has {} argument(s): arg{n} does not exist",
                    u.provider,
                    u.name,
                    u.args.len()
                ),
            ));
        };
        let v = match &a.loc {
            UsdtArgLoc::Const(c) => self.imm(*c),
            UsdtArgLoc::Reg(r) => self.usdt_reg(r, span)?,
            UsdtArgLoc::Mem {
                base,
                index,
                disp,
                symbol,
            } => {
                let addr = match (symbol, base.as_deref()) {
                    // The symbol where the process mapped it: its address in the file plus
                    // the load bias, the probed `ip` minus the site's address in the file.
                    (Some(s), b) => {
                        let Some(&vaddr) = u.symbols.get(s) else {
                            return Err(Diagnostic::error(
                                span,
                                format!("USDT argument symbol `{s}` was not resolved"),
                            ));
                        };
                        let a = self.usdt_reg("rip", span)?;
                        let bias = self.imm(vaddr.wrapping_sub(u.pc) as i64);
                        self.alu(AluOp::Add, a, Src::V(bias));
                        if let Some(b) = b.filter(|b| *b != "rip") {
                            let bv = self.usdt_reg(b, span)?;
                            self.alu(AluOp::Add, a, Src::V(bv));
                        }
                        a
                    }
                    (None, Some(b)) => self.usdt_reg(b, span)?,
                    (None, None) => self.imm(0),
                };
                if let Some((i, scale)) = index {
                    let iv = self.usdt_reg(i, span)?;
                    if *scale > 1 {
                        self.alu(AluOp::Mul, iv, Src::Imm(i32::from(*scale)));
                    }
                    self.alu(AluOp::Add, addr, Src::V(iv));
                }
                if *disp != 0 {
                    let d = self.imm(*disp);
                    self.alu(AluOp::Add, addr, Src::V(d));
                }
                self.read_user(addr, u32::from(a.size))
            }
        };
        if a.size < 8 {
            let sh = 64 - 8 * i32::from(a.size);
            self.alu(AluOp::Lsh, v, Src::Imm(sh));
            let op = if a.signed { AluOp::Arsh } else { AluOp::Rsh };
            self.alu(op, v, Src::Imm(sh));
        }
        // Typed u64 like every argN, as bpftrace types them: a signed spec only decides the
        // extension, so `%d` prints -5 and `@x = arg0` stores the 64-bit pattern.
        Ok(Val::Int(v, false))
    }
}
