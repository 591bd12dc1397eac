//! `tseries(value, interval, num_intervals[, agg])`: one map entry per (key, interval epoch)
//! holding the aggregated value and a sample count; the runtime keeps the newest intervals.

use super::{Gen, R};
use crate::ast::*;
use crate::check::const_eval;
use crate::regalloc::{Op, Src, V};
use bpfkit_insn::{helpers as h, AluOp, JmpOp, Size};

/// How samples of one interval are combined (the codes in `ValueKind::Agg`'s third field).
pub mod tseries_agg {
    /// The last sample (the default).
    pub const LAST: i64 = 0;
    /// Average of the samples.
    pub const AVG: i64 = 1;
    /// Largest sample.
    pub const MAX: i64 = 2;
    /// Smallest sample.
    pub const MIN: i64 = 3;
    /// Sum of the samples.
    pub const SUM: i64 = 4;
}
use tseries_agg::{
    AVG as AGG_AVG, LAST as AGG_LAST, MAX as AGG_MAX, MIN as AGG_MIN, SUM as AGG_SUM,
};

/// The code of a `tseries` aggregation name.
fn agg_code(name: &[u8]) -> Option<i64> {
    Some(match name {
        b"avg" => AGG_AVG,
        b"max" => AGG_MAX,
        b"min" => AGG_MIN,
        b"sum" => AGG_SUM,
        _ => return None,
    })
}

/// Finds `(interval, num_intervals, agg)` of the first `tseries` call assigned to `@name`.
pub(super) fn tseries_args(prog: &Program, name: &str) -> Option<(i64, i64, i64)> {
    super::hist::assigned_call(prog, name, "tseries", &|args| {
        let agg = match args.get(3).map(|a| &a.kind) {
            None => AGG_LAST,
            Some(ExprKind::Str(s)) => agg_code(s)?,
            Some(_) => return None,
        };
        Some((const_eval(args.get(1)?)?, const_eval(args.get(2)?)?, agg))
    })
}

impl Gen<'_, '_> {
    /// The interval epoch of now: `nsecs / interval`.
    /// bpftrace's test hook `BPFTRACE_DUMMY_TS_MAP=@m` takes the time from scalar map `@m`.
    pub(super) fn tseries_epoch(&mut self, interval: i64) -> R<V> {
        let dummy = std::env::var("BPFTRACE_DUMMY_TS_MAP").ok();
        let dummy = dummy.as_deref().and_then(|m| m.strip_prefix('@'));
        let t = match dummy.and_then(|m| self.map_def(m, self.span).ok()) {
            Some((mi, def)) if def.key.is_none() => {
                let k = self.key(&def, &[])?;
                self.map_read_int(mi, k)
            }
            _ => self.call(h::KTIME_GET_NS, vec![]),
        };
        let t = self.copy(t);
        let iv = self.imm(interval);
        self.alu(AluOp::Div, t, Src::V(iv));
        Ok(t)
    }

    /// Folds sample `x` into the existing value at `p` (`[value, count]`).
    pub(super) fn tseries_update(&mut self, p: V, x: V, agg: i64) -> R<()> {
        let t = self.v();
        match agg {
            AGG_AVG | AGG_SUM => {
                self.emit(Op::Load(Size::DW, t, p, 0));
                self.alu(AluOp::Add, t, Src::V(x));
                self.emit(Op::Store(Size::DW, p, 0, Src::V(t)));
            }
            AGG_MIN | AGG_MAX => {
                let set = self.l();
                let skip = self.l();
                self.emit(Op::Load(Size::DW, t, p, 8));
                self.emit(Op::Br(JmpOp::Eq, t, Src::Imm(0), set));
                self.emit(Op::Load(Size::DW, t, p, 0));
                let jop = if agg == AGG_MIN {
                    JmpOp::Sle
                } else {
                    JmpOp::Sge
                };
                self.emit(Op::Br(jop, t, Src::V(x), skip));
                self.emit(Op::Label(set));
                self.emit(Op::Store(Size::DW, p, 0, Src::V(x)));
                self.emit(Op::Label(skip));
            }
            _ => self.emit(Op::Store(Size::DW, p, 0, Src::V(x))),
        }
        self.emit(Op::Load(Size::DW, t, p, 8));
        self.alu(AluOp::Add, t, Src::Imm(1));
        self.emit(Op::Store(Size::DW, p, 8, Src::V(t)));
        Ok(())
    }
}
