//! BTF and BTF.ext for bpfkit: parse, decode on demand, build and write, dump as text or C
//! (`vmlinux.h`), and CO-RE relocation against a target BTF.
//!
//! This crate is pure: it never calls the kernel, so everything in it runs (and fuzzes) anywhere.
//! Reading `/sys/kernel/btf/*` is plain file I/O. Loading BTF into the kernel belongs to
//! `bpfkit-sys`/`bpfkit`, which take [`Btf::as_bytes`] or the output of [`BtfBuilder::to_bytes`].
//!
//! Main types:
//! - [`Btf`]: raw BTF indexed in one pass (the offset of each type record); [`Btf::type_by_id`]
//!   decodes a [`Type`] only when asked, and name lookups build a hash index only on the second
//!   lookup, so a tool touching ten types of vmlinux pays for ten.
//! - [`BtfExt`]: `.BTF.ext` func_info, line_info and CO-RE relocation records per section.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod btf;
mod reloc;
mod build;
mod error;
mod ext;
mod raw;
mod dump_c;
mod types;

pub use build::{BtfBuilder, Features, NewMember};
pub use btf::{essential_name, Btf, Header, SharedBytes, BTF_MAGIC, HEADER_LEN, VMLINUX_PATH};
pub use reloc::{patch_insn, relocate, CoreReloKind, Relocation, POISON_HELPER};
pub use dump_c::declared_names;
pub use error::{Error, Result};
pub use ext::{BtfExt, CoreRelo, ExtSection, FuncInfo, LineInfo};
pub use types::*;
