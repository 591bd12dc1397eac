//! Reading one element of a tuple or record value (`$t.0`, `$t[0]`), laid out as
//! [`super::layout`] says: elements one after another, integers 8 bytes each.

use super::*;

impl Gen<'_, '_> {
    /// Element `i` of the tuple (or record) that `x` evaluates to.
    pub(super) fn tuple_index(&mut self, x: &Expr, i: u64) -> R<Val> {
        let v = self.expr(x)?;
        let (p, elems) = match v {
            Val::Mem(p, Type::Tuple(ts)) => (p, ts),
            Val::Mem(p, Type::Named(fs)) => (p, fs.into_iter().map(|(_, t)| t).collect()),
            _ => return Err(unsupported(x.span, "indexing this value")),
        };
        let idx = usize::try_from(i).unwrap_or(usize::MAX);
        let Some(t) = elems.get(idx).cloned() else {
            return Err(Diagnostic::error(
                x.span,
                format!(
                    "Invalid tuple index: {i}. Found {} elements in tuple.",
                    elems.len()
                ),
            ));
        };
        let off: u32 = elems[..idx].iter().map(size_of).sum();
        let q = self.copy(p);
        self.alu(AluOp::Add, q, Src::Imm(off as i32));
        if is_memory(&t) {
            return Ok(Val::Mem(q, t));
        }
        let d = self.v();
        self.emit(Op::Load(Size::DW, d, q, 0));
        if t == Type::Bool {
            self.bools.insert(d);
        }
        Ok(Val::Int(d, signed_of(&t)))
    }
}
