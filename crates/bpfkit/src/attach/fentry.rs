//! BTF-based function tracing: fentry, fexit, fmod_ret (and lsm), loaded against the BTF id of
//! the kernel function and attached without naming it again.
//!
//! Kernels under lockdown refuse these loads with `EPERM` even for root; that becomes one
//! [`Error::Refused`] line naming lockdown.

use bpfkit_btf::Kind;
use bpfkit_sys::link::{LinkCreate, LinkTarget};

use crate::error::{Error, Result};
use crate::link::Link;
use crate::program::{AttachType, Program, ProgramSpec, ProgramType};

/// The BTF tracing flavours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TracingKind {
    /// `fentry/<func>`: on entry, arguments through BTF.
    Fentry,
    /// `fexit/<func>`: on return, arguments and the return value.
    Fexit,
    /// `fmod_ret/<func>`: may override the return value.
    ModifyReturn,
    /// `lsm/<hook>`: a BPF LSM hook (`bpf_lsm_<hook>`).
    Lsm,
}

impl TracingKind {
    /// The attach type the program is loaded with.
    pub fn attach_type(self) -> AttachType {
        match self {
            TracingKind::Fentry => AttachType::TraceFentry,
            TracingKind::Fexit => AttachType::TraceFexit,
            TracingKind::ModifyReturn => AttachType::ModifyReturn,
            TracingKind::Lsm => AttachType::LsmMac,
        }
    }

    /// libbpf's section prefix.
    pub fn name(self) -> &'static str {
        match self {
            TracingKind::Fentry => "fentry",
            TracingKind::Fexit => "fexit",
            TracingKind::ModifyReturn => "fmod_ret",
            TracingKind::Lsm => "lsm",
        }
    }

    fn from_attach_type(t: AttachType) -> Option<TracingKind> {
        match t {
            AttachType::TraceFentry => Some(TracingKind::Fentry),
            AttachType::TraceFexit => Some(TracingKind::Fexit),
            AttachType::ModifyReturn => Some(TracingKind::ModifyReturn),
            AttachType::LsmMac => Some(TracingKind::Lsm),
            _ => None,
        }
    }
}

/// The vmlinux BTF id of kernel function `func` (for lsm: of `bpf_lsm_<hook>`).
pub fn function_btf_id(kind: TracingKind, func: &str) -> Result<u32> {
    let name = match kind {
        TracingKind::Lsm => format!("bpf_lsm_{func}"),
        _ => func.to_string(),
    };
    super::vmlinux_btf_id(&name, Kind::Func, "kernel function")
}

/// The kernel function in BTF that implements syscall `name`: the arch wrapper
/// (`__x64_sys_<name>`) when BTF lists it, else the body the wrapper aliases (`__do_sys_<name>`),
/// else `__se_sys_<name>` or `sys_<name>`.
pub fn syscall_btf_function(name: &str) -> Result<String> {
    let btf = super::vmlinux_btf()?;
    let wrapper = super::kprobe::syscall_function(name);
    let candidates = [
        wrapper,
        format!("__do_sys_{name}"),
        format!("__se_sys_{name}"),
        format!("sys_{name}"),
    ];
    candidates
        .iter()
        .find(|c| btf.find_by_name_kind(c, Kind::Func).is_some())
        .cloned()
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "no function for syscall `{name}` in the kernel's BTF (tried {})",
                candidates.join(", ")
            ))
        })
}

impl<'a> ProgramSpec<'a> {
    /// Makes this an fentry/fexit/fmod_ret/lsm spec for kernel function (or LSM hook) `func`.
    pub fn for_tracing(mut self, kind: TracingKind, func: &str) -> Result<Self> {
        self.prog_type = if kind == TracingKind::Lsm {
            ProgramType::Lsm
        } else {
            ProgramType::Tracing
        };
        self.expected_attach_type = Some(kind.attach_type());
        self.attach_btf_id = Some(function_btf_id(kind, func)?);
        Ok(self)
    }
}

fn lockdown_state() -> Option<String> {
    let text = std::fs::read_to_string("/sys/kernel/security/lockdown").ok()?;
    // The active mode is the bracketed word, e.g. "none [integrity] confidentiality".
    let start = text.find('[')?;
    let end = text[start..].find(']')? + start;
    Some(text[start + 1..end].to_string())
}

/// Turns the `EPERM` a privileged fentry/fexit/lsm load gets into a line naming lockdown.
pub(crate) fn refine_load_error(spec: &ProgramSpec<'_>, err: Error) -> Error {
    let Some(kind) = spec
        .expected_attach_type
        .and_then(TracingKind::from_attach_type)
    else {
        return err;
    };
    let eperm_as_root = matches!(&err, Error::Sys(bpfkit_sys::Error::Bpf { source, .. })
        if source.raw_os_error() == Some(libc::EPERM));
    if !eperm_as_root {
        return err;
    }
    let what = match kind {
        TracingKind::Lsm => "lsm programs".to_string(),
        _ => "fentry/fexit programs".to_string(),
    };
    let mode = lockdown_state()
        .map(|m| format!(", mode {m}"))
        .unwrap_or_default();
    Error::Refused {
        what,
        reason: format!("EPERM under kernel lockdown: /sys/kernel/security/lockdown{mode}"),
    }
}

impl Program {
    /// Attaches an fentry/fexit/fmod_ret/lsm program loaded with [`ProgramSpec::for_tracing`].
    pub fn attach_tracing(&self) -> Result<Link> {
        self.attach_tracing_with_cookie(0)
    }

    /// Like [`Program::attach_tracing`], with a value for `bpf_get_attach_cookie` (5.19+).
    pub fn attach_tracing_with_cookie(&self, cookie: u64) -> Result<Link> {
        super::require_type(
            self,
            &[ProgramType::Tracing, ProgramType::Lsm],
            "fentry/fexit/lsm",
        )?;
        if cookie == 0 {
            return self.attach_btf_target();
        }
        let attach_type = self.expected_attach_type().ok_or_else(|| {
            Error::InvalidArgument(format!(
                "program `{}` has no expected attach type; load it with ProgramSpec::for_tracing",
                self.name()
            ))
        })?;
        let fd = bpfkit_sys::link::link_create(&LinkCreate {
            prog_fd: std::os::fd::AsRawFd::as_raw_fd(&self.fd()) as u32,
            target: 0,
            attach_type: attach_type.as_u32(),
            flags: 0,
            extra: LinkTarget::Tracing {
                target_btf_id: 0,
                cookie,
            },
        })?;
        Ok(Link::from_link_fd(
            fd,
            format!("{} {}", attach_type, self.name()),
        ))
    }
}
