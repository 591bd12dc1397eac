//! Network-namespace programs attached with netns links: `sk_lookup` (pick the socket for an
//! incoming connection) and `flow_dissector`. The link lasts while its fd or a pin holds it.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use crate::error::{Error, Result};
use crate::netlink::expect_prog_type;
use crate::{AttachType, Link, Program, ProgramType};

/// A network namespace, held open by an fd.
#[derive(Debug)]
pub struct NetNs {
    fd: OwnedFd,
    path: String,
}

impl NetNs {
    /// The calling thread's namespace (`/proc/thread-self/ns/net`).
    pub fn current() -> Result<NetNs> {
        NetNs::open("/proc/thread-self/ns/net")
    }

    /// A namespace by path: `/proc/PID/ns/net` or `/run/netns/NAME`.
    pub fn open(path: impl AsRef<Path>) -> Result<NetNs> {
        let path = path.as_ref();
        let f = File::open(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        Ok(NetNs {
            fd: OwnedFd::from(f),
            path: path.display().to_string(),
        })
    }

    /// A namespace made with `ip netns add NAME`.
    pub fn named(name: &str) -> Result<NetNs> {
        NetNs::open(Path::new("/run/netns").join(name))
    }

    fn link(&self, prog: &Program, at: AttachType, ty: ProgramType) -> Result<Link> {
        expect_prog_type(prog, &[ty], &format!("a netns {at} hook"))?;
        let fd = bpfkit_sys::link::link_create(&bpfkit_sys::link::LinkCreate {
            prog_fd: prog.fd().as_raw_fd() as u32,
            target: self.fd.as_fd().as_raw_fd() as u32,
            attach_type: at.as_u32(),
            flags: 0,
            extra: bpfkit_sys::link::LinkTarget::Plain,
        })?;
        Ok(Link::from_link_fd(
            fd,
            format!("{at} program {} in netns {}", prog.name(), self.path),
        ))
    }

    /// Attaches an `sk_lookup` program; several may run, in attach order.
    pub fn attach_sk_lookup(&self, prog: &Program) -> Result<Link> {
        self.link(prog, AttachType::SkLookup, ProgramType::SkLookup)
    }

    /// Attaches the namespace's `flow_dissector` program (one per namespace).
    pub fn attach_flow_dissector(&self, prog: &Program) -> Result<Link> {
        self.link(prog, AttachType::FlowDissector, ProgramType::FlowDissector)
    }

    /// Program ids on one of this namespace's hooks.
    pub fn query(&self, at: AttachType) -> Result<Vec<u32>> {
        Ok(bpfkit_sys::prog::prog_query(self.fd.as_raw_fd() as u32, at.as_u32(), 0)?.prog_ids)
    }
}
