//! BTF and BTF.ext for bpfkit: parse, decode on demand, build and write, dump as text or C
//! (`vmlinux.h`), sanitise for older kernels, and CO-RE relocation against a target BTF.
//!
//! This crate is pure: it never calls the kernel, so everything in it runs (and fuzzes) anywhere.
//! Reading `/sys/kernel/btf/*` is plain file I/O; a caller that maps the file instead (through
//! `bpfkit-sys`) hands the mapping over with [`Btf::from_shared`]. Loading BTF into the kernel
//! belongs to `bpfkit-sys`/`bpfkit`, which take [`Btf::as_bytes`] or [`BtfBuilder::to_bytes`].
//!
//! Main types and functions:
//! - [`Btf`]: raw BTF (vmlinux, module split BTF, an object's `.BTF`) indexed in one pass that
//!   records where each type record starts; [`Btf::type_by_id`] decodes a [`Type`] only when
//!   asked. The first name lookup scans; the second builds a hash index of names (without
//!   `___flavour` suffixes), so a tool touching ten types of vmlinux pays for ten.
//! - [`BtfExt`]: `.BTF.ext` func_info, line_info and CO-RE relocation records per section.
//! - [`Btf::dump_raw`], [`Btf::dump_raw_json`], [`Btf::dump_c`]: bpftool's `format raw` (byte for
//!   byte, text and `-j`) and `format c` (a complete, compilable `vmlinux.h`).
//! - [`BtfBuilder`]: new BTF or edits of parsed BTF (DATASEC sizes, linkage), serialised;
//!   [`Btf::sanitize`] rewrites kinds a kernel lacks ([`Features`]).
//! - [`relocate`] computes one CO-RE relocation ([`Relocation`]) and [`patch_insn`] applies it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod btf;
mod build;
mod dump_c;
mod error;
mod ext;
mod raw;
mod reloc;
mod types;

pub use btf::{essential_name, Btf, Header, SharedBytes, BTF_MAGIC, HEADER_LEN, VMLINUX_PATH};
pub use build::{BtfBuilder, Features, NewMember};
pub use dump_c::declared_names;
pub use error::{Error, Result};
pub use ext::{BtfExt, CoreRelo, ExtSection, FuncInfo, LineInfo};
pub use reloc::{patch_insn, relocate, CoreReloKind, Relocation, POISON_HELPER};
pub use types::*;
