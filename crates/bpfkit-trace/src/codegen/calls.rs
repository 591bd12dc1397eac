//! Function calls: `printf`/`time`/`print` events, map actions (`clear`, `zero`, `delete`,
//! `has_key`), `exit`, `str`, `strlen`, `signal` and `join` (a bounded, verifier-friendly
//! walk over a NULL-terminated array of string pointers).

use super::*;

impl Gen<'_, '_> {
    fn map_arg(&self, e: &Expr) -> R<(String, Vec<Expr>)> {
        match &e.kind {
            ExprKind::Map { name, keys, .. } => Ok((name.clone(), keys.clone())),
            _ => Err(Diagnostic::error(e.span, "expected a map")),
        }
    }

    /// Sends event `kind` of a new format `fmt` with the values of `args[1..]` (`args[0]` is
    /// the format), recording the argument types (enums named) that the runtime reads back.
    pub(super) fn send_formatted(&mut self, kind: u64, fmt: String, args: &[Expr]) -> R<Val> {
        let rest = args.get(1..).unwrap_or(&[]);
        let mut vals = Vec::new();
        for a in rest {
            vals.push(self.expr(a)?);
        }
        let id = self.cx.format(fmt, Vec::new());
        let types = self.send(kind, id, &vals)?;
        let types = crate::runtime::enums::enum_arg_types(types, rest, &self.cx.checked.expr_types);
        if let Some(f) = self.cx.formats.get_mut(id as usize) {
            f.args = types;
        }
        Ok(Val::Void)
    }

    pub(super) fn send(&mut self, kind: u64, id: i64, payload: &[Val]) -> R<Vec<Type>> {
        let size: u32 = 16
            + payload
                .iter()
                .map(|v| match v {
                    Val::Int(..) => 8,
                    Val::Mem(_, t) => size_of(t),
                    Val::Void => 0,
                })
                .sum::<u32>();
        let (p, _) = self.alloc(size);
        self.emit(Op::Store(Size::DW, p, 0, Src::Imm(kind as i32)));
        let idv = self.imm(id);
        self.emit(Op::Store(Size::DW, p, 8, Src::V(idv)));
        let body = self.copy(p);
        self.alu(AluOp::Add, body, Src::Imm(16));
        let types = self.write_packed(body, payload)?;
        let r = self.call(
            h::RINGBUF_OUTPUT,
            vec![
                Arg::Map(MAP_EVENTS),
                Arg::V(p),
                Arg::Imm(i64::from(size)),
                Arg::Imm(0),
            ],
        );
        // A full ring refuses the record: count it so the runtime reports the loss.
        let sent = self.l();
        self.emit(Op::Br(JmpOp::Eq, r, Src::Imm(0), sent));
        let z = self.call_zero_value();
        let c = self.call(h::MAP_LOOKUP_ELEM, vec![Arg::Map(MAP_LOST), Arg::V(z)]);
        self.emit(Op::Br(JmpOp::Eq, c, Src::Imm(0), sent));
        let t = self.v();
        self.emit(Op::Load(Size::DW, t, c, 0));
        self.alu(AluOp::Add, t, Src::Imm(1));
        self.emit(Op::Store(Size::DW, c, 0, Src::V(t)));
        self.emit(Op::Label(sent));
        Ok(types)
    }

    pub(super) fn call_fn(&mut self, e: &Expr, name: &str, args: &[Expr]) -> R<Val> {
        match name {
            "printf" | "time" => {
                let fmt = match args.first().map(|a| &a.kind) {
                    Some(ExprKind::Str(s)) => String::from_utf8_lossy(s).into_owned(),
                    None if name == "time" => "%H:%M:%S\n".to_string(),
                    _ => {
                        return Err(Diagnostic::error(
                            e.span,
                            "the format must be a string literal",
                        ))
                    }
                };
                let kind = if name == "time" {
                    event::TIME
                } else {
                    event::PRINTF
                };
                self.send_formatted(kind, fmt, args)
            }
            "print" => {
                let Some(a) = args.first() else {
                    return Err(Diagnostic::error(e.span, "print() needs an argument"));
                };
                if let ExprKind::Map { name, keys, .. } = &a.kind {
                    if keys.is_empty()
                        || matches!(self.map_def(name, a.span)?.1.value, ValueKind::Agg(..))
                            && keys.is_empty()
                    {
                        let (mi, _) = self.map_def(name, a.span)?;
                        // `print(@m, top, div)`: both travel with the event.
                        let mut extra = Vec::new();
                        for x in args.iter().skip(1) {
                            match self.expr(x)? {
                                v @ Val::Int(..) => extra.push(v),
                                _ => {
                                    return Err(Diagnostic::error(
                                        x.span,
                                        "print(): top and div must be integers",
                                    ))
                                }
                            }
                        }
                        self.send(event::PRINT, i64::from(mi), &extra)?;
                        return Ok(Val::Void);
                    }
                }
                let v = self.expr(a)?;
                // A pointer prints in hex.
                let ptr = Some(self.checked_type(a))
                    .filter(|t| matches!(t, Type::Pointer(_)) && matches!(v, Val::Int(..)));
                let id = self.cx.formats.len() as i64;
                self.cx.format(String::new(), Vec::new());
                let mut types = self.send(event::PRINT_VALUE, id, &[v])?;
                if let Some(t) = ptr {
                    types = vec![t];
                }
                if let Some(f) = self.cx.formats.get_mut(id as usize) {
                    f.args = types;
                }
                Ok(Val::Void)
            }
            "clear" | "zero" => {
                let (m, _) =
                    self.map_arg(args.first().ok_or_else(|| {
                        Diagnostic::error(e.span, format!("{name}() needs a map"))
                    })?)?;
                let (mi, _) = self.map_def(&m, e.span)?;
                let k = if name == "clear" {
                    event::CLEAR
                } else {
                    event::ZERO
                };
                self.send(k, i64::from(mi), &[])?;
                Ok(Val::Void)
            }
            "delete" => {
                let a = args
                    .first()
                    .ok_or_else(|| Diagnostic::error(e.span, "delete() needs a map element"))?;
                let (m, mut keys) = self.map_arg(a)?;
                if args.len() > 1 {
                    keys = args.get(1).cloned().into_iter().collect();
                }
                let (mi, def) = self.map_def(&m, a.span)?;
                if matches!(def.value, ValueKind::Agg(AggKind::Hist | AggKind::Lhist, _)) {
                    return Err(unsupported(e.span, "delete() on a histogram map"));
                }
                let k = self.key(&def, &keys)?;
                let rc = self.call(h::MAP_DELETE_ELEM, vec![Arg::Map(mi), Arg::V(k)]);
                // true when an element was there to delete.
                let r = self.imm(0);
                let l = self.l();
                self.emit(Op::Br(JmpOp::Ne, rc, Src::Imm(0), l));
                self.emit(Op::Imm(r, 1));
                self.emit(Op::Label(l));
                self.bools.insert(r);
                Ok(Val::Int(r, false))
            }
            "len" => {
                let (m, _) = self.map_arg(
                    args.first()
                        .ok_or_else(|| Diagnostic::error(e.span, "len() needs a map"))?,
                )?;
                let (mi, _) = self.map_def(&m, e.span)?;
                Ok(Val::Int(self.map_len(mi), false))
            }
            "has_key" => {
                let (m, _) = self.map_arg(
                    args.first()
                        .ok_or_else(|| Diagnostic::error(e.span, "has_key() needs a map"))?,
                )?;
                let keys: Vec<Expr> = args.iter().skip(1).cloned().collect();
                let (mi, def) = self.map_def(&m, e.span)?;
                let k = self.key(&def, &keys)?;
                let p = self.call(h::MAP_LOOKUP_ELEM, vec![Arg::Map(mi), Arg::V(k)]);
                let r = self.imm(0);
                let l = self.l();
                self.emit(Op::Br(JmpOp::Eq, p, Src::Imm(0), l));
                self.emit(Op::Imm(r, 1));
                self.emit(Op::Label(l));
                Ok(Val::Int(r, false))
            }
            "system" | "cat" => {
                let fmt = match args.first().map(|a| &a.kind) {
                    Some(ExprKind::Str(s)) => String::from_utf8_lossy(s).into_owned(),
                    _ => {
                        return Err(Diagnostic::error(
                            e.span,
                            "the command must be a string literal",
                        ))
                    }
                };
                let kind = if name == "system" {
                    event::SYSTEM
                } else {
                    event::CAT
                };
                self.send_formatted(kind, fmt, args)
            }
            "nsecs" => {
                let clock = match args.first().map(|a| &a.kind) {
                    Some(ExprKind::Ident(c)) => c.as_str(),
                    _ => "monotonic",
                };
                let helper = match clock {
                    "boot" => h::KTIME_GET_BOOT_NS,
                    "tai" => h::KTIME_GET_TAI_NS,
                    _ => h::KTIME_GET_NS,
                };
                Ok(Val::Int(self.call(helper, vec![]), false))
            }
            "bswap" => {
                let a = args
                    .first()
                    .ok_or_else(|| Diagnostic::error(e.span, "bswap() needs an integer"))?;
                let bits = match self.checked_type(a) {
                    Type::Int { bits, .. } => i32::from(bits),
                    _ => 64,
                };
                let v = self.int(a)?;
                let d = self.copy(v);
                if bits > 8 {
                    self.emit(Op::Bswap(d, bits));
                }
                Ok(Val::Int(d, false))
            }
            "exit" => {
                let code = match args.first() {
                    Some(a) => self.int(a)?,
                    None => self.imm(0),
                };
                self.exit_flag_set(code);
                self.send(event::EXIT, 0, &[Val::Int(code, true)])?;
                let l = self.exit_label;
                self.emit(Op::Jmp(l));
                Ok(Val::Void)
            }
            "str" => {
                let a = args
                    .first()
                    .ok_or_else(|| Diagnostic::error(e.span, "str() needs an argument"))?;
                let src = self.expr(a)?;
                let n = match self.checked_type(e) {
                    Type::Str(n) => n as u32,
                    _ => 1024,
                };
                let (p, _) = self.alloc(n);
                self.zero(p, n);
                let len: Arg = match args.get(1) {
                    Some(l) => {
                        let lv = self.int(l)?;
                        let lv = self.copy(lv);
                        self.alu(AluOp::Add, lv, Src::Imm(1));
                        let ok = self.l();
                        self.emit(Op::Br(JmpOp::Le, lv, Src::Imm(n as i32), ok));
                        self.emit(Op::Imm(lv, i64::from(n)));
                        self.emit(Op::Label(ok));
                        Arg::V(lv)
                    }
                    None => Arg::Imm(i64::from(n)),
                };
                match src {
                    Val::Int(ptr, _) => {
                        self.call(h::PROBE_READ_STR, vec![Arg::V(p), len, Arg::V(ptr)]);
                        Ok(Val::Mem(p, Type::Str(u64::from(n))))
                    }
                    v @ Val::Mem(..) => Ok(v),
                    Val::Void => Err(Diagnostic::error(a.span, "str() of nothing")),
                }
            }
            "join" => {
                let (p, _) = self.join_value(e, args)?;
                Ok(Val::Mem(p, Type::Str(u64::from(JOIN_MASK + 1))))
            }
            "strlen" => {
                let a = args
                    .first()
                    .ok_or_else(|| Diagnostic::error(e.span, "strlen() needs a string"))?;
                let Val::Mem(p, t) = self.expr(a)? else {
                    return Err(Diagnostic::error(a.span, "strlen() needs a string"));
                };
                let n = size_of(&t).min(256);
                let r = self.imm(0);
                let out = self.l();
                let c = self.v();
                for i in 0..n {
                    self.emit(Op::Load(Size::B, c, p, i as i16));
                    self.emit(Op::Br(JmpOp::Eq, c, Src::Imm(0), out));
                    self.emit(Op::Imm(r, i64::from(i + 1)));
                }
                self.emit(Op::Label(out));
                Ok(Val::Int(r, false))
            }
            "signal" => {
                let a = args
                    .first()
                    .ok_or_else(|| Diagnostic::error(e.span, "signal() needs a signal"))?;
                let sig = match &a.kind {
                    ExprKind::Str(s) => signal_number(&String::from_utf8_lossy(s))
                        .ok_or_else(|| Diagnostic::error(a.span, "unknown signal"))?,
                    _ => const_eval(a)
                        .ok_or_else(|| Diagnostic::error(a.span, "signal() needs a constant"))?,
                };
                self.call(h::SEND_SIGNAL, vec![Arg::Imm(sig)]);
                Ok(Val::Void)
            }
            "kstack" | "ustack" => self.stack_value(name == "kstack", args),
            "strerror" => self.strerror_fn(e, args),
            "signal_name" => self.signal_name_fn(e, args),
            "ntop" => self.ntop_fn(e, args),
            "pton" => self.pton_fn(e, args),
            "strftime" => self.strftime_fn(e, args),
            "buf" => self.buf_fn(e, args),
            "errorf" | "warnf" => self.diagf_fn(e, name, args),
            "count" | "sum" | "avg" | "min" | "max" | "stats" | "hist" | "lhist" => Err(
                Diagnostic::error(e.span, format!("{name}() must be assigned to a map")),
            ),
            _ => match self.kernel_call(e, name, args) {
                Some(r) => r,
                None => Err(unsupported(e.span, &format!("the function {name}()"))),
            },
        }
    }

    /// Reads a NULL-terminated array of string pointers (at most 16) into one buffer, the
    /// strings separated by single spaces (or the one-character delimiter given).
    fn join_value(&mut self, e: &Expr, args: &[Expr]) -> R<(V, u32)> {
        let a = args
            .first()
            .ok_or_else(|| Diagnostic::error(e.span, "join() needs an array"))?;
        let sep = match args.get(1).map(|d| &d.kind) {
            Some(ExprKind::Str(s)) => s.first().copied().unwrap_or(b' '),
            Some(_) => {
                return Err(Diagnostic::error(
                    e.span,
                    "join()'s delimiter must be a string literal",
                ))
            }
            None => b' ',
        };
        let arr = self.int(a)?;
        let arr = self.copy(arr);
        let total = JOIN_MASK + 1 + JOIN_ARG_LEN;
        let (buf, _) = self.alloc(total);
        let (slot, _) = self.alloc(8);
        self.emit(Op::Store(Size::B, buf, 0, Src::Imm(0)));
        let off = self.imm(0);
        let done = self.l();
        for i in 0..JOIN_ARGS {
            let src = self.copy(arr);
            self.alu(AluOp::Add, src, Src::Imm((i * 8) as i32));
            self.call(h::PROBE_READ, vec![Arg::V(slot), Arg::Imm(8), Arg::V(src)]);
            let ptr = self.v();
            self.emit(Op::Load(Size::DW, ptr, slot, 0));
            self.emit(Op::Br(JmpOp::Eq, ptr, Src::Imm(0), done));
            self.alu(AluOp::And, off, Src::Imm(JOIN_MASK as i32));
            let dst = self.copy(buf);
            self.alu(AluOp::Add, dst, Src::V(off));
            let n = self.call(
                h::PROBE_READ_STR,
                vec![Arg::V(dst), Arg::Imm(i64::from(JOIN_ARG_LEN)), Arg::V(ptr)],
            );
            self.emit(Op::Br(JmpOp::Sle, n, Src::Imm(0), done));
            self.emit(Op::Br(JmpOp::Sgt, n, Src::Imm(JOIN_ARG_LEN as i32), done));
            self.alu(AluOp::Add, off, Src::V(n));
            let at = self.copy(off);
            self.alu(AluOp::Sub, at, Src::Imm(1));
            self.alu(AluOp::And, at, Src::Imm(JOIN_MASK as i32));
            let d2 = self.copy(buf);
            self.alu(AluOp::Add, d2, Src::V(at));
            self.emit(Op::Store(Size::B, d2, 0, Src::Imm(i32::from(sep))));
        }
        self.emit(Op::Label(done));
        // The last separator becomes the terminator.
        let fin = self.l();
        self.emit(Op::Br(JmpOp::Eq, off, Src::Imm(0), fin));
        self.alu(AluOp::Sub, off, Src::Imm(1));
        self.alu(AluOp::And, off, Src::Imm(JOIN_MASK as i32));
        let d3 = self.copy(buf);
        self.alu(AluOp::Add, d3, Src::V(off));
        self.emit(Op::Store(Size::B, d3, 0, Src::Imm(0)));
        self.emit(Op::Label(fin));
        Ok((buf, total))
    }

    pub(super) fn join_stmt(&mut self, e: &Expr, args: &[Expr]) -> R<()> {
        let (p, _) = self.join_value(e, args)?;
        self.send(
            event::JOIN,
            0,
            &[Val::Mem(p, Type::Str(u64::from(JOIN_MASK + 1)))],
        )?;
        Ok(())
    }
}

/// A signal's number from its name (`SIGKILL` or `KILL`).
pub fn signal_number(name: &str) -> Option<i64> {
    let n = name.strip_prefix("SIG").unwrap_or(name);
    Some(match n {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "TRAP" => 5,
        "ABRT" => 6,
        "BUS" => 7,
        "FPE" => 8,
        "KILL" => 9,
        "USR1" => 10,
        "SEGV" => 11,
        "USR2" => 12,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        "CHLD" => 17,
        "CONT" => 18,
        "STOP" => 19,
        _ => return None,
    })
}
