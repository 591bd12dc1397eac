//! XDP: attach a program to an interface through a bpf_link (`BPF_LINK_CREATE` with
//! `BPF_XDP`, detached when the [`Link`] and its pins are gone) or through netlink
//! (`IFLA_XDP`, which stays until detached), and query what is attached per mode.
//!
//! A netlink attachment outlives the process that made it; a link goes away with its owner
//! unless pinned. The kernel allows one program per mode and interface, and refuses generic
//! and native programs side by side.

use std::os::fd::{AsRawFd, BorrowedFd};

use netlink_packet_route::link::{LinkAttribute, LinkMessage, LinkXdp, XdpAttached};
use netlink_packet_route::RouteNetlinkMessage;

use crate::error::{Error, Result};
use crate::netlink::{expect_prog_type, Interface, RtNetlink};
use crate::{AttachType, Link, Program, ProgramType};

/// `XDP_FLAGS_UPDATE_IF_NOEXIST`: fail if a program is attached.
pub const FLAGS_UPDATE_IF_NOEXIST: u32 = 1 << 0;
/// `XDP_FLAGS_SKB_MODE`: generic XDP.
pub const FLAGS_SKB_MODE: u32 = 1 << 1;
/// `XDP_FLAGS_DRV_MODE`: native (driver) XDP.
pub const FLAGS_DRV_MODE: u32 = 1 << 2;
/// `XDP_FLAGS_HW_MODE`: offloaded to the NIC.
pub const FLAGS_HW_MODE: u32 = 1 << 3;
/// `XDP_FLAGS_REPLACE`: replace only the program given as expected.
pub const FLAGS_REPLACE: u32 = 1 << 4;

/// Where an XDP program runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum XdpMode {
    /// In the generic network stack (`xdpgeneric`), on any interface.
    Generic,
    /// In the driver (`xdpdrv`), where the driver supports it.
    Driver,
    /// On the NIC (`xdpoffload`); the program must be loaded for that device.
    Offload,
}

impl XdpMode {
    /// The mode's `XDP_FLAGS_*_MODE` bit.
    pub fn flag(self) -> u32 {
        match self {
            XdpMode::Generic => FLAGS_SKB_MODE,
            XdpMode::Driver => FLAGS_DRV_MODE,
            XdpMode::Offload => FLAGS_HW_MODE,
        }
    }

    /// bpftool's and iproute2's word for the mode (`generic`, `driver`, `offload`).
    pub fn name(self) -> &'static str {
        match self {
            XdpMode::Generic => "generic",
            XdpMode::Driver => "driver",
            XdpMode::Offload => "offload",
        }
    }

    fn flags(mode: Option<XdpMode>) -> u32 {
        mode.map_or(0, XdpMode::flag)
    }
}

/// Attaches `prog` to interface `ifindex` with a bpf_link. `mode` `None` lets the kernel
/// choose (native when the driver has it, else generic). Dropping the link detaches.
pub fn attach(prog: &Program, ifindex: u32, mode: Option<XdpMode>) -> Result<Link> {
    expect_prog_type(prog, &[ProgramType::Xdp], "an XDP hook")?;
    let fd = bpfkit_sys::link::link_create(&bpfkit_sys::link::LinkCreate {
        prog_fd: prog.fd().as_raw_fd() as u32,
        target: ifindex,
        attach_type: AttachType::Xdp.as_u32(),
        flags: XdpMode::flags(mode),
        extra: bpfkit_sys::link::LinkTarget::Plain,
    })
    .map_err(|e| {
        // LINK_CREATE answers EINVAL (not ENODEV) for an ifindex that does not exist.
        if e.errno() == Some(libc::EINVAL) && !interface_exists(ifindex) {
            return Error::InvalidArgument(format!(
                "no interface with index {ifindex} (see `ip link show`)"
            ));
        }
        explain(e.into(), ifindex, mode, "linking")
    })?;
    Ok(Link::from_link_fd(
        fd,
        format!("XDP program {} on ifindex {ifindex}", prog.name()),
    ))
}

/// Whether an interface with this index exists in the calling thread's namespace.
pub(crate) fn interface_exists(ifindex: u32) -> bool {
    let mut m = LinkMessage::default();
    m.header.index = ifindex;
    RtNetlink::open()
        .and_then(|mut nl| {
            nl.request(
                RouteNetlinkMessage::GetLink(m),
                0,
                "looking up an interface",
            )
        })
        .is_ok()
}

/// Options of a netlink (`IFLA_XDP`) attachment.
#[derive(Clone, Copy, Debug, Default)]
pub struct NetlinkAttach<'a> {
    /// The mode; `None` lets the kernel choose.
    pub mode: Option<XdpMode>,
    /// Fail with `EBUSY` when a program is already attached (`XDP_FLAGS_UPDATE_IF_NOEXIST`).
    pub if_noexist: bool,
    /// Replace only this program (`XDP_FLAGS_REPLACE` with `IFLA_XDP_EXPECTED_FD`).
    pub expected: Option<BorrowedFd<'a>>,
}

fn set_xdp(ifindex: u32, fd: i32, flags: u32, expected: Option<i32>, what: &str) -> Result<()> {
    let mut m = LinkMessage::default();
    m.header.index = ifindex;
    let mut xdp = vec![LinkXdp::Fd(fd), LinkXdp::Flags(flags)];
    if let Some(e) = expected {
        xdp.push(LinkXdp::ExpectedFd(e as u32));
    }
    m.attributes.push(LinkAttribute::Xdp(xdp));
    RtNetlink::open()?.request(RouteNetlinkMessage::SetLink(m), 0, what)?;
    Ok(())
}

/// Turns the errnos of XDP attach into what they mean here.
fn explain(e: Error, ifindex: u32, mode: Option<XdpMode>, how: &str) -> Error {
    let errno = match &e {
        Error::Sys(s) => s.errno(),
        Error::Netlink { source, .. } => source.raw_os_error(),
        _ => None,
    };
    match errno {
        Some(libc::ENODEV) => Error::InvalidArgument(format!(
            "no interface with index {ifindex} (see `ip link show`)"
        )),
        Some(libc::EBUSY) | Some(libc::EEXIST) => Error::InvalidArgument(format!(
            "ifindex {ifindex} already has an XDP program{}; detach it first or replace it (`overwrite`)",
            match &e {
                Error::Netlink { detail, .. } if !detail.is_empty() => format!(" ({detail})"),
                _ => String::new(),
            }
        )),
        // The kernel refuses offload of a program not loaded for the device with a bare EINVAL.
        Some(libc::EINVAL) if mode == Some(XdpMode::Offload) => Error::InvalidArgument(format!(
            "interface {ifindex} cannot run XDP in offload mode: that needs a NIC that runs BPF and a program loaded for it (ProgramSpec::ifindex); use driver or generic mode"
        )),
        Some(libc::EOPNOTSUPP) => Error::NotSupported {
            feature: format!("XDP {}{how} on interface {ifindex}", mode.map_or(String::new(), |m| format!("{} mode ", m.name()))),
            hint: "the driver lacks this mode; use generic mode (xdpgeneric)".into(),
        },
        _ => e,
    }
}

/// Attaches `prog` through netlink. The attachment stays after this process exits, until
/// [`detach_netlink`] (or `ip link set dev X xdp off`).
pub fn attach_netlink(prog: &Program, ifindex: u32, opts: &NetlinkAttach<'_>) -> Result<()> {
    expect_prog_type(prog, &[ProgramType::Xdp], "an XDP hook")?;
    let mut flags = XdpMode::flags(opts.mode);
    if opts.if_noexist {
        flags |= FLAGS_UPDATE_IF_NOEXIST;
    }
    if opts.expected.is_some() {
        flags |= FLAGS_REPLACE;
    }
    let what = format!(
        "attaching XDP program {} to ifindex {ifindex}{}",
        prog.name(),
        opts.mode
            .map_or(String::new(), |m| format!(" ({} mode)", m.name()))
    );
    set_xdp(
        ifindex,
        prog.fd().as_raw_fd(),
        flags,
        opts.expected.map(|f| f.as_raw_fd()),
        &what,
    )
    .map_err(|e| explain(e, ifindex, opts.mode, "attach"))
}

/// Detaches the netlink-attached program of `mode` (`None`: whichever mode is attached).
/// With `expected`, only if that program is the one attached.
pub fn detach_netlink(
    ifindex: u32,
    mode: Option<XdpMode>,
    expected: Option<BorrowedFd<'_>>,
) -> Result<()> {
    let mut flags = XdpMode::flags(mode);
    if expected.is_some() {
        flags |= FLAGS_REPLACE;
    }
    let what = format!("detaching XDP from ifindex {ifindex}");
    set_xdp(ifindex, -1, flags, expected.map(|f| f.as_raw_fd()), &what)
        .map_err(|e| explain(e, ifindex, mode, "detach"))
}

/// What is attached to an interface's XDP hook, per mode (program ids; 0 = none).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct XdpQuery {
    /// Interface index.
    pub ifindex: u32,
    /// Interface name.
    pub ifname: String,
    /// Generic-mode program.
    pub generic: u32,
    /// Native-mode program.
    pub driver: u32,
    /// Offloaded program.
    pub offload: u32,
}

impl XdpQuery {
    /// `(mode, program id)` for each mode with a program.
    pub fn attached(&self) -> Vec<(XdpMode, u32)> {
        [
            (XdpMode::Generic, self.generic),
            (XdpMode::Driver, self.driver),
            (XdpMode::Offload, self.offload),
        ]
        .into_iter()
        .filter(|&(_, id)| id != 0)
        .collect()
    }

    fn from_link(l: &LinkMessage) -> XdpQuery {
        let mut q = XdpQuery {
            ifindex: l.header.index,
            ifname: crate::netlink::link_name(l),
            ..Default::default()
        };
        let mut attached = XdpAttached::None;
        let mut single = 0;
        for a in &l.attributes {
            if let LinkAttribute::Xdp(xs) = a {
                for x in xs {
                    match x {
                        LinkXdp::Attached(m) => attached = *m,
                        LinkXdp::ProgId(id) => single = *id,
                        LinkXdp::SkbProgId(id) => q.generic = *id,
                        LinkXdp::DrvProgId(id) => q.driver = *id,
                        LinkXdp::HwProgId(id) => q.offload = *id,
                        _ => {}
                    }
                }
            }
        }
        // With one mode attached the kernel reports only IFLA_XDP_PROG_ID and the mode.
        match attached {
            XdpAttached::SocketBuffer => q.generic = single,
            XdpAttached::Driver => q.driver = single,
            XdpAttached::Hardware => q.offload = single,
            _ => {}
        }
        q
    }
}

/// What is attached to the XDP hook of `ifindex`.
pub fn query(ifindex: u32) -> Result<XdpQuery> {
    let mut m = LinkMessage::default();
    m.header.index = ifindex;
    let replies = RtNetlink::open()?
        .request(
            RouteNetlinkMessage::GetLink(m),
            0,
            &format!("querying XDP of ifindex {ifindex}"),
        )
        .map_err(|e| explain(e, ifindex, None, "query"))?;
    replies
        .iter()
        .find_map(|r| match r {
            RouteNetlinkMessage::NewLink(l) => Some(XdpQuery::from_link(l)),
            _ => None,
        })
        .ok_or_else(|| Error::InvalidArgument(format!("no interface with index {ifindex}")))
}

/// XDP attachments of every interface that has one, by ifindex.
pub fn query_all() -> Result<Vec<XdpQuery>> {
    let mut v: Vec<XdpQuery> = RtNetlink::open()?
        .links()?
        .iter()
        .map(XdpQuery::from_link)
        .filter(|q| !q.attached().is_empty())
        .collect();
    v.sort_by_key(|q| q.ifindex);
    Ok(v)
}

/// Resolves an interface name for the functions above.
pub fn ifindex(name: &str) -> Result<u32> {
    Ok(Interface::by_name(name)?.index)
}
