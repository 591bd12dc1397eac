//! `macro name(params) { … }`: calls are expanded in the AST before checking. A `$var`
//! parameter stands for the caller's variable, an `@map` parameter for the caller's map, a
//! bare name for the argument expression. The expansion is a block expression at the call's
//! place. A few macros come from a small standard library ([`STDLIB_NAME`]) unless the
//! script defines its own of the same name.
//!
//! `errorf`/`warnf` inside an expansion remember where they were expanded from: their format
//! string gets a header (between two [`SITE_MARK`]s) listing the call sites, which the code
//! generator turns into the `expanded from` lines bpftrace prints.

use crate::ast::*;
use crate::diag::{Diagnostic, SourceFile, Span};

/// File name of the standard macros in messages.
pub const STDLIB_NAME: &str = "stdlib/base.bt";

/// The standard macros (bpfkit's own text; the names and locations follow bpftrace's).
pub const STDLIB_TEXT: &str = "// bpfkit trace's standard macros.

// assert(cond, msg): unless cond holds, report msg and end the run with status 1.
macro assert(cond, msg) {
  if (!(cond)) {
    errorf(\"assert failed: %s\", msg);
    exit(1);
  }
}
";

/// Delimits the expansion header at the start of an `errorf`/`warnf` format.
pub const SITE_MARK: char = '\u{2}';

/// Deepest nesting of macro calls.
const MAX_DEPTH: usize = 32;

/// Expands every macro call of `prog`.
pub fn expand(prog: &mut Program) -> Result<(), Diagnostic> {
    let user = prog.macros.clone();
    let fns: Vec<String> = prog.functions.iter().map(|f| f.name.name.clone()).collect();
    let std = stdlib_macros();
    let mut x = Expander {
        user,
        fns,
        std,
        depth: 0,
        expansions: 0,
    };
    for p in &mut prog.probes {
        if let Some(pred) = &mut p.predicate {
            x.expr(pred)?;
        }
        x.block(&mut p.body)?;
    }
    for f in &mut prog.functions {
        x.block(&mut f.body)?;
    }
    Ok(())
}

/// The standard library's macros (parsed once per expansion run).
fn stdlib_macros() -> Vec<MacroDef> {
    crate::parser::parse(STDLIB_TEXT, &crate::lexer::LexOptions::with_btf())
        .map(|p| p.macros)
        .unwrap_or_default()
}

struct Expander {
    user: Vec<MacroDef>,
    fns: Vec<String>,
    std: Vec<MacroDef>,
    depth: usize,
    /// Expansions so far (numbers the macros' own variables).
    expansions: usize,
}

impl Expander {
    fn block(&mut self, b: &mut Block) -> Result<(), Diagnostic> {
        for s in &mut b.stmts {
            self.stmt(s)?;
        }
        Ok(())
    }

    fn stmt(&mut self, s: &mut Stmt) -> Result<(), Diagnostic> {
        match &mut s.kind {
            StmtKind::Expr(e) => self.expr(e),
            StmtKind::Assign { target, value, .. } => {
                self.expr(target)?;
                self.expr(value)?;
                sink_aggregate(s);
                Ok(())
            }
            StmtKind::Let { value, .. } => match value {
                Some(v) => self.expr(v),
                None => Ok(()),
            },
            StmtKind::If { cond, then, else_ } => {
                self.expr(cond)?;
                self.block(then)?;
                match else_ {
                    Some(b) => self.block(b),
                    None => Ok(()),
                }
            }
            StmtKind::Unroll { count, body } | StmtKind::While { cond: count, body } => {
                self.expr(count)?;
                self.block(body)
            }
            StmtKind::For { iter, body, .. } => {
                match iter {
                    ForIter::Map(m) => self.expr(m)?,
                    ForIter::Range(a, b) => {
                        self.expr(a)?;
                        self.expr(b)?;
                    }
                }
                self.block(body)
            }
            StmtKind::Return(Some(e)) => self.expr(e),
            StmtKind::Block(b) => self.block(b),
            StmtKind::Break | StmtKind::Continue | StmtKind::Return(None) => Ok(()),
        }
    }

    /// The macro a call of `name` names: the script's, else the standard one (unless a
    /// function of that name exists).
    fn find(&self, name: &str) -> Option<(MacroDef, bool)> {
        if let Some(m) = self.user.iter().find(|m| m.name.name == name) {
            return Some((m.clone(), false));
        }
        if self.fns.iter().any(|f| f == name) {
            return None;
        }
        self.std
            .iter()
            .find(|m| m.name.name == name)
            .map(|m| (m.clone(), true))
    }

    fn expr(&mut self, e: &mut Expr) -> Result<(), Diagnostic> {
        each_child(e, &mut |c| self.expr(c))?;
        // A macro without parameters may be named without parentheses.
        if let ExprKind::Ident(i) = &e.kind {
            if self
                .user
                .iter()
                .any(|m| m.name.name == *i && m.params.is_empty())
            {
                e.kind = ExprKind::Call {
                    name: Name {
                        name: i.clone(),
                        span: e.span,
                    },
                    args: Vec::new(),
                };
            }
        }
        let ExprKind::Call { name, args } = &e.kind else {
            return Ok(());
        };
        let Some((m, from_std)) = self.find(&name.name) else {
            return Ok(());
        };
        if m.params.len() != args.len() {
            return Err(Diagnostic::error(
                e.span,
                format!(
                    "Call to {}() has the wrong number of arguments: expected {} but got {}",
                    name.name,
                    m.params.len(),
                    args.len()
                ),
            ));
        }
        if self.depth >= MAX_DEPTH {
            return Err(Diagnostic::error(
                e.span,
                format!("macro {}() expands too deeply (recursive?)", name.name),
            ));
        }
        let site = e.span;
        let mut body = m.body.clone();
        let binds: Vec<(MacroParam, Expr)> = m.params.iter().cloned().zip(args.clone()).collect();
        if from_std {
            // Stdlib code has no place in the script: its errorf names the stdlib file, and
            // everything else points at the call.
            let lib = SourceFile::new(STDLIB_NAME, STDLIB_TEXT);
            mark_block(&mut body, &mut |fmt, span| {
                add_site(fmt, &format!("={}", lib.place(span)));
            });
            respan_block(&mut body, site);
        }
        self.expansions += 1;
        subst_block(&mut body, &binds, self.expansions)?;
        self.depth += 1;
        let r = self.block(&mut body);
        self.depth -= 1;
        r?;
        // After the nested expansions, so their errorf lists this site after their own.
        mark_block(&mut body, &mut |fmt, _| {
            add_site(fmt, &format!("{}-{}", site.start, site.end));
        });
        e.kind = ExprKind::Block(body);
        Ok(())
    }
}

/// Calls `f` on each direct sub-expression of `e` (blocks included, through statements).
fn each_child(
    e: &mut Expr,
    f: &mut dyn FnMut(&mut Expr) -> Result<(), Diagnostic>,
) -> Result<(), Diagnostic> {
    match &mut e.kind {
        ExprKind::Map { keys, .. } => keys.iter_mut().try_for_each(f),
        ExprKind::Unary(_, x)
        | ExprKind::Cast(_, x)
        | ExprKind::Field { base: x, .. }
        | ExprKind::TupleIndex(x, _, _)
        | ExprKind::IncDec { target: x, .. } => f(x),
        ExprKind::Binary(_, a, b) | ExprKind::Index(a, b) => {
            f(a)?;
            f(b)
        }
        ExprKind::Ternary(a, b, c) => {
            f(a)?;
            f(b)?;
            f(c)
        }
        ExprKind::Call { args, .. } | ExprKind::Tuple(args) => args.iter_mut().try_for_each(f),
        ExprKind::Record(items) => items.iter_mut().try_for_each(|(_, x)| f(x)),
        ExprKind::Sizeof(TypeOrExpr::Expr(x)) | ExprKind::Offsetof(TypeOrExpr::Expr(x), _) => f(x),
        ExprKind::Block(b) => each_block_expr(b, f),
        _ => Ok(()),
    }
}

/// Calls `f` on each expression directly inside the statements of `b`.
fn each_block_expr(
    b: &mut Block,
    f: &mut dyn FnMut(&mut Expr) -> Result<(), Diagnostic>,
) -> Result<(), Diagnostic> {
    for s in &mut b.stmts {
        match &mut s.kind {
            StmtKind::Expr(e) | StmtKind::Return(Some(e)) => f(e)?,
            StmtKind::Assign { target, value, .. } => {
                f(target)?;
                f(value)?;
            }
            StmtKind::Let { value: Some(v), .. } => f(v)?,
            StmtKind::If { cond, then, else_ } => {
                f(cond)?;
                each_block_expr(then, f)?;
                if let Some(b) = else_ {
                    each_block_expr(b, f)?;
                }
            }
            StmtKind::Unroll { count, body } | StmtKind::While { cond: count, body } => {
                f(count)?;
                each_block_expr(body, f)?;
            }
            StmtKind::For { iter, body, .. } => {
                match iter {
                    ForIter::Map(m) => f(m)?,
                    ForIter::Range(a, c) => {
                        f(a)?;
                        f(c)?;
                    }
                }
                each_block_expr(body, f)?;
            }
            StmtKind::Block(b) => each_block_expr(b, f)?,
            _ => {}
        }
    }
    Ok(())
}

/// Walks every expression of `e` (itself first, then inside).
fn walk_expr(e: &mut Expr, f: &mut dyn FnMut(&mut Expr) -> Result<(), Diagnostic>) {
    if f(e).is_err() {
        return;
    }
    let _ = each_child(e, &mut |c| {
        walk_expr(c, f);
        Ok(())
    });
}

fn walk_block(b: &mut Block, f: &mut dyn FnMut(&mut Expr) -> Result<(), Diagnostic>) {
    let _ = each_block_expr(b, &mut |c| {
        walk_expr(c, f);
        Ok(())
    });
}

/// Calls `f(format, span of the call)` on the format of each `errorf`/`warnf` in `b`.
fn mark_block(b: &mut Block, f: &mut dyn FnMut(&mut Vec<u8>, Span)) {
    walk_block(b, &mut |e| {
        let span = e.span;
        if let ExprKind::Call { name, args } = &mut e.kind {
            if matches!(name.name.as_str(), "errorf" | "warnf") {
                if let Some(Expr {
                    kind: ExprKind::Str(s),
                    ..
                }) = args.first_mut()
                {
                    f(s, span);
                }
            }
        }
        Ok(())
    });
}

/// Appends one item (a call site `start-end`, or `=PLACE` for the primary place) to the
/// header of an `errorf`/`warnf` format.
fn add_site(fmt: &mut Vec<u8>, item: &str) {
    let mark = SITE_MARK as u8;
    if fmt.first() == Some(&mark) {
        if let Some(end) = fmt.iter().skip(1).position(|&c| c == mark) {
            let at = end + 1;
            let ins = format!(" {item}");
            fmt.splice(at..at, ins.into_bytes());
            return;
        }
    }
    let mut head = vec![mark];
    head.extend_from_slice(item.as_bytes());
    head.push(mark);
    fmt.splice(0..0, head);
}

/// Splits a format into its expansion header items and the rest.
pub fn split_sites(fmt: &[u8]) -> (Vec<String>, &[u8]) {
    let mark = SITE_MARK as u8;
    if fmt.first() != Some(&mark) {
        return (Vec::new(), fmt);
    }
    let Some(end) = fmt.iter().skip(1).position(|&c| c == mark) else {
        return (Vec::new(), fmt);
    };
    let head = String::from_utf8_lossy(&fmt[1..end + 1]).into_owned();
    let items = head
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    (items, &fmt[end + 2..])
}

/// Points every span in `b` at `site`.
fn respan_block(b: &mut Block, site: Span) {
    b.span = site;
    for s in &mut b.stmts {
        s.span = site;
        match &mut s.kind {
            StmtKind::If { then, else_, .. } => {
                respan_block(then, site);
                if let Some(e) = else_ {
                    respan_block(e, site);
                }
            }
            StmtKind::Unroll { body, .. }
            | StmtKind::While { body, .. }
            | StmtKind::For { body, .. }
            | StmtKind::Block(body) => respan_block(body, site),
            _ => {}
        }
    }
    walk_block(b, &mut |e| {
        e.span = site;
        match &mut e.kind {
            ExprKind::Call { name, .. } => name.span = site,
            ExprKind::Map { name_span, .. } => *name_span = site,
            ExprKind::Block(inner) => respan_block(inner, site),
            _ => {}
        }
        Ok(())
    });
}

/// Replaces the parameters of a macro body by the call's arguments. The macro's own
/// variables get names no script variable can have (`x#N` for expansion `N`), so they
/// neither see nor change the caller's.
fn subst_block(b: &mut Block, binds: &[(MacroParam, Expr)], tag: usize) -> Result<(), Diagnostic> {
    let var_of = |n: &str| {
        binds.iter().find_map(|(p, a)| match p {
            MacroParam::Var(v) if v.name == n => Some(a.clone()),
            _ => None,
        })
    };
    let local = |n: &str| format!("{n}#{tag}");
    // `let $p` / `for ($p : …)` of a `$` parameter rename to the caller's variable.
    rename_decls(b, &|n: &str| match var_of(n) {
        Some(Expr {
            kind: ExprKind::Var(w),
            ..
        }) => Some(w),
        Some(_) => None,
        None => Some(local(n)),
    });
    let mut err = None;
    walk_block(b, &mut |e| {
        let new = match &e.kind {
            ExprKind::Var(v) => Some(var_of(v).unwrap_or_else(|| Expr {
                kind: ExprKind::Var(local(v)),
                span: e.span,
            })),
            ExprKind::Ident(i) => binds.iter().find_map(|(p, a)| match p {
                MacroParam::Expr(n) if n.name == *i => Some(a.clone()),
                _ => None,
            }),
            ExprKind::Map {
                name,
                name_span,
                keys,
            } => binds.iter().find_map(|(p, a)| match (p, &a.kind) {
                (MacroParam::Map(n), ExprKind::Map { name: w, .. }) if n.name == *name => {
                    Some(Expr {
                        kind: ExprKind::Map {
                            name: w.clone(),
                            name_span: *name_span,
                            keys: keys.clone(),
                        },
                        span: e.span,
                    })
                }
                (MacroParam::Map(n), _) if n.name == *name => {
                    err.get_or_insert(Diagnostic::error(
                        a.span,
                        format!("macro argument for @{} must be a map", n.name),
                    ));
                    None
                }
                _ => None,
            }),
            _ => None,
        };
        if let Some(n) = new {
            let renamed_map = matches!(e.kind, ExprKind::Map { .. });
            *e = n;
            if !renamed_map {
                // The argument was expanded already; do not look inside it again.
                return Err(Diagnostic::error(e.span, ""));
            }
        }
        Ok(())
    });
    match err {
        Some(d) => Err(d),
        None => Ok(()),
    }
}

/// Renames declared variables (`let`, `for`) for which `f` gives a new name.
fn rename_decls(b: &mut Block, f: &dyn Fn(&str) -> Option<String>) {
    for s in &mut b.stmts {
        match &mut s.kind {
            StmtKind::Let { var, .. } => {
                if let Some(n) = f(&var.name) {
                    var.name = n;
                }
            }
            StmtKind::For { var, body, .. } => {
                if let Some(n) = f(&var.name) {
                    var.name = n;
                }
                rename_decls(body, f);
            }
            StmtKind::If { then, else_, .. } => {
                rename_decls(then, f);
                if let Some(e) = else_ {
                    rename_decls(e, f);
                }
            }
            StmtKind::Unroll { body, .. }
            | StmtKind::While { body, .. }
            | StmtKind::Block(body) => rename_decls(body, f),
            _ => {}
        }
    }
}

/// The aggregation functions, which may only be assigned to a map.
const AGGREGATIONS: &[&str] = &[
    "count", "sum", "avg", "min", "max", "stats", "hist", "lhist", "tseries",
];

/// `@m = { …; agg(x) }` (a block, or a macro, whose value is an aggregation) becomes
/// `{ …; @m = agg(x) }`, the form the aggregation needs.
fn sink_aggregate(s: &mut Stmt) {
    let StmtKind::Assign {
        target,
        op,
        op_span,
        value,
    } = &mut s.kind
    else {
        return;
    };
    if !matches!(target.kind, ExprKind::Map { .. }) {
        return;
    }
    let ExprKind::Block(b) = &mut value.kind else {
        return;
    };
    if !b.has_value {
        return;
    }
    let Some(last) = b.stmts.last_mut() else {
        return;
    };
    let StmtKind::Expr(x) = &last.kind else {
        return;
    };
    if !matches!(&x.kind, ExprKind::Call { name, .. } if AGGREGATIONS.contains(&name.name.as_str()))
    {
        return;
    }
    last.kind = StmtKind::Assign {
        target: target.clone(),
        op: *op,
        op_span: *op_span,
        value: x.clone(),
    };
    let mut inner = b.clone();
    inner.has_value = false;
    s.kind = StmtKind::Block(inner);
}

/// Messages as the script wrote its variables: `$x#3` (a macro's own `$x`) reads `$x`.
pub fn plain_names(ds: Vec<Diagnostic>) -> Vec<Diagnostic> {
    ds.into_iter()
        .map(|mut d| {
            let mut out = String::with_capacity(d.message.len());
            let mut chars = d.message.chars().peekable();
            while let Some(c) = chars.next() {
                let after_var = out.rfind('$').is_some_and(|i| {
                    let name = &out[i + 1..];
                    !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_')
                });
                if c == '#' && after_var && chars.peek().is_some_and(char::is_ascii_digit) {
                    while chars.peek().is_some_and(char::is_ascii_digit) {
                        chars.next();
                    }
                    continue;
                }
                out.push(c);
            }
            d.message = out;
            d
        })
        .collect()
}
