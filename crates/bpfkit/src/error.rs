//! The library's error type.

/// Result of a bpfkit call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the library. Messages say what failed and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A kernel call failed.
    #[error(transparent)]
    Sys(#[from] bpfkit_sys::Error),
    /// The verifier rejected a program; `log` is the verifier's own text.
    #[error("program `{name}` was rejected by the verifier: {source}\n{log}")]
    Verifier {
        /// Program name.
        name: String,
        /// The `BPF_PROG_LOAD` error (errno).
        #[source]
        source: bpfkit_sys::Error,
        /// The verifier log, possibly with source lines mapped in.
        log: String,
    },
    /// The running kernel lacks a feature the call needs.
    #[error("this kernel lacks {feature}{}", if .hint.is_empty() { String::new() } else { format!(" ({})", .hint) })]
    NotSupported {
        /// The missing feature, named as a user would search for it (e.g. `kprobes (CONFIG_KPROBES)`).
        feature: String,
        /// What to do instead, or empty.
        hint: String,
    },
    /// An argument the caller gave is invalid (wrong key size, unknown symbol…).
    #[error("{0}")]
    InvalidArgument(String),
    /// The kernel has the feature but a policy refuses it (lockdown, a sysctl, an LSM).
    #[error("the kernel refused {what} ({reason})")]
    Refused {
        /// What was refused, e.g. `fentry/fexit programs`.
        what: String,
        /// Why, naming the policy and where to look, e.g. `EPERM under kernel lockdown: …`.
        reason: String,
    },
    /// An object file could not be read (malformed ELF, unknown section …).
    #[error(transparent)]
    Elf(#[from] bpfkit_elf::Error),
    /// BTF could not be parsed or a CO-RE relocation could not be computed.
    #[error(transparent)]
    Btf(#[from] bpfkit_btf::Error),
    /// Loading an object failed at one step; `detail` says which and what to do.
    #[error("object `{object}`: {detail}")]
    Object {
        /// Object name.
        object: String,
        /// What failed.
        detail: String,
    },
    /// A netlink request (XDP or TC attach, interface lookup) failed; `detail` is the
    /// kernel's extended-ack message when it sent one.
    #[error("{what} failed: {source}{}", if .detail.is_empty() { String::new() } else { format!(" ({})", .detail) })]
    Netlink {
        /// What was asked, with the interface (e.g. `attaching XDP (generic) to veth0`).
        what: String,
        /// The errno.
        #[source]
        source: std::io::Error,
        /// The kernel's explanation (`NLMSGERR_ATTR_MSG`), or empty.
        detail: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}
