//! The error type of this crate.

/// What went wrong while reading an object file. Every message names the section, program,
/// map or symbol involved.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes are not a well-formed ELF file (truncated, bad offsets …).
    #[error("not a valid ELF object: {detail}")]
    Elf {
        /// What the ELF reader found wrong.
        detail: String,
    },
    /// A valid ELF file for another machine.
    #[error("ELF e_machine is {machine}, not EM_BPF (247): this is not a BPF object; compile with `clang -target bpf`")]
    NotBpf {
        /// `e_machine` found.
        machine: u16,
    },
    /// A big-endian (`bpfeb`) object.
    #[error("big-endian BPF objects are not supported; compile with `-target bpfel` (or `-target bpf` on a little-endian host)")]
    BigEndian,
    /// No `.symtab`.
    #[error(
        "the object has no symbol table (.symtab); was it stripped? BPF objects need their symbols"
    )]
    NoSymbols,
    /// A section's header or contents are inconsistent.
    #[error("section {section}: {detail}")]
    BadSection {
        /// Section name (or `#index` when the name itself is unreadable).
        section: String,
        /// What is wrong.
        detail: String,
    },
    /// A program section whose name libbpf would not recognise.
    #[error("section `{section}` holds program `{program}` but its name is no known SEC() kind (such as `kprobe/FUNC`, `tracepoint/CAT/NAME`, `xdp`, `tc/ingress`); rename the section")]
    UnknownSection {
        /// Section name.
        section: String,
        /// First program (function symbol) in it.
        program: String,
    },
    /// A symbol is malformed or points where nothing is.
    #[error("symbol `{symbol}`: {detail}")]
    BadSymbol {
        /// Symbol name (or `#index`).
        symbol: String,
        /// What is wrong.
        detail: String,
    },
    /// A relocation that cannot be applied.
    #[error("section {section}, instruction {insn}: relocation against `{symbol}`: {detail}")]
    BadRelocation {
        /// Section the relocation applies to.
        section: String,
        /// Instruction index within the section.
        insn: usize,
        /// Target symbol (or `#index` when missing).
        symbol: String,
        /// What is wrong.
        detail: String,
    },
    /// A BTF-defined or legacy map definition that cannot be decoded.
    #[error("map `{map}`: {detail}")]
    BadMap {
        /// Map name.
        map: String,
        /// What is wrong.
        detail: String,
    },
    /// An extern (`__kconfig` / `__ksym`) that cannot be described or resolved.
    #[error("extern `{name}`: {detail}")]
    BadExtern {
        /// Extern name.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// Instructions that do not decode.
    #[error("program `{program}` in section `{section}`: {source}")]
    Insn {
        /// Program name.
        program: String,
        /// Section name.
        section: String,
        /// Decoder error.
        source: bpfkit_insn::Error,
    },
    /// `.BTF` or `.BTF.ext` does not parse.
    #[error("{section}: {source}")]
    Btf {
        /// `.BTF` or `.BTF.ext`.
        section: &'static str,
        /// BTF reader error.
        source: bpfkit_btf::Error,
    },
    /// Linking a program with its subprograms failed.
    #[error("linking program `{program}`: {detail}")]
    Link {
        /// Program name.
        program: String,
        /// What is wrong.
        detail: String,
    },
    /// A kconfig text line does not parse.
    #[error("kconfig line {line}: {detail}")]
    Kconfig {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        detail: String,
    },
    /// Reading the object file failed.
    #[error("reading {path}: {source}")]
    Io {
        /// File path.
        path: String,
        /// OS error.
        source: std::io::Error,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<object::read::Error> for Error {
    fn from(e: object::read::Error) -> Self {
        Error::Elf {
            detail: e.to_string(),
        }
    }
}
