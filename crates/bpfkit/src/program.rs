//! Programs: their types and attach types (kernel numbering, bpftool's names), the load
//! specification, and [`Program`], an owned loaded program.

use std::ffi::CString;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

use bpfkit_insn::Insn;
use bpfkit_sys::obj::ObjKind;
use bpfkit_sys::prog as sys;

use crate::error::{Error, Result};

macro_rules! kernel_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $num:literal => $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u32)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant = $num, )*
        }

        impl $name {
            /// Every value this crate knows, in kernel order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The kernel's number.
            pub fn as_u32(self) -> u32 {
                self as u32
            }

            /// The value for a kernel number, if known.
            pub fn from_u32(n: u32) -> Option<$name> {
                match n {
                    $( $num => Some($name::$variant), )*
                    _ => None,
                }
            }

            /// bpftool's (and libbpf's) name.
            pub fn name(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )*
                }
            }

            /// Parses bpftool's name.
            pub fn from_name(s: &str) -> Option<$name> {
                match s {
                    $( $text => Some($name::$variant), )*
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<$name> {
                $name::from_name(s).ok_or_else(|| {
                    Error::InvalidArgument(format!(concat!("unknown ", $what, " `{}`"), s))
                })
            }
        }
    };
}

kernel_enum! {
    /// `enum bpf_prog_type`.
    pub enum ProgramType ("program type") {
        /// Invalid.
        Unspec = 0 => "unspec",
        /// Socket filter (`SO_ATTACH_BPF`).
        SocketFilter = 1 => "socket_filter",
        /// kprobe/uprobe.
        Kprobe = 2 => "kprobe",
        /// tc classifier.
        SchedCls = 3 => "sched_cls",
        /// tc action.
        SchedAct = 4 => "sched_act",
        /// Tracepoint.
        Tracepoint = 5 => "tracepoint",
        /// XDP.
        Xdp = 6 => "xdp",
        /// perf event sampler.
        PerfEvent = 7 => "perf_event",
        /// cgroup skb filter.
        CgroupSkb = 8 => "cgroup_skb",
        /// cgroup socket hooks.
        CgroupSock = 9 => "cgroup_sock",
        /// Lightweight tunnel input.
        LwtIn = 10 => "lwt_in",
        /// Lightweight tunnel output.
        LwtOut = 11 => "lwt_out",
        /// Lightweight tunnel xmit.
        LwtXmit = 12 => "lwt_xmit",
        /// TCP socket operations.
        SockOps = 13 => "sock_ops",
        /// sockmap skb.
        SkSkb = 14 => "sk_skb",
        /// cgroup device access.
        CgroupDevice = 15 => "cgroup_device",
        /// sockmap message.
        SkMsg = 16 => "sk_msg",
        /// Raw tracepoint.
        RawTracepoint = 17 => "raw_tracepoint",
        /// cgroup sockaddr hooks.
        CgroupSockAddr = 18 => "cgroup_sock_addr",
        /// seg6local.
        LwtSeg6local = 19 => "lwt_seg6local",
        /// IR decoder.
        LircMode2 = 20 => "lirc_mode2",
        /// SO_REUSEPORT selection.
        SkReuseport = 21 => "sk_reuseport",
        /// Flow dissector.
        FlowDissector = 22 => "flow_dissector",
        /// cgroup sysctl.
        CgroupSysctl = 23 => "cgroup_sysctl",
        /// Writable raw tracepoint.
        RawTracepointWritable = 24 => "raw_tracepoint_writable",
        /// cgroup sockopt.
        CgroupSockopt = 25 => "cgroup_sockopt",
        /// BTF tracing: tp_btf, fentry/fexit/fmod_ret, iterators.
        Tracing = 26 => "tracing",
        /// struct_ops.
        StructOps = 27 => "struct_ops",
        /// freplace extension.
        Ext = 28 => "ext",
        /// BPF LSM.
        Lsm = 29 => "lsm",
        /// Socket lookup.
        SkLookup = 30 => "sk_lookup",
        /// Syscall program (runs via test_run).
        Syscall = 31 => "syscall",
        /// Netfilter hook.
        Netfilter = 32 => "netfilter",
    }
}

kernel_enum! {
    /// `enum bpf_attach_type`.
    pub enum AttachType ("attach type") {
        /// cgroup ingress skb.
        CgroupInetIngress = 0 => "cgroup_inet_ingress",
        /// cgroup egress skb.
        CgroupInetEgress = 1 => "cgroup_inet_egress",
        /// cgroup socket creation.
        CgroupInetSockCreate = 2 => "cgroup_inet_sock_create",
        /// cgroup sock_ops.
        CgroupSockOps = 3 => "cgroup_sock_ops",
        /// sockmap stream parser.
        SkSkbStreamParser = 4 => "sk_skb_stream_parser",
        /// sockmap stream verdict.
        SkSkbStreamVerdict = 5 => "sk_skb_stream_verdict",
        /// cgroup device.
        CgroupDevice = 6 => "cgroup_device",
        /// sockmap msg verdict.
        SkMsgVerdict = 7 => "sk_msg_verdict",
        /// bind(2) IPv4.
        CgroupInet4Bind = 8 => "cgroup_inet4_bind",
        /// bind(2) IPv6.
        CgroupInet6Bind = 9 => "cgroup_inet6_bind",
        /// connect(2) IPv4.
        CgroupInet4Connect = 10 => "cgroup_inet4_connect",
        /// connect(2) IPv6.
        CgroupInet6Connect = 11 => "cgroup_inet6_connect",
        /// After bind IPv4.
        CgroupInet4PostBind = 12 => "cgroup_inet4_post_bind",
        /// After bind IPv6.
        CgroupInet6PostBind = 13 => "cgroup_inet6_post_bind",
        /// UDP sendmsg IPv4.
        CgroupUdp4Sendmsg = 14 => "cgroup_udp4_sendmsg",
        /// UDP sendmsg IPv6.
        CgroupUdp6Sendmsg = 15 => "cgroup_udp6_sendmsg",
        /// IR decoder.
        LircMode2 = 16 => "lirc_mode2",
        /// Flow dissector.
        FlowDissector = 17 => "flow_dissector",
        /// cgroup sysctl.
        CgroupSysctl = 18 => "cgroup_sysctl",
        /// UDP recvmsg IPv4.
        CgroupUdp4Recvmsg = 19 => "cgroup_udp4_recvmsg",
        /// UDP recvmsg IPv6.
        CgroupUdp6Recvmsg = 20 => "cgroup_udp6_recvmsg",
        /// getsockopt.
        CgroupGetsockopt = 21 => "cgroup_getsockopt",
        /// setsockopt.
        CgroupSetsockopt = 22 => "cgroup_setsockopt",
        /// tp_btf.
        TraceRawTp = 23 => "trace_raw_tp",
        /// fentry.
        TraceFentry = 24 => "trace_fentry",
        /// fexit.
        TraceFexit = 25 => "trace_fexit",
        /// fmod_ret.
        ModifyReturn = 26 => "modify_return",
        /// LSM hook.
        LsmMac = 27 => "lsm_mac",
        /// Iterator.
        TraceIter = 28 => "trace_iter",
        /// getpeername IPv4.
        CgroupInet4Getpeername = 29 => "cgroup_inet4_getpeername",
        /// getpeername IPv6.
        CgroupInet6Getpeername = 30 => "cgroup_inet6_getpeername",
        /// getsockname IPv4.
        CgroupInet4Getsockname = 31 => "cgroup_inet4_getsockname",
        /// getsockname IPv6.
        CgroupInet6Getsockname = 32 => "cgroup_inet6_getsockname",
        /// XDP in a devmap.
        XdpDevmap = 33 => "xdp_devmap",
        /// Socket release.
        CgroupInetSockRelease = 34 => "cgroup_inet_sock_release",
        /// XDP in a cpumap.
        XdpCpumap = 35 => "xdp_cpumap",
        /// Socket lookup.
        SkLookup = 36 => "sk_lookup",
        /// XDP link.
        Xdp = 37 => "xdp",
        /// sockmap skb verdict.
        SkSkbVerdict = 38 => "sk_skb_verdict",
        /// reuseport select.
        SkReuseportSelect = 39 => "sk_reuseport_select",
        /// reuseport select or migrate.
        SkReuseportSelectOrMigrate = 40 => "sk_reuseport_select_or_migrate",
        /// perf event link.
        PerfEvent = 41 => "perf_event",
        /// kprobe.multi.
        TraceKprobeMulti = 42 => "trace_kprobe_multi",
        /// cgroup LSM.
        LsmCgroup = 43 => "lsm_cgroup",
        /// struct_ops link.
        StructOps = 44 => "struct_ops",
        /// Netfilter.
        Netfilter = 45 => "netfilter",
        /// tcx ingress.
        TcxIngress = 46 => "tcx_ingress",
        /// tcx egress.
        TcxEgress = 47 => "tcx_egress",
        /// uprobe.multi.
        TraceUprobeMulti = 48 => "trace_uprobe_multi",
        /// Unix connect.
        CgroupUnixConnect = 49 => "cgroup_unix_connect",
        /// Unix sendmsg.
        CgroupUnixSendmsg = 50 => "cgroup_unix_sendmsg",
        /// Unix recvmsg.
        CgroupUnixRecvmsg = 51 => "cgroup_unix_recvmsg",
        /// Unix getpeername.
        CgroupUnixGetpeername = 52 => "cgroup_unix_getpeername",
        /// Unix getsockname.
        CgroupUnixGetsockname = 53 => "cgroup_unix_getsockname",
        /// netkit primary.
        NetkitPrimary = 54 => "netkit_primary",
        /// netkit peer.
        NetkitPeer = 55 => "netkit_peer",
        /// kprobe session.
        TraceKprobeSession = 56 => "trace_kprobe_session",
        /// uprobe session.
        TraceUprobeSession = 57 => "trace_uprobe_session",
    }
}

/// Everything needed to load a program. Build with [`ProgramSpec::new`] and the setters.
#[derive(Clone, Debug)]
pub struct ProgramSpec<'a> {
    /// Object name (the kernel keeps 15 bytes of `[A-Za-z0-9_.]`; others become `_`).
    pub name: String,
    /// Program type.
    pub prog_type: ProgramType,
    /// Attach type the verifier checks against, where the program type needs one.
    pub expected_attach_type: Option<AttachType>,
    /// The instructions.
    pub insns: &'a [Insn],
    /// License (`"GPL"` unlocks GPL-only helpers).
    pub license: String,
    /// `kern_version` (only old kernels check it, for kprobes).
    pub kern_version: u32,
    /// `BPF_F_*` load flags (e.g. [`bpfkit_sys::prog::F_SLEEPABLE`]).
    pub prog_flags: u32,
    /// In-kernel BTF type id to attach to (tracing, lsm, struct_ops, ext).
    pub attach_btf_id: Option<u32>,
    /// Module BTF holding `attach_btf_id` (vmlinux if `None`).
    pub attach_btf_obj_fd: Option<BorrowedFd<'a>>,
    /// Target program for freplace or fentry on a BPF program.
    pub attach_prog_fd: Option<BorrowedFd<'a>>,
    /// The program's own BTF (with func_info/line_info).
    pub prog_btf_fd: Option<BorrowedFd<'a>>,
    /// Raw `bpf_func_info` records.
    pub func_info: &'a [u8],
    /// Size of one func_info record.
    pub func_info_rec_size: u32,
    /// Raw `bpf_line_info` records.
    pub line_info: &'a [u8],
    /// Size of one line_info record.
    pub line_info_rec_size: u32,
    /// fds for `BPF_PSEUDO_MAP_IDX` and kfunc module BTFs.
    pub fd_array: &'a [RawFd],
    /// Device for offload / dev-bound programs.
    pub ifindex: u32,
    /// Verifier log level: 0 logs only on failure, 1 branches, 2 full states, 4 stats.
    pub log_level: u32,
    /// Verifier log buffer bytes: 0 grows it until the log fits; otherwise exactly this
    /// many, and a longer log fails the load with `ENOSPC`.
    pub log_size: u32,
}

impl<'a> ProgramSpec<'a> {
    /// A spec with license `GPL` and no attach details.
    pub fn new(name: impl Into<String>, prog_type: ProgramType, insns: &'a [Insn]) -> Self {
        ProgramSpec {
            name: name.into(),
            prog_type,
            expected_attach_type: None,
            insns,
            license: "GPL".into(),
            kern_version: 0,
            prog_flags: 0,
            attach_btf_id: None,
            attach_btf_obj_fd: None,
            attach_prog_fd: None,
            prog_btf_fd: None,
            func_info: &[],
            func_info_rec_size: 0,
            line_info: &[],
            line_info_rec_size: 0,
            fd_array: &[],
            ifindex: 0,
            log_level: 0,
            log_size: 0,
        }
    }

    /// Sets the expected attach type.
    pub fn expected_attach_type(mut self, t: AttachType) -> Self {
        self.expected_attach_type = Some(t);
        self
    }

    /// Sets the license.
    pub fn license(mut self, license: impl Into<String>) -> Self {
        self.license = license.into();
        self
    }

    /// Sets the load flags.
    pub fn prog_flags(mut self, flags: u32) -> Self {
        self.prog_flags = flags;
        self
    }

    /// Sets the BTF id to attach to (and, optionally, the module BTF holding it).
    pub fn attach_btf_id(mut self, id: u32, obj: Option<BorrowedFd<'a>>) -> Self {
        self.attach_btf_id = Some(id);
        self.attach_btf_obj_fd = obj;
        self
    }

    /// Sets the BPF program to attach to (freplace, fentry on a program).
    pub fn attach_prog(mut self, prog: BorrowedFd<'a>) -> Self {
        self.attach_prog_fd = Some(prog);
        self
    }

    /// Sets the program's BTF with its func_info and line_info records.
    pub fn btf(
        mut self,
        btf: BorrowedFd<'a>,
        func_info: &'a [u8],
        func_info_rec_size: u32,
        line_info: &'a [u8],
        line_info_rec_size: u32,
    ) -> Self {
        self.prog_btf_fd = Some(btf);
        self.func_info = func_info;
        self.func_info_rec_size = func_info_rec_size;
        self.line_info = line_info;
        self.line_info_rec_size = line_info_rec_size;
        self
    }

    /// Sets the fd array.
    pub fn fd_array(mut self, fds: &'a [RawFd]) -> Self {
        self.fd_array = fds;
        self
    }

    /// Sets the verifier log level.
    pub fn log_level(mut self, level: u32) -> Self {
        self.log_level = level;
        self
    }

    /// Sets a fixed verifier log buffer size (see [`ProgramSpec::log_size`]).
    pub fn log_size(mut self, bytes: u32) -> Self {
        self.log_size = bytes;
        self
    }

    /// Sets `kern_version`.
    pub fn kern_version(mut self, v: u32) -> Self {
        self.kern_version = v;
        self
    }

    /// Sets the ifindex (offload, dev-bound).
    pub fn ifindex(mut self, ifindex: u32) -> Self {
        self.ifindex = ifindex;
        self
    }
}

/// The kernel accepts only `[A-Za-z0-9_.]` in object names.
pub(crate) fn sanitize_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(sys::OBJ_NAME_LEN - 1)
        .collect()
}

/// Input of [`Program::test_run`].
#[derive(Clone, Debug, Default)]
pub struct TestRun<'a> {
    /// Data in (a packet for networking programs).
    pub data_in: &'a [u8],
    /// Room for data out.
    pub data_out_size: Option<usize>,
    /// Context in.
    pub ctx_in: &'a [u8],
    /// Room for the context out.
    pub ctx_out_size: Option<usize>,
    /// Number of runs.
    pub repeat: u32,
    /// `BPF_F_TEST_*` flags.
    pub flags: u32,
    /// CPU (with `BPF_F_TEST_RUN_ON_CPU`).
    pub cpu: u32,
}

/// Output of [`Program::test_run`].
pub type TestRunOutput = sys::TestRunResult;

/// Facts about a loaded program (`bpf_prog_info`), decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramInfo {
    /// Kernel id.
    pub id: u32,
    /// Type number (see [`ProgramInfo::program_type`]).
    pub prog_type: u32,
    /// Name.
    pub name: String,
    /// Tag (hash of the instructions), as bpftool prints it.
    pub tag: [u8; 8],
    /// Size of the translated program in bytes.
    pub xlated_len: u32,
    /// Size of the JIT image in bytes.
    pub jited_len: u32,
    /// Load time, ns since boot.
    pub load_time_ns: u64,
    /// uid of the loader.
    pub created_by_uid: u32,
    /// Map ids the program uses.
    pub map_ids: Vec<u32>,
    /// BTF id of the program's BTF (0: none).
    pub btf_id: u32,
    /// Whether the license is GPL-compatible.
    pub gpl_compatible: bool,
    /// Instructions the verifier processed.
    pub verified_insns: u32,
    /// Cumulative run time (with stats enabled).
    pub run_time_ns: u64,
    /// Run count (with stats enabled).
    pub run_cnt: u64,
    /// Recursion misses.
    pub recursion_misses: u64,
    /// BTF object id of the attach target.
    pub attach_btf_obj_id: u32,
    /// BTF type id of the attach target.
    pub attach_btf_id: u32,
    /// Offload device.
    pub ifindex: u32,
}

impl ProgramInfo {
    /// The program type, when this crate knows it.
    pub fn program_type(&self) -> Option<ProgramType> {
        ProgramType::from_u32(self.prog_type)
    }

    /// The tag as 16 hex digits.
    pub fn tag_hex(&self) -> String {
        self.tag.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub(crate) fn from_fd(fd: BorrowedFd<'_>) -> Result<ProgramInfo> {
        let raw = sys::prog_info(fd)?;
        let mut map_ids = Vec::new();
        if raw.nr_map_ids > 0 {
            map_ids = vec![0u32; raw.nr_map_ids as usize];
            let mut again = sys::ProgInfo {
                nr_map_ids: raw.nr_map_ids,
                map_ids: map_ids.as_mut_ptr() as u64,
                ..Default::default()
            };
            // A pointer into our own Vec: the address is handed to the kernel as plain data,
            // so this side stays safe code; the Vec outlives the call.
            bpfkit_sys::obj::obj_get_info_by_fd(fd, &mut again)?;
            map_ids.truncate(again.nr_map_ids as usize);
        }
        Ok(ProgramInfo {
            id: raw.id,
            prog_type: raw.prog_type,
            name: raw.name(),
            tag: raw.tag,
            xlated_len: raw.xlated_prog_len,
            jited_len: raw.jited_prog_len,
            load_time_ns: raw.load_time,
            created_by_uid: raw.created_by_uid,
            map_ids,
            btf_id: raw.btf_id,
            gpl_compatible: raw.gpl_compatible & 1 != 0,
            verified_insns: raw.verified_insns,
            run_time_ns: raw.run_time_ns,
            run_cnt: raw.run_cnt,
            recursion_misses: raw.recursion_misses,
            attach_btf_obj_id: raw.attach_btf_obj_id,
            attach_btf_id: raw.attach_btf_id,
            ifindex: raw.ifindex,
        })
    }
}

/// A loaded program. Dropping it closes the fd; the kernel frees the program when no link,
/// pin or other fd holds it.
#[derive(Debug)]
pub struct Program {
    fd: OwnedFd,
    name: String,
    prog_type: ProgramType,
    expected_attach_type: Option<AttachType>,
    log: String,
}

impl Program {
    /// Loads a program. A verifier rejection gives [`Error::Verifier`] with the complete log.
    pub fn load(spec: &ProgramSpec<'_>) -> Result<Program> {
        crate::memlock::ensure();
        let name = sanitize_name(&spec.name);
        let license = CString::new(spec.license.as_str()).map_err(|_| {
            Error::InvalidArgument(format!(
                "program `{}`: the license string contains a NUL byte",
                spec.name
            ))
        })?;
        if spec.insns.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "program `{}` has no instructions",
                spec.name
            )));
        }
        let insns = bpfkit_insn::insns_to_bytes(spec.insns);
        let attr = sys::ProgLoad {
            prog_type: spec.prog_type.as_u32(),
            insns: &insns,
            license: Some(&license),
            kern_version: spec.kern_version,
            prog_flags: spec.prog_flags,
            name: &name,
            ifindex: spec.ifindex,
            expected_attach_type: spec.expected_attach_type.map_or(0, AttachType::as_u32),
            prog_btf_fd: spec.prog_btf_fd,
            func_info: spec.func_info,
            func_info_rec_size: spec.func_info_rec_size,
            line_info: spec.line_info,
            line_info_rec_size: spec.line_info_rec_size,
            attach_btf_id: spec.attach_btf_id.unwrap_or(0),
            attach_btf_obj_fd: spec.attach_btf_obj_fd,
            attach_prog_fd: spec.attach_prog_fd,
            fd_array: spec.fd_array,
            core_relos: &[],
            core_relo_rec_size: 0,
            log_level: spec.log_level,
            log_size: spec.log_size,
            token_fd: None,
        };
        match sys::prog_load(&attr) {
            Ok(loaded) => Ok(Program {
                fd: loaded.fd,
                name: spec.name.clone(),
                prog_type: spec.prog_type,
                expected_attach_type: spec.expected_attach_type,
                log: loaded.log,
            }),
            Err(fail) if fail.log.is_empty() => Err(crate::attach::fentry::refine_load_error(
                spec,
                Error::Sys(fail.error),
            )),
            Err(fail) => Err(Error::Verifier {
                name: spec.name.clone(),
                source: fail.error,
                log: fail.log,
            }),
        }
    }

    /// Wraps an fd that refers to a program (from a pin, an id, or another process).
    pub fn from_fd(fd: OwnedFd) -> Result<Program> {
        let info = ProgramInfo::from_fd(fd.as_fd())?;
        let prog_type = ProgramType::from_u32(info.prog_type).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "program {} has type {}, unknown to bpfkit",
                info.id, info.prog_type
            ))
        })?;
        Ok(Program {
            fd,
            name: info.name,
            prog_type,
            expected_attach_type: None,
            log: String::new(),
        })
    }

    /// Opens the program pinned at `path`.
    pub fn from_pin(path: impl AsRef<Path>) -> Result<Program> {
        Program::from_fd(crate::pin::open_pinned(path.as_ref(), "program")?)
    }

    /// Opens the loaded program with kernel id `id`.
    pub fn from_id(id: u32) -> Result<Program> {
        Program::from_fd(bpfkit_sys::obj::get_fd_by_id(ObjKind::Prog, id)?)
    }

    /// The program's fd.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The name given at load (or the kernel's truncated name for opened programs).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The program type.
    pub fn prog_type(&self) -> ProgramType {
        self.prog_type
    }

    /// The expected attach type given at load, if any.
    pub fn expected_attach_type(&self) -> Option<AttachType> {
        self.expected_attach_type
    }

    /// The verifier log of a successful load (empty unless a log level was set).
    pub fn verifier_log(&self) -> &str {
        &self.log
    }

    /// The kernel id.
    pub fn id(&self) -> Result<u32> {
        Ok(sys::prog_info(self.fd())?.id)
    }

    /// The tag (hash of the instructions).
    pub fn tag(&self) -> Result<[u8; 8]> {
        Ok(sys::prog_info(self.fd())?.tag)
    }

    /// The program's info.
    pub fn info(&self) -> Result<ProgramInfo> {
        ProgramInfo::from_fd(self.fd())
    }

    /// The instructions as the kernel holds them after verification.
    pub fn xlated_insns(&self) -> Result<Vec<Insn>> {
        let (_, arrays) = sys::prog_info_full(self.fd())?;
        bpfkit_insn::decode_all(&arrays.xlated).map_err(|e| {
            Error::InvalidArgument(format!("program `{}`: xlated code: {e}", self.name))
        })
    }

    /// Pins the program at `path` on bpffs.
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::pin::pin_fd(self.fd(), path.as_ref(), "program")
    }

    /// Runs the program once or more on test input (`BPF_PROG_TEST_RUN`).
    pub fn test_run(&self, t: &TestRun<'_>) -> Result<TestRunOutput> {
        let raw = sys::TestRun {
            data_in: t.data_in,
            data_out_size: t.data_out_size,
            ctx_in: t.ctx_in,
            ctx_out_size: t.ctx_out_size,
            repeat: t.repeat,
            flags: t.flags,
            cpu: t.cpu,
            batch_size: 0,
        };
        Ok(sys::prog_test_run(self.fd(), &raw)?)
    }

    /// Keeps `map` alive as long as this program (`BPF_PROG_BIND_MAP`).
    pub fn bind_map(&self, map: BorrowedFd<'_>) -> Result<()> {
        Ok(sys::prog_bind_map(self.fd(), map)?)
    }

    /// Gives up ownership of the fd.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }
}

impl AsFd for Program {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Program {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_roundtrip() {
        for t in ProgramType::ALL {
            assert_eq!(ProgramType::from_name(t.name()), Some(*t));
            assert_eq!(ProgramType::from_u32(t.as_u32()), Some(*t));
        }
        for t in AttachType::ALL {
            assert_eq!(AttachType::from_name(t.name()), Some(*t));
        }
        assert_eq!(ProgramType::Netfilter.as_u32(), 32);
        assert_eq!(AttachType::TraceUprobeMulti.as_u32(), 48);
        assert!("nope".parse::<ProgramType>().is_err());
    }

    #[test]
    fn names_are_sanitized() {
        assert_eq!(sanitize_name("a-b:c"), "a_b_c");
        assert_eq!(sanitize_name("0123456789abcdefgh").len(), 15);
    }
}
