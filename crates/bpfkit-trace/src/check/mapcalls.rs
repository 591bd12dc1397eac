//! Checks on calls that take a whole map and need it to have keys (`has_key`, `len`).

use super::Checker;
use crate::ast::*;
use crate::types::Type;

/// A type as bpftrace names it in key mismatches: an integer literal takes the smallest
/// signed type that holds it (`int8` for `1`), tuples list their elements.
fn shown_type(
    e: &Expr,
    t: &Type,
    types: &std::collections::HashMap<crate::diag::Span, Type>,
) -> String {
    match (&e.kind, t) {
        (ExprKind::Int(v), _) => match *v {
            0..=0x7f => "int8".to_string(),
            0x80..=0x7fff => "int16".to_string(),
            0x8000..=0x7fff_ffff => "int32".to_string(),
            v if v <= i64::MAX as u64 => "int64".to_string(),
            _ => "uint64".to_string(),
        },
        (ExprKind::Tuple(items), Type::Tuple(ts)) if items.len() == ts.len() => {
            let inner: Vec<String> = items
                .iter()
                .zip(ts)
                .map(|(i, t)| shown_type(i, types.get(&i.span).unwrap_or(t), types))
                .collect();
            format!("({})", inner.join(","))
        }
        _ => t.to_string(),
    }
}

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

    /// Reports `has_key(@m, key)` whose key does not fit the map's keys, as bpftrace words it.
    pub(super) fn has_key_mismatch(&mut self, call: &str, args: &[Expr], types: &[Type]) {
        if call != "has_key" {
            return;
        }
        let (Some(map), Some(key), Some(kt)) = (args.first(), args.get(1), types.get(1)) else {
            return;
        };
        let ExprKind::Map { name, keys, .. } = &map.kind else {
            return;
        };
        if !keys.is_empty() {
            return;
        }
        let Some(mk) = self.maps.get(name).and_then(|m| m.key.clone()) else {
            return;
        };
        if *kt == Type::Unknown || mk.compatible(kt) {
            return;
        }
        let given = shown_type(key, kt, &self.types);
        let expected = match (self.first_keys.get(name), &mk) {
            (Some(ks), Type::Tuple(ts)) if ks.len() == ts.len() && ks.len() > 1 => {
                let inner: Vec<String> = ks
                    .iter()
                    .zip(ts)
                    .map(|(k, t)| shown_type(k, t, &self.types))
                    .collect();
                format!("({})", inner.join(","))
            }
            (Some(ks), t) if ks.len() == 1 => shown_type(&ks[0], t, &self.types),
            (_, t) => t.to_string(),
        };
        self.err(
            key.span,
            format!(
                "Argument mismatch for @{name}: trying to access with arguments: '{given}' when map expects arguments: '{expected}'"
            ),
        );
    }
}
