//! Decoded views of BTF type records, as returned by [`Btf::type_by_id`](crate::Btf::type_by_id).

use std::fmt;

/// The kind of a BTF type (`BTF_KIND_*` of `linux/btf.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Kind {
    /// Type id 0, `void`.
    Void = 0,
    /// An integer.
    Int = 1,
    /// A pointer.
    Ptr = 2,
    /// An array.
    Array = 3,
    /// A struct.
    Struct = 4,
    /// A union.
    Union = 5,
    /// An enum of up to 32-bit values.
    Enum = 6,
    /// A forward declaration of a struct or union.
    Fwd = 7,
    /// A typedef.
    Typedef = 8,
    /// `volatile`.
    Volatile = 9,
    /// `const`.
    Const = 10,
    /// `restrict`.
    Restrict = 11,
    /// A function (its name and linkage; the signature is a [`Kind::FuncProto`]).
    Func = 12,
    /// A function signature.
    FuncProto = 13,
    /// A variable.
    Var = 14,
    /// A data section (`.data`, `.bss`, per-cpu…) listing its variables.
    Datasec = 15,
    /// A floating point type.
    Float = 16,
    /// A `btf_decl_tag` attribute on a declaration.
    DeclTag = 17,
    /// A `btf_type_tag` attribute on a pointee type.
    TypeTag = 18,
    /// An enum of up to 64-bit values.
    Enum64 = 19,
}

impl Kind {
    /// The kind with the numeric value `v`, if defined.
    pub fn from_u32(v: u32) -> Option<Kind> {
        Some(match v {
            0 => Kind::Void,
            1 => Kind::Int,
            2 => Kind::Ptr,
            3 => Kind::Array,
            4 => Kind::Struct,
            5 => Kind::Union,
            6 => Kind::Enum,
            7 => Kind::Fwd,
            8 => Kind::Typedef,
            9 => Kind::Volatile,
            10 => Kind::Const,
            11 => Kind::Restrict,
            12 => Kind::Func,
            13 => Kind::FuncProto,
            14 => Kind::Var,
            15 => Kind::Datasec,
            16 => Kind::Float,
            17 => Kind::DeclTag,
            18 => Kind::TypeTag,
            19 => Kind::Enum64,
            _ => return None,
        })
    }

    /// The upper-case name bpftool prints (`INT`, `FUNC_PROTO`, `UNKN` for void).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Void => "UNKN",
            Kind::Int => "INT",
            Kind::Ptr => "PTR",
            Kind::Array => "ARRAY",
            Kind::Struct => "STRUCT",
            Kind::Union => "UNION",
            Kind::Enum => "ENUM",
            Kind::Fwd => "FWD",
            Kind::Typedef => "TYPEDEF",
            Kind::Volatile => "VOLATILE",
            Kind::Const => "CONST",
            Kind::Restrict => "RESTRICT",
            Kind::Func => "FUNC",
            Kind::FuncProto => "FUNC_PROTO",
            Kind::Var => "VAR",
            Kind::Datasec => "DATASEC",
            Kind::Float => "FLOAT",
            Kind::DeclTag => "DECL_TAG",
            Kind::TypeTag => "TYPE_TAG",
            Kind::Enum64 => "ENUM64",
        }
    }

    /// Whether this kind only qualifies another type (const, volatile, restrict, type tag).
    pub fn is_modifier(self) -> bool {
        matches!(
            self,
            Kind::Const | Kind::Volatile | Kind::Restrict | Kind::TypeTag
        )
    }

    /// Struct or union.
    pub fn is_composite(self) -> bool {
        matches!(self, Kind::Struct | Kind::Union)
    }

    /// Enum or enum64.
    pub fn is_enum(self) -> bool {
        matches!(self, Kind::Enum | Kind::Enum64)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `BTF_INT_SIGNED`.
pub const INT_SIGNED: u8 = 1;
/// `BTF_INT_CHAR`.
pub const INT_CHAR: u8 = 2;
/// `BTF_INT_BOOL`.
pub const INT_BOOL: u8 = 4;

/// Integer encoding (`BTF_KIND_INT`'s extra word).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Int {
    /// Size in bytes.
    pub size: u32,
    /// `BTF_INT_*` flags ([`INT_SIGNED`], [`INT_CHAR`], [`INT_BOOL`]).
    pub encoding: u8,
    /// Bit offset of the value within its storage (normally 0).
    pub offset: u8,
    /// Number of value bits.
    pub bits: u8,
}

impl Int {
    /// Whether the integer is signed.
    pub fn is_signed(&self) -> bool {
        self.encoding & INT_SIGNED != 0
    }
}

/// Array description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Array {
    /// Element type id.
    pub elem_type: u32,
    /// Index type id.
    pub index_type: u32,
    /// Number of elements.
    pub nelems: u32,
}

/// One member of a struct or union.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member<'a> {
    /// Member name (`""` for an anonymous member).
    pub name: &'a str,
    /// Offset of the member's name in the string section.
    pub name_off: u32,
    /// Member type id.
    pub type_id: u32,
    /// Offset from the start of the struct, in bits.
    pub bit_offset: u32,
    /// Width of a bitfield in bits; 0 for an ordinary member.
    pub bitfield_size: u8,
}

/// One value of an enum (32 or 64-bit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnumValue<'a> {
    /// Enumerator name.
    pub name: &'a str,
    /// Offset of the name in the string section.
    pub name_off: u32,
    /// The value's bits; for signed enums, sign-extended from the record's width.
    pub value: u64,
}

/// An enum or enum64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enum<'a> {
    /// Size in bytes.
    pub size: u32,
    /// Whether values are signed (the kind flag).
    pub signed: bool,
    /// Whether the record is `ENUM64`.
    pub is64: bool,
    /// The enumerators in order.
    pub values: Vec<EnumValue<'a>>,
}

/// One parameter of a function prototype.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param<'a> {
    /// Parameter name (`""` when unnamed).
    pub name: &'a str,
    /// Offset of the name in the string section.
    pub name_off: u32,
    /// Parameter type id; 0 in the last position means `...` (variadic).
    pub type_id: u32,
}

/// A function prototype.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncProto<'a> {
    /// Return type id (0 for void).
    pub ret_type: u32,
    /// Parameters in order.
    pub params: Vec<Param<'a>>,
}

/// Linkage of a `FUNC` (`BTF_FUNC_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FuncLinkage {
    /// `static`.
    Static,
    /// Global.
    Global,
    /// `extern`.
    Extern,
    /// A value this crate does not know.
    Unknown(u16),
}

impl FuncLinkage {
    /// Decodes the vlen field of a FUNC.
    pub fn from_u16(v: u16) -> Self {
        match v {
            0 => FuncLinkage::Static,
            1 => FuncLinkage::Global,
            2 => FuncLinkage::Extern,
            v => FuncLinkage::Unknown(v),
        }
    }

    /// The numeric value.
    pub fn as_u16(self) -> u16 {
        match self {
            FuncLinkage::Static => 0,
            FuncLinkage::Global => 1,
            FuncLinkage::Extern => 2,
            FuncLinkage::Unknown(v) => v,
        }
    }
}

/// Linkage of a `VAR` (`BTF_VAR_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarLinkage {
    /// `static`.
    Static,
    /// Global, allocated in this object.
    Global,
    /// `extern`.
    Extern,
    /// A value this crate does not know.
    Unknown(u32),
}

impl VarLinkage {
    /// Decodes the linkage word of a VAR.
    pub fn from_u32(v: u32) -> Self {
        match v {
            0 => VarLinkage::Static,
            1 => VarLinkage::Global,
            2 => VarLinkage::Extern,
            v => VarLinkage::Unknown(v),
        }
    }

    /// The numeric value.
    pub fn as_u32(self) -> u32 {
        match self {
            VarLinkage::Static => 0,
            VarLinkage::Global => 1,
            VarLinkage::Extern => 2,
            VarLinkage::Unknown(v) => v,
        }
    }
}

/// One variable of a data section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VarSecinfo {
    /// The VAR (or FUNC, for `.ksyms`) type id.
    pub type_id: u32,
    /// Byte offset in the section.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
}

/// The kind-specific part of a type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Detail<'a> {
    /// `void` (id 0).
    Void,
    /// Integer.
    Int(Int),
    /// Pointer to `type_id`.
    Ptr {
        /// Pointee.
        type_id: u32,
    },
    /// Array.
    Array(Array),
    /// Struct or union members (see [`Type::kind`]).
    Composite {
        /// Size in bytes.
        size: u32,
        /// Members in order.
        members: Vec<Member<'a>>,
    },
    /// Enum or enum64.
    Enum(Enum<'a>),
    /// Forward declaration.
    Fwd {
        /// Whether it declares a union (else a struct).
        is_union: bool,
    },
    /// Typedef, const, volatile, restrict: refers to `type_id`.
    Ref {
        /// Referenced type.
        type_id: u32,
    },
    /// Type tag: `value` (the tag text is [`Type::name`]) applied to `type_id`.
    TypeTag {
        /// Tagged type.
        type_id: u32,
    },
    /// Function.
    Func {
        /// Its FUNC_PROTO.
        proto: u32,
        /// Linkage.
        linkage: FuncLinkage,
    },
    /// Function prototype.
    FuncProto(FuncProto<'a>),
    /// Variable.
    Var {
        /// Variable type.
        type_id: u32,
        /// Linkage.
        linkage: VarLinkage,
    },
    /// Data section.
    Datasec {
        /// Section size in bytes.
        size: u32,
        /// Variables.
        vars: Vec<VarSecinfo>,
    },
    /// Floating point of `size` bytes.
    Float {
        /// Size in bytes.
        size: u32,
    },
    /// Declaration tag on `type_id` (on one member/parameter when `component_idx >= 0`).
    DeclTag {
        /// Tagged type.
        type_id: u32,
        /// Member or parameter index, -1 for the type itself.
        component_idx: i32,
    },
}

/// A decoded type record. Names borrow from the [`Btf`](crate::Btf) it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Type<'a> {
    /// Type id.
    pub id: u32,
    /// Kind.
    pub kind: Kind,
    /// Name (`""` for anonymous types).
    pub name: &'a str,
    /// Offset of the name in the string section.
    pub name_off: u32,
    /// The raw kind flag bit.
    pub kind_flag: bool,
    /// The raw vlen field.
    pub vlen: u16,
    /// The raw `size`/`type` word.
    pub size_or_type: u32,
    /// Kind-specific data.
    pub detail: Detail<'a>,
}

impl<'a> Type<'a> {
    /// The type this one refers to directly (pointee, typedef target, element, var type, func proto…).
    pub fn referenced(&self) -> Option<u32> {
        match &self.detail {
            Detail::Ptr { type_id }
            | Detail::Ref { type_id }
            | Detail::TypeTag { type_id }
            | Detail::Var { type_id, .. }
            | Detail::DeclTag { type_id, .. } => Some(*type_id),
            Detail::Array(a) => Some(a.elem_type),
            Detail::Func { proto, .. } => Some(*proto),
            _ => None,
        }
    }

    /// Members of a struct or union (empty for other kinds).
    pub fn members(&self) -> &[Member<'a>] {
        match &self.detail {
            Detail::Composite { members, .. } => members,
            _ => &[],
        }
    }

    /// Size in bytes recorded in the type itself (int, struct, union, enum, float, datasec).
    pub fn size(&self) -> Option<u32> {
        match &self.detail {
            Detail::Int(i) => Some(i.size),
            Detail::Composite { size, .. }
            | Detail::Datasec { size, .. }
            | Detail::Float { size } => Some(*size),
            Detail::Enum(e) => Some(e.size),
            _ => None,
        }
    }
}
