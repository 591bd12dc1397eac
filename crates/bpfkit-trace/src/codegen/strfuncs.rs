//! Functions whose text is made in user space: `strerror()` sends the errno and the runtime
//! words it; `signal_name()` of a constant is worded at compile time.

use super::*;
use crate::runtime::strfuncs::signal_text;

impl Gen<'_, '_> {
    /// `strerror(n)`: the number in an 8-byte slot typed `Strerror`, worded when printed.
    pub(super) fn strerror_fn(&mut self, e: &Expr, args: &[Expr]) -> R<Val> {
        let a = args
            .first()
            .ok_or_else(|| Diagnostic::error(e.span, "strerror() needs an integer"))?;
        let v = self.int(a)?;
        let (p, _) = self.alloc(8);
        self.emit(Op::Store(Size::DW, p, 0, Src::V(v)));
        Ok(Val::Mem(p, Type::Strerror))
    }

    /// `signal_name(n)` of a constant: the description as a string literal.
    pub(super) fn signal_name_fn(&mut self, e: &Expr, args: &[Expr]) -> R<Val> {
        let n = args
            .first()
            .and_then(const_eval)
            .ok_or_else(|| unsupported(e.span, "signal_name() of a non-constant"))?;
        Ok(self.str_lit(signal_text(n).as_bytes()))
    }
}

/// Bytes of an `Inet` value: the address family, then the address (IPv4 in its first 4).
pub const INET_SIZE: u32 = 24;

impl Gen<'_, '_> {
    /// `ntop([af,] addr)`: the family and address bytes, worded by the runtime.
    pub(super) fn ntop_fn(&mut self, e: &Expr, args: &[Expr]) -> R<Val> {
        let (fam, addr) = match args {
            [a] => (None, a),
            [f, a] => (Some(f), a),
            _ => return Err(Diagnostic::error(e.span, "ntop() needs an address")),
        };
        let (p, _) = self.alloc(INET_SIZE);
        self.zero(p, INET_SIZE);
        let fv = match fam {
            Some(f) => self.int(f)?,
            None => self.imm(2),
        };
        self.emit(Op::Store(Size::DW, p, 0, Src::V(fv)));
        match self.expr(addr)? {
            Val::Int(v, _) => self.emit(Op::Store(Size::DW, p, 8, Src::V(v))),
            Val::Mem(src, t) => {
                // pton()'s byte arrays are as long as the address; others by their layout.
                let n = match &t {
                    Type::Array(_, n) => u32::try_from(*n).unwrap_or(16),
                    other => size_of(other),
                }
                .min(16);
                let dst = self.copy(p);
                self.alu(AluOp::Add, dst, Src::Imm(8));
                self.memcpy(dst, src, n);
            }
            Val::Void => return Err(Diagnostic::error(addr.span, "ntop() of nothing")),
        }
        Ok(Val::Mem(p, Type::Inet))
    }

    /// `pton("addr")` of a literal: the address bytes (4 or 16 of them), parsed here.
    pub(super) fn pton_fn(&mut self, e: &Expr, args: &[Expr]) -> R<Val> {
        let Some(ExprKind::Str(s)) = args.first().map(|a| &a.kind) else {
            return Err(unsupported(e.span, "pton() of a non-literal"));
        };
        let text = String::from_utf8_lossy(s);
        let bytes: Vec<u8> = match text.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(a)) => a.octets().to_vec(),
            Ok(std::net::IpAddr::V6(a)) => a.octets().to_vec(),
            Err(_) => {
                return Err(Diagnostic::error(
                    e.span,
                    format!("pton() expects a valid IPv4 or IPv6 address: {text}"),
                ))
            }
        };
        let (p, _) = self.alloc(16);
        self.zero(p, 16);
        for (i, c) in bytes.chunks(4).enumerate() {
            let mut w = [0u8; 4];
            w.copy_from_slice(c);
            self.emit(Op::Store(
                Size::W,
                p,
                (i * 4) as i16,
                Src::Imm(i32::from_le_bytes(w)),
            ));
        }
        let elem = Type::Int {
            bits: 8,
            signed: false,
        };
        Ok(Val::Mem(p, Type::Array(Box::new(elem), bytes.len() as u64)))
    }
}

/// Bytes of a `Timestamp` value: the nanoseconds, then the format, NUL-terminated.
pub const TIMESTAMP_SIZE: u32 = 64;

impl Gen<'_, '_> {
    /// `strftime("fmt", ns)`: the time and the format travel together; the runtime formats.
    pub(super) fn strftime_fn(&mut self, e: &Expr, args: &[Expr]) -> R<Val> {
        let (Some(ExprKind::Str(fmt)), Some(t)) = (args.first().map(|a| &a.kind), args.get(1))
        else {
            return Err(Diagnostic::error(
                e.span,
                "strftime() needs a format string literal and a time",
            ));
        };
        if fmt.len() as u32 >= TIMESTAMP_SIZE - 8 {
            return Err(unsupported(
                e.span,
                "a strftime() format of 56 bytes or more",
            ));
        }
        let fmt = fmt.clone();
        let ns = self.int(t)?;
        let (p, _) = self.alloc(TIMESTAMP_SIZE);
        self.emit(Op::Store(Size::DW, p, 0, Src::V(ns)));
        let mut bytes = fmt;
        bytes.resize((TIMESTAMP_SIZE - 8) as usize, 0);
        for (i, c) in bytes.chunks(4).enumerate() {
            let mut w = [0u8; 4];
            w.copy_from_slice(c);
            self.emit(Op::Store(
                Size::W,
                p,
                (8 + i * 4) as i16,
                Src::Imm(i32::from_le_bytes(w)),
            ));
        }
        Ok(Val::Mem(p, Type::Timestamp))
    }
}

impl Gen<'_, '_> {
    /// `buf(src, n)`: `n` bytes (a constant) of a string, array or kernel/user pointer.
    pub(super) fn buf_fn(&mut self, e: &Expr, args: &[Expr]) -> R<Val> {
        let a = args
            .first()
            .ok_or_else(|| Diagnostic::error(e.span, "buf() needs an argument"))?;
        let n = match self.checked_type(e) {
            Type::Buffer(n) => u32::try_from(n).unwrap_or(u32::MAX),
            _ => 64,
        };
        if args.len() > 1 && args.get(1).and_then(const_eval).is_none() {
            return Err(unsupported(e.span, "buf() with a non-constant length"));
        }
        if n == 0 || n > 1024 {
            return Err(unsupported(e.span, "buf() of more than 1024 bytes"));
        }
        let (p, _) = self.alloc(n);
        self.zero(p, pad8(n));
        match self.expr(a)? {
            Val::Int(ptr, _) => {
                self.call(
                    h::PROBE_READ,
                    vec![Arg::V(p), Arg::Imm(i64::from(n)), Arg::V(ptr)],
                );
            }
            Val::Mem(src, t) => {
                let have = match &t {
                    Type::Str(m) => u32::try_from(*m).unwrap_or(n),
                    other => size_of(other),
                };
                self.memcpy(p, src, pad8(n.min(have)).min(pad8(n)));
            }
            Val::Void => return Err(Diagnostic::error(a.span, "buf() of nothing")),
        }
        Ok(Val::Mem(p, Type::Buffer(u64::from(n))))
    }
}

/// Marks a format whose `FILE:LINE:COL-COL: LEVEL: ` prefix the driver fills in (codegen
/// knows spans, not the source text): `MARK level start end MARK format`.
pub const DIAG_MARK: char = '\u{1}';

impl Gen<'_, '_> {
    /// `errorf`/`warnf`: a `printf` event whose format carries the call's span and level.
    pub(super) fn diagf_fn(&mut self, e: &Expr, name: &str, args: &[Expr]) -> R<Val> {
        let Some(ExprKind::Str(s)) = args.first().map(|a| &a.kind) else {
            return Err(Diagnostic::error(
                e.span,
                "the format must be a string literal",
            ));
        };
        let level = if name == "errorf" { "ERROR" } else { "WARNING" };
        // A macro expansion's header (call sites, a stdlib place) travels in the mark.
        let (sites, s) = crate::macros::split_sites(s);
        let extra: String = sites.iter().map(|x| format!(" {x}")).collect();
        let fmt = format!(
            "{DIAG_MARK}{level} {} {}{extra}{DIAG_MARK}{}\n",
            e.span.start,
            e.span.end,
            String::from_utf8_lossy(s)
        );
        self.send_formatted(event::PRINTF, fmt, args)
    }
}

/// Whether `fmt` is a marked warning (`warnf`, `Map full`), which `--no-warnings` silences.
pub fn is_warning_format(fmt: &str) -> bool {
    fmt.strip_prefix(DIAG_MARK)
        .is_some_and(|r| r.starts_with("WARNING "))
}

/// Fills in the prefix of a format marked by `errorf`/`warnf` code; other formats are returned
/// unchanged. The place (`FILE:LINE:COL-COL`) comes from `src`, or from the header when a
/// standard macro gave one; each macro call site the call was expanded from adds an
/// `expanded from` diagnostic after the message.
pub fn resolve_diag_format(fmt: &str, src: &crate::diag::SourceFile) -> String {
    let Some(rest) = fmt.strip_prefix(DIAG_MARK) else {
        return fmt.to_string();
    };
    let Some((head, body)) = rest.split_once(DIAG_MARK) else {
        return fmt.to_string();
    };
    let mut it = head.split(' ');
    let level = it.next().unwrap_or("ERROR");
    let start = it.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    let end = it.next().and_then(|v| v.parse().ok()).unwrap_or(start);
    let mut place = src.place(Span::new(start, end));
    let mut notes = String::new();
    for item in it {
        if let Some(p) = item.strip_prefix('=') {
            place = p.to_string();
        } else if let Some((a, b)) = item.split_once('-') {
            let (Ok(a), Ok(b)) = (a.parse(), b.parse()) else {
                continue;
            };
            let d = Diagnostic::error(Span::new(a, b), "expanded from");
            notes.push_str(src.render(&d).trim_end());
            notes.push('\n');
        }
    }
    let place = place.replace('%', "%%");
    format!("{place}: {level}: {body}{}", notes.replace('%', "%%"))
}
