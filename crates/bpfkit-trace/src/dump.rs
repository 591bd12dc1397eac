//! Stage dumps for `-d tokens` and `-d ast`: stable, line-oriented text. The AST dump is an
//! indented tree in the spirit of bpftrace's `-d ast` (one node per line, children indented
//! by one space), not byte-identical to it.

use crate::ast::*;
use crate::attach::AttachTarget;
use crate::check::Checked;
use crate::diag::SourceFile;
use crate::diag::Span;
use crate::lexer::{escape_bytes, Token};
use crate::types::Type;
use std::collections::HashMap;
use std::fmt::Write;

/// One token per line: `LINE:COL-COL KIND text`.
pub fn dump_tokens(src: &SourceFile, tokens: &[Token]) -> String {
    let mut out = String::new();
    for t in tokens {
        let a = src.line_col(t.span.start);
        let b = src.line_col(t.span.end);
        let kind = match &t.tok {
            crate::lexer::Tok::Ident(_) => "ident",
            crate::lexer::Tok::Var(_) => "var",
            crate::lexer::Tok::Map(_) => "map",
            crate::lexer::Tok::Param(_) | crate::lexer::Tok::ParamCount => "param",
            crate::lexer::Tok::Int(_) => "int",
            crate::lexer::Tok::Str(_) => "string",
            crate::lexer::Tok::Kw(_) => "keyword",
            crate::lexer::Tok::P(_) => "punct",
            crate::lexer::Tok::AttachPoint(_) => "attach_point",
            crate::lexer::Tok::Include(_) => "include",
            crate::lexer::Tok::Define { .. } => "define",
            crate::lexer::Tok::Eof => "eof",
        };
        let _ = writeln!(out, "{a}-{} {kind} {}", b.col, t.tok);
    }
    out
}

struct Dumper<'t> {
    out: String,
    /// Expression types for the typed dump.
    types: Option<&'t HashMap<Span, Type>>,
    /// Type annotation for the next line (the line of the expression node being printed).
    suffix: Option<String>,
}

impl Dumper<'_> {
    fn line(&mut self, depth: usize, text: &str) {
        for _ in 0..depth {
            self.out.push(' ');
        }
        self.out.push_str(text);
        if let Some(s) = self.suffix.take() {
            self.out.push_str(&s);
        }
        self.out.push('\n');
    }

    fn program(&mut self, p: &Program) {
        self.line(0, "Program");
        for i in &p.includes {
            self.line(1, &format!("#include <{}>", i.path));
        }
        for d in &p.defines {
            self.line(1, &format!("#define {} {}", d.name, d.body));
        }
        for c in &p.c_defs {
            match c {
                CDef::Record(r) => self.record(1, r),
                CDef::Typedef(f) => {
                    let name = f.name.as_ref().map_or("", |n| n.name.as_str());
                    self.line(1, &format!("typedef {} {name}", type_text(&f.ty)));
                }
                CDef::Enum(e) => {
                    let name = e.name.as_ref().map_or("", |n| n.name.as_str());
                    self.line(1, &format!("enum {name}"));
                    for (n, v) in &e.variants {
                        self.line(2, &n.name);
                        if let Some(v) = v {
                            self.expr(3, v);
                        }
                    }
                }
            }
        }
        if let Some(c) = &p.config {
            self.line(1, "config");
            for it in &c.items {
                self.line(2, &format!("{} =", it.key.name));
                self.expr(3, &it.value);
            }
        }
        for i in &p.imports {
            self.line(1, &format!("import \"{}\"", i.name));
        }
        for m in &p.map_decls {
            self.line(1, &format!("let @{} = {}", m.name.name, m.kind.name));
            for a in &m.args {
                self.expr(2, a);
            }
        }
        for m in &p.macros {
            let params: Vec<String> = m
                .params
                .iter()
                .map(|p| match p {
                    MacroParam::Var(n) => format!("${}", n.name),
                    MacroParam::Map(n) => format!("@{}", n.name),
                    MacroParam::Expr(n) => n.name.clone(),
                })
                .collect();
            self.line(1, &format!("macro {}({})", m.name.name, params.join(", ")));
            self.block(2, &m.body);
        }
        for f in &p.functions {
            let params: Vec<String> = f
                .params
                .iter()
                .map(|(n, t)| format!("${}: {}", n.name, type_text(t)))
                .collect();
            self.line(
                1,
                &format!(
                    "fn {}({}): {}",
                    f.name.name,
                    params.join(", "),
                    type_text(&f.ret)
                ),
            );
            self.block(2, &f.body);
        }
        for pr in &p.probes {
            let names: Vec<String> = pr.attach_points.iter().map(|a| a.canonical()).collect();
            self.line(1, &names.join(","));
            for a in &pr.attach_points {
                if a.target != AttachTarget::None {
                    self.line(2, &format!("attach {:?}", a.target));
                }
            }
            if let Some(pred) = &pr.predicate {
                self.line(2, "predicate");
                self.expr(3, pred);
            }
            self.block(2, &pr.body);
        }
    }

    fn record(&mut self, d: usize, r: &CRecord) {
        let kw = match r.kind {
            RecordKind::Struct => "struct",
            RecordKind::Union => "union",
        };
        let name = r.name.as_ref().map_or("", |n| n.name.as_str());
        let mut head = format!("{kw} {name}");
        for a in &r.attributes {
            let _ = write!(head, " __attribute__(({a}))");
        }
        self.line(d, head.trim_end());
        for f in &r.fields {
            let name = f.name.as_ref().map_or("", |n| n.name.as_str());
            let bits = f.bits.map_or(String::new(), |b| format!(" : {b}"));
            if let TypeKind::Record(inner) = &f.ty.kind {
                self.record(d + 1, inner);
                if !name.is_empty() {
                    self.line(d + 2, &format!("(member {name})"));
                }
            } else {
                self.line(d + 1, &format!("{} {name}{bits}", type_text(&f.ty)));
            }
        }
    }

    fn block(&mut self, d: usize, b: &Block) {
        for s in &b.stmts {
            self.stmt(d, s);
        }
    }

    fn stmt(&mut self, d: usize, s: &Stmt) {
        match &s.kind {
            StmtKind::Expr(e) => self.expr(d, e),
            StmtKind::Assign {
                target, op, value, ..
            } => {
                let op = op.map_or("=".to_string(), |o| format!("{}=", o.as_str()));
                self.line(d, &op);
                self.expr(d + 1, target);
                self.expr(d + 1, value);
            }
            StmtKind::Let { var, ty, value } => {
                let ty = ty
                    .as_ref()
                    .map_or(String::new(), |t| format!(" : {}", type_text(t)));
                self.line(d, &format!("let ${}{ty}", var.name));
                if let Some(v) = value {
                    self.expr(d + 1, v);
                }
            }
            StmtKind::If { cond, then, else_ } => {
                self.line(d, "if");
                self.expr(d + 1, cond);
                self.line(d + 1, "then");
                self.block(d + 2, then);
                if let Some(e) = else_ {
                    self.line(d + 1, "else");
                    self.block(d + 2, e);
                }
            }
            StmtKind::Unroll { count, body } => {
                self.line(d, "unroll");
                self.expr(d + 1, count);
                self.block(d + 1, body);
            }
            StmtKind::While { cond, body } => {
                self.line(d, "while");
                self.expr(d + 1, cond);
                self.block(d + 1, body);
            }
            StmtKind::For { var, iter, body } => {
                self.line(d, &format!("for ${}", var.name));
                match iter {
                    ForIter::Map(m) => self.expr(d + 1, m),
                    ForIter::Range(a, b) => {
                        self.line(d + 1, "range");
                        self.expr(d + 2, a);
                        self.expr(d + 2, b);
                    }
                }
                self.line(d + 1, "body");
                self.block(d + 2, body);
            }
            StmtKind::Break => self.line(d, "break"),
            StmtKind::Continue => self.line(d, "continue"),
            StmtKind::Return(v) => {
                self.line(d, "return");
                if let Some(v) = v {
                    self.expr(d + 1, v);
                }
            }
            StmtKind::Block(b) => {
                self.line(d, "block");
                self.block(d + 1, b);
            }
        }
    }

    fn expr(&mut self, d: usize, e: &Expr) {
        self.suffix = self
            .types
            .and_then(|t| t.get(&e.span))
            .map(|t| format!(" :: [{t}]"));
        match &e.kind {
            ExprKind::Int(v) => self.line(d, &format!("int: {v}")),
            ExprKind::Bool(b) => self.line(d, &format!("bool: {b}")),
            ExprKind::Str(s) => self.line(d, &format!("string: \"{}\"", escape_bytes(s))),
            ExprKind::Ident(i) => self.line(d, &format!("identifier: {i}")),
            ExprKind::Var(v) => self.line(d, &format!("variable: ${v}")),
            ExprKind::Map { name, keys, .. } => {
                self.line(d, &format!("map: @{name}"));
                for k in keys {
                    self.expr(d + 1, k);
                }
            }
            ExprKind::Param(n) => self.line(d, &format!("param: ${n}")),
            ExprKind::ParamCount => self.line(d, "param: $#"),
            ExprKind::Unary(op, x) => {
                self.line(d, &format!("unop: {}", op.as_str()));
                self.expr(d + 1, x);
            }
            ExprKind::IncDec {
                inc,
                prefix,
                target,
            } => {
                let op = if *inc { "++" } else { "--" };
                let pos = if *prefix { "pre" } else { "post" };
                self.line(d, &format!("unop: {op} ({pos})"));
                self.expr(d + 1, target);
            }
            ExprKind::Binary(op, a, b) => {
                self.line(d, op.as_str());
                self.expr(d + 1, a);
                self.expr(d + 1, b);
            }
            ExprKind::Ternary(c, a, b) => {
                self.line(d, "?:");
                self.expr(d + 1, c);
                self.expr(d + 1, a);
                self.expr(d + 1, b);
            }
            ExprKind::Cast(t, x) => {
                self.line(d, &format!("({})", type_text(t)));
                self.expr(d + 1, x);
            }
            ExprKind::Field { base, field, arrow } => {
                self.line(d, if *arrow { "->" } else { "." });
                self.expr(d + 1, base);
                self.line(d + 1, &field.name);
            }
            ExprKind::TupleIndex(x, i, _) => {
                self.line(d, ".");
                self.expr(d + 1, x);
                self.line(d + 1, &i.to_string());
            }
            ExprKind::Index(x, i) => {
                self.line(d, "[]");
                self.expr(d + 1, x);
                self.expr(d + 1, i);
            }
            ExprKind::Call { name, args } => {
                self.line(d, &format!("call: {}", name.name));
                for a in args {
                    self.expr(d + 1, a);
                }
            }
            ExprKind::Sizeof(a) => {
                self.line(d, "sizeof");
                self.type_or_expr(d + 1, a);
            }
            ExprKind::Offsetof(a, fields) => {
                self.line(d, "offsetof");
                self.type_or_expr(d + 1, a);
                let f: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                self.line(d + 1, &f.join("."));
            }
            ExprKind::TypeOf(a) => match a.as_ref() {
                TypeOfArg::Type(t) => self.line(d, &format!("typeof({})", type_text(t))),
                TypeOfArg::Expr(x) => {
                    self.line(d, "typeof");
                    self.expr(d + 1, x);
                }
            },
            ExprKind::Tuple(items) => {
                self.line(d, "tuple:");
                for i in items {
                    self.expr(d + 1, i);
                }
            }
            ExprKind::Record(fields) => {
                self.line(d, "record:");
                for (n, v) in fields {
                    self.line(d + 1, &format!("{} =", n.name));
                    self.expr(d + 2, v);
                }
            }
            ExprKind::Block(b) => {
                self.line(d, "block expression");
                self.block(d + 1, b);
            }
        }
    }

    fn type_or_expr(&mut self, d: usize, a: &TypeOrExpr) {
        match a {
            TypeOrExpr::Type(t) => self.line(d, &type_text(t)),
            TypeOrExpr::Expr(e) => self.expr(d, e),
        }
    }
}

/// A type in C-like spelling: `struct task_struct *`, `int8[8]`, `unsigned long`.
pub fn type_text(t: &TypeExpr) -> String {
    match &t.kind {
        TypeKind::Name(n) => n.clone(),
        TypeKind::Struct(n) => format!("struct {n}"),
        TypeKind::Union(n) => format!("union {n}"),
        TypeKind::Enum(n) => format!("enum {n}"),
        TypeKind::Record(r) => {
            let kw = match r.kind {
                RecordKind::Struct => "struct",
                RecordKind::Union => "union",
            };
            match &r.name {
                Some(n) => format!("{kw} {}", n.name),
                None => format!("{kw} <anonymous>"),
            }
        }
        TypeKind::Pointer(inner) => format!("{} *", type_text(inner)),
        TypeKind::Array(inner, n) => match n {
            Some(n) => format!("{}[{n}]", type_text(inner)),
            None => format!("{}[]", type_text(inner)),
        },
        TypeKind::TypeOf(a) => match a.as_ref() {
            TypeOfArg::Type(t) => format!("typeof({})", type_text(t)),
            TypeOfArg::Expr(_) => "typeof(<expr>)".to_string(),
        },
        TypeKind::FnPointer => "<function pointer>".to_string(),
    }
}

/// The indented tree of a whole program.
pub fn dump_ast(p: &Program) -> String {
    let mut d = Dumper {
        out: String::new(),
        types: None,
        suffix: None,
    };
    d.program(p);
    d.out
}

/// The tree with each expression's checked type appended (`int: 1 :: [int64]`).
pub fn dump_typed_ast(p: &Program, checked: &Checked) -> String {
    let mut d = Dumper {
        out: String::new(),
        types: Some(&checked.expr_types),
        suffix: None,
    };
    d.program(p);
    d.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::{lex, LexOptions};

    #[test]
    fn ast_dump_shows_precedence() {
        let p = crate::parse_program("stdin", "begin { @x[1] = 1 + 2 * 3; }").unwrap();
        assert_eq!(
            dump_ast(&p),
            "Program\n begin\n  =\n   map: @x\n    int: 1\n   +\n    int: 1\n    *\n     int: 2\n     int: 3\n"
        );
    }

    #[test]
    fn typed_dump_annotates_expressions() {
        let p = crate::parse_program("stdin", "begin { @x = comm; }").unwrap();
        let c = crate::check::check(&p, &crate::types::NoTypes, &Default::default()).unwrap();
        assert_eq!(
            dump_typed_ast(&p, &c),
            "Program\n begin\n  =\n   map: @x :: [string[16]]\n   identifier: comm :: [string[16]]\n"
        );
    }

    #[test]
    fn token_dump_has_positions() {
        let text = "begin {\n  $x++ }";
        let (t, _) = lex(text, &LexOptions::default());
        let d = dump_tokens(&SourceFile::new("stdin", text), &t);
        assert_eq!(
            d,
            "1:1-6 attach_point begin\n1:7-8 punct {\n2:3-5 var $x\n2:5-7 punct ++\n2:8-9 punct }\n2:9-9 eof end of file\n"
        );
    }
}
