//! How values sit in map keys, map values and events, shared by the code generator (which
//! writes them) and the runtime (which reads them back): integers take 8 bytes, strings
//! their full buffer, tuples their elements one after another, each rounded up to 8 bytes;
//! arrays their elements packed in C layout (see [`elem_size`]), the whole rounded up to 8.

use crate::types::Type;

/// Event kinds, the first u64 of every ring buffer record.
pub mod event {
    /// `printf`: then the format id and the packed arguments.
    pub const PRINTF: u64 = 1;
    /// `exit()`.
    pub const EXIT: u64 = 2;
    /// `print(@m)`: then the map index.
    pub const PRINT: u64 = 3;
    /// `clear(@m)`.
    pub const CLEAR: u64 = 4;
    /// `zero(@m)`.
    pub const ZERO: u64 = 5;
    /// `join()` as a statement: then an unused word and the string.
    pub const JOIN: u64 = 6;
    /// `time(fmt)`: then the format id.
    pub const TIME: u64 = 7;
    /// `print(value)`: then the format id (its one argument's type) and the value.
    pub const PRINT_VALUE: u64 = 8;
    /// `system(fmt, …)` (with `--unsafe`): then the format id and its arguments.
    pub const SYSTEM: u64 = 9;
    /// `cat(fmt, …)`: then the format id and its arguments.
    pub const CAT: u64 = 10;
}

/// Rounds up to a multiple of 8.
pub fn pad8(n: u32) -> u32 {
    n.div_ceil(8) * 8
}

/// Bytes a value of `t` takes in keys, values and events.
pub fn size_of(t: &Type) -> u32 {
    match t {
        Type::Str(n) | Type::Buffer(n) => pad8((*n).min(1 << 16) as u32),
        Type::Tuple(ts) => ts.iter().map(size_of).sum(),
        Type::Named(fs) => fs.iter().map(|(_, t)| size_of(t)).sum(),
        Type::Array(e, n) => pad8(
            elem_size(e)
                .saturating_mul(u32::try_from(*n).unwrap_or(u32::MAX))
                .min(1 << 20),
        ),
        Type::None => 0,
        Type::Inet => super::strfuncs::INET_SIZE,
        Type::Timestamp => super::strfuncs::TIMESTAMP_SIZE,
        Type::Symbol => super::kfuncs2::SYMBOL_SIZE,
        Type::CgroupPath => super::kfuncs2::CGROUP_PATH_SIZE,
        _ => 8,
    }
}

/// Bytes one element of an array of `t` takes: arrays keep their C layout (`int8[4]` is 4
/// bytes), so that a cast to an array reinterprets the bytes of its operand.
pub fn elem_size(t: &Type) -> u32 {
    match t {
        Type::Int { bits, .. } => u32::from(*bits / 8).max(1),
        Type::Bool => 1,
        Type::Enum(_) => 4,
        Type::Array(e, n) => elem_size(e)
            .saturating_mul(u32::try_from(*n).unwrap_or(u32::MAX))
            .min(1 << 20),
        other => size_of(other),
    }
}

/// True for values kept in memory (strings, tuples) rather than a register.
pub fn is_memory(t: &Type) -> bool {
    matches!(
        t,
        Type::Str(_)
            | Type::Buffer(_)
            | Type::Tuple(_)
            | Type::Named(_)
            | Type::Array(..)
            | Type::Symbol
            | Type::CgroupPath
    )
}
