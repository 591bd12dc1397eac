//! The checker's types, the [`TypeSource`] through which kernel types arrive (BTF and
//! tracepoint formats in production, a table in tests), and the C layout of structs defined
//! in the script itself.

use crate::ast::{CDef, CRecord, RecordKind, TypeExpr, TypeKind};
use crate::attach::ProbeKind;
use crate::tracepoint::{ArrayLen, FieldType, TracepointFormat};
use std::collections::HashMap;
use std::fmt;

/// Aggregation kinds a map value can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum AggKind {
    Count,
    Sum,
    Avg,
    Min,
    Max,
    Stats,
    Hist,
    Lhist,
    Tseries,
}

impl AggKind {
    /// The function creating it.
    pub fn from_call(name: &str) -> Option<AggKind> {
        Some(match name {
            "count" => AggKind::Count,
            "sum" => AggKind::Sum,
            "avg" => AggKind::Avg,
            "min" => AggKind::Min,
            "max" => AggKind::Max,
            "stats" => AggKind::Stats,
            "hist" => AggKind::Hist,
            "lhist" => AggKind::Lhist,
            "tseries" => AggKind::Tseries,
            _ => return None,
        })
    }

    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            AggKind::Count => "count",
            AggKind::Sum => "sum",
            AggKind::Avg => "avg",
            AggKind::Min => "min",
            AggKind::Max => "max",
            AggKind::Stats => "stats",
            AggKind::Hist => "hist",
            AggKind::Lhist => "lhist",
            AggKind::Tseries => "tseries",
        }
    }
}

/// A value's type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// No value (a statement-like call such as `printf`).
    None,
    /// Not known here (no BTF for it): accepted everywhere, checked later.
    Unknown,
    /// `bool`.
    Bool,
    /// An integer.
    Int {
        /// 8, 16, 32 or 64.
        bits: u8,
        /// Signedness.
        signed: bool,
    },
    /// A string with room for `n` bytes.
    Str(u64),
    /// A `buf()` of up to `n` bytes.
    Buffer(u64),
    /// A pointer.
    Pointer(Box<Type>),
    /// A fixed-size array.
    Array(Box<Type>, u64),
    /// A struct or union, by name (`struct task_struct`).
    Record(String),
    /// A tuple.
    Tuple(Vec<Type>),
    /// A record literal `(a=1, b=2)`.
    Named(Vec<(String, Type)>),
    /// `kstack` / `ustack`.
    Stack {
        /// kstack (true) or ustack.
        kernel: bool,
    },
    /// A symbol resolved at print time (`ksym`, `usym`, `func`).
    Symbol,
    /// `username`: a uid in BPF, printed as the user's name.
    Username,
    /// `ntop()`.
    Inet,
    /// `strftime()`.
    Timestamp,
    /// `macaddr()`.
    MacAddr,
    /// `cgroup_path()`.
    CgroupPath,
    /// `strerror()`.
    Strerror,
    /// An enum value.
    Enum(String),
    /// An aggregation stored in a map.
    Agg(AggKind),
}

impl Type {
    /// `int64`.
    pub const I64: Type = Type::Int {
        bits: 64,
        signed: true,
    };
    /// `uint64`.
    pub const U64: Type = Type::Int {
        bits: 64,
        signed: false,
    };
    /// `uint32`.
    pub const U32: Type = Type::Int {
        bits: 32,
        signed: false,
    };

    /// Integers, bools, enums and pointers: what arithmetic and `%d` accept.
    pub fn is_integer_like(&self) -> bool {
        matches!(
            self,
            Type::Int { .. } | Type::Bool | Type::Enum(_) | Type::Pointer(_) | Type::Unknown
        )
    }

    /// Whether a value of `other` may be stored where `self` is (bpftrace's rule: same kind;
    /// integers of any width, strings and buffers of any length).
    pub fn compatible(&self, other: &Type) -> bool {
        use Type::*;
        match (self, other) {
            (Unknown, _) | (_, Unknown) => true,
            (Int { .. } | Bool | Enum(_), Int { .. } | Bool | Enum(_)) => true,
            (Str(_), Str(_)) | (Buffer(_), Buffer(_)) => true,
            (Pointer(_), Pointer(_)) => true,
            (Array(a, n), Array(b, m)) => n == m && a.compatible(b),
            (Tuple(a), Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.compatible(y))
            }
            (Named(a), Named(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|(x, y)| x.0 == y.0 && x.1.compatible(&y.1))
            }
            (Stack { kernel: a }, Stack { kernel: b }) => a == b,
            (a, b) => a == b,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::None => write!(f, "none"),
            Type::Unknown => write!(f, "unknown"),
            Type::Bool => write!(f, "bool"),
            Type::Int { bits, signed } => write!(f, "{}int{bits}", if *signed { "" } else { "u" }),
            Type::Str(n) => write!(f, "string[{n}]"),
            Type::Buffer(n) => write!(f, "buffer[{n}]"),
            Type::Pointer(t) => write!(f, "{t} *"),
            Type::Array(t, n) => write!(f, "{t}[{n}]"),
            Type::Record(n) => write!(f, "{n}"),
            Type::Tuple(ts) => {
                write!(f, "(")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        write!(f, ",")?;
                    }
                    write!(f, "{t}")?;
                }
                write!(f, ")")
            }
            Type::Named(fs) => {
                write!(f, "(")?;
                for (i, (n, t)) in fs.iter().enumerate() {
                    if i > 0 {
                        write!(f, ",")?;
                    }
                    write!(f, "{n}={t}")?;
                }
                write!(f, ")")
            }
            Type::Stack { kernel } => write!(f, "{}", if *kernel { "kstack" } else { "ustack" }),
            Type::Symbol => write!(f, "symbol"),
            Type::Username => write!(f, "username"),
            Type::Inet => write!(f, "inet"),
            Type::Timestamp => write!(f, "timestamp"),
            Type::MacAddr => write!(f, "macaddr"),
            Type::CgroupPath => write!(f, "cgroup_path"),
            Type::Strerror => write!(f, "strerror"),
            Type::Enum(n) => write!(f, "enum {n}"),
            Type::Agg(a) => write!(f, "{}", a.name()),
        }
    }
}

/// One member of a struct or union.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDef {
    /// Member name.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// Byte offset.
    pub offset: u64,
    /// `(bit offset inside the byte at offset, width)` for bit-fields.
    pub bitfield: Option<(u8, u8)>,
}

/// A struct or union with its layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordDef {
    /// `struct X` / `union X`.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Members in order (members of anonymous nested records flattened in).
    pub fields: Vec<FieldDef>,
}

impl RecordDef {
    /// The member called `name`.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// Where kernel types come from. Every method answers `None` for "not known", which the
/// checker treats as [`Type::Unknown`] rather than as an error.
pub trait TypeSource {
    /// The format of `tracepoint:category:event`.
    fn tracepoint(&self, category: &str, event: &str) -> Option<TracepointFormat>;
    /// A struct or union by its full name (`struct task_struct`).
    fn record(&self, name: &str) -> Option<RecordDef>;
    /// A typedef or base type name (`size_t`, `pid_t`, `u32`).
    fn typedef(&self, name: &str) -> Option<Type>;
    /// An enumerator: its enum's name and value.
    fn enumerator(&self, name: &str) -> Option<(String, i64)>;
    /// The arguments of a function (fentry/fexit) or raw tracepoint.
    fn function_args(&self, kind: ProbeKind, function: &str) -> Option<Vec<(String, Type)>>;
    /// True when the source knows every name there is, so that a name it does not know is
    /// an error (false: unknown names may come from headers the script includes).
    fn is_complete(&self) -> bool {
        false
    }
}

/// A source that knows nothing (checks that need kernel types pass as unknown).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTypes;

impl TypeSource for NoTypes {
    fn tracepoint(&self, _: &str, _: &str) -> Option<TracepointFormat> {
        None
    }
    fn record(&self, _: &str) -> Option<RecordDef> {
        None
    }
    fn typedef(&self, _: &str) -> Option<Type> {
        None
    }
    fn enumerator(&self, _: &str) -> Option<(String, i64)> {
        None
    }
    fn function_args(&self, _: ProbeKind, _: &str) -> Option<Vec<(String, Type)>> {
        None
    }
}

/// An in-memory source, filled by hand (tests) or from parsed files.
#[derive(Clone, Debug, Default)]
pub struct TableTypes {
    /// `"category:event"` → format.
    pub tracepoints: HashMap<String, TracepointFormat>,
    /// Records by full name.
    pub records: HashMap<String, RecordDef>,
    /// Typedefs.
    pub typedefs: HashMap<String, Type>,
    /// Enumerators.
    pub enumerators: HashMap<String, (String, i64)>,
    /// Function arguments by function name.
    pub functions: HashMap<String, Vec<(String, Type)>>,
    /// Answer for [`TypeSource::is_complete`].
    pub complete: bool,
}

impl TypeSource for TableTypes {
    fn tracepoint(&self, category: &str, event: &str) -> Option<TracepointFormat> {
        self.tracepoints
            .get(&format!("{category}:{event}"))
            .cloned()
    }
    fn record(&self, name: &str) -> Option<RecordDef> {
        self.records.get(name).cloned()
    }
    fn typedef(&self, name: &str) -> Option<Type> {
        self.typedefs.get(name).cloned()
    }
    fn enumerator(&self, name: &str) -> Option<(String, i64)> {
        self.enumerators.get(name).cloned()
    }
    fn function_args(&self, _: ProbeKind, function: &str) -> Option<Vec<(String, Type)>> {
        self.functions.get(function).cloned()
    }
    fn is_complete(&self) -> bool {
        self.complete
    }
}

/// Kernel types from tracefs only: tracepoint formats, nothing else (records, typedefs and
/// enums stay unknown until a BTF-backed source is layered on top).
impl TypeSource for crate::tracepoint::Tracefs {
    fn tracepoint(&self, category: &str, event: &str) -> Option<TracepointFormat> {
        self.format(category, event)
    }
    fn record(&self, _: &str) -> Option<RecordDef> {
        None
    }
    fn typedef(&self, _: &str) -> Option<Type> {
        None
    }
    fn enumerator(&self, _: &str) -> Option<(String, i64)> {
        None
    }
    fn function_args(&self, _: ProbeKind, _: &str) -> Option<Vec<(String, Type)>> {
        None
    }
}

/// Constants that scripts take from C headers (`#include <linux/socket.h>`, `errno.h`,
/// `linux/sched.h`) rather than from BTF, where `#define`s do not appear. Values are the
/// Linux uapi ones.
pub fn header_constant(name: &str) -> Option<i64> {
    const TABLE: &[(&str, i64)] = &[
        ("AF_UNSPEC", 0),
        ("AF_UNIX", 1),
        ("AF_LOCAL", 1),
        ("AF_INET", 2),
        ("AF_INET6", 10),
        ("AF_NETLINK", 16),
        ("AF_PACKET", 17),
        ("TASK_RUNNING", 0),
        ("TASK_INTERRUPTIBLE", 1),
        ("TASK_UNINTERRUPTIBLE", 2),
        ("__TASK_STOPPED", 4),
        ("__TASK_TRACED", 8),
        ("EXIT_DEAD", 0x10),
        ("EXIT_ZOMBIE", 0x20),
        ("TASK_PARKED", 0x40),
        ("TASK_DEAD", 0x80),
        ("TASK_WAKEKILL", 0x100),
        ("TASK_WAKING", 0x200),
        ("TASK_NOLOAD", 0x400),
        ("TASK_NEW", 0x800),
        ("EPERM", 1),
        ("ENOENT", 2),
        ("ESRCH", 3),
        ("EINTR", 4),
        ("EIO", 5),
        ("ENXIO", 6),
        ("E2BIG", 7),
        ("ENOEXEC", 8),
        ("EBADF", 9),
        ("ECHILD", 10),
        ("EAGAIN", 11),
        ("ENOMEM", 12),
        ("EACCES", 13),
        ("EFAULT", 14),
        ("EBUSY", 16),
        ("EEXIST", 17),
        ("ENODEV", 19),
        ("ENOTDIR", 20),
        ("EISDIR", 21),
        ("EINVAL", 22),
        ("ENFILE", 23),
        ("EMFILE", 24),
        ("ENOSPC", 28),
        ("EPIPE", 32),
        ("ERANGE", 34),
        ("ENOSYS", 38),
        ("ENOTSUP", 95),
        ("EOPNOTSUPP", 95),
        ("ETIMEDOUT", 110),
        ("ECONNREFUSED", 111),
    ];
    TABLE.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// The built-in scalar type names of the language and common C spellings.
pub fn base_type(name: &str) -> Option<Type> {
    let int = |bits, signed| Some(Type::Int { bits, signed });
    match name {
        "bool" | "_Bool" => Some(Type::Bool),
        "int8" | "s8" | "__s8" | "int8_t" | "signed char" | "char" => int(8, true),
        "uint8" | "u8" | "__u8" | "uint8_t" | "unsigned char" => int(8, false),
        "int16" | "s16" | "__s16" | "int16_t" | "short" | "short int" | "signed short" => {
            int(16, true)
        }
        "uint16" | "u16" | "__u16" | "uint16_t" | "unsigned short" | "unsigned short int" => {
            int(16, false)
        }
        "int32" | "s32" | "__s32" | "int32_t" | "int" | "signed" | "signed int" | "pid_t" => {
            int(32, true)
        }
        "uint32" | "u32" | "__u32" | "uint32_t" | "unsigned" | "unsigned int" => int(32, false),
        "int64" | "s64" | "__s64" | "int64_t" | "long" | "long int" | "long long"
        | "long long int" | "signed long" | "ssize_t" => int(64, true),
        "uint64"
        | "u64"
        | "__u64"
        | "uint64_t"
        | "unsigned long"
        | "unsigned long int"
        | "unsigned long long"
        | "unsigned long long int"
        | "size_t"
        | "uintptr_t" => int(64, false),
        // BPF has no floating point: such members are only carried as raw bits.
        "float" => int(32, true),
        "double" | "long double" => int(64, true),
        "string" => Some(Type::Str(1024)),
        "void" => Some(Type::None),
        _ => None,
    }
}

/// Size in bytes of a type (0 when it has no storage of its own).
pub fn size_of(t: &Type, records: &dyn Fn(&str) -> Option<u64>) -> u64 {
    match t {
        Type::Bool => 1,
        Type::Int { bits, .. } => u64::from(*bits / 8),
        Type::Str(n) | Type::Buffer(n) => *n,
        Type::Pointer(_) | Type::Stack { .. } | Type::Symbol | Type::Timestamp | Type::Username => {
            8
        }
        Type::Array(e, n) => size_of(e, records).saturating_mul(*n),
        Type::Record(n) => records(n).unwrap_or(0),
        Type::Tuple(ts) => {
            layout_sizes(
                ts.iter()
                    .map(|t| (size_of(t, records), align_of(t, records))),
            )
            .0
        }
        Type::Named(fs) => {
            layout_sizes(
                fs.iter()
                    .map(|(_, t)| (size_of(t, records), align_of(t, records))),
            )
            .0
        }
        Type::Enum(_) => 4,
        Type::Inet => 24,
        Type::MacAddr => 6,
        Type::CgroupPath | Type::Strerror => 8,
        Type::Agg(_) | Type::None | Type::Unknown => 0,
    }
}

fn align_of(t: &Type, records: &dyn Fn(&str) -> Option<u64>) -> u64 {
    match t {
        Type::Array(e, _) => align_of(e, records),
        Type::Str(_) | Type::Buffer(_) | Type::MacAddr | Type::Bool => 1,
        Type::Tuple(ts) => ts.iter().map(|t| align_of(t, records)).max().unwrap_or(1),
        Type::Named(fs) => fs
            .iter()
            .map(|(_, t)| align_of(t, records))
            .max()
            .unwrap_or(1),
        // Only the size of a kernel record is at hand here: the largest power of two dividing
        // it (capped at 8) is the alignment its members can have.
        Type::Record(_) => {
            let size = size_of(t, records).max(1);
            (1u64 << size.trailing_zeros().min(3)).min(8)
        }
        _ => size_of(t, records).clamp(1, 8),
    }
}

/// C layout of a sequence of (size, align): total size and alignment.
fn layout_sizes(items: impl Iterator<Item = (u64, u64)>) -> (u64, u64) {
    let mut off = 0u64;
    let mut max_align = 1;
    for (size, align) in items {
        let align = align.max(1);
        max_align = max_align.max(align);
        off = off
            .div_ceil(align)
            .saturating_mul(align)
            .saturating_add(size);
    }
    (off.div_ceil(max_align).saturating_mul(max_align), max_align)
}

/// Struct and union definitions from the script, laid out as a C compiler would (natural
/// alignment, `packed`, bit-fields packed into their declared storage unit).
#[derive(Clone, Debug, Default)]
pub struct ScriptTypes {
    /// By full name (`struct Foo`).
    pub records: HashMap<String, RecordDef>,
    /// Alignment of each record.
    aligns: HashMap<String, u64>,
    /// Enumerators: name → (enum name, value).
    pub enumerators: HashMap<String, (String, i64)>,
    /// `typedef`s of the script.
    pub typedefs: HashMap<String, Type>,
    anon: usize,
}

impl ScriptTypes {
    /// Lays out the script's definitions; `kernel` resolves names the script does not define.
    pub fn build(
        defs: &[CDef],
        kernel: &dyn TypeSource,
    ) -> Result<ScriptTypes, (crate::diag::Span, String)> {
        let mut st = ScriptTypes::default();
        for d in defs {
            match d {
                CDef::Record(r) => {
                    st.add_record(r, kernel)?;
                }
                CDef::Typedef(f) => {
                    let ty = match &f.ty.kind {
                        TypeKind::Record(inner) => Type::Record(st.add_record(inner, kernel)?),
                        _ => st.resolve(&f.ty, kernel).ok_or_else(|| {
                            (
                                f.ty.span,
                                format!("unknown type '{}'", crate::dump::type_text(&f.ty)),
                            )
                        })?,
                    };
                    if let Some(n) = &f.name {
                        st.typedefs.insert(n.name.clone(), ty);
                    }
                }
                CDef::Enum(e) => {
                    let ename = e.name.as_ref().map_or_else(String::new, |n| n.name.clone());
                    let mut next = 0i64;
                    for (n, v) in &e.variants {
                        if let Some(v) = v {
                            next = crate::check::const_eval(v).ok_or((
                                v.span,
                                "enum value must be an integer constant".to_string(),
                            ))?;
                        }
                        st.enumerators.insert(n.name.clone(), (ename.clone(), next));
                        next = next.wrapping_add(1);
                    }
                }
            }
        }
        Ok(st)
    }

    fn size_align(&self, t: &Type, kernel: &dyn TypeSource) -> (u64, u64) {
        let lookup = |n: &str| {
            self.records
                .get(n)
                .map(|r| r.size)
                .or_else(|| kernel.record(n).map(|r| r.size))
        };
        let size = size_of(t, &lookup);
        let align = match t {
            Type::Record(n) => self
                .aligns
                .get(n)
                .copied()
                .unwrap_or_else(|| align_of(t, &lookup)),
            Type::Array(e, _) => self.size_align(e, kernel).1,
            _ => align_of(t, &lookup),
        };
        (size, align)
    }

    /// Resolves a written type with this script's records, then the kernel's.
    pub fn resolve(&self, t: &TypeExpr, kernel: &dyn TypeSource) -> Option<Type> {
        Some(match &t.kind {
            TypeKind::Name(n) => base_type(n)
                .or_else(|| self.typedefs.get(n).cloned())
                .or_else(|| kernel.typedef(n))?,
            TypeKind::Struct(n) => Type::Record(format!("struct {n}")),
            TypeKind::Union(n) => Type::Record(format!("union {n}")),
            TypeKind::Enum(n) => Type::Enum(n.clone()),
            TypeKind::Record(r) => {
                let kw = if r.kind == RecordKind::Union {
                    "union"
                } else {
                    "struct"
                };
                Type::Record(r.name.as_ref().map_or_else(
                    || format!("{kw} <anonymous>"),
                    |n| format!("{kw} {}", n.name),
                ))
            }
            TypeKind::Pointer(inner) => Type::Pointer(Box::new(
                self.resolve(inner, kernel).unwrap_or(Type::Unknown),
            )),
            TypeKind::Array(inner, n) => {
                Type::Array(Box::new(self.resolve(inner, kernel)?), n.unwrap_or(0))
            }
            TypeKind::TypeOf(_) => Type::Unknown,
            TypeKind::FnPointer => Type::Pointer(Box::new(Type::None)),
        })
    }

    fn add_record(
        &mut self,
        r: &CRecord,
        kernel: &dyn TypeSource,
    ) -> Result<String, (crate::diag::Span, String)> {
        let kw = if r.kind == RecordKind::Union {
            "union"
        } else {
            "struct"
        };
        let name = match &r.name {
            Some(n) => format!("{kw} {}", n.name),
            None => {
                self.anon += 1;
                format!("{kw} <anonymous {}>", self.anon)
            }
        };
        let packed = r.attributes.iter().any(|a| a.contains("packed"));
        let mut fields = Vec::new();
        let mut off = 0u64;
        let mut max_align = 1u64;
        let mut size = 0u64;
        // Bit-field state: current storage unit's byte offset, its size and bits used.
        let mut unit: Option<(u64, u64, u64)> = None;
        for f in &r.fields {
            let ty = if let TypeKind::Record(inner) = &f.ty.kind {
                Type::Record(self.add_record(inner, kernel)?)
            } else {
                self.resolve(&f.ty, kernel).ok_or_else(|| {
                    (
                        f.ty.span,
                        format!("unknown type '{}'", crate::dump::type_text(&f.ty)),
                    )
                })?
            };
            let (fsize, falign) = self.size_align(&ty, kernel);
            let falign = if packed { 1 } else { falign };
            max_align = max_align.max(falign);
            let mut bitfield = None;
            let field_off = if r.kind == RecordKind::Union {
                size = size.max(fsize);
                0
            } else if let Some(bits) = f.bits {
                let unit_bits = fsize.saturating_mul(8).max(1);
                let (uoff, used) = match unit {
                    Some((uo, us, used)) if us == fsize && used + bits <= unit_bits => (uo, used),
                    _ => {
                        let uo = off.div_ceil(falign) * falign;
                        off = uo + fsize;
                        (uo, 0)
                    }
                };
                unit = Some((uoff, fsize, used + bits));
                let abs_bit = uoff * 8 + used;
                bitfield = Some(((abs_bit % 8) as u8, bits.min(64) as u8));
                abs_bit / 8
            } else {
                unit = None;
                let o = off.div_ceil(falign) * falign;
                off = o + fsize;
                o
            };
            match (&f.name, &ty) {
                (None, Type::Record(inner)) => {
                    let inner_fields = self
                        .records
                        .get(inner)
                        .map(|r| r.fields.clone())
                        .unwrap_or_default();
                    for mut inf in inner_fields {
                        inf.offset += field_off;
                        fields.push(inf);
                    }
                }
                (Some(n), _) => fields.push(FieldDef {
                    name: n.name.clone(),
                    ty,
                    offset: field_off,
                    bitfield,
                }),
                (None, _) => {}
            }
        }
        let raw = if r.kind == RecordKind::Union {
            size
        } else {
            off
        };
        let total = raw.div_ceil(max_align) * max_align;
        self.aligns.insert(name.clone(), max_align);
        self.records.insert(
            name.clone(),
            RecordDef {
                name: name.clone(),
                size: total,
                fields,
            },
        );
        Ok(name)
    }
}

/// The type of a tracepoint field as `args.<field>` reads it.
pub fn tracepoint_field_type(
    ft: &FieldType,
    size: u32,
    signed: bool,
    kernel: &dyn TypeSource,
) -> Type {
    if ft.dynamic.is_some() {
        return Type::Str(1024);
    }
    let base = base_type(&ft.base)
        .or_else(|| kernel.typedef(&ft.base))
        .or_else(|| {
            ft.base
                .strip_prefix("struct ")
                .or_else(|| ft.base.strip_prefix("union "))
                .map(|_| Type::Record(ft.base.clone()))
        })
        .or_else(|| {
            ft.base
                .strip_prefix("enum ")
                .map(|e| Type::Enum(e.to_string()))
        })
        .unwrap_or(Type::Unknown);
    let mut t = base;
    for _ in 0..ft.pointer_depth {
        t = Type::Pointer(Box::new(t));
    }
    if let Some(len) = &ft.array {
        if ft.is_char_array() {
            return Type::Str(u64::from(size));
        }
        let n = match len {
            ArrayLen::Fixed(n) => *n,
            _ => 0,
        };
        return Type::Array(Box::new(t), n);
    }
    if let Type::Int { .. } = t {
        let bits = (size.min(8) * 8) as u8;
        if matches!(bits, 8 | 16 | 32 | 64) {
            return Type::Int { bits, signed };
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(src: &str) -> ScriptTypes {
        let p = crate::parse_program("stdin", src).unwrap();
        ScriptTypes::build(&p.c_defs, &NoTypes).unwrap()
    }

    #[test]
    fn c_layout_matches_the_c_compiler() {
        let st = layout("struct Foo { int x; char c; } struct P { int x; char y; int z; } __attribute__((packed)) struct A { int32_t a; int32_t b; char c[28] } struct B { struct { int m[1] } y; struct { int n } a; } struct bf { unsigned long long x_0:1; unsigned long long x_1:1; unsigned long long x_2:2; } union U { int i; char c[6]; } begin { }");
        let size = |n: &str| st.records[n].size;
        assert_eq!(size("struct Foo"), 8);
        assert_eq!(size("struct P"), 9);
        assert_eq!(size("struct A"), 36);
        assert_eq!(size("struct B"), 8);
        assert_eq!(size("struct bf"), 8);
        assert_eq!(size("union U"), 8);
        let bf = &st.records["struct bf"];
        assert_eq!(bf.field("x_2").unwrap().bitfield, Some((2, 2)));
        assert_eq!(st.records["struct Foo"].field("c").unwrap().offset, 4);
    }

    #[test]
    fn typedefs_resolve() {
        let st = layout("typedef unsigned int u_t; typedef struct { u_t a; char b; } pair_t; struct S { pair_t p; u_t q; } begin { }");
        assert_eq!(st.typedefs["u_t"], Type::U32);
        assert_eq!(st.records["struct S"].size, 12);
    }

    #[test]
    fn enums_count_up() {
        let st = layout("enum Foo { A, B = 5, C, }; begin { }");
        assert_eq!(st.enumerators["C"], ("Foo".to_string(), 6));
    }
}
