//! `sizeof()` and `offsetof()`: both are compile-time constants, computed here from the
//! checked types so that codegen only has to emit the number.

use super::Checker;
use crate::ast::{Expr, ExprKind, Name, TypeExpr, TypeKind, TypeOrExpr, UnOp};
use crate::types::{size_of, Type};

impl Checker<'_> {
    /// The type `sizeof`/`offsetof` is about: a written type, a bare name that is a type
    /// (`sizeof(uint64)`), or the type of an expression.
    fn operand_type(&mut self, a: &TypeOrExpr) -> Type {
        match a {
            TypeOrExpr::Type(t) => self.resolve_type(t),
            TypeOrExpr::Expr(x) => {
                if let ExprKind::Ident(n) = &x.kind {
                    let t = TypeExpr {
                        kind: TypeKind::Name(n.clone()),
                        span: x.span,
                    };
                    let ty = self.resolve_type(&t);
                    if ty != Type::Unknown {
                        return ty;
                    }
                }
                let t = self.expr(x, false);
                self.storage_type(x, &t)
            }
        }
    }

    /// The type bpftrace stores the value of `e` (checked as `t`) in: an integer literal
    /// takes the smallest signed integer type that holds it, in tuples and variables too.
    pub(super) fn storage_type(&self, e: &Expr, t: &Type) -> Type {
        match (&e.kind, t) {
            (ExprKind::Int(v), _) => literal_type(i128::from(*v)),
            (ExprKind::Unary(UnOp::Neg, x), _) => match &x.kind {
                ExprKind::Int(v) => literal_type(-i128::from(*v)),
                _ => t.clone(),
            },
            (ExprKind::Tuple(items), Type::Tuple(ts)) if items.len() == ts.len() => Type::Tuple(
                items
                    .iter()
                    .zip(ts)
                    .map(|(i, t)| self.storage_type(i, t))
                    .collect(),
            ),
            (ExprKind::Var(n), _) => self
                .storage_vars
                .get(n)
                .filter(|s| s.compatible(t))
                .cloned()
                .unwrap_or_else(|| t.clone()),
            _ => t.clone(),
        }
    }
}

/// The smallest signed integer type holding `v` (unsigned 64 bits above `i64::MAX`).
fn literal_type(v: i128) -> Type {
    let bits = if i8::try_from(v).is_ok() {
        8
    } else if i16::try_from(v).is_ok() {
        16
    } else if i32::try_from(v).is_ok() {
        32
    } else if i64::try_from(v).is_ok() {
        64
    } else {
        return Type::U64;
    };
    Type::Int { bits, signed: true }
}

impl Checker<'_> {
    fn byte_size(&self, t: &Type) -> u64 {
        size_of(t, &|n| self.record(n).map(|r| r.size))
    }

    /// Checks `sizeof(a)` and records its value for codegen.
    pub(super) fn sizeof(&mut self, e: &Expr, a: &TypeOrExpr) {
        let t = self.operand_type(a);
        if t == Type::Unknown {
            return;
        }
        // A kernel record the script's types do not know: codegen asks BTF.
        if let Type::Record(n) = &t {
            if self.record(n).is_none() {
                return;
            }
        }
        let n = self.byte_size(&t);
        self.consts.insert(e.span, n);
    }

    /// Checks `offsetof(a, f.g…)` and records its value for codegen.
    pub(super) fn offsetof(&mut self, e: &Expr, a: &TypeOrExpr, path: &[Name]) {
        let mut t = self.operand_type(a);
        let mut off = 0u64;
        for f in path {
            let rec = match &t {
                Type::Record(n) => match self.record(n) {
                    Some(r) => Some(r),
                    // Left to codegen, which looks kernel records up in BTF.
                    None => return,
                },
                Type::Unknown => return,
                _ => None,
            };
            let Some(rec) = rec else {
                self.err(f.span, format!("'{t}' is not a record type"));
                return;
            };
            let Some(fd) = rec.field(&f.name) else {
                self.err(
                    f.span,
                    format!("'{}' has no field named '{}'", rec.name, f.name),
                );
                return;
            };
            off += fd.offset;
            t = fd.ty.clone();
        }
        self.consts.insert(e.span, off);
    }
}
