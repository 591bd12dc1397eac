//! The pointer operators on script values: `&$x` (a variable whose address the probe takes
//! has a scratch slot for the whole probe that every assignment updates, so the pointer
//! stays valid and sees later values; the language has no stores through pointers, so the
//! register stays the variable's value and loops on it stay visible to the verifier) and `*p` (reads what `p` points to with `probe_read`, as the pointee type
//! says: an integer, a string or tuple, or a struct defined in the script, which becomes a
//! record of its members).

use super::*;
use crate::types::{RecordDef, ScriptTypes};
use std::collections::{HashMap, HashSet};

/// Names of the `$` variables whose address `&$x` the block takes.
pub(super) fn address_taken(b: &Block) -> HashSet<String> {
    let mut out = HashSet::new();
    walk_block(b, &mut |e| {
        if let ExprKind::Unary(UnOp::AddrOf, x) = &e.kind {
            if let ExprKind::Var(n) = &x.kind {
                out.insert(n.clone());
            }
        }
    });
    out
}

/// For each `$p` the block only ever sets to `&$x` (one and the same `$x`: never anything
/// else, never `++`/`--`, never a loop variable), the name `x`; none in a probe with block
/// expressions, whose statements are not looked at. `*$p` then reads `$x`'s
/// register, which the verifier tracks, rather than its scratch slot, which it does not (a
/// `while (*$p < 3)` loop would never look bounded).
pub(super) fn pointer_vars(b: &Block) -> HashMap<String, String> {
    let mut to: HashMap<String, Option<String>> = HashMap::new();
    fn note(to: &mut HashMap<String, Option<String>>, p: &str, value: Option<&Expr>) {
        let x = match value.map(|v| &v.kind) {
            Some(ExprKind::Unary(UnOp::AddrOf, v)) => match &v.kind {
                ExprKind::Var(x) => Some(x.clone()),
                _ => None,
            },
            _ => None,
        };
        let e = to.entry(p.to_string()).or_insert_with(|| x.clone());
        if *e != x {
            *e = None;
        }
    }
    each_stmt(b, &mut |s| match &s.kind {
        StmtKind::Assign {
            target, op, value, ..
        } => {
            if let ExprKind::Var(p) = &target.kind {
                note(&mut to, p, op.is_none().then_some(value));
            }
        }
        StmtKind::Let { var, value, .. } => note(&mut to, &var.name, value.as_ref()),
        StmtKind::For { var, .. } => note(&mut to, &var.name, None),
        _ => {}
    });
    let mut block_exprs = false;
    walk_block(b, &mut |e| match &e.kind {
        ExprKind::IncDec { target, .. } => {
            if let ExprKind::Var(p) = &target.kind {
                to.insert(p.clone(), None);
            }
        }
        ExprKind::Block(_) => block_exprs = true,
        _ => {}
    });
    if block_exprs {
        return HashMap::new();
    }
    to.into_iter().filter_map(|(p, x)| Some((p, x?))).collect()
}

/// Calls `f` on every statement of `b` and of the blocks nested in its statements (not
/// those of block expressions: [`pointer_vars`] gives up on probes that have any).
fn each_stmt(b: &Block, f: &mut dyn FnMut(&Stmt)) {
    for s in &b.stmts {
        f(s);
        match &s.kind {
            StmtKind::If { then, else_, .. } => {
                each_stmt(then, f);
                if let Some(e) = else_ {
                    each_stmt(e, f);
                }
            }
            StmtKind::Unroll { body, .. }
            | StmtKind::While { body, .. }
            | StmtKind::For { body, .. }
            | StmtKind::Block(body) => each_stmt(body, f),
            _ => {}
        }
    }
}

fn walk_block(b: &Block, f: &mut dyn FnMut(&Expr)) {
    for s in &b.stmts {
        walk_stmt(s, f);
    }
}

fn walk_stmt(s: &Stmt, f: &mut dyn FnMut(&Expr)) {
    match &s.kind {
        StmtKind::Expr(e) | StmtKind::Return(Some(e)) => walk_expr(e, f),
        StmtKind::Assign { target, value, .. } => {
            walk_expr(target, f);
            walk_expr(value, f);
        }
        StmtKind::Let { value, .. } => {
            if let Some(v) = value {
                walk_expr(v, f);
            }
        }
        StmtKind::If { cond, then, else_ } => {
            walk_expr(cond, f);
            walk_block(then, f);
            if let Some(b) = else_ {
                walk_block(b, f);
            }
        }
        StmtKind::Unroll { count: c, body } | StmtKind::While { cond: c, body } => {
            walk_expr(c, f);
            walk_block(body, f);
        }
        StmtKind::For { iter, body, .. } => {
            match iter {
                ForIter::Map(m) => walk_expr(m, f),
                ForIter::Range(a, b) => {
                    walk_expr(a, f);
                    walk_expr(b, f);
                }
            }
            walk_block(body, f);
        }
        StmtKind::Block(b) => walk_block(b, f),
        StmtKind::Break | StmtKind::Continue | StmtKind::Return(None) => {}
    }
}

fn walk_expr(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match &e.kind {
        ExprKind::Map { keys: xs, .. } | ExprKind::Call { args: xs, .. } | ExprKind::Tuple(xs) => {
            for x in xs {
                walk_expr(x, f);
            }
        }
        ExprKind::Unary(_, x)
        | ExprKind::Cast(_, x)
        | ExprKind::Field { base: x, .. }
        | ExprKind::TupleIndex(x, _, _)
        | ExprKind::IncDec { target: x, .. } => walk_expr(x, f),
        ExprKind::Binary(_, a, b) | ExprKind::Index(a, b) => {
            walk_expr(a, f);
            walk_expr(b, f);
        }
        ExprKind::Ternary(a, b, c) => {
            walk_expr(a, f);
            walk_expr(b, f);
            walk_expr(c, f);
        }
        ExprKind::Record(fs) => {
            for (_, x) in fs {
                walk_expr(x, f);
            }
        }
        ExprKind::Block(b) => walk_block(b, f),
        _ => {}
    }
}

/// Whether values of `t` sit in a register in generated code (rather than in memory).
pub(super) fn in_register(t: &Type) -> bool {
    !is_memory(t) && !matches!(t, Type::Record(_) | Type::Array(..))
}

/// The record value type a script struct converts to: its members in order, integers as
/// they are, char arrays as strings, nested script structs as records.
fn record_value_type(st: &ScriptTypes, def: &RecordDef) -> Type {
    let fields = def
        .fields
        .iter()
        .map(|f| (f.name.clone(), value_type(st, &f.ty)))
        .collect();
    Type::Named(fields)
}

/// The type a value of C type `t` takes as a value in generated code: a script struct
/// becomes a record value ([`record_value_type`]).
pub(super) fn value_type(st: &ScriptTypes, t: &Type) -> Type {
    match t {
        Type::Record(n) => match st.records.get(n) {
            Some(d) => record_value_type(st, d),
            None => Type::U64,
        },
        Type::Array(e, n)
            if matches!(
                **e,
                Type::Int {
                    bits: 8,
                    signed: true
                }
            ) =>
        {
            Type::Str(*n + 1)
        }
        Type::Array(..) if plain_array(t) => t.clone(),
        Type::Int { .. } | Type::Bool | Type::Pointer(_) => t.clone(),
        _ => Type::U64,
    }
}

/// Whether `t` is an array of integers or bools (or of such arrays), copied as it is.
fn plain_array(t: &Type) -> bool {
    match t {
        Type::Array(e, _) => matches!(**e, Type::Int { .. } | Type::Bool) || plain_array(e),
        _ => false,
    }
}

/// The byte count of a struct or member copied to scratch memory (at most 64 KiB).
fn copy_size(n: u64, span: Span) -> R<u32> {
    u32::try_from(n.max(1))
        .ok()
        .filter(|&n| n <= 1 << 16)
        .ok_or_else(|| {
            Diagnostic::error(span, "structs of more than 65536 bytes are not supported")
        })
}

/// The load size for `n` bytes (1, 2, 4 or 8).
fn load_size(n: u64) -> Size {
    match n {
        1 => Size::B,
        2 => Size::H,
        3 | 4 => Size::W,
        _ => Size::DW,
    }
}

impl Gen<'_, '_> {
    /// `$name = value` (or `$name OP= value`) for an integer variable whose address is taken:
    /// the register takes the value and the variable's scratch slot a copy. `Ok(false)` when
    /// the variable is not one of them.
    pub(super) fn slot_assign(
        &mut self,
        target: &Expr,
        name: &str,
        op: Option<BinOp>,
        value: &Expr,
    ) -> R<bool> {
        let cur = match self.vars.get(name) {
            Some(Var::Slot(v, off, s)) => Some((*v, *off, *s)),
            Some(_) => return Ok(false),
            None => None,
        };
        if cur.is_none()
            && (op.is_some()
                || !self.addr_vars.contains(name)
                || !in_register(&self.checked_type(target)))
        {
            return Ok(false);
        }
        let (v, off) = match (op, cur) {
            (Some(op), Some((v, off, _))) => {
                let x = self.int(value)?;
                let x = self.ptr_compound(op, &self.checked_type(target), x);
                self.binop_into(op, v, x, false);
                (v, off)
            }
            _ => {
                let (x, signed) = match self.expr(value)? {
                    Val::Int(x, s) => (x, s),
                    _ => {
                        return Err(unsupported(
                            value.span,
                            "this value in a variable whose address is taken",
                        ))
                    }
                };
                let (v, off) = match cur {
                    Some((v, off, _)) => (v, off),
                    None => {
                        let v = self.var_int(name, signed);
                        let (_, off) = self.alloc(8);
                        self.vars
                            .insert(name.to_string(), Var::Slot(v, off, signed));
                        (v, off)
                    }
                };
                self.emit(Op::Mov(v, x));
                match self.kptr.get(&x).copied() {
                    Some(t) => self.var_kptr.insert(name.to_string(), t),
                    None => self.var_kptr.remove(name),
                };
                (v, off)
            }
        };
        let p = self.scratch_at(off);
        self.emit(Op::Store(Size::DW, p, 0, Src::V(v)));
        Ok(true)
    }

    /// `let $x;` of an address-taken integer variable: 0 in its register and slot.
    pub(super) fn slot_declare(&mut self, var: &Name) -> R<()> {
        let target = Expr {
            kind: ExprKind::Var(var.name.clone()),
            span: var.span,
        };
        let zero = Expr {
            kind: ExprKind::Int(0),
            span: var.span,
        };
        self.assign(&target, None, &zero)
    }

    /// Reads integer variable `name` (plain or address-taken) held in register `v`: a copy
    /// that keeps its bool and kernel-pointer marks.
    pub(super) fn slot_read(&mut self, e: &Expr, name: &str, v: V, signed: bool) -> Val {
        let c = self.copy(v);
        if self.checked_type(e) == Type::Bool {
            self.bools.insert(c);
        }
        if let Some(t) = self.var_kptr.get(name).copied() {
            self.kptr.insert(c, t);
        }
        Val::Int(c, signed)
    }

    /// `&x`.
    pub(super) fn addr_of(&mut self, e: &Expr, x: &Expr) -> R<Val> {
        let ExprKind::Var(name) = &x.kind else {
            return Err(unsupported(e.span, "taking the address of this expression"));
        };
        let p = match self.vars.get(name).cloned() {
            Some(Var::Slot(_, off, _) | Var::Mem(off, _)) => self.scratch_at(off),
            // Not known as address-taken (a `let` without value): a copy of its value.
            Some(Var::Int(v, _)) => {
                let (p, _) = self.alloc(8);
                self.emit(Op::Store(Size::DW, p, 0, Src::V(v)));
                p
            }
            None => {
                return Err(Diagnostic::error(
                    x.span,
                    format!("Undefined or undeclared variable: ${name}"),
                ))
            }
        };
        Ok(Val::Int(p, false))
    }

    /// `*x`.
    pub(super) fn deref(&mut self, e: &Expr, x: &Expr) -> R<Val> {
        let t = self.checked_type(e);
        // `*$p` with `$p` always `&$x` of an integer variable: `$x`'s register (see
        // [`pointer_vars`]).
        if let ExprKind::Var(p) = &x.kind {
            let target = self.ptr_vars.get(p).and_then(|n| match self.vars.get(n) {
                Some(Var::Slot(v, _, signed)) => Some((n.clone(), *v, *signed)),
                _ => None,
            });
            if let Some((n, v, signed)) = target {
                if in_register(&t) && self.checked_type(x) == Type::Pointer(Box::new(t.clone())) {
                    return Ok(self.slot_read(e, &n, v, signed));
                }
            }
        }
        let p0 = self.int(x)?;
        let p = self.copy(p0);
        // `*p` of a kernel struct pointer stays that struct's address, for its members.
        if let Some(id) = self.kptr.get(&p0).copied() {
            self.kptr.insert(p, id);
        }
        self.read_at(p, &t)
    }

    /// Reads a value of type `t` at address `p` (in a fresh register or scratch buffer).
    pub(super) fn read_at(&mut self, p: V, t: &Type) -> R<Val> {
        let t = t.clone();
        if let Type::Record(n) = &t {
            if let Some(def) = self.cx.checked.script_types.records.get(n).cloned() {
                return self.read_record(p, &def);
            }
            // A kernel struct stays a pointer: its members are read where they are used.
            return Ok(Val::Int(p, false));
        }
        if !in_register(&t) {
            let n = size_of(&t);
            let (buf, _) = self.alloc(n);
            self.call(
                h::PROBE_READ,
                vec![Arg::V(buf), Arg::Imm(i64::from(n)), Arg::V(p)],
            );
            return Ok(Val::Mem(buf, t));
        }
        let n = match &t {
            Type::Int { bits, .. } => u32::from(*bits / 8),
            Type::Bool => 1,
            Type::Enum(_) => 4,
            _ => 8,
        };
        let v = self.read_kernel(p, n);
        let signed = signed_of(&t);
        if signed && n < 8 {
            let sh = 64 - 8 * n as i32;
            self.alu(AluOp::Lsh, v, Src::Imm(sh));
            self.alu(AluOp::Arsh, v, Src::Imm(sh));
        }
        if t == Type::Bool {
            self.bools.insert(v);
        }
        Ok(Val::Int(v, signed))
    }

    /// Copies the script struct `def` at address `p` and lays its members out as a record
    /// value (integers 8 bytes each, bit-fields extracted).
    pub(super) fn read_record(&mut self, p: V, def: &RecordDef) -> R<Val> {
        let size = copy_size(def.size, self.span)?;
        let (raw, _) = self.alloc(size + 8);
        self.zero(raw, size + 8);
        self.call(
            h::PROBE_READ,
            vec![Arg::V(raw), Arg::Imm(i64::from(size)), Arg::V(p)],
        );
        let t = self.record_value_type(def);
        let (out, _) = self.alloc(size_of(&t));
        self.convert_record(out, raw, def);
        Ok(Val::Mem(out, t))
    }

    fn record_value_type(&self, def: &RecordDef) -> Type {
        record_value_type(&self.cx.checked.script_types, def)
    }

    fn member_value_type(&self, t: &Type) -> Type {
        value_type(&self.cx.checked.script_types, t)
    }

    /// Writes the members of struct `def` (raw bytes at `raw`) to `out` as a record value.
    fn convert_record(&mut self, out: V, raw: V, def: &RecordDef) {
        let mut off = 0u32;
        for f in &def.fields {
            let vt = self.member_value_type(&f.ty);
            let src = self.copy(raw);
            self.alu(AluOp::Add, src, Src::Imm(f.offset as i32));
            let dst = self.copy(out);
            self.alu(AluOp::Add, dst, Src::Imm(off as i32));
            self.convert_member(dst, src, &f.ty, &vt, f.bitfield);
            off += size_of(&vt);
        }
    }

    fn convert_member(&mut self, dst: V, src: V, ct: &Type, vt: &Type, bf: Option<(u8, u8)>) {
        match (ct, vt) {
            (Type::Record(n), Type::Named(_)) => {
                if let Some(d) = self.cx.checked.script_types.records.get(n).cloned() {
                    self.convert_record(dst, src, &d);
                }
            }
            (Type::Array(_, n), Type::Str(_)) => {
                let n = u32::try_from(*n).unwrap_or(0);
                self.zero(dst, n + 1);
                self.memcpy(dst, src, n);
            }
            (Type::Array(..), Type::Array(..)) => {
                let n = size_of(vt);
                self.zero(dst, n);
                self.memcpy(dst, src, n);
            }
            _ => {
                let v = self.load_member(src, ct, bf);
                self.emit(Op::Store(Size::DW, dst, 0, Src::V(v)));
            }
        }
    }

    /// Loads an integer-like member of C type `ct` at `src` (bit-field `bf`: bit offset in
    /// the first byte, width), sign-extended when signed.
    pub(super) fn load_member(&mut self, src: V, ct: &Type, bf: Option<(u8, u8)>) -> V {
        let v = self.v();
        if let Some((bit, width)) = bf {
            let nbytes = (u32::from(bit) + u32::from(width)).div_ceil(8).clamp(1, 8);
            self.emit(Op::Imm(v, 0));
            let b = self.v();
            for k in 0..nbytes {
                self.emit(Op::Load(Size::B, b, src, k as i16));
                if k > 0 {
                    self.alu(AluOp::Lsh, b, Src::Imm(8 * k as i32));
                }
                self.alu(AluOp::Or, v, Src::V(b));
            }
            if bit > 0 {
                self.alu(AluOp::Rsh, v, Src::Imm(i32::from(bit)));
            }
            if width < 64 {
                let m = self.imm(((1u128 << width) - 1) as i64);
                self.alu(AluOp::And, v, Src::V(m));
            }
            return v;
        }
        let n = match ct {
            Type::Int { bits, .. } => u64::from(*bits / 8),
            Type::Bool => 1,
            Type::Enum(_) => 4,
            _ => 8,
        };
        self.emit(Op::Load(load_size(n), v, src, 0));
        if signed_of(ct) && n < 8 {
            let sh = 64 - 8 * n as i32;
            self.alu(AluOp::Lsh, v, Src::Imm(sh));
            self.alu(AluOp::Arsh, v, Src::Imm(sh));
        }
        v
    }

    /// `base.field` / `base->field` where the checker typed `base` as a struct the script
    /// defines (or a pointer to one), which wins over the kernel's struct of that name.
    /// `None` when `base` is something else.
    pub(super) fn script_field(&mut self, base: &Expr, field: &Name) -> R<Option<Val>> {
        let rec = match self.checked_type(base) {
            Type::Record(n) => n,
            Type::Pointer(inner) => match *inner {
                Type::Record(n) => n,
                _ => return Ok(None),
            },
            _ => return Ok(None),
        };
        let Some(def) = self.cx.checked.script_types.records.get(&rec).cloned() else {
            return Ok(None);
        };
        let Some(f) = def.field(&field.name).cloned() else {
            return Err(Diagnostic::error(
                field.span,
                format!(
                    "Struct/union of type '{rec}' does not contain a field named '{}'",
                    field.name
                ),
            ));
        };
        let vt = self.member_value_type(&f.ty);
        match self.expr(base)? {
            // A record value (from `*p`): the member's slot in it.
            Val::Mem(p, Type::Named(fs)) => {
                let idx = fs.iter().position(|(n, _)| *n == field.name).unwrap_or(0);
                let off: u32 = fs[..idx].iter().map(|(_, t)| size_of(t)).sum();
                let t = fs.get(idx).map_or(Type::U64, |x| x.1.clone());
                let q = self.copy(p);
                self.alu(AluOp::Add, q, Src::Imm(off as i32));
                if !in_register(&t) {
                    return Ok(Some(Val::Mem(q, t)));
                }
                let d = self.v();
                self.emit(Op::Load(Size::DW, d, q, 0));
                if t == Type::Bool {
                    self.bools.insert(d);
                }
                Ok(Some(Val::Int(d, signed_of(&t))))
            }
            // An address: read the member there.
            Val::Int(p, _) => {
                let addr = self.copy(p);
                self.alu(AluOp::Add, addr, Src::Imm(f.offset as i32));
                if let Type::Record(r) = &f.ty {
                    // A nested script struct is read whole (its members come from the
                    // copy); a kernel one stays an address.
                    return Ok(Some(
                        match self.cx.checked.script_types.records.get(r).cloned() {
                            Some(d) => self.read_record(addr, &d)?,
                            None => Val::Int(addr, false),
                        },
                    ));
                }
                if !in_register(&vt) {
                    let csize = crate::types::size_of(&f.ty, &|r| {
                        self.cx.checked.script_types.records.get(r).map(|d| d.size)
                    });
                    let csize = copy_size(csize, field.span)?;
                    let (raw, _) = self.alloc(csize + 8);
                    self.zero(raw, csize + 8);
                    self.call(
                        h::PROBE_READ,
                        vec![Arg::V(raw), Arg::Imm(i64::from(csize)), Arg::V(addr)],
                    );
                    let (out, _) = self.alloc(size_of(&vt));
                    self.convert_member(out, raw, &f.ty, &vt, None);
                    return Ok(Some(Val::Mem(out, vt)));
                }
                let (raw, _) = self.alloc(16);
                self.emit(Op::Store(Size::DW, raw, 0, Src::Imm(0)));
                self.emit(Op::Store(Size::DW, raw, 8, Src::Imm(0)));
                let n = match f.bitfield {
                    Some((bit, w)) => (u32::from(bit) + u32::from(w)).div_ceil(8).clamp(1, 8),
                    None => u32::try_from(crate::types::size_of(&f.ty, &|_| None))
                        .unwrap_or(8)
                        .clamp(1, 8),
                };
                self.call(
                    h::PROBE_READ,
                    vec![Arg::V(raw), Arg::Imm(i64::from(n)), Arg::V(addr)],
                );
                let v = self.load_member(raw, &f.ty, f.bitfield);
                if f.ty == Type::Bool {
                    self.bools.insert(v);
                }
                Ok(Some(Val::Int(v, signed_of(&f.ty))))
            }
            _ => Err(unsupported(base.span, "field access on this value")),
        }
    }
}
