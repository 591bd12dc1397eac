//! Socket programs: socket filters (`SO_ATTACH_BPF`), reuseport selectors, sockmap and
//! sockhash verdict programs (`sk_msg`, `sk_skb`), and `sock_ops` (attached to a cgroup,
//! see [`crate::cgroup`]).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use crate::error::Result;
use crate::netlink::expect_prog_type;
use crate::{AttachType, Link, Map, MapType, Program, ProgramType};

/// Attaches a `socket_filter` program to `sock`; it replaces the socket's previous filter
/// and lasts as long as the socket (or until [`detach_filter`]).
pub fn attach_filter(sock: impl AsFd, prog: &Program) -> Result<()> {
    expect_prog_type(prog, &[ProgramType::SocketFilter], "SO_ATTACH_BPF")?;
    Ok(bpfkit_sys::sockopt::attach_bpf(sock.as_fd(), prog.fd())?)
}

/// Removes the filter of `sock`.
pub fn detach_filter(sock: impl AsFd) -> Result<()> {
    Ok(bpfkit_sys::sockopt::detach_bpf(sock.as_fd())?)
}

/// Sets the `sk_reuseport` program (or a socket filter) that picks the socket of a
/// `SO_REUSEPORT` group `sock` belongs to.
pub fn attach_reuseport(sock: impl AsFd, prog: &Program) -> Result<()> {
    expect_prog_type(
        prog,
        &[ProgramType::SkReuseport, ProgramType::SocketFilter],
        "SO_ATTACH_REUSEPORT_EBPF",
    )?;
    Ok(bpfkit_sys::sockopt::attach_reuseport_bpf(
        sock.as_fd(),
        prog.fd(),
    )?)
}

/// The program types each sockmap attach type takes.
fn sockmap_types(at: AttachType) -> Option<&'static [ProgramType]> {
    match at {
        AttachType::SkMsgVerdict => Some(&[ProgramType::SkMsg]),
        AttachType::SkSkbStreamParser
        | AttachType::SkSkbStreamVerdict
        | AttachType::SkSkbVerdict => Some(&[ProgramType::SkSkb]),
        _ => None,
    }
}

fn check_sockmap(map: &Map, prog: &Program, at: AttachType) -> Result<()> {
    let Some(types) = sockmap_types(at) else {
        return Err(crate::Error::InvalidArgument(format!(
            "{at} is not a sockmap attach type (use sk_msg_verdict, sk_skb_stream_parser, sk_skb_stream_verdict or sk_skb_verdict)"
        )));
    };
    let mt = map.info()?.map_type_raw;
    if mt != MapType::Sockmap as u32 && mt != MapType::Sockhash as u32 {
        return Err(crate::Error::InvalidArgument(format!(
            "map `{}` is not a sockmap or sockhash; {at} programs attach to one",
            map.name()
        )));
    }
    expect_prog_type(prog, types, &format!("a sockmap {at} hook"))
}

/// Attaches a verdict or parser program to a sockmap/sockhash with `BPF_PROG_ATTACH`;
/// dropping the link detaches (a crashed process leaves it attached while the map lives).
pub fn attach_sockmap(map: &Map, prog: &Program, at: AttachType) -> Result<Link> {
    check_sockmap(map, prog, at)?;
    Link::prog_attach(prog, map.fd(), at, 0)
}

/// Attaches a verdict or parser program to a sockmap/sockhash with a bpf_link (6.10+),
/// which goes away with its owner unless pinned.
pub fn link_sockmap(map: &Map, prog: &Program, at: AttachType) -> Result<Link> {
    check_sockmap(map, prog, at)?;
    let fd = bpfkit_sys::link::link_create(&bpfkit_sys::link::LinkCreate {
        prog_fd: prog.fd().as_raw_fd() as u32,
        target: map.fd().as_raw_fd() as u32,
        attach_type: at.as_u32(),
        flags: 0,
        extra: bpfkit_sys::link::LinkTarget::Plain,
    })?;
    Ok(Link::from_link_fd(
        fd,
        format!("{at} program {} on map {}", prog.name(), map.name()),
    ))
}

/// Adds a socket to a sockmap (key: index) or sockhash (key: any bytes) by its fd.
pub fn sockmap_insert(map: &Map, key: &[u8], sock: BorrowedFd<'_>) -> Result<()> {
    let fd = sock.as_raw_fd() as u64;
    // The kernel reads a u32 fd for 4-byte values and a u64 for 8-byte ones.
    let value = fd.to_ne_bytes();
    let len = map.info()?.value_size as usize;
    map.update(key, value.get(..len).unwrap_or(&value), 0)
}
