//! The one error type of this crate.

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while reading, writing, dumping or relocating BTF.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is not BTF (or BTF.ext) at all.
    #[error("bad {what} magic {found:#06x} (expected 0xeb9f): not BTF data, or a corrupted file")]
    BadMagic {
        /// `"BTF"` or `"BTF.ext"`.
        what: &'static str,
        /// The first two bytes as read.
        found: u16,
    },
    /// The header is inconsistent (unsupported version, sections outside the data, overlap…).
    #[error("malformed {what} header: {detail}")]
    BadHeader {
        /// `"BTF"` or `"BTF.ext"`.
        what: &'static str,
        /// Which field is wrong, and how.
        detail: String,
    },
    /// Input ended before a record did.
    #[error("truncated {what} at byte {offset}: needs {needed} more bytes")]
    Truncated {
        /// The record being read.
        what: &'static str,
        /// Byte offset of the record within its section.
        offset: usize,
        /// Bytes missing.
        needed: usize,
    },
    /// A type record is unusable (unknown kind, impossible field value).
    #[error("BTF type [{id}] is invalid: {detail}")]
    BadType {
        /// The type id.
        id: u32,
        /// What is wrong with it.
        detail: String,
    },
    /// A string offset points outside the string section, or at bytes that are not a C string.
    #[error("string offset {offset} is invalid: {detail}")]
    BadString {
        /// The offset into the (possibly split) string section.
        offset: u32,
        /// Why it cannot be read.
        detail: &'static str,
    },
    /// A type id is larger than the last type.
    #[error("type id {id} is out of range (the last type id is {max})")]
    TypeIdOutOfRange {
        /// The id asked for.
        id: u32,
        /// The last valid id.
        max: u32,
    },
    /// Following type references came back to a type already seen.
    #[error("type loop: following references from type [{id}] never ends")]
    TypeLoop {
        /// The type where the walk started.
        id: u32,
    },
    /// A type of one kind was needed, another was found.
    #[error("type [{id}] is {found}, expected {expected}")]
    WrongKind {
        /// The type id.
        id: u32,
        /// What the caller needed.
        expected: &'static str,
        /// The kind found.
        found: &'static str,
    },
    /// A record in BTF.ext is inconsistent.
    #[error("malformed BTF.ext {section} info: {detail}")]
    BadExt {
        /// `"func"`, `"line"` or `"core_relo"`.
        section: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The builder was given something that cannot be encoded.
    #[error("cannot build BTF: {0}")]
    Build(String),
    /// A CO-RE relocation could not be computed.
    #[error("CO-RE relocation at instruction {insn_off}: {detail}")]
    Core {
        /// Byte offset of the instruction within its section.
        insn_off: u32,
        /// What failed.
        detail: String,
    },
    /// A relocated value cannot be written into the instruction it targets.
    #[error("cannot patch instruction {insn_idx}: {detail}")]
    Patch {
        /// Index of the instruction.
        insn_idx: usize,
        /// Why.
        detail: String,
    },
    /// Writing dump output failed.
    #[error("writing BTF dump failed: {0}")]
    Io(#[from] std::io::Error),
    /// Reading a BTF file failed.
    #[error("reading {path} failed: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}
