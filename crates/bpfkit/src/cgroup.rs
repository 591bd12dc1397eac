//! cgroup programs: attached with `BPF_PROG_ATTACH` (exclusive, `BPF_F_ALLOW_OVERRIDE`,
//! `BPF_F_ALLOW_MULTI`, `BPF_F_REPLACE`) or with cgroup links, and queried per hook.
//!
//! A link goes away with its owner unless pinned. A `BPF_PROG_ATTACH` attachment stays on
//! the cgroup until detached: [`Cgroup::attach`] wraps it in a [`Link`] that detaches on
//! drop, [`Cgroup::attach_persistent`] leaves it for [`Cgroup::detach`] (as bpftool does).

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use bpfkit_sys::prog::{F_ALLOW_MULTI, F_ALLOW_OVERRIDE, F_QUERY_EFFECTIVE, F_REPLACE};

use crate::error::{Error, Result};
use crate::netlink::expect_prog_type;
use crate::{AttachType, Link, Program, ProgramType};

/// The cgroup v2 mount point.
pub const CGROUP2_ROOT: &str = "/sys/fs/cgroup";

/// How a `BPF_PROG_ATTACH` shares the hook with programs of this and descendant cgroups.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AttachMode {
    /// The only program here; descendants may not attach their own.
    #[default]
    Exclusive,
    /// The only program here; a descendant's program overrides it (`BPF_F_ALLOW_OVERRIDE`).
    Override,
    /// One of many; all of them and the ancestors' run (`BPF_F_ALLOW_MULTI`).
    Multi,
}

impl AttachMode {
    fn flags(self) -> u32 {
        match self {
            AttachMode::Exclusive => 0,
            AttachMode::Override => F_ALLOW_OVERRIDE,
            AttachMode::Multi => F_ALLOW_MULTI,
        }
    }

    /// bpftool's word for the attach flags a query reports (`multi`, `override`, or empty).
    pub fn flag_name(flags: u32) -> &'static str {
        if flags & F_ALLOW_MULTI != 0 {
            "multi"
        } else if flags & F_ALLOW_OVERRIDE != 0 {
            "override"
        } else {
            ""
        }
    }
}

/// The program type that runs at a cgroup attach type, or `None` when it is not a cgroup hook.
pub fn program_type_for(at: AttachType) -> Option<ProgramType> {
    use AttachType as A;
    Some(match at {
        A::CgroupInetIngress | A::CgroupInetEgress => ProgramType::CgroupSkb,
        A::CgroupInetSockCreate
        | A::CgroupInetSockRelease
        | A::CgroupInet4PostBind
        | A::CgroupInet6PostBind => ProgramType::CgroupSock,
        A::CgroupInet4Bind
        | A::CgroupInet6Bind
        | A::CgroupInet4Connect
        | A::CgroupInet6Connect
        | A::CgroupUdp4Sendmsg
        | A::CgroupUdp6Sendmsg
        | A::CgroupUdp4Recvmsg
        | A::CgroupUdp6Recvmsg
        | A::CgroupInet4Getpeername
        | A::CgroupInet6Getpeername
        | A::CgroupInet4Getsockname
        | A::CgroupInet6Getsockname
        | A::CgroupUnixConnect
        | A::CgroupUnixSendmsg
        | A::CgroupUnixRecvmsg
        | A::CgroupUnixGetpeername
        | A::CgroupUnixGetsockname => ProgramType::CgroupSockAddr,
        A::CgroupSockOps => ProgramType::SockOps,
        A::CgroupDevice => ProgramType::CgroupDevice,
        A::CgroupSysctl => ProgramType::CgroupSysctl,
        A::CgroupGetsockopt | A::CgroupSetsockopt => ProgramType::CgroupSockopt,
        A::LsmCgroup => ProgramType::Lsm,
        _ => return None,
    })
}

/// Every cgroup attach type, in kernel order (what `cgroup show` and `tree` query).
pub fn attach_types() -> Vec<AttachType> {
    AttachType::ALL
        .iter()
        .copied()
        .filter(|&a| program_type_for(a).is_some())
        .collect()
}

/// Parses an attach type in bpftool's cgroup spelling (`ingress`, `egress`, `sock_create`,
/// `connect4`, `device`…) or the full kernel name (`cgroup_inet_ingress`…).
pub fn parse_attach_type(s: &str) -> Option<AttachType> {
    use AttachType as A;
    Some(match s {
        "ingress" => A::CgroupInetIngress,
        "egress" => A::CgroupInetEgress,
        "sock_create" => A::CgroupInetSockCreate,
        "sock_release" => A::CgroupInetSockRelease,
        "sock_ops" => A::CgroupSockOps,
        "device" => A::CgroupDevice,
        "bind4" => A::CgroupInet4Bind,
        "bind6" => A::CgroupInet6Bind,
        "post_bind4" => A::CgroupInet4PostBind,
        "post_bind6" => A::CgroupInet6PostBind,
        "connect4" => A::CgroupInet4Connect,
        "connect6" => A::CgroupInet6Connect,
        "connect_unix" => A::CgroupUnixConnect,
        "getpeername4" => A::CgroupInet4Getpeername,
        "getpeername6" => A::CgroupInet6Getpeername,
        "getpeername_unix" => A::CgroupUnixGetpeername,
        "getsockname4" => A::CgroupInet4Getsockname,
        "getsockname6" => A::CgroupInet6Getsockname,
        "getsockname_unix" => A::CgroupUnixGetsockname,
        "sendmsg4" => A::CgroupUdp4Sendmsg,
        "sendmsg6" => A::CgroupUdp6Sendmsg,
        "sendmsg_unix" => A::CgroupUnixSendmsg,
        "recvmsg4" => A::CgroupUdp4Recvmsg,
        "recvmsg6" => A::CgroupUdp6Recvmsg,
        "recvmsg_unix" => A::CgroupUnixRecvmsg,
        "sysctl" => A::CgroupSysctl,
        "getsockopt" => A::CgroupGetsockopt,
        "setsockopt" => A::CgroupSetsockopt,
        other => {
            let a = AttachType::from_name(other)?;
            program_type_for(a)?;
            a
        }
    })
}

/// A program found on a cgroup hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupProgram {
    /// Program id.
    pub prog_id: u32,
    /// The hook.
    pub attach_type: AttachType,
    /// `BPF_F_ALLOW_*` flags of the attachment (0 in an effective query).
    pub attach_flags: u32,
}

/// A cgroup v2 directory, held open.
#[derive(Debug)]
pub struct Cgroup {
    fd: OwnedFd,
    path: PathBuf,
}

impl Cgroup {
    /// Opens a cgroup directory (e.g. `/sys/fs/cgroup/my.slice`).
    pub fn open(path: impl AsRef<Path>) -> Result<Cgroup> {
        let path = path.as_ref();
        let f = File::open(path).map_err(|source| Error::Io {
            path: format!("cgroup {}", path.display()),
            source,
        })?;
        if !f.metadata().map(|m| m.is_dir()).unwrap_or(false) {
            return Err(Error::InvalidArgument(format!(
                "{} is not a cgroup directory",
                path.display()
            )));
        }
        Ok(Cgroup {
            fd: OwnedFd::from(f),
            path: path.to_path_buf(),
        })
    }

    /// The path it was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check(&self, prog: &Program, at: AttachType) -> Result<()> {
        let ty = program_type_for(at)
            .ok_or_else(|| Error::InvalidArgument(format!("{at} is not a cgroup attach type")))?;
        expect_prog_type(prog, &[ty], &format!("cgroup hook {}", at.name()))
    }

    fn explain(&self, e: bpfkit_sys::Error, at: AttachType) -> Error {
        match e.errno() {
            Some(libc::EPERM) | Some(libc::EEXIST) => Error::InvalidArgument(format!(
                "{} already has a program on {} that does not allow another (attach with `multi` or `override`, or detach it first): {e}",
                self.path.display(),
                at.name()
            )),
            Some(libc::EBADF) => Error::InvalidArgument(format!(
                "{} is not a cgroup v2 directory",
                self.path.display()
            )),
            _ => e.into(),
        }
    }

    /// Attaches with `BPF_PROG_ATTACH`; the link detaches when dropped.
    pub fn attach(&self, prog: &Program, at: AttachType, mode: AttachMode) -> Result<Link> {
        self.check(prog, at)?;
        Link::prog_attach(prog, self.fd.as_fd(), at, mode.flags()).map_err(|e| match e {
            Error::Sys(s) => self.explain(s, at),
            e => e,
        })
    }

    /// Attaches with `BPF_PROG_ATTACH` and leaves it attached (until [`Cgroup::detach`]).
    /// With `replace`, the program takes `replace`'s place (`BPF_F_REPLACE`, multi mode).
    pub fn attach_persistent(
        &self,
        prog: &Program,
        at: AttachType,
        mode: AttachMode,
        replace: Option<&Program>,
    ) -> Result<()> {
        self.check(prog, at)?;
        let mut flags = mode.flags();
        if replace.is_some() {
            flags |= F_REPLACE | F_ALLOW_MULTI;
        }
        bpfkit_sys::prog::prog_attach(&bpfkit_sys::prog::ProgAttach {
            target: self.fd.as_raw_fd() as u32,
            prog_fd: prog.fd().as_raw_fd() as u32,
            attach_type: at.as_u32(),
            flags,
            replace_prog_fd: replace.map_or(0, |p| p.fd().as_raw_fd() as u32),
            ..Default::default()
        })
        .map_err(|e| self.explain(e, at))
    }

    /// Detaches `prog` from the hook (`BPF_PROG_DETACH`).
    pub fn detach(&self, prog: BorrowedFd<'_>, at: AttachType) -> Result<()> {
        bpfkit_sys::prog::prog_detach(&bpfkit_sys::prog::ProgAttach {
            target: self.fd.as_raw_fd() as u32,
            prog_fd: prog.as_raw_fd() as u32,
            attach_type: at.as_u32(),
            ..Default::default()
        })
        .map_err(|e| match e.errno() {
            Some(libc::ENOENT) => Error::InvalidArgument(format!(
                "that program is not attached to {} at {}",
                self.path.display(),
                at.name()
            )),
            _ => e.into(),
        })
    }

    /// Attaches with a cgroup link (`BPF_LINK_CREATE`), which behaves as multi mode and goes
    /// away with its owner unless pinned.
    pub fn link(&self, prog: &Program, at: AttachType) -> Result<Link> {
        self.check(prog, at)?;
        let fd = bpfkit_sys::link::link_create(&bpfkit_sys::link::LinkCreate {
            prog_fd: prog.fd().as_raw_fd() as u32,
            target: self.fd.as_raw_fd() as u32,
            attach_type: at.as_u32(),
            flags: 0,
            extra: bpfkit_sys::link::LinkTarget::Plain,
        })
        .map_err(|e| self.explain(e, at))?;
        Ok(Link::from_link_fd(
            fd,
            format!(
                "{} program {} on cgroup {}",
                at.name(),
                prog.name(),
                self.path.display()
            ),
        ))
    }

    /// The programs on one hook: attached here, or with `effective`, those that run here
    /// (including the ancestors').
    pub fn query(&self, at: AttachType, effective: bool) -> Result<Vec<CgroupProgram>> {
        let q = bpfkit_sys::prog::prog_query(
            self.fd.as_raw_fd() as u32,
            at.as_u32(),
            if effective { F_QUERY_EFFECTIVE } else { 0 },
        )
        .map_err(|e| match e.errno() {
            Some(libc::EBADF) => self.explain(e, at),
            _ => e.into(),
        })?;
        Ok(q.prog_ids
            .iter()
            .enumerate()
            .map(|(i, &id)| CgroupProgram {
                prog_id: id,
                attach_type: at,
                attach_flags: if effective {
                    0
                } else {
                    q.prog_attach_flags
                        .get(i)
                        .copied()
                        .filter(|&f| f != 0)
                        .unwrap_or(q.attach_flags)
                },
            })
            .collect())
    }

    /// The programs on every cgroup hook, in attach type order.
    pub fn query_all(&self, effective: bool) -> Result<Vec<CgroupProgram>> {
        let mut out = Vec::new();
        for at in attach_types() {
            match self.query(at, effective) {
                Ok(v) => out.extend(v),
                // Hooks the kernel does not have (EINVAL) list nothing.
                Err(Error::Sys(e)) if e.errno() == Some(libc::EINVAL) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

impl AsFd for Cgroup {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
