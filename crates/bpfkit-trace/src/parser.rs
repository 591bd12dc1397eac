//! The parser: tokens to [`Program`], by recursive descent with precedence climbing for binary
//! operators (C's precedence, as bpftrace uses). It stops at the first syntax error; every
//! error carries the span of the token that caused it. Nesting is bounded so that no input can
//! exhaust the stack.

use crate::ast::*;
use crate::attach::parse_attach_point;
use crate::diag::{Diagnostic, Span};
use crate::lexer::{lex, Kw, LexOptions, Tok, Token, P};

/// Deepest nesting of expressions, blocks and types accepted.
const MAX_DEPTH: u32 = 64;

type PResult<T> = Result<T, Diagnostic>;

/// Parses a script: lexer diagnostics first (all of them), else the first syntax error.
pub fn parse(src: &str, opts: &LexOptions) -> Result<Program, Vec<Diagnostic>> {
    let (tokens, diags) = lex(src, opts);
    if !diags.is_empty() {
        return Err(diags);
    }
    parse_tokens(src, tokens).map_err(|d| vec![d])
}

/// Parses a token stream as returned by [`lex`] (it must end with [`Tok::Eof`]).
pub fn parse_tokens(src: &str, tokens: Vec<Token>) -> PResult<Program> {
    let mut tokens = tokens;
    if tokens.last().is_none_or(|t| t.tok != Tok::Eof) {
        tokens.push(Token {
            tok: Tok::Eof,
            span: Span::new(src.len(), src.len()),
        });
    }
    let mut p = Parser {
        src,
        toks: tokens,
        pos: 0,
        prev_end: 0,
        depth: 0,
        in_pred: false,
    };
    p.program()
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    prev_end: usize,
    depth: u32,
    in_pred: bool,
}

/// Words that name a type when seen in a cast or `sizeof`.
fn is_type_word(w: &str) -> bool {
    matches!(
        w,
        "bool"
            | "int8"
            | "int16"
            | "int32"
            | "int64"
            | "uint8"
            | "uint16"
            | "uint32"
            | "uint64"
            | "string"
            | "buffer"
            | "inet"
            | "void"
            | "char"
            | "short"
            | "int"
            | "long"
            | "unsigned"
            | "signed"
            | "u8"
            | "u16"
            | "u32"
            | "u64"
            | "s8"
            | "s16"
            | "s32"
            | "s64"
            | "__u8"
            | "__u16"
            | "__u32"
            | "__u64"
            | "__s8"
            | "__s16"
            | "__s32"
            | "__s64"
            | "typeof"
    ) || w.ends_with("_t")
}

/// Words that combine into one C base type (`unsigned long long`, `const char`).
fn is_c_base_word(w: &str) -> bool {
    matches!(
        w,
        "unsigned"
            | "signed"
            | "long"
            | "short"
            | "int"
            | "char"
            | "const"
            | "volatile"
            | "double"
            | "float"
            | "_Bool"
    )
}

fn binop(p: P) -> Option<(u8, BinOp)> {
    Some(match p {
        P::OrOr => (1, BinOp::Or),
        P::AndAnd => (2, BinOp::And),
        P::Pipe => (3, BinOp::BitOr),
        P::Caret => (4, BinOp::BitXor),
        P::Amp => (5, BinOp::BitAnd),
        P::Eq => (6, BinOp::Eq),
        P::Ne => (6, BinOp::Ne),
        P::Lt => (7, BinOp::Lt),
        P::Le => (7, BinOp::Le),
        P::Gt => (7, BinOp::Gt),
        P::Ge => (7, BinOp::Ge),
        P::Shl => (8, BinOp::Shl),
        P::Shr => (8, BinOp::Shr),
        P::Plus => (9, BinOp::Add),
        P::Minus => (9, BinOp::Sub),
        P::Star => (10, BinOp::Mul),
        P::Slash => (10, BinOp::Div),
        P::Percent => (10, BinOp::Mod),
        _ => return None,
    })
}

fn compound_op(p: P) -> Option<Option<BinOp>> {
    Some(match p {
        P::Assign => None,
        P::PlusAssign => Some(BinOp::Add),
        P::MinusAssign => Some(BinOp::Sub),
        P::StarAssign => Some(BinOp::Mul),
        P::SlashAssign => Some(BinOp::Div),
        P::PercentAssign => Some(BinOp::Mod),
        P::AmpAssign => Some(BinOp::BitAnd),
        P::PipeAssign => Some(BinOp::BitOr),
        P::CaretAssign => Some(BinOp::BitXor),
        P::ShlAssign => Some(BinOp::Shl),
        P::ShrAssign => Some(BinOp::Shr),
        _ => return None,
    })
}

/// How a token is named in "unexpected …" messages.
fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("identifier '{s}'"),
        Tok::Var(s) => format!("variable ${s}"),
        Tok::Map(s) => format!("map @{s}"),
        Tok::Param(n) => format!("positional parameter ${n}"),
        Tok::ParamCount => "$#".to_string(),
        Tok::Int(_) => "integer".to_string(),
        Tok::Str(_) => "string".to_string(),
        Tok::AttachPoint(s) => format!("attach point '{s}'"),
        Tok::Include(_) | Tok::Define { .. } => "preprocessor directive".to_string(),
        Tok::Eof => "end of file".to_string(),
        Tok::Kw(k) => k.as_str().to_string(),
        Tok::P(p) => p.as_str().to_string(),
    }
}

impl<'a> Parser<'a> {
    fn tok(&self) -> &Tok {
        self.toks.get(self.pos).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn peek(&self, n: usize) -> &Tok {
        self.toks.get(self.pos + n).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn span(&self) -> Span {
        self.toks
            .get(self.pos)
            .map_or_else(|| Span::new(self.src.len(), self.src.len()), |t| t.span)
    }

    fn bump(&mut self) -> Token {
        let t = self.toks.get(self.pos).cloned().unwrap_or(Token {
            tok: Tok::Eof,
            span: Span::new(self.src.len(), self.src.len()),
        });
        if self.pos < self.toks.len() && t.tok != Tok::Eof {
            self.pos += 1;
            self.prev_end = t.span.end;
        }
        t
    }

    fn is(&self, p: P) -> bool {
        *self.tok() == Tok::P(p)
    }

    fn is_kw(&self, k: Kw) -> bool {
        *self.tok() == Tok::Kw(k)
    }

    fn eat(&mut self, p: P) -> bool {
        if self.is(p) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn unexpected(&self, expecting: &str) -> Diagnostic {
        let t = self.tok();
        let mut m = format!("syntax error, unexpected {}", describe(t));
        if !expecting.is_empty() {
            m.push_str(", expecting ");
            m.push_str(expecting);
        }
        Diagnostic::error(self.span(), m)
    }

    fn expect(&mut self, p: P) -> PResult<Span> {
        if self.is(p) {
            Ok(self.bump().span)
        } else {
            Err(self.unexpected(p.as_str()))
        }
    }

    fn from(&self, start: usize) -> Span {
        Span::new(start, self.prev_end.max(start))
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Diagnostic::error(
                self.span(),
                format!("nesting too deep (more than {MAX_DEPTH} levels)"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// `inner` one nesting level deeper (an error past [`MAX_DEPTH`]).
    fn nested<T>(&mut self, inner: fn(&mut Self) -> PResult<T>) -> PResult<T> {
        self.enter()?;
        let r = inner(self);
        self.leave();
        r
    }

    /// An identifier, or a keyword where any name is fine (fields, config keys).
    fn name(&mut self, what: &str) -> PResult<Name> {
        match self.tok().clone() {
            Tok::Ident(s) => Ok(Name {
                name: s,
                span: self.bump().span,
            }),
            Tok::Kw(k) => Ok(Name {
                name: k.as_str().to_string(),
                span: self.bump().span,
            }),
            _ => Err(self.unexpected(what)),
        }
    }

    fn program(&mut self) -> PResult<Program> {
        let mut prog = Program {
            includes: Vec::new(),
            defines: Vec::new(),
            c_defs: Vec::new(),
            config: None,
            imports: Vec::new(),
            map_decls: Vec::new(),
            macros: Vec::new(),
            functions: Vec::new(),
            probes: Vec::new(),
            span: Span::new(0, self.src.len()),
        };
        loop {
            let start = self.span();
            match self.tok().clone() {
                Tok::Eof => break,
                Tok::P(P::Semi) => {
                    self.bump();
                }
                Tok::Include(path) => {
                    self.bump();
                    prog.includes.push(Include { path, span: start });
                }
                Tok::Define { name, params, body } => {
                    self.bump();
                    prog.defines.push(Define {
                        name,
                        params,
                        body,
                        span: start,
                    });
                }
                Tok::Kw(Kw::Struct) | Tok::Kw(Kw::Union) => {
                    let r = self.c_record()?;
                    prog.c_defs.push(CDef::Record(r));
                }
                Tok::Kw(Kw::Enum) => {
                    let e = self.c_enum()?;
                    prog.c_defs.push(CDef::Enum(e));
                }
                Tok::Ident(w) if w == "typedef" => {
                    self.bump();
                    let mut fields = Vec::new();
                    self.c_fields(&mut fields)?;
                    self.expect(P::Semi)?;
                    for f in fields {
                        if f.name.is_none() {
                            return Err(Diagnostic::error(f.span, "typedef needs a name"));
                        }
                        prog.c_defs.push(CDef::Typedef(f));
                    }
                }
                Tok::Kw(Kw::Config) => {
                    if !prog.probes.is_empty() || prog.config.is_some() {
                        return Err(Diagnostic::error(
                            start,
                            "the config block must come once, before any probe",
                        ));
                    }
                    prog.config = Some(self.config()?);
                }
                Tok::Kw(Kw::Let) => prog.map_decls.push(self.map_decl()?),
                Tok::Kw(Kw::Macro) => prog.macros.push(self.macro_def()?),
                Tok::Kw(Kw::Fn) => prog.functions.push(self.fn_def()?),
                Tok::Kw(Kw::Import) => {
                    self.bump();
                    let name = match self.tok().clone() {
                        Tok::Str(s) => String::from_utf8_lossy(&s).into_owned(),
                        Tok::Ident(s) => s,
                        _ => return Err(self.unexpected("a string naming the import")),
                    };
                    self.bump();
                    self.expect(P::Semi)?;
                    prog.imports.push(Import {
                        name,
                        span: self.from(start.start),
                    });
                }
                Tok::AttachPoint(_) => prog.probes.push(self.probe()?),
                _ => return Err(self.unexpected("probe")),
            }
        }
        Ok(prog)
    }

    fn probe(&mut self) -> PResult<Probe> {
        let start = self.span().start;
        let mut aps = Vec::new();
        loop {
            let t = self.bump();
            let Tok::AttachPoint(raw) = t.tok else {
                return Err(Diagnostic::error(
                    t.span,
                    "syntax error, expecting attach point",
                ));
            };
            aps.push(parse_attach_point(&raw, t.span)?);
            if !self.eat(P::Comma) {
                break;
            }
            if !matches!(self.tok(), Tok::AttachPoint(_)) {
                return Err(self.unexpected("attach point"));
            }
        }
        let predicate = if self.is(P::Slash) {
            self.bump();
            self.in_pred = true;
            let e = self.expr();
            self.in_pred = false;
            let e = e?;
            if !self.is(P::Slash) {
                return Err(self.unexpected("/ (end of predicate)"));
            }
            self.bump();
            Some(e)
        } else {
            None
        };
        if !self.is(P::LBrace) {
            return Err(self.unexpected("{"));
        }
        let body = self.block()?;
        Ok(Probe {
            attach_points: aps,
            predicate,
            body,
            span: self.from(start),
        })
    }

    fn config(&mut self) -> PResult<Config> {
        let start = self.bump().span.start;
        self.expect(P::Assign)?;
        self.expect(P::LBrace)?;
        let mut items = Vec::new();
        while !self.is(P::RBrace) {
            if self.eat(P::Semi) {
                continue;
            }
            let key = self.name("config variable name")?;
            self.expect(P::Assign)?;
            let value = self.expr()?;
            items.push(ConfigItem { key, value });
            if !self.is(P::RBrace) {
                self.expect(P::Semi)?;
            }
        }
        self.bump();
        Ok(Config {
            items,
            span: self.from(start),
        })
    }

    fn map_decl(&mut self) -> PResult<MapDecl> {
        let start = self.bump().span.start;
        let t = self.bump();
        let Tok::Map(m) = t.tok else {
            return Err(Diagnostic::error(
                t.span,
                "syntax error: only maps (@name) can be declared outside a probe",
            ));
        };
        let name = Name {
            name: m,
            span: t.span,
        };
        self.expect(P::Assign)?;
        let kind = self.name("map type (hash, lruhash, percpuhash, percpulruhash)")?;
        self.expect(P::LParen)?;
        let args = self.args(P::RParen)?;
        self.expect(P::Semi)?;
        Ok(MapDecl {
            name,
            kind,
            args,
            span: self.from(start),
        })
    }

    fn macro_def(&mut self) -> PResult<MacroDef> {
        let start = self.bump().span.start;
        let name = self.name("macro name")?;
        self.expect(P::LParen)?;
        let params = self.paren_items(|p| {
            let t = p.bump();
            Ok(match t.tok {
                Tok::Var(v) => MacroParam::Var(Name { name: v, span: t.span }),
                Tok::Map(m) => MacroParam::Map(Name { name: m, span: t.span }),
                Tok::Ident(i) => MacroParam::Expr(Name { name: i, span: t.span }),
                _ => {
                    return Err(Diagnostic::error(
                        t.span,
                        format!(
                            "syntax error, unexpected {}, expecting macro parameter ($var, @map or name)",
                            describe(&t.tok)
                        ),
                    ))
                }
            })
        })?;
        let body = self.block()?;
        Ok(MacroDef {
            name,
            params,
            body,
            span: self.from(start),
        })
    }

    fn fn_def(&mut self) -> PResult<FnDef> {
        let start = self.bump().span.start;
        let name = self.name("function name")?;
        self.expect(P::LParen)?;
        let params = self.paren_items(|p| {
            let t = p.bump();
            let Tok::Var(v) = t.tok else {
                return Err(Diagnostic::error(
                    t.span,
                    "syntax error, expecting $parameter",
                ));
            };
            p.expect(P::Colon)?;
            let ty = p.type_expr()?;
            Ok((
                Name {
                    name: v,
                    span: t.span,
                },
                ty,
            ))
        })?;
        self.expect(P::Colon)?;
        let ret = self.type_expr()?;
        let body = self.block()?;
        Ok(FnDef {
            name,
            params,
            ret,
            body,
            span: self.from(start),
        })
    }

    // ---- C definitions -------------------------------------------------------------------

    fn c_record(&mut self) -> PResult<CRecord> {
        self.nested(Self::c_record_inner)
    }

    fn c_record_inner(&mut self) -> PResult<CRecord> {
        let kw = self.bump();
        let start = kw.span.start;
        let kind = if kw.tok == Tok::Kw(Kw::Union) {
            RecordKind::Union
        } else {
            RecordKind::Struct
        };
        let name = match self.tok() {
            Tok::Ident(_) => Some(self.name("name")?),
            _ => None,
        };
        if !self.is(P::LBrace) {
            return Err(self.unexpected("{ (a struct definition)"));
        }
        self.bump();
        let mut fields = Vec::new();
        while !self.is(P::RBrace) {
            if self.eat(P::Semi) {
                continue;
            }
            if *self.tok() == Tok::Eof {
                return Err(self.unexpected("}"));
            }
            self.c_fields(&mut fields)?;
            if !self.is(P::RBrace) {
                self.expect(P::Semi)?;
            }
        }
        self.bump();
        let attributes = self.attributes()?;
        Ok(CRecord {
            kind,
            name,
            fields,
            attributes,
            span: self.from(start),
        })
    }

    /// `__attribute__((a, b(1)))` repeated; returns the inner texts.
    fn attributes(&mut self) -> PResult<Vec<String>> {
        let mut out = Vec::new();
        while *self.tok() == Tok::Ident("__attribute__".to_string()) {
            self.bump();
            let open = self.expect(P::LParen)?;
            let mut depth = 1;
            while depth > 0 {
                match self.tok() {
                    Tok::P(P::LParen) => depth += 1,
                    Tok::P(P::RParen) => depth -= 1,
                    Tok::Eof => return Err(self.unexpected(")")),
                    _ => {}
                }
                self.bump();
            }
            let text = self
                .src
                .get(open.end..self.prev_end.saturating_sub(1))
                .unwrap_or("")
                .trim();
            let text = text
                .strip_prefix('(')
                .and_then(|t| t.strip_suffix(')'))
                .unwrap_or(text);
            out.push(text.trim().to_string());
        }
        Ok(out)
    }

    /// One member declaration, possibly `int a, *b, c[4];`.
    fn c_fields(&mut self, out: &mut Vec<CField>) -> PResult<()> {
        let start = self.span().start;
        let base = match self.tok() {
            Tok::Kw(Kw::Struct) | Tok::Kw(Kw::Union)
                if matches!(self.peek(1), Tok::P(P::LBrace))
                    || matches!(self.peek(2), Tok::P(P::LBrace)) =>
            {
                let r = self.c_record()?;
                let span = r.span;
                TypeExpr {
                    kind: TypeKind::Record(Box::new(r)),
                    span,
                }
            }
            _ => self.base_type()?,
        };
        loop {
            let mut ty = base.clone();
            while self.is(P::Star) {
                self.bump();
                ty = TypeExpr {
                    kind: TypeKind::Pointer(Box::new(ty)),
                    span: self.from(start),
                };
            }
            let mut name = None;
            if self.is(P::LParen) && *self.peek(1) == Tok::P(P::Star) {
                // A function pointer: `ret (*name)(params)`.
                self.bump();
                self.bump();
                name = Some(self.name("member name")?);
                self.expect(P::RParen)?;
                self.expect(P::LParen)?;
                let mut depth = 1;
                while depth > 0 {
                    match self.tok() {
                        Tok::P(P::LParen) => depth += 1,
                        Tok::P(P::RParen) => depth -= 1,
                        Tok::Eof => return Err(self.unexpected(")")),
                        _ => {}
                    }
                    self.bump();
                }
                ty = TypeExpr {
                    kind: TypeKind::FnPointer,
                    span: self.from(start),
                };
            } else if matches!(self.tok(), Tok::Ident(_) | Tok::Kw(_)) {
                name = Some(self.name("member name")?);
            }
            let mut dims = Vec::new();
            while self.eat(P::LBracket) {
                let n = match self.tok() {
                    Tok::Int(v) => {
                        let v = *v;
                        self.bump();
                        Some(v)
                    }
                    _ => None,
                };
                self.expect(P::RBracket)?;
                dims.push(n);
            }
            for n in dims.into_iter().rev() {
                ty = TypeExpr {
                    kind: TypeKind::Array(Box::new(ty), n),
                    span: self.from(start),
                };
            }
            let bits = if self.eat(P::Colon) {
                match self.tok() {
                    Tok::Int(v) => {
                        let v = *v;
                        self.bump();
                        Some(v)
                    }
                    _ => return Err(self.unexpected("bit-field width")),
                }
            } else {
                None
            };
            if name.is_none() && !matches!(ty.kind, TypeKind::Record(_)) {
                return Err(self.unexpected("member name"));
            }
            out.push(CField {
                ty,
                name,
                bits,
                span: self.from(start),
            });
            if !self.eat(P::Comma) {
                return Ok(());
            }
        }
    }

    fn c_enum(&mut self) -> PResult<CEnum> {
        let start = self.bump().span.start;
        let name = match self.tok() {
            Tok::Ident(_) => Some(self.name("name")?),
            _ => None,
        };
        self.expect(P::LBrace)?;
        let mut variants = Vec::new();
        while !self.is(P::RBrace) {
            let n = self.name("enumerator")?;
            let v = if self.eat(P::Assign) {
                Some(self.expr()?)
            } else {
                None
            };
            variants.push((n, v));
            if !self.eat(P::Comma) && !self.is(P::RBrace) {
                return Err(self.unexpected(", or }"));
            }
        }
        self.bump();
        Ok(CEnum {
            name,
            variants,
            span: self.from(start),
        })
    }

    // ---- types ---------------------------------------------------------------------------

    /// A base type without pointer or array suffixes.
    fn base_type(&mut self) -> PResult<TypeExpr> {
        let start = self.span().start;
        let kind = match self.tok().clone() {
            Tok::Kw(k @ (Kw::Struct | Kw::Union | Kw::Enum)) => {
                self.bump();
                let n = self.name("type name")?.name;
                match k {
                    Kw::Struct => TypeKind::Struct(n),
                    Kw::Union => TypeKind::Union(n),
                    _ => TypeKind::Enum(n),
                }
            }
            Tok::Ident(w) if w == "typeof" => {
                self.bump();
                self.expect(P::LParen)?;
                let arg = self.type_or_expr()?;
                self.expect(P::RParen)?;
                TypeKind::TypeOf(Box::new(match arg {
                    TypeOrExpr::Type(t) => TypeOfArg::Type(t),
                    TypeOrExpr::Expr(e) => TypeOfArg::Expr(*e),
                }))
            }
            Tok::Ident(w) => {
                self.bump();
                if is_c_base_word(&w) {
                    let mut words: Vec<String> = vec![w];
                    while let Tok::Ident(n) = self.tok() {
                        if !is_c_base_word(n) {
                            break;
                        }
                        words.push(n.clone());
                        self.bump();
                    }
                    words.retain(|w| w != "const" && w != "volatile");
                    if words.is_empty() {
                        // `const struct x *` and `const my_t`.
                        return self.base_type();
                    }
                    TypeKind::Name(words.join(" "))
                } else {
                    TypeKind::Name(w)
                }
            }
            _ => return Err(self.unexpected("type")),
        };
        Ok(TypeExpr {
            kind,
            span: self.from(start),
        })
    }

    /// A full type: base, then `*`s and `[N]`/`[]` suffixes.
    fn type_expr(&mut self) -> PResult<TypeExpr> {
        self.nested(Self::type_expr_inner)
    }

    fn type_expr_inner(&mut self) -> PResult<TypeExpr> {
        let start = self.span().start;
        let mut ty = self.base_type()?;
        loop {
            if self.eat(P::Star) {
                ty = TypeExpr {
                    kind: TypeKind::Pointer(Box::new(ty)),
                    span: self.from(start),
                };
            } else if self.is(P::LBracket)
                && (matches!(self.peek(1), Tok::P(P::RBracket))
                    || matches!(self.peek(1), Tok::Int(_)) && *self.peek(2) == Tok::P(P::RBracket))
            {
                self.bump();
                let n = match self.tok() {
                    Tok::Int(v) => {
                        let v = *v;
                        self.bump();
                        Some(v)
                    }
                    _ => None,
                };
                self.expect(P::RBracket)?;
                ty = TypeExpr {
                    kind: TypeKind::Array(Box::new(ty), n),
                    span: self.from(start),
                };
            } else {
                return Ok(ty);
            }
        }
    }

    /// Whether the tokens from `self.pos + at` read as a type followed by `)`.
    fn looks_like_type(&self, at: usize) -> bool {
        match self.peek(at) {
            Tok::Kw(Kw::Struct | Kw::Union | Kw::Enum) => true,
            Tok::Ident(w) => {
                let mut i = at + 1;
                let mut words_ok = is_c_base_word(w);
                while let Tok::Ident(n) = self.peek(i) {
                    if !(words_ok && is_c_base_word(n)) {
                        return false;
                    }
                    words_ok = true;
                    i += 1;
                }
                let mut suffix = false;
                loop {
                    match self.peek(i) {
                        Tok::P(P::Star) => {
                            suffix = true;
                            i += 1;
                        }
                        Tok::P(P::LBracket) => {
                            if matches!(self.peek(i + 1), Tok::Int(_)) {
                                i += 1;
                            }
                            if *self.peek(i + 1) != Tok::P(P::RBracket) {
                                return false;
                            }
                            suffix = true;
                            i += 2;
                        }
                        _ => break,
                    }
                }
                *self.peek(i) == Tok::P(P::RParen) && (suffix || is_type_word(w) || i > at + 1)
            }
            _ => false,
        }
    }

    fn type_or_expr(&mut self) -> PResult<TypeOrExpr> {
        if self.looks_like_type(0) {
            Ok(TypeOrExpr::Type(self.type_expr()?))
        } else {
            Ok(TypeOrExpr::Expr(Box::new(self.expr()?)))
        }
    }

    // ---- statements ----------------------------------------------------------------------

    fn block(&mut self) -> PResult<Block> {
        self.nested(Self::block_inner)
    }

    fn block_inner(&mut self) -> PResult<Block> {
        let start = self.expect(P::LBrace)?.start;
        let mut stmts = Vec::new();
        let mut has_value = false;
        loop {
            if self.is(P::RBrace) {
                break;
            }
            if self.eat(P::Semi) {
                has_value = false;
                continue;
            }
            if *self.tok() == Tok::Eof {
                return Err(self.unexpected("}"));
            }
            let (stmt, needs_semi) = self.stmt()?;
            let is_expr = matches!(stmt.kind, StmtKind::Expr(_));
            stmts.push(stmt);
            has_value = false;
            if needs_semi {
                if self.eat(P::Semi) {
                    continue;
                }
                if self.is(P::RBrace) {
                    has_value = is_expr;
                    break;
                }
                return Err(self.unexpected("; or }"));
            }
        }
        self.bump();
        Ok(Block {
            stmts,
            has_value,
            span: self.from(start),
        })
    }

    /// One statement, and whether a `;` (or the block's `}`) must follow it.
    fn stmt(&mut self) -> PResult<(Stmt, bool)> {
        let start = self.span().start;
        let (kind, semi) = match self.tok().clone() {
            Tok::Kw(Kw::If) => (self.if_stmt()?, false),
            Tok::Kw(Kw::While) => {
                self.bump();
                let cond = self.expr()?;
                let body = self.block()?;
                (StmtKind::While { cond, body }, false)
            }
            Tok::Kw(Kw::Unroll) => {
                self.bump();
                self.expect(P::LParen)?;
                let count = self.expr()?;
                self.expect(P::RParen)?;
                let body = self.block()?;
                (StmtKind::Unroll { count, body }, false)
            }
            Tok::Kw(Kw::For) => (self.for_stmt()?, false),
            Tok::Kw(Kw::Let) => {
                self.bump();
                let var = self.var_name()?;
                let ty = if self.eat(P::Colon) {
                    Some(self.type_expr()?)
                } else {
                    None
                };
                let value = if self.eat(P::Assign) {
                    Some(self.expr()?)
                } else {
                    None
                };
                (StmtKind::Let { var, ty, value }, true)
            }
            Tok::Kw(Kw::Break) => {
                self.bump();
                (StmtKind::Break, true)
            }
            Tok::Kw(Kw::Continue) => {
                self.bump();
                (StmtKind::Continue, true)
            }
            Tok::Kw(Kw::Return) => {
                self.bump();
                let v = if self.is(P::Semi) || self.is(P::RBrace) {
                    None
                } else {
                    Some(self.expr()?)
                };
                (StmtKind::Return(v), true)
            }
            Tok::P(P::LBrace) => {
                let b = self.block()?;
                if self.is(P::Semi) || self.is(P::RBrace) {
                    (StmtKind::Block(b), false)
                } else {
                    return Err(self.unexpected("; or }"));
                }
            }
            _ => {
                let e = self.expr()?;
                if let Tok::P(p) = *self.tok() {
                    if let Some(op) = compound_op(p) {
                        let op_span = self.bump().span;
                        self.check_target(&e, op_span)?;
                        let value = self.expr()?;
                        return Ok((
                            Stmt {
                                kind: StmtKind::Assign {
                                    target: e,
                                    op,
                                    op_span,
                                    value,
                                },
                                span: self.from(start),
                            },
                            true,
                        ));
                    }
                }
                (StmtKind::Expr(e), true)
            }
        };
        Ok((
            Stmt {
                kind,
                span: self.from(start),
            },
            semi,
        ))
    }

    fn check_target(&self, e: &Expr, op_span: Span) -> PResult<()> {
        match &e.kind {
            ExprKind::Var(_) | ExprKind::Map { .. } => Ok(()),
            ExprKind::Ident(i) if i == "_" => Ok(()),
            ExprKind::TupleIndex(..) => Err(Diagnostic::error(
                e.span.to(op_span),
                "Tuples are immutable once created. Consider creating a new tuple and assigning it instead.",
            )),
            _ => Err(Diagnostic::error(
                e.span,
                "syntax error: only a $variable, a @map or _ can be assigned to",
            )),
        }
    }

    fn if_stmt(&mut self) -> PResult<StmtKind> {
        self.nested(Self::if_inner)
    }

    fn if_inner(&mut self) -> PResult<StmtKind> {
        self.bump();
        let cond = self.expr()?;
        if !self.is(P::LBrace) {
            return Err(self.unexpected("{"));
        }
        let then = self.block()?;
        let else_ = if self.is_kw(Kw::Else) {
            self.bump();
            if self.is_kw(Kw::If) {
                let start = self.span().start;
                let k = self.if_stmt()?;
                let span = self.from(start);
                Some(Block {
                    stmts: vec![Stmt { kind: k, span }],
                    has_value: false,
                    span,
                })
            } else {
                Some(self.block()?)
            }
        } else {
            None
        };
        Ok(StmtKind::If { cond, then, else_ })
    }

    fn for_stmt(&mut self) -> PResult<StmtKind> {
        self.bump();
        // bpftrace accepts `for $x : @m { … }` without the parentheses too.
        let paren = self.eat(P::LParen);
        let var = self.var_name()?;
        self.expect(P::Colon)?;
        let first = self.expr()?;
        let iter = if self.eat(P::DotDot) {
            ForIter::Range(first, self.expr()?)
        } else {
            ForIter::Map(first)
        };
        if paren {
            self.expect(P::RParen)?;
        }
        let body = self.block()?;
        Ok(StmtKind::For { var, iter, body })
    }

    // ---- expressions ---------------------------------------------------------------------

    fn expr(&mut self) -> PResult<Expr> {
        self.nested(Self::ternary)
    }

    fn ternary(&mut self) -> PResult<Expr> {
        let c = self.binary(1)?;
        if !self.is(P::Question) {
            return Ok(c);
        }
        self.bump();
        let a = self.expr()?;
        self.expect(P::Colon)?;
        let b = self.expr()?;
        let span = c.span.to(b.span);
        Ok(Expr {
            kind: ExprKind::Ternary(Box::new(c), Box::new(a), Box::new(b)),
            span,
        })
    }

    fn binary(&mut self, min: u8) -> PResult<Expr> {
        let mut lhs = self.unary()?;
        while let Tok::P(p) = *self.tok() {
            let Some((prec, op)) = binop(p) else { break };
            if prec < min {
                break;
            }
            // Inside a predicate, the `/` before the action block closes the predicate.
            if self.in_pred && p == P::Slash && matches!(self.peek(1), Tok::P(P::LBrace) | Tok::Eof)
            {
                break;
            }
            self.bump();
            let rhs = self.binary(prec + 1)?;
            let span = lhs.span.to(rhs.span);
            lhs = Expr {
                kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                span,
            };
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> PResult<Expr> {
        self.nested(Self::unary_inner)
    }

    fn unary_inner(&mut self) -> PResult<Expr> {
        let start = self.span().start;
        let op = match self.tok() {
            Tok::P(P::Minus) => Some(UnOp::Neg),
            Tok::P(P::Bang) => Some(UnOp::Not),
            Tok::P(P::Tilde) => Some(UnOp::BitNot),
            Tok::P(P::Star) => Some(UnOp::Deref),
            Tok::P(P::Amp) => Some(UnOp::AddrOf),
            _ => None,
        };
        if let Some(op) = op {
            self.bump();
            let e = self.unary()?;
            return Ok(Expr {
                kind: ExprKind::Unary(op, Box::new(e)),
                span: self.from(start),
            });
        }
        if self.is(P::Inc) || self.is(P::Dec) {
            let inc = self.is(P::Inc);
            let op_span = self.bump().span;
            let e = self.unary()?;
            self.check_incdec(&e, inc, op_span)?;
            return Ok(Expr {
                kind: ExprKind::IncDec {
                    inc,
                    prefix: true,
                    target: Box::new(e),
                },
                span: self.from(start),
            });
        }
        if self.is(P::LParen) && self.is_cast() {
            self.bump();
            let ty = self.type_expr()?;
            self.expect(P::RParen)?;
            let e = self.unary()?;
            return Ok(Expr {
                kind: ExprKind::Cast(ty, Box::new(e)),
                span: self.from(start),
            });
        }
        let p = self.primary()?;
        self.postfix(p)
    }

    /// At `(`: does a cast follow? A plain `(name)` is a cast when `name` is a type word or
    /// when an operand (not an operator) comes after the `)`.
    fn is_cast(&self) -> bool {
        if !self.looks_like_type(1) {
            return false;
        }
        let Tok::Ident(w) = self.peek(1) else {
            return true;
        };
        if is_type_word(w) || *self.peek(2) != Tok::P(P::RParen) {
            return true;
        }
        matches!(
            self.peek(3),
            Tok::Int(_)
                | Tok::Str(_)
                | Tok::Var(_)
                | Tok::Map(_)
                | Tok::Param(_)
                | Tok::Ident(_)
                | Tok::Kw(Kw::True | Kw::False | Kw::Sizeof | Kw::Offsetof)
                | Tok::P(P::LParen | P::Bang | P::Tilde)
        )
    }

    fn postfix(&mut self, mut e: Expr) -> PResult<Expr> {
        let start = e.span.start;
        loop {
            match self.tok().clone() {
                Tok::P(P::Dot) => {
                    self.bump();
                    if let Tok::Int(n) = *self.tok() {
                        let s = self.bump().span;
                        e = Expr {
                            kind: ExprKind::TupleIndex(Box::new(e), n, s),
                            span: self.from(start),
                        };
                    } else {
                        let field = self.name("field name")?;
                        e = Expr {
                            kind: ExprKind::Field {
                                base: Box::new(e),
                                field,
                                arrow: false,
                            },
                            span: self.from(start),
                        };
                    }
                }
                Tok::P(P::Arrow) => {
                    self.bump();
                    let field = self.name("field name")?;
                    e = Expr {
                        kind: ExprKind::Field {
                            base: Box::new(e),
                            field,
                            arrow: true,
                        },
                        span: self.from(start),
                    };
                }
                Tok::P(P::LBracket) => {
                    self.bump();
                    let i = self.expr()?;
                    self.expect(P::RBracket)?;
                    e = Expr {
                        kind: ExprKind::Index(Box::new(e), Box::new(i)),
                        span: self.from(start),
                    };
                }
                Tok::P(p @ (P::Inc | P::Dec)) => {
                    let op_span = self.bump().span;
                    self.check_incdec(&e, p == P::Inc, op_span)?;
                    e = Expr {
                        kind: ExprKind::IncDec {
                            inc: p == P::Inc,
                            prefix: false,
                            target: Box::new(e),
                        },
                        span: self.from(start),
                    };
                }
                _ => return Ok(e),
            }
        }
    }

    /// A `$variable` (taken), or an error at the token found instead.
    fn var_name(&mut self) -> PResult<Name> {
        let t = self.bump();
        let Tok::Var(v) = t.tok else {
            return Err(Diagnostic::error(
                t.span,
                format!(
                    "syntax error, unexpected {}, expecting $variable",
                    describe(&t.tok)
                ),
            ));
        };
        Ok(Name {
            name: v,
            span: t.span,
        })
    }

    /// Comma-separated `item`s up to and including the `)` (a trailing comma is fine).
    fn paren_items<T>(&mut self, mut item: impl FnMut(&mut Self) -> PResult<T>) -> PResult<Vec<T>> {
        let mut items = Vec::new();
        while !self.is(P::RParen) {
            items.push(item(self)?);
            if !self.eat(P::Comma) && !self.is(P::RParen) {
                return Err(self.unexpected(", or )"));
            }
        }
        self.bump();
        Ok(items)
    }

    fn args(&mut self, close: P) -> PResult<Vec<Expr>> {
        let mut args = Vec::new();
        if self.eat(close) {
            return Ok(args);
        }
        loop {
            args.push(self.expr()?);
            if self.eat(close) {
                return Ok(args);
            }
            if !self.eat(P::Comma) {
                return Err(self.unexpected(&format!(", or {}", close.as_str())));
            }
        }
    }

    /// `++`/`--` apply to variables and maps only.
    fn check_incdec(&self, target: &Expr, inc: bool, op_span: Span) -> PResult<()> {
        match target.kind {
            ExprKind::Var(_) | ExprKind::Map { .. } => Ok(()),
            _ => Err(Diagnostic::error(
                op_span,
                format!(
                    "The {} operator must be applied to a map or variable",
                    if inc { "++" } else { "--" }
                ),
            )),
        }
    }

    fn primary(&mut self) -> PResult<Expr> {
        let start = self.span().start;
        let t = self.tok().clone();
        let kind = match t {
            Tok::Int(v) => {
                self.bump();
                ExprKind::Int(v)
            }
            Tok::Str(s) => {
                self.bump();
                ExprKind::Str(s)
            }
            Tok::Kw(Kw::True) => {
                self.bump();
                ExprKind::Bool(true)
            }
            Tok::Kw(Kw::False) => {
                self.bump();
                ExprKind::Bool(false)
            }
            Tok::Var(v) => {
                self.bump();
                ExprKind::Var(v)
            }
            Tok::Param(n) => {
                self.bump();
                ExprKind::Param(n)
            }
            Tok::ParamCount => {
                self.bump();
                ExprKind::ParamCount
            }
            Tok::Map(name) => {
                let name_span = self.bump().span;
                let keys = if self.eat(P::LBracket) {
                    let k = self.args(P::RBracket)?;
                    if k.is_empty() {
                        return Err(Diagnostic::error(
                            self.from(start),
                            "syntax error: a map key is missing between [ and ]",
                        ));
                    }
                    k
                } else {
                    Vec::new()
                };
                ExprKind::Map {
                    name,
                    name_span,
                    keys,
                }
            }
            Tok::Ident(w) if w == "typeof" && *self.peek(1) == Tok::P(P::LParen) => {
                self.bump();
                self.bump();
                let arg = self.type_or_expr()?;
                self.expect(P::RParen)?;
                ExprKind::TypeOf(Box::new(match arg {
                    TypeOrExpr::Type(t) => TypeOfArg::Type(t),
                    TypeOrExpr::Expr(e) => TypeOfArg::Expr(*e),
                }))
            }
            Tok::Ident(w) => {
                let s = self.bump().span;
                if self.eat(P::LParen) {
                    let args = self.args(P::RParen)?;
                    ExprKind::Call {
                        name: Name { name: w, span: s },
                        args,
                    }
                } else {
                    ExprKind::Ident(w)
                }
            }
            Tok::Kw(Kw::Config) if *self.peek(1) == Tok::P(P::LParen) => {
                let s = self.bump().span;
                self.bump();
                let args = self.args(P::RParen)?;
                ExprKind::Call {
                    name: Name {
                        name: "config".to_string(),
                        span: s,
                    },
                    args,
                }
            }
            Tok::Kw(Kw::Sizeof) => {
                self.bump();
                self.expect(P::LParen)?;
                let a = self.type_or_expr()?;
                self.expect(P::RParen)?;
                ExprKind::Sizeof(a)
            }
            Tok::Kw(Kw::Offsetof) => {
                self.bump();
                self.expect(P::LParen)?;
                let a = if self.looks_like_type_then_comma() {
                    TypeOrExpr::Type(self.type_expr()?)
                } else {
                    TypeOrExpr::Expr(Box::new(self.expr()?))
                };
                self.expect(P::Comma)?;
                let mut fields = vec![self.name("field name")?];
                while self.eat(P::Dot) {
                    fields.push(self.name("field name")?);
                }
                self.expect(P::RParen)?;
                ExprKind::Offsetof(a, fields)
            }
            Tok::P(P::LParen) => {
                self.bump();
                self.paren_expr()?
            }
            Tok::P(P::LBrace) => ExprKind::Block(self.block()?),
            _ => return Err(self.unexpected("")),
        };
        Ok(Expr {
            kind,
            span: self.from(start),
        })
    }

    fn looks_like_type_then_comma(&self) -> bool {
        matches!(self.tok(), Tok::Kw(Kw::Struct | Kw::Union | Kw::Enum))
    }

    /// After `(`: a parenthesised expression, a tuple, or a record.
    fn paren_expr(&mut self) -> PResult<ExprKind> {
        if self.eat(P::RParen) {
            return Ok(ExprKind::Tuple(Vec::new()));
        }
        let is_record = matches!(self.tok(), Tok::Ident(_)) && *self.peek(1) == Tok::P(P::Assign);
        if is_record {
            let fields = self.paren_items(|p| {
                let n = p.name("record field name")?;
                p.expect(P::Assign)?;
                Ok((n, p.expr()?))
            })?;
            return Ok(ExprKind::Record(fields));
        }
        let first = self.expr()?;
        if self.eat(P::RParen) {
            // Keep the inner node; the parentheses only group (the span grows to cover them).
            return Ok(first.kind);
        }
        if !self.is(P::Comma) {
            return Err(self.unexpected(", or )"));
        }
        let mut items = vec![first];
        while self.eat(P::Comma) {
            if self.is(P::RParen) {
                break;
            }
            items.push(self.expr()?);
        }
        self.expect(P::RParen)?;
        Ok(ExprKind::Tuple(items))
    }
}
