//! Functions backed by kernel helpers or named in user space: `ksym()` / `usym()` (the
//! address, and for `usym` the process, in a 16-byte value the runtime symbolises when it
//! prints it), `cgroup_path()` (the cgroup id and a hierarchy filter, worded from cgroupfs by
//! the runtime), `debugf()` (`bpf_trace_printk` / `bpf_trace_vprintk` into the kernel's trace
//! buffer), `percpu_kaddr()` (`bpf_per_cpu_ptr` / `bpf_this_cpu_ptr` on a per-CPU kernel
//! variable typed through BTF), `reg()`, `socket_cookie()`, `skboutput()` (packets through a
//! perf event array into pcap files), `strncmp()`, `macaddr()`, `kptr()` / `uptr()`,
//! `cgroupid()`, `write_user()` and BTF-typed `args` of raw tracepoints (which then load as
//! `tp_btf`).

use super::*;
use crate::format::{parse_format, Piece};

/// Bytes of a `Symbol` value: the address, then 0 for a kernel address or the pid + 1 of
/// the process a user address belongs to.
pub const SYMBOL_SIZE: u32 = 16;

/// Bytes of a `CgroupPath` value: the cgroup id, then the id of its hierarchy filter.
pub const CGROUP_PATH_SIZE: u32 = 16;

/// Name of the internal perf event array `skboutput()` sends packets through.
pub const SKB_OUTPUT_MAP: &str = "skboutput";

/// Bytes of the header `skboutput()` puts before each packet: the pcap file id, the
/// `bpf_ktime_get_ns` time, the captured length and the offset the packet starts at in
/// the captured bytes, one u64 each.
pub const SKB_META_SIZE: u32 = 32;

/// `BPF_F_CURRENT_CPU`: the perf ring of the CPU the program runs on.
const CURRENT_CPU: i64 = 0xffff_ffff;

/// x86-64 `struct pt_regs`, one u64 each in this order: the names `reg()` takes.
const PT_REGS: [&str; 21] = [
    "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di",
    "orig_ax", "ip", "cs", "flags", "sp", "ss",
];

/// Most bytes `strncmp()` compares (each is a few unrolled instructions).
const STRNCMP_MAX: u64 = 1024;

/// Bytes of a MAC address.
const MAC_LEN: u32 = 6;

/// Most arguments `bpf_trace_printk` takes (more go through `bpf_trace_vprintk`).
const TRACE_PRINTK_MAX_ARGS: usize = 3;

/// Most arguments `bpf_trace_vprintk` takes.
const VPRINTK_MAX_ARGS: usize = 12;

impl Gen<'_, '_> {
    /// Generates one of this module's functions; `None` when `name` is not one of them.
    pub(super) fn kfuncs2(&mut self, e: &Expr, name: &str, args: &[Expr]) -> Option<R<Val>> {
        Some(match name {
            "ksym" | "usym" => self.symbol_fn(e, name == "ksym", args),
            "cgroup_path" => self.cgroup_path_fn(e, args),
            "debugf" => self.debugf_fn(e, args),
            "percpu_kaddr" => self.percpu_kaddr_fn(e, args),
            "socket_cookie" => self.socket_cookie_fn(e, args),
            "skboutput" => self.skboutput_fn(e, args),
            "reg" => self.reg_fn(e, args),
            "kptr" | "uptr" => match args.first() {
                Some(a) => self.expr(a),
                None => Err(Diagnostic::error(
                    e.span,
                    format!("{name}() needs an address"),
                )),
            },
            "cgroupid" => self.cgroupid_fn(e, args),
            "strncmp" => self.strncmp_fn(e, args),
            "macaddr" => self.macaddr_fn(e, args),
            "uaddr" => self.uaddr_fn(e, args),
            "write_user" => self.write_user_fn(e, args),
            _ => return None,
        })
    }

    fn symbol_fn(&mut self, e: &Expr, kernel: bool, args: &[Expr]) -> R<Val> {
        let a = args
            .first()
            .ok_or_else(|| Diagnostic::error(e.span, "expected an address"))?;
        let addr = self.int(a)?;
        let (p, _) = self.alloc(SYMBOL_SIZE);
        self.emit(Op::Store(Size::DW, p, 0, Src::V(addr)));
        if kernel {
            self.emit(Op::Store(Size::DW, p, 8, Src::Imm(0)));
        } else {
            let t = self.call(h::GET_CURRENT_PID_TGID, vec![]);
            self.alu(AluOp::Rsh, t, Src::Imm(32));
            self.alu(AluOp::Add, t, Src::Imm(1));
            self.emit(Op::Store(Size::DW, p, 8, Src::V(t)));
        }
        Ok(Val::Mem(p, Type::Symbol))
    }

    /// `cgroup_path(id[, filter])`: the id and the filter's id (a wildcard over hierarchy
    /// names, `*` without one) for the runtime to word.
    fn cgroup_path_fn(&mut self, e: &Expr, args: &[Expr]) -> R<Val> {
        let filter = match args.get(1).map(|a| &a.kind) {
            None => "*".to_string(),
            Some(ExprKind::Str(s)) => String::from_utf8_lossy(s).into_owned(),
            Some(_) => {
                return Err(Diagnostic::error(
                    e.span,
                    "cgroup_path(): the filter must be a string literal",
                ))
            }
        };
        let fid = match self.cx.cgroup_filters.iter().position(|f| *f == filter) {
            Some(i) => i,
            None => {
                self.cx.cgroup_filters.push(filter);
                self.cx.cgroup_filters.len() - 1
            }
        };
        let a = args
            .first()
            .ok_or_else(|| Diagnostic::error(e.span, "cgroup_path() needs a cgroup id"))?;
        let id = self.int(a)?;
        let (p, _) = self.alloc(CGROUP_PATH_SIZE);
        self.emit(Op::Store(Size::DW, p, 0, Src::V(id)));
        let f = self.imm(fid as i64);
        self.emit(Op::Store(Size::DW, p, 8, Src::V(f)));
        Ok(Val::Mem(p, Type::CgroupPath))
    }

    /// `debugf(fmt, args…)`: the format (in the kernel's dialect, 64-bit integers) and the
    /// arguments as u64 words (strings by address) for `bpf_trace_printk` (up to three) or
    /// `bpf_trace_vprintk`, as bpftrace calls them.
    fn debugf_fn(&mut self, e: &Expr, args: &[Expr]) -> R<Val> {
        let Some(ExprKind::Str(s)) = args.first().map(|a| &a.kind) else {
            return Err(Diagnostic::error(
                e.span,
                "the format must be a string literal",
            ));
        };
        let rest = args.get(1..).unwrap_or(&[]);
        if rest.len() > VPRINTK_MAX_ARGS {
            return Err(Diagnostic::error(
                e.span,
                format!("debugf() takes at most {VPRINTK_MAX_ARGS} arguments after the format"),
            ));
        }
        let fmt = kernel_format(&String::from_utf8_lossy(s))
            .map_err(|m| Diagnostic::error(e.span, format!("debugf: {m}")))?;
        let mut words = Vec::new();
        for a in rest {
            words.push(match self.expr(a)? {
                Val::Int(v, _) => v,
                Val::Mem(p, _) => p,
                Val::Void => return Err(Diagnostic::error(a.span, "expression has no value")),
            });
        }
        let Val::Mem(f, Type::Str(n)) = self.str_lit(fmt.as_bytes()) else {
            return Err(Diagnostic::error(e.span, "debugf: bad format"));
        };
        if words.len() <= TRACE_PRINTK_MAX_ARGS {
            // bpf_trace_printk takes up to three arguments in registers.
            let mut call_args = vec![Arg::V(f), Arg::Imm(n as i64)];
            call_args.extend(words.iter().map(|w| Arg::V(*w)));
            self.call(h::TRACE_PRINTK, call_args);
        } else {
            let (d, _) = self.alloc(8 * words.len() as u32);
            for (i, w) in words.iter().enumerate() {
                self.emit(Op::Store(Size::DW, d, (i * 8) as i16, Src::V(*w)));
            }
            self.call(
                h::TRACE_VPRINTK,
                vec![
                    Arg::V(f),
                    Arg::Imm(n as i64),
                    Arg::V(d),
                    Arg::Imm(8 * words.len() as i64),
                ],
            );
        }
        Ok(Val::Void)
    }

    /// `percpu_kaddr("sym"[, cpu])`: the address of per-CPU variable `sym` on `cpu` (this
    /// CPU without one), 0 when there is no such CPU.
    fn percpu_kaddr_fn(&mut self, e: &Expr, args: &[Expr]) -> R<Val> {
        let sym = match args.first().map(|a| &a.kind) {
            Some(ExprKind::Str(s)) => String::from_utf8_lossy(s).into_owned(),
            _ => {
                return Err(Diagnostic::error(
                    e.span,
                    "percpu_kaddr() expects a string literal",
                ))
            }
        };
        let btf = bpfkit::attach::vmlinux_btf()
            .map_err(|_| Diagnostic::error(e.span, "percpu_kaddr() needs the kernel's BTF"))?;
        let id = btf.find_by_name_kind(&sym, Kind::Var).ok_or_else(|| {
            Diagnostic::error(
                e.span,
                format!("Could not resolve variable \"{sym}\" from BTF"),
            )
        })?;
        // The kernel finds the variable's address through its own kallsyms, which holds data
        // symbols only with CONFIG_KALLSYMS_ALL; /proc/kallsyms shows the same table.
        if kbuiltins::kallsyms_addr(&sym).is_none() {
            return Err(Diagnostic::error(
                e.span,
                format!("percpu_kaddr(): the kernel cannot resolve per-CPU variable '{sym}' (not in /proc/kallsyms: this kernel lacks CONFIG_KALLSYMS_ALL)"),
            ));
        }
        let var = self.v();
        self.emit(Op::BtfVar(var, id as i32));
        let v = match args.get(1) {
            Some(c) => {
                let cpu = self.int(c)?;
                let v = self.call(h::PER_CPU_PTR, vec![Arg::V(var), Arg::V(cpu)]);
                // NULL for a CPU that does not exist: the null check lets the verifier
                // allow arithmetic (field offsets) on the pointer afterwards.
                let l = self.l();
                self.emit(Op::Br(JmpOp::Ne, v, Src::Imm(0), l));
                self.emit(Op::Label(l));
                v
            }
            None => self.call(h::THIS_CPU_PTR, vec![Arg::V(var)]),
        };
        Ok(Val::Int(v, false))
    }
}

impl Gen<'_, '_> {
    /// `args.NAME` of a raw tracepoint: parameter NAME of vmlinux's `btf_trace_<event>`
    /// (after its leading `void *`), one u64 of the context each. Reading them typed makes
    /// the program load as `tp_btf`, where the verifier knows kernel pointers by BTF type.
    pub(super) fn raw_tp_arg(&mut self, event: &str, field: &Name) -> R<Val> {
        let btf = bpfkit::attach::vmlinux_btf().map_err(|_| {
            Diagnostic::error(field.span, "raw tracepoint args need the kernel's BTF")
        })?;
        let params = tp_btf_params(&btf, event).ok_or_else(|| {
            Diagnostic::error(
                field.span,
                format!(
                    "no BTF-typed tracepoint {event}: btf_trace_{event} is not in the kernel's BTF"
                ),
            )
        })?;
        let (i, tid) = params
            .iter()
            .enumerate()
            .find_map(|(i, (n, t))| (*n == field.name).then_some((i, *t)))
            .ok_or_else(|| {
                Diagnostic::error(
                    field.span,
                    format!(
                        "Can't find field '{}' in tracepoint {}",
                        field.name, self.res.name
                    ),
                )
            })?;
        self.tp_btf = true;
        let v = self.v();
        self.emit(Op::Load(Size::DW, v, self.ctx, (i * 8) as i16));
        let rt = btf.resolve_type(tid).unwrap_or(tid);
        let mut signed = false;
        if let Ok(t) = btf.type_by_id(rt) {
            match &t.detail {
                Detail::Ptr { type_id } => {
                    let pointee = btf.resolve_type(*type_id).unwrap_or(*type_id);
                    if btf
                        .type_by_id(pointee)
                        .is_ok_and(|x| matches!(x.kind, Kind::Struct | Kind::Union))
                    {
                        self.kptr.insert(v, pointee);
                    }
                }
                Detail::Int(n) => signed = n.is_signed(),
                _ => {}
            }
        }
        Ok(Val::Int(v, signed))
    }

    /// `skboutput(path, skb, len, offset)`: `bpf_skb_output` of the first `len` bytes of
    /// `skb`'s data behind a [`SKB_META_SIZE`] header into the perf ring the runtime writes
    /// `path` (a raw-IP pcap file) from, leaving out the first `offset` bytes (e.g. 14 for an
    /// Ethernet header).
    fn skboutput_fn(&mut self, e: &Expr, args: &[Expr]) -> R<Val> {
        let Some(ExprKind::Str(path)) = args.first().map(|a| &a.kind) else {
            return Err(Diagnostic::error(
                e.span,
                "skboutput() expects a string literal as its file",
            ));
        };
        let [_, skb, len, offset] = args else {
            return Err(Diagnostic::error(e.span, "skboutput() takes 4 arguments"));
        };
        let path = String::from_utf8_lossy(path).into_owned();
        let id = match self.cx.pcap_files.iter().position(|p| *p == path) {
            Some(i) => i,
            None => {
                self.cx.pcap_files.push(path);
                self.cx.pcap_files.len() - 1
            }
        };
        let skb = self.int(skb)?;
        let len = self.int(len)?;
        let offset = self.int(offset)?;
        let map = self.skb_output_map();
        if matches!(self.res.point, Point::RawTracepoint { .. }) {
            self.tp_btf = true;
        }
        let (meta, _) = self.alloc(SKB_META_SIZE);
        let idv = self.imm(id as i64);
        self.emit(Op::Store(Size::DW, meta, 0, Src::V(idv)));
        let now = self.call(h::KTIME_GET_NS, vec![]);
        self.emit(Op::Store(Size::DW, meta, 8, Src::V(now)));
        let n = self.copy(len);
        self.alu(AluOp::And, n, Src::Imm(0xffff));
        self.emit(Op::Store(Size::DW, meta, 16, Src::V(n)));
        self.emit(Op::Store(Size::DW, meta, 24, Src::V(offset)));
        // The flags' upper 32 bits are how many packet bytes follow the header.
        let flags = self.copy(n);
        self.alu(AluOp::Lsh, flags, Src::Imm(32));
        let cpu = self.imm(CURRENT_CPU);
        self.alu(AluOp::Or, flags, Src::V(cpu));
        let r = self.call(
            h::SKB_OUTPUT,
            vec![
                Arg::V(skb),
                Arg::Map(map),
                Arg::V(flags),
                Arg::V(meta),
                Arg::Imm(i64::from(SKB_META_SIZE)),
            ],
        );
        Ok(Val::Int(r, true))
    }

    /// Index of the `skboutput()` perf event array, created on first use.
    fn skb_output_map(&mut self) -> i32 {
        if let Some(i) = self.cx.maps.iter().position(|m| m.name == SKB_OUTPUT_MAP) {
            return i as i32;
        }
        self.cx.maps.push(MapDef {
            name: SKB_OUTPUT_MAP.into(),
            map_type: MapType::PerfEventArray,
            key: None,
            key_size: 4,
            value: ValueKind::Plain(Type::None),
            value_size: 4,
            max_entries: u32::try_from(kbuiltins::possible_cpus()).unwrap_or(1),
        });
        (self.cx.maps.len() - 1) as i32
    }

    /// `reg("name")`: a register of the probed context (`struct pt_regs` in kprobes, uprobes
    /// and perf events, whose context starts with it).
    fn reg_fn(&mut self, e: &Expr, args: &[Expr]) -> R<Val> {
        let Some(ExprKind::Str(s)) = args.first().map(|a| &a.kind) else {
            return Err(Diagnostic::error(e.span, "reg() expects a string literal"));
        };
        let name = String::from_utf8_lossy(s).into_owned();
        let idx = PT_REGS.iter().position(|r| *r == name).ok_or_else(|| {
            Diagnostic::error(
                e.span,
                format!("'{name}' is not a valid register on this architecture"),
            )
        })?;
        if !matches!(
            self.res.point,
            Point::Kprobe { .. } | Point::Uprobe { .. } | Point::Perf { .. }
        ) {
            return Err(Diagnostic::error(
                e.span,
                format!(
                    "reg can not be used with \"{}\" probes",
                    self.res.kind.name()
                ),
            ));
        }
        let v = self.v();
        self.emit(Op::Load(Size::DW, v, self.ctx, (idx * 8) as i16));
        Ok(Val::Int(v, false))
    }

    /// `cgroupid("path")`: the id of the cgroup at `path` (its inode number in cgroupfs),
    /// resolved when the script compiles.
    fn cgroupid_fn(&mut self, e: &Expr, args: &[Expr]) -> R<Val> {
        let Some(ExprKind::Str(s)) = args.first().map(|a| &a.kind) else {
            return Err(Diagnostic::error(
                e.span,
                "cgroupid() expects a string literal",
            ));
        };
        let path = String::from_utf8_lossy(s).into_owned();
        let md = std::fs::metadata(&path).map_err(|err| {
            let why = err.to_string();
            let why = why.split(" (os error").next().unwrap_or("");
            Diagnostic::error(
                e.span,
                format!("Failed to get cgroupid for '{path}': {why}"),
            )
        })?;
        use std::os::unix::fs::MetadataExt;
        Ok(Val::Int(self.imm(md.ino() as i64), false))
    }

    /// `strncmp(a, b, n)`: 0 when the strings agree on their first `n` bytes (or up to a
    /// common NUL), 1 otherwise; bytes past a string's buffer count as NUL.
    fn strncmp_fn(&mut self, e: &Expr, args: &[Expr]) -> R<Val> {
        let [a, b, n] = args else {
            return Err(Diagnostic::error(e.span, "strncmp() takes 3 arguments"));
        };
        let n = const_eval(n)
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| {
                Diagnostic::error(n.span, "strncmp(): n must be a non-negative constant")
            })?;
        let (Val::Mem(pa, ta), Val::Mem(pb, tb)) = (self.expr(a)?, self.expr(b)?) else {
            return Err(Diagnostic::error(e.span, "strncmp() compares two strings"));
        };
        let (ca, cb) = (u64::from(size_of(&ta)), u64::from(size_of(&tb)));
        let n = n.min(ca.max(cb));
        if n > STRNCMP_MAX {
            return Err(Diagnostic::error(
                e.span,
                format!("strncmp(): comparing more than {STRNCMP_MAX} bytes is not supported"),
            ));
        }
        let r = self.imm(0);
        let done = self.l();
        let differ = self.l();
        let (x, y) = (self.v(), self.v());
        for i in 0..n {
            for (v, p, cap) in [(x, pa, ca), (y, pb, cb)] {
                if i < cap {
                    self.emit(Op::Load(Size::B, v, p, i as i16));
                } else {
                    self.emit(Op::Imm(v, 0));
                }
            }
            self.emit(Op::Br(JmpOp::Ne, x, Src::V(y), differ));
            self.emit(Op::Br(JmpOp::Eq, x, Src::Imm(0), done));
        }
        self.emit(Op::Jmp(done));
        self.emit(Op::Label(differ));
        self.emit(Op::Imm(r, 1));
        self.emit(Op::Label(done));
        Ok(Val::Int(r, false))
    }

    /// `macaddr(addr)`: six bytes read from `addr` (or taken from an array or buffer),
    /// printed as `XX:XX:XX:XX:XX:XX`.
    fn macaddr_fn(&mut self, e: &Expr, args: &[Expr]) -> R<Val> {
        let a = args
            .first()
            .ok_or_else(|| Diagnostic::error(e.span, "macaddr() needs an address"))?;
        let (p, _) = self.alloc(8);
        self.emit(Op::Store(Size::DW, p, 0, Src::Imm(0)));
        match self.expr(a)? {
            Val::Mem(src, t) => {
                let n = size_of(&t).min(MAC_LEN);
                self.memcpy(p, src, n);
            }
            Val::Int(addr, _) => {
                self.call(
                    h::PROBE_READ,
                    vec![Arg::V(p), Arg::Imm(i64::from(MAC_LEN)), Arg::V(addr)],
                );
            }
            Val::Void => return Err(Diagnostic::error(a.span, "expression has no value")),
        }
        Ok(Val::Mem(p, Type::MacAddr))
    }

    /// `write_user(dst, src, len)` (with `--unsafe`): `bpf_probe_write_user` of the first
    /// `len` bytes of `src` (a string, buffer or integer) to user address `dst`; returns the
    /// helper's result (0, or a negative errno).
    fn write_user_fn(&mut self, e: &Expr, args: &[Expr]) -> R<Val> {
        let [dst, src, len] = args else {
            return Err(Diagnostic::error(e.span, "write_user() takes 3 arguments"));
        };
        let n = const_eval(len)
            .and_then(|v| u32::try_from(v).ok())
            .filter(|v| *v > 0)
            .ok_or_else(|| {
                Diagnostic::error(
                    len.span,
                    "write_user(): the length must be a positive constant",
                )
            })?;
        let d = self.int(dst)?;
        let (s, have) = match self.expr(src)? {
            Val::Mem(p, t) => (p, size_of(&t)),
            Val::Int(v, _) => {
                let (p, _) = self.alloc(8);
                self.emit(Op::Store(Size::DW, p, 0, Src::V(v)));
                (p, 8)
            }
            Val::Void => return Err(Diagnostic::error(src.span, "expression has no value")),
        };
        if n > have {
            return Err(Diagnostic::error(
                len.span,
                format!("write_user(): the length {n} is more than the {have} bytes of the source"),
            ));
        }
        let r = self.call(
            h::PROBE_WRITE_USER,
            vec![Arg::V(d), Arg::V(s), Arg::Imm(i64::from(n))],
        );
        Ok(Val::Int(r, true))
    }

    /// `socket_cookie(sk)`: `bpf_get_socket_cookie`, which tracing programs take on a
    /// BTF-typed socket pointer (a raw tracepoint then loads as `tp_btf`).
    fn socket_cookie_fn(&mut self, e: &Expr, args: &[Expr]) -> R<Val> {
        let a = args
            .first()
            .ok_or_else(|| Diagnostic::error(e.span, "socket_cookie() needs a socket"))?;
        let sk = self.int(a)?;
        if matches!(self.res.point, Point::RawTracepoint { .. }) {
            self.tp_btf = true;
        }
        let v = self.call(h::GET_SOCKET_COOKIE, vec![Arg::V(sk)]);
        Ok(Val::Int(v, false))
    }
}

/// `(name, type id)` of the parameters of raw tracepoint `event`. The types come from its
/// `btf_trace_<event>` typedef, whose parameters are unnamed; the names from the prototype
/// of the `__bpf_trace_<class>` function the kernel generates per event class: the one named
/// after the event, else the only class whose parameter types are the same (with names).
/// The first parameter is the tracepoint's private `void *`, not an argument.
fn tp_btf_params(btf: &Btf, event: &str) -> Option<Vec<(String, u32)>> {
    let td = btf.find_by_name_kind(&format!("btf_trace_{event}"), Kind::Typedef)?;
    let ptr = btf.resolve_type(td).ok()?;
    let Detail::Ptr { type_id } = btf.type_by_id(ptr).ok()?.detail else {
        return None;
    };
    let types: Vec<u32> = proto_params(btf, type_id)?
        .into_iter()
        .skip(1)
        .map(|p| p.1)
        .collect();
    let named = |func: u32| -> Option<Vec<(String, u32)>> {
        let Detail::Func { proto, .. } = btf.type_by_id(func).ok()?.detail else {
            return None;
        };
        let ps: Vec<(String, u32)> = proto_params(btf, proto)?.into_iter().skip(1).collect();
        (ps.iter().map(|p| p.1).eq(types.iter().copied())).then_some(ps)
    };
    if let Some(ps) = btf
        .find_by_name_kind(&format!("__bpf_trace_{event}"), Kind::Func)
        .and_then(named)
    {
        return Some(ps);
    }
    let mut found: Option<Vec<(String, u32)>> = None;
    for t in btf.types().filter_map(Result::ok) {
        if t.kind != Kind::Func || !t.name.starts_with("__bpf_trace_") {
            continue;
        }
        if let Some(ps) = named(t.id) {
            match &found {
                Some(f) if *f != ps => {
                    // Classes disagree on the names: only positions are certain.
                    return Some(types.iter().map(|t| (String::new(), *t)).collect());
                }
                _ => found = Some(ps),
            }
        }
    }
    Some(found.unwrap_or_else(|| types.iter().map(|t| (String::new(), *t)).collect()))
}

/// `(name, type id)` of the parameters of the prototype `proto` (after modifiers).
fn proto_params(btf: &Btf, proto: u32) -> Option<Vec<(String, u32)>> {
    let id = btf.resolve_type(proto).ok()?;
    let Detail::FuncProto(fp) = btf.type_by_id(id).ok()?.detail else {
        return None;
    };
    Some(
        fp.params
            .iter()
            .map(|p| (p.name.to_string(), p.type_id))
            .collect(),
    )
}

/// A bpftrace format in the kernel's `bpf_trace_printk` dialect: integer conversions read
/// all 64 bits of their argument (`%d` becomes `%lld`), literal `%` stays `%%`.
fn kernel_format(fmt: &str) -> Result<String, String> {
    let mut out = String::new();
    for p in parse_format(fmt)? {
        match p {
            Piece::Text(t) => out.push_str(&t.replace('%', "%%")),
            Piece::Spec(s) => {
                out.push('%');
                out.push_str(&s.flags);
                if let Some(w) = s.width {
                    out.push_str(&w.to_string());
                }
                if let Some(p) = s.precision {
                    out.push_str(&format!(".{p}"));
                }
                match s.conversion.as_str() {
                    "d" | "i" | "u" | "x" | "X" | "o" => out.push_str("ll"),
                    _ => out.push_str(&s.length),
                }
                out.push_str(&s.conversion);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::kernel_format;

    #[test]
    fn integers_become_64_bit() {
        assert_eq!(
            kernel_format("a %s %d %x 100%%").unwrap(),
            "a %s %lld %llx 100%%"
        );
        assert_eq!(kernel_format("%-5lu|").unwrap(), "%-5llu|");
    }
}
