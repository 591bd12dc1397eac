//! Attach points: the raw text of one (`kr:vfs_read`, `uprobe:/bin/bash:readline+8`,
//! `interval:1s`) parsed into a provider and its arguments. Short names and 0.17 spellings are
//! normalised here (`t` → tracepoint, `kfunc` → fentry, `BEGIN` → begin).

use crate::diag::{Diagnostic, Span};

/// Probe types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum ProbeKind {
    Begin,
    End,
    SelfEvent,
    Bench,
    Test,
    Tracepoint,
    RawTracepoint,
    Kprobe,
    Kretprobe,
    Uprobe,
    Uretprobe,
    Usdt,
    Profile,
    Interval,
    Software,
    Hardware,
    Fentry,
    Fexit,
    Iter,
    Watchpoint,
    AsyncWatchpoint,
}

impl ProbeKind {
    /// The provider's full, current name.
    pub fn name(self) -> &'static str {
        match self {
            ProbeKind::Begin => "begin",
            ProbeKind::End => "end",
            ProbeKind::SelfEvent => "self",
            ProbeKind::Bench => "bench",
            ProbeKind::Test => "test",
            ProbeKind::Tracepoint => "tracepoint",
            ProbeKind::RawTracepoint => "rawtracepoint",
            ProbeKind::Kprobe => "kprobe",
            ProbeKind::Kretprobe => "kretprobe",
            ProbeKind::Uprobe => "uprobe",
            ProbeKind::Uretprobe => "uretprobe",
            ProbeKind::Usdt => "usdt",
            ProbeKind::Profile => "profile",
            ProbeKind::Interval => "interval",
            ProbeKind::Software => "software",
            ProbeKind::Hardware => "hardware",
            ProbeKind::Fentry => "fentry",
            ProbeKind::Fexit => "fexit",
            ProbeKind::Iter => "iter",
            ProbeKind::Watchpoint => "watchpoint",
            ProbeKind::AsyncWatchpoint => "asyncwatchpoint",
        }
    }

    /// Resolves a provider as written (full name, short name or legacy name).
    pub fn from_provider(p: &str) -> Option<ProbeKind> {
        Some(match p {
            "begin" | "BEGIN" => ProbeKind::Begin,
            "end" | "END" => ProbeKind::End,
            "self" => ProbeKind::SelfEvent,
            "bench" => ProbeKind::Bench,
            "test" => ProbeKind::Test,
            "tracepoint" | "t" => ProbeKind::Tracepoint,
            "rawtracepoint" | "rt" => ProbeKind::RawTracepoint,
            "kprobe" | "k" => ProbeKind::Kprobe,
            "kretprobe" | "kr" => ProbeKind::Kretprobe,
            "uprobe" | "u" => ProbeKind::Uprobe,
            "uretprobe" | "ur" => ProbeKind::Uretprobe,
            "usdt" | "U" => ProbeKind::Usdt,
            "profile" | "p" => ProbeKind::Profile,
            "interval" | "i" => ProbeKind::Interval,
            "software" | "s" => ProbeKind::Software,
            "hardware" | "h" => ProbeKind::Hardware,
            "fentry" | "f" | "kfunc" => ProbeKind::Fentry,
            "fexit" | "fr" | "kretfunc" => ProbeKind::Fexit,
            "iter" | "it" => ProbeKind::Iter,
            "watchpoint" | "w" => ProbeKind::Watchpoint,
            "asyncwatchpoint" | "aw" => ProbeKind::AsyncWatchpoint,
            _ => return None,
        })
    }
}

/// A number in an attach point, or a positional parameter to be substituted later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NumArg {
    /// A literal.
    Num(u64),
    /// `$N`.
    Param(u32),
}

/// Unit of a `profile`/`interval` period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    /// Nanoseconds (no unit given).
    Ns,
    /// `us`
    Us,
    /// `ms`
    Ms,
    /// `s`
    S,
    /// `hz`: a rate, not a period.
    Hz,
}

/// Where a uprobe goes inside its binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UprobeTarget {
    /// A symbol (maybe a wildcard) plus an optional offset.
    Symbol {
        /// Symbol name or pattern.
        name: String,
        /// `+offset`.
        offset: Option<u64>,
    },
    /// A raw address in the binary.
    Address(u64),
}

/// The provider-specific arguments of an attach point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttachTarget {
    /// `begin`, `end`.
    None,
    /// `bench:name`, `test:name`.
    Named(String),
    /// `self:signal:SIGUSR1`.
    Signal(String),
    /// `tracepoint:category:event` (either may be a wildcard).
    Tracepoint {
        /// e.g. `syscalls`.
        category: String,
        /// e.g. `sys_enter_execve`.
        event: String,
    },
    /// `kprobe[:module]:function[+offset]`, `kretprobe[:module]:function`,
    /// `fentry[:module]:function`, `rawtracepoint[:module]:event`.
    Kernel {
        /// Kernel module (`vmlinux` by default).
        module: Option<String>,
        /// Function or event name or pattern.
        function: String,
        /// `+offset` (kprobe only).
        offset: Option<u64>,
    },
    /// `fentry:bpf[:prog_id]:prog_name`.
    BpfProg {
        /// Program id.
        id: Option<u64>,
        /// Program name or pattern.
        name: String,
    },
    /// `uprobe:binary:target`, with an optional language (`uprobe:bin:cpp:name`).
    User {
        /// Binary path, library name or wildcard.
        binary: String,
        /// Language for demangling (`cpp`).
        lang: Option<String>,
        /// Symbol or address.
        target: UprobeTarget,
    },
    /// `usdt:binary:[namespace:]probe`.
    Usdt {
        /// Binary path (may be `*` with `-p`).
        binary: String,
        /// Provider namespace.
        namespace: Option<String>,
        /// Probe name.
        probe: String,
    },
    /// `profile`/`interval` periods.
    Timer {
        /// Unit.
        unit: TimeUnit,
        /// Amount.
        value: NumArg,
    },
    /// `software:event[:count]`, `hardware:event[:count]`.
    PerfEvent {
        /// Event name (`cpu-clock`, `cache-misses`, …).
        event: String,
        /// Sample period.
        count: Option<NumArg>,
    },
    /// `iter:name[:pin]`.
    Iter {
        /// Iterator (`task`, `task_file`, `task_vma`).
        name: String,
        /// Pin path.
        pin: Option<String>,
    },
    /// `watchpoint:addr:len:mode` or `watchpoint:func+argN:len:mode`.
    Watchpoint {
        /// Address or `func+argN`.
        addr: String,
        /// Length in bytes.
        len: u64,
        /// `r`, `w`, `x` combination.
        mode: String,
    },
}

/// One parsed attach point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachPoint {
    /// The text as written.
    pub raw: String,
    /// Where.
    pub span: Span,
    /// `name=` prefix.
    pub label: Option<String>,
    /// The provider as written (`t`, `kfunc`, `BEGIN`, …).
    pub provider: String,
    /// Its normalised kind.
    pub kind: ProbeKind,
    /// The arguments.
    pub target: AttachTarget,
}

impl AttachPoint {
    /// True when a part of the attach point is a wildcard pattern.
    pub fn has_wildcard(&self) -> bool {
        self.raw.contains('*')
    }

    /// The attach point in canonical spelling (full provider names), as `probe` prints it.
    pub fn canonical(&self) -> String {
        let rest = match self.raw.split_once(':') {
            Some((_, r)) if !matches!(self.kind, ProbeKind::Begin | ProbeKind::End) => r,
            _ => return self.kind.name().to_string(),
        };
        format!("{}:{}", self.kind.name(), rest)
    }
}

/// Replaces `$N` in attach point text with the positional parameters (`$1` is `params[0]`;
/// a missing one becomes the empty string, as bpftrace does).
pub fn substitute_params(raw: &str, params: &[String]) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let n = after.bytes().take_while(u8::is_ascii_digit).count();
        match after[..n].parse::<usize>() {
            Ok(k) if k > 0 => {
                out.push_str(params.get(k - 1).map_or("", String::as_str));
                rest = &after[n..];
            }
            _ => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Splits on `:` outside double quotes; quotes are removed from the parts.
fn split_parts(s: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut quoted = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    if let Some(last) = parts.last_mut() {
                        last.push(n);
                    }
                }
            }
            ':' if !quoted => parts.push(String::new()),
            _ => {
                if let Some(last) = parts.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    parts
}

fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u64::from_str_radix(&h.replace('_', ""), 16).ok();
    }
    let s = s.replace('_', "");
    if let Some((m, e)) = s.split_once(['e', 'E']) {
        let m: u64 = m.parse().ok()?;
        let e: u32 = e.parse().ok()?;
        return m.checked_mul(10u64.checked_pow(e)?);
    }
    s.parse().ok()
}

fn num_arg(s: &str) -> Option<NumArg> {
    if let Some(p) = s.strip_prefix('$') {
        return p.parse().ok().filter(|&n| n > 0).map(NumArg::Param);
    }
    parse_u64(s).map(NumArg::Num)
}

/// A `1s` / `100ms` / `99hz` style single argument of interval/profile.
fn timer_with_suffix(s: &str) -> Option<(TimeUnit, NumArg)> {
    let digits = s
        .bytes()
        .take_while(|c| c.is_ascii_digit() || *c == b'_')
        .count();
    let (num, unit) = s.split_at(digits);
    let unit = match unit {
        "" | "ns" => TimeUnit::Ns,
        "us" => TimeUnit::Us,
        "ms" => TimeUnit::Ms,
        "s" => TimeUnit::S,
        "hz" => TimeUnit::Hz,
        _ => return None,
    };
    Some((unit, num_arg(num)?))
}

/// Splits `name+offset`.
fn split_offset(s: &str) -> Result<(String, Option<u64>), String> {
    match s.rsplit_once('+') {
        Some((n, off)) if !off.starts_with("arg") => match parse_u64(off) {
            Some(v) => Ok((n.to_string(), Some(v))),
            None => Err(format!("invalid offset '{off}'")),
        },
        _ => Ok((s.to_string(), None)),
    }
}

/// Parses the raw text of one attach point (as the lexer cut it) found at `span`.
pub fn parse_attach_point(raw: &str, span: Span) -> Result<AttachPoint, Diagnostic> {
    let err = |m: String| Diagnostic::error(span, m);
    let (label, body) = match raw.split_once('=') {
        Some((l, b)) if !l.contains(':') && !l.is_empty() => (Some(l.to_string()), b),
        _ => (None, raw),
    };
    let parts = split_parts(body);
    let provider = parts.first().cloned().unwrap_or_default();
    let Some(kind) = ProbeKind::from_provider(&provider) else {
        return Err(err(format!("Invalid probe type: {provider}")));
    };
    let args = parts.get(1..).unwrap_or(&[]);
    let wrong = |expect: &str| err(format!("{} probe type requires {expect}", kind.name()));
    let target = match kind {
        ProbeKind::Begin | ProbeKind::End => {
            if !args.is_empty() {
                return Err(err(format!(
                    "{} probe type takes no arguments",
                    kind.name()
                )));
            }
            AttachTarget::None
        }
        ProbeKind::Bench | ProbeKind::Test => match args {
            [n] if !n.is_empty() => AttachTarget::Named(n.clone()),
            _ => return Err(wrong("1 argument (a name)")),
        },
        ProbeKind::SelfEvent => match args {
            [k, s] if k == "signal" && !s.is_empty() => AttachTarget::Signal(s.clone()),
            _ => return Err(wrong("2 arguments: signal:SIGNAME")),
        },
        ProbeKind::Tracepoint => match args {
            [c, e] if !c.is_empty() && !e.is_empty() => AttachTarget::Tracepoint {
                category: c.clone(),
                event: e.clone(),
            },
            _ => return Err(wrong("2 arguments: category:event")),
        },
        ProbeKind::RawTracepoint | ProbeKind::Kprobe | ProbeKind::Kretprobe => {
            let (module, f) = match args {
                [f] => (None, f),
                [m, f] => (Some(m.clone()), f),
                _ => return Err(wrong("1 or 2 arguments: [module:]function")),
            };
            if f.is_empty() {
                return Err(wrong("a function name"));
            }
            let (function, offset) = if kind == ProbeKind::Kprobe {
                split_offset(f).map_err(err)?
            } else {
                (f.clone(), None)
            };
            AttachTarget::Kernel {
                module,
                function,
                offset,
            }
        }
        ProbeKind::Fentry | ProbeKind::Fexit => match args {
            [b, n] if b == "bpf" => AttachTarget::BpfProg {
                id: None,
                name: n.clone(),
            },
            [b, id, n] if b == "bpf" => AttachTarget::BpfProg {
                id: Some(parse_u64(id).ok_or_else(|| err(format!("invalid program id '{id}'")))?),
                name: n.clone(),
            },
            [f] if !f.is_empty() => AttachTarget::Kernel {
                module: None,
                function: f.clone(),
                offset: None,
            },
            [m, f] if !f.is_empty() => AttachTarget::Kernel {
                module: Some(m.clone()),
                function: f.clone(),
                offset: None,
            },
            _ => return Err(wrong("1 or 2 arguments: [module:]function")),
        },
        ProbeKind::Uprobe | ProbeKind::Uretprobe => {
            let (binary, lang, t) = match args {
                [b, t] => (b.clone(), None, t),
                [b, l, t] => (b.clone(), Some(l.clone()), t),
                _ => return Err(wrong("2 arguments: binary:function")),
            };
            if binary.is_empty() || t.is_empty() {
                return Err(wrong("2 arguments: binary:function"));
            }
            let target = if t.starts_with(|c: char| c.is_ascii_digit()) && lang.is_none() {
                UprobeTarget::Address(
                    parse_u64(t).ok_or_else(|| err(format!("invalid address '{t}'")))?,
                )
            } else {
                let (name, offset) = split_offset(t).map_err(err)?;
                UprobeTarget::Symbol { name, offset }
            };
            AttachTarget::User {
                binary,
                lang,
                target,
            }
        }
        ProbeKind::Usdt => match args {
            [p] => AttachTarget::Usdt {
                binary: String::new(),
                namespace: None,
                probe: p.clone(),
            },
            [b, p] => AttachTarget::Usdt {
                binary: b.clone(),
                namespace: None,
                probe: p.clone(),
            },
            [b, n, p] => AttachTarget::Usdt {
                binary: b.clone(),
                namespace: Some(n.clone()),
                probe: p.clone(),
            },
            _ => return Err(wrong("binary:[namespace:]probe")),
        },
        ProbeKind::Profile | ProbeKind::Interval => {
            let (unit, value) = match args {
                [one] => timer_with_suffix(one)
                    .ok_or_else(|| err(format!("invalid {} rate '{one}'", kind.name())))?,
                [u, v] => {
                    let unit = match u.as_str() {
                        "ns" => TimeUnit::Ns,
                        "us" => TimeUnit::Us,
                        "ms" => TimeUnit::Ms,
                        "s" => TimeUnit::S,
                        "hz" => TimeUnit::Hz,
                        _ => {
                            return Err(err(format!(
                                "{} unit '{u}' is not one of ns, us, ms, s, hz",
                                kind.name()
                            )))
                        }
                    };
                    let value = num_arg(v)
                        .ok_or_else(|| err(format!("invalid {} count '{v}'", kind.name())))?;
                    (unit, value)
                }
                _ => return Err(wrong("1 or 2 arguments: [unit:]count")),
            };
            if value == NumArg::Num(0) {
                return Err(err(format!("{} rate must be greater than 0", kind.name())));
            }
            AttachTarget::Timer { unit, value }
        }
        ProbeKind::Software | ProbeKind::Hardware => match args {
            [e] if !e.is_empty() => AttachTarget::PerfEvent {
                event: e.clone(),
                count: None,
            },
            [e, c] if !e.is_empty() => AttachTarget::PerfEvent {
                event: e.clone(),
                count: if c.is_empty() {
                    None
                } else {
                    Some(num_arg(c).ok_or_else(|| err(format!("invalid count '{c}'")))?)
                },
            },
            _ => return Err(wrong("1 or 2 arguments: event[:count]")),
        },
        ProbeKind::Iter => match args {
            [n] if !n.is_empty() => AttachTarget::Iter {
                name: n.clone(),
                pin: None,
            },
            [n, p] if !n.is_empty() => AttachTarget::Iter {
                name: n.clone(),
                pin: Some(p.clone()),
            },
            _ => return Err(wrong("1 or 2 arguments: name[:pin]")),
        },
        ProbeKind::Watchpoint | ProbeKind::AsyncWatchpoint => match args {
            [a, l, m] => AttachTarget::Watchpoint {
                addr: a.clone(),
                len: parse_u64(l).ok_or_else(|| err(format!("invalid length '{l}'")))?,
                mode: m.clone(),
            },
            _ => return Err(wrong("3 arguments: address:length:mode")),
        },
    };
    Ok(AttachPoint {
        raw: raw.to_string(),
        span,
        label,
        provider,
        kind,
        target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> AttachPoint {
        parse_attach_point(s, Span::new(0, s.len())).unwrap()
    }

    #[test]
    fn aliases_and_targets() {
        assert_eq!(p("BEGIN").kind, ProbeKind::Begin);
        assert_eq!(p("kfunc:vfs_read").kind, ProbeKind::Fentry);
        assert_eq!(
            p("t:syscalls:sys_enter_*").canonical(),
            "tracepoint:syscalls:sys_enter_*"
        );
        assert_eq!(
            p("i:1ms").target,
            AttachTarget::Timer {
                unit: TimeUnit::Ms,
                value: NumArg::Num(1)
            }
        );
        assert_eq!(
            p("profile:hz:99").target,
            AttachTarget::Timer {
                unit: TimeUnit::Hz,
                value: NumArg::Num(99)
            }
        );
        assert_eq!(
            p("kprobe:do_sys_open+0x10").target,
            AttachTarget::Kernel {
                module: None,
                function: "do_sys_open".into(),
                offset: Some(16)
            }
        );
        assert_eq!(
            p("uprobe:/bin/bash:0x1000").target,
            AttachTarget::User {
                binary: "/bin/bash".into(),
                lang: None,
                target: UprobeTarget::Address(4096)
            }
        );
        assert_eq!(
            p("usdt:./t:ns:probe").target,
            AttachTarget::Usdt {
                binary: "./t".into(),
                namespace: Some("ns".into()),
                probe: "probe".into()
            }
        );
        assert_eq!(
            p("software:cpu-clock:1000").target,
            AttachTarget::PerfEvent {
                event: "cpu-clock".into(),
                count: Some(NumArg::Num(1000))
            }
        );
        assert_eq!(
            p("hardware:cache-misses:1e6").target,
            AttachTarget::PerfEvent {
                event: "cache-misses".into(),
                count: Some(NumArg::Num(1_000_000))
            }
        );
        assert_eq!(
            substitute_params("uprobe:$1:$2+$9", &["/bin/sh".into(), "main".into()]),
            "uprobe:/bin/sh:main+"
        );
        assert_eq!(substitute_params("i:s:$x$", &[]), "i:s:$x$");
        assert!(parse_attach_point("bogus:x", Span::default()).is_err());
        assert!(parse_attach_point("tracepoint:x", Span::default()).is_err());
        assert!(parse_attach_point("interval:s:0", Span::default()).is_err());
    }
}
