//! Reads a clang-built BPF object (`.bpf.o`, libbpf conventions) into an object model, without
//! touching the kernel.
//!
//! [`Object::parse`] turns ELF bytes into [`Program`]s (each with its [`sec::SecKind`] from the
//! `SEC()` table [`sec::SEC_DEFS`], instructions, [`Relocation`]s and rebased BTF.ext records),
//! subprograms, [`MapDef`]s (BTF `.maps`, legacy `maps`, global data as libbpf's internal
//! array maps, `.kconfig`), [`Extern`]s, the object's BTF (DATASECs filled in from the ELF and
//! externs rewritten as libbpf does, so the running kernel's `BPF_BTF_LOAD` accepts it),
//! license and version. [`Object::link_program`] appends the subprograms a program calls and
//! resolves bpf-to-bpf calls; [`Object::kconfig_data`] computes the `.kconfig` map from a
//! kernel config. [`extract_embedded_objects`] finds objects inside libbpf-tools binaries.
//! [`notes`] reads the USDT probes (`.note.stapsdt`) of user-space binaries.
//!
//! Boundaries: nothing here creates maps, patches fds, applies CO-RE or loads programs; that is
//! the loader's job in `bpfkit`. Every malformed input is an [`Error`], never a panic.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod embedded;
mod error;
pub mod externs;
mod fixup;
mod link;
pub mod maps;
pub mod notes;
mod object;
pub mod sec;

pub use embedded::extract_embedded_objects;
pub use error::{Error, Result};
pub use externs::{parse_kconfig, Extern, ExternKind, KconfigEnv, KconfigType, KconfigValue};
pub use link::LinkedProgram;
pub use maps::{
    internal_map_name, DataKind, DataSection, DataVar, MapDef, MapOrigin, SlotInit, SlotTarget,
};
pub use object::{
    object_name_from_path, FuncRef, Object, Program, RelocTarget, Relocation, EM_BPF,
};
pub use sec::{
    find_sec_def, AttachType, AutoAttach, ProgType, SecDef, SecFlags, SecKind, SEC_DEFS,
};

impl Object {
    /// The value of the `.kconfig` map for this object on the kernel `env` describes, or `None`
    /// when the object has no kconfig externs. Weak externs missing from the config are 0; a
    /// missing non-weak one is an error naming it.
    pub fn kconfig_data(&self, env: &KconfigEnv) -> Result<Option<Vec<u8>>> {
        let Some(map) = self
            .maps
            .iter()
            .find(|m| m.data.as_ref().is_some_and(|d| d.kind == DataKind::Kconfig))
        else {
            return Ok(None);
        };
        externs::kconfig_bytes(&self.externs, map.value_size, env).map(Some)
    }
}
