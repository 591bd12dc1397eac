//! `hist(value, k)`: a log2 histogram with each power of two split into `2^k` buckets
//! (`k` from 0 to 5; 0 is the plain `hist`). Bucket 0 holds negatives, buckets 1..=2^k the
//! values below 2^k one each, then each power `p >= k` has `2^k` buckets of width
//! `2^(p-k)`. `runtime::hist` reads the buckets back.

use super::{Gen, R, V};
use crate::ast::*;
use crate::check::const_eval;
use crate::diag::Diagnostic;
use crate::regalloc::{Op, Src};
use bpfkit_insn::{AluOp, JmpOp};

/// Largest `k` bpftrace takes.
const MAX_BITS: i64 = 5;

/// The `k` of the first two-argument `hist` call assigned to `@name` (`Ok(None)`: plain).
pub(super) fn hist_bits(prog: &Program, name: &str) -> Result<Option<i64>, Diagnostic> {
    fn in_block(b: &Block, name: &str) -> Option<Expr> {
        b.stmts.iter().find_map(|s| in_stmt(s, name))
    }
    fn in_stmt(s: &Stmt, name: &str) -> Option<Expr> {
        match &s.kind {
            StmtKind::Assign { target, value, .. } => match (&target.kind, &value.kind) {
                (ExprKind::Map { name: n, .. }, ExprKind::Call { name: f, args })
                    if n == name && f.name == "hist" =>
                {
                    args.get(1).cloned()
                }
                _ => None,
            },
            StmtKind::If { then, else_, .. } => {
                in_block(then, name).or_else(|| else_.as_ref().and_then(|b| in_block(b, name)))
            }
            StmtKind::While { body, .. }
            | StmtKind::Unroll { body, .. }
            | StmtKind::For { body, .. }
            | StmtKind::Block(body) => in_block(body, name),
            _ => None,
        }
    }
    let Some(arg) = prog.probes.iter().find_map(|p| in_block(&p.body, name)) else {
        return Ok(None);
    };
    match const_eval(&arg) {
        Some(k) if (0..=MAX_BITS).contains(&k) => Ok((k > 0).then_some(k)),
        _ => Err(Diagnostic::error(
            arg.span,
            format!("hist: bits must be a constant from 0 to {MAX_BITS}"),
        )),
    }
}

impl Gen<'_, '_> {
    /// The bucket of `x` in a `hist(_, k)` map (see the module docs).
    pub(super) fn fine_bucket(&mut self, x: V, k: i64) -> R<V> {
        let small = 1i64 << k;
        let b = self.imm(0);
        let done = self.l();
        self.emit(Op::Br(JmpOp::Slt, x, Src::Imm(0), done));
        let big = self.l();
        self.emit(Op::Br(JmpOp::Ge, x, Src::Imm(small as i32), big));
        self.emit(Op::Mov(b, x));
        self.alu(AluOp::Add, b, Src::Imm(1));
        self.emit(Op::Jmp(done));
        self.emit(Op::Label(big));
        // p = floor(log2 x), by halving steps.
        let v = self.copy(x);
        let p = self.imm(0);
        for shift in [32, 16, 8, 4, 2, 1] {
            let skip = self.l();
            let lim = self.imm(1i64 << shift);
            self.emit(Op::Br(JmpOp::Lt, v, Src::V(lim), skip));
            self.alu(AluOp::Rsh, v, Src::Imm(shift));
            self.alu(AluOp::Add, p, Src::Imm(shift));
            self.emit(Op::Label(skip));
        }
        // sh = p - k; b = 1 + 2^k + sh * 2^k + ((x - 2^p) >> sh).
        let sh = self.copy(p);
        self.alu(AluOp::Sub, sh, Src::Imm(k as i32));
        let top = self.imm(1);
        self.alu(AluOp::Lsh, top, Src::V(p));
        let r = self.copy(x);
        self.alu(AluOp::Sub, r, Src::V(top));
        self.alu(AluOp::Rsh, r, Src::V(sh));
        self.emit(Op::Mov(b, sh));
        self.alu(AluOp::Lsh, b, Src::Imm(k as i32));
        self.alu(AluOp::Add, b, Src::V(r));
        self.alu(AluOp::Add, b, Src::Imm((1 + small) as i32));
        self.emit(Op::Label(done));
        Ok(b)
    }
}
