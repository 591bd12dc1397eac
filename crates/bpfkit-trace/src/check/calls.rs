//! Builtin variables and functions: which probes may use them, their arity, argument
//! kinds and result types, and printf format checking.

use super::{const_eval, Checker};
use crate::ast::*;
use crate::attach::ProbeKind;
use crate::diag::Span;
use crate::format::{specs, ArgKind};
use crate::types::{AggKind, Type};

/// `(min, max)` argument counts of the builtin functions; `usize::MAX` is "any number".
fn arity(name: &str) -> Option<(usize, usize)> {
    const ANY: usize = usize::MAX;
    Some(match name {
        "printf" | "errorf" | "warnf" | "debugf" | "system" | "cat" => (1, ANY),
        "print" => (1, 3),
        "time" => (0, 1),
        "exit" => (0, 1),
        "clear" | "zero" | "len" => (1, 1),
        "delete" => (1, 2),
        "has_key" => (2, 2),
        "join" => (1, 2),
        "str" | "buf" | "path" | "cgroup_path" => (1, 2),
        "ksym" | "usym" | "kaddr" | "macaddr" | "cgroupid" | "strerror" | "strlen" | "bswap"
        | "signal" | "override" | "reg" | "is_err" | "uptr" | "kptr" | "signal_name" | "pton"
        | "socket_cookie" | "unwatch" => (1, 1),
        "uaddr" => (1, 1),
        "ntop" => (1, 2),
        "strftime" => (2, 2),
        "strncmp" => (3, 3),
        "strcontains" => (2, 2),
        "kstack" | "ustack" => (0, 2),
        "count" => (0, 0),
        "sum" | "avg" | "min" | "max" | "stats" => (1, 1),
        "hist" => (1, 4),
        "lhist" => (4, 4),
        "tseries" => (3, 4),
        "nsecs" => (0, 1),
        "percpu_kaddr" => (1, 2),
        "assert" => (2, 2),
        "ppid" | "comm" | "pid" | "tid" => (0, 1),
        "container_of" => (3, 3),
        "skboutput" => (4, 4),
        "getopt" => (1, 2),
        "config" => (0, 0),
        "write_user" => (3, 3),
        "memcmp" => (3, 3),
        _ => return None,
    })
}

/// Identifiers that are arguments of particular calls (stack modes, clocks), not values.
pub(super) const CALL_KEYWORDS: &[&str] = &[
    "perf",
    "raw",
    "bpftrace",
    "build_id",
    "monotonic",
    "boot",
    "tai",
    "sw_tai",
];

fn type_word(t: &Type) -> String {
    match t {
        Type::Str(_) => "string".to_string(),
        Type::Buffer(_) => "buffer".to_string(),
        Type::Int { .. } | Type::Bool | Type::Enum(_) => "integer".to_string(),
        Type::Tuple(_) | Type::Named(_) => "tuple".to_string(),
        other => other.to_string(),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

impl Checker<'_> {
    pub(super) fn builtin(&mut self, name: &str, span: Span) -> Option<Type> {
        let kinds = self.kinds.clone();
        let all = |f: &dyn Fn(ProbeKind) -> bool| !kinds.is_empty() && kinds.iter().all(|k| f(*k));
        let t = match name {
            "pid" | "tid" | "cpu" | "rand" | "cpid" | "numaid" | "ncpus" => Type::U32,
            "uid" | "gid" | "nsecs" | "elapsed" | "cgroup" | "jiffies" => Type::U64,
            "usermode" => Type::Int {
                bits: 8,
                signed: false,
            },
            "comm" | "pcomm" | "leader_comm" => Type::Str(16),
            "username" => Type::Username,
            "probe" => Type::Str(self.opts.max_strlen),
            // Named when the script compiles (the probed function), so a string.
            "func" => Type::Str(self.opts.max_strlen),
            "kstack" => Type::Stack { kernel: true },
            "ustack" => Type::Stack { kernel: false },
            "curtask" => Type::Pointer(Box::new(Type::Record("struct task_struct".to_string()))),
            "ctx" => Type::Pointer(Box::new(Type::Unknown)),
            "retval" => {
                if !all(&|k| {
                    matches!(
                        k,
                        ProbeKind::Kretprobe | ProbeKind::Uretprobe | ProbeKind::Fexit
                    )
                }) {
                    self.err(span, "The retval builtin can only be used with 'kretprobe' and 'uretprobe' and 'fexit' probes");
                }
                Type::U64
            }
            "args" => {
                if !all(&|k| {
                    matches!(
                        k,
                        ProbeKind::Tracepoint
                            | ProbeKind::RawTracepoint
                            | ProbeKind::Fentry
                            | ProbeKind::Fexit
                            | ProbeKind::Uprobe
                            | ProbeKind::Uretprobe
                            | ProbeKind::Usdt
                    )
                }) {
                    let used = kinds.first().map_or("none", |k| k.name());
                    self.err(span, format!("The args builtin can only be used with tracepoint/fentry/uprobe probes ({used} used here)"));
                }
                match &self.args_record {
                    Some(r) => Type::Record(r.name.clone()),
                    None => Type::Unknown,
                }
            }
            _ => {
                let (prefix, rest) = if let Some(r) = name.strip_prefix("sarg") {
                    ("sarg", r)
                } else if let Some(r) = name.strip_prefix("arg") {
                    ("arg", r)
                } else {
                    return None;
                };
                if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                if !all(&|k| {
                    matches!(
                        k,
                        ProbeKind::Kprobe
                            | ProbeKind::Uprobe
                            | ProbeKind::Usdt
                            | ProbeKind::RawTracepoint
                    )
                }) {
                    self.err(span, format!("The {name} builtin can only be used with 'kprobes', 'uprobes' and 'usdt' probes"));
                }
                if prefix == "sarg" {
                    Type::I64
                } else {
                    Type::U64
                }
            }
        };
        Some(t)
    }

    pub(super) fn call(&mut self, e: &Expr, name: &Name, args: &[Expr], agg_ok: bool) -> Type {
        let n = name.name.as_str();
        if let Some(m) = self.prog.macros.iter().find(|m| m.name.name == n) {
            if m.params.len() != args.len() {
                self.err(
                    e.span,
                    format!(
                        "Call to {n}() has the wrong number of arguments: expected {} but got {}",
                        m.params.len(),
                        args.len()
                    ),
                );
            }
            for a in args {
                if !matches!(a.kind, ExprKind::Var(_) | ExprKind::Map { .. }) {
                    self.expr(a, false);
                }
            }
            return Type::Unknown;
        }
        if let Some(f) = self.prog.functions.iter().find(|f| f.name.name == n) {
            if f.params.len() != args.len() {
                self.err(
                    e.span,
                    format!(
                        "Function {n} expects {} arguments ({} provided)",
                        f.params.len(),
                        args.len()
                    ),
                );
            }
            for a in args {
                self.expr(a, false);
            }
            let ret = f.ret.clone();
            return self.resolve_type(&ret);
        }
        if self
            .prog
            .defines
            .iter()
            .any(|d| d.name == n && d.params.is_some())
        {
            return Type::Unknown;
        }
        let Some((min, max)) = arity(n) else {
            self.err(name.span, format!("Unknown function: {n}"));
            for a in args {
                self.expr(a, false);
            }
            return Type::Unknown;
        };
        let got = args.len();
        if got < min {
            let msg = if min == max {
                format!(
                    "{n}() requires {min} argument{} ({got} provided)",
                    plural(min)
                )
            } else if min == 1 {
                format!("{n}() requires at least one argument ({got} provided)")
            } else {
                format!("{n}() requires at least {min} arguments ({got} provided)")
            };
            self.err(e.span, msg);
        } else if got > max {
            let msg = if max == 0 {
                format!("{n}() takes no arguments ({got} provided)")
            } else {
                format!(
                    "{n}() takes up to {max} argument{} ({got} provided)",
                    plural(max)
                )
            };
            self.err(e.span, msg);
        }
        if n == "hist" {
            if let Some(k) = args.get(1) {
                if !matches!(const_eval(k), Some(0..=5)) {
                    self.err(
                        k.span,
                        "hist(): the bits argument must be a constant from 0 to 5",
                    );
                }
            }
        }
        if n == "write_user" && !self.opts.allow_unsafe {
            self.err(
                e.span,
                "write_user() is unsafe. To use you need the --unsafe flag",
            );
        }
        if matches!(n, "system" | "signal" | "override") && !self.opts.allow_unsafe {
            self.err(
                e.span,
                format!("{n}() is an unsafe function being used in safe mode"),
            );
        }
        let agg = AggKind::from_call(n);
        if agg.is_some() && !agg_ok {
            self.err(
                e.span,
                format!("{n}() should be directly assigned to a map"),
            );
        }
        let whole_map = matches!(n, "print" | "clear" | "zero" | "delete" | "len" | "has_key");
        let mut types = Vec::with_capacity(args.len());
        for (i, a) in args.iter().enumerate() {
            let t = match &a.kind {
                ExprKind::Ident(w) if CALL_KEYWORDS.contains(&w.as_str()) => Type::Unknown,
                ExprKind::Ident(_) if n == "container_of" && i == 2 => Type::Unknown,
                ExprKind::Map { name: m, keys, .. } if i == 0 && whole_map && keys.is_empty() => {
                    match self.maps.get(m) {
                        Some(info) => info.value.clone(),
                        None => {
                            self.err(a.span, format!("Undefined map: @{m}"));
                            Type::Unknown
                        }
                    }
                }
                _ => self.expr(a, false),
            };
            types.push(t);
        }
        if matches!(
            n,
            "printf" | "errorf" | "warnf" | "debugf" | "system" | "cat"
        ) {
            self.check_format(e, n, args, &types);
        }
        if matches!(n, "clear" | "zero" | "len" | "delete" | "has_key") {
            if let Some(first) = args.first() {
                let stack = n == "len" && matches!(types.first(), Some(Type::Stack { .. }));
                if !matches!(first.kind, ExprKind::Map { .. }) && !stack {
                    self.err(first.span, format!("{n}() expects a map argument"));
                }
                self.keyless_map_arg(n, first);
                self.has_key_mismatch(n, args, &types);
            }
        }
        if let Some(k) = agg {
            if matches!(
                k,
                AggKind::Sum
                    | AggKind::Avg
                    | AggKind::Min
                    | AggKind::Max
                    | AggKind::Stats
                    | AggKind::Hist
                    | AggKind::Lhist
            ) {
                if let Some(t) = types.first() {
                    if !t.is_integer_like() {
                        self.err(
                            e.span,
                            format!(
                                "{n}() expects an integer argument ({} provided)",
                                type_word(t)
                            ),
                        );
                    }
                }
            }
            return Type::Agg(k);
        }
        let first = types.first().cloned().unwrap_or(Type::Unknown);
        match n {
            "printf" | "errorf" | "warnf" | "debugf" | "system" | "cat" | "print" | "time"
            | "exit" | "clear" | "zero" | "signal" | "override" | "assert" | "unwatch" => {
                Type::None
            }
            "delete" | "has_key" | "strcontains" | "is_err" => Type::Bool,
            "join" | "path" | "signal_name" => Type::Str(self.opts.max_strlen),
            "str" => {
                let n = args
                    .get(1)
                    .and_then(const_eval)
                    .and_then(|v| u64::try_from(v).ok());
                Type::Str(n.map_or(self.opts.max_strlen, |v| v.min(self.opts.max_strlen)))
            }
            "buf" => Type::Buffer(
                args.get(1)
                    .and_then(const_eval)
                    .and_then(|v| u64::try_from(v).ok())
                    .unwrap_or(64),
            ),
            "comm" => Type::Str(16),
            "ksym" | "usym" => Type::Symbol,
            "ppid" => Type::Int {
                bits: 32,
                signed: true,
            },
            "ntop" => Type::Inet,
            "pton" => Type::Array(
                Box::new(Type::Int {
                    bits: 8,
                    signed: false,
                }),
                16,
            ),
            "macaddr" => Type::MacAddr,
            "cgroup_path" => Type::CgroupPath,
            "strerror" => Type::Strerror,
            "strftime" => Type::Timestamp,
            "kstack" => Type::Stack { kernel: true },
            "ustack" => Type::Stack { kernel: false },
            "bswap" => match first {
                t @ Type::Int { .. } => t,
                _ => Type::U64,
            },
            "uptr" | "kptr" => first,
            "container_of" => Type::Pointer(Box::new(Type::Unknown)),
            "config" | "getopt" => Type::Unknown,
            "strncmp" | "skboutput" | "write_user" | "memcmp" => Type::I64,
            _ => Type::U64,
        }
    }

    fn check_format(&mut self, e: &Expr, n: &str, args: &[Expr], types: &[Type]) {
        let Some(first) = args.first() else { return };
        let ExprKind::Str(fmt) = &first.kind else {
            let t = types.first().map_or("none".to_string(), type_word);
            self.err(
                e.span,
                format!("{n}() expects a string literal ({t} provided)"),
            );
            return;
        };
        let fmt = String::from_utf8_lossy(fmt);
        let specs = match specs(&fmt) {
            Ok(s) => s,
            Err(m) => {
                self.err(first.span, format!("{n}: {m}"));
                return;
            }
        };
        let supplied = args.len() - 1;
        if supplied < specs.len() {
            self.err(e.span, format!("{n}: Not enough arguments for format string ({supplied} supplied, {} expected)", specs.len()));
            return;
        }
        if supplied > specs.len() {
            self.err(
                e.span,
                format!(
                    "{n}: Too many arguments for format string ({supplied} supplied, {} expected)",
                    specs.len()
                ),
            );
            return;
        }
        for (spec, t) in specs.iter().zip(types.iter().skip(1)) {
            let ok = match spec.kind {
                ArgKind::Any => *t != Type::None,
                ArgKind::Integer => {
                    t.is_integer_like()
                        || matches!(
                            t,
                            Type::Agg(
                                AggKind::Count
                                    | AggKind::Sum
                                    | AggKind::Min
                                    | AggKind::Max
                                    | AggKind::Avg
                            )
                        )
                        || (spec.conversion == "c" && matches!(t, Type::Str(_)))
                }
                ArgKind::Buffer => matches!(
                    t,
                    Type::Buffer(_) | Type::Str(_) | Type::Array(..) | Type::Unknown
                ),
            };
            if !ok {
                let want = match spec.kind {
                    ArgKind::Integer => "integer",
                    ArgKind::Buffer => "buffer",
                    ArgKind::Any => "value",
                };
                self.err(
                    e.span,
                    format!(
                        "{n}: %{} specifier expects a value of type {want} ({} supplied)",
                        spec.conversion,
                        type_word(t)
                    ),
                );
            }
        }
    }
}
