//! Reading data: builtins (`pid`, `comm`, `curtask`, `argN` …), tracepoint fields from the
//! record layout in tracefs, and kernel struct members located through BTF (`curtask->
//! real_parent->pid`, casts to `struct X *`), following pointers with `probe_read`.

use super::*;

impl Gen<'_, '_> {
    fn pid_tgid(&mut self, shift: bool) -> V {
        let t = self.call(h::GET_CURRENT_PID_TGID, vec![]);
        if shift {
            self.alu(AluOp::Rsh, t, Src::Imm(32));
        } else {
            self.alu(AluOp::Lsh, t, Src::Imm(32));
            self.alu(AluOp::Rsh, t, Src::Imm(32));
        }
        t
    }

    pub(super) fn builtin(&mut self, name: &str, span: Span) -> R<Val> {
        let int = |v: V| Ok(Val::Int(v, false));
        match name {
            "pid" => int(self.pid_tgid(true)),
            "tid" => int(self.pid_tgid(false)),
            "uid" | "gid" | "username" => {
                let t = self.call(h::GET_CURRENT_UID_GID, vec![]);
                if name == "gid" {
                    self.alu(AluOp::Rsh, t, Src::Imm(32));
                } else {
                    self.alu(AluOp::Lsh, t, Src::Imm(32));
                    self.alu(AluOp::Rsh, t, Src::Imm(32));
                }
                int(t)
            }
            "kstack" | "ustack" => self.stack_value(name == "kstack", &[]),
            "nsecs" => int(self.call(h::KTIME_GET_NS, vec![])),
            "elapsed" => {
                let t = self.call(h::KTIME_GET_NS, vec![]);
                let s = self.imm(self.cx.opts.start_ns as i64);
                self.alu(AluOp::Sub, t, Src::V(s));
                int(t)
            }
            "cpu" => int(self.call(h::GET_SMP_PROCESSOR_ID, vec![])),
            "rand" => int(self.call(h::GET_PRANDOM_U32, vec![])),
            "cgroup" => int(self.call(h::GET_CURRENT_CGROUP_ID, vec![])),
            "curtask" => {
                let v = self.call(h::GET_CURRENT_TASK, vec![]);
                if let Ok(btf) = bpfkit::attach::vmlinux_btf() {
                    if let Some(id) = btf.find_by_name_kind("task_struct", Kind::Struct) {
                        self.kptr.insert(v, id);
                    }
                }
                int(v)
            }
            "jiffies" => int(self.call(h::JIFFIES64, vec![])),
            "comm" => {
                let (p, _) = self.alloc(16);
                self.call(h::GET_CURRENT_COMM, vec![Arg::V(p), Arg::Imm(16)]);
                Ok(Val::Mem(p, Type::Str(16)))
            }
            "probe" => {
                let n = self.res.name.clone();
                Ok(self.str_lit(n.as_bytes()))
            }
            "func" => {
                let n = match &self.res.point {
                    Point::Uprobe { symbol, .. } => symbol.clone(),
                    Point::Kprobe { function, .. } | Point::Fentry { function, .. } => {
                        function.clone()
                    }
                    _ => String::new(),
                };
                Ok(self.str_lit(n.as_bytes()))
            }
            "ctx" if matches!(self.res.point, Point::Iter { .. }) => {
                self.iter_ctx().ok_or_else(|| unsupported(span, "ctx"))
            }
            "retval" => match self.res.point {
                Point::Fentry { ret: true, .. } => self
                    .fexit_retval(span)
                    .unwrap_or_else(|| Err(unsupported(span, "retval"))),
                Point::Uprobe { .. } | Point::Kprobe { .. } => {
                    let v = self.v();
                    self.emit(Op::Load(Size::DW, v, self.ctx, PT_REGS_AX));
                    Ok(Val::Int(v, true))
                }
                _ => Err(Diagnostic::error(
                    span,
                    "retval is not available in this probe",
                )),
            },
            "args" => Err(Diagnostic::error(span, "args must be followed by a field")),
            _ => {
                if let Some(n) = name
                    .strip_prefix("arg")
                    .and_then(|r| r.parse::<usize>().ok())
                {
                    return self.arg_n(n, span);
                }
                if let Some((_, v)) = self.cx.checked.script_types.enumerators.get(name) {
                    return int(self.imm(*v));
                }
                // A header the script includes says best what its macros are; then the
                // built-in header table, then the kernel's enumerators.
                if let Some(v) = self.cx.opts.header_constants.get(name).copied() {
                    return int(self.imm(v));
                }
                if let Some(v) = kernel_constant(name) {
                    return int(self.imm(v));
                }
                if let Some(r) = self.kernel_builtin(name, span) {
                    return r;
                }
                Err(unsupported(span, &format!("the builtin '{name}'")))
            }
        }
    }

    fn arg_n(&mut self, n: usize, span: Span) -> R<Val> {
        let res = self.res;
        if let Point::Usdt(u) = &res.point {
            return self.usdt_arg(u, n, span);
        }
        let off = match (&self.res.point, PT_REGS_ARGS.get(n)) {
            (Point::Uprobe { .. } | Point::Kprobe { .. }, Some(o)) => *o,
            (Point::RawTracepoint { .. }, _) if n < 12 => (n * 8) as i16,
            _ => {
                return Err(Diagnostic::error(
                    span,
                    format!("arg{n} is not available in this probe"),
                ))
            }
        };
        let v = self.v();
        self.emit(Op::Load(Size::DW, v, self.ctx, off));
        Ok(Val::Int(v, false))
    }

    pub(super) fn field(&mut self, e: &Expr, base: &Expr, field: &Name) -> R<Val> {
        if let ExprKind::Ident(b) = &base.kind {
            if b == "args" {
                return self.tp_arg(field);
            }
        }
        if let Some(i) = self.record_field_index(base, field) {
            return self.tuple_index(base, i);
        }
        if let Some(v) = self.script_field(base, field)? {
            return Ok(v);
        }
        let bv = self.expr(base)?;
        let Val::Int(p, _) = bv else {
            return Err(unsupported(e.span, "field access on this value"));
        };
        let Some(sid) = self.kptr.get(&p).copied() else {
            return Err(Diagnostic::error(
                base.span,
                "the type of this pointer is not known: cast it, e.g. ((struct task_struct *)arg0)",
            ));
        };
        let btf =
            bpfkit::attach::vmlinux_btf().map_err(|x| Diagnostic::error(e.span, x.to_string()))?;
        let sname = btf
            .type_by_id(sid)
            .map(|t| t.name.to_string())
            .unwrap_or_default();
        let (bits, tid, bf) = find_member(&btf, sid, &field.name, 0).ok_or_else(|| {
            Diagnostic::error(
                field.span,
                format!(
                    "Struct/union of type 'struct {sname}' does not contain a field named '{}'",
                    field.name
                ),
            )
        })?;
        let off = (bits / 8) as i32;
        let rt = btf.resolve_type(tid).unwrap_or(tid);
        let t = btf
            .type_by_id(rt)
            .map_err(|x| Diagnostic::error(field.span, x.to_string()))?;
        let addr = self.copy(p);
        self.alu(AluOp::Add, addr, Src::Imm(off));
        match t.kind {
            Kind::Struct | Kind::Union => {
                self.kptr.insert(addr, rt);
                Ok(Val::Int(addr, false))
            }
            Kind::Ptr => {
                let v = self.read_kernel(addr, 8);
                let pointee = t
                    .referenced()
                    .and_then(|r| btf.resolve_type(r).ok())
                    .unwrap_or(0);
                if btf
                    .type_by_id(pointee)
                    .is_ok_and(|x| matches!(x.kind, Kind::Struct | Kind::Union))
                {
                    self.kptr.insert(v, pointee);
                }
                Ok(Val::Int(v, false))
            }
            Kind::Int | Kind::Enum | Kind::Enum64 => {
                let size = t.size().unwrap_or(8).min(8);
                let signed = matches!(&t.detail, Detail::Int(i) if i.is_signed());
                let v = self.read_kernel(addr, size);
                if bf > 0 {
                    self.alu(AluOp::Rsh, v, Src::Imm((bits % 8) as i32));
                    let m = self.imm((1i64 << bf) - 1);
                    self.alu(AluOp::And, v, Src::V(m));
                } else if signed && size < 8 {
                    let sh = 64 - 8 * size as i32;
                    self.alu(AluOp::Lsh, v, Src::Imm(sh));
                    self.alu(AluOp::Arsh, v, Src::Imm(sh));
                }
                Ok(Val::Int(v, signed))
            }
            Kind::Array => {
                let (elem, n) = match &t.detail {
                    Detail::Array(a) => (a.elem_type, a.nelems),
                    _ => (0, 0),
                };
                let er = btf.resolve_type(elem).unwrap_or(elem);
                let is_char = btf
                    .type_by_id(er)
                    .is_ok_and(|x| x.kind == Kind::Int && x.size() == Some(1));
                if !is_char {
                    if let Some(v) = self.kernel_int_array(&btf, er, n, addr) {
                        return Ok(v);
                    }
                }
                if !is_char || n == 0 || n > 4096 {
                    return Err(unsupported(field.span, "reading this array member"));
                }
                let (buf, _) = self.alloc(n + 1);
                self.zero(buf, n + 1);
                self.call(
                    h::PROBE_READ_KERNEL,
                    vec![Arg::V(buf), Arg::Imm(i64::from(n)), Arg::V(addr)],
                );
                Ok(Val::Mem(buf, Type::Str(u64::from(n + 1))))
            }
            _ => Err(unsupported(field.span, "reading this member type")),
        }
    }

    /// Reads `n` (≤ 8) bytes at `addr` into a fresh register (0 on fault). The legacy
    /// `probe_read` reads kernel and user addresses alike on x86-64, and tracepoint struct
    /// pointers (`args->rqtp`) are often user memory.
    pub(super) fn read_kernel(&mut self, addr: V, n: u32) -> V {
        let (slot, _) = self.alloc(8);
        self.emit(Op::Store(Size::DW, slot, 0, Src::Imm(0)));
        self.call(
            h::PROBE_READ,
            vec![Arg::V(slot), Arg::Imm(i64::from(n)), Arg::V(addr)],
        );
        let v = self.v();
        let size = match n {
            1 => Size::B,
            2 => Size::H,
            3 | 4 => Size::W,
            _ => Size::DW,
        };
        self.emit(Op::Load(size, v, slot, 0));
        v
    }

    fn tp_arg(&mut self, field: &Name) -> R<Val> {
        if let Point::RawTracepoint { name } = &self.res.point {
            return self.raw_tp_arg(&name.clone(), field);
        }
        if let Some(r) = self.fentry_arg(field) {
            return r;
        }
        let Point::Tracepoint { format, .. } = &self.res.point else {
            return Err(Diagnostic::error(
                field.span,
                "args is only available in tracepoint probes here",
            ));
        };
        let f = format
            .args()
            .find(|f| f.name == field.name)
            .cloned()
            .ok_or_else(|| {
                Diagnostic::error(
                    field.span,
                    format!(
                        "Can't find field '{}' in tracepoint {}",
                        field.name, self.res.name
                    ),
                )
            })?;
        let ty = tracepoint_field_type(&f.ty, f.size, f.signed, &NoTypes);
        let off = f.offset as i16;
        if let Some(dynk) = f.ty.dynamic {
            let n = 1024u32;
            let (p, _) = self.alloc(n);
            let loc = self.v();
            self.emit(Op::Load(Size::W, loc, self.ctx, off));
            self.alu(AluOp::And, loc, Src::Imm(0xffff));
            if dynk == Dynamic::RelLoc {
                self.alu(AluOp::Add, loc, Src::Imm(i32::from(off) + 4));
            }
            let src = self.copy(self.ctx);
            self.alu(AluOp::Add, src, Src::V(loc));
            self.zero(p, n);
            self.call(
                h::PROBE_READ_KERNEL_STR,
                vec![Arg::V(p), Arg::Imm(i64::from(n)), Arg::V(src)],
            );
            return Ok(Val::Mem(p, Type::Str(u64::from(n))));
        }
        if let Type::Str(n) = ty {
            let n = n as u32;
            let (p, _) = self.alloc(n + 1);
            self.zero(p, n + 1);
            let src = self.copy(self.ctx);
            self.alu(AluOp::Add, src, Src::Imm(i32::from(off)));
            self.call(
                h::PROBE_READ_KERNEL,
                vec![Arg::V(p), Arg::Imm(i64::from(n)), Arg::V(src)],
            );
            return Ok(Val::Mem(p, Type::Str(u64::from(n + 1))));
        }
        if let Type::Array(elem, n) = &ty {
            if let Some(v) = self.tp_array(off, f.size, elem, *n) {
                return Ok(v);
            }
        }
        let size = match f.size {
            1 => Size::B,
            2 => Size::H,
            4 => Size::W,
            8 => Size::DW,
            _ => return Err(unsupported(field.span, "this tracepoint field type")),
        };
        let v = self.v();
        self.emit(Op::Load(size, v, self.ctx, off));
        if f.ty.pointer_depth == 1 {
            let named =
                f.ty.base
                    .strip_prefix("struct ")
                    .map(|n| (n, Kind::Struct))
                    .or_else(|| f.ty.base.strip_prefix("union ").map(|n| (n, Kind::Union)));
            if let (Some((n, k)), Ok(btf)) = (named, bpfkit::attach::vmlinux_btf()) {
                if let Some(id) = btf.find_by_name_kind(n, k) {
                    self.kptr.insert(v, id);
                }
            }
        }
        let signed = signed_of(&ty);
        if signed && f.size < 8 {
            let sh = 64 - 8 * f.size as i32;
            self.alu(AluOp::Lsh, v, Src::Imm(sh));
            self.alu(AluOp::Arsh, v, Src::Imm(sh));
        }
        Ok(Val::Int(v, signed))
    }
}

/// A kernel constant: one of the header macros of [`crate::types::header_constant`] (task
/// states, address families, errno values: BTF has no macros), else an enumerator of the
/// kernel's BTF (`SKB_DROP_REASON_…`).
fn kernel_constant(name: &str) -> Option<i64> {
    if let Some(v) = crate::types::header_constant(name) {
        return Some(v);
    }
    let btf = bpfkit::attach::vmlinux_btf().ok()?;
    let found = btf
        .types()
        .filter_map(Result::ok)
        .find_map(|t| match &t.detail {
            Detail::Enum(e) => e
                .values
                .iter()
                .find(|v| v.name == name)
                .map(|v| v.value as i64),
            _ => None,
        });
    found
}

/// A member of struct `sid` by name, looking into anonymous members: `(bit offset, type id,
/// bitfield width)`.
pub(super) fn find_member(btf: &Btf, sid: u32, name: &str, base: u32) -> Option<(u32, u32, u8)> {
    let t = btf.type_by_id(sid).ok()?;
    for m in t.members() {
        if m.name == name {
            return Some((base + m.bit_offset, m.type_id, m.bitfield_size));
        }
        if m.name.is_empty() {
            let inner = btf.resolve_type(m.type_id).ok()?;
            if let Some(r) = find_member(btf, inner, name, base + m.bit_offset) {
                return Some(r);
            }
        }
    }
    None
}

/// `struct pt_regs` (x86-64) offsets of the argument registers di, si, dx, cx, r8, r9.
const PT_REGS_ARGS: [i16; 6] = [112, 104, 96, 88, 72, 64];
/// Offset of ax (the return value).
const PT_REGS_AX: i16 = 80;
