//! `sizeof()`/`offsetof()` of kernel structs: the checker knows only the script's own
//! types, so records it could not size are looked up in vmlinux BTF here.

use super::access::find_member;
use super::*;

impl Gen<'_, '_> {
    /// The BTF id of the struct/union `sizeof`/`offsetof` names, if it names one.
    fn btf_record(&self, btf: &Btf, a: &TypeOrExpr) -> Option<u32> {
        let (name, kind) = match a {
            TypeOrExpr::Type(t) => match &t.kind {
                TypeKind::Struct(n) => (n.clone(), Kind::Struct),
                TypeKind::Union(n) => (n.clone(), Kind::Union),
                _ => return None,
            },
            TypeOrExpr::Expr(x) => match self.checked_type(x) {
                Type::Record(n) if n.starts_with("union ") => (n, Kind::Union),
                Type::Record(n) => (n, Kind::Struct),
                _ => return None,
            },
        };
        let n = name
            .trim_start_matches("struct ")
            .trim_start_matches("union ");
        btf.find_by_name_kind(n, kind)
    }

    /// `sizeof`/`offsetof` the checker left open: answered from vmlinux BTF.
    pub(super) fn btf_size_or_offset(&mut self, e: &Expr) -> R<Val> {
        let none = || unsupported(e.span, "sizeof()/offsetof() of this operand");
        let btf =
            bpfkit::attach::vmlinux_btf().map_err(|x| Diagnostic::error(e.span, x.to_string()))?;
        let n = match &e.kind {
            ExprKind::Sizeof(a) => match self.btf_record(&btf, a) {
                Some(id) => btf.type_size(id).map_err(|_| none())?,
                // A name only BTF knows, such as an enumerator: the size of its value.
                None => match a {
                    TypeOrExpr::Expr(x) if matches!(x.kind, ExprKind::Ident(_)) => {
                        match self.expr(x)? {
                            Val::Int(..) => 8,
                            _ => return Err(none()),
                        }
                    }
                    _ => return Err(none()),
                },
            },
            ExprKind::Offsetof(a, path) => {
                let mut id = self.btf_record(&btf, a).ok_or_else(none)?;
                let mut bits = 0u64;
                for f in path {
                    let (b, tid, _) = find_member(&btf, id, &f.name, 0).ok_or_else(|| {
                        Diagnostic::error(
                            f.span,
                            format!("Struct/union does not contain a field named '{}'", f.name),
                        )
                    })?;
                    bits += u64::from(b);
                    id = btf.resolve_type(tid).unwrap_or(tid);
                }
                bits / 8
            }
            _ => return Err(none()),
        };
        Ok(Val::Int(self.imm(n as i64), false))
    }
}

impl Gen<'_, '_> {
    /// What one step of pointer arithmetic on a value of type `t` moves by: the size of
    /// what it points to (1 for `void *` and for every non-pointer).
    pub(super) fn ptr_step(&self, t: &Type) -> i32 {
        let Type::Pointer(inner) = t else {
            return 1;
        };
        let script = &self.cx.checked.script_types.records;
        let kernel = |n: &str| {
            let btf = bpfkit::attach::vmlinux_btf().ok()?;
            let kind = if n.starts_with("union ") {
                Kind::Union
            } else {
                Kind::Struct
            };
            let short = n.trim_start_matches("struct ").trim_start_matches("union ");
            let id = btf.find_by_name_kind(short, kind)?;
            btf.type_size(id).ok()
        };
        let records = |n: &str| script.get(n).map(|r| r.size).or_else(|| kernel(n));
        let n = crate::types::size_of(inner, &records);
        i32::try_from(n).ok().filter(|&n| n > 0).unwrap_or(1)
    }

    /// Scales `x` (a copy) by `step` for pointer arithmetic.
    pub(super) fn scaled(&mut self, x: V, step: i32) -> V {
        if step == 1 {
            return x;
        }
        let d = self.copy(x);
        self.alu(AluOp::Mul, d, Src::Imm(step));
        d
    }
}

impl Gen<'_, '_> {
    /// Operands of `a op b` with the integer side of pointer `+`/`-` scaled.
    pub(super) fn ptr_operands(&mut self, op: BinOp, a: &Expr, b: &Expr, x: V, y: V) -> (V, V) {
        if !matches!(op, BinOp::Add | BinOp::Sub) {
            return (x, y);
        }
        let (ta, tb) = (self.checked_type(a), self.checked_type(b));
        match (&ta, &tb) {
            (Type::Pointer(_), Type::Pointer(_)) => (x, y),
            (Type::Pointer(_), _) => {
                let s = self.ptr_step(&ta);
                (x, self.scaled(y, s))
            }
            (_, Type::Pointer(_)) if op == BinOp::Add => {
                let s = self.ptr_step(&tb);
                (self.scaled(x, s), y)
            }
            _ => (x, y),
        }
    }

    /// The right side of `target op= x` scaled when `target` (of type `t`) is a pointer.
    pub(super) fn ptr_compound(&mut self, op: BinOp, t: &Type, x: V) -> V {
        if !matches!(op, BinOp::Add | BinOp::Sub) {
            return x;
        }
        let s = self.ptr_step(t);
        self.scaled(x, s)
    }
}
