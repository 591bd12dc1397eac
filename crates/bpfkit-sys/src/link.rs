//! Link commands: `BPF_LINK_CREATE` (every target kind), `BPF_LINK_UPDATE`, `BPF_LINK_DETACH`,
//! `BPF_RAW_TRACEPOINT_OPEN`, `BPF_TASK_FD_QUERY`, and the `bpf_link_info` layout.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use crate::cmd::{bpf, bpf_fd, Cmd};
use crate::error::Result;

/// `BPF_F_KPROBE_MULTI_RETURN`.
pub const F_KPROBE_MULTI_RETURN: u32 = 1 << 0;
/// `BPF_F_UPROBE_MULTI_RETURN`.
pub const F_UPROBE_MULTI_RETURN: u32 = 1 << 0;

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct LinkCreateRaw {
    prog_fd: u32,
    target: u32,
    attach_type: u32,
    flags: u32,
    /// The per-kind union, as 8-byte words starting at offset 16.
    tail: [u64; 6],
}

impl LinkCreateRaw {
    fn set_u32(&mut self, byte_off: usize, v: u32) {
        let word = byte_off / 8;
        let shift = (byte_off % 8) * 8;
        if let Some(w) = self.tail.get_mut(word) {
            *w = (*w & !(0xffff_ffffu64 << shift)) | ((v as u64) << shift);
        }
    }
    fn set_u64(&mut self, byte_off: usize, v: u64) {
        if let Some(w) = self.tail.get_mut(byte_off / 8) {
            *w = v;
        }
    }
}

/// The per-attach-kind part of `BPF_LINK_CREATE`.
#[derive(Clone, Copy, Debug, Default)]
pub enum LinkTarget<'a> {
    /// Nothing beyond target and attach type (cgroup, netns, xdp, sk_lookup…).
    #[default]
    Plain,
    /// `target_btf_id` (tracing programs attached to a BPF program or a BTF id).
    BtfId(u32),
    /// Iterator: the `bpf_iter_link_info` bytes.
    Iter(&'a [u8]),
    /// Perf event (target is the perf event fd): a cookie for `bpf_get_attach_cookie`.
    PerfEvent {
        /// The cookie.
        bpf_cookie: u64,
    },
    /// Many kprobes at once, by symbol name or by address.
    KprobeMulti {
        /// `BPF_F_KPROBE_MULTI_RETURN` or 0.
        flags: u32,
        /// Pointers to NUL-terminated symbol names (see [`CStrArray`]), or empty.
        syms: &'a CStrArray,
        /// Kernel addresses, or empty.
        addrs: &'a [u64],
        /// One cookie per probe, or empty.
        cookies: &'a [u64],
    },
    /// fentry/fexit/fmod_ret/lsm with an optional target and cookie.
    Tracing {
        /// BTF id of the target (0: the one given at load).
        target_btf_id: u32,
        /// Cookie for `bpf_get_attach_cookie`.
        cookie: u64,
    },
    /// Netfilter hook.
    Netfilter {
        /// Protocol family (`NFPROTO_IPV4`…).
        pf: u32,
        /// Hook number (`NF_INET_LOCAL_IN`…).
        hooknum: u32,
        /// Priority within the hook.
        priority: i32,
        /// `BPF_F_NETFILTER_IP_DEFRAG`.
        flags: u32,
    },
    /// tcx / netkit / cgroup mprog placement.
    Mprog {
        /// Relative program or link fd (or id with `BPF_F_ID`).
        relative: u32,
        /// Expected revision (0: any).
        expected_revision: u64,
    },
    /// Many uprobes in one binary.
    UprobeMulti {
        /// The binary.
        path: &'a CStr,
        /// File offsets of the probes.
        offsets: &'a [u64],
        /// Reference counter (semaphore) offsets, or empty.
        ref_ctr_offsets: &'a [u64],
        /// Cookies, or empty.
        cookies: &'a [u64],
        /// `BPF_F_UPROBE_MULTI_RETURN` or 0.
        flags: u32,
        /// Only this process (0: all).
        pid: u32,
    },
}

/// A NUL-terminated string array in the shape the kernel reads (`const char **`).
#[derive(Clone, Debug, Default)]
pub struct CStrArray {
    strings: Vec<CString>,
    ptrs: Vec<u64>,
}

impl CStrArray {
    /// Builds the array; strings with interior NUL bytes are refused.
    pub fn new<S: AsRef<str>>(items: &[S]) -> Option<CStrArray> {
        let strings: Vec<CString> = items
            .iter()
            .map(|s| CString::new(s.as_ref()).ok())
            .collect::<Option<_>>()?;
        let ptrs = strings.iter().map(|s| s.as_ptr() as u64).collect();
        Some(CStrArray { strings, ptrs })
    }

    /// Number of strings.
    pub fn len(&self) -> usize {
        self.strings.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }
}

fn slice_ptr<T>(s: &[T]) -> u64 {
    if s.is_empty() {
        0
    } else {
        s.as_ptr() as u64
    }
}

/// Arguments of `BPF_LINK_CREATE`.
#[derive(Clone, Copy, Debug, Default)]
pub struct LinkCreate<'a> {
    /// The program (or, for struct_ops links, the map) fd.
    pub prog_fd: u32,
    /// Target fd or ifindex.
    pub target: u32,
    /// `enum bpf_attach_type`.
    pub attach_type: u32,
    /// Link flags.
    pub flags: u32,
    /// Kind-specific fields.
    pub extra: LinkTarget<'a>,
}

/// Creates a link (`BPF_LINK_CREATE`).
pub fn link_create(l: &LinkCreate<'_>) -> Result<OwnedFd> {
    let mut raw = LinkCreateRaw {
        prog_fd: l.prog_fd,
        target: l.target,
        attach_type: l.attach_type,
        flags: l.flags,
        tail: [0; 6],
    };
    // Offsets below are relative to the union's start (byte 16 of link_create).
    match l.extra {
        LinkTarget::Plain => {}
        LinkTarget::BtfId(id) => raw.set_u32(0, id),
        LinkTarget::Iter(info) => {
            raw.set_u64(0, slice_ptr(info));
            raw.set_u32(8, info.len() as u32);
        }
        LinkTarget::PerfEvent { bpf_cookie } => raw.set_u64(0, bpf_cookie),
        LinkTarget::KprobeMulti {
            flags,
            syms,
            addrs,
            cookies,
        } => {
            let cnt = syms.len().max(addrs.len());
            raw.set_u32(0, flags);
            raw.set_u32(4, cnt as u32);
            raw.set_u64(8, slice_ptr(&syms.ptrs));
            raw.set_u64(16, slice_ptr(addrs));
            raw.set_u64(24, slice_ptr(cookies));
        }
        LinkTarget::Tracing {
            target_btf_id,
            cookie,
        } => {
            raw.set_u32(0, target_btf_id);
            raw.set_u64(8, cookie);
        }
        LinkTarget::Netfilter {
            pf,
            hooknum,
            priority,
            flags,
        } => {
            raw.set_u32(0, pf);
            raw.set_u32(4, hooknum);
            raw.set_u32(8, priority as u32);
            raw.set_u32(12, flags);
        }
        LinkTarget::Mprog {
            relative,
            expected_revision,
        } => {
            raw.set_u32(0, relative);
            raw.set_u64(8, expected_revision);
        }
        LinkTarget::UprobeMulti {
            path,
            offsets,
            ref_ctr_offsets,
            cookies,
            flags,
            pid,
        } => {
            raw.set_u64(0, path.as_ptr() as u64);
            raw.set_u64(8, slice_ptr(offsets));
            raw.set_u64(16, slice_ptr(ref_ctr_offsets));
            raw.set_u64(24, slice_ptr(cookies));
            raw.set_u32(32, offsets.len() as u32);
            raw.set_u32(36, flags);
            raw.set_u32(40, pid);
        }
    }
    bpf_fd(Cmd::LinkCreate, &mut raw)
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct LinkUpdateRaw {
    link_fd: u32,
    new_prog_fd: u32,
    flags: u32,
    old_prog_fd: u32,
}

/// Replaces a link's program (`BPF_LINK_UPDATE`); with `old_prog` set, only if it still runs that one.
pub fn link_update(
    link: BorrowedFd<'_>,
    new_prog: BorrowedFd<'_>,
    old_prog: Option<BorrowedFd<'_>>,
) -> Result<()> {
    let mut raw = LinkUpdateRaw {
        link_fd: link.as_raw_fd() as u32,
        new_prog_fd: new_prog.as_raw_fd() as u32,
        flags: if old_prog.is_some() {
            crate::prog::F_REPLACE
        } else {
            0
        },
        old_prog_fd: old_prog.map_or(0, |f| f.as_raw_fd() as u32),
    };
    bpf(Cmd::LinkUpdate, &mut raw).map(|_| ())
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct LinkDetachRaw {
    link_fd: u32,
}

/// Detaches a link from its hook while its fd stays open (`BPF_LINK_DETACH`).
pub fn link_detach(link: BorrowedFd<'_>) -> Result<()> {
    let mut raw = LinkDetachRaw {
        link_fd: link.as_raw_fd() as u32,
    };
    bpf(Cmd::LinkDetach, &mut raw).map(|_| ())
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct RawTpRaw {
    name: u64,
    prog_fd: u32,
    _pad: u32,
    cookie: u64,
}

/// Attaches a raw tracepoint, tp_btf, fentry/fexit, lsm or freplace program
/// (`BPF_RAW_TRACEPOINT_OPEN`). `name` is the tracepoint for raw tracepoints and `None` for
/// programs whose target was fixed at load through `attach_btf_id`.
pub fn raw_tracepoint_open(
    prog: BorrowedFd<'_>,
    name: Option<&CStr>,
    cookie: u64,
) -> Result<OwnedFd> {
    let mut raw = RawTpRaw {
        name: name.map_or(0, |n| n.as_ptr() as u64),
        prog_fd: prog.as_raw_fd() as u32,
        _pad: 0,
        cookie,
    };
    bpf_fd(Cmd::RawTracepointOpen, &mut raw)
}

/// `enum bpf_link_type`.
pub mod link_type {
    #![allow(missing_docs)]
    pub const UNSPEC: u32 = 0;
    pub const RAW_TRACEPOINT: u32 = 1;
    pub const TRACING: u32 = 2;
    pub const CGROUP: u32 = 3;
    pub const ITER: u32 = 4;
    pub const NETNS: u32 = 5;
    pub const XDP: u32 = 6;
    pub const PERF_EVENT: u32 = 7;
    pub const KPROBE_MULTI: u32 = 8;
    pub const STRUCT_OPS: u32 = 9;
    pub const NETFILTER: u32 = 10;
    pub const TCX: u32 = 11;
    pub const UPROBE_MULTI: u32 = 12;
    pub const NETKIT: u32 = 13;
    pub const SOCKMAP: u32 = 14;
}

/// `struct bpf_link_info`: the common header and the per-type union as raw words.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct LinkInfo {
    /// `enum bpf_link_type`.
    pub link_type: u32,
    /// Link id.
    pub id: u32,
    /// Id of the attached program.
    pub prog_id: u32,
    _pad: u32,
    /// The per-type union (`raw_tracepoint`, `tracing`, `cgroup`, `perf_event`…), 8-byte words.
    pub data: [u64; 8],
}

impl LinkInfo {
    /// The u32 at byte offset `off` of the union.
    pub fn u32_at(&self, off: usize) -> u32 {
        let w = self.data.get(off / 8).copied().unwrap_or(0);
        (w >> ((off % 8) * 8)) as u32
    }

    /// The u64 at byte offset `off` (a multiple of 8) of the union.
    pub fn u64_at(&self, off: usize) -> u64 {
        self.data.get(off / 8).copied().unwrap_or(0)
    }

    fn set_u32(&mut self, off: usize, v: u32) {
        let shift = (off % 8) * 8;
        if let Some(w) = self.data.get_mut(off / 8) {
            *w = (*w & !(0xffff_ffffu64 << shift)) | ((v as u64) << shift);
        }
    }

    fn set_u64(&mut self, off: usize, v: u64) {
        if let Some(w) = self.data.get_mut(off / 8) {
            *w = v;
        }
    }
}

/// A link's `bpf_link_info` with the name and the per-probe arrays its type reports.
#[derive(Clone, Debug, Default)]
pub struct LinkDetail {
    /// The info; pointer fields are zero.
    pub info: LinkInfo,
    /// Tracepoint, iterator target, probed function or file (see [`link_info`]).
    pub name: String,
    /// kprobe_multi: the probed kernel addresses (zero when kallsyms hides them).
    pub addrs: Vec<u64>,
    /// uprobe_multi: file offsets.
    pub offsets: Vec<u64>,
    /// uprobe_multi: reference counter offsets.
    pub ref_ctr_offsets: Vec<u64>,
    /// kprobe_multi and uprobe_multi: one cookie per probe.
    pub cookies: Vec<u64>,
}

/// Like [`link_info`], and for kprobe_multi and uprobe_multi links a second call fetches the
/// addresses, offsets and cookies. If that call fails the arrays stay empty.
pub fn link_detail(fd: BorrowedFd<'_>) -> Result<LinkDetail> {
    let (info, name) = link_info(fd)?;
    let mut d = LinkDetail {
        info,
        name,
        ..Default::default()
    };
    match info.link_type {
        // kprobe_multi: addrs ptr @0, count u32 @8, flags @12, missed @16, cookies ptr @24.
        link_type::KPROBE_MULTI => {
            let count = info.u32_at(8);
            if count == 0 {
                return Ok(d);
            }
            let mut addrs = vec![0u64; count as usize];
            let mut cookies = vec![0u64; count as usize];
            let mut again = LinkInfo::default();
            again.set_u64(0, addrs.as_mut_ptr() as u64);
            again.set_u32(8, count);
            again.set_u64(24, cookies.as_mut_ptr() as u64);
            if crate::obj::obj_get_info_by_fd(fd, &mut again).is_ok() {
                again.set_u64(0, 0);
                again.set_u64(24, 0);
                d.info = again;
                d.addrs = addrs;
                d.cookies = cookies;
            }
        }
        // uprobe_multi: path ptr @0, offsets @8, ref_ctr_offsets @16, cookies @24,
        // path_size u32 @32, count @36, flags @40, pid @44.
        link_type::UPROBE_MULTI => {
            let count = info.u32_at(36);
            if count == 0 {
                return Ok(d);
            }
            let mut path = vec![0u8; PATH_MAX];
            let mut offsets = vec![0u64; count as usize];
            let mut refs = vec![0u64; count as usize];
            let mut cookies = vec![0u64; count as usize];
            let mut again = LinkInfo::default();
            again.set_u64(0, path.as_mut_ptr() as u64);
            again.set_u64(8, offsets.as_mut_ptr() as u64);
            again.set_u64(16, refs.as_mut_ptr() as u64);
            again.set_u64(24, cookies.as_mut_ptr() as u64);
            again.set_u32(32, PATH_MAX as u32);
            again.set_u32(36, count);
            if crate::obj::obj_get_info_by_fd(fd, &mut again).is_ok() {
                for off in [0, 8, 16, 24] {
                    again.set_u64(off, 0);
                }
                d.info = again;
                d.name = crate::prog::name_from_bytes(&path);
                d.offsets = offsets;
                d.ref_ctr_offsets = refs;
                d.cookies = cookies;
            }
        }
        _ => {}
    }
    Ok(d)
}

/// Longest path the kernel reports (`PATH_MAX`).
const PATH_MAX: usize = 4096;

/// Fetches `bpf_link_info`. For link types that report a name (raw tracepoint, iterator,
/// perf event, uprobe_multi) a second call fills `name` into a buffer, returned beside the info.
pub fn link_info(fd: BorrowedFd<'_>) -> Result<(LinkInfo, String)> {
    let mut info = LinkInfo::default();
    crate::obj::obj_get_info_by_fd(fd, &mut info)?;
    // (offset of the name pointer, offset of its u32 length) inside the union, per link type.
    let name_slot = match info.link_type {
        link_type::RAW_TRACEPOINT | link_type::ITER => Some((0usize, 8usize)),
        // perf_event: type u32 + pad, then {name ptr, name_len} for uprobe/kprobe/tracepoint.
        link_type::PERF_EVENT if matches!(info.u32_at(0), 1..=5) => Some((8, 16)),
        link_type::UPROBE_MULTI => Some((0, 32)),
        _ => None,
    };
    let Some((ptr_off, len_off)) = name_slot else {
        return Ok((info, String::new()));
    };
    let mut buf = vec![0u8; PATH_MAX];
    let mut again = LinkInfo::default();
    let word = ptr_off / 8;
    if let Some(w) = again.data.get_mut(word) {
        *w = buf.as_mut_ptr() as u64;
    }
    if let Some(w) = again.data.get_mut(len_off / 8) {
        let shift = (len_off % 8) * 8;
        *w |= (buf.len() as u64) << shift;
    }
    if info.link_type == link_type::PERF_EVENT {
        again.data[0] = info.data[0];
    }
    match crate::obj::obj_get_info_by_fd(fd, &mut again) {
        Ok(_) => {
            // Keep the caller-visible pointer fields zeroed: they pointed at our buffer.
            again.data[word] = 0;
            Ok((again, crate::prog::name_from_bytes(&buf)))
        }
        // Names can be hidden (or longer than PATH_MAX); the info itself is still good.
        Err(_) => Ok((info, String::new())),
    }
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct TaskFdQueryRaw {
    pid: u32,
    fd: u32,
    flags: u32,
    buf_len: u32,
    buf: u64,
    prog_id: u32,
    fd_type: u32,
    probe_offset: u64,
    probe_addr: u64,
}

/// What a perf event or raw tracepoint fd of another task runs (`BPF_TASK_FD_QUERY`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskFd {
    /// Attached program id.
    pub prog_id: u32,
    /// `BPF_FD_TYPE_*`: 0 raw_tracepoint, 1 tracepoint, 2 kprobe, 3 kretprobe, 4 uprobe, 5 uretprobe.
    pub fd_type: u32,
    /// Tracepoint name, kprobe symbol or uprobe file.
    pub name: String,
    /// Offset of a kprobe/uprobe.
    pub probe_offset: u64,
    /// Address of a kprobe.
    pub probe_addr: u64,
}

/// Asks what the fd `fd` of process `pid` has attached.
pub fn task_fd_query(pid: u32, fd: u32) -> Result<TaskFd> {
    let mut buf = vec![0u8; 4096];
    let mut raw = TaskFdQueryRaw {
        pid,
        fd,
        buf_len: buf.len() as u32,
        buf: buf.as_mut_ptr() as u64,
        ..Default::default()
    };
    bpf(Cmd::TaskFdQuery, &mut raw)?;
    buf.truncate((raw.buf_len as usize).min(4096));
    Ok(TaskFd {
        prog_id: raw.prog_id,
        fd_type: raw.fd_type,
        name: crate::prog::name_from_bytes(&buf),
        probe_offset: raw.probe_offset,
        probe_addr: raw.probe_addr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_uapi() {
        assert_eq!(std::mem::size_of::<LinkCreateRaw>(), 64);
        assert_eq!(std::mem::size_of::<RawTpRaw>(), 24);
        assert_eq!(std::mem::size_of::<TaskFdQueryRaw>(), 48);
        assert_eq!(std::mem::size_of::<LinkInfo>(), 80);
    }

    #[test]
    fn link_info_fields_at_union_offsets() {
        let mut i = LinkInfo::default();
        // uprobe_multi: path_size @32, count @36, flags @40, pid @44; offsets ptr @8.
        i.set_u32(32, 4096);
        i.set_u32(36, 3);
        i.set_u32(44, 77);
        i.set_u64(8, 0x1122_3344_5566_7788);
        assert_eq!(
            (i.u32_at(32), i.u32_at(36), i.u32_at(40), i.u32_at(44)),
            (4096, 3, 0, 77)
        );
        assert_eq!(i.u64_at(8), 0x1122_3344_5566_7788);
        assert_eq!(i.u32_at(12), 0x1122_3344);
        // Past the union: zero, not a panic.
        i.set_u32(64, 1);
        assert_eq!(i.u32_at(64), 0);
    }

    #[test]
    fn tail_words() {
        let mut r = LinkCreateRaw::default();
        r.set_u32(0, 1);
        r.set_u32(4, 2);
        r.set_u64(8, 3);
        assert_eq!(r.tail[0], 1 | (2 << 32));
        assert_eq!(r.tail[1], 3);
    }
}
