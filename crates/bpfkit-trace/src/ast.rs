//! The syntax tree of a bpftrace script. Every node carries the [`Span`] of its text; names
//! are kept as written (builtins, functions and types are resolved by the checker, not here).

use crate::attach::AttachPoint;
use crate::diag::Span;

/// A whole script.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    /// `#include` lines, in order.
    pub includes: Vec<Include>,
    /// `#define` lines, in order.
    pub defines: Vec<Define>,
    /// C `struct`/`union`/`enum` definitions of the preamble.
    pub c_defs: Vec<CDef>,
    /// The `config = { … }` block.
    pub config: Option<Config>,
    /// `import "…";` lines.
    pub imports: Vec<Import>,
    /// `let @m = hash(N);` map declarations.
    pub map_decls: Vec<MapDecl>,
    /// `macro name(args) { … }` definitions.
    pub macros: Vec<MacroDef>,
    /// `fn name($a: type): type { … }` subprograms.
    pub functions: Vec<FnDef>,
    /// Probes, in script order.
    pub probes: Vec<Probe>,
    /// The whole text.
    pub span: Span,
}

/// `#include <path>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Include {
    /// The file named.
    pub path: String,
    /// The directive line.
    pub span: Span,
}

/// `#define NAME body`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Define {
    /// Macro name.
    pub name: String,
    /// Parameters of a function-like macro.
    pub params: Option<Vec<String>>,
    /// Replacement text.
    pub body: String,
    /// The directive line.
    pub span: Span,
}

/// An identifier with its span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    /// The text.
    pub name: String,
    /// Where.
    pub span: Span,
}

/// `config = { key = value; … }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The assignments, in order.
    pub items: Vec<ConfigItem>,
    /// The whole block.
    pub span: Span,
}

/// One `key = value` of a config block.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigItem {
    /// The variable.
    pub key: Name,
    /// Its value (an integer, string, `true`/`false` or a bare word like `perf`).
    pub value: Expr,
}

/// `import "name";`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    /// What is imported.
    pub name: String,
    /// The statement.
    pub span: Span,
}

/// `let @name = kind(max_entries);`.
#[derive(Clone, Debug, PartialEq)]
pub struct MapDecl {
    /// Map name without `@` (empty for `@`).
    pub name: Name,
    /// `hash`, `lruhash`, `percpuhash`, `percpulruhash`, …
    pub kind: Name,
    /// The arguments (usually one: max entries).
    pub args: Vec<Expr>,
    /// The statement.
    pub span: Span,
}

/// How a macro parameter is passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MacroParam {
    /// `$x`: a scratch variable of the caller.
    Var(Name),
    /// `@x`: a map of the caller.
    Map(Name),
    /// `x`: an expression inserted where `x` is used.
    Expr(Name),
}

/// `macro name(params) { body }`.
#[derive(Clone, Debug, PartialEq)]
pub struct MacroDef {
    /// The macro's name.
    pub name: Name,
    /// Its parameters.
    pub params: Vec<MacroParam>,
    /// Its body; its value is the last expression when `value` is set.
    pub body: Block,
    /// The definition.
    pub span: Span,
}

/// `fn name($a: type, …): type { body }`.
#[derive(Clone, Debug, PartialEq)]
pub struct FnDef {
    /// The function's name.
    pub name: Name,
    /// Parameters with their types.
    pub params: Vec<(Name, TypeExpr)>,
    /// Return type.
    pub ret: TypeExpr,
    /// Body.
    pub body: Block,
    /// The definition.
    pub span: Span,
}

/// `struct` or `union`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// `struct`
    Struct,
    /// `union`
    Union,
}

/// A C definition in the preamble.
#[derive(Clone, Debug, PartialEq)]
pub enum CDef {
    /// `struct X { … }` / `union X { … }`.
    Record(CRecord),
    /// `enum X { A = 1, B }`.
    Enum(CEnum),
    /// `typedef TYPE NAME;` (the field's name is the new type name).
    Typedef(CField),
}

/// A struct or union definition.
#[derive(Clone, Debug, PartialEq)]
pub struct CRecord {
    /// `struct` or `union`.
    pub kind: RecordKind,
    /// Tag, absent for an anonymous record.
    pub name: Option<Name>,
    /// Members in order.
    pub fields: Vec<CField>,
    /// `__attribute__((…))` contents, e.g. `packed`, `aligned(1)`.
    pub attributes: Vec<String>,
    /// The definition.
    pub span: Span,
}

/// One member of a struct or union.
#[derive(Clone, Debug, PartialEq)]
pub struct CField {
    /// Its type (arrays and pointers included).
    pub ty: TypeExpr,
    /// Its name (absent for an anonymous nested record).
    pub name: Option<Name>,
    /// Bit-field width.
    pub bits: Option<u64>,
    /// The declaration.
    pub span: Span,
}

/// An enum definition.
#[derive(Clone, Debug, PartialEq)]
pub struct CEnum {
    /// Tag, absent for `enum { … }`.
    pub name: Option<Name>,
    /// Enumerators and their explicit values.
    pub variants: Vec<(Name, Option<Expr>)>,
    /// The definition.
    pub span: Span,
}

/// A type as written in a cast, `let`, `sizeof`, struct member or signature.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeExpr {
    /// What type.
    pub kind: TypeKind,
    /// Where.
    pub span: Span,
}

/// The forms a written type takes.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeKind {
    /// A named type: `uint32`, `bool`, `string`, `uint64_t`, `unsigned long`, `void`, a typedef.
    Name(String),
    /// `struct X`.
    Struct(String),
    /// `union X`.
    Union(String),
    /// `enum X`.
    Enum(String),
    /// A record defined in place (`struct { int m; } y;`).
    Record(Box<CRecord>),
    /// `T *`.
    Pointer(Box<TypeExpr>),
    /// `T[N]`, or `T[]` with the length left to the checker.
    Array(Box<TypeExpr>, Option<u64>),
    /// `typeof(expr)` or `typeof(type)`.
    TypeOf(Box<TypeOfArg>),
    /// A C function pointer member `ret (*name)(…)`.
    FnPointer,
}

/// The argument of `typeof`.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeOfArg {
    /// `typeof(struct Foo)`.
    Type(TypeExpr),
    /// `typeof($x)`.
    Expr(Expr),
}

/// One probe: attach points, optional predicate, body.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    /// The comma separated attach points.
    pub attach_points: Vec<AttachPoint>,
    /// `/ expr /`.
    pub predicate: Option<Expr>,
    /// The action block.
    pub body: Block,
    /// From the first attach point to the closing brace.
    pub span: Span,
}

/// `{ statements }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// The statements.
    pub stmts: Vec<Stmt>,
    /// The last statement is an expression without a trailing `;`: the block's value when the
    /// block is used as an expression.
    pub has_value: bool,
    /// Braces included.
    pub span: Span,
}

/// A statement.
#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    /// What statement.
    pub kind: StmtKind,
    /// Where.
    pub span: Span,
}

/// The statements of the language.
#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// An expression for its effect (`printf(…)`, `@x++`, `join(…)`).
    Expr(Expr),
    /// `target = value` or `target OP= value`; `target` is a variable, map, or `_`.
    Assign {
        /// `$x`, `@m[k]`, `_` (discard), or something the checker rejects.
        target: Expr,
        /// The operator of a compound assignment (`+` for `+=`).
        op: Option<BinOp>,
        /// The `=` / `OP=` token.
        op_span: Span,
        /// The right-hand side.
        value: Expr,
    },
    /// `let $x [: type] [= value]`.
    Let {
        /// The variable, without `$`.
        var: Name,
        /// Declared type.
        ty: Option<TypeExpr>,
        /// Initializer.
        value: Option<Expr>,
    },
    /// `if (cond) { … } else …`; an `else if` is an `If` inside `else_`.
    If {
        /// Condition.
        cond: Expr,
        /// Taken branch.
        then: Block,
        /// The other branch.
        else_: Option<Block>,
    },
    /// `unroll(N) { … }`.
    Unroll {
        /// Repetitions (a constant or positional parameter).
        count: Expr,
        /// Body.
        body: Block,
    },
    /// `while (cond) { … }`.
    While {
        /// Condition.
        cond: Expr,
        /// Body.
        body: Block,
    },
    /// `for ($x : @map)` or `for ($i : a..b)`.
    For {
        /// The loop variable, without `$`.
        var: Name,
        /// What is iterated.
        iter: ForIter,
        /// Body.
        body: Block,
    },
    /// `break`.
    Break,
    /// `continue`.
    Continue,
    /// `return [expr]`.
    Return(Option<Expr>),
    /// A nested `{ … }` used as a statement.
    Block(Block),
}

/// The domain of a `for` loop.
#[derive(Clone, Debug, PartialEq)]
pub enum ForIter {
    /// Each `(key, value)` of a map.
    Map(Expr),
    /// `start..end`, end excluded.
    Range(Expr, Expr),
}

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What expression.
    pub kind: ExprKind,
    /// Where.
    pub span: Span,
}

/// Prefix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    /// `-x`
    Neg,
    /// `!x`
    Not,
    /// `~x`
    BitNot,
    /// `*p`
    Deref,
    /// `&x`
    AddrOf,
}

impl UnOp {
    /// The operator's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            UnOp::Neg => "-",
            UnOp::Not => "!",
            UnOp::BitNot => "~",
            UnOp::Deref => "*",
            UnOp::AddrOf => "&",
        }
    }
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinOp {
    /// The operator's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "&&",
            BinOp::Or => "||",
        }
    }
}

/// `sizeof(type)` or `sizeof(expr)`, also the first argument of `offsetof`.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeOrExpr {
    /// A type.
    Type(TypeExpr),
    /// An expression.
    Expr(Box<Expr>),
}

/// The expressions of the language.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// An integer literal (negative numbers are `Neg` of a literal).
    Int(u64),
    /// `true` / `false`.
    Bool(bool),
    /// A string literal, escapes decoded.
    Str(Vec<u8>),
    /// A bare identifier: a builtin (`pid`, `comm`), enum constant, stack mode, a macro
    /// without arguments, `_` on the left of `=`.
    Ident(String),
    /// `$name`.
    Var(String),
    /// `@name` or `@name[k1, k2]` (empty `keys` for a map without key).
    Map {
        /// Name without `@` (empty for `@`).
        name: String,
        /// Span of `@name`.
        name_span: Span,
        /// The keys inside `[]`.
        keys: Vec<Expr>,
    },
    /// `$1`, `$2`, …
    Param(u32),
    /// `$#`.
    ParamCount,
    /// A prefix operator.
    Unary(UnOp, Box<Expr>),
    /// `++x`, `x++`, `--x`, `x--`.
    IncDec {
        /// `++` (true) or `--`.
        inc: bool,
        /// Before the operand.
        prefix: bool,
        /// The variable or map.
        target: Box<Expr>,
    },
    /// `a OP b`.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `c ? a : b`.
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `(type) expr`.
    Cast(TypeExpr, Box<Expr>),
    /// `e.field` or `e->field`.
    Field {
        /// The struct, pointer or record.
        base: Box<Expr>,
        /// Member name.
        field: Name,
        /// Written with `->`.
        arrow: bool,
    },
    /// `e.0`: a tuple element.
    TupleIndex(Box<Expr>, u64, Span),
    /// `e[i]`: an array, pointer or tuple element.
    Index(Box<Expr>, Box<Expr>),
    /// `name(args)`.
    Call {
        /// Function name.
        name: Name,
        /// Arguments.
        args: Vec<Expr>,
    },
    /// `sizeof(type or expr)`.
    Sizeof(TypeOrExpr),
    /// `offsetof(struct X, a.b)` or `offsetof(expr, a)`.
    Offsetof(TypeOrExpr, Vec<Name>),
    /// `typeof(…)` used as a value (an argument to `container_of` and friends).
    TypeOf(Box<TypeOfArg>),
    /// `(a, b, …)`, `(a,)`, `()`.
    Tuple(Vec<Expr>),
    /// `(a=1, b=2)`.
    Record(Vec<(Name, Expr)>),
    /// `{ stmts; value }`.
    Block(Block),
}
