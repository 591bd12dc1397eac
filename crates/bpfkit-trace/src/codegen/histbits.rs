//! `hist(v, k)`: log2 histograms whose power-of-two ranges are split into `2^k` equal
//! buckets (`k` from 0 to 5; 0 is the plain `hist(v)`). Bucket numbers: 0 for negatives,
//! 1 for zero, `1 + v` while `v < 2^(k+1)` (each value its own bucket), then `2^k` buckets
//! for each further power of two. [`crate::runtime`] turns them back into ranges with
//! [`bucket_range`].

use super::*;

/// The constant `k` of the first two-argument `hist(v, k)` assigned to `@name`, when above 0.
pub(super) fn hist_bits(prog: &Program, name: &str) -> Option<i64> {
    fn in_block(b: &Block, name: &str) -> Option<i64> {
        b.stmts.iter().find_map(|s| in_stmt(s, name))
    }
    fn in_stmt(s: &Stmt, name: &str) -> Option<i64> {
        match &s.kind {
            StmtKind::Assign { target, value, .. } => match (&target.kind, &value.kind) {
                (ExprKind::Map { name: n, .. }, ExprKind::Call { name: f, args })
                    if n == name && f.name == "hist" && args.len() == 2 =>
                {
                    const_eval(args.get(1)?).filter(|k| (1..=5).contains(k))
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
    prog.probes.iter().find_map(|p| in_block(&p.body, name))
}

/// The values bucket `b` of `hist(_, k)` holds: `(min, max)`, inclusive; `None` for the
/// open end of the negative bucket.
pub fn bucket_range(b: u64, k: u32) -> (Option<i64>, Option<i64>) {
    let exact = 1u64 << (k + 1);
    match b {
        0 => (None, Some(-1)),
        b if b <= exact => {
            let v = (b - 1) as i64;
            (Some(v), Some(v))
        }
        b => {
            let j = b - 1 - exact;
            let e = u64::from(k) + 1 + (j >> k);
            let sub = j & ((1u64 << k) - 1);
            let width = 1i64
                .checked_shl((e - u64::from(k)) as u32)
                .unwrap_or(i64::MAX);
            let min = ((1i64 << k) + sub as i64).saturating_mul(width);
            (Some(min), Some(min.saturating_add(width - 1)))
        }
    }
}

impl Gen<'_, '_> {
    /// The bucket of `x` in `hist(_, k)`.
    pub(super) fn fine_log2_bucket(&mut self, x: V, k: i64) -> V {
        let b = self.imm(0);
        let done = self.l();
        self.emit(Op::Br(JmpOp::Slt, x, Src::Imm(0), done));
        // Zero and the small values each have their own bucket: 1 + v.
        self.emit(Op::Mov(b, x));
        self.alu(AluOp::Add, b, Src::Imm(1));
        self.emit(Op::Br(JmpOp::Lt, x, Src::Imm(1 << (k + 1)), done));
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
        // lg > k here: sub = (x >> (lg - k)) - 2^k,
        // b = 1 + 2^(k+1) + (lg - k - 1) * 2^k + sub.
        let sh = self.copy(lg);
        self.alu(AluOp::Sub, sh, Src::Imm(k as i32));
        let sub = self.copy(x);
        self.alu(AluOp::Rsh, sub, Src::V(sh));
        self.alu(AluOp::Sub, sub, Src::Imm(1 << k));
        self.emit(Op::Mov(b, lg));
        self.alu(AluOp::Sub, b, Src::Imm(k as i32 + 1));
        self.alu(AluOp::Lsh, b, Src::Imm(k as i32));
        self.alu(AluOp::Add, b, Src::V(sub));
        self.alu(AluOp::Add, b, Src::Imm(1 + (1 << (k + 1))));
        self.emit(Op::Label(done));
        b
    }
}

#[cfg(test)]
mod tests {
    use super::bucket_range;

    #[test]
    fn ranges_match_bpftrace_hist_with_three_bits() {
        assert_eq!(bucket_range(0, 3), (None, Some(-1)));
        assert_eq!(bucket_range(1, 3), (Some(0), Some(0)));
        assert_eq!(bucket_range(16, 3), (Some(15), Some(15)));
        assert_eq!(bucket_range(17, 3), (Some(16), Some(17)));
        assert_eq!(bucket_range(25, 3), (Some(32), Some(35)));
        assert_eq!(bucket_range(64, 3), (Some(960), Some(1023)));
    }
}
