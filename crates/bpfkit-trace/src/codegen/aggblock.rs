//! `@m = { let $a = 100; avg($a) }`: a block whose value is an aggregation call runs its
//! statements, then updates the map with the call as `@m = avg($a)` would.

use super::*;

/// The statements before the final aggregation call of block value `value`, and the call's
/// arguments; `None` when `value` is no such block.
pub(super) fn agg_block(value: &Expr) -> Option<(&[Stmt], &[Expr])> {
    let ExprKind::Block(b) = &value.kind else {
        return None;
    };
    let (last, init) = b.stmts.split_last()?;
    match &last.kind {
        StmtKind::Expr(Expr {
            kind: ExprKind::Call { name, args },
            ..
        }) if b.has_value && AggKind::from_call(&name.name).is_some() => Some((init, args)),
        _ => None,
    }
}
