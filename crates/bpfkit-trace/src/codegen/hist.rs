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

/// `pick` of the arguments of the first call to `func` assigned to `@name` that `pick` takes
/// (returns `Some` for), in source order through `if`/`else`, loops and blocks.
pub(super) fn assigned_call<T>(
    prog: &Program,
    name: &str,
    func: &str,
    pick: &dyn Fn(&[Expr]) -> Option<T>,
) -> Option<T> {
    prog.probes
        .iter()
        .find_map(|p| assigned_in_block(&p.body, name, func, pick))
}

fn assigned_in_block<T>(
    b: &Block,
    name: &str,
    func: &str,
    pick: &dyn Fn(&[Expr]) -> Option<T>,
) -> Option<T> {
    let walk = |b: &Block| assigned_in_block(b, name, func, pick);
    b.stmts.iter().find_map(|s| match &s.kind {
        StmtKind::Assign { target, value, .. } => match (&target.kind, &value.kind) {
            (ExprKind::Map { name: n, .. }, ExprKind::Call { name: f, args })
                if n == name && f.name == func =>
            {
                pick(args)
            }
            _ => None,
        },
        StmtKind::If { then, else_, .. } => walk(then).or_else(|| else_.as_ref().and_then(walk)),
        StmtKind::While { body, .. }
        | StmtKind::Unroll { body, .. }
        | StmtKind::For { body, .. }
        | StmtKind::Block(body) => walk(body),
        _ => None,
    })
}

/// The `k` of the first two-argument `hist` call assigned to `@name` (`Ok(None)`: plain).
pub(super) fn hist_bits(prog: &Program, name: &str) -> Result<Option<i64>, Diagnostic> {
    let Some(arg) = assigned_call(prog, name, "hist", &|args| args.get(1).cloned()) else {
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
    /// `floor(log2 x)` of a positive `x`, by halving steps (`x` is kept).
    pub(super) fn floor_log2(&mut self, x: V) -> V {
        let v = self.copy(x);
        let lg = self.imm(0);
        for shift in [32, 16, 8, 4, 2, 1] {
            let skip = self.l();
            let lim = self.imm(1i64 << shift);
            self.emit(Op::Br(JmpOp::Lt, v, Src::V(lim), skip));
            self.alu(AluOp::Rsh, v, Src::Imm(shift));
            self.alu(AluOp::Add, lg, Src::Imm(shift));
            self.emit(Op::Label(skip));
        }
        lg
    }

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
        let p = self.floor_log2(x);
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
