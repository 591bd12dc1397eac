//! Errors of kernel calls: which command failed, the errno, and what to do about it.

use std::fmt;
use std::io;

use crate::cmd::Cmd;

/// Result of a kernel call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A Linux capability that a failed call needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capability {
    /// `CAP_BPF`: create maps, load programs, iterate ids.
    Bpf,
    /// `CAP_PERFMON`: tracing programs, perf events, reading kernel pointers.
    Perfmon,
    /// `CAP_NET_ADMIN`: networking programs and their attachment.
    NetAdmin,
    /// `CAP_SYS_ADMIN`: everything else (and all of it on kernels before 5.8).
    SysAdmin,
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Capability::Bpf => "CAP_BPF",
            Capability::Perfmon => "CAP_PERFMON",
            Capability::NetAdmin => "CAP_NET_ADMIN",
            Capability::SysAdmin => "CAP_SYS_ADMIN",
        })
    }
}

/// A failed kernel call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `bpf(2)` returned an errno other than a permission error.
    #[error("{cmd} failed: {source}")]
    Bpf {
        /// The command.
        cmd: Cmd,
        /// The errno as an I/O error.
        #[source]
        source: io::Error,
    },
    /// `bpf(2)` refused for lack of privilege.
    #[error("{cmd} failed: {source}: missing {needs} (run as root or grant it, e.g. `setcap cap_bpf,cap_perfmon,cap_net_admin+ep`)")]
    Permission {
        /// The command.
        cmd: Cmd,
        /// The capability the command needs.
        needs: Capability,
        /// The errno (`EPERM` or `EACCES`).
        #[source]
        source: io::Error,
    },
    /// Another system call (perf_event_open, ioctl, mmap, mount, a file under tracefs…) failed.
    #[error("{call} failed: {source}")]
    Os {
        /// What was called, with its main argument (e.g. `perf_event_open(cpu-clock, cpu 1)`).
        call: String,
        /// The errno or I/O error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// Turns an errno from `cmd` into an error, recognising permission failures.
    pub fn from_errno(cmd: Cmd, source: io::Error) -> Self {
        match source.raw_os_error() {
            Some(libc::EPERM) if !has_effective_root() => Error::Permission {
                cmd,
                needs: needed_capability(cmd),
                source,
            },
            _ => Error::Bpf { cmd, source },
        }
    }

    /// An error of a non-bpf system call, from `errno`.
    pub fn os(call: impl Into<String>) -> Self {
        Error::Os {
            call: call.into(),
            source: io::Error::last_os_error(),
        }
    }

    /// The raw errno, when the error carries one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Bpf { source, .. }
            | Error::Permission { source, .. }
            | Error::Os { source, .. } => source.raw_os_error(),
        }
    }
}

/// Whether the process holds the capabilities a root process has. A root process that still
/// gets `EPERM` is refused for another reason (lockdown, a kernel policy), not a capability.
fn has_effective_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    euid == 0 && capeff_has_all()
}

fn capeff_has_all() -> bool {
    // CapEff in /proc/self/status is a hex mask; CAP_SYS_ADMIN is bit 21, CAP_BPF bit 39.
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return true;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .map(|mask| mask & (1 << 21) != 0)
        .unwrap_or(true)
}

/// The capability a command needs on a kernel with CAP_BPF (5.8+).
fn needed_capability(cmd: Cmd) -> Capability {
    match cmd {
        Cmd::ObjGetInfoByFd
        | Cmd::ProgGetFdById
        | Cmd::MapGetFdById
        | Cmd::BtfGetFdById
        | Cmd::LinkGetFdById
        | Cmd::EnableStats
        | Cmd::TaskFdQuery => Capability::SysAdmin,
        Cmd::ProgAttach | Cmd::ProgDetach | Cmd::ProgQuery => Capability::NetAdmin,
        Cmd::RawTracepointOpen => Capability::Perfmon,
        _ => Capability::Bpf,
    }
}
