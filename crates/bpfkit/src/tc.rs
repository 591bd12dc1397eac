//! TC programs: tcx links (`BPF_TCX_INGRESS`/`EGRESS`, ordered with before/after anchors,
//! detached when the [`Link`] goes) and the classic path, a clsact qdisc with cls_bpf
//! filters in direct-action mode, managed over rtnetlink (these stay until deleted).

use std::os::fd::AsRawFd;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::tc::{
    TcAttribute, TcBpfFlags, TcFilterBpfOption, TcHandle, TcMessage, TcOption,
};
use netlink_packet_route::RouteNetlinkMessage;

use crate::error::{Error, Result};
use crate::netlink::{expect_prog_type, RtNetlink};
use crate::{AttachType, Link, Program, ProgramType};

/// Which way traffic flows through the hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Packets received.
    Ingress,
    /// Packets sent.
    Egress,
}

impl Direction {
    /// `ingress` or `egress`.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }

    /// The tcx attach type.
    pub fn tcx_attach_type(self) -> AttachType {
        match self {
            Direction::Ingress => AttachType::TcxIngress,
            Direction::Egress => AttachType::TcxEgress,
        }
    }

    fn clsact_parent(self) -> TcHandle {
        TcHandle {
            major: 0xffff,
            minor: match self {
                Direction::Ingress => TcHandle::MIN_INGRESS,
                Direction::Egress => TcHandle::MIN_EGRESS,
            },
        }
    }
}

/// Where a tcx program goes in the hook's list.
#[derive(Clone, Copy, Debug, Default)]
pub enum Anchor<'a> {
    /// At the end (the kernel's default).
    #[default]
    Last,
    /// At the front.
    First,
    /// Right before this program.
    BeforeProgram(&'a Program),
    /// Right after this program.
    AfterProgram(&'a Program),
    /// Right before the program with this id.
    BeforeProgramId(u32),
    /// Right after the program with this id.
    AfterProgramId(u32),
    /// Right before this link's program.
    BeforeLink(&'a Link),
    /// Right after this link's program.
    AfterLink(&'a Link),
}

/// Options of a tcx attachment.
#[derive(Clone, Copy, Debug, Default)]
pub struct TcxOptions<'a> {
    /// Placement.
    pub anchor: Anchor<'a>,
    /// Fail with `ESTALE` unless the hook's list is at this revision (0: any).
    pub expected_revision: u64,
}

fn anchor_flags(a: &Anchor<'_>) -> Result<(u32, u32)> {
    use bpfkit_sys::prog::{F_AFTER, F_BEFORE, F_ID, F_LINK};
    let link_fd = |l: &Link| -> Result<u32> {
        l.link_fd().map(|f| f.as_raw_fd() as u32).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{} is not a bpf_link and cannot anchor a tcx program",
                l.describe()
            ))
        })
    };
    Ok(match a {
        Anchor::Last => (0, 0),
        Anchor::First => (F_BEFORE, 0),
        Anchor::BeforeProgram(p) => (F_BEFORE, p.fd().as_raw_fd() as u32),
        Anchor::AfterProgram(p) => (F_AFTER, p.fd().as_raw_fd() as u32),
        Anchor::BeforeProgramId(id) => (F_BEFORE | F_ID, *id),
        Anchor::AfterProgramId(id) => (F_AFTER | F_ID, *id),
        Anchor::BeforeLink(l) => (F_BEFORE | F_LINK, link_fd(l)?),
        Anchor::AfterLink(l) => (F_AFTER | F_LINK, link_fd(l)?),
    })
}

fn errno_of(e: &Error) -> Option<i32> {
    match e {
        Error::Sys(s) => s.errno(),
        Error::Netlink { source, .. } => source.raw_os_error(),
        _ => None,
    }
}

/// Attaches `prog` (a `sched_cls` program) to the tcx hook of `ifindex` with a bpf_link.
pub fn attach_tcx(
    prog: &Program,
    ifindex: u32,
    dir: Direction,
    opts: &TcxOptions<'_>,
) -> Result<Link> {
    expect_prog_type(prog, &[ProgramType::SchedCls], "a tcx hook")?;
    let (flags, relative) = anchor_flags(&opts.anchor)?;
    let fd = bpfkit_sys::link::link_create(&bpfkit_sys::link::LinkCreate {
        prog_fd: prog.fd().as_raw_fd() as u32,
        target: ifindex,
        attach_type: dir.tcx_attach_type().as_u32(),
        flags,
        extra: bpfkit_sys::link::LinkTarget::Mprog {
            relative,
            expected_revision: opts.expected_revision,
        },
    })
    .map_err(|e| {
        let e: Error = e.into();
        match errno_of(&e) {
            Some(libc::ENODEV) | Some(libc::EINVAL) if !crate::xdp::interface_exists(ifindex) => {
                Error::InvalidArgument(format!(
                    "no interface with index {ifindex} (see `ip link show`)"
                ))
            }
            Some(libc::ESTALE) => Error::InvalidArgument(format!(
                "tcx {} of ifindex {ifindex} changed since revision {}",
                dir.name(),
                opts.expected_revision
            )),
            Some(libc::ENOENT) => Error::InvalidArgument(format!(
                "the anchor program or link is not attached to tcx {} of ifindex {ifindex}",
                dir.name()
            )),
            _ => e,
        }
    })?;
    Ok(Link::from_link_fd(
        fd,
        format!(
            "tcx {} program {} on ifindex {ifindex}",
            dir.name(),
            prog.name()
        ),
    ))
}

/// What a tcx hook runs, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcxQuery {
    /// Program ids, in run order.
    pub prog_ids: Vec<u32>,
    /// The link id of each program (0 where attached with `BPF_PROG_ATTACH`).
    pub link_ids: Vec<u32>,
    /// The list's revision.
    pub revision: u64,
}

/// Lists the programs on the tcx hook of `ifindex`.
pub fn query_tcx(ifindex: u32, dir: Direction) -> Result<TcxQuery> {
    let q = bpfkit_sys::prog::prog_query(ifindex, dir.tcx_attach_type().as_u32(), 0)?;
    Ok(TcxQuery {
        link_ids: if q.link_ids.is_empty() {
            vec![0; q.prog_ids.len()]
        } else {
            q.link_ids
        },
        prog_ids: q.prog_ids,
        revision: q.revision,
    })
}

/// Adds a clsact qdisc to `ifindex`; one already there is fine.
pub fn add_clsact(ifindex: u32) -> Result<()> {
    let mut m = TcMessage::with_index(ifindex as i32);
    m.header.parent = TcHandle::CLSACT;
    m.header.handle = TcHandle {
        major: 0xffff,
        minor: 0,
    };
    m.attributes.push(TcAttribute::Kind("clsact".into()));
    match RtNetlink::open()?.request(
        RouteNetlinkMessage::NewQueueDiscipline(m),
        NLM_F_CREATE | NLM_F_EXCL,
        &format!("adding a clsact qdisc to ifindex {ifindex}"),
    ) {
        Ok(_) => Ok(()),
        Err(e) if errno_of(&e) == Some(libc::EEXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes the clsact qdisc of `ifindex`, and with it every classic TC filter on it.
pub fn del_clsact(ifindex: u32) -> Result<()> {
    let mut m = TcMessage::with_index(ifindex as i32);
    m.header.parent = TcHandle::CLSACT;
    m.header.handle = TcHandle {
        major: 0xffff,
        minor: 0,
    };
    m.attributes.push(TcAttribute::Kind("clsact".into()));
    RtNetlink::open()?.request(
        RouteNetlinkMessage::DelQueueDiscipline(m),
        0,
        &format!("removing the clsact qdisc of ifindex {ifindex}"),
    )?;
    Ok(())
}

/// `ETH_P_ALL` in network order: the filter sees every protocol.
const PROTO_ALL_BE: u16 = 0x0003u16.to_be();

/// A cls_bpf filter's place: priority and handle (0 lets the kernel choose each).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FilterId {
    /// Priority (lower runs first).
    pub priority: u16,
    /// Handle within the priority.
    pub handle: u32,
}

fn filter_msg(ifindex: u32, dir: Direction, id: FilterId) -> TcMessage {
    let mut m = TcMessage::with_index(ifindex as i32);
    m.header.parent = dir.clsact_parent();
    m.header.handle = TcHandle::from(id.handle);
    m.header.info = ((id.priority as u32) << 16) | PROTO_ALL_BE as u32;
    m
}

/// Adds a cls_bpf filter in direct-action mode on the clsact qdisc of `ifindex` (adding the
/// qdisc when missing). With `replace`, an existing filter at the same priority and handle
/// is replaced; without, an existing one is an error. Returns the filter's final place.
pub fn attach_filter(
    prog: &Program,
    ifindex: u32,
    dir: Direction,
    id: FilterId,
    replace: bool,
) -> Result<FilterId> {
    expect_prog_type(
        prog,
        &[ProgramType::SchedCls, ProgramType::SchedAct],
        "a tc filter",
    )?;
    if replace && (id.priority == 0 || id.handle == 0) {
        return Err(Error::InvalidArgument(
            "replacing a tc filter needs its priority and handle".into(),
        ));
    }
    add_clsact(ifindex)?;
    let mut m = filter_msg(ifindex, dir, id);
    m.attributes.push(TcAttribute::Kind("bpf".into()));
    m.attributes.push(TcAttribute::Options(vec![
        TcOption::Bpf(TcFilterBpfOption::ProgFd(prog.fd().as_raw_fd() as u32)),
        TcOption::Bpf(TcFilterBpfOption::ProgName(prog.name().to_string())),
        TcOption::Bpf(TcFilterBpfOption::Flags(TcBpfFlags::DirectAction)),
    ]));
    let flags = NLM_F_CREATE | if replace { NLM_F_REPLACE } else { NLM_F_EXCL };
    let what = format!(
        "adding a tc {} filter for {} on ifindex {ifindex}",
        dir.name(),
        prog.name()
    );
    let before: Vec<FilterId> = list_filters(ifindex, dir)?.iter().map(|f| f.id).collect();
    RtNetlink::open()?
        .request(RouteNetlinkMessage::NewTrafficFilter(m), flags, &what)
        .map_err(|e| match errno_of(&e) {
            Some(libc::EEXIST) => Error::InvalidArgument(format!(
                "ifindex {ifindex} already has a tc {} filter at priority {} handle {:#x}; replace it (bpfkit: `overwrite`) or delete it first",
                dir.name(), id.priority, id.handle
            )),
            _ => e,
        })?;
    let prog_id = prog.id()?;
    // The kernel picks priority/handle when given 0: find the new filter in a fresh list.
    let after = list_filters(ifindex, dir)?;
    after
        .iter()
        .find(|f| {
            f.prog_id == prog_id
                && (replace || !before.contains(&f.id))
                && (id.priority == 0 || f.id.priority == id.priority)
        })
        .map(|f| f.id)
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "tc filter for {} on ifindex {ifindex} vanished right after it was added",
                prog.name()
            ))
        })
}

/// Deletes one cls_bpf filter.
pub fn detach_filter(ifindex: u32, dir: Direction, id: FilterId) -> Result<()> {
    let mut m = filter_msg(ifindex, dir, id);
    m.attributes.push(TcAttribute::Kind("bpf".into()));
    RtNetlink::open()?
        .request(
            RouteNetlinkMessage::DelTrafficFilter(m),
            0,
            &format!(
                "deleting tc {} filter {}:{:#x} on ifindex {ifindex}",
                dir.name(),
                id.priority,
                id.handle
            ),
        )
        .map_err(|e| match errno_of(&e) {
            Some(libc::ENOENT) | Some(libc::EINVAL) => Error::InvalidArgument(format!(
                "ifindex {ifindex} has no tc {} filter at priority {} handle {:#x}",
                dir.name(),
                id.priority,
                id.handle
            )),
            _ => e,
        })?;
    Ok(())
}

/// A cls_bpf filter found on a clsact hook.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcFilter {
    /// Priority and handle.
    pub id: FilterId,
    /// Kind (`bpf` for ours; other classifiers are listed with prog_id 0).
    pub kind: String,
    /// Program id.
    pub prog_id: u32,
    /// The name given at attach (`TCA_BPF_NAME`): bpftool prints it.
    pub name: String,
    /// Direct-action mode.
    pub direct_action: bool,
    /// Program tag.
    pub tag: [u8; 8],
}

/// Lists the filters of the clsact `dir` hook of `ifindex` (none when there is no clsact).
pub fn list_filters(ifindex: u32, dir: Direction) -> Result<Vec<TcFilter>> {
    let mut m = TcMessage::with_index(ifindex as i32);
    m.header.parent = dir.clsact_parent();
    let replies = match RtNetlink::open()?.request(
        RouteNetlinkMessage::GetTrafficFilter(m),
        NLM_F_DUMP,
        &format!("listing tc {} filters of ifindex {ifindex}", dir.name()),
    ) {
        Ok(r) => r,
        // No clsact qdisc: nothing attached.
        Err(e) if matches!(errno_of(&e), Some(libc::EINVAL) | Some(libc::ENOENT)) => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for r in replies {
        let RouteNetlinkMessage::NewTrafficFilter(t) = r else {
            continue;
        };
        let mut f = TcFilter {
            id: FilterId {
                priority: (t.header.info >> 16) as u16,
                handle: u32::from(t.header.handle),
            },
            ..Default::default()
        };
        let mut has_options = false;
        for a in &t.attributes {
            match a {
                TcAttribute::Kind(k) => f.kind = k.clone(),
                TcAttribute::Options(opts) => {
                    has_options = true;
                    for o in opts {
                        if let TcOption::Bpf(b) = o {
                            match b {
                                TcFilterBpfOption::ProgId(id) => f.prog_id = *id,
                                TcFilterBpfOption::ProgName(n) => f.name = n.clone(),
                                TcFilterBpfOption::Flags(fl) => {
                                    f.direct_action = fl.contains(TcBpfFlags::DirectAction)
                                }
                                TcFilterBpfOption::ProgTag(tag) => f.tag = *tag,
                                _ => {}
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        // The dump also reports each priority's chain head, without options.
        if has_options {
            out.push(f);
        }
    }
    Ok(out)
}
