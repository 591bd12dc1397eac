//! libbpf's `SEC()` naming convention as a data table.
//!
//! A program's ELF section name says what kind of program it is (`kprobe/do_unlinkat`,
//! `xdp.frags`, `cgroup/connect4` …). [`SEC_DEFS`] lists every prefix libbpf 1.x knows with the
//! kernel program type, expected attach type and behaviour flags; [`find_sec_def`] matches a
//! section name against it with libbpf's rules:
//! - an entry whose `prefix` ends in `/` or is marked [`SecFlags::TARGET`] matches the bare
//!   prefix or the prefix followed by `/` and a target (`tp/sched/sched_switch`);
//! - every other entry matches the exact name only (`xdp`, `tc/ingress`, `cgroup/connect4`).
//!
//! Entries are tried in table order, so more specific prefixes come before shorter ones that
//! share their start (`xdp.frags/devmap` before `xdp.frags` before `xdp`).

/// `enum bpf_prog_type` of the kernel uapi, with its numbering.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum ProgType {
    Unspec = 0,
    SocketFilter = 1,
    Kprobe = 2,
    SchedCls = 3,
    SchedAct = 4,
    Tracepoint = 5,
    Xdp = 6,
    PerfEvent = 7,
    CgroupSkb = 8,
    CgroupSock = 9,
    LwtIn = 10,
    LwtOut = 11,
    LwtXmit = 12,
    SockOps = 13,
    SkSkb = 14,
    CgroupDevice = 15,
    SkMsg = 16,
    RawTracepoint = 17,
    CgroupSockAddr = 18,
    LwtSeg6local = 19,
    LircMode2 = 20,
    SkReuseport = 21,
    FlowDissector = 22,
    CgroupSysctl = 23,
    RawTracepointWritable = 24,
    CgroupSockopt = 25,
    Tracing = 26,
    StructOps = 27,
    Ext = 28,
    Lsm = 29,
    SkLookup = 30,
    Syscall = 31,
    Netfilter = 32,
}

/// `enum bpf_attach_type` of the kernel uapi, with its numbering.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum AttachType {
    CgroupInetIngress = 0,
    CgroupInetEgress = 1,
    CgroupInetSockCreate = 2,
    CgroupSockOps = 3,
    SkSkbStreamParser = 4,
    SkSkbStreamVerdict = 5,
    CgroupDevice = 6,
    SkMsgVerdict = 7,
    CgroupInet4Bind = 8,
    CgroupInet6Bind = 9,
    CgroupInet4Connect = 10,
    CgroupInet6Connect = 11,
    CgroupInet4PostBind = 12,
    CgroupInet6PostBind = 13,
    CgroupUdp4Sendmsg = 14,
    CgroupUdp6Sendmsg = 15,
    LircMode2 = 16,
    FlowDissector = 17,
    CgroupSysctl = 18,
    CgroupUdp4Recvmsg = 19,
    CgroupUdp6Recvmsg = 20,
    CgroupGetsockopt = 21,
    CgroupSetsockopt = 22,
    TraceRawTp = 23,
    TraceFentry = 24,
    TraceFexit = 25,
    ModifyReturn = 26,
    LsmMac = 27,
    TraceIter = 28,
    CgroupInet4Getpeername = 29,
    CgroupInet6Getpeername = 30,
    CgroupInet4Getsockname = 31,
    CgroupInet6Getsockname = 32,
    XdpDevmap = 33,
    CgroupInetSockRelease = 34,
    XdpCpumap = 35,
    SkLookup = 36,
    Xdp = 37,
    SkSkbVerdict = 38,
    SkReuseportSelect = 39,
    SkReuseportSelectOrMigrate = 40,
    PerfEvent = 41,
    TraceKprobeMulti = 42,
    LsmCgroup = 43,
    StructOps = 44,
    Netfilter = 45,
    TcxIngress = 46,
    TcxEgress = 47,
    TraceUprobeMulti = 48,
    CgroupUnixConnect = 49,
    CgroupUnixSendmsg = 50,
    CgroupUnixRecvmsg = 51,
    CgroupUnixGetpeername = 52,
    CgroupUnixGetsockname = 53,
    NetkitPrimary = 54,
    NetkitPeer = 55,
    TraceKprobeSession = 56,
    TraceUprobeSession = 57,
}

/// Behaviour flags of a [`SecDef`] (a bit set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SecFlags(pub u32);

impl SecFlags {
    /// No special behaviour.
    pub const NONE: SecFlags = SecFlags(0);
    /// The section name may carry a target after `prefix/` (`kprobe/do_unlinkat`).
    pub const TARGET: SecFlags = SecFlags(1 << 0);
    /// The program cannot load without a target: a BTF id of the attach point
    /// (fentry, lsm, iter, tp_btf …) resolved from the part after the prefix.
    pub const NEEDS_BTF_TARGET: SecFlags = SecFlags(1 << 1);
    /// Load with `BPF_F_SLEEPABLE`.
    pub const SLEEPABLE: SecFlags = SecFlags(1 << 2);
    /// The expected attach type must be given to `BPF_PROG_LOAD`.
    pub const EXPECTED_ATTACH: SecFlags = SecFlags(1 << 3);
    /// The expected attach type may be given, but old kernels refuse it: retry without.
    pub const EXPECTED_ATTACH_OPTIONAL: SecFlags = SecFlags(1 << 4);
    /// Load with `BPF_F_XDP_HAS_FRAGS`.
    pub const XDP_FRAGS: SecFlags = SecFlags(1 << 5);
    /// A USDT probe: the loader needs the USDT spec maps of `usdt.bpf.h`.
    pub const USDT: SecFlags = SecFlags(1 << 6);
    /// Attaches to a return instead of an entry (kretprobe, uretprobe, kretsyscall).
    pub const RETURN: SecFlags = SecFlags(1 << 7);
    /// Old name kept by libbpf for compatibility; a newer spelling exists.
    pub const LEGACY: SecFlags = SecFlags(1 << 8);

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: SecFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Union of two flag sets.
    pub const fn union(self, other: SecFlags) -> SecFlags {
        SecFlags(self.0 | other.0)
    }
}

impl std::ops::BitOr for SecFlags {
    type Output = SecFlags;
    fn bitor(self, rhs: SecFlags) -> SecFlags {
        self.union(rhs)
    }
}

/// How a program of this kind is attached automatically from its section name, if at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AutoAttach {
    /// Needs parameters the name cannot give (an interface, a cgroup, a perf event, a map …).
    Manual,
    /// `kprobe/FUNC[+OFFSET]` (or `kretprobe/FUNC`).
    Kprobe,
    /// `kprobe.multi/PATTERN`: a glob over kernel functions.
    KprobeMulti,
    /// `kprobe.session/PATTERN`.
    KprobeSession,
    /// `ksyscall/NAME`: the architecture's syscall entry of NAME.
    Ksyscall,
    /// `uprobe/PATH:FUNC[+OFFSET]` (also sleepable and return variants).
    Uprobe,
    /// `uprobe.multi/PATH:PATTERN`.
    UprobeMulti,
    /// `usdt/PATH:PROVIDER:NAME`.
    Usdt,
    /// `tracepoint/CATEGORY/NAME`.
    Tracepoint,
    /// `raw_tp/NAME`.
    RawTracepoint,
    /// A BTF-typed attach (tp_btf, fentry, fexit, fmod_ret, freplace): `BPF_RAW_TRACEPOINT_OPEN`
    /// or a tracing link on the BTF id resolved at load.
    Tracing,
    /// `lsm/HOOK`.
    Lsm,
    /// `iter/NAME`: creates an iterator link.
    Iter,
    /// A struct_ops map registers the program; it is never attached on its own.
    StructOps,
}

/// One entry of the SEC() table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecDef {
    /// Section name, or prefix for entries with [`SecFlags::TARGET`].
    pub prefix: &'static str,
    /// Program type to load with.
    pub prog_type: ProgType,
    /// Expected attach type, when the kind has one.
    pub attach_type: Option<AttachType>,
    /// Behaviour flags.
    pub flags: SecFlags,
    /// How the program attaches from its name alone.
    pub auto_attach: AutoAttach,
}

const fn def(
    prefix: &'static str,
    prog_type: ProgType,
    attach_type: Option<AttachType>,
    flags: SecFlags,
    auto_attach: AutoAttach,
) -> SecDef {
    SecDef {
        prefix,
        prog_type,
        attach_type,
        flags,
        auto_attach,
    }
}

use AttachType as A;
use AutoAttach as Auto;
use ProgType as P;

const T: SecFlags = SecFlags::TARGET;
const BTF: SecFlags = SecFlags(SecFlags::TARGET.0 | SecFlags::NEEDS_BTF_TARGET.0);
const SLEEP: SecFlags = SecFlags::SLEEPABLE;
const ATT: SecFlags = SecFlags::EXPECTED_ATTACH;
const ATT_OPT: SecFlags = SecFlags::EXPECTED_ATTACH_OPTIONAL;
const RET: SecFlags = SecFlags::RETURN;
const FRAGS: SecFlags = SecFlags(SecFlags::XDP_FRAGS.0 | SecFlags::EXPECTED_ATTACH.0);
const LEGACY: SecFlags = SecFlags::LEGACY;
const NONE: SecFlags = SecFlags::NONE;

const fn or(a: SecFlags, b: SecFlags) -> SecFlags {
    a.union(b)
}

/// Every section kind libbpf 1.x recognises, in matching order.
pub static SEC_DEFS: &[SecDef] = &[
    def("socket", P::SocketFilter, None, NONE, Auto::Manual),
    def(
        "sk_reuseport/migrate",
        P::SkReuseport,
        Some(A::SkReuseportSelectOrMigrate),
        ATT,
        Auto::Manual,
    ),
    def(
        "sk_reuseport",
        P::SkReuseport,
        Some(A::SkReuseportSelect),
        ATT,
        Auto::Manual,
    ),
    def("kprobe", P::Kprobe, None, T, Auto::Kprobe),
    def("uprobe", P::Kprobe, None, T, Auto::Uprobe),
    def("uprobe.s", P::Kprobe, None, or(T, SLEEP), Auto::Uprobe),
    def("kretprobe", P::Kprobe, None, or(T, RET), Auto::Kprobe),
    def("uretprobe", P::Kprobe, None, or(T, RET), Auto::Uprobe),
    def(
        "uretprobe.s",
        P::Kprobe,
        None,
        or(or(T, RET), SLEEP),
        Auto::Uprobe,
    ),
    def(
        "kprobe.multi",
        P::Kprobe,
        Some(A::TraceKprobeMulti),
        or(T, ATT),
        Auto::KprobeMulti,
    ),
    def(
        "kretprobe.multi",
        P::Kprobe,
        Some(A::TraceKprobeMulti),
        or(or(T, ATT), RET),
        Auto::KprobeMulti,
    ),
    def(
        "kprobe.session",
        P::Kprobe,
        Some(A::TraceKprobeSession),
        or(T, ATT),
        Auto::KprobeSession,
    ),
    def(
        "uprobe.multi",
        P::Kprobe,
        Some(A::TraceUprobeMulti),
        or(T, ATT),
        Auto::UprobeMulti,
    ),
    def(
        "uretprobe.multi",
        P::Kprobe,
        Some(A::TraceUprobeMulti),
        or(or(T, ATT), RET),
        Auto::UprobeMulti,
    ),
    def(
        "uprobe.multi.s",
        P::Kprobe,
        Some(A::TraceUprobeMulti),
        or(or(T, ATT), SLEEP),
        Auto::UprobeMulti,
    ),
    def(
        "uretprobe.multi.s",
        P::Kprobe,
        Some(A::TraceUprobeMulti),
        SecFlags(T.0 | ATT.0 | RET.0 | SLEEP.0),
        Auto::UprobeMulti,
    ),
    def("ksyscall", P::Kprobe, None, T, Auto::Ksyscall),
    def("kretsyscall", P::Kprobe, None, or(T, RET), Auto::Ksyscall),
    def("usdt", P::Kprobe, None, or(T, SecFlags::USDT), Auto::Usdt),
    def(
        "usdt.s",
        P::Kprobe,
        None,
        SecFlags(T.0 | SecFlags::USDT.0 | SLEEP.0),
        Auto::Usdt,
    ),
    // libbpf maps the old tc names onto tcx attach types.
    def(
        "tc/ingress",
        P::SchedCls,
        Some(A::TcxIngress),
        NONE,
        Auto::Manual,
    ),
    def(
        "tc/egress",
        P::SchedCls,
        Some(A::TcxEgress),
        NONE,
        Auto::Manual,
    ),
    def(
        "tcx/ingress",
        P::SchedCls,
        Some(A::TcxIngress),
        NONE,
        Auto::Manual,
    ),
    def(
        "tcx/egress",
        P::SchedCls,
        Some(A::TcxEgress),
        NONE,
        Auto::Manual,
    ),
    def("tc", P::SchedCls, None, LEGACY, Auto::Manual),
    def("classifier", P::SchedCls, None, LEGACY, Auto::Manual),
    def("action", P::SchedAct, None, LEGACY, Auto::Manual),
    def(
        "netkit/primary",
        P::SchedCls,
        Some(A::NetkitPrimary),
        NONE,
        Auto::Manual,
    ),
    def(
        "netkit/peer",
        P::SchedCls,
        Some(A::NetkitPeer),
        NONE,
        Auto::Manual,
    ),
    def("tracepoint", P::Tracepoint, None, T, Auto::Tracepoint),
    def("tp", P::Tracepoint, None, T, Auto::Tracepoint),
    def(
        "raw_tracepoint",
        P::RawTracepoint,
        None,
        T,
        Auto::RawTracepoint,
    ),
    def("raw_tp", P::RawTracepoint, None, T, Auto::RawTracepoint),
    def(
        "raw_tracepoint.w",
        P::RawTracepointWritable,
        None,
        T,
        Auto::RawTracepoint,
    ),
    def(
        "raw_tp.w",
        P::RawTracepointWritable,
        None,
        T,
        Auto::RawTracepoint,
    ),
    def(
        "tp_btf",
        P::Tracing,
        Some(A::TraceRawTp),
        BTF,
        Auto::Tracing,
    ),
    def(
        "fentry",
        P::Tracing,
        Some(A::TraceFentry),
        BTF,
        Auto::Tracing,
    ),
    def(
        "fmod_ret",
        P::Tracing,
        Some(A::ModifyReturn),
        BTF,
        Auto::Tracing,
    ),
    def("fexit", P::Tracing, Some(A::TraceFexit), BTF, Auto::Tracing),
    def(
        "fentry.s",
        P::Tracing,
        Some(A::TraceFentry),
        or(BTF, SLEEP),
        Auto::Tracing,
    ),
    def(
        "fmod_ret.s",
        P::Tracing,
        Some(A::ModifyReturn),
        or(BTF, SLEEP),
        Auto::Tracing,
    ),
    def(
        "fexit.s",
        P::Tracing,
        Some(A::TraceFexit),
        or(BTF, SLEEP),
        Auto::Tracing,
    ),
    def("freplace", P::Ext, None, BTF, Auto::Tracing),
    def("lsm", P::Lsm, Some(A::LsmMac), BTF, Auto::Lsm),
    def("lsm.s", P::Lsm, Some(A::LsmMac), or(BTF, SLEEP), Auto::Lsm),
    def("lsm_cgroup", P::Lsm, Some(A::LsmCgroup), BTF, Auto::Manual),
    def("iter", P::Tracing, Some(A::TraceIter), BTF, Auto::Iter),
    def(
        "iter.s",
        P::Tracing,
        Some(A::TraceIter),
        or(BTF, SLEEP),
        Auto::Iter,
    ),
    def("syscall", P::Syscall, None, SLEEP, Auto::Manual),
    def(
        "xdp.frags/devmap",
        P::Xdp,
        Some(A::XdpDevmap),
        FRAGS,
        Auto::Manual,
    ),
    def("xdp/devmap", P::Xdp, Some(A::XdpDevmap), ATT, Auto::Manual),
    def(
        "xdp.frags/cpumap",
        P::Xdp,
        Some(A::XdpCpumap),
        FRAGS,
        Auto::Manual,
    ),
    def("xdp/cpumap", P::Xdp, Some(A::XdpCpumap), ATT, Auto::Manual),
    def("xdp.frags", P::Xdp, Some(A::Xdp), FRAGS, Auto::Manual),
    def("xdp", P::Xdp, Some(A::Xdp), ATT_OPT, Auto::Manual),
    def("perf_event", P::PerfEvent, None, NONE, Auto::Manual),
    def("lwt_in", P::LwtIn, None, NONE, Auto::Manual),
    def("lwt_out", P::LwtOut, None, NONE, Auto::Manual),
    def("lwt_xmit", P::LwtXmit, None, NONE, Auto::Manual),
    def("lwt_seg6local", P::LwtSeg6local, None, NONE, Auto::Manual),
    def(
        "sockops",
        P::SockOps,
        Some(A::CgroupSockOps),
        ATT_OPT,
        Auto::Manual,
    ),
    def(
        "sk_skb/stream_parser",
        P::SkSkb,
        Some(A::SkSkbStreamParser),
        ATT_OPT,
        Auto::Manual,
    ),
    def(
        "sk_skb/stream_verdict",
        P::SkSkb,
        Some(A::SkSkbStreamVerdict),
        ATT_OPT,
        Auto::Manual,
    ),
    def(
        "sk_skb/verdict",
        P::SkSkb,
        Some(A::SkSkbVerdict),
        ATT_OPT,
        Auto::Manual,
    ),
    def("sk_skb", P::SkSkb, None, NONE, Auto::Manual),
    def(
        "sk_msg",
        P::SkMsg,
        Some(A::SkMsgVerdict),
        ATT_OPT,
        Auto::Manual,
    ),
    def(
        "lirc_mode2",
        P::LircMode2,
        Some(A::LircMode2),
        ATT_OPT,
        Auto::Manual,
    ),
    def(
        "flow_dissector",
        P::FlowDissector,
        Some(A::FlowDissector),
        ATT_OPT,
        Auto::Manual,
    ),
    def(
        "cgroup_skb/ingress",
        P::CgroupSkb,
        Some(A::CgroupInetIngress),
        ATT_OPT,
        Auto::Manual,
    ),
    def(
        "cgroup_skb/egress",
        P::CgroupSkb,
        Some(A::CgroupInetEgress),
        ATT_OPT,
        Auto::Manual,
    ),
    def("cgroup/skb", P::CgroupSkb, None, NONE, Auto::Manual),
    def(
        "cgroup/sock_create",
        P::CgroupSock,
        Some(A::CgroupInetSockCreate),
        ATT,
        Auto::Manual,
    ),
    def(
        "cgroup/sock_release",
        P::CgroupSock,
        Some(A::CgroupInetSockRelease),
        ATT,
        Auto::Manual,
    ),
    def(
        "cgroup/sock",
        P::CgroupSock,
        Some(A::CgroupInetSockCreate),
        ATT_OPT,
        Auto::Manual,
    ),
    def(
        "cgroup/post_bind4",
        P::CgroupSock,
        Some(A::CgroupInet4PostBind),
        ATT,
        Auto::Manual,
    ),
    def(
        "cgroup/post_bind6",
        P::CgroupSock,
        Some(A::CgroupInet6PostBind),
        ATT,
        Auto::Manual,
    ),
    def(
        "cgroup/bind4",
        P::CgroupSockAddr,
        Some(A::CgroupInet4Bind),
        ATT,
        Auto::Manual,
    ),
    def(
        "cgroup/bind6",
        P::CgroupSockAddr,
        Some(A::CgroupInet6Bind),
        ATT,
        Auto::Manual,
    ),
    def(
        "cgroup/connect4",
        P::CgroupSockAddr,
        Some(A::CgroupInet4Connect),
        ATT,
        Auto::Manual,
    ),
    def(
        "cgroup/connect6",
        P::CgroupSockAddr,
        Some(A::CgroupInet6Connect),
        ATT,
        Auto::Manual,
    ),
    def(
        "cgroup/connect_unix",
        P::CgroupSockAddr,
        Some(A::CgroupUnixConnect),
        ATT,
        Auto::Manual,
    ),
    def(
        "cgroup/sendmsg4",
        P::CgroupSockAddr,
        Some(A::CgroupUdp4Sendmsg),
        ATT,
        Auto::Manual,
    ),
    def(
        "cgroup/sendmsg6",
        P::CgroupSockAddr,
        Some(A::CgroupUdp6Sendmsg),
        ATT,
        Auto::Manual,
    ),
    def(
        "cgroup/sendmsg_unix",
        P::CgroupSockAddr,
        Some(A::CgroupUnixSendmsg),
        ATT,
        Auto::Manual,
    ),
    def(
        "cgroup/recvmsg4",
        P::CgroupSockAddr,
        Some(A::CgroupUdp4Recvmsg),
        ATT,
        Auto::Manual,
    ),
    def(
        "cgroup/recvmsg6",
        P::CgroupSockAddr,
        Some(A::CgroupUdp6Recvmsg),
        ATT,
        Auto::Manual,
    ),
    def(
        "cgroup/recvmsg_unix",
        P::CgroupSockAddr,
        Some(A::CgroupUnixRecvmsg),
        ATT,
        Auto::Manual,
    ),
    def(
        "cgroup/getpeername4",
        P::CgroupSockAddr,
        Some(A::CgroupInet4Getpeername),
        ATT,
        Auto::Manual,
    ),
    def(
        "cgroup/getpeername6",
        P::CgroupSockAddr,
        Some(A::CgroupInet6Getpeername),
        ATT,
        Auto::Manual,
    ),
    def(
        "cgroup/getpeername_unix",
        P::CgroupSockAddr,
        Some(A::CgroupUnixGetpeername),
        ATT,
        Auto::Manual,
    ),
    def(
        "cgroup/getsockname4",
        P::CgroupSockAddr,
        Some(A::CgroupInet4Getsockname),
        ATT,
        Auto::Manual,
    ),
    def(
        "cgroup/getsockname6",
        P::CgroupSockAddr,
        Some(A::CgroupInet6Getsockname),
        ATT,
        Auto::Manual,
    ),
    def(
        "cgroup/getsockname_unix",
        P::CgroupSockAddr,
        Some(A::CgroupUnixGetsockname),
        ATT,
        Auto::Manual,
    ),
    def(
        "cgroup/sysctl",
        P::CgroupSysctl,
        Some(A::CgroupSysctl),
        ATT,
        Auto::Manual,
    ),
    def(
        "cgroup/getsockopt",
        P::CgroupSockopt,
        Some(A::CgroupGetsockopt),
        ATT,
        Auto::Manual,
    ),
    def(
        "cgroup/setsockopt",
        P::CgroupSockopt,
        Some(A::CgroupSetsockopt),
        ATT,
        Auto::Manual,
    ),
    def(
        "cgroup/dev",
        P::CgroupDevice,
        Some(A::CgroupDevice),
        ATT_OPT,
        Auto::Manual,
    ),
    def("struct_ops", P::StructOps, None, T, Auto::StructOps),
    def(
        "struct_ops.s",
        P::StructOps,
        None,
        or(T, SLEEP),
        Auto::StructOps,
    ),
    def(
        "sk_lookup",
        P::SkLookup,
        Some(A::SkLookup),
        ATT,
        Auto::Manual,
    ),
    def(
        "netfilter",
        P::Netfilter,
        Some(A::Netfilter),
        NONE,
        Auto::Manual,
    ),
];

/// A section name matched against [`SEC_DEFS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecKind {
    /// The matching table entry.
    pub def: &'static SecDef,
    /// The part after `prefix/`, when present and non-empty (`do_unlinkat` in
    /// `kprobe/do_unlinkat`).
    pub target: Option<String>,
}

impl SecKind {
    /// Program type to load with.
    pub fn prog_type(&self) -> ProgType {
        self.def.prog_type
    }

    /// Expected attach type to load with, if any.
    pub fn attach_type(&self) -> Option<AttachType> {
        self.def.attach_type
    }

    /// Whether the program loads with `BPF_F_SLEEPABLE`.
    pub fn sleepable(&self) -> bool {
        self.def.flags.contains(SecFlags::SLEEPABLE)
    }

    /// `prog_flags` for `BPF_PROG_LOAD` implied by the section (`BPF_F_SLEEPABLE`,
    /// `BPF_F_XDP_HAS_FRAGS`).
    pub fn prog_flags(&self) -> u32 {
        let mut flags = 0;
        if self.def.flags.contains(SecFlags::SLEEPABLE) {
            flags |= BPF_F_SLEEPABLE;
        }
        if self.def.flags.contains(SecFlags::XDP_FRAGS) {
            flags |= BPF_F_XDP_HAS_FRAGS;
        }
        flags
    }

    /// Whether loading needs a BTF target that is missing from the name (`SEC("fentry")` alone).
    pub fn missing_btf_target(&self) -> bool {
        self.def.flags.contains(SecFlags::NEEDS_BTF_TARGET) && self.target.is_none()
    }

    /// Whether the program attaches from its section name alone.
    pub fn auto_attachable(&self) -> bool {
        !matches!(
            self.def.auto_attach,
            AutoAttach::Manual | AutoAttach::StructOps
        ) && self.target.is_some()
    }
}

/// `BPF_F_SLEEPABLE` of `BPF_PROG_LOAD`'s `prog_flags`.
pub const BPF_F_SLEEPABLE: u32 = 1 << 4;
/// `BPF_F_XDP_HAS_FRAGS` of `BPF_PROG_LOAD`'s `prog_flags`.
pub const BPF_F_XDP_HAS_FRAGS: u32 = 1 << 5;

/// Matches a section name against [`SEC_DEFS`]; `None` when libbpf would not know it.
pub fn find_sec_def(section: &str) -> Option<SecKind> {
    for def in SEC_DEFS {
        if def.flags.contains(SecFlags::TARGET) {
            let Some(rest) = section.strip_prefix(def.prefix) else {
                continue;
            };
            if rest.is_empty() {
                return Some(SecKind { def, target: None });
            }
            if let Some(target) = rest.strip_prefix('/') {
                let target = (!target.is_empty()).then(|| target.to_string());
                return Some(SecKind { def, target });
            }
        } else if section == def.prefix {
            return Some(SecKind { def, target: None });
        }
    }
    None
}

/// A `tracepoint/CATEGORY/NAME` target split into its parts.
pub fn parse_tracepoint_target(target: &str) -> Option<(&str, &str)> {
    let (category, name) = target.split_once('/')?;
    (!category.is_empty() && !name.is_empty() && !name.contains('/')).then_some((category, name))
}

/// A uprobe target `PATH:FUNC[+OFFSET]` (or `PATH:OFFSET`) split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UprobeTarget<'a> {
    /// Binary or library path (or a library name libbpf resolves through the loader paths).
    pub binary: &'a str,
    /// Function name, if the target names one.
    pub func: Option<&'a str>,
    /// Offset from the function, or absolute file offset when `func` is `None`.
    pub offset: u64,
}

/// Splits a uprobe/uretprobe target; `None` when it has no `:` or a bad offset.
pub fn parse_uprobe_target(target: &str) -> Option<UprobeTarget<'_>> {
    let (binary, rest) = target.rsplit_once(':')?;
    if binary.is_empty() || rest.is_empty() {
        return None;
    }
    let parse_num = parse_offset;
    if let Some(offset) = parse_num(rest) {
        return Some(UprobeTarget {
            binary,
            func: None,
            offset,
        });
    }
    let (func, offset) = match rest.split_once('+') {
        Some((f, off)) => (f, parse_num(off)?),
        None => (rest, 0),
    };
    (!func.is_empty()).then_some(UprobeTarget {
        binary,
        func: Some(func),
        offset,
    })
}

/// A kprobe target `FUNC[+OFFSET]` split into function and offset.
pub fn parse_kprobe_target(target: &str) -> Option<(&str, u64)> {
    let (func, offset) = match target.split_once('+') {
        Some((f, off)) => (f, parse_offset(off)?),
        None => (target, 0),
    };
    (!func.is_empty() && !func.contains('/')).then_some((func, offset))
}

/// A USDT target `PATH:PROVIDER:NAME` split into its parts.
pub fn parse_usdt_target(target: &str) -> Option<(&str, &str, &str)> {
    let (rest, name) = target.rsplit_once(':')?;
    let (path, provider) = rest.rsplit_once(':')?;
    (!path.is_empty() && !provider.is_empty() && !name.is_empty()).then_some((path, provider, name))
}

fn parse_offset(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_prefix_and_exact_entries() {
        let k = find_sec_def("kprobe/do_unlinkat").unwrap();
        assert_eq!(k.prog_type(), ProgType::Kprobe);
        assert_eq!(k.target.as_deref(), Some("do_unlinkat"));
        assert!(k.auto_attachable());

        let k = find_sec_def("kretprobe/x").unwrap();
        assert!(k.def.flags.contains(SecFlags::RETURN));

        let k = find_sec_def("xdp.frags/devmap").unwrap();
        assert_eq!(k.attach_type(), Some(AttachType::XdpDevmap));
        assert_eq!(k.prog_flags(), BPF_F_XDP_HAS_FRAGS);

        assert_eq!(
            find_sec_def("xdp").unwrap().attach_type(),
            Some(AttachType::Xdp)
        );
        assert!(
            find_sec_def("xdp/foo").is_none(),
            "xdp is an exact-match entry"
        );
        assert!(
            find_sec_def("kprobex/foo").is_none(),
            "a prefix must end at '/' or the name end"
        );
        assert!(find_sec_def("tc/ingress2").is_none());
        assert_eq!(
            find_sec_def("tc/egress").unwrap().attach_type(),
            Some(AttachType::TcxEgress)
        );
        assert_eq!(
            find_sec_def("classifier").unwrap().prog_type(),
            ProgType::SchedCls
        );

        let k = find_sec_def("uretprobe.multi.s//bin/bash:read*").unwrap();
        assert_eq!(k.attach_type(), Some(AttachType::TraceUprobeMulti));
        assert!(k.sleepable());
        assert!(k.def.flags.contains(SecFlags::RETURN));
        assert_eq!(k.target.as_deref(), Some("/bin/bash:read*"));

        let k = find_sec_def("fentry.s/do_sys_open").unwrap();
        assert_eq!(k.prog_type(), ProgType::Tracing);
        assert_eq!(k.prog_flags(), BPF_F_SLEEPABLE);
        assert!(find_sec_def("fentry").unwrap().missing_btf_target());

        assert_eq!(
            find_sec_def("raw_tp.w/x").unwrap().prog_type(),
            ProgType::RawTracepointWritable
        );
        assert_eq!(
            find_sec_def("lsm_cgroup/file_open").unwrap().attach_type(),
            Some(AttachType::LsmCgroup)
        );
        assert_eq!(
            find_sec_def("cgroup/getsockname_unix")
                .unwrap()
                .attach_type(),
            Some(AttachType::CgroupUnixGetsockname)
        );
        assert_eq!(
            find_sec_def("sk_reuseport/migrate")
                .unwrap()
                .attach_type()
                .map(|a| a as u32),
            Some(40)
        );
        assert_eq!(find_sec_def("netfilter").unwrap().prog_type() as u32, 32);
        assert_eq!(
            find_sec_def("struct_ops/dummy").unwrap().prog_type(),
            ProgType::StructOps
        );
        assert_eq!(
            find_sec_def("syscall").unwrap().prog_flags(),
            BPF_F_SLEEPABLE
        );
        assert!(find_sec_def("perf_event").unwrap().def.auto_attach == AutoAttach::Manual);
    }

    #[test]
    fn every_entry_is_reachable() {
        // A later entry shadowed by an earlier one would be dead table data.
        for def in SEC_DEFS {
            let name = if def.flags.contains(SecFlags::TARGET) {
                format!("{}/some_target", def.prefix)
            } else {
                def.prefix.to_string()
            };
            let found = find_sec_def(&name).unwrap();
            assert_eq!(
                found.def.prefix, def.prefix,
                "{name} matched {}",
                found.def.prefix
            );
        }
    }

    #[test]
    fn knows_every_name_of_the_issue() {
        use ProgType as P;
        let cases: &[(&str, ProgType)] = &[
            ("tracepoint/syscalls/sys_enter_execve", P::Tracepoint),
            ("tp/sched/sched_switch", P::Tracepoint),
            ("raw_tracepoint/sched_switch", P::RawTracepoint),
            ("raw_tp/sched_switch", P::RawTracepoint),
            ("raw_tracepoint.w/x", P::RawTracepointWritable),
            ("raw_tp.w/x", P::RawTracepointWritable),
            ("tp_btf/sched_switch", P::Tracing),
            ("kprobe/do_unlinkat", P::Kprobe),
            ("kretprobe/do_unlinkat", P::Kprobe),
            ("ksyscall/execve", P::Kprobe),
            ("kretsyscall/execve", P::Kprobe),
            ("kprobe.multi/do_*", P::Kprobe),
            ("kretprobe.multi/do_*", P::Kprobe),
            ("kprobe.session/do_*", P::Kprobe),
            ("uprobe//bin/bash:readline", P::Kprobe),
            ("uretprobe//bin/bash:readline", P::Kprobe),
            ("uprobe.s//bin/bash:readline", P::Kprobe),
            ("uretprobe.s//bin/bash:readline", P::Kprobe),
            ("uprobe.multi//bin/bash:read*", P::Kprobe),
            ("uretprobe.multi//bin/bash:read*", P::Kprobe),
            ("uprobe.multi.s//bin/bash:read*", P::Kprobe),
            ("uretprobe.multi.s//bin/bash:read*", P::Kprobe),
            ("usdt/libc.so.6:libc:setjmp", P::Kprobe),
            ("perf_event", P::PerfEvent),
            ("fentry/f", P::Tracing),
            ("fexit/f", P::Tracing),
            ("fmod_ret/f", P::Tracing),
            ("fentry.s/f", P::Tracing),
            ("fexit.s/f", P::Tracing),
            ("fmod_ret.s/f", P::Tracing),
            ("freplace/f", P::Ext),
            ("iter/task", P::Tracing),
            ("iter.s/task", P::Tracing),
            ("lsm/file_open", P::Lsm),
            ("lsm.s/file_open", P::Lsm),
            ("lsm_cgroup/file_open", P::Lsm),
            ("xdp", P::Xdp),
            ("xdp.frags", P::Xdp),
            ("xdp/devmap", P::Xdp),
            ("xdp/cpumap", P::Xdp),
            ("xdp.frags/devmap", P::Xdp),
            ("xdp.frags/cpumap", P::Xdp),
            ("tc/ingress", P::SchedCls),
            ("tc/egress", P::SchedCls),
            ("tcx/ingress", P::SchedCls),
            ("tcx/egress", P::SchedCls),
            ("tc", P::SchedCls),
            ("classifier", P::SchedCls),
            ("action", P::SchedAct),
            ("netkit/primary", P::SchedCls),
            ("netkit/peer", P::SchedCls),
            ("socket", P::SocketFilter),
            ("sk_skb/stream_parser", P::SkSkb),
            ("sk_skb/stream_verdict", P::SkSkb),
            ("sk_skb", P::SkSkb),
            ("sk_msg", P::SkMsg),
            ("sockops", P::SockOps),
            ("sk_lookup", P::SkLookup),
            ("sk_reuseport", P::SkReuseport),
            ("sk_reuseport/migrate", P::SkReuseport),
            ("flow_dissector", P::FlowDissector),
            ("cgroup_skb/ingress", P::CgroupSkb),
            ("cgroup_skb/egress", P::CgroupSkb),
            ("cgroup/skb", P::CgroupSkb),
            ("cgroup/sock_create", P::CgroupSock),
            ("cgroup/sock_release", P::CgroupSock),
            ("cgroup/sock", P::CgroupSock),
            ("cgroup/post_bind4", P::CgroupSock),
            ("cgroup/post_bind6", P::CgroupSock),
            ("cgroup/bind4", P::CgroupSockAddr),
            ("cgroup/bind6", P::CgroupSockAddr),
            ("cgroup/connect4", P::CgroupSockAddr),
            ("cgroup/connect6", P::CgroupSockAddr),
            ("cgroup/connect_unix", P::CgroupSockAddr),
            ("cgroup/sendmsg4", P::CgroupSockAddr),
            ("cgroup/sendmsg6", P::CgroupSockAddr),
            ("cgroup/sendmsg_unix", P::CgroupSockAddr),
            ("cgroup/recvmsg4", P::CgroupSockAddr),
            ("cgroup/recvmsg6", P::CgroupSockAddr),
            ("cgroup/recvmsg_unix", P::CgroupSockAddr),
            ("cgroup/getpeername4", P::CgroupSockAddr),
            ("cgroup/getpeername6", P::CgroupSockAddr),
            ("cgroup/getpeername_unix", P::CgroupSockAddr),
            ("cgroup/getsockname4", P::CgroupSockAddr),
            ("cgroup/getsockname6", P::CgroupSockAddr),
            ("cgroup/getsockname_unix", P::CgroupSockAddr),
            ("cgroup/sysctl", P::CgroupSysctl),
            ("cgroup/getsockopt", P::CgroupSockopt),
            ("cgroup/setsockopt", P::CgroupSockopt),
            ("cgroup/dev", P::CgroupDevice),
            ("struct_ops/x", P::StructOps),
            ("struct_ops.s/x", P::StructOps),
            ("struct_ops", P::StructOps),
            ("syscall", P::Syscall),
            ("netfilter", P::Netfilter),
            ("lwt_in", P::LwtIn),
            ("lwt_out", P::LwtOut),
            ("lwt_xmit", P::LwtXmit),
            ("lwt_seg6local", P::LwtSeg6local),
            ("lirc_mode2", P::LircMode2),
        ];
        for (name, ty) in cases {
            let k = find_sec_def(name).unwrap_or_else(|| panic!("{name} unknown"));
            assert_eq!(k.prog_type(), *ty, "{name}");
        }
        for bad in [
            "",
            "kprobe.foo/x",
            "cgroup/unknown",
            "sk_msg/x",
            "tcx",
            "xdp.frags/other",
            ".text",
        ] {
            assert!(find_sec_def(bad).is_none(), "{bad} should be unknown");
        }
    }

    #[test]
    fn splits_targets() {
        assert_eq!(
            parse_tracepoint_target("syscalls/sys_enter_execve"),
            Some(("syscalls", "sys_enter_execve"))
        );
        assert_eq!(parse_tracepoint_target("nope"), None);
        let t = parse_uprobe_target("/bin/bash:readline+0x10").unwrap();
        assert_eq!(
            (t.binary, t.func, t.offset),
            ("/bin/bash", Some("readline"), 16)
        );
        let t = parse_uprobe_target("libc.so.6:0x1234").unwrap();
        assert_eq!((t.binary, t.func, t.offset), ("libc.so.6", None, 0x1234));
        assert_eq!(parse_uprobe_target("/bin/bash"), None);
        assert_eq!(parse_uprobe_target("/bin/bash:f+zz"), None);
        assert_eq!(
            parse_kprobe_target("do_unlinkat+0x10"),
            Some(("do_unlinkat", 16))
        );
        assert_eq!(parse_kprobe_target("do_unlinkat"), Some(("do_unlinkat", 0)));
        assert_eq!(parse_kprobe_target("+4"), None);
        assert_eq!(
            parse_usdt_target("/usr/lib/libc.so.6:libc:setjmp"),
            Some(("/usr/lib/libc.so.6", "libc", "setjmp"))
        );
        assert_eq!(parse_usdt_target("libc:setjmp"), None);
    }
}
