//! The error type of this crate.

/// What went wrong while decoding, building or assembling instructions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The byte stream is not a whole number of 8-byte instruction slots.
    #[error("instruction bytes are truncated: {len} bytes is not a multiple of 8")]
    Truncated {
        /// Length of the byte stream.
        len: usize,
    },
    /// A 64-bit immediate load lacks its second slot.
    #[error(
        "instruction {index}: ld_imm64 is missing its second 8-byte slot (the program is cut short)"
    )]
    HalfLdImm64 {
        /// Index of the first slot.
        index: usize,
    },
    /// A jump or call names a label that was never bound.
    #[error(
        "label `{name}` is used but never defined; bind it with Builder::label or Builder::bind"
    )]
    UndefinedLabel {
        /// Label name (or `#N` for anonymous labels).
        name: String,
    },
    /// A label was bound twice.
    #[error("label `{name}` is defined twice (at instructions {first} and {second})")]
    DuplicateLabel {
        /// Label name.
        name: String,
        /// Where it was first bound.
        first: usize,
        /// Where it was bound again.
        second: usize,
    },
    /// A jump target is too far for the 16-bit offset field.
    #[error(
        "instruction {index}: jump to label `{name}` needs offset {offset}, outside -32768..=32767; use gotol (Builder::jmp_long)"
    )]
    JumpOutOfRange {
        /// Index of the jump instruction.
        index: usize,
        /// Target label.
        name: String,
        /// The offset that did not fit.
        offset: i64,
    },
    /// The assembler could not parse a line.
    #[error("line {line}: {msg}: `{text}`")]
    Parse {
        /// 1-based line number.
        line: usize,
        /// What was expected.
        msg: String,
        /// The offending text.
        text: String,
    },
}
