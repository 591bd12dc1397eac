//! Checks on calls that take a whole map and need it to have keys (`has_key`, `len`).

use super::Checker;
use crate::ast::*;

impl Checker<'_> {
    /// Reports `has_key(@m, …)` or `len(@m)` on a map already known to have no key, with
    /// bpftrace's wording.
    pub(super) fn keyless_map_arg(&mut self, call: &str, arg: &Expr) {
        if !matches!(call, "has_key" | "len") {
            return;
        }
        let ExprKind::Map { name, keys, .. } = &arg.kind else {
            return;
        };
        let scalar = keys.is_empty() && self.maps.get(name).is_some_and(|m| m.key.is_none());
        if scalar {
            self.err(
                arg.span,
                format!("call to {call}() expects a map with explicit keys (non-scalar map)"),
            );
        }
    }
}
