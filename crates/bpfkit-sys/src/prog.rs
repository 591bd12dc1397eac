//! Program commands: `BPF_PROG_LOAD` (with a verifier log that grows until the whole log fits),
//! `BPF_PROG_TEST_RUN`, `BPF_PROG_ATTACH`/`DETACH`/`QUERY`, `BPF_PROG_BIND_MAP`, and the
//! `bpf_prog_info` layout.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use crate::cmd::{bpf, bpf_fd, Cmd};
use crate::error::{Error, Result};

/// Length of kernel object names including the NUL (`BPF_OBJ_NAME_LEN`).
pub const OBJ_NAME_LEN: usize = 16;

/// `BPF_F_STRICT_ALIGNMENT`.
pub const F_STRICT_ALIGNMENT: u32 = 1 << 0;
/// `BPF_F_ANY_ALIGNMENT`.
pub const F_ANY_ALIGNMENT: u32 = 1 << 1;
/// `BPF_F_TEST_RND_HI32`.
pub const F_TEST_RND_HI32: u32 = 1 << 2;
/// `BPF_F_SLEEPABLE`.
pub const F_SLEEPABLE: u32 = 1 << 4;
/// `BPF_F_XDP_HAS_FRAGS`.
pub const F_XDP_HAS_FRAGS: u32 = 1 << 5;
/// `BPF_F_XDP_DEV_BOUND_ONLY`.
pub const F_XDP_DEV_BOUND_ONLY: u32 = 1 << 6;

/// `BPF_F_ALLOW_OVERRIDE` (PROG_ATTACH).
pub const F_ALLOW_OVERRIDE: u32 = 1 << 0;
/// `BPF_F_ALLOW_MULTI` (PROG_ATTACH).
pub const F_ALLOW_MULTI: u32 = 1 << 1;
/// `BPF_F_REPLACE` (PROG_ATTACH, LINK_UPDATE).
pub const F_REPLACE: u32 = 1 << 2;
/// `BPF_F_BEFORE` (mprog attach).
pub const F_BEFORE: u32 = 1 << 3;
/// `BPF_F_AFTER` (mprog attach).
pub const F_AFTER: u32 = 1 << 4;
/// `BPF_F_ID`: `relative_fd` holds an id.
pub const F_ID: u32 = 1 << 5;
/// `BPF_F_LINK`: the relative object is a link.
pub const F_LINK: u32 = 1 << 13;
/// `BPF_F_QUERY_EFFECTIVE` (PROG_QUERY).
pub const F_QUERY_EFFECTIVE: u32 = 1 << 0;
/// `BPF_F_TEST_RUN_ON_CPU` (PROG_TEST_RUN).
pub const F_TEST_RUN_ON_CPU: u32 = 1 << 0;
/// `BPF_F_TEST_XDP_LIVE_FRAMES` (PROG_TEST_RUN).
pub const F_TEST_XDP_LIVE_FRAMES: u32 = 1 << 1;

/// Verifier log levels (`log_level` bits).
pub mod log_level {
    /// Errors and the instruction walk on failure.
    pub const BRANCHES: u32 = 1;
    /// Every instruction with register state.
    pub const STATES: u32 = 2;
    /// Only statistics (`processed N insns…`).
    pub const STATS: u32 = 4;
    /// `BPF_LOG_FIXED`: keep the beginning of the log instead of the end when it overflows.
    pub const FIXED: u32 = 8;
}

/// The kernel's upper bound on `log_size` (`UINT_MAX >> 2`).
const LOG_SIZE_MAX: usize = (u32::MAX >> 2) as usize;
/// First log buffer size when a log is wanted; grown on `ENOSPC`.
const LOG_SIZE_INITIAL: usize = 64 * 1024;

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct ProgLoadRaw {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; OBJ_NAME_LEN],
    prog_ifindex: u32,
    expected_attach_type: u32,
    prog_btf_fd: u32,
    func_info_rec_size: u32,
    func_info: u64,
    func_info_cnt: u32,
    line_info_rec_size: u32,
    line_info: u64,
    line_info_cnt: u32,
    attach_btf_id: u32,
    /// `attach_prog_fd` or `attach_btf_obj_fd` (a union in the uapi).
    attach_fd: u32,
    core_relo_cnt: u32,
    fd_array: u64,
    core_relos: u64,
    core_relo_rec_size: u32,
    log_true_size: u32,
    prog_token_fd: i32,
    fd_array_cnt: u32,
}

/// Everything `BPF_PROG_LOAD` takes. Unused fields stay zero, which every kernel accepts.
#[derive(Clone, Debug, Default)]
pub struct ProgLoad<'a> {
    /// `enum bpf_prog_type`.
    pub prog_type: u32,
    /// Encoded instructions, 8 bytes each.
    pub insns: &'a [u8],
    /// License string (`"GPL"` unlocks GPL-only helpers).
    pub license: Option<&'a CStr>,
    /// `kern_version` (only kprobe programs on kernels before 5.0 check it).
    pub kern_version: u32,
    /// `BPF_F_*` load flags.
    pub prog_flags: u32,
    /// Object name; the kernel keeps at most 15 bytes of `[A-Za-z0-9_.]`.
    pub name: &'a str,
    /// Offload / dev-bound ifindex.
    pub ifindex: u32,
    /// `enum bpf_attach_type` the program is verified for.
    pub expected_attach_type: u32,
    /// BTF describing the program (needed with func_info/line_info).
    pub prog_btf_fd: Option<BorrowedFd<'a>>,
    /// `bpf_func_info` records.
    pub func_info: &'a [u8],
    /// Size of one func_info record.
    pub func_info_rec_size: u32,
    /// `bpf_line_info` records.
    pub line_info: &'a [u8],
    /// Size of one line_info record.
    pub line_info_rec_size: u32,
    /// In-kernel BTF type id to attach to (tracing, lsm, struct_ops, ext).
    pub attach_btf_id: u32,
    /// Module BTF object holding `attach_btf_id` (vmlinux when `None`).
    pub attach_btf_obj_fd: Option<BorrowedFd<'a>>,
    /// Program to attach to (freplace, or fentry on a BPF program); overrides `attach_btf_obj_fd`.
    pub attach_prog_fd: Option<BorrowedFd<'a>>,
    /// fds that `BPF_PSEUDO_*_IDX` instructions and kfunc calls index into.
    pub fd_array: &'a [i32],
    /// `bpf_core_relo` records for the kernel to apply.
    pub core_relos: &'a [u8],
    /// Size of one core_relo record.
    pub core_relo_rec_size: u32,
    /// Verifier log level (see [`log_level`]); 0 asks for a log only when loading fails.
    pub log_level: u32,
    /// Log buffer bytes: 0 starts at 64 KiB and grows while the log does not fit; any other
    /// value is used as is, so a log that does not fit fails the load with `ENOSPC`.
    pub log_size: u32,
    /// BPF token granting delegated rights.
    pub token_fd: Option<BorrowedFd<'a>>,
}

/// A loaded program and the verifier's log (empty unless a log level was asked for).
#[derive(Debug)]
pub struct Loaded {
    /// The program.
    pub fd: OwnedFd,
    /// The verifier log.
    pub log: String,
}

/// A failed load: the error and, when the verifier produced one, its whole log.
#[derive(Debug)]
pub struct LoadFailure {
    /// The `BPF_PROG_LOAD` error.
    pub error: Error,
    /// The verifier log (empty when the kernel refused before verifying).
    pub log: String,
}

fn fd_u32(fd: Option<BorrowedFd<'_>>) -> u32 {
    fd.map_or(0, |f| f.as_raw_fd() as u32)
}

fn count(bytes: &[u8], rec: u32) -> u32 {
    if rec == 0 {
        0
    } else {
        (bytes.len() / rec as usize) as u32
    }
}

fn ptr_or_null(bytes: &[u8]) -> u64 {
    if bytes.is_empty() {
        0
    } else {
        bytes.as_ptr() as u64
    }
}

/// Copies a name into a fixed object-name field, keeping it NUL-terminated.
pub fn obj_name(name: &str) -> [u8; OBJ_NAME_LEN] {
    let mut out = [0u8; OBJ_NAME_LEN];
    for (dst, src) in out.iter_mut().zip(name.bytes().take(OBJ_NAME_LEN - 1)) {
        *dst = src;
    }
    out
}

/// Reads a NUL-terminated object name field.
pub fn name_from_bytes(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn log_text(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).trim_end().to_string()
}

/// Loads a program (`BPF_PROG_LOAD`).
///
/// With `log_level == 0` the first attempt asks for no log (the fast path); if it fails for a
/// reason other than privilege, the load is repeated at level 1 to capture why. Whenever the log
/// does not fit (`ENOSPC`) the buffer grows — to the kernel's `log_true_size` when it reports one,
/// else four-fold — and the load is retried, so the caller always gets the complete log.
pub fn prog_load(p: &ProgLoad<'_>) -> Result<Loaded, LoadFailure> {
    let name = obj_name(p.name);
    let mut raw = ProgLoadRaw {
        prog_type: p.prog_type,
        insn_cnt: (p.insns.len() / 8) as u32,
        insns: ptr_or_null(p.insns),
        license: p.license.map_or(0, |l| l.as_ptr() as u64),
        kern_version: p.kern_version,
        prog_flags: p.prog_flags,
        prog_name: name,
        prog_ifindex: p.ifindex,
        expected_attach_type: p.expected_attach_type,
        prog_btf_fd: fd_u32(p.prog_btf_fd),
        func_info_rec_size: if p.func_info.is_empty() {
            0
        } else {
            p.func_info_rec_size
        },
        func_info: ptr_or_null(p.func_info),
        func_info_cnt: count(p.func_info, p.func_info_rec_size),
        line_info_rec_size: if p.line_info.is_empty() {
            0
        } else {
            p.line_info_rec_size
        },
        line_info: ptr_or_null(p.line_info),
        line_info_cnt: count(p.line_info, p.line_info_rec_size),
        attach_btf_id: p.attach_btf_id,
        attach_fd: if p.attach_prog_fd.is_some() {
            fd_u32(p.attach_prog_fd)
        } else {
            fd_u32(p.attach_btf_obj_fd)
        },
        core_relo_cnt: count(p.core_relos, p.core_relo_rec_size),
        fd_array: if p.fd_array.is_empty() {
            0
        } else {
            p.fd_array.as_ptr() as u64
        },
        core_relos: ptr_or_null(p.core_relos),
        core_relo_rec_size: if p.core_relos.is_empty() {
            0
        } else {
            p.core_relo_rec_size
        },
        prog_token_fd: p.token_fd.map_or(0, |f| f.as_raw_fd()),
        ..Default::default()
    };
    if p.token_fd.is_some() {
        // BPF_F_TOKEN_FD tells the kernel prog_token_fd is meaningful.
        raw.prog_flags |= 1 << 16;
    }

    let mut level = p.log_level;
    let mut buf: Vec<u8> = Vec::new();
    let initial = if p.log_size == 0 {
        LOG_SIZE_INITIAL
    } else {
        p.log_size as usize
    };
    if level != 0 {
        buf = vec![0u8; initial];
    }
    loop {
        raw.log_level = level;
        raw.log_size = buf.len() as u32;
        raw.log_buf = if buf.is_empty() {
            0
        } else {
            buf.as_mut_ptr() as u64
        };
        raw.log_true_size = 0;
        if let Some(b) = buf.first_mut() {
            *b = 0;
        }
        let res = bpf_fd(Cmd::ProgLoad, &mut raw);
        match res {
            Ok(fd) => {
                return Ok(Loaded {
                    fd,
                    log: log_text(&buf),
                })
            }
            Err(e) => {
                let errno = e.errno();
                if errno == Some(libc::ENOSPC)
                    && p.log_size == 0
                    && !buf.is_empty()
                    && buf.len() < LOG_SIZE_MAX
                {
                    let want = (raw.log_true_size as usize).max(buf.len().saturating_mul(4));
                    buf = vec![0u8; want.min(LOG_SIZE_MAX)];
                    continue;
                }
                let refused_early = matches!(e, Error::Permission { .. })
                    || errno == Some(libc::E2BIG)
                    || errno == Some(libc::EFAULT);
                if level == 0 && !refused_early {
                    level = log_level::BRANCHES;
                    buf = vec![0u8; initial];
                    continue;
                }
                return Err(LoadFailure {
                    error: e,
                    log: log_text(&buf),
                });
            }
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct TestRunRaw {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    _pad: u32,
}

/// Input of `BPF_PROG_TEST_RUN`.
#[derive(Clone, Debug, Default)]
pub struct TestRun<'a> {
    /// Packet (or other) data in.
    pub data_in: &'a [u8],
    /// Room for data out (`None`: not wanted).
    pub data_out_size: Option<usize>,
    /// Context in.
    pub ctx_in: &'a [u8],
    /// Room for the context out (`None`: not wanted).
    pub ctx_out_size: Option<usize>,
    /// Number of runs (0 and 1 both mean once).
    pub repeat: u32,
    /// `BPF_F_TEST_*` flags.
    pub flags: u32,
    /// CPU to run on (with [`F_TEST_RUN_ON_CPU`]).
    pub cpu: u32,
    /// Batch size for XDP live frames.
    pub batch_size: u32,
}

/// Output of `BPF_PROG_TEST_RUN`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestRunResult {
    /// The program's return value.
    pub retval: u32,
    /// Average run time in nanoseconds.
    pub duration_ns: u32,
    /// Data out, truncated to what the kernel wrote.
    pub data_out: Vec<u8>,
    /// Context out, truncated to what the kernel wrote.
    pub ctx_out: Vec<u8>,
}

/// Runs a program on test input (`BPF_PROG_TEST_RUN`).
pub fn prog_test_run(prog: BorrowedFd<'_>, t: &TestRun<'_>) -> Result<TestRunResult> {
    let mut data_out = vec![0u8; t.data_out_size.unwrap_or(0)];
    let mut ctx_out = vec![0u8; t.ctx_out_size.unwrap_or(0)];
    let mut raw = TestRunRaw {
        prog_fd: prog.as_raw_fd() as u32,
        data_size_in: t.data_in.len() as u32,
        data_size_out: data_out.len() as u32,
        data_in: ptr_or_null(t.data_in),
        data_out: if data_out.is_empty() {
            0
        } else {
            data_out.as_mut_ptr() as u64
        },
        repeat: t.repeat,
        ctx_size_in: t.ctx_in.len() as u32,
        ctx_size_out: ctx_out.len() as u32,
        ctx_in: ptr_or_null(t.ctx_in),
        ctx_out: if ctx_out.is_empty() {
            0
        } else {
            ctx_out.as_mut_ptr() as u64
        },
        flags: t.flags,
        cpu: t.cpu,
        batch_size: t.batch_size,
        ..Default::default()
    };
    bpf(Cmd::ProgTestRun, &mut raw)?;
    data_out.truncate(raw.data_size_out as usize);
    ctx_out.truncate(raw.ctx_size_out as usize);
    Ok(TestRunResult {
        retval: raw.retval,
        duration_ns: raw.duration,
        data_out,
        ctx_out,
    })
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct AttachRaw {
    target: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
    relative: u32,
    expected_revision: u64,
}

/// Arguments of `BPF_PROG_ATTACH` / `BPF_PROG_DETACH`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProgAttach {
    /// Target fd (cgroup, netns, map) or ifindex (tcx).
    pub target: u32,
    /// Program fd (detach: optional, 0 for the single-program hooks).
    pub prog_fd: u32,
    /// `enum bpf_attach_type`.
    pub attach_type: u32,
    /// `BPF_F_ALLOW_MULTI`, `BPF_F_ALLOW_OVERRIDE`, `BPF_F_REPLACE`, `BPF_F_BEFORE`…
    pub flags: u32,
    /// Program to replace with `BPF_F_REPLACE`.
    pub replace_prog_fd: u32,
    /// Relative fd or id for `BPF_F_BEFORE`/`BPF_F_AFTER`.
    pub relative: u32,
    /// Expected revision of the hook's program list (0: any).
    pub expected_revision: u64,
}

impl ProgAttach {
    fn raw(&self) -> AttachRaw {
        AttachRaw {
            target: self.target,
            attach_bpf_fd: self.prog_fd,
            attach_type: self.attach_type,
            attach_flags: self.flags,
            replace_bpf_fd: self.replace_prog_fd,
            relative: self.relative,
            expected_revision: self.expected_revision,
        }
    }
}

/// Attaches a program to a hook without a link (`BPF_PROG_ATTACH`).
pub fn prog_attach(a: &ProgAttach) -> Result<()> {
    bpf(Cmd::ProgAttach, &mut a.raw()).map(|_| ())
}

/// Detaches a program from a hook (`BPF_PROG_DETACH`).
pub fn prog_detach(a: &ProgAttach) -> Result<()> {
    bpf(Cmd::ProgDetach, &mut a.raw()).map(|_| ())
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct QueryRaw {
    target: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
    prog_attach_flags: u64,
    link_ids: u64,
    link_attach_flags: u64,
    revision: u64,
}

/// Result of `BPF_PROG_QUERY`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProgQuery {
    /// The hook's attach flags.
    pub attach_flags: u32,
    /// Attached program ids, in run order.
    pub prog_ids: Vec<u32>,
    /// Per-program attach flags (cgroup hooks, non-effective queries).
    pub prog_attach_flags: Vec<u32>,
    /// Link ids per program (0 where attached without a link; tcx/netkit).
    pub link_ids: Vec<u32>,
    /// Revision of the hook's program list (tcx/netkit/mprog hooks).
    pub revision: u64,
}

/// Lists the programs attached to a hook (`BPF_PROG_QUERY`), growing the id buffer as needed.
pub fn prog_query(target: u32, attach_type: u32, query_flags: u32) -> Result<ProgQuery> {
    let mut cap = 64usize;
    loop {
        let mut ids = vec![0u32; cap];
        let mut flags = vec![0u32; cap];
        let mut links = vec![0u32; cap];
        let mut raw = QueryRaw {
            target,
            attach_type,
            query_flags,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: cap as u32,
            ..Default::default()
        };
        let effective = query_flags & F_QUERY_EFFECTIVE != 0;
        if !effective {
            raw.prog_attach_flags = flags.as_mut_ptr() as u64;
        }
        raw.link_ids = links.as_mut_ptr() as u64;
        let res = bpf(Cmd::ProgQuery, &mut raw);
        // Kernels before 6.6 reject unknown non-zero fields with EINVAL only for some hooks;
        // retry without the mprog-only outputs.
        let res = match res {
            Err(e) if e.errno() == Some(libc::EINVAL) && raw.link_ids != 0 => {
                raw.link_ids = 0;
                raw.prog_cnt = cap as u32;
                links.clear();
                bpf(Cmd::ProgQuery, &mut raw)
            }
            r => r,
        };
        match res {
            Ok(_) => {
                let n = (raw.prog_cnt as usize).min(cap);
                ids.truncate(n);
                flags.truncate(if effective { 0 } else { n });
                links.truncate(if links.is_empty() { 0 } else { n });
                return Ok(ProgQuery {
                    attach_flags: raw.attach_flags,
                    prog_ids: ids,
                    prog_attach_flags: flags,
                    link_ids: links,
                    revision: raw.revision,
                });
            }
            Err(e) if e.errno() == Some(libc::ENOSPC) && (raw.prog_cnt as usize) > cap => {
                cap = raw.prog_cnt as usize;
            }
            Err(e) => return Err(e),
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct BindMapRaw {
    prog_fd: u32,
    map_fd: u32,
    flags: u32,
}

/// Keeps `map` alive as long as `prog` (`BPF_PROG_BIND_MAP`).
pub fn prog_bind_map(prog: BorrowedFd<'_>, map: BorrowedFd<'_>) -> Result<()> {
    let mut raw = BindMapRaw {
        prog_fd: prog.as_raw_fd() as u32,
        map_fd: map.as_raw_fd() as u32,
        flags: 0,
    };
    bpf(Cmd::ProgBindMap, &mut raw).map(|_| ())
}

/// `struct bpf_prog_info`, uapi layout. Pointer fields are `u64` addresses of caller buffers.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
#[allow(missing_docs)] // field names are the kernel's
pub struct ProgInfo {
    pub prog_type: u32,
    pub id: u32,
    pub tag: [u8; 8],
    pub jited_prog_len: u32,
    pub xlated_prog_len: u32,
    pub jited_prog_insns: u64,
    pub xlated_prog_insns: u64,
    pub load_time: u64,
    pub created_by_uid: u32,
    pub nr_map_ids: u32,
    pub map_ids: u64,
    pub name: [u8; OBJ_NAME_LEN],
    pub ifindex: u32,
    /// Bit 0: `gpl_compatible`.
    pub gpl_compatible: u32,
    pub netns_dev: u64,
    pub netns_ino: u64,
    pub nr_jited_ksyms: u32,
    pub nr_jited_func_lens: u32,
    pub jited_ksyms: u64,
    pub jited_func_lens: u64,
    pub btf_id: u32,
    pub func_info_rec_size: u32,
    pub func_info: u64,
    pub nr_func_info: u32,
    pub nr_line_info: u32,
    pub line_info: u64,
    pub jited_line_info: u64,
    pub nr_jited_line_info: u32,
    pub line_info_rec_size: u32,
    pub jited_line_info_rec_size: u32,
    pub nr_prog_tags: u32,
    pub prog_tags: u64,
    pub run_time_ns: u64,
    pub run_cnt: u64,
    pub recursion_misses: u64,
    pub verified_insns: u32,
    pub attach_btf_obj_id: u32,
    pub attach_btf_id: u32,
    pub _pad: u32,
}

impl ProgInfo {
    /// The program's name.
    pub fn name(&self) -> String {
        name_from_bytes(&self.name)
    }
}

/// Fetches the fixed part of `bpf_prog_info` (no arrays).
pub fn prog_info(fd: BorrowedFd<'_>) -> Result<ProgInfo> {
    let mut info = ProgInfo::default();
    crate::obj::obj_get_info_by_fd(fd, &mut info)?;
    Ok(info)
}

/// The variable-length parts of a program's info, fetched on request.
#[derive(Clone, Debug, Default)]
pub struct ProgInfoArrays {
    /// Translated (post-verifier) instructions.
    pub xlated: Vec<u8>,
    /// JIT-compiled machine code.
    pub jited: Vec<u8>,
    /// Ids of the maps the program uses.
    pub map_ids: Vec<u32>,
    /// Kernel addresses of the JIT-ed functions.
    pub jited_ksyms: Vec<u64>,
    /// Lengths of the JIT-ed functions.
    pub jited_func_lens: Vec<u32>,
    /// `bpf_func_info` records.
    pub func_info: Vec<u8>,
    /// `bpf_line_info` records.
    pub line_info: Vec<u8>,
    /// `bpf_line_info` records against jited code (u64 addresses).
    pub jited_line_info: Vec<u64>,
    /// Tags of all subprograms.
    pub prog_tags: Vec<[u8; 8]>,
}

/// Fetches `bpf_prog_info` with all of its arrays (second call sized by the first).
pub fn prog_info_full(fd: BorrowedFd<'_>) -> Result<(ProgInfo, ProgInfoArrays)> {
    let first = prog_info(fd)?;
    let mut a = ProgInfoArrays {
        xlated: vec![0; first.xlated_prog_len as usize],
        jited: vec![0; first.jited_prog_len as usize],
        map_ids: vec![0; first.nr_map_ids as usize],
        jited_ksyms: vec![0; first.nr_jited_ksyms as usize],
        jited_func_lens: vec![0; first.nr_jited_func_lens as usize],
        func_info: vec![0; first.nr_func_info as usize * first.func_info_rec_size as usize],
        line_info: vec![0; first.nr_line_info as usize * first.line_info_rec_size as usize],
        jited_line_info: vec![0; first.nr_jited_line_info as usize],
        prog_tags: vec![[0; 8]; first.nr_prog_tags as usize],
    };
    fn p<T>(v: &mut [T]) -> u64 {
        if v.is_empty() {
            0
        } else {
            v.as_mut_ptr() as u64
        }
    }
    let mut info = ProgInfo {
        xlated_prog_len: a.xlated.len() as u32,
        xlated_prog_insns: p(&mut a.xlated),
        jited_prog_len: a.jited.len() as u32,
        jited_prog_insns: p(&mut a.jited),
        nr_map_ids: a.map_ids.len() as u32,
        map_ids: p(&mut a.map_ids),
        nr_jited_ksyms: a.jited_ksyms.len() as u32,
        jited_ksyms: p(&mut a.jited_ksyms),
        nr_jited_func_lens: a.jited_func_lens.len() as u32,
        jited_func_lens: p(&mut a.jited_func_lens),
        nr_func_info: first.nr_func_info,
        func_info_rec_size: first.func_info_rec_size,
        func_info: p(&mut a.func_info),
        nr_line_info: first.nr_line_info,
        line_info_rec_size: first.line_info_rec_size,
        line_info: p(&mut a.line_info),
        nr_jited_line_info: a.jited_line_info.len() as u32,
        jited_line_info_rec_size: if a.jited_line_info.is_empty() { 0 } else { 8 },
        jited_line_info: p(&mut a.jited_line_info),
        nr_prog_tags: a.prog_tags.len() as u32,
        prog_tags: p(&mut a.prog_tags),
        ..Default::default()
    };
    crate::obj::obj_get_info_by_fd(fd, &mut info)?;
    // The program cannot change after load, but a second reader may see fewer bytes (e.g. JIT
    // dumps hidden by bpf_jit_kallsyms/kptr_restrict): keep only what the kernel filled.
    a.xlated.truncate(info.xlated_prog_len as usize);
    a.jited.truncate(info.jited_prog_len as usize);
    a.map_ids.truncate(info.nr_map_ids as usize);
    a.jited_ksyms.truncate(info.nr_jited_ksyms as usize);
    a.jited_func_lens.truncate(info.nr_jited_func_lens as usize);
    // Restore the counts the fixed part reports, with the pointers cleared.
    let mut out = info;
    out.xlated_prog_insns = 0;
    out.jited_prog_insns = 0;
    out.map_ids = 0;
    out.jited_ksyms = 0;
    out.jited_func_lens = 0;
    out.func_info = 0;
    out.line_info = 0;
    out.jited_line_info = 0;
    out.prog_tags = 0;
    Ok((out, a))
}

/// Opens a program by id (`BPF_PROG_GET_FD_BY_ID`).
pub fn prog_fd_by_id(id: u32) -> Result<OwnedFd> {
    crate::obj::get_fd_by_id(crate::obj::ObjKind::Prog, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_uapi() {
        assert_eq!(std::mem::size_of::<ProgLoadRaw>(), 152);
        assert_eq!(std::mem::size_of::<TestRunRaw>(), 80);
        assert_eq!(std::mem::size_of::<AttachRaw>(), 32);
        assert_eq!(std::mem::size_of::<QueryRaw>(), 64);
        assert_eq!(std::mem::size_of::<ProgInfo>(), 232);
    }

    #[test]
    fn names_are_truncated_and_terminated() {
        let n = obj_name("a_very_long_program_name");
        assert_eq!(n[15], 0);
        assert_eq!(name_from_bytes(&n), "a_very_long_pro");
    }
}
