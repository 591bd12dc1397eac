//! The semantic checker: scopes of `$` variables, map key and value types (fixed by the first
//! assignment, aggregations included), builtin variables and functions (arity, argument
//! kinds, the probes they belong to), printf formats, struct fields through [`TypeSource`].
//! Every error points at a span. Maps may be assigned in a later probe than the one reading
//! them, so the program is walked twice: the first walk only learns map types.

use crate::ast::*;
use crate::attach::{AttachTarget, ProbeKind};
use crate::diag::{Diagnostic, Span};
use crate::types::{
    tracepoint_field_type, AggKind, FieldDef, RecordDef, ScriptTypes, Type, TypeSource,
};
use std::collections::{BTreeMap, HashMap};

mod calls;
mod config;
mod mapcalls;
mod sizes;

pub use config::ConfigValue;

use calls::CALL_KEYWORDS;

/// Knobs of the checker.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// `max_strlen`: size of `str()` results.
    pub max_strlen: u64,
    /// `--unsafe` given: `system`, `signal`, `override` are allowed.
    pub allow_unsafe: bool,
    /// Positional parameters (`$1` is the first): numeric ones type as integers, others as
    /// strings; missing ones are 0 / "".
    pub params: Vec<String>,
}

impl Default for CheckOptions {
    fn default() -> CheckOptions {
        CheckOptions {
            max_strlen: 1024,
            allow_unsafe: false,
            params: Vec::new(),
        }
    }
}

/// What the checker learned about one map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapInfo {
    /// Key type (`None` for a map without key).
    pub key: Option<Type>,
    /// Value type.
    pub value: Type,
    /// The first assignment.
    pub span: Span,
}

/// The checker's results.
#[derive(Clone, Debug)]
pub struct Checked {
    /// Every map by name (without `@`).
    pub maps: BTreeMap<String, MapInfo>,
    /// The type of every expression, by span.
    pub expr_types: HashMap<Span, Type>,
    /// The script's own structs, unions and enums.
    pub script_types: ScriptTypes,
    /// Warnings (the program is still accepted).
    pub warnings: Vec<Diagnostic>,
    /// For each probe (in program order), the record its `args` reads, when known.
    pub probe_args: Vec<Option<RecordDef>>,
    /// The value of every `sizeof()`/`offsetof()`, by its span.
    pub consts: HashMap<Span, u64>,
    /// The config variables `config().name` reads, by name.
    pub config: BTreeMap<String, ConfigValue>,
}

/// Config variables bpftrace knows (lower case, without the `BPFTRACE_` prefix).
const CONFIG_KEYS: &[&str] = &[
    "cache_user_symbols",
    "cpp_demangle",
    "lazy_symbolication",
    "license",
    "log_size",
    "max_bpf_progs",
    "max_cat_bytes",
    "max_map_keys",
    "max_probes",
    "max_strlen",
    "missing_probes",
    "on_stack_limit",
    "perf_rb_pages",
    "print_maps_on_exit",
    "show_debug_info",
    "stack_mode",
    "str_trunc_trailer",
    "symbol_source",
    "unstable_addr",
    "unstable_import",
    "unstable_macro",
    "unstable_map_decl",
    "unstable_tseries",
    "use_blazesym",
];

/// A positional parameter's integer value, when it is one (decimal or `0x` hex, signed).
pub fn parse_param_int(s: &str) -> Option<i64> {
    let t = s.trim();
    let (neg, t) = t.strip_prefix('-').map_or((false, t), |r| (true, r));
    let v = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => i64::from_str_radix(h, 16).ok()?,
        None if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => t.parse().ok()?,
        None => return None,
    };
    Some(if neg { -v } else { v })
}

/// Evaluates an integer constant expression (enum values, `unroll` counts).
pub fn const_eval(e: &Expr) -> Option<i64> {
    match &e.kind {
        ExprKind::Int(v) => i64::try_from(*v).ok().or(Some(*v as i64)),
        ExprKind::Bool(b) => Some(i64::from(*b)),
        ExprKind::Unary(UnOp::Neg, x) => const_eval(x).map(i64::wrapping_neg),
        ExprKind::Unary(UnOp::BitNot, x) => const_eval(x).map(|v| !v),
        ExprKind::Binary(op, a, b) => {
            let (a, b) = (const_eval(a)?, const_eval(b)?);
            Some(match op {
                BinOp::Add => a.wrapping_add(b),
                BinOp::Sub => a.wrapping_sub(b),
                BinOp::Mul => a.wrapping_mul(b),
                BinOp::Div => a.checked_div(b)?,
                BinOp::Mod => a.checked_rem(b)?,
                BinOp::Shl => a.checked_shl(u32::try_from(b).ok()?)?,
                BinOp::Shr => a.checked_shr(u32::try_from(b).ok()?)?,
                BinOp::BitAnd => a & b,
                BinOp::BitOr => a | b,
                BinOp::BitXor => a ^ b,
                _ => return None,
            })
        }
        _ => None,
    }
}

/// Checks `prog` with kernel types from `ts`.
pub fn check(
    prog: &Program,
    ts: &dyn TypeSource,
    opts: &CheckOptions,
) -> Result<Checked, Vec<Diagnostic>> {
    let st =
        ScriptTypes::build(&prog.c_defs, ts).map_err(|(s, m)| vec![Diagnostic::error(s, m)])?;
    let mut c = Checker {
        prog,
        ts,
        opts,
        st,
        maps: BTreeMap::new(),
        scopes: Vec::new(),
        probe_vars: HashMap::new(),
        loops: 0,
        kinds: Vec::new(),
        args_record: None,
        probe_args: Vec::new(),
        diags: Vec::new(),
        report: false,
        types: HashMap::new(),
        consts: HashMap::new(),
        first_keys: HashMap::new(),
        storage_vars: HashMap::new(),
    };
    c.walk();
    c.report = true;
    c.diags.clear();
    c.types.clear();
    c.walk();
    let (errors, warnings): (Vec<_>, Vec<_>) = c
        .diags
        .into_iter()
        .partition(|d| d.severity == crate::diag::Severity::Error);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Checked {
        maps: c.maps,
        expr_types: c.types,
        script_types: c.st,
        warnings,
        probe_args: c.probe_args,
        consts: c.consts,
        config: config::values(prog, opts),
    })
}

struct Var {
    ty: Type,
}

struct Checker<'a> {
    prog: &'a Program,
    ts: &'a dyn TypeSource,
    opts: &'a CheckOptions,
    st: ScriptTypes,
    maps: BTreeMap<String, MapInfo>,
    scopes: Vec<HashMap<String, Var>>,
    /// Every variable assigned so far in the probe, whatever its block: bpftrace 0.17 scoped
    /// variables to the probe, and its tools rely on that.
    probe_vars: HashMap<String, Type>,
    loops: u32,
    /// Probe kinds of the probe being checked.
    kinds: Vec<ProbeKind>,
    /// The `args` record of the probe being checked (when one kind of args is known).
    args_record: Option<RecordDef>,
    /// `args_record` of every probe walked, in order.
    probe_args: Vec<Option<RecordDef>>,
    diags: Vec<Diagnostic>,
    report: bool,
    types: HashMap<Span, Type>,
    consts: HashMap<Span, u64>,
    /// The key expressions of each map's first keyed assignment (for bpftrace's wording of
    /// key mismatches, see `mapcalls.rs`).
    first_keys: HashMap<String, Vec<Expr>>,
    /// The storage type of each variable's last assigned value (for `sizeof`).
    storage_vars: HashMap<String, Type>,
}

impl<'a> Checker<'a> {
    fn err(&mut self, span: Span, msg: impl Into<String>) {
        if self.report {
            self.diags.push(Diagnostic::error(span, msg));
        }
    }

    fn push(&mut self) {
        self.scopes.push(HashMap::new());
    }

    fn pop(&mut self) {
        self.scopes.pop();
    }

    fn lookup(&mut self, name: &str) -> Option<&mut Var> {
        self.scopes.iter_mut().rev().find_map(|s| s.get_mut(name))
    }

    fn walk(&mut self) {
        let prog = self.prog;
        if let Some(cfg) = &prog.config {
            for it in &cfg.items {
                let k = it.key.name.to_ascii_lowercase();
                let k = k.strip_prefix("bpftrace_").unwrap_or(&k);
                if !CONFIG_KEYS.contains(&k) && self.report {
                    self.diags.push(Diagnostic::warning(
                        it.key.span,
                        format!("Unrecognized config variable: {}", it.key.name),
                    ));
                }
            }
        }
        for m in &prog.map_decls {
            if !matches!(
                m.kind.name.as_str(),
                "hash" | "lruhash" | "percpuhash" | "percpulruhash" | "percpuarray"
            ) {
                self.err(
                    m.kind.span,
                    format!("Invalid map declaration type: {}", m.kind.name),
                );
            }
            if m.args.len() != 1 || const_eval(&m.args[0]).is_none_or(|v| v < 1) {
                self.err(
                    m.span,
                    "Map declarations take exactly one argument: the maximum number of entries",
                );
            }
        }
        for f in &prog.functions {
            self.kinds.clear();
            self.args_record = None;
            self.scopes.clear();
            self.probe_vars.clear();
            self.push();
            for (n, t) in &f.params {
                let ty = self.resolve_type(t);
                if let Some(s) = self.scopes.last_mut() {
                    s.insert(n.name.clone(), Var { ty });
                }
            }
            self.block(&f.body, false);
            self.pop();
        }
        for p in &prog.probes {
            self.kinds = p.attach_points.iter().map(|a| a.kind).collect();
            self.args_record = self.probe_args(p);
            if self.report {
                self.probe_args.push(self.args_record.clone());
            }
            self.scopes.clear();
            self.probe_vars.clear();
            self.push();
            if let Some(pred) = &p.predicate {
                let t = self.expr(pred, false);
                if !t.is_integer_like() && t != Type::Unknown {
                    self.err(pred.span, format!("Invalid type for predicate: {t}"));
                }
            }
            self.block(&p.body, false);
            self.pop();
        }
        for m in &prog.map_decls {
            if self.report && !self.maps.contains_key(&m.name.name) {
                self.diags.push(Diagnostic::warning(
                    m.name.span,
                    format!("Unused map: @{}", m.name.name),
                ));
            }
        }
    }

    /// The `args` of a probe: for several attach points, the fields all of them have (with
    /// compatible types), named after the first; None when any layout is unknown.
    fn probe_args(&self, p: &Probe) -> Option<RecordDef> {
        let mut recs = p.attach_points.iter().map(|ap| self.attach_args(ap));
        let mut first = recs.next()??;
        for r in recs {
            let r = r?;
            first
                .fields
                .retain(|f| r.field(&f.name).is_some_and(|g| g.ty.compatible(&f.ty)));
        }
        Some(first)
    }

    fn attach_args(&self, ap: &crate::attach::AttachPoint) -> Option<RecordDef> {
        if ap.has_wildcard() {
            return None;
        }
        match (&ap.kind, &ap.target) {
            (ProbeKind::Tracepoint, AttachTarget::Tracepoint { category, event }) => {
                let f = self.ts.tracepoint(category, event)?;
                let fields = f
                    .args()
                    .map(|tf| FieldDef {
                        name: tf.name.clone(),
                        ty: tracepoint_field_type(&tf.ty, tf.size, tf.signed, self.ts),
                        offset: u64::from(tf.offset),
                        bitfield: None,
                    })
                    .collect();
                Some(RecordDef {
                    name: format!("struct _tracepoint_{category}_{event}"),
                    size: u64::from(f.record_size()),
                    fields,
                })
            }
            (
                ProbeKind::Fentry | ProbeKind::Fexit | ProbeKind::RawTracepoint,
                AttachTarget::Kernel { function, .. },
            ) => {
                let args = self.ts.function_args(ap.kind, function)?;
                let fields = args
                    .into_iter()
                    .enumerate()
                    .map(|(i, (name, ty))| FieldDef {
                        name,
                        ty,
                        offset: i as u64 * 8,
                        bitfield: None,
                    })
                    .collect::<Vec<_>>();
                Some(RecordDef {
                    name: format!("struct {function}_args"),
                    size: fields.len() as u64 * 8,
                    fields,
                })
            }
            _ => None,
        }
    }

    fn resolve_type(&mut self, t: &TypeExpr) -> Type {
        match self.st.resolve(t, self.ts) {
            Some(ty) => ty,
            None => Type::Unknown,
        }
    }

    fn record(&self, name: &str) -> Option<RecordDef> {
        if let Some(a) = &self.args_record {
            if a.name == name {
                return Some(a.clone());
            }
        }
        self.st
            .records
            .get(name)
            .cloned()
            .or_else(|| self.ts.record(name))
    }

    fn block(&mut self, b: &Block, agg_ok: bool) -> Type {
        self.push();
        let mut last = Type::None;
        let n = b.stmts.len();
        for (i, s) in b.stmts.iter().enumerate() {
            let tail = b.has_value && i + 1 == n;
            last = self.stmt(s, agg_ok && tail);
        }
        self.pop();
        if b.has_value {
            last
        } else {
            Type::None
        }
    }

    fn stmt(&mut self, s: &Stmt, agg_ok: bool) -> Type {
        match &s.kind {
            StmtKind::Expr(e) => return self.expr(e, agg_ok),
            StmtKind::Assign {
                target,
                op,
                op_span,
                value,
            } => self.assign(target, *op, *op_span, value),
            StmtKind::Let { var, ty, value } => {
                let declared = ty.as_ref().map(|t| self.resolve_type(t));
                let vt = value.as_ref().map(|v| self.expr(v, false));
                if let (Some(d), Some(v)) = (&declared, &vt) {
                    if !d.compatible(v) {
                        self.err(var.span, format!("Type mismatch for ${}: trying to assign value of type '{v}' when variable already has a type '{d}'", var.name));
                    }
                }
                if self
                    .scopes
                    .last()
                    .is_some_and(|sc| sc.contains_key(&var.name))
                {
                    self.err(
                        var.span,
                        format!("Variable ${} was already declared", var.name),
                    );
                }
                let ty = declared.or(vt).unwrap_or(Type::Unknown);
                if let Some(sc) = self.scopes.last_mut() {
                    sc.insert(var.name.clone(), Var { ty });
                }
            }
            StmtKind::If { cond, then, else_ } => {
                let t = self.expr(cond, false);
                if !t.is_integer_like() && !matches!(t, Type::Agg(_)) {
                    self.err(cond.span, format!("Invalid condition in if(): {t}"));
                }
                self.block(then, false);
                if let Some(e) = else_ {
                    self.block(e, false);
                }
            }
            StmtKind::Unroll { count, body } => {
                match &count.kind {
                    ExprKind::Param(_) => {}
                    _ => match const_eval(count) {
                        Some(n) if n > 100 => self.err(s.span, "unroll maximum value is 100"),
                        Some(n) if n < 1 => self.err(s.span, "unroll minimum value is 1"),
                        Some(_) => {}
                        None => self.err(
                            count.span,
                            "unroll() takes an integer constant or a positional parameter",
                        ),
                    },
                }
                self.block(body, false);
            }
            StmtKind::While { cond, body } => {
                let t = self.expr(cond, false);
                if !t.is_integer_like() && !matches!(t, Type::Agg(_)) {
                    self.err(cond.span, format!("Invalid condition in while(): {t}"));
                }
                self.loops += 1;
                self.block(body, false);
                self.loops -= 1;
            }
            StmtKind::For { var, iter, body } => {
                let vt = match iter {
                    ForIter::Map(m) => match &m.kind {
                        ExprKind::Map { name, keys, .. } if keys.is_empty() => {
                            match self.maps.get(name).cloned() {
                                Some(info) => match info.key {
                                    Some(k) => Type::Tuple(vec![k, info.value]),
                                    None => {
                                        self.err(m.span, format!("@{name} has no explicit keys (scalar map), and cannot be used for iteration"));
                                        Type::Unknown
                                    }
                                },
                                None => {
                                    self.err(m.span, format!("Undefined map: @{name}"));
                                    Type::Unknown
                                }
                            }
                        }
                        _ => {
                            self.err(m.span, "for loops can only iterate over a map (@name) or a range (start..end)");
                            Type::Unknown
                        }
                    },
                    ForIter::Range(a, b) => {
                        for x in [a, b] {
                            let t = self.expr(x, false);
                            if !t.is_integer_like() {
                                self.err(
                                    x.span,
                                    format!("Loop range requires integer expressions, found {t}"),
                                );
                            }
                        }
                        Type::I64
                    }
                };
                self.push();
                if let Some(sc) = self.scopes.last_mut() {
                    sc.insert(var.name.clone(), Var { ty: vt });
                }
                self.loops += 1;
                self.block(body, false);
                self.loops -= 1;
                self.pop();
            }
            StmtKind::Break | StmtKind::Continue => {
                if self.loops == 0 {
                    let w = if s.kind == StmtKind::Break {
                        "break"
                    } else {
                        "continue"
                    };
                    self.err(s.span, format!("{w} used outside of a loop"));
                }
            }
            StmtKind::Return(v) => {
                if let Some(v) = v {
                    self.expr(v, false);
                }
            }
            StmtKind::Block(b) => {
                self.block(b, false);
            }
        }
        Type::None
    }

    fn assign(&mut self, target: &Expr, op: Option<BinOp>, op_span: Span, value: &Expr) {
        match &target.kind {
            ExprKind::Var(name) => {
                let mut vt = self.expr(value, false);
                if vt == Type::None {
                    self.err(value.span, "Value has no type: it cannot be assigned");
                    return;
                }
                if let Some(op) = op {
                    let Some(old) = self.lookup(name).map(|v| v.ty.clone()) else {
                        self.err(
                            target.span,
                            format!("Undefined or undeclared variable: ${name}"),
                        );
                        return;
                    };
                    vt = self.arith(op, &old, &vt, target.span.to(value.span));
                }
                if self.report {
                    self.types.insert(target.span, vt.clone());
                }
                let st = self.storage_type(value, &vt);
                self.storage_vars.insert(name.clone(), st);
                match self.lookup(name) {
                    Some(v) if v.ty == Type::Unknown => v.ty = vt,
                    Some(v) => {
                        if !v.ty.compatible(&vt) {
                            let old = v.ty.clone();
                            self.err(op_span, format!("Type mismatch for ${name}: trying to assign value of type '{vt}' when variable already contains a value of type '{old}'"));
                        }
                    }
                    None => {
                        let old = self.probe_vars.get(name).cloned();
                        if let Some(old) = old.filter(|o| !o.compatible(&vt)) {
                            self.err(op_span, format!("Type mismatch for ${name}: trying to assign value of type '{vt}' when variable already contains a value of type '{old}'"));
                        }
                        self.probe_vars.insert(name.clone(), vt.clone());
                        if let Some(sc) = self.scopes.last_mut() {
                            sc.insert(name.clone(), Var { ty: vt });
                        }
                    }
                }
            }
            ExprKind::Map { name, keys, .. } => {
                let key = self.keys(keys);
                if !keys.is_empty() {
                    self.first_keys
                        .entry(name.clone())
                        .or_insert_with(|| keys.clone());
                }
                let mut vt = self.expr(value, op.is_none());
                if vt == Type::None {
                    self.err(value.span, "Value has no type: it cannot be assigned");
                    return;
                }
                if let Some(op) = op {
                    let old = self.maps.get(name).map_or(Type::I64, |m| m.value.clone());
                    vt = self.arith(op, &old, &vt, target.span.to(value.span));
                }
                self.map_key(name, &key, target.span);
                if self.report {
                    let shown = self.maps.get(name).map_or(vt.clone(), |m| m.value.clone());
                    self.types.insert(target.span, shown);
                }
                match self.maps.get(name).cloned() {
                    Some(info) => {
                        if !info.value.compatible(&vt) {
                            self.err(op_span, format!("Type mismatch for @{name}: trying to assign value of type '{vt}' when map already contains a value of type '{}'", info.value));
                        } else if let Some(w) =
                            crate::codegen::tuples::widen_memory(&info.value, &vt)
                        {
                            if let Some(m) = self.maps.get_mut(name) {
                                m.value = w;
                            }
                        }
                    }
                    None => {
                        self.maps.insert(
                            name.clone(),
                            MapInfo {
                                key,
                                value: vt,
                                span: target.span,
                            },
                        );
                    }
                }
            }
            _ => {
                self.expr(value, false);
            }
        }
    }

    fn keys(&mut self, keys: &[Expr]) -> Option<Type> {
        match keys {
            [] => None,
            [k] => Some(self.expr(k, false)),
            ks => Some(Type::Tuple(
                ks.iter().map(|k| self.expr(k, false)).collect(),
            )),
        }
    }

    /// Checks a map access's key against the map's key type.
    fn map_key(&mut self, name: &str, key: &Option<Type>, span: Span) {
        let Some(info) = self.maps.get(name) else {
            return;
        };
        let ok = match (&info.key, key) {
            (None, None) => true,
            (Some(a), Some(b)) => a.compatible(b),
            _ => false,
        };
        if let (true, Some(a), Some(b)) = (ok, &info.key, key) {
            if let Some(w) = crate::codegen::tuples::widen_memory(a, b) {
                if let Some(m) = self.maps.get_mut(name) {
                    m.key = Some(w);
                }
            }
            return;
        }
        if !ok {
            let show = |k: &Option<Type>| k.as_ref().map_or("[]".to_string(), |t| format!("[{t}]"));
            let msg = format!(
                "Argument mismatch for @{name}: trying to access with arguments: {} when map expects arguments: {}",
                show(key),
                show(&info.key)
            );
            self.err(span, msg);
        }
    }

    fn arith(&mut self, op: BinOp, a: &Type, b: &Type, span: Span) -> Type {
        let scalar = |t: &Type| {
            t.is_integer_like()
                || matches!(
                    t,
                    Type::Agg(
                        AggKind::Count | AggKind::Sum | AggKind::Min | AggKind::Max | AggKind::Avg
                    )
                )
        };
        if !scalar(a) || !scalar(b) {
            self.err(
                span,
                format!(
                    "The {} operator can not be used on expressions of types {a}, {b}",
                    op.as_str()
                ),
            );
            return Type::Unknown;
        }
        match (a, b) {
            (Type::Pointer(_), Type::Pointer(_)) if op == BinOp::Sub => Type::I64,
            (Type::Pointer(_), _) if matches!(op, BinOp::Add | BinOp::Sub) => a.clone(),
            (_, Type::Pointer(_)) if op == BinOp::Add => b.clone(),
            (Type::Int { signed: false, .. }, Type::Int { signed: false, .. }) => Type::U64,
            _ => Type::I64,
        }
    }

    fn expr(&mut self, e: &Expr, agg_ok: bool) -> Type {
        let t = self.expr_inner(e, agg_ok);
        if self.report {
            self.types.insert(e.span, t.clone());
        }
        t
    }

    fn expr_inner(&mut self, e: &Expr, agg_ok: bool) -> Type {
        match &e.kind {
            ExprKind::Int(v) => {
                if *v > i64::MAX as u64 {
                    Type::U64
                } else {
                    Type::I64
                }
            }
            ExprKind::Bool(_) => Type::Bool,
            ExprKind::Str(s) => Type::Str(s.len() as u64 + 1),
            ExprKind::Ident(name) => {
                if let Some(t) = self.builtin(name, e.span) {
                    return t;
                }
                if let Some((en, _)) = self
                    .st
                    .enumerators
                    .get(name)
                    .cloned()
                    .or_else(|| self.ts.enumerator(name))
                {
                    return Type::Enum(en);
                }
                if crate::types::header_constant(name).is_some() {
                    return Type::I64;
                }
                if CALL_KEYWORDS.contains(&name.as_str())
                    || self
                        .prog
                        .macros
                        .iter()
                        .any(|m| m.name.name == *name && m.params.is_empty())
                    || self.prog.defines.iter().any(|d| d.name == *name)
                {
                    return Type::Unknown;
                }
                if name == "_" {
                    self.err(e.span, "_ can only be used on the left of an assignment");
                } else if !self.ts.is_complete()
                    && (!self.prog.includes.is_empty()
                        || name.bytes().all(|b| !b.is_ascii_lowercase()))
                {
                    // May be a constant of a header (the script's or `--include`'s).
                } else {
                    self.err(e.span, format!("Unknown identifier: '{name}'"));
                }
                Type::Unknown
            }
            ExprKind::Var(name) => {
                if let Some(v) = self.lookup(name) {
                    return v.ty.clone();
                }
                if let Some(t) = self.probe_vars.get(name).cloned() {
                    if self.report {
                        self.diags.push(Diagnostic::warning(
                            e.span,
                            format!("${name} is used outside the block that assigned it (accepted for bpftrace 0.17 scripts)"),
                        ));
                    }
                    return t;
                }
                self.err(e.span, format!("Undefined or undeclared variable: ${name}"));
                Type::Unknown
            }
            ExprKind::Map { name, keys, .. } => {
                let key = self.keys(keys);
                match self.maps.get(name).cloned() {
                    Some(info) => {
                        self.map_key(name, &key, e.span);
                        info.value
                    }
                    None => {
                        self.err(e.span, format!("Undefined map: @{name}"));
                        Type::Unknown
                    }
                }
            }
            ExprKind::Param(n) => {
                let p = usize::try_from(*n)
                    .ok()
                    .and_then(|n| self.opts.params.get(n.wrapping_sub(1)));
                match p {
                    Some(v) if parse_param_int(v).is_some() => Type::I64,
                    Some(v) => Type::Str(v.len() as u64 + 1),
                    None if self.opts.params.is_empty() => Type::Unknown,
                    None => Type::I64,
                }
            }
            ExprKind::ParamCount => Type::I64,
            ExprKind::Unary(op, x) => {
                let t = self.expr(x, false);
                match op {
                    UnOp::Not => Type::Bool,
                    UnOp::Neg | UnOp::BitNot => {
                        if !t.is_integer_like() {
                            self.err(
                                e.span,
                                format!(
                                    "The {} operator can not be used on expressions of type {t}",
                                    op.as_str()
                                ),
                            );
                        }
                        Type::I64
                    }
                    UnOp::Deref => match t {
                        Type::Pointer(inner) => *inner,
                        Type::Unknown | Type::Int { .. } => Type::Unknown,
                        other => {
                            self.err(e.span, format!("Can not dereference type {other}"));
                            Type::Unknown
                        }
                    },
                    UnOp::AddrOf => Type::Pointer(Box::new(t)),
                }
            }
            ExprKind::IncDec { target, .. } => match &target.kind {
                ExprKind::Map { name, keys, .. } => {
                    let key = self.keys(keys);
                    if !self.maps.contains_key(name) {
                        self.maps.insert(
                            name.clone(),
                            MapInfo {
                                key,
                                value: Type::I64,
                                span: target.span,
                            },
                        );
                        Type::I64
                    } else {
                        self.map_key(name, &key, target.span);
                        self.maps.get(name).map_or(Type::I64, |m| m.value.clone())
                    }
                }
                _ => self.expr(target, false),
            },
            ExprKind::Binary(op, a, b) => {
                let ta = self.expr(a, false);
                let tb = self.expr(b, false);
                match op {
                    BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                        let stringy = |t: &Type| matches!(t, Type::Str(_) | Type::Buffer(_));
                        let ok = ta.compatible(&tb)
                            || (ta.is_integer_like() && tb.is_integer_like())
                            || matches!(ta, Type::Agg(_)) && tb.is_integer_like()
                            || matches!(tb, Type::Agg(_)) && ta.is_integer_like();
                        if !ok || (stringy(&ta) && !matches!(op, BinOp::Eq | BinOp::Ne)) {
                            self.err(
                                e.span,
                                format!(
                                    "Type mismatch for '{}': comparing '{ta}' with '{tb}'",
                                    op.as_str()
                                ),
                            );
                        }
                        Type::Bool
                    }
                    BinOp::And | BinOp::Or => Type::Bool,
                    _ => self.arith(*op, &ta, &tb, e.span),
                }
            }
            ExprKind::Ternary(c, a, b) => {
                self.expr(c, false);
                let ta = self.expr(a, false);
                let tb = self.expr(b, false);
                if !ta.compatible(&tb) {
                    self.err(
                        e.span,
                        format!(
                            "Ternary operator must return the same type: have '{ta}' and '{tb}'"
                        ),
                    );
                }
                if ta == Type::Unknown {
                    tb
                } else {
                    ta
                }
            }
            ExprKind::Cast(ty, x) => {
                let from = self.expr(x, false);
                let to = self.resolve_type(ty);
                if let Type::Array(elem, 0) = &to {
                    let size = crate::types::size_of(&from, &|_| None);
                    let es = crate::types::size_of(elem, &|_| None).max(1);
                    return Type::Array(elem.clone(), size / es);
                }
                to
            }
            ExprKind::Field { base, field, .. } => {
                if matches!(&base.kind, ExprKind::Call { name, args } if name.name == "config" && args.is_empty())
                {
                    return match config::values(self.prog, self.opts).get(&field.name) {
                        Some(ConfigValue::Int(_)) => Type::I64,
                        Some(ConfigValue::Str(s)) => Type::Str(s.len() as u64 + 1),
                        None => {
                            self.err(
                                field.span,
                                format!("Unrecognized config variable: {}", field.name),
                            );
                            Type::Unknown
                        }
                    };
                }
                let bt = self.expr(base, false);
                self.field(&bt, field, e.span)
            }
            ExprKind::TupleIndex(x, i, _) => {
                let t = self.expr(x, false);
                self.tuple_index(&t, *i, e.span)
            }
            ExprKind::Index(x, i) => {
                let t = self.expr(x, false);
                let it = self.expr(i, false);
                match t {
                    Type::Array(el, _) | Type::Pointer(el) => {
                        if !it.is_integer_like() {
                            self.err(
                                i.span,
                                format!("The array index must be an integer, found {it}"),
                            );
                        }
                        *el
                    }
                    Type::Tuple(_) | Type::Named(_) => match const_eval(i) {
                        Some(n) if n >= 0 => self.tuple_index(&t, n as u64, e.span),
                        _ => {
                            self.err(i.span, "Tuple index must be an integer constant");
                            Type::Unknown
                        }
                    },
                    Type::Unknown => Type::Unknown,
                    other => {
                        self.err(e.span, format!("The array index operator [] can only be used on arrays and pointers, found {other}."));
                        Type::Unknown
                    }
                }
            }
            ExprKind::Call { name, args } => self.call(e, name, args, agg_ok),
            ExprKind::Sizeof(a) => {
                self.sizeof(e, a);
                Type::U64
            }
            ExprKind::Offsetof(a, path) => {
                self.offsetof(e, a, path);
                Type::U64
            }
            ExprKind::TypeOf(_) => Type::Unknown,
            ExprKind::Tuple(items) => {
                Type::Tuple(items.iter().map(|i| self.expr(i, false)).collect())
            }
            ExprKind::Record(fields) => Type::Named(
                fields
                    .iter()
                    .map(|(n, v)| (n.name.clone(), self.expr(v, false)))
                    .collect(),
            ),
            ExprKind::Block(b) => self.block(b, agg_ok),
        }
    }

    fn field(&mut self, bt: &Type, field: &Name, span: Span) -> Type {
        let rec = match bt {
            Type::Record(n) => n.clone(),
            Type::Pointer(inner) => match inner.as_ref() {
                Type::Record(n) => n.clone(),
                Type::Unknown => return Type::Unknown,
                other => {
                    self.err(
                        span,
                        format!(
                            "Can not access field '{}' on expression of type '{other} *'",
                            field.name
                        ),
                    );
                    return Type::Unknown;
                }
            },
            Type::Named(fs) => {
                return match fs.iter().find(|(n, _)| *n == field.name) {
                    Some((_, t)) => t.clone(),
                    None => {
                        self.err(
                            span,
                            format!("Record does not contain a field named '{}'", field.name),
                        );
                        Type::Unknown
                    }
                }
            }
            Type::Unknown => return Type::Unknown,
            other => {
                self.err(
                    span,
                    format!(
                        "Can not access field '{}' on expression of type '{other}'",
                        field.name
                    ),
                );
                return Type::Unknown;
            }
        };
        match self.record(&rec) {
            Some(r) => match r.field(&field.name) {
                Some(f) => f.ty.clone(),
                None => {
                    self.err(
                        span,
                        format!(
                            "Struct/union of type '{rec}' does not contain a field named '{}'",
                            field.name
                        ),
                    );
                    Type::Unknown
                }
            },
            None => Type::Unknown,
        }
    }

    fn tuple_index(&mut self, t: &Type, i: u64, span: Span) -> Type {
        let n = match t {
            Type::Tuple(ts) => ts.len(),
            Type::Named(fs) => fs.len(),
            Type::Unknown => return Type::Unknown,
            other => {
                self.err(
                    span,
                    format!("Can not access index '{i}' on expression of type '{other}'"),
                );
                return Type::Unknown;
            }
        };
        let elem = usize::try_from(i).ok().and_then(|i| match t {
            Type::Tuple(ts) => ts.get(i).cloned(),
            Type::Named(fs) => fs.get(i).map(|f| f.1.clone()),
            _ => None,
        });
        match elem {
            Some(t) => t,
            None => {
                self.err(
                    span,
                    format!("Invalid tuple index: {i}. Found {n} elements in tuple."),
                );
                Type::Unknown
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{NoTypes, TableTypes};

    const EXECVE: &str = "name: sys_enter_execve\nID: 862\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n\tfield:const char * filename;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:const char *const * argv;\toffset:24;\tsize:8;\tsigned:0;\n\nprint fmt: \"x\"\n";

    fn types() -> TableTypes {
        let mut t = TableTypes::default();
        t.tracepoints.insert(
            "syscalls:sys_enter_execve".into(),
            crate::tracepoint::parse_format("execve", EXECVE).unwrap(),
        );
        let task = Type::Record("struct task_struct".into());
        t.records.insert(
            "struct task_struct".into(),
            RecordDef {
                name: "struct task_struct".into(),
                size: 64,
                fields: vec![
                    FieldDef {
                        name: "pid".into(),
                        ty: Type::Int {
                            bits: 32,
                            signed: true,
                        },
                        offset: 0,
                        bitfield: None,
                    },
                    FieldDef {
                        name: "comm".into(),
                        ty: Type::Str(16),
                        offset: 8,
                        bitfield: None,
                    },
                    FieldDef {
                        name: "real_parent".into(),
                        ty: Type::Pointer(Box::new(task)),
                        offset: 24,
                        bitfield: None,
                    },
                ],
            },
        );
        t
    }

    fn errors(src: &str) -> Vec<String> {
        let p = crate::parse_program("stdin", src).unwrap();
        let sf = crate::diag::SourceFile::new("stdin", src);
        match check(&p, &types(), &CheckOptions::default()) {
            Ok(_) => Vec::new(),
            Err(ds) => ds
                .iter()
                .map(|d| sf.render(d).lines().next().unwrap_or("").to_string())
                .collect(),
        }
    }

    #[test]
    fn accepts_valid_programs() {
        for src in [
            "tracepoint:syscalls:sys_enter_execve,tracepoint:syscalls:sys_enter_execveat { printf(\"pid: %d, comm: %s, args: %s\\n\", pid, comm, join(args->argv)); }",
            "tracepoint:syscalls:sys_enter_execve { @[comm] = count(); @s[pid, comm] = sum(args.__syscall_nr); printf(\"%s\\n\", str(args.filename)); }",
            "begin { $x = 1; $x = 2; @m[1] = \"a\"; @m[2] = \"bc\"; for ($kv : @m) { print($kv.1); break; } }",
            "begin { printf(\"%d %s\\n\", curtask->real_parent->pid, curtask->comm); }",
            "begin { @ = { let $a = 100; avg($a) }; @h = hist(5); if (@h2 > 1) { } } end { @h2 = count(); }",
            "struct Foo { int a; char b[4]; } kprobe:f { $f = (struct Foo *)arg0; printf(\"%d %s\\n\", $f->a, $f->b); }",
            "enum E { A, B }; begin { printf(\"%d\\n\", B); unroll(3) { @i++; } }",
        ] {
            assert_eq!(errors(src), Vec::<String>::new(), "{src}");
        }
    }

    #[test]
    fn reports_errors_at_spans() {
        let cases: &[(&str, &str)] = &[
            ("tracepoint:syscalls:sys_enter_execve { printf(\"%d\\n\", $x); }", "stdin:1:55-57: ERROR: Undefined or undeclared variable: $x"),
            ("begin { $x = \"a\";\n  $x = 1; }", "stdin:2:6-7: ERROR: Type mismatch for $x: trying to assign value of type 'int64' when variable already contains a value of type 'string[2]'"),
            ("begin { prntf(\"x\"); }", "stdin:1:9-14: ERROR: Unknown function: prntf"),
            ("begin { printf(\"%d %d\\n\", 1); }", "stdin:1:9-29: ERROR: printf: Not enough arguments for format string (1 supplied, 2 expected)"),
            ("begin { printf(\"%d\\n\", \"str\"); }", "stdin:1:9-30: ERROR: printf: %d specifier expects a value of type integer (string supplied)"),
            ("begin { @x = 1; @x = \"a\"; }", "stdin:1:20-21: ERROR: Type mismatch for @x: trying to assign value of type 'string[2]' when map already contains a value of type 'int64'"),
            ("begin { @x = count(); @x = sum(1); }", "stdin:1:26-27: ERROR: Type mismatch for @x: trying to assign value of type 'sum' when map already contains a value of type 'count'"),
            ("begin { print(@nope); }", "stdin:1:15-20: ERROR: Undefined map: @nope"),
            ("begin { $x = count(); }", "stdin:1:14-21: ERROR: count() should be directly assigned to a map"),
            ("begin { print(str()); }", "stdin:1:15-20: ERROR: str() requires at least one argument (0 provided)"),
            ("begin { print(str(1,2,3)); }", "stdin:1:15-25: ERROR: str() takes up to 2 arguments (3 provided)"),
            ("begin { print(foo); }", "stdin:1:15-18: ERROR: Unknown identifier: 'foo'"),
            ("begin { break; }", "stdin:1:9-14: ERROR: break used outside of a loop"),
            ("kprobe:f { print(args); }", "stdin:1:18-22: ERROR: The args builtin can only be used with tracepoint/fentry/uprobe probes (kprobe used here)"),
            ("begin { print(retval); }", "stdin:1:15-21: ERROR: The retval builtin can only be used"),
            ("begin { print(curtask->foo); }", "stdin:1:15-27: ERROR: Struct/union of type 'struct task_struct' does not contain a field named 'foo'"),
            ("tracepoint:syscalls:sys_enter_execve { print(args->foo); }", "stdin:1:46-55: ERROR: Struct/union of type 'struct _tracepoint_syscalls_sys_enter_execve' does not contain a field named 'foo'"),
            ("begin { if (1 == \"a\") {} }", "stdin:1:12-22: ERROR: Type mismatch for '==': comparing 'int64' with 'string[2]'"),
            ("begin { printf(1); }", "stdin:1:9-18: ERROR: printf() expects a string literal (integer provided)"),
            ("begin { unroll(200) { } }", "stdin:1:9-24: ERROR: unroll maximum value is 100"),
            ("begin { $x = 1; if (1) { $y = 2; } print($z); }", "stdin:1:42-44: ERROR: Undefined or undeclared variable: $z"),
            ("begin { @x[1] = 1; @x[\"a\"] = 1; }", "stdin:1:20-27: ERROR: Argument mismatch for @x"),
            ("begin { system(\"ls\"); }", "stdin:1:9-21: ERROR: system() is an unsafe function being used in safe mode"),
            ("begin { $t = (1, 2); print($t.5); }", "stdin:1:28-32: ERROR: Invalid tuple index: 5. Found 2 elements in tuple."),
        ];
        let mut bad = Vec::new();
        for (src, want) in cases {
            let got = errors(src);
            if !got.first().is_some_and(|g| g.starts_with(want)) {
                bad.push(format!("{src}\n  got  {got:?}\n  want {want}"));
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    #[test]
    fn probe_scoped_variables_of_0_17_are_a_warning() {
        let p = crate::parse_program(
            "stdin",
            "begin { if (1) { $y = 2; } else { $y = 3; } print($y); }",
        )
        .unwrap();
        let c = check(&p, &NoTypes, &CheckOptions::default()).unwrap();
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0].message.contains("$y is used outside"));
    }

    #[test]
    fn config_keys_and_probe_args() {
        let p = crate::parse_program(
            "stdin",
            "config = { stack_mode = perf; BPFTRACE_MAX_STRLEN = 64; bogus = 1 } tracepoint:syscalls:sys_enter_execve { print(args.filename) } begin { }",
        )
        .unwrap();
        let c = check(&p, &types(), &CheckOptions::default()).unwrap();
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(c.warnings[0].message.contains("bogus"));
        assert_eq!(c.probe_args.len(), 2);
        let a = c.probe_args[0].as_ref().unwrap();
        assert_eq!(a.field("filename").unwrap().offset, 16);
        assert!(c.probe_args[1].is_none());
    }

    #[test]
    fn positional_parameters_take_their_types() {
        let p = crate::parse_program("stdin", "begin { @a = $1; @b = $2; @c = $3 }").unwrap();
        let opts = CheckOptions {
            params: vec!["42".into(), "hello".into()],
            ..CheckOptions::default()
        };
        let c = check(&p, &NoTypes, &opts).unwrap();
        assert_eq!(c.maps["a"].value, Type::I64);
        assert_eq!(c.maps["b"].value, Type::Str(6));
        assert_eq!(c.maps["c"].value, Type::I64);
        assert_eq!(parse_param_int("-0x10"), Some(-16));
        assert_eq!(parse_param_int("1a"), None);
    }

    #[test]
    fn header_constants_resolve_even_with_a_complete_source() {
        let mut t = types();
        t.complete = true;
        let p = crate::parse_program(
            "stdin",
            "begin { if (AF_INET6 == 10) { print(strerror(EPERM)); } }",
        )
        .unwrap();
        check(&p, &t, &CheckOptions::default()).unwrap();
        let p = crate::parse_program("stdin", "begin { print(AF_NOPE); }").unwrap();
        assert!(check(&p, &t, &CheckOptions::default()).is_err());
    }

    #[test]
    fn map_types_are_inferred() {
        let p = crate::parse_program(
            "stdin",
            "begin { @a[pid, comm] = count(); @b = 1; } end { @c = hist(@b); }",
        )
        .unwrap();
        let c = check(&p, &NoTypes, &CheckOptions::default()).unwrap();
        assert_eq!(
            c.maps["a"].key,
            Some(Type::Tuple(vec![Type::U32, Type::Str(16)]))
        );
        assert_eq!(c.maps["a"].value, Type::Agg(AggKind::Count));
        assert_eq!(c.maps["c"].value, Type::Agg(AggKind::Hist));
    }
}
