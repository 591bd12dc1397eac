//! Raw tracepoints (`raw_tp/<name>`, arguments as raw u64s) and BTF-typed tracepoints
//! (`tp_btf/<name>`, loaded against the `btf_trace_<name>` typedef of vmlinux).

use std::ffi::CString;

use bpfkit_btf::Kind;

use crate::error::{Error, Result};
use crate::link::Link;
use crate::program::{AttachType, Program, ProgramSpec, ProgramType};

/// The vmlinux BTF id a `tp_btf/<name>` program is loaded with: the `btf_trace_<name>` typedef.
pub fn tp_btf_id(name: &str) -> Result<u32> {
    super::vmlinux_btf_id(
        &format!("btf_trace_{name}"),
        Kind::Typedef,
        "BTF tracepoint typedef",
    )
    .map_err(|_| {
        Error::InvalidArgument(format!(
            "no BTF-typed tracepoint `{name}`: btf_trace_{name} is not in /sys/kernel/btf/vmlinux"
        ))
    })
}

impl<'a> ProgramSpec<'a> {
    /// Makes this a `tp_btf/<name>` spec: type tracing, attach type `trace_raw_tp`, and the
    /// BTF id of `btf_trace_<name>`.
    pub fn for_tp_btf(mut self, name: &str) -> Result<Self> {
        self.prog_type = ProgramType::Tracing;
        self.expected_attach_type = Some(AttachType::TraceRawTp);
        self.attach_btf_id = Some(tp_btf_id(name)?);
        Ok(self)
    }
}

impl Program {
    /// Attaches a raw tracepoint program to the tracepoint `name` (e.g. `sys_enter`).
    pub fn attach_raw_tracepoint(&self, name: &str) -> Result<Link> {
        super::require_type(
            self,
            &[
                ProgramType::RawTracepoint,
                ProgramType::RawTracepointWritable,
            ],
            "raw tracepoint",
        )?;
        let c = CString::new(name).map_err(|_| {
            Error::InvalidArgument(format!("tracepoint name {name:?} contains a NUL byte"))
        })?;
        let fd = bpfkit_sys::link::raw_tracepoint_open(self.fd(), Some(&c), 0).map_err(|e| {
            if e.errno() == Some(libc::ENOENT) {
                Error::InvalidArgument(format!("no raw tracepoint `{name}` in this kernel"))
            } else {
                Error::Sys(e)
            }
        })?;
        Ok(Link::from_link_fd(fd, format!("raw_tracepoint {name}")))
    }

    /// Attaches a program whose target was fixed at load through `attach_btf_id`: tp_btf,
    /// fentry, fexit, fmod_ret, lsm and freplace.
    pub fn attach_btf_target(&self) -> Result<Link> {
        super::require_type(
            self,
            &[ProgramType::Tracing, ProgramType::Lsm, ProgramType::Ext],
            "BTF-targeted",
        )?;
        let fd = bpfkit_sys::link::raw_tracepoint_open(self.fd(), None, 0)?;
        Ok(Link::from_link_fd(
            fd,
            format!("{} (BTF target)", self.name()),
        ))
    }
}
