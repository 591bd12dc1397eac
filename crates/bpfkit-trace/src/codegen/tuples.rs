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

/// The type that holds values of both tuple types `a` and `b` (same shape): each string
/// element takes the longer of the two lengths, as bpftrace sizes a variable to the largest
/// value assigned to it. `None` when the shapes differ.
pub(crate) fn widen_tuple(a: &Type, b: &Type) -> Option<Type> {
    match (a, b) {
        (Type::Str(x), Type::Str(y)) => Some(Type::Str((*x).max(*y))),
        (Type::Tuple(xs), Type::Tuple(ys)) if xs.len() == ys.len() => xs
            .iter()
            .zip(ys)
            .map(|(x, y)| widen_tuple(x, y))
            .collect::<Option<Vec<_>>>()
            .map(Type::Tuple),
        (Type::Named(xs), Type::Named(ys))
            if xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| x.0 == y.0) =>
        {
            xs.iter()
                .zip(ys)
                .map(|(x, y)| widen_tuple(&x.1, &y.1).map(|t| (x.0.clone(), t)))
                .collect::<Option<Vec<_>>>()
                .map(Type::Named)
        }
        (x, y) if !is_memory(x) && !is_memory(y) => Some(x.clone()),
        (x, y) if x == y => Some(x.clone()),
        _ => None,
    }
}

impl Gen<'_, '_> {
    /// Copies the value at `src` of type `st` to `dst` laid out as `dt`, a widening of `st`
    /// ([`widen_tuple`]): each element moves to its offset in `dt`, shorter strings are padded
    /// with zeros.
    pub(super) fn convert_tuple(&mut self, dst: V, dt: &Type, src: V, st: &Type) {
        let untag = |t: &Type| match t {
            Type::Named(fs) => Type::Tuple(fs.iter().map(|f| f.1.clone()).collect()),
            t => t.clone(),
        };
        match (&untag(dt), &untag(st)) {
            (Type::Tuple(ds), Type::Tuple(ss)) => {
                let (mut doff, mut soff) = (0u32, 0u32);
                for (d, s) in ds.iter().zip(ss) {
                    let dp = self.copy(dst);
                    self.alu(AluOp::Add, dp, Src::Imm(doff as i32));
                    let sp = self.copy(src);
                    self.alu(AluOp::Add, sp, Src::Imm(soff as i32));
                    self.convert_tuple(dp, d, sp, s);
                    doff += size_of(d);
                    soff += size_of(s);
                }
            }
            _ => {
                let (dn, sn) = (size_of(dt), size_of(st));
                if dn > sn {
                    self.zero(dst, dn);
                }
                self.memcpy(dst, src, dn.min(sn));
            }
        }
    }
}

/// The widening of a map's string or tuple key/value type `a` that also holds `b` (bpftrace
/// sizes strings to the longest assigned), when it differs from `a`.
pub(crate) fn widen_memory(a: &Type, b: &Type) -> Option<Type> {
    if !matches!(a, Type::Str(_) | Type::Tuple(_) | Type::Named(_)) {
        return None;
    }
    widen_tuple(a, b).filter(|w| w != a)
}
