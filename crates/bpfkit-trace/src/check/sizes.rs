//! `sizeof()` and `offsetof()`: both are compile-time constants, computed here from the
//! checked types so that codegen only has to emit the number.

use super::Checker;
use crate::ast::{Expr, ExprKind, Name, TypeExpr, TypeKind, TypeOrExpr};
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
                self.expr(x, false)
            }
        }
    }

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
