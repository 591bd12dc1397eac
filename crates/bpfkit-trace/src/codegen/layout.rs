//! How values sit in map keys, map values and events, shared by the code generator (which
//! writes them) and the runtime (which reads them back): integers take 8 bytes, strings
//! their full buffer, tuples their elements one after another, each rounded up to 8 bytes.

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
        Type::None => 0,
        Type::Inet => super::strfuncs::INET_SIZE,
        Type::Timestamp => super::strfuncs::TIMESTAMP_SIZE,
        Type::Symbol => super::kfuncs2::SYMBOL_SIZE,
        Type::CgroupPath => super::kfuncs2::CGROUP_PATH_SIZE,
        _ => 8,
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
            | Type::Symbol
            | Type::CgroupPath
    )
}
