//! Netfilter hooks (`BPF_LINK_CREATE` with `BPF_NETFILTER`): a `netfilter` program runs at a
//! hook of a protocol family, at a priority, and returns `NF_ACCEPT` or `NF_DROP`.

use std::os::fd::AsRawFd;

use crate::error::{Error, Result};
use crate::netlink::expect_prog_type;
use crate::{AttachType, Link, Program, ProgramType};

/// `NFPROTO_IPV4`.
pub const NFPROTO_IPV4: u32 = 2;
/// `NFPROTO_IPV6`.
pub const NFPROTO_IPV6: u32 = 10;
/// `BPF_F_NETFILTER_IP_DEFRAG`: see reassembled packets.
pub const F_IP_DEFRAG: u32 = 1;

/// A netfilter hook point (`enum nf_inet_hooks`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    /// Before routing.
    PreRouting = 0,
    /// For this host.
    LocalIn = 1,
    /// Forwarded.
    Forward = 2,
    /// From this host.
    LocalOut = 3,
    /// After routing.
    PostRouting = 4,
}

/// Where a netfilter program runs.
#[derive(Clone, Copy, Debug)]
pub struct NetfilterOptions {
    /// `NFPROTO_IPV4` or `NFPROTO_IPV6`.
    pub pf: u32,
    /// The hook.
    pub hook: Hook,
    /// Priority; the kernel refuses the extremes (`NF_IP_PRI_FIRST`/`LAST`).
    pub priority: i32,
    /// `F_IP_DEFRAG` or 0.
    pub flags: u32,
}

/// Attaches `prog` to a netfilter hook; dropping the link detaches.
pub fn attach(prog: &Program, opts: &NetfilterOptions) -> Result<Link> {
    expect_prog_type(prog, &[ProgramType::Netfilter], "a netfilter hook")?;
    if opts.pf != NFPROTO_IPV4 && opts.pf != NFPROTO_IPV6 {
        return Err(Error::InvalidArgument(format!(
            "netfilter protocol family {} is not NFPROTO_IPV4 (2) or NFPROTO_IPV6 (10)",
            opts.pf
        )));
    }
    let fd = bpfkit_sys::link::link_create(&bpfkit_sys::link::LinkCreate {
        prog_fd: prog.fd().as_raw_fd() as u32,
        target: 0,
        attach_type: AttachType::Netfilter.as_u32(),
        flags: 0,
        extra: bpfkit_sys::link::LinkTarget::Netfilter {
            pf: opts.pf,
            hooknum: opts.hook as u32,
            priority: opts.priority,
            flags: opts.flags,
        },
    })?;
    Ok(Link::from_link_fd(
        fd,
        format!(
            "netfilter program {} at hook {:?} priority {}",
            prog.name(),
            opts.hook,
            opts.priority
        ),
    ))
}
