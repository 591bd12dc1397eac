//! [`Link`]: an attachment of a program to a hook, detached when dropped.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use bpfkit_sys::link::{self as sys, link_type};
use bpfkit_sys::obj::ObjKind;

use crate::error::{Error, Result};
use crate::program::{AttachType, Program};

#[derive(Debug)]
enum Kind {
    /// A kernel bpf_link: closing the last fd (and no pin) detaches.
    Bpf(OwnedFd),
    /// A perf event carrying the program, with the bpf_link on top when the kernel has
    /// perf links (5.15+); without one, the program was set with `PERF_EVENT_IOC_SET_BPF`.
    PerfEvent {
        event: OwnedFd,
        link: Option<OwnedFd>,
    },
    /// A `BPF_PROG_ATTACH` attachment, undone with `BPF_PROG_DETACH` on drop.
    ProgAttach {
        target: OwnedFd,
        prog: OwnedFd,
        attach_type: AttachType,
    },
}

/// A program attached to a hook. Dropping it detaches the program (unless the link is pinned,
/// in which case the pin keeps it attached until unpinned).
#[derive(Debug)]
pub struct Link {
    kind: Kind,
    what: String,
}

impl Link {
    /// Wraps a bpf_link fd; `what` describes the attachment for error messages.
    pub fn from_link_fd(fd: OwnedFd, what: impl Into<String>) -> Link {
        Link {
            kind: Kind::Bpf(fd),
            what: what.into(),
        }
    }

    /// Wraps a perf event fd with, when present, the bpf_link that attaches the program to it.
    pub fn from_perf_event(event: OwnedFd, link: Option<OwnedFd>, what: impl Into<String>) -> Link {
        Link {
            kind: Kind::PerfEvent { event, link },
            what: what.into(),
        }
    }

    /// Attaches `prog` to `target` with `BPF_PROG_ATTACH` (flags: `BPF_F_ALLOW_MULTI`…);
    /// the returned link runs `BPF_PROG_DETACH` when dropped.
    pub fn prog_attach(
        prog: &Program,
        target: BorrowedFd<'_>,
        attach_type: AttachType,
        flags: u32,
    ) -> Result<Link> {
        let target = target.try_clone_to_owned().map_err(|source| Error::Io {
            path: "dup(target fd)".into(),
            source,
        })?;
        let prog_fd = prog.fd().try_clone_to_owned().map_err(|source| Error::Io {
            path: "dup(program fd)".into(),
            source,
        })?;
        bpfkit_sys::prog::prog_attach(&bpfkit_sys::prog::ProgAttach {
            target: target.as_raw_fd() as u32,
            prog_fd: prog_fd.as_raw_fd() as u32,
            attach_type: attach_type.as_u32(),
            flags,
            ..Default::default()
        })?;
        Ok(Link {
            kind: Kind::ProgAttach {
                target,
                prog: prog_fd,
                attach_type,
            },
            what: format!("{} attached as {attach_type}", prog.name()),
        })
    }

    /// Opens the link pinned at `path`.
    pub fn from_pin(path: impl AsRef<Path>) -> Result<Link> {
        let path = path.as_ref();
        let fd = crate::pin::open_pinned(path, "link")?;
        Ok(Link::from_link_fd(
            fd,
            format!("link pinned at {}", path.display()),
        ))
    }

    /// Opens the link with kernel id `id`.
    pub fn from_id(id: u32) -> Result<Link> {
        let fd = bpfkit_sys::obj::get_fd_by_id(ObjKind::Link, id)?;
        Ok(Link::from_link_fd(fd, format!("link {id}")))
    }

    /// The bpf_link fd, when this attachment is a kernel link.
    pub fn link_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.kind {
            Kind::Bpf(fd) => Some(fd.as_fd()),
            Kind::PerfEvent { link, .. } => link.as_ref().map(|f| f.as_fd()),
            Kind::ProgAttach { .. } => None,
        }
    }

    /// The perf event fd, for perf-event based attachments.
    pub fn perf_event_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.kind {
            Kind::PerfEvent { event, .. } => Some(event.as_fd()),
            _ => None,
        }
    }

    /// What this link attaches, for messages.
    pub fn describe(&self) -> &str {
        &self.what
    }

    fn require_link_fd(&self, op: &str) -> Result<BorrowedFd<'_>> {
        self.link_fd().ok_or_else(|| Error::NotSupported {
            feature: format!("bpf links for this attachment ({})", self.what),
            hint: format!("{op} needs a bpf_link; this kernel attached the program the older way"),
        })
    }

    /// The link's kernel id.
    pub fn id(&self) -> Result<u32> {
        Ok(self.info()?.id)
    }

    /// The link's info.
    pub fn info(&self) -> Result<LinkInfo> {
        LinkInfo::from_fd(self.require_link_fd("reading link info")?)
    }

    /// Pins the link at `path` on bpffs; the attachment then outlives this value.
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<()> {
        let fd = self.require_link_fd("pinning")?;
        crate::pin::pin_fd(fd, path.as_ref(), "link")
    }

    /// Replaces the attached program (`BPF_LINK_UPDATE`); with `old`, only if it is still attached.
    pub fn update_program(&self, new: &Program, old: Option<&Program>) -> Result<()> {
        let fd = self.require_link_fd("updating the program")?;
        Ok(sys::link_update(fd, new.fd(), old.map(|p| p.fd()))?)
    }

    /// Detaches now (`BPF_LINK_DETACH`), even if pinned or held elsewhere; the fd stays open
    /// and reports a detached link.
    pub fn detach(&self) -> Result<()> {
        match &self.kind {
            Kind::ProgAttach {
                target,
                prog,
                attach_type,
            } => Ok(bpfkit_sys::prog::prog_detach(
                &bpfkit_sys::prog::ProgAttach {
                    target: target.as_raw_fd() as u32,
                    prog_fd: prog.as_raw_fd() as u32,
                    attach_type: attach_type.as_u32(),
                    ..Default::default()
                },
            )?),
            Kind::PerfEvent { event, link: None } => Ok(bpfkit_sys::perf::disable(event.as_fd())?),
            _ => Ok(sys::link_detach(self.require_link_fd("detaching")?)?),
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        match &self.kind {
            // Closing the fds detaches; nothing to do beyond the OwnedFd drops.
            Kind::Bpf(_) | Kind::PerfEvent { link: Some(_), .. } => {}
            Kind::PerfEvent { event, link: None } => {
                // Stop events before the fd goes so no program runs during teardown; the
                // close that follows releases the program.
                let _ = bpfkit_sys::perf::disable(event.as_fd());
            }
            Kind::ProgAttach { .. } => {
                // Errors here mean it is already detached (e.g. the cgroup is gone).
                let _ = self.detach();
            }
        }
    }
}

/// A link's kind (`enum bpf_link_type`), with bpftool's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    /// Raw tracepoint.
    RawTracepoint,
    /// BTF tracing (tp_btf, fentry, fexit, lsm…).
    Tracing,
    /// cgroup.
    Cgroup,
    /// Iterator.
    Iter,
    /// Network namespace.
    Netns,
    /// XDP.
    Xdp,
    /// perf event (tracepoint, kprobe, uprobe, sampler).
    PerfEvent,
    /// kprobe.multi.
    KprobeMulti,
    /// struct_ops.
    StructOps,
    /// Netfilter.
    Netfilter,
    /// tcx.
    Tcx,
    /// uprobe.multi.
    UprobeMulti,
    /// netkit.
    Netkit,
    /// sockmap.
    Sockmap,
    /// A type this crate does not know.
    Other(u32),
}

impl LinkType {
    /// From the kernel's number.
    pub fn from_u32(n: u32) -> LinkType {
        match n {
            link_type::RAW_TRACEPOINT => LinkType::RawTracepoint,
            link_type::TRACING => LinkType::Tracing,
            link_type::CGROUP => LinkType::Cgroup,
            link_type::ITER => LinkType::Iter,
            link_type::NETNS => LinkType::Netns,
            link_type::XDP => LinkType::Xdp,
            link_type::PERF_EVENT => LinkType::PerfEvent,
            link_type::KPROBE_MULTI => LinkType::KprobeMulti,
            link_type::STRUCT_OPS => LinkType::StructOps,
            link_type::NETFILTER => LinkType::Netfilter,
            link_type::TCX => LinkType::Tcx,
            link_type::UPROBE_MULTI => LinkType::UprobeMulti,
            link_type::NETKIT => LinkType::Netkit,
            link_type::SOCKMAP => LinkType::Sockmap,
            other => LinkType::Other(other),
        }
    }

    /// bpftool's name.
    pub fn name(self) -> &'static str {
        match self {
            LinkType::RawTracepoint => "raw_tracepoint",
            LinkType::Tracing => "tracing",
            LinkType::Cgroup => "cgroup",
            LinkType::Iter => "iter",
            LinkType::Netns => "netns",
            LinkType::Xdp => "xdp",
            LinkType::PerfEvent => "perf_event",
            LinkType::KprobeMulti => "kprobe_multi",
            LinkType::StructOps => "struct_ops",
            LinkType::Netfilter => "netfilter",
            LinkType::Tcx => "tcx",
            LinkType::UprobeMulti => "uprobe_multi",
            LinkType::Netkit => "netkit",
            LinkType::Sockmap => "sockmap",
            LinkType::Other(_) => "unknown",
        }
    }
}

/// Facts about a link (`bpf_link_info`), decoded.
#[derive(Clone, Debug)]
pub struct LinkInfo {
    /// Kernel id.
    pub id: u32,
    /// Kind.
    pub link_type: LinkType,
    /// Attached program id (0 when detached).
    pub prog_id: u32,
    /// The attach type, for kinds that report one (tracing, cgroup, netns, tcx, netkit…).
    pub attach_type: Option<AttachType>,
    /// Tracepoint name, iterator target, probed function or file, where the kind has one.
    pub name: String,
    /// The raw per-kind union, for fields not decoded above.
    pub raw: sys::LinkInfo,
}

impl LinkInfo {
    pub(crate) fn from_fd(fd: BorrowedFd<'_>) -> Result<LinkInfo> {
        let (raw, name) = sys::link_info(fd)?;
        let link_type = LinkType::from_u32(raw.link_type);
        // Offset of the attach_type u32 inside the union, per kind.
        let attach_off = match link_type {
            LinkType::Tracing => Some(0),
            LinkType::Cgroup => Some(8),
            LinkType::Netns => Some(4),
            LinkType::Tcx | LinkType::Netkit => Some(4),
            LinkType::Sockmap => Some(4),
            _ => None,
        };
        Ok(LinkInfo {
            id: raw.id,
            link_type,
            prog_id: raw.prog_id,
            attach_type: attach_off.and_then(|o| AttachType::from_u32(raw.u32_at(o))),
            name,
            raw,
        })
    }
}

/// One link per CPU for the same event (a perf sampler on every CPU); drops detach them all.
#[derive(Debug, Default)]
pub struct PerfEventLinks {
    links: Vec<(u32, Link)>,
}

impl PerfEventLinks {
    pub(crate) fn push(&mut self, cpu: u32, link: Link) {
        self.links.push((cpu, link));
    }

    /// `(cpu, link)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Link)> {
        self.links.iter().map(|(c, l)| (*c, l))
    }

    /// Number of links.
    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// The links, for separate ownership.
    pub fn into_links(self) -> Vec<(u32, Link)> {
        self.links
    }
}
