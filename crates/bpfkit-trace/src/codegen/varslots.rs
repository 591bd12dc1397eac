//! One scratch slot per string or tuple variable for the whole probe: before code is
//! generated, each variable's slot is sized for the widest value any of its assignments
//! stores (strings take the longest length, tuples the widest of each element), so that an
//! assignment on one path (an `if` branch, a loop body) writes where every other path reads.

use super::tuples::widen_tuple;
use super::*;

/// `(variable, value)` of each plain assignment in the block, nested blocks included.
fn assignments<'p>(b: &'p Block, out: &mut Vec<(&'p str, &'p Expr)>) {
    for s in &b.stmts {
        match &s.kind {
            StmtKind::Assign {
                target,
                op: None,
                value,
                ..
            } => {
                if let ExprKind::Var(n) = &target.kind {
                    out.push((n, value));
                }
            }
            StmtKind::Let {
                var,
                value: Some(v),
                ..
            } => out.push((&var.name, v)),
            StmtKind::If { then, else_, .. } => {
                assignments(then, out);
                if let Some(e) = else_ {
                    assignments(e, out);
                }
            }
            StmtKind::Unroll { body, .. }
            | StmtKind::While { body, .. }
            | StmtKind::For { body, .. }
            | StmtKind::Block(body) => assignments(body, out),
            _ => {}
        }
    }
}

impl Gen<'_, '_> {
    /// The widest string or tuple type assigned to each variable of the block (as checked).
    pub(super) fn var_rooms(&self, b: &Block) -> HashMap<String, Type> {
        let mut list = Vec::new();
        assignments(b, &mut list);
        let mut rooms: HashMap<String, Type> = HashMap::new();
        for (name, value) in list {
            let Some(t) = self.cx.checked.expr_types.get(&value.span).cloned() else {
                continue;
            };
            if !matches!(t, Type::Str(_) | Type::Tuple(_)) {
                continue;
            }
            match rooms.get(name) {
                Some(old) => {
                    if let Some(w) = widen_tuple(old, &t) {
                        rooms.insert(name.to_string(), w);
                    }
                }
                None => {
                    rooms.insert(name.to_string(), t);
                }
            }
        }
        rooms
    }

    /// A new slot for variable `name` first assigned a value of type `t`: as wide as the
    /// variable's room when that holds `t`. Returns the slot and the variable's type.
    pub(super) fn new_mem_var(&mut self, name: &str, t: &Type) -> (V, Type) {
        let vt = self
            .var_rooms
            .get(name)
            .and_then(|room| widen_tuple(t, room))
            .filter(|w| size_of(w) >= size_of(t))
            .unwrap_or_else(|| t.clone());
        let (d, off) = self.alloc(size_of(&vt));
        self.vars
            .insert(name.to_string(), Var::Mem(off, vt.clone()));
        (d, vt)
    }

    /// Stores the value at `p` of type `t` into a variable slot `dst` of type `vt` (which
    /// holds `t`): tuples element by element, strings with the rest of the slot zeroed.
    pub(super) fn store_mem_var(&mut self, dst: V, vt: &Type, p: V, t: &Type) {
        if matches!(vt, Type::Tuple(_)) && vt != t {
            self.zero(dst, size_of(vt));
            self.convert_tuple(dst, vt, p, t);
            return;
        }
        let n = size_of(t);
        if size_of(vt) > n {
            self.zero(dst, size_of(vt));
        }
        self.memcpy(dst, p, n.min(size_of(vt)));
    }
}
