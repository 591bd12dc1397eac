//! The lexer: script text to tokens with byte spans.
//!
//! bpftrace's grammar is context sensitive in two places, both handled here so the parser sees
//! a plain token stream:
//! - an attach point (`uprobe:/bin/bash:readline`, `kprobe:vfs_*`, `i:1ms`) is one
//!   [`Tok::AttachPoint`] token, read raw wherever a probe may start (top level, outside any
//!   braces or parentheses, after `}` `;` `)` a directive or an attach point's `,`);
//! - preprocessor lines are handled as a small C preprocessor would: `#include` and `#define`
//!   become tokens (and object-like macros are expanded where used), `#if`/`#ifdef`/`#ifndef`/
//!   `#else`/`#elif`/`#endif` select text, `BPFTRACE_HAVE_BTF` is predefined on request.

use crate::diag::{Diagnostic, Span};
use std::collections::HashMap;
use std::fmt;

/// Keywords of the language (they may still be used as field names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kw {
    /// `if`
    If,
    /// `else`
    Else,
    /// `while`
    While,
    /// `for`
    For,
    /// `unroll`
    Unroll,
    /// `return`
    Return,
    /// `break`
    Break,
    /// `continue`
    Continue,
    /// `let`
    Let,
    /// `config`
    Config,
    /// `macro`
    Macro,
    /// `import`
    Import,
    /// `fn` (subprograms)
    Fn,
    /// `sizeof`
    Sizeof,
    /// `offsetof`
    Offsetof,
    /// `struct`
    Struct,
    /// `union`
    Union,
    /// `enum`
    Enum,
    /// `true`
    True,
    /// `false`
    False,
}

impl Kw {
    /// The keyword's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Kw::If => "if",
            Kw::Else => "else",
            Kw::While => "while",
            Kw::For => "for",
            Kw::Unroll => "unroll",
            Kw::Return => "return",
            Kw::Break => "break",
            Kw::Continue => "continue",
            Kw::Let => "let",
            Kw::Config => "config",
            Kw::Macro => "macro",
            Kw::Import => "import",
            Kw::Fn => "fn",
            Kw::Sizeof => "sizeof",
            Kw::Offsetof => "offsetof",
            Kw::Struct => "struct",
            Kw::Union => "union",
            Kw::Enum => "enum",
            Kw::True => "true",
            Kw::False => "false",
        }
    }

    fn from_word(w: &str) -> Option<Kw> {
        Some(match w {
            "if" => Kw::If,
            "else" => Kw::Else,
            "while" => Kw::While,
            "for" => Kw::For,
            "unroll" => Kw::Unroll,
            "return" => Kw::Return,
            "break" => Kw::Break,
            "continue" => Kw::Continue,
            "let" => Kw::Let,
            "config" => Kw::Config,
            "macro" => Kw::Macro,
            "import" => Kw::Import,
            "fn" => Kw::Fn,
            "sizeof" => Kw::Sizeof,
            "offsetof" => Kw::Offsetof,
            "struct" => Kw::Struct,
            "union" => Kw::Union,
            "enum" => Kw::Enum,
            "true" => Kw::True,
            "false" => Kw::False,
            _ => return None,
        })
    }
}

/// Punctuation and operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum P {
    LBrace,
    RBrace,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Semi,
    Comma,
    Colon,
    Question,
    Dot,
    DotDot,
    Ellipsis,
    Arrow,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Amp,
    Pipe,
    Caret,
    Tilde,
    Bang,
    Assign,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Shl,
    Shr,
    AndAnd,
    OrOr,
    Inc,
    Dec,
    PlusAssign,
    MinusAssign,
    StarAssign,
    SlashAssign,
    PercentAssign,
    AmpAssign,
    PipeAssign,
    CaretAssign,
    ShlAssign,
    ShrAssign,
}

impl P {
    /// The operator's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            P::LBrace => "{",
            P::RBrace => "}",
            P::LParen => "(",
            P::RParen => ")",
            P::LBracket => "[",
            P::RBracket => "]",
            P::Semi => ";",
            P::Comma => ",",
            P::Colon => ":",
            P::Question => "?",
            P::Dot => ".",
            P::DotDot => "..",
            P::Ellipsis => "...",
            P::Arrow => "->",
            P::Plus => "+",
            P::Minus => "-",
            P::Star => "*",
            P::Slash => "/",
            P::Percent => "%",
            P::Amp => "&",
            P::Pipe => "|",
            P::Caret => "^",
            P::Tilde => "~",
            P::Bang => "!",
            P::Assign => "=",
            P::Eq => "==",
            P::Ne => "!=",
            P::Lt => "<",
            P::Le => "<=",
            P::Gt => ">",
            P::Ge => ">=",
            P::Shl => "<<",
            P::Shr => ">>",
            P::AndAnd => "&&",
            P::OrOr => "||",
            P::Inc => "++",
            P::Dec => "--",
            P::PlusAssign => "+=",
            P::MinusAssign => "-=",
            P::StarAssign => "*=",
            P::SlashAssign => "/=",
            P::PercentAssign => "%=",
            P::AmpAssign => "&=",
            P::PipeAssign => "|=",
            P::CaretAssign => "^=",
            P::ShlAssign => "<<=",
            P::ShrAssign => ">>=",
        }
    }
}

/// Operators, longest first so that maximal munch is a linear scan.
const PUNCTS: &[(&str, P)] = &[
    ("<<=", P::ShlAssign),
    (">>=", P::ShrAssign),
    ("...", P::Ellipsis),
    ("..", P::DotDot),
    ("->", P::Arrow),
    ("==", P::Eq),
    ("!=", P::Ne),
    ("<=", P::Le),
    (">=", P::Ge),
    ("<<", P::Shl),
    (">>", P::Shr),
    ("&&", P::AndAnd),
    ("||", P::OrOr),
    ("++", P::Inc),
    ("--", P::Dec),
    ("+=", P::PlusAssign),
    ("-=", P::MinusAssign),
    ("*=", P::StarAssign),
    ("/=", P::SlashAssign),
    ("%=", P::PercentAssign),
    ("&=", P::AmpAssign),
    ("|=", P::PipeAssign),
    ("^=", P::CaretAssign),
    ("{", P::LBrace),
    ("}", P::RBrace),
    ("(", P::LParen),
    (")", P::RParen),
    ("[", P::LBracket),
    ("]", P::RBracket),
    (";", P::Semi),
    (",", P::Comma),
    (":", P::Colon),
    ("?", P::Question),
    (".", P::Dot),
    ("+", P::Plus),
    ("-", P::Minus),
    ("*", P::Star),
    ("/", P::Slash),
    ("%", P::Percent),
    ("&", P::Amp),
    ("|", P::Pipe),
    ("^", P::Caret),
    ("~", P::Tilde),
    ("!", P::Bang),
    ("=", P::Assign),
    ("<", P::Lt),
    (">", P::Gt),
];

/// A token's kind and payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    /// An identifier: builtins, function names, types, enum constants, field names.
    Ident(String),
    /// A scratch variable `$name` (without the `$`).
    Var(String),
    /// A map `@name` (without the `@`; empty for the bare `@`).
    Map(String),
    /// A positional parameter `$1`, `$2`, …
    Param(u32),
    /// `$#`, the number of positional parameters.
    ParamCount,
    /// An integer literal, suffixes and duration units applied (`1ms` is 1000000).
    Int(u64),
    /// A string literal, escapes decoded.
    Str(Vec<u8>),
    /// A keyword.
    Kw(Kw),
    /// An operator or punctuation.
    P(P),
    /// The raw text of one attach point, e.g. `uprobe:/bin/bash:readline`.
    AttachPoint(String),
    /// `#include <file>` or `#include "file"`: the text between the delimiters.
    Include(String),
    /// `#define NAME body`.
    Define {
        /// Macro name.
        name: String,
        /// Parameter list of a function-like macro.
        params: Option<Vec<String>>,
        /// Replacement text.
        body: String,
    },
    /// End of input.
    Eof,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "{s}"),
            Tok::Var(s) => write!(f, "${s}"),
            Tok::Map(s) => write!(f, "@{s}"),
            Tok::Param(n) => write!(f, "${n}"),
            Tok::ParamCount => write!(f, "$#"),
            Tok::Int(v) => write!(f, "{v}"),
            Tok::Str(s) => write!(f, "\"{}\"", escape_bytes(s)),
            Tok::Kw(k) => write!(f, "{}", k.as_str()),
            Tok::P(p) => write!(f, "{}", p.as_str()),
            Tok::AttachPoint(s) => write!(f, "{s}"),
            Tok::Include(s) => write!(f, "#include <{s}>"),
            Tok::Define { name, .. } => write!(f, "#define {name}"),
            Tok::Eof => write!(f, "end of file"),
        }
    }
}

/// Re-escapes bytes for display (`\n`, `\t`, `\"`, `\\`, `\xNN` for the rest).
pub fn escape_bytes(s: &[u8]) -> String {
    let mut out = String::new();
    for &b in s {
        match b {
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\r' => out.push_str("\\r"),
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// One token and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// What.
    pub tok: Tok,
    /// Where (for a macro expansion: the macro name's use).
    pub span: Span,
}

/// Knobs of the lexer.
#[derive(Clone, Debug, Default)]
pub struct LexOptions {
    /// Names predefined for `#ifdef` (bpftrace defines `BPFTRACE_HAVE_BTF` when BTF is there).
    pub defines: Vec<String>,
}

impl LexOptions {
    /// The options matching this project's target: BTF is always available.
    pub fn with_btf() -> LexOptions {
        LexOptions {
            defines: vec!["BPFTRACE_HAVE_BTF".to_string()],
        }
    }
}

/// What came before, to know whether an attach point may start here.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Prev {
    Start,
    ProbeBoundary,
    AttachComma,
    Attach,
    Other,
}

struct Cond {
    /// This branch's text is kept.
    active: bool,
    /// Some branch of this `#if` chain was already kept.
    taken: bool,
    /// The enclosing region was active.
    parent_active: bool,
}

struct Lexer<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    brace: i64,
    paren: i64,
    prev: Prev,
    in_pred: bool,
    /// Inside a top-level `typedef …;`, where a name after `}` is the new type's name.
    in_typedef: bool,
    /// `#define`d object-like macros: name → body.
    macros: HashMap<String, String>,
    defined: Vec<String>,
    conds: Vec<Cond>,
    out: Vec<Token>,
    diags: Vec<Diagnostic>,
    /// Nesting of macro expansion (stops self-referential macros).
    depth: u32,
}

/// Words that begin a preamble item, never an attach point.
const PREAMBLE_WORDS: &[&str] = &[
    "struct",
    "union",
    "enum",
    "config",
    "let",
    "macro",
    "import",
    "fn",
    "__attribute__",
    "typedef",
];

/// Providers whose attach points may contain `/` (paths of binaries and pins).
const PATH_PROVIDERS: &[&str] = &["uprobe", "uretprobe", "u", "ur", "usdt", "U", "iter", "it"];

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Lexes `src` into tokens (ending with [`Tok::Eof`]) and the diagnostics found on the way.
pub fn lex(src: &str, opts: &LexOptions) -> (Vec<Token>, Vec<Diagnostic>) {
    let mut lx = Lexer {
        src,
        b: src.as_bytes(),
        pos: 0,
        brace: 0,
        paren: 0,
        prev: Prev::Start,
        in_pred: false,
        in_typedef: false,
        macros: HashMap::new(),
        defined: opts.defines.clone(),
        conds: Vec::new(),
        out: Vec::new(),
        diags: Vec::new(),
        depth: 0,
    };
    lx.run();
    if !lx.conds.is_empty() {
        lx.diags.push(Diagnostic::error(
            Span::new(src.len(), src.len()),
            "unterminated #if/#ifdef/#ifndef: missing #endif",
        ));
    }
    let end = src.len();
    lx.out.push(Token {
        tok: Tok::Eof,
        span: Span::new(end, end),
    });
    (lx.out, lx.diags)
}

impl<'a> Lexer<'a> {
    fn peek(&self, ahead: usize) -> u8 {
        self.b.get(self.pos + ahead).copied().unwrap_or(0)
    }

    fn at_line_start(&self) -> bool {
        let mut i = self.pos;
        while i > 0 {
            match self.b[i - 1] {
                b' ' | b'\t' => i -= 1,
                b'\n' => return true,
                _ => return false,
            }
        }
        true
    }

    fn active(&self) -> bool {
        self.conds.last().is_none_or(|c| c.active)
    }

    fn push(&mut self, tok: Tok, start: usize) {
        let span = Span::new(start, self.pos);
        self.push_span(tok, span);
    }

    fn push_span(&mut self, tok: Tok, span: Span) {
        match &tok {
            Tok::Ident(w) if w == "typedef" && self.brace == 0 => self.in_typedef = true,
            Tok::P(P::Semi) if self.brace == 0 => self.in_typedef = false,
            _ => {}
        }
        self.prev = match &tok {
            Tok::P(P::RBrace) | Tok::P(P::Semi) | Tok::Include(_) | Tok::Define { .. }
                if self.brace == 0 && self.paren == 0 =>
            {
                Prev::ProbeBoundary
            }
            Tok::P(P::RParen) if self.brace == 0 && self.paren == 0 => Prev::ProbeBoundary,
            Tok::P(P::Comma) if self.prev == Prev::Attach => Prev::AttachComma,
            Tok::AttachPoint(_) => Prev::Attach,
            _ => Prev::Other,
        };
        self.out.push(Token { tok, span });
    }

    fn err(&mut self, start: usize, end: usize, msg: impl Into<String>) {
        self.diags
            .push(Diagnostic::error(Span::new(start, end), msg));
    }

    /// Skips whitespace and comments (an unterminated comment is reported and ends the input).
    fn skip_trivia(&mut self) {
        loop {
            let c = self.peek(0);
            if c == b' ' || c == b'\t' || c == b'\n' || c == b'\r' || c == 0x0b || c == 0x0c {
                self.pos += 1;
            } else if c == b'/' && self.peek(1) == b'/' {
                while self.pos < self.b.len() && self.b[self.pos] != b'\n' {
                    self.pos += 1;
                }
            } else if c == b'/' && self.peek(1) == b'*' {
                let start = self.pos;
                match self.src[self.pos + 2..].find("*/") {
                    Some(i) => self.pos += 2 + i + 2,
                    None => {
                        self.pos = self.b.len();
                        self.err(start, start + 2, "unterminated comment");
                    }
                }
            } else {
                return;
            }
        }
    }

    fn run(&mut self) {
        loop {
            self.skip_trivia();
            if self.pos >= self.b.len() {
                return;
            }
            let c = self.b[self.pos];
            if c == b'#' && self.at_line_start() {
                self.directive();
                continue;
            }
            if !self.active() {
                self.skip_line();
                continue;
            }
            self.token();
        }
    }

    fn skip_line(&mut self) {
        while self.pos < self.b.len() && self.b[self.pos] != b'\n' {
            self.pos += 1;
        }
    }

    /// Reads a directive line (with `\` continuations) and acts on it.
    fn directive(&mut self) {
        let start = self.pos;
        let mut text = String::new();
        loop {
            let line_start = self.pos;
            self.skip_line();
            let line = &self.src[line_start..self.pos];
            if let Some(stripped) = line.strip_suffix('\\') {
                text.push_str(stripped);
                text.push(' ');
                if self.pos < self.b.len() {
                    self.pos += 1;
                    continue;
                }
            } else {
                text.push_str(line);
            }
            break;
        }
        let end = self.pos;
        let body = text[1..].trim_start();
        if body.starts_with('!') && start == 0 {
            return; // shebang
        }
        let (word, rest) = split_word(body);
        let rest = strip_line_comment(rest).trim();
        let parent_active = self.active();
        match word {
            "ifdef" | "ifndef" => {
                let (name, _) = split_word(rest);
                let is_def = self.is_defined(name);
                let keep = parent_active && (is_def == (word == "ifdef"));
                self.conds.push(Cond {
                    active: keep,
                    taken: keep,
                    parent_active,
                });
            }
            "if" => {
                let keep = parent_active && self.eval_cond(rest, start, end);
                self.conds.push(Cond {
                    active: keep,
                    taken: keep,
                    parent_active,
                });
            }
            "elif" | "else" => {
                let val = word == "else" || self.eval_cond(rest, start, end);
                match self.conds.last_mut() {
                    Some(c) => {
                        let keep = c.parent_active && !c.taken && val;
                        c.active = keep;
                        c.taken |= keep;
                    }
                    None => self.err(start, end, format!("#{word} without #if")),
                }
            }
            "endif" => {
                if self.conds.pop().is_none() {
                    self.err(start, end, "#endif without #if");
                }
            }
            _ if !parent_active => {}
            "include" => {
                let name = rest
                    .trim_start_matches(['<', '"'])
                    .trim_end_matches(['>', '"'])
                    .to_string();
                if name.is_empty() {
                    self.err(start, end, "#include needs a file name");
                } else {
                    self.push_span(Tok::Include(name), Span::new(start, end));
                }
            }
            "define" => self.define(rest, start, end),
            "undef" => {
                let (name, _) = split_word(rest);
                self.macros.remove(name);
                self.defined.retain(|d| d != name);
            }
            "pragma" | "error" | "warning" | "line" | "" => {}
            other => self.err(
                start,
                end,
                format!("unknown preprocessor directive: #{other}"),
            ),
        }
    }

    fn is_defined(&self, name: &str) -> bool {
        self.macros.contains_key(name) || self.defined.iter().any(|d| d == name)
    }

    fn define(&mut self, rest: &str, start: usize, end: usize) {
        let name_len = rest.bytes().take_while(|&c| is_ident_char(c)).count();
        let name = &rest[..name_len];
        if name.is_empty() || !is_ident_start(rest.as_bytes()[0]) {
            self.err(start, end, "#define needs a macro name");
            return;
        }
        let after = &rest[name_len..];
        let (params, body) = if let Some(p) = after.strip_prefix('(') {
            match p.find(')') {
                Some(i) => (
                    Some(
                        p[..i]
                            .split(',')
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect(),
                    ),
                    p[i + 1..].trim().to_string(),
                ),
                None => {
                    self.err(start, end, "#define: unclosed parameter list");
                    return;
                }
            }
        } else {
            (None, after.trim().to_string())
        };
        if params.is_none() {
            self.macros.insert(name.to_string(), body.clone());
        } else {
            self.defined.push(name.to_string());
        }
        self.push_span(
            Tok::Define {
                name: name.to_string(),
                params,
                body,
            },
            Span::new(start, end),
        );
    }

    /// Evaluates a `#if` expression: integers, `defined(X)`, macro names, `!`, `&&`, `||`,
    /// comparisons and parentheses. Anything else is an error and counts as false.
    fn eval_cond(&mut self, text: &str, start: usize, end: usize) -> bool {
        let mut ev = CondEval {
            s: text.as_bytes(),
            i: 0,
            lx: self,
            ok: true,
        };
        let v = ev.or();
        ev.ws();
        let ok = ev.ok && ev.i >= ev.s.len();
        if !ok {
            self.err(start, end, "cannot evaluate this #if condition");
            return false;
        }
        v != 0
    }

    fn token(&mut self) {
        let start = self.pos;
        let c = self.b[self.pos];
        if is_ident_start(c) {
            if self.attach_allowed() {
                let wlen = self.b[start..]
                    .iter()
                    .take_while(|&&c| is_ident_char(c))
                    .count();
                let word = &self.src[start..start + wlen];
                if !PREAMBLE_WORDS.contains(&word) && !self.macros.contains_key(word) {
                    self.attach_point();
                    return;
                }
            }
            self.word();
            return;
        }
        if c.is_ascii_digit() {
            self.number();
            return;
        }
        match c {
            b'"' => self.string(),
            b'$' => self.dollar(),
            b'@' => {
                self.pos += 1;
                let n = self.take_ident();
                self.push(Tok::Map(n), start);
            }
            b'\'' => {
                let end = self.b[start + 1..]
                    .iter()
                    .position(|&c| c == b'\'' || c == b'\n')
                    .map_or(start + 1, |i| start + 2 + i);
                self.pos = end.min(self.b.len());
                self.err(
                    start,
                    self.pos,
                    "character literals are not supported: use the character's code (e.g. 65 for 'A')",
                );
            }
            _ => self.punct(),
        }
    }

    fn attach_allowed(&self) -> bool {
        self.brace == 0
            && self.paren == 0
            && !self.in_pred
            && !self.in_typedef
            && self.depth == 0
            && matches!(
                self.prev,
                Prev::Start | Prev::ProbeBoundary | Prev::AttachComma
            )
    }

    fn take_ident(&mut self) -> String {
        let start = self.pos;
        while self.pos < self.b.len() && is_ident_char(self.b[self.pos]) {
            self.pos += 1;
        }
        self.src[start..self.pos].to_string()
    }

    fn word(&mut self) {
        let start = self.pos;
        let w = self.take_ident();
        if self.depth < 16 {
            if let Some(body) = self.macros.get(&w).cloned() {
                self.expand(&body, Span::new(start, self.pos));
                return;
            }
        }
        match Kw::from_word(&w) {
            Some(k) => self.push(Tok::Kw(k), start),
            None => self.push(Tok::Ident(w), start),
        }
    }

    /// Lexes a macro body in place of its name; the tokens take the name's span.
    fn expand(&mut self, body: &str, span: Span) {
        let mut sub = Lexer {
            src: body,
            b: body.as_bytes(),
            pos: 0,
            brace: 1,
            paren: 0,
            prev: Prev::Other,
            in_pred: false,
            in_typedef: false,
            macros: self.macros.clone(),
            defined: Vec::new(),
            conds: Vec::new(),
            out: Vec::new(),
            diags: Vec::new(),
            depth: self.depth + 1,
        };
        sub.run();
        if !sub.diags.is_empty() {
            self.diags.push(Diagnostic::error(
                span,
                format!(
                    "cannot lex the expansion of macro '{}'",
                    &self.src[span.start..span.end]
                ),
            ));
        }
        for t in sub.out {
            self.track_depth(&t.tok);
            self.push_span(t.tok, span);
        }
    }

    fn track_depth(&mut self, t: &Tok) {
        match t {
            Tok::P(P::LBrace) => {
                self.brace += 1;
                self.in_pred = false;
            }
            Tok::P(P::RBrace) => self.brace -= 1,
            Tok::P(P::LParen) => self.paren += 1,
            Tok::P(P::RParen) => self.paren -= 1,
            _ => {}
        }
    }

    fn attach_point(&mut self) {
        let start = self.pos;
        let colon = self.b[start..]
            .iter()
            .take_while(|&&c| is_ident_char(c))
            .count();
        let provider = &self.src[start..start + colon];
        let slash_ok = PATH_PROVIDERS.contains(&provider);
        while self.pos < self.b.len() {
            let c = self.b[self.pos];
            match c {
                b' ' | b'\t' | b'\n' | b'\r' | b'{' | b'}' | b',' | b';' => break,
                b'/' if !slash_ok || matches!(self.peek(1), b'/' | b'*') => break,
                b'"' => {
                    self.pos += 1;
                    while self.pos < self.b.len() && self.b[self.pos] != b'"' {
                        if self.b[self.pos] == b'\\' {
                            self.pos += 1;
                        }
                        self.pos += 1;
                    }
                    self.pos = (self.pos + 1).min(self.b.len());
                }
                _ => self.pos += 1,
            }
        }
        // Never split a UTF-8 sequence: extend to the next character boundary.
        while !self.src.is_char_boundary(self.pos) {
            self.pos += 1;
        }
        let text = self.src[start..self.pos].to_string();
        self.push(Tok::AttachPoint(text), start);
        self.skip_trivia();
        if self.peek(0) == b'/' {
            self.in_pred = true;
        }
    }

    fn number(&mut self) {
        let start = self.pos;
        let b = self.b;
        let mut digits = String::new();
        let radix;
        if b[start] == b'0' && matches!(self.peek(1), b'x' | b'X') {
            radix = 16;
            self.pos += 2;
            while self.pos < b.len() && (b[self.pos].is_ascii_hexdigit() || b[self.pos] == b'_') {
                if b[self.pos] != b'_' {
                    digits.push(b[self.pos] as char);
                }
                self.pos += 1;
            }
        } else {
            while self.pos < b.len() && (b[self.pos].is_ascii_digit() || b[self.pos] == b'_') {
                if b[self.pos] != b'_' {
                    digits.push(b[self.pos] as char);
                }
                self.pos += 1;
            }
            radix = if digits.len() > 1 && digits.starts_with('0') {
                8
            } else {
                10
            };
        }
        let mut value = if digits.is_empty() {
            None
        } else {
            u64::from_str_radix(&digits, radix).ok()
        };
        // Scientific notation: integer mantissa and exponent only.
        if radix == 10 && matches!(self.peek(0), b'e' | b'E') && self.peek(1).is_ascii_digit() {
            self.pos += 1;
            let es = self.pos;
            while self.pos < b.len() && b[self.pos].is_ascii_digit() {
                self.pos += 1;
            }
            let exp: Option<u32> = self.src[es..self.pos].parse().ok();
            value = match (value, exp) {
                (Some(m), Some(e)) => 10u64.checked_pow(e).and_then(|p| m.checked_mul(p)),
                _ => None,
            };
        }
        let ss = self.pos;
        while self.pos < b.len() && is_ident_char(b[self.pos]) {
            self.pos += 1;
        }
        let suffix = &self.src[ss..self.pos];
        let mult: Option<u64> = match suffix {
            "" => Some(1),
            "ns" => Some(1),
            "us" => Some(1_000),
            "ms" => Some(1_000_000),
            "s" => Some(1_000_000_000),
            "m" => Some(60_000_000_000),
            "h" => Some(3_600_000_000_000),
            "d" => Some(86_400_000_000_000),
            s => {
                let l = s.to_ascii_lowercase();
                matches!(l.as_str(), "u" | "l" | "ul" | "lu" | "ll" | "ull" | "llu").then_some(1)
            }
        };
        let Some(mult) = mult else {
            self.err(
                start,
                self.pos,
                format!("invalid integer suffix '{suffix}'"),
            );
            self.push(Tok::Int(0), start);
            return;
        };
        match value.and_then(|v| v.checked_mul(mult)) {
            Some(v) => self.push(Tok::Int(v), start),
            None => {
                let msg = if digits.is_empty() {
                    "invalid integer literal".to_string()
                } else if radix == 8 && digits.bytes().any(|c| c > b'7') {
                    format!("invalid octal literal '{}'", &self.src[start..self.pos])
                } else {
                    format!(
                        "integer literal '{}' does not fit in 64 bits",
                        &self.src[start..self.pos]
                    )
                };
                self.err(start, self.pos, msg);
                self.push(Tok::Int(0), start);
            }
        }
    }

    fn string(&mut self) {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.b.get(self.pos) else {
                self.err(start, self.pos, "unterminated string");
                self.push(Tok::Str(out), start);
                return;
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    self.push(Tok::Str(out), start);
                    return;
                }
                b'\\' => {
                    let es = self.pos;
                    self.pos += 1;
                    let Some(&e) = self.b.get(self.pos) else {
                        continue;
                    };
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'a' => out.push(7),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'v' => out.push(11),
                        b'e' => out.push(27),
                        b'\\' => out.push(b'\\'),
                        b'"' => out.push(b'"'),
                        b'\'' => out.push(b'\''),
                        b'?' => out.push(b'?'),
                        b'\n' => {}
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            let mut n = 1;
                            while n < 3 && matches!(self.peek(0), b'0'..=b'7') {
                                v = v * 8 + u32::from(self.peek(0) - b'0');
                                self.pos += 1;
                                n += 1;
                            }
                            if v > 255 {
                                self.err(es, self.pos, "octal escape out of range");
                            }
                            out.push(v as u8);
                        }
                        b'x' => {
                            let hs = self.pos;
                            while self.pos - hs < 2 && self.peek(0).is_ascii_hexdigit() {
                                self.pos += 1;
                            }
                            match u8::from_str_radix(&self.src[hs..self.pos], 16) {
                                Ok(v) => out.push(v),
                                Err(_) => self.err(es, self.pos, "\\x needs hex digits"),
                            }
                        }
                        _ => {
                            while !self.src.is_char_boundary(self.pos) {
                                self.pos += 1;
                            }
                            let shown = &self.src[es..self.pos];
                            self.err(es, self.pos, format!("invalid escape character '{shown}'"));
                        }
                    }
                }
                _ => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn dollar(&mut self) {
        let start = self.pos;
        self.pos += 1;
        let c = self.peek(0);
        if c == b'#' {
            self.pos += 1;
            self.push(Tok::ParamCount, start);
        } else if c.is_ascii_digit() {
            while self.pos < self.b.len() && self.b[self.pos].is_ascii_digit() {
                self.pos += 1;
            }
            match self.src[start + 1..self.pos].parse::<u32>() {
                Ok(n) if n > 0 => self.push(Tok::Param(n), start),
                _ => {
                    self.err(
                        start,
                        self.pos,
                        format!(
                            "param {} is out of integer range [1, {}]",
                            &self.src[start..self.pos],
                            u32::MAX
                        ),
                    );
                    self.push(Tok::Param(0), start);
                }
            }
        } else if is_ident_start(c) {
            let n = self.take_ident();
            self.push(Tok::Var(n), start);
        } else {
            self.err(
                start,
                start + 1,
                "'$' must be followed by a variable name, a number or '#'",
            );
        }
    }

    fn punct(&mut self) {
        let start = self.pos;
        let rest = &self.b[start..];
        for &(s, p) in PUNCTS {
            if rest.starts_with(s.as_bytes()) {
                self.pos += s.len();
                let t = Tok::P(p);
                self.track_depth(&t);
                self.push(t, start);
                return;
            }
        }
        let ch = self.src[start..].chars().next().unwrap_or('\0');
        self.pos += ch.len_utf8().max(1);
        self.err(
            start,
            self.pos,
            format!("invalid character '{}'", ch.escape_default()),
        );
    }
}

fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let n = s.bytes().take_while(|&c| is_ident_char(c)).count();
    (&s[..n], &s[n..])
}

fn strip_line_comment(s: &str) -> &str {
    match s.find("//") {
        Some(i) => &s[..i],
        None => s,
    }
}

/// A recursive-descent evaluator for `#if` lines.
struct CondEval<'s, 'l, 'a> {
    s: &'s [u8],
    i: usize,
    lx: &'l Lexer<'a>,
    ok: bool,
}

impl CondEval<'_, '_, '_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, t: &str) -> bool {
        self.ws();
        if self.s[self.i..].starts_with(t.as_bytes()) {
            self.i += t.len();
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> i64 {
        let mut v = self.and();
        while self.eat("||") {
            let r = self.and();
            v = i64::from(v != 0 || r != 0);
        }
        v
    }

    fn and(&mut self) -> i64 {
        let mut v = self.cmp();
        while self.eat("&&") {
            let r = self.cmp();
            v = i64::from(v != 0 && r != 0);
        }
        v
    }

    fn cmp(&mut self) -> i64 {
        let l = self.unary();
        for op in ["==", "!=", ">=", "<=", ">", "<"] {
            if self.eat(op) {
                let r = self.unary();
                return i64::from(match op {
                    "==" => l == r,
                    "!=" => l != r,
                    ">=" => l >= r,
                    "<=" => l <= r,
                    ">" => l > r,
                    _ => l < r,
                });
            }
        }
        l
    }

    fn unary(&mut self) -> i64 {
        if self.eat("!") {
            return i64::from(self.unary() == 0);
        }
        if self.eat("(") {
            let v = self.or();
            if !self.eat(")") {
                self.ok = false;
            }
            return v;
        }
        self.ws();
        let st = self.i;
        while self.i < self.s.len() && is_ident_char(self.s[self.i]) {
            self.i += 1;
        }
        let w = std::str::from_utf8(&self.s[st..self.i]).unwrap_or("");
        if w.is_empty() {
            self.ok = false;
            return 0;
        }
        if w == "defined" {
            let paren = self.eat("(");
            self.ws();
            let ns = self.i;
            while self.i < self.s.len() && is_ident_char(self.s[self.i]) {
                self.i += 1;
            }
            let name = std::str::from_utf8(&self.s[ns..self.i]).unwrap_or("");
            if name.is_empty() || (paren && !self.eat(")")) {
                self.ok = false;
            }
            return i64::from(self.lx.is_defined(name));
        }
        if w.as_bytes()[0].is_ascii_digit() {
            let t = w.trim_end_matches(['u', 'U', 'l', 'L']);
            return t.parse().unwrap_or_else(|_| {
                self.ok = false;
                0
            });
        }
        self.lx
            .macros
            .get(w)
            .and_then(|b| b.trim().parse().ok())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        let (t, d) = lex(s, &LexOptions::with_btf());
        assert!(d.is_empty(), "{d:?}");
        t.into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn attach_points_and_predicate() {
        let t = toks("uprobe:/bin/bash:readline,k:vfs_* /pid == 1/ { @x[1] = 2 }");
        assert_eq!(t[0], Tok::AttachPoint("uprobe:/bin/bash:readline".into()));
        assert_eq!(t[1], Tok::P(P::Comma));
        assert_eq!(t[2], Tok::AttachPoint("k:vfs_*".into()));
        assert_eq!(t[3], Tok::P(P::Slash));
        assert_eq!(t[4], Tok::Ident("pid".into()));
    }

    #[test]
    fn numbers() {
        assert_eq!(
            toks("x { 1_000 0x1F 017 2e3 1ms 5s 123UL 1m }")[2..10],
            [
                Tok::Int(1000),
                Tok::Int(31),
                Tok::Int(15),
                Tok::Int(2000),
                Tok::Int(1_000_000),
                Tok::Int(5_000_000_000),
                Tok::Int(123),
                Tok::Int(60_000_000_000),
            ]
        );
        let (_, d) = lex("x { 08 1e-3 99999999999999999999 }", &LexOptions::default());
        assert_eq!(d.len(), 3, "{d:?}");
    }

    #[test]
    fn strings_vars_maps() {
        let t = toks("x { \"a\\n\\x41\\101\\\"\" $v $1 $# @ @m }");
        assert_eq!(t[2], Tok::Str(b"a\nAA\"".to_vec()));
        assert_eq!(
            t[3..8],
            [
                Tok::Var("v".into()),
                Tok::Param(1),
                Tok::ParamCount,
                Tok::Map(String::new()),
                Tok::Map("m".into())
            ]
        );
    }

    #[test]
    fn preprocessor() {
        let src = "#ifndef BPFTRACE_HAVE_BTF\nstruct a { int x; }\n#else\n#include <linux/x.h>\n#endif\n#define N 3\nBEGIN { print(N) }";
        let t = toks(src);
        assert_eq!(t[0], Tok::Include("linux/x.h".into()));
        assert!(matches!(t[1], Tok::Define { .. }));
        assert_eq!(t[2], Tok::AttachPoint("BEGIN".into()));
        assert!(t.contains(&Tok::Int(3)));
    }

    #[test]
    fn compound_operators() {
        let t = toks("x { $a <<= 1; $a >>= 2; $a->b; $a++; --$a; 0..3 }");
        for p in [
            P::ShlAssign,
            P::ShrAssign,
            P::Arrow,
            P::Inc,
            P::Dec,
            P::DotDot,
        ] {
            assert!(t.contains(&Tok::P(p)), "{p:?}");
        }
    }
}
