//! Record values `(a = 1, b = "x")`: laid out as the tuple of their field values (see
//! [`super::layout`]), typed [`Type::Named`] so that the runtime prints the field names.

use super::*;

impl Gen<'_, '_> {
    /// A record literal: its field values as a tuple, renamed.
    pub(super) fn record_value(&mut self, e: &Expr, fields: &[(Name, Expr)]) -> R<Val> {
        let tuple = Expr {
            kind: ExprKind::Tuple(fields.iter().map(|(_, v)| v.clone()).collect()),
            span: e.span,
        };
        match self.expr(&tuple)? {
            Val::Mem(p, Type::Tuple(ts)) => Ok(Val::Mem(
                p,
                Type::Named(fields.iter().map(|(n, _)| n.name.clone()).zip(ts).collect()),
            )),
            _ => Err(unsupported(e.span, "this record")),
        }
    }

    /// The position of `field` in `base` when `base` is a record value (`$r.a`).
    pub(super) fn record_field_index(&self, base: &Expr, field: &Name) -> Option<u64> {
        match self.checked_type(base) {
            Type::Named(fs) => fs
                .iter()
                .position(|(n, _)| *n == field.name)
                .map(|i| i as u64),
            _ => None,
        }
    }
}
