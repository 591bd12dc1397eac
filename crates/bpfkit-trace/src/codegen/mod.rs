//! The code generator: a checked [`Program`] and its resolved attach points to one eBPF
//! program per point, in the virtual-register IR of [`crate::regalloc`], then lowered with
//! register allocation. Maps are referenced by index into the load's fd array
//! (`BPF_PSEUDO_MAP_IDX`): index 0 is the event ring buffer, 1 the per-CPU scratch buffer
//! where strings, keys and events are built (the 512-byte stack only holds spills), 2 a
//! zero-filled buffer used to clear scratch memory, then one map per `@map`.

mod access;
mod addrof;
mod arrays;
mod calls;
mod cdefs;
mod exitflag;
mod mapdecl;
mod mapfull;
pub use exitflag::EXIT_FLAG_MAP;
pub use mapfull::MAP_FULL_MAP;
mod strfuncs;
mod varslots;
pub use strfuncs::{is_warning_format, resolve_diag_format};
mod forloop;
mod hist;
mod kbuiltins;
mod kfuncs2;
mod uaddr;
pub use kfuncs2::{SKB_META_SIZE, SKB_OUTPUT_MAP};
mod kernel_probes;
pub mod layout;
mod sizes;
mod stacks;
mod tseries;
pub use tseries::tseries_agg;
mod records;
pub(crate) mod tuples;
mod usdt;

pub use calls::signal_number;
pub use forloop::func_btf;

use crate::ast::*;
use crate::check::{const_eval, Checked};
use crate::diag::{Diagnostic, Span};
use crate::probes::{Point, Resolved};
use crate::regalloc::{self, Arg, Op, Src, L, V};
use crate::tracepoint::Dynamic;
use crate::types::{tracepoint_field_type, AggKind, NoTypes, Type};
use bpfkit::{MapType, ProgramType};
use bpfkit_btf::{Btf, Detail, Kind};
use bpfkit_insn::{helpers as h, AluOp, Insn, JmpOp, Size};
use layout::{event, is_memory, pad8, size_of};
use std::collections::{BTreeMap, HashMap};

/// Index of the ring buffer map.
pub const MAP_EVENTS: i32 = 0;
/// Index of the per-CPU scratch map.
pub const MAP_SCRATCH: i32 = 1;
/// Index of the zero-filled map.
pub const MAP_ZEROS: i32 = 2;
/// Index of the per-CPU count of events the full ring buffer refused.
pub const MAP_LOST: i32 = 3;
const USER_MAP_BASE: usize = 4;
/// Largest per-CPU scratch value the kernel accepts.
const SCRATCH_MAX: u32 = 32 * 1024;
const JOIN_ARGS: u32 = 16;
const JOIN_ARG_LEN: u32 = 256;
const JOIN_MASK: u32 = 4095;

/// What a map's values are.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueKind {
    /// Plain values of this type.
    Plain(Type),
    /// An aggregation; `lhist` carries `(min, max, step)`, `tseries` `(interval, num_intervals, agg)`.
    Agg(AggKind, Option<(i64, i64, i64)>),
}

/// A map the program uses.
#[derive(Clone, Debug)]
pub struct MapDef {
    /// `@name` as printed (`@` for the anonymous map); internal maps have other names.
    pub name: String,
    /// Kernel map type.
    pub map_type: MapType,
    /// Key type of a user map (`None`: no key).
    pub key: Option<Type>,
    /// Key bytes.
    pub key_size: u32,
    /// Value kind.
    pub value: ValueKind,
    /// Value bytes (per CPU for per-CPU maps).
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
}

impl MapDef {
    /// An internal map of one element (key 0) holding a `u64`.
    fn one_u64(name: &str, map_type: MapType) -> MapDef {
        MapDef {
            name: name.into(),
            map_type,
            key: None,
            key_size: 4,
            value: ValueKind::Plain(Type::None),
            value_size: 8,
            max_entries: 1,
        }
    }
}

/// A `printf`/`time`/`print` format registered for the runtime.
#[derive(Clone, Debug)]
pub struct FormatDef {
    /// The format string.
    pub fmt: String,
    /// The argument types, in event layout order.
    pub args: Vec<Type>,
}

/// One program to load.
#[derive(Clone, Debug)]
pub struct ProgDef {
    /// Program name.
    pub name: String,
    /// Where it attaches.
    pub point: Resolved,
    /// Program type.
    pub prog_type: ProgramType,
    /// Instructions.
    pub insns: Vec<Insn>,
    /// `(first instruction, script span)` in instruction order.
    pub spans: Vec<(usize, Span)>,
    /// First instructions of the callback subprograms (`for` over maps, `len`).
    pub funcs: Vec<u32>,
}

/// Everything the driver loads and the runtime decodes.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// Maps by fd-array index.
    pub maps: Vec<MapDef>,
    /// Programs.
    pub progs: Vec<ProgDef>,
    /// Formats by id.
    pub formats: Vec<FormatDef>,
    /// The script's enums, for `%s` of an enum value.
    pub enums: crate::runtime::enums::EnumNames,
    /// `skboutput()` pcap files by id.
    pub pcap_files: Vec<String>,
    /// `cgroup_path()` hierarchy filters by id.
    pub cgroup_filters: Vec<String>,
}

/// Knobs of code generation.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `CLOCK_MONOTONIC` at start, for `elapsed`.
    pub start_ns: u64,
    /// `-p PID`: probes only fire for this process.
    pub pid: Option<u32>,
    /// Capacity of user maps.
    pub max_map_keys: u32,
    /// Positional parameters.
    pub params: Vec<String>,
    /// Integer `#define`s of the included headers (`--include`, `#include`).
    pub header_constants: HashMap<String, i64>,
}

/// Compiles every probe for each of its resolved points (`points[i]` belongs to probe `i`).
pub fn compile(
    prog: &Program,
    checked: &Checked,
    points: &[Vec<Resolved>],
    opts: &Options,
) -> Result<Compiled, Diagnostic> {
    let mut cx = Ctx {
        checked,
        opts,
        maps: Vec::new(),
        map_index: HashMap::new(),
        formats: Vec::new(),
        subprogs: Vec::new(),
        pcap_files: Vec::new(),
        cgroup_filters: Vec::new(),
    };
    cx.maps.push(MapDef {
        name: "events".into(),
        map_type: MapType::Ringbuf,
        key: None,
        key_size: 0,
        value: ValueKind::Plain(Type::None),
        value_size: 0,
        max_entries: 1 << 19,
    });
    cx.maps
        .push(MapDef::one_u64("scratch", MapType::PercpuArray));
    cx.maps.push(MapDef::one_u64("zeros", MapType::Array));
    cx.maps.push(MapDef::one_u64("lost", MapType::PercpuArray));
    cdefs::check_redefinitions(prog, checked)?;
    for (name, info) in &checked.maps {
        cx.add_user_map(prog, name, info)?;
    }
    let mut progs = Vec::new();
    let mut scratch_max = 8;
    let mut zeros_max = 8;
    for (pi, probe) in prog.probes.iter().enumerate() {
        for r in points.get(pi).into_iter().flatten() {
            let mut g = Gen::new(&mut cx, r);
            g.probe(probe)?;
            scratch_max = scratch_max.max(g.scratch_top);
            zeros_max = zeros_max.max(g.zero_max);
            let tp_btf = g.tp_btf;
            let main =
                regalloc::lower(&g.ops, &g.spans).map_err(|m| Diagnostic::error(probe.span, m))?;
            let ((insns, spans), funcs) = forloop::link(main, std::mem::take(&mut cx.subprogs));
            progs.push(ProgDef {
                name: prog_name(r),
                point: r.clone(),
                prog_type: if tp_btf {
                    ProgramType::Tracing
                } else {
                    r.point.program_type()
                },
                insns,
                spans,
                funcs,
            });
        }
    }
    if scratch_max > SCRATCH_MAX {
        return Err(Diagnostic::error(
            prog.span,
            format!("the script needs {scratch_max} bytes of scratch memory per event (at most {SCRATCH_MAX}): use shorter strings (max_strlen)"),
        ));
    }
    if let Some(m) = cx.maps.get_mut(MAP_SCRATCH as usize) {
        m.value_size = pad8(scratch_max);
    }
    if let Some(m) = cx.maps.get_mut(MAP_ZEROS as usize) {
        m.value_size = pad8(zeros_max);
    }
    Ok(Compiled {
        maps: cx.maps,
        progs,
        formats: cx.formats,
        enums: crate::runtime::enums::EnumNames::from_enumerators(
            &checked.script_types.enumerators,
        ),
        pcap_files: cx.pcap_files,
        cgroup_filters: cx.cgroup_filters,
    })
}

fn prog_name(r: &Resolved) -> String {
    let tail = r.name.rsplit(':').next().unwrap_or("probe");
    let mut n: String = tail
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    n.truncate(15);
    if n.is_empty() {
        n = r.kind.name().to_string();
    }
    n
}

struct Ctx<'a> {
    checked: &'a Checked,
    opts: &'a Options,
    maps: Vec<MapDef>,
    map_index: HashMap<String, usize>,
    formats: Vec<FormatDef>,
    /// Lowered callback subprograms of the program being compiled (`for` over maps).
    subprogs: Vec<regalloc::Lowered>,
    /// `skboutput()` pcap files by id.
    pcap_files: Vec<String>,
    /// `cgroup_path()` hierarchy filters by id.
    cgroup_filters: Vec<String>,
}

/// Finds the constant arguments of the first `lhist` call assigned to `@name`.
fn lhist_args(prog: &Program, name: &str) -> Option<(i64, i64, i64)> {
    hist::assigned_call(prog, name, "lhist", &|args| match args {
        [_, min, max, step] => Some((const_eval(min)?, const_eval(max)?, const_eval(step)?)),
        _ => None,
    })
}

impl Ctx<'_> {
    fn add_user_map(
        &mut self,
        prog: &Program,
        name: &str,
        info: &crate::check::MapInfo,
    ) -> Result<(), Diagnostic> {
        let key_size = info.key.as_ref().map_or(8, size_of);
        let max = if self.opts.max_map_keys == 0 {
            4096
        } else {
            self.opts.max_map_keys
        };
        let (map_type, value, value_size, key_size) = match &info.value {
            Type::Agg(kind) => {
                let (vs, ks) = match kind {
                    AggKind::Count | AggKind::Sum => (8, key_size),
                    AggKind::Avg | AggKind::Stats | AggKind::Min | AggKind::Max => (16, key_size),
                    AggKind::Hist | AggKind::Lhist => (8, key_size + 8),
                    AggKind::Tseries => (16, key_size + 8),
                };
                let lh = if *kind == AggKind::Lhist {
                    let a = lhist_args(prog, name).ok_or_else(|| {
                        Diagnostic::error(info.span, "lhist() needs constant min, max and step")
                    })?;
                    if a.2 <= 0 || a.1 <= a.0 {
                        return Err(Diagnostic::error(
                            info.span,
                            "lhist(): max must be above min and step positive",
                        ));
                    }
                    Some(a)
                } else if *kind == AggKind::Hist {
                    hist::hist_bits(prog, name)?.map(|k| (k, 0, 0))
                } else if *kind == AggKind::Tseries {
                    let a = tseries::tseries_args(prog, name).filter(|a| a.0 > 0 && a.1 > 0);
                    Some(a.ok_or_else(|| {
                        Diagnostic::error(
                            info.span,
                            "tseries() needs a positive constant interval and num_intervals and an agg of avg, max, min or sum",
                        )
                    })?)
                } else {
                    None
                };
                (MapType::PercpuHash, ValueKind::Agg(*kind, lh), vs, ks)
            }
            Type::Record(r) if self.checked.script_types.records.contains_key(r) => {
                let t = addrof::value_type(&self.checked.script_types, &info.value);
                let vs = size_of(&t).max(8);
                (MapType::Hash, ValueKind::Plain(t), vs, key_size)
            }
            t => (
                MapType::Hash,
                ValueKind::Plain(t.clone()),
                size_of(t).max(8),
                key_size,
            ),
        };
        let (map_type, max) = mapdecl::declared(prog, name).unwrap_or((map_type, max));
        self.map_index.insert(name.to_string(), self.maps.len());
        self.maps.push(MapDef {
            name: format!("@{name}"),
            map_type,
            key: info.key.clone(),
            key_size,
            value,
            value_size,
            max_entries: max,
        });
        Ok(())
    }

    fn format(&mut self, fmt: String, args: Vec<Type>) -> i64 {
        self.formats.push(FormatDef { fmt, args });
        self.formats.len() as i64 - 1
    }
}

/// A computed value: an integer in a register or a pointer to bytes of a type.
#[derive(Clone, Debug)]
enum Val {
    Int(V, bool),
    Mem(V, Type),
    Void,
}

#[derive(Clone, Debug)]
enum Var {
    Int(V, bool),
    /// A buffer at this scratch offset (recomputed at each use, so it is defined on every
    /// path).
    Mem(u32, Type),
    /// An integer whose address the probe takes: in a register, mirrored by every
    /// assignment into an 8-byte scratch slot at this offset (which `&$x` points to).
    Slot(V, u32, bool),
}

struct Gen<'a, 'b> {
    cx: &'a mut Ctx<'b>,
    res: &'a Resolved,
    ops: Vec<Op>,
    spans: Vec<Span>,
    span: Span,
    nv: u32,
    nl: u32,
    ctx: V,
    scratch: V,
    scratch_top: u32,
    zero_max: u32,
    vars: HashMap<String, Var>,
    loops: Vec<(L, L)>,
    exit_label: L,
    /// Registers holding kernel pointers, with the BTF id of the struct they point to.
    kptr: HashMap<V, u32>,
    /// The same for `$` variables.
    var_kptr: HashMap<String, u32>,
    /// Registers holding bools (printed `true`/`false`).
    bools: std::collections::HashSet<V>,
    /// Registers holding uids that print as user names (`username`).
    users: std::collections::HashSet<V>,
    /// Registers holding `kstack` (true) / `ustack` values.
    stacks: HashMap<V, bool>,
    /// `$` variables whose address the probe takes (`&$x`): each gets a scratch slot.
    addr_vars: std::collections::HashSet<String>,
    /// `$p` → `x` for pointer variables only ever set to `&$x` ([`addrof::pointer_vars`]).
    ptr_vars: HashMap<String, String>,
    /// The widest string or tuple type each variable is assigned ([`varslots`]).
    var_rooms: HashMap<String, Type>,
    /// A raw tracepoint that must load as `tp_btf` (BTF-typed `args`, tracing-only helpers).
    tp_btf: bool,
}

type R<T> = Result<T, Diagnostic>;

fn unsupported(span: Span, what: &str) -> Diagnostic {
    Diagnostic::error(span, format!("{what} is not supported by bpfkit trace yet"))
}

fn k_is_union(k: &TypeKind) -> bool {
    matches!(k, TypeKind::Union(_))
}

fn signed_of(t: &Type) -> bool {
    matches!(t, Type::Int { signed: true, .. })
}

impl<'a, 'b> Gen<'a, 'b> {
    fn new(cx: &'a mut Ctx<'b>, res: &'a Resolved) -> Self {
        Gen {
            cx,
            res,
            ops: Vec::new(),
            spans: Vec::new(),
            span: Span::default(),
            nv: 0,
            nl: 1,
            ctx: V(0),
            scratch: V(0),
            scratch_top: 0,
            zero_max: 8,
            vars: HashMap::new(),
            loops: Vec::new(),
            exit_label: L(0),
            kptr: HashMap::new(),
            var_kptr: HashMap::new(),
            bools: std::collections::HashSet::new(),
            users: std::collections::HashSet::new(),
            stacks: HashMap::new(),
            addr_vars: std::collections::HashSet::new(),
            ptr_vars: HashMap::new(),
            var_rooms: HashMap::new(),
            tp_btf: false,
        }
    }

    fn emit(&mut self, op: Op) {
        self.ops.push(op);
        self.spans.push(self.span);
    }
    fn v(&mut self) -> V {
        self.nv += 1;
        V(self.nv)
    }
    fn l(&mut self) -> L {
        self.nl += 1;
        L(self.nl)
    }
    fn imm(&mut self, x: i64) -> V {
        let v = self.v();
        self.emit(Op::Imm(v, x));
        v
    }
    fn call(&mut self, helper: u32, args: Vec<Arg>) -> V {
        let r = self.v();
        self.emit(Op::Call {
            helper,
            args,
            ret: Some(r),
        });
        r
    }
    fn alu(&mut self, op: AluOp, d: V, s: Src) {
        self.emit(Op::Alu(op, d, s));
    }
    fn copy(&mut self, s: V) -> V {
        let d = self.v();
        self.emit(Op::Mov(d, s));
        d
    }

    /// Reserves `n` bytes of scratch memory; returns a pointer register to them.
    fn alloc(&mut self, n: u32) -> (V, u32) {
        let off = self.scratch_top;
        self.scratch_top += pad8(n.max(1));
        (self.scratch_at(off), off)
    }
    fn scratch_at(&mut self, off: u32) -> V {
        let p = self.copy(self.scratch);
        if off > 0 {
            self.alu(AluOp::Add, p, Src::Imm(off as i32));
        }
        p
    }

    /// Zero-fills `n` bytes at `dst` (one helper call copying from the zero map).
    fn zero(&mut self, dst: V, n: u32) {
        if n <= 64 {
            for o in (0..n).step_by(8) {
                self.emit(Op::Store(Size::DW, dst, o as i16, Src::Imm(0)));
            }
            return;
        }
        self.zero_max = self.zero_max.max(n);
        let zp = self.call_zero_value();
        self.memcpy(dst, zp, n);
    }

    fn memcpy(&mut self, dst: V, src: V, n: u32) {
        if n <= 64 {
            let t = self.v();
            let mut o = 0;
            while o < n {
                let (sz, w) = if n - o >= 8 {
                    (Size::DW, 8)
                } else if n - o >= 4 {
                    (Size::W, 4)
                } else {
                    (Size::B, 1)
                };
                self.emit(Op::Load(sz, t, src, o as i16));
                self.emit(Op::Store(sz, dst, o as i16, Src::V(t)));
                o += w;
            }
            return;
        }
        self.call(
            h::PROBE_READ_KERNEL,
            vec![Arg::V(dst), Arg::Imm(i64::from(n)), Arg::V(src)],
        );
    }

    fn probe(&mut self, p: &Probe) -> R<()> {
        self.span = p.span;
        self.addr_vars = addrof::address_taken(&p.body);
        self.ptr_vars = addrof::pointer_vars(&p.body);
        self.var_rooms = self.var_rooms(&p.body);
        self.ctx = self.v();
        self.emit(Op::Entry(self.ctx));
        self.exit_label = self.l();
        self.exit_flag_check();
        self.iter_prologue();
        if let Some(pid) = self.cx.opts.pid {
            if !matches!(
                self.res.point,
                Point::Begin | Point::End | Point::Bench { .. }
            ) {
                let t = self.call(h::GET_CURRENT_PID_TGID, vec![]);
                self.alu(AluOp::Rsh, t, Src::Imm(32));
                let l = self.exit_label;
                self.emit(Op::Br(JmpOp::Ne, t, Src::Imm(pid as i32), l));
            }
        }
        // The scratch pointer: key 0 on the stack would need a fixed slot, so use the
        // zero map's first word, which is always 0.
        let zp = self.call_lookup_const_zero();
        self.scratch = zp;
        if let Some(pred) = &p.predicate {
            self.span = pred.span;
            let c = self.int(pred)?;
            let l = self.exit_label;
            self.emit(Op::Br(JmpOp::Eq, c, Src::Imm(0), l));
        }
        self.block(&p.body)?;
        let l = self.exit_label;
        self.emit(Op::Label(l));
        self.emit(Op::Exit(0));
        Ok(())
    }

    /// Looks up key 0 of the scratch map, with the key read from the zero map.
    fn call_lookup_const_zero(&mut self) -> V {
        let z = self.call_zero_value();
        let p = self.call(h::MAP_LOOKUP_ELEM, vec![Arg::Map(MAP_SCRATCH), Arg::V(z)]);
        let ok = self.l();
        self.emit(Op::Br(JmpOp::Ne, p, Src::Imm(0), ok));
        self.emit(Op::Exit(0));
        self.emit(Op::Label(ok));
        p
    }

    /// A pointer to the zero map's value (a direct value load, no lookup).
    fn call_zero_value(&mut self) -> V {
        let v = self.v();
        self.emit(Op::MapValue(v, MAP_ZEROS, 0));
        v
    }

    fn block(&mut self, b: &Block) -> R<()> {
        for s in &b.stmts {
            self.stmt(s)?;
        }
        Ok(())
    }

    fn stmt(&mut self, s: &Stmt) -> R<()> {
        self.span = s.span;
        match &s.kind {
            StmtKind::Expr(e) => {
                if let ExprKind::Call { name, args } = &e.kind {
                    if name.name == "join" {
                        return self.join_stmt(e, args);
                    }
                }
                self.expr(e)?;
                Ok(())
            }
            StmtKind::Assign {
                target, op, value, ..
            } => self.assign(target, *op, value),
            StmtKind::Let { var, value, ty } => match value {
                Some(v) => {
                    let t = Expr {
                        kind: ExprKind::Var(var.name.clone()),
                        span: var.span,
                    };
                    self.assign(&t, None, v)
                }
                // Declared without a value: an integer starts at 0.
                None if ty
                    .as_ref()
                    .is_none_or(|t| matches!(&t.kind, TypeKind::Name(n) if n != "string")) =>
                {
                    // A declaration starts a fresh variable: an earlier block's value is gone.
                    if self.addr_vars.contains(&var.name) {
                        return self.slot_declare(var);
                    }
                    match self.vars.get(&var.name) {
                        Some(Var::Int(v, _)) => {
                            let v = *v;
                            self.emit(Op::Imm(v, 0));
                        }
                        None => {
                            let v = self.var_int(&var.name, true);
                            self.emit(Op::Imm(v, 0));
                        }
                        Some(_) => {}
                    }
                    Ok(())
                }
                None => Ok(()),
            },
            StmtKind::If { cond, then, else_ } => {
                let c = self.int(cond)?;
                let lelse = self.l();
                let lend = self.l();
                self.emit(Op::Br(JmpOp::Eq, c, Src::Imm(0), lelse));
                self.block(then)?;
                self.emit(Op::Jmp(lend));
                self.emit(Op::Label(lelse));
                if let Some(e) = else_ {
                    self.block(e)?;
                }
                self.emit(Op::Label(lend));
                Ok(())
            }
            StmtKind::Unroll { count, body } => {
                let n = const_eval(count)
                    .ok_or_else(|| Diagnostic::error(count.span, "unroll needs a constant"))?;
                if !(1..=100).contains(&n) {
                    return Err(Diagnostic::error(
                        count.span,
                        "unroll count must be between 1 and 100",
                    ));
                }
                for _ in 0..n {
                    self.block(body)?;
                }
                Ok(())
            }
            StmtKind::While { cond, body } => {
                let top = self.l();
                let end = self.l();
                self.emit(Op::Label(top));
                let c = self.int(cond)?;
                self.emit(Op::Br(JmpOp::Eq, c, Src::Imm(0), end));
                self.loops.push((top, end));
                self.block(body)?;
                self.loops.pop();
                self.emit(Op::Jmp(top));
                self.emit(Op::Label(end));
                Ok(())
            }
            StmtKind::For { var, iter, body } => match iter {
                ForIter::Range(a, b) => {
                    let start = self.int(a)?;
                    let end_v = self.int(b)?;
                    let end_v = self.copy(end_v);
                    let i = self.var_int(&var.name, true);
                    self.emit(Op::Mov(i, start));
                    let top = self.l();
                    let cont = self.l();
                    let end = self.l();
                    self.emit(Op::Label(top));
                    self.emit(Op::Br(JmpOp::Sge, i, Src::V(end_v), end));
                    self.loops.push((cont, end));
                    self.block(body)?;
                    self.loops.pop();
                    self.emit(Op::Label(cont));
                    self.alu(AluOp::Add, i, Src::Imm(1));
                    self.emit(Op::Jmp(top));
                    self.emit(Op::Label(end));
                    Ok(())
                }
                ForIter::Map(m) => self.for_map(&var.name, m, body),
            },
            StmtKind::Break => match self.loops.last() {
                Some(&(_, end)) => {
                    self.emit(Op::Jmp(end));
                    Ok(())
                }
                None => Err(Diagnostic::error(s.span, "break outside a loop")),
            },
            StmtKind::Continue => match self.loops.last() {
                Some(&(c, _)) => {
                    self.emit(Op::Jmp(c));
                    Ok(())
                }
                None => Err(Diagnostic::error(s.span, "continue outside a loop")),
            },
            StmtKind::Return(_) => {
                let l = self.exit_label;
                self.emit(Op::Jmp(l));
                Ok(())
            }
            StmtKind::Block(b) => self.block(b),
        }
    }

    fn var_int(&mut self, name: &str, signed: bool) -> V {
        if let Some(Var::Int(v, _)) = self.vars.get(name) {
            return *v;
        }
        let v = self.v();
        // Defined at the probe's start so every path reads an initialised register.
        self.ops.insert(1, Op::Imm(v, 0));
        self.spans.insert(1, self.span);
        self.vars.insert(name.to_string(), Var::Int(v, signed));
        v
    }

    fn assign(&mut self, target: &Expr, op: Option<BinOp>, value: &Expr) -> R<()> {
        match &target.kind {
            ExprKind::Var(name) => {
                if self.slot_assign(target, name, op, value)? {
                    return Ok(());
                }
                let cur = self.vars.get(name).cloned();
                if let Some(op) = op {
                    let x = self.int(value)?;
                    let v = match cur {
                        Some(Var::Int(v, _)) => v,
                        _ => self.var_int(name, true),
                    };
                    let x = self.ptr_compound(op, &self.checked_type(target), x);
                    self.binop_into(op, v, x, false);
                    return Ok(());
                }
                match self.expr(value)? {
                    Val::Int(x, s) => {
                        let v = match cur {
                            Some(Var::Int(v, _)) => v,
                            _ => self.var_int(name, s),
                        };
                        self.emit(Op::Mov(v, x));
                        // The struct a pointer variable points to follows it.
                        match self.kptr.get(&x).copied() {
                            Some(t) => self.var_kptr.insert(name.clone(), t),
                            None => self.var_kptr.remove(name),
                        };
                    }
                    Val::Mem(p, t) => {
                        // A tuple whose strings differ in length from the variable's: both fit
                        // the widened layout.
                        if let Some(Var::Mem(off, dt)) = &cur {
                            if let Some(w) = tuples::widen_tuple(dt, &t)
                                .filter(|w| matches!(w, Type::Tuple(_)) && dt != &t)
                            {
                                let dst = if w == *dt {
                                    self.scratch_at(*off)
                                } else {
                                    let (d, off) = self.alloc(size_of(&w));
                                    self.vars.insert(name.clone(), Var::Mem(off, w.clone()));
                                    d
                                };
                                self.convert_tuple(dst, &w, p, &t);
                                return Ok(());
                            }
                        }
                        let n = size_of(&t);
                        let (dst, vt) = match cur {
                            Some(Var::Mem(off, dt)) if size_of(&dt) >= n => {
                                (self.scratch_at(off), dt)
                            }
                            _ => self.new_mem_var(name, &t),
                        };
                        self.store_mem_var(dst, &vt, p, &t);
                    }
                    Val::Void => return Err(Diagnostic::error(value.span, "value has no type")),
                }
                Ok(())
            }
            ExprKind::Map { name, keys, .. } => self.map_assign(name, keys, op, value, target.span),
            ExprKind::Ident(i) if i == "_" => {
                self.expr(value)?;
                Ok(())
            }
            _ => Err(unsupported(target.span, "this assignment target")),
        }
    }

    fn map_def(&self, name: &str, span: Span) -> R<(i32, MapDef)> {
        let i = *self
            .cx
            .map_index
            .get(name)
            .ok_or_else(|| Diagnostic::error(span, format!("Undefined map: @{name}")))?;
        let d = self
            .cx
            .maps
            .get(i)
            .cloned()
            .ok_or_else(|| Diagnostic::error(span, format!("Undefined map: @{name}")))?;
        Ok((i as i32, d))
    }

    /// Writes a map key into scratch (room for a histogram bucket included); returns the
    /// pointer.
    fn key(&mut self, def: &MapDef, keys: &[Expr]) -> R<V> {
        let (k, _) = self.alloc(def.key_size);
        if keys.is_empty() {
            self.emit(Op::Store(Size::DW, k, 0, Src::Imm(0)));
            return Ok(k);
        }
        let types: Vec<Type> = match (&def.key, keys.len()) {
            (Some(Type::Tuple(ts)), n) if n > 1 => ts.clone(),
            (Some(t), _) => vec![t.clone()],
            (None, _) => vec![Type::U64],
        };
        let mut off = 0u32;
        for (e, t) in keys.iter().zip(types.iter()) {
            let n = size_of(t);
            match self.expr(e)? {
                Val::Int(x, _) => {
                    self.emit(Op::Store(Size::DW, k, off as i16, Src::V(x)));
                }
                Val::Mem(p, vt) => {
                    let dst = self.copy(k);
                    self.alu(AluOp::Add, dst, Src::Imm(off as i32));
                    let m = size_of(&vt).min(n);
                    self.zero(dst, n);
                    if matches!(t, Type::Tuple(_) | Type::Named(_)) && *t != vt {
                        self.convert_tuple(dst, t, p, &vt);
                    } else {
                        self.memcpy(dst, p, m);
                    }
                }
                Val::Void => return Err(Diagnostic::error(e.span, "key has no value")),
            }
            off += n;
        }
        Ok(k)
    }

    fn map_assign(
        &mut self,
        name: &str,
        keys: &[Expr],
        op: Option<BinOp>,
        value: &Expr,
        span: Span,
    ) -> R<()> {
        let (mi, def) = self.map_def(name, span)?;
        if let (ValueKind::Agg(kind, lh), ExprKind::Call { args, .. }) = (&def.value, &value.kind) {
            return self.aggregate(mi, &def, *kind, *lh, keys, args);
        }
        let k = self.key(&def, keys)?;
        let k = self.copy(k);
        let (val, _) = self.alloc(def.value_size);
        if let Some(op) = op {
            let cur = self.map_read_int(mi, k);
            let x = self.int(value)?;
            if let ValueKind::Plain(t) = &def.value {
                let x = self.ptr_compound(op, t, x);
                self.binop_into(op, cur, x, false);
            } else {
                self.binop_into(op, cur, x, false);
            }
            self.emit(Op::Store(Size::DW, val, 0, Src::V(cur)));
        } else {
            match self.expr(value)? {
                Val::Int(x, _) => self.emit(Op::Store(Size::DW, val, 0, Src::V(x))),
                Val::Mem(p, t) if matches!(&def.value, ValueKind::Plain(dt @ (Type::Tuple(_) | Type::Named(_))) if *dt != t) => {
                    if let ValueKind::Plain(dt) = &def.value {
                        self.zero(val, def.value_size);
                        self.convert_tuple(val, dt, p, &t);
                    }
                }
                Val::Mem(p, t) => {
                    let n = size_of(&t).min(def.value_size);
                    if n < def.value_size {
                        self.zero(val, def.value_size);
                    }
                    self.memcpy(val, p, n);
                }
                Val::Void => return Err(Diagnostic::error(value.span, "value has no type")),
            }
        }
        self.update_checked(mi, k, val, 0);
        Ok(())
    }

    fn map_read_int(&mut self, mi: i32, k: V) -> V {
        let p = self.call(h::MAP_LOOKUP_ELEM, vec![Arg::Map(mi), Arg::V(k)]);
        let out = self.imm(0);
        let skip = self.l();
        self.emit(Op::Br(JmpOp::Eq, p, Src::Imm(0), skip));
        self.emit(Op::Load(Size::DW, out, p, 0));
        self.emit(Op::Label(skip));
        out
    }

    fn aggregate(
        &mut self,
        mi: i32,
        def: &MapDef,
        kind: AggKind,
        lh: Option<(i64, i64, i64)>,
        keys: &[Expr],
        args: &[Expr],
    ) -> R<()> {
        let extra = if matches!(kind, AggKind::Hist | AggKind::Lhist | AggKind::Tseries) {
            8
        } else {
            0
        };
        let k = self.key(def, keys)?;
        let k = self.copy(k);
        let x = match args.first() {
            Some(a) if kind != AggKind::Count => self.int(a)?,
            _ => self.imm(1),
        };
        let x = self.copy(x);
        if extra > 0 {
            let b = match (kind, lh) {
                (AggKind::Lhist, Some((min, max, step))) => self.lhist_bucket(x, min, max, step),
                (AggKind::Tseries, Some((interval, _, _))) => self.tseries_epoch(interval)?,
                (AggKind::Hist, Some((k, _, _))) => self.fine_bucket(x, k)?,
                _ => self.log2_bucket(x),
            };
            let off = (def.key_size - 8) as i16;
            self.emit(Op::Store(Size::DW, k, off, Src::V(b)));
            if kind != AggKind::Tseries {
                self.emit(Op::Imm(x, 1));
            }
        }
        let p = self.call(h::MAP_LOOKUP_ELEM, vec![Arg::Map(mi), Arg::V(k)]);
        let init = self.l();
        let done = self.l();
        self.emit(Op::Br(JmpOp::Eq, p, Src::Imm(0), init));
        let t = self.v();
        match kind {
            AggKind::Count | AggKind::Sum | AggKind::Hist | AggKind::Lhist => {
                self.emit(Op::Load(Size::DW, t, p, 0));
                self.alu(AluOp::Add, t, Src::V(x));
                self.emit(Op::Store(Size::DW, p, 0, Src::V(t)));
            }
            AggKind::Avg | AggKind::Stats => {
                self.emit(Op::Load(Size::DW, t, p, 0));
                self.alu(AluOp::Add, t, Src::Imm(1));
                self.emit(Op::Store(Size::DW, p, 0, Src::V(t)));
                self.emit(Op::Load(Size::DW, t, p, 8));
                self.alu(AluOp::Add, t, Src::V(x));
                self.emit(Op::Store(Size::DW, p, 8, Src::V(t)));
            }
            AggKind::Min | AggKind::Max => {
                self.emit(Op::Load(Size::DW, t, p, 0));
                let skip = self.l();
                let jop = if kind == AggKind::Min {
                    JmpOp::Sle
                } else {
                    JmpOp::Sge
                };
                self.emit(Op::Br(jop, t, Src::V(x), skip));
                self.emit(Op::Store(Size::DW, p, 0, Src::V(x)));
                self.emit(Op::Label(skip));
            }
            AggKind::Tseries => self.tseries_update(p, x, lh.map_or(0, |a| a.2))?,
        }
        self.emit(Op::Jmp(done));
        self.emit(Op::Label(init));
        let (val, _) = self.alloc(16);
        match kind {
            AggKind::Avg | AggKind::Stats => {
                self.emit(Op::Store(Size::DW, val, 0, Src::Imm(1)));
                self.emit(Op::Store(Size::DW, val, 8, Src::V(x)));
            }
            AggKind::Min | AggKind::Max | AggKind::Tseries => {
                self.emit(Op::Store(Size::DW, val, 0, Src::V(x)));
                self.emit(Op::Store(Size::DW, val, 8, Src::Imm(1)));
            }
            _ => self.emit(Op::Store(Size::DW, val, 0, Src::V(x))),
        }
        self.update_checked(mi, k, val, 1);
        self.emit(Op::Label(done));
        Ok(())
    }

    /// bpftrace's power-of-two bucket: 0 for negatives, 1 for zero, 2 + log2(v) above.
    fn log2_bucket(&mut self, x: V) -> V {
        let b = self.imm(0);
        let done = self.l();
        self.emit(Op::Br(JmpOp::Slt, x, Src::Imm(0), done));
        self.emit(Op::Imm(b, 1));
        self.emit(Op::Br(JmpOp::Eq, x, Src::Imm(0), done));
        let lg = self.floor_log2(x);
        self.emit(Op::Mov(b, lg));
        self.alu(AluOp::Add, b, Src::Imm(2));
        self.emit(Op::Label(done));
        b
    }

    /// Linear bucket: 0 below `min`, 1 + (v-min)/step inside, the last at or above `max`.
    fn lhist_bucket(&mut self, x: V, min: i64, max: i64, step: i64) -> V {
        let nb = (max - min) / step + if (max - min) % step != 0 { 1 } else { 0 };
        let b = self.imm(0);
        let done = self.l();
        let lo = self.imm(min);
        self.emit(Op::Br(JmpOp::Slt, x, Src::V(lo), done));
        self.emit(Op::Imm(b, nb + 1));
        let hi = self.imm(max);
        self.emit(Op::Br(JmpOp::Sge, x, Src::V(hi), done));
        self.emit(Op::Mov(b, x));
        self.alu(AluOp::Sub, b, Src::V(lo));
        let st = self.imm(step);
        self.alu(AluOp::Div, b, Src::V(st));
        self.alu(AluOp::Add, b, Src::Imm(1));
        self.emit(Op::Label(done));
        b
    }

    fn binop_into(&mut self, op: BinOp, d: V, x: V, signed: bool) {
        let a = match op {
            BinOp::Add => AluOp::Add,
            BinOp::Sub => AluOp::Sub,
            BinOp::Mul => AluOp::Mul,
            BinOp::Div => {
                if signed {
                    AluOp::Sdiv
                } else {
                    AluOp::Div
                }
            }
            BinOp::Mod => {
                if signed {
                    AluOp::Smod
                } else {
                    AluOp::Mod
                }
            }
            BinOp::BitAnd => AluOp::And,
            BinOp::BitOr => AluOp::Or,
            BinOp::BitXor => AluOp::Xor,
            BinOp::Shl => AluOp::Lsh,
            BinOp::Shr => AluOp::Rsh,
            _ => {
                let j = match (op, signed) {
                    (BinOp::Eq, _) => JmpOp::Eq,
                    (BinOp::Ne, _) => JmpOp::Ne,
                    (BinOp::Lt, false) => JmpOp::Lt,
                    (BinOp::Lt, true) => JmpOp::Slt,
                    (BinOp::Le, false) => JmpOp::Le,
                    (BinOp::Le, true) => JmpOp::Sle,
                    (BinOp::Gt, false) => JmpOp::Gt,
                    (BinOp::Gt, true) => JmpOp::Sgt,
                    (BinOp::Ge, false) => JmpOp::Ge,
                    _ => JmpOp::Sge,
                };
                let r = self.imm(1);
                let yes = self.l();
                self.emit(Op::Br(j, d, Src::V(x), yes));
                self.emit(Op::Imm(r, 0));
                self.emit(Op::Label(yes));
                self.emit(Op::Mov(d, r));
                return;
            }
        };
        self.alu(a, d, Src::V(x));
    }

    fn int(&mut self, e: &Expr) -> R<V> {
        match self.expr(e)? {
            Val::Int(v, _) => Ok(v),
            Val::Mem(p, _) => {
                // A string in a condition: true when non-empty.
                let t = self.v();
                self.emit(Op::Load(Size::B, t, p, 0));
                Ok(t)
            }
            Val::Void => Err(Diagnostic::error(e.span, "expression has no value")),
        }
    }

    fn checked_type(&self, e: &Expr) -> Type {
        self.cx
            .checked
            .expr_types
            .get(&e.span)
            .cloned()
            .unwrap_or(Type::U64)
    }

    fn str_lit(&mut self, s: &[u8]) -> Val {
        let n = s.len() as u32 + 1;
        let (p, _) = self.alloc(n);
        let mut bytes = s.to_vec();
        bytes.resize(pad8(n) as usize, 0);
        for (i, c) in bytes.chunks(4).enumerate() {
            let w = i32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            self.emit(Op::Store(Size::W, p, (i * 4) as i16, Src::Imm(w)));
        }
        Val::Mem(p, Type::Str(u64::from(n)))
    }

    fn expr(&mut self, e: &Expr) -> R<Val> {
        let saved = self.span;
        self.span = e.span;
        let r = self.expr_inner(e);
        self.span = saved;
        if let Ok(Val::Int(v, _)) = &r {
            if self.checked_type(e) == Type::Username {
                self.users.insert(*v);
            }
        }
        r
    }

    fn expr_inner(&mut self, e: &Expr) -> R<Val> {
        match &e.kind {
            ExprKind::Int(v) => Ok(Val::Int(self.imm(*v as i64), false)),
            ExprKind::Bool(b) => {
                let v = self.imm(i64::from(*b));
                self.bools.insert(v);
                Ok(Val::Int(v, false))
            }
            ExprKind::Str(s) => Ok(self.str_lit(s)),
            ExprKind::Ident(name) => self.builtin(name, e.span),
            ExprKind::Var(name) => match self.vars.get(name).cloned() {
                Some(Var::Int(v, s)) => Ok(self.slot_read(e, name, v, s)),
                Some(Var::Mem(off, t)) => Ok(Val::Mem(self.scratch_at(off), t)),
                Some(Var::Slot(v, _, s)) => Ok(self.slot_read(e, name, v, s)),
                None => Err(Diagnostic::error(
                    e.span,
                    format!("Undefined or undeclared variable: ${name}"),
                )),
            },
            ExprKind::Map { name, keys, .. } => {
                let (mi, def) = self.map_def(name, e.span)?;
                let k = self.key(&def, keys)?;
                match &def.value {
                    ValueKind::Plain(t) if is_memory(t) => {
                        let p = self.call(h::MAP_LOOKUP_ELEM, vec![Arg::Map(mi), Arg::V(k)]);
                        let ok = self.l();
                        self.emit(Op::Br(JmpOp::Ne, p, Src::Imm(0), ok));
                        let z = self.call_zero_value();
                        self.zero_max = self.zero_max.max(def.value_size);
                        self.emit(Op::Mov(p, z));
                        self.emit(Op::Label(ok));
                        Ok(Val::Mem(p, t.clone()))
                    }
                    ValueKind::Plain(t) => Ok(Val::Int(self.map_read_int(mi, k), signed_of(t))),
                    ValueKind::Agg(AggKind::Avg, _) => {
                        // total / count of this CPU's slot.
                        let p = self.call(h::MAP_LOOKUP_ELEM, vec![Arg::Map(mi), Arg::V(k)]);
                        let out = self.imm(0);
                        let skip = self.l();
                        self.emit(Op::Br(JmpOp::Eq, p, Src::Imm(0), skip));
                        let c = self.v();
                        self.emit(Op::Load(Size::DW, c, p, 0));
                        self.emit(Op::Br(JmpOp::Eq, c, Src::Imm(0), skip));
                        self.emit(Op::Load(Size::DW, out, p, 8));
                        // The total is signed: divide its magnitude, truncating toward zero.
                        let pos = self.l();
                        let done = self.l();
                        self.emit(Op::Br(JmpOp::Sge, out, Src::Imm(0), pos));
                        self.emit(Op::Neg(out));
                        self.alu(AluOp::Div, out, Src::V(c));
                        self.emit(Op::Neg(out));
                        self.emit(Op::Jmp(done));
                        self.emit(Op::Label(pos));
                        self.alu(AluOp::Div, out, Src::V(c));
                        self.emit(Op::Label(done));
                        self.emit(Op::Label(skip));
                        Ok(Val::Int(out, true))
                    }
                    ValueKind::Agg(..) => Ok(Val::Int(self.map_read_int(mi, k), true)),
                }
            }
            ExprKind::Param(i) => {
                let s = self
                    .cx
                    .checked_params()
                    .get((*i as usize).wrapping_sub(1))
                    .cloned()
                    .unwrap_or_default();
                match crate::check::parse_param_int(&s) {
                    Some(v) => Ok(Val::Int(self.imm(v), true)),
                    None => Ok(self.str_lit(s.as_bytes())),
                }
            }
            ExprKind::ParamCount => {
                let n = self.cx.checked_params().len() as i64;
                Ok(Val::Int(self.imm(n), false))
            }
            ExprKind::Unary(UnOp::Deref, x) => self.deref(e, x),
            ExprKind::Unary(UnOp::AddrOf, x) => self.addr_of(e, x),
            ExprKind::Unary(op, x) => {
                let v = self.int(x)?;
                let d = self.copy(v);
                match op {
                    UnOp::Neg => self.emit(Op::Neg(d)),
                    UnOp::BitNot => self.alu(AluOp::Xor, d, Src::Imm(-1)),
                    UnOp::Not => {
                        let r = self.imm(1);
                        let z = self.l();
                        self.emit(Op::Br(JmpOp::Eq, d, Src::Imm(0), z));
                        self.emit(Op::Imm(r, 0));
                        self.emit(Op::Label(z));
                        self.bools.insert(r);
                        return Ok(Val::Int(r, false));
                    }
                    // Handled by their own arms above.
                    UnOp::Deref | UnOp::AddrOf => {}
                }
                Ok(Val::Int(d, true))
            }
            ExprKind::IncDec {
                inc,
                prefix,
                target,
            } => {
                let one = Expr {
                    kind: ExprKind::Int(1),
                    span: e.span,
                };
                let before = self.int(target)?;
                let before = self.copy(before);
                let op = if *inc { BinOp::Add } else { BinOp::Sub };
                self.assign(target, Some(op), &one)?;
                if *prefix {
                    let d = self.copy(before);
                    let step = self.ptr_step(&self.checked_type(target));
                    self.alu(
                        if *inc { AluOp::Add } else { AluOp::Sub },
                        d,
                        Src::Imm(step),
                    );
                    return Ok(Val::Int(d, true));
                }
                Ok(Val::Int(before, true))
            }
            ExprKind::Binary(op @ (BinOp::And | BinOp::Or), a, b) => {
                let r = self.imm(if *op == BinOp::And { 0 } else { 1 });
                let out = self.l();
                let av = self.int(a)?;
                let j = if *op == BinOp::And {
                    JmpOp::Eq
                } else {
                    JmpOp::Ne
                };
                self.emit(Op::Br(j, av, Src::Imm(0), out));
                let bv = self.int(b)?;
                self.emit(Op::Br(j, bv, Src::Imm(0), out));
                self.emit(Op::Imm(r, if *op == BinOp::And { 1 } else { 0 }));
                self.emit(Op::Label(out));
                self.bools.insert(r);
                Ok(Val::Int(r, false))
            }
            ExprKind::Binary(op, a, b) => {
                let av = self.expr(a)?;
                let bv = self.expr(b)?;
                match (av, bv) {
                    (Val::Int(x, sa), Val::Int(y, sb)) => {
                        let (x, y) = self.ptr_operands(*op, a, b, x, y);
                        let d = self.copy(x);
                        let signed = sa || sb;
                        self.binop_into(*op, d, y, signed);
                        if matches!(
                            op,
                            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
                        ) {
                            self.bools.insert(d);
                        }
                        Ok(Val::Int(d, signed))
                    }
                    (Val::Mem(x, ta), Val::Mem(y, tb)) if matches!(op, BinOp::Eq | BinOp::Ne) => {
                        let n = size_of(&ta).min(size_of(&tb));
                        let r = if matches!(ta, Type::Array(..)) {
                            self.bytes_equal(x, y, n)
                        } else {
                            self.strcmp(x, y, n)
                        };
                        if *op == BinOp::Ne {
                            self.alu(AluOp::Xor, r, Src::Imm(1));
                        }
                        self.bools.insert(r);
                        Ok(Val::Int(r, false))
                    }
                    _ => Err(Diagnostic::error(
                        e.span,
                        format!("operator {} needs two integers or two strings", op.as_str()),
                    )),
                }
            }
            ExprKind::Ternary(c, a, b) => {
                let cv = self.int(c)?;
                let lelse = self.l();
                let lend = self.l();
                let r = self.v();
                self.emit(Op::Imm(r, 0));
                self.emit(Op::Br(JmpOp::Eq, cv, Src::Imm(0), lelse));
                let av = self.expr(a)?;
                let (ty, signed) = match &av {
                    Val::Int(v, s) => {
                        self.emit(Op::Mov(r, *v));
                        (None, *s)
                    }
                    Val::Mem(p, t) => {
                        self.emit(Op::Mov(r, *p));
                        (Some(t.clone()), false)
                    }
                    Val::Void => (None, false),
                };
                self.emit(Op::Jmp(lend));
                self.emit(Op::Label(lelse));
                let bv = self.expr(b)?;
                let ty = match &bv {
                    Val::Int(v, _) => {
                        self.emit(Op::Mov(r, *v));
                        ty
                    }
                    Val::Mem(p, t) => {
                        self.emit(Op::Mov(r, *p));
                        match ty {
                            Some(Type::Str(a)) => match t {
                                Type::Str(b) => Some(Type::Str(a.min(*b))),
                                _ => Some(t.clone()),
                            },
                            _ => Some(t.clone()),
                        }
                    }
                    Val::Void => ty,
                };
                self.emit(Op::Label(lend));
                Ok(match ty {
                    Some(t) => Val::Mem(r, t),
                    None => Val::Int(r, signed),
                })
            }
            ExprKind::Cast(t, x) if matches!(&t.kind, TypeKind::Array(..)) => self.array_cast(e, x),
            ExprKind::Cast(t, x)
                if matches!(&t.kind, TypeKind::Name(_))
                    && matches!(self.checked_type(x), Type::Array(..)) =>
            {
                self.array_to_int(e, x)
            }
            ExprKind::Cast(t, x) if matches!(&t.kind, TypeKind::Pointer(_)) => {
                let v = self.int(x)?;
                let d = self.copy(v);
                if let TypeKind::Pointer(inner) = &t.kind {
                    let named = match &inner.kind {
                        TypeKind::Struct(n) => Some((n.clone(), Kind::Struct)),
                        TypeKind::Union(n) => Some((n.clone(), Kind::Union)),
                        _ => None,
                    };
                    let script = |n: &String| {
                        let full = if n.starts_with("struct ") || n.starts_with("union ") {
                            n.clone()
                        } else if k_is_union(&inner.kind) {
                            format!("union {n}")
                        } else {
                            format!("struct {n}")
                        };
                        self.cx.checked.script_types.records.contains_key(&full)
                    };
                    // A script-defined struct has no BTF id: its pointer stays a plain number.
                    let named = named.filter(|(n, _)| !script(n));
                    if let Some((n, k)) = named {
                        let btf = bpfkit::attach::vmlinux_btf()
                            .map_err(|e| Diagnostic::error(t.span, e.to_string()))?;
                        let n = n.trim_start_matches("struct ").trim_start_matches("union ");
                        let id = btf.find_by_name_kind(n, k).ok_or_else(|| {
                            Diagnostic::error(t.span, format!("Unknown struct/union: '{n}'"))
                        })?;
                        self.kptr.insert(d, id);
                    }
                }
                Ok(Val::Int(d, false))
            }
            ExprKind::Cast(t, x) if matches!(&t.kind, TypeKind::Name(n) if n == "bool") => {
                let v = self.int(x)?;
                let r = self.imm(1);
                let done = self.l();
                self.emit(Op::Br(JmpOp::Ne, v, Src::Imm(0), done));
                self.emit(Op::Imm(r, 0));
                self.emit(Op::Label(done));
                self.bools.insert(r);
                Ok(Val::Int(r, false))
            }
            ExprKind::Cast(t, x) => {
                let v = self.int(x)?;
                let d = self.copy(v);
                let bits = match &t.kind {
                    TypeKind::Name(n) => match n.as_str() {
                        "uint8" | "u8" | "uint8_t" | "unsigned char" | "char" | "int8" => 8,
                        "uint16" | "u16" | "uint16_t" | "int16" => 16,
                        "uint32" | "u32" | "uint32_t" | "int32" | "int" | "unsigned int" => 32,
                        _ => 64,
                    },
                    _ => 64,
                };
                let signed =
                    matches!(&t.kind, TypeKind::Name(n) if n.starts_with("int") || n == "char");
                if bits < 64 {
                    self.alu(AluOp::Lsh, d, Src::Imm(64 - bits));
                    let a = if signed { AluOp::Arsh } else { AluOp::Rsh };
                    self.alu(a, d, Src::Imm(64 - bits));
                }
                Ok(Val::Int(d, signed))
            }
            ExprKind::Field { base, field, .. } => {
                match (&base.kind, self.cx.checked.config.get(&field.name)) {
                    (ExprKind::Call { name, .. }, Some(v)) if name.name == "config" => {
                        Ok(match v {
                            crate::check::ConfigValue::Int(i) => Val::Int(self.imm(*i), true),
                            crate::check::ConfigValue::Str(s) => self.str_lit(s.clone().as_bytes()),
                        })
                    }
                    _ => self.field(e, base, field),
                }
            }
            ExprKind::Tuple(items) => {
                let mut vals = Vec::new();
                for it in items {
                    vals.push(self.expr(it)?);
                }
                let types: Vec<Type> = vals
                    .iter()
                    .zip(items)
                    .map(|(v, it)| match v {
                        Val::Int(_, _) if matches!(self.checked_type(it), Type::Pointer(_)) => {
                            self.checked_type(it)
                        }
                        Val::Int(x, _) if self.bools.contains(x) => Type::Bool,
                        Val::Int(x, _) if self.users.contains(x) => Type::Username,
                        Val::Int(x, _) if self.stacks.contains_key(x) => Type::Stack {
                            kernel: self.stacks.get(x) == Some(&true),
                        },
                        Val::Int(_, s) => Type::Int {
                            bits: 64,
                            signed: *s,
                        },
                        Val::Mem(_, t) => t.clone(),
                        Val::Void => Type::U64,
                    })
                    .collect();
                let t = Type::Tuple(types);
                let (p, _) = self.alloc(size_of(&t));
                self.write_packed(p, &vals)?;
                Ok(Val::Mem(p, t))
            }
            ExprKind::Record(fields) => self.record_value(e, fields),
            ExprKind::Call { name, args } => self.call_fn(e, &name.name, args),
            ExprKind::Block(b) => {
                let Some((last, init)) = b.stmts.split_last() else {
                    return Ok(Val::Void);
                };
                for s in init {
                    self.stmt(s)?;
                }
                match &last.kind {
                    StmtKind::Expr(x) if b.has_value => self.expr(x),
                    _ => {
                        self.stmt(last)?;
                        Ok(Val::Void)
                    }
                }
            }
            ExprKind::Sizeof(_) | ExprKind::Offsetof(..) => {
                match self.cx.checked.consts.get(&e.span).copied() {
                    Some(n) => Ok(Val::Int(self.imm(n as i64), false)),
                    None => self.btf_size_or_offset(e),
                }
            }
            ExprKind::TupleIndex(x, i, _) => self.tuple_index(x, *i),
            ExprKind::Index(x, i)
                if matches!(
                    self.checked_type(x),
                    Type::Array(..) | Type::Pointer(_) | Type::Unknown
                ) =>
            {
                self.array_index(e, x, i)
            }
            ExprKind::Index(x, i)
                if matches!(self.checked_type(x), Type::Tuple(_) | Type::Named(_)) =>
            {
                match const_eval(i) {
                    Some(n) if n >= 0 => self.tuple_index(x, n as u64),
                    _ => Err(Diagnostic::error(
                        i.span,
                        "Tuple index must be an integer constant",
                    )),
                }
            }
            _ => Err(unsupported(e.span, "this expression")),
        }
    }

    /// 1 when the first `n` bytes match up to a NUL, else 0.
    fn strcmp(&mut self, a: V, b: V, n: u32) -> V {
        let r = self.imm(0);
        let out = self.l();
        let equal = self.l();
        let (x, y) = (self.v(), self.v());
        for i in 0..n.min(256) {
            self.emit(Op::Load(Size::B, x, a, i as i16));
            self.emit(Op::Load(Size::B, y, b, i as i16));
            self.emit(Op::Br(JmpOp::Ne, x, Src::V(y), out));
            self.emit(Op::Br(JmpOp::Eq, x, Src::Imm(0), equal));
        }
        self.emit(Op::Label(equal));
        self.emit(Op::Imm(r, 1));
        self.emit(Op::Label(out));
        r
    }

    /// Writes values one after another at `p` in event layout.
    fn write_packed(&mut self, p: V, vals: &[Val]) -> R<Vec<Type>> {
        let mut off = 0u32;
        let mut types = Vec::new();
        for v in vals {
            match v {
                Val::Int(x, s) => {
                    self.emit(Op::Store(Size::DW, p, off as i16, Src::V(*x)));
                    types.push(if self.bools.contains(x) {
                        Type::Bool
                    } else if self.users.contains(x) {
                        Type::Username
                    } else if let Some(k) = self.stacks.get(x) {
                        Type::Stack { kernel: *k }
                    } else {
                        Type::Int {
                            bits: 64,
                            signed: *s,
                        }
                    });
                    off += 8;
                }
                Val::Mem(x, t) => {
                    let n = size_of(t);
                    let dst = self.copy(p);
                    self.alu(AluOp::Add, dst, Src::Imm(off as i32));
                    self.memcpy(dst, *x, n);
                    types.push(t.clone());
                    off += n;
                }
                Val::Void => {}
            }
        }
        Ok(types)
    }
}

impl Ctx<'_> {
    fn checked_params(&self) -> &[String] {
        &self.opts.params
    }
}

/// Maps by name, for the runtime.
pub fn user_maps(c: &Compiled) -> BTreeMap<String, usize> {
    c.maps
        .iter()
        .enumerate()
        .skip(USER_MAP_BASE)
        .filter(|(_, m)| {
            ![stacks::STACK_MAP, exitflag::EXIT_FLAG_MAP, MAP_FULL_MAP].contains(&m.name.as_str())
                && m.map_type != MapType::PerfEventArray
        })
        .map(|(i, m)| (m.name.clone(), i))
        .collect()
}
