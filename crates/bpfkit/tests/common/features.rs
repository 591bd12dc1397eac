//! Kernel features that kernel tests declare before they run.
//!
//! A test that needs kprobes, fentry, a map or program type or a kernel version starts with
//! `require_feature!(Kprobes);` (several may be listed). On a kernel that has the feature the
//! test goes on and must pass; on one that lacks it the test prints
//! `TEST: skipped: kernel lacks kprobes (why)` and returns. libtest cannot mark a test skipped
//! at run time, so the line is written straight to stderr, past libtest's output capture, and
//! `scripts/kernel-matrix` counts those lines as skips and takes them off libtest's "passed".
//!
//! Each probe asks the kernel itself (a file it exposes, or a real map create / program load /
//! attach) once per process; the answers are cached. Only `bpfkit_sys::bpf` is used, so the
//! probes do not depend on the library they help to test.
//!
//! Include it from `tests/common/mod.rs` with `pub mod features;`. The macro is exported at the
//! test crate's root: tests in a nested module call it as `crate::require_feature!(…)`.

// Each test binary uses only the features it needs.
#![allow(dead_code)]

use std::fmt;
use std::io::Write;
use std::sync::Mutex;

use bpfkit_sys::{bpf_fd, Cmd};

/// Skips the calling test (prints the skip line and returns) unless the kernel has every
/// feature listed. Names are `Feature` variants: `require_feature!(Kprobes, Btf)`,
/// `require_feature!(KernelVersion(5, 18))`, `require_feature!(Map(MapKind::RingBuf))`.
#[macro_export]
macro_rules! require_feature {
    ($($feature:expr),+ $(,)?) => {
        $(
            {
                #[allow(unused_imports)]
                use $crate::common::features::{Feature::*, *};
                if let Err(skip) = $crate::common::features::require($feature) {
                    skip.report();
                    return;
                }
            }
        )+
    };
}

/// A kernel feature a test can need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    /// kprobes and kretprobes through perf_event_open (the `kprobe` PMU).
    Kprobes,
    /// uprobes and uretprobes through perf_event_open (the `uprobe` PMU).
    Uprobes,
    /// `BPF_TRACE_KPROBE_MULTI` links (needs CONFIG_FPROBE): probed by attaching one.
    KprobeMulti,
    /// `BPF_TRACE_UPROBE_MULTI` links (6.6+): probed by a link create on a missing file, which
    /// such kernels refuse with ENOENT and older ones with EINVAL.
    UprobeMulti,
    /// fentry programs: probed by loading and attaching one to a kernel function.
    Fentry,
    /// fexit programs: probed like [`Feature::Fentry`].
    Fexit,
    /// Hardware performance counters (the `cpu` PMU).
    HardwarePmu,
    /// Kernel BTF at /sys/kernel/btf/vmlinux.
    Btf,
    /// Split BTF of at least one loaded kernel module (a file besides vmlinux in
    /// /sys/kernel/btf).
    ModuleBtf,
    /// A map type: probed by creating a small map of it.
    Map(MapKind),
    /// A program type: probed by loading `r0 = 0; exit` as it.
    Prog(ProgKind),
    /// A kernel whose `major.minor` is at least this.
    KernelVersion(u32, u32),
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Feature::Kprobes => f.write_str("kprobes"),
            Feature::Uprobes => f.write_str("uprobes"),
            Feature::KprobeMulti => f.write_str("kprobe_multi"),
            Feature::UprobeMulti => f.write_str("uprobe_multi"),
            Feature::Fentry => f.write_str("fentry"),
            Feature::Fexit => f.write_str("fexit"),
            Feature::HardwarePmu => f.write_str("a hardware PMU"),
            Feature::Btf => f.write_str("BTF"),
            Feature::ModuleBtf => f.write_str("module BTF"),
            Feature::Map(kind) => write!(f, "map type {}", kind.name()),
            Feature::Prog(kind) => write!(f, "program type {}", kind.name()),
            Feature::KernelVersion(major, minor) => write!(f, "version >= {major}.{minor}"),
        }
    }
}

/// Map types a test can require, each with parameters the kernel accepts for a probe. The
/// storage maps (sk, inode, task, cgrp) cannot be created without BTF for their value: gate
/// those on [`Feature::KernelVersion`] instead (cgrp_storage arrived in 6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // the kernel's BPF_MAP_TYPE_* names
pub enum MapKind {
    Hash,
    Array,
    PerfEventArray,
    PercpuArray,
    LruHash,
    LpmTrie,
    Queue,
    Stack,
    RingBuf,
    BloomFilter,
    UserRingBuf,
    Arena,
}

impl MapKind {
    /// The kernel's name without the `BPF_MAP_TYPE_` prefix, lower case.
    pub fn name(self) -> &'static str {
        self.params().0
    }

    /// (name, map_type, key_size, value_size, max_entries, map_flags)
    fn params(self) -> (&'static str, u32, u32, u32, u32, u32) {
        const NO_PREALLOC: u32 = 1;
        const MMAPABLE: u32 = 1 << 10;
        match self {
            MapKind::Hash => ("hash", 1, 4, 4, 1, 0),
            MapKind::Array => ("array", 2, 4, 4, 1, 0),
            MapKind::PerfEventArray => ("perf_event_array", 4, 4, 4, 1, 0),
            MapKind::PercpuArray => ("percpu_array", 6, 4, 4, 1, 0),
            MapKind::LruHash => ("lru_hash", 9, 4, 4, 1, 0),
            MapKind::LpmTrie => ("lpm_trie", 11, 8, 4, 1, NO_PREALLOC),
            MapKind::Queue => ("queue", 22, 0, 4, 1, 0),
            MapKind::Stack => ("stack", 23, 0, 4, 1, 0),
            MapKind::RingBuf => ("ringbuf", 27, 0, 0, 4096, 0),
            MapKind::BloomFilter => ("bloom_filter", 30, 0, 4, 1, 0),
            MapKind::UserRingBuf => ("user_ringbuf", 31, 0, 0, 4096, 0),
            MapKind::Arena => ("arena", 33, 0, 0, 1, MMAPABLE),
        }
    }
}

/// Program types a test can require: those that load `r0 = 0; exit` without an attach target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // the kernel's BPF_PROG_TYPE_* names
pub enum ProgKind {
    SocketFilter,
    Kprobe,
    SchedCls,
    SchedAct,
    Tracepoint,
    Xdp,
    PerfEvent,
    CgroupSkb,
    RawTracepoint,
    Syscall,
}

impl ProgKind {
    /// The kernel's name without the `BPF_PROG_TYPE_` prefix, lower case.
    pub fn name(self) -> &'static str {
        self.params().0
    }

    /// (name, prog_type, prog_flags)
    fn params(self) -> (&'static str, u32, u32) {
        const SLEEPABLE: u32 = 1 << 4;
        match self {
            ProgKind::SocketFilter => ("socket_filter", 1, 0),
            ProgKind::Kprobe => ("kprobe", 2, 0),
            ProgKind::SchedCls => ("sched_cls", 3, 0),
            ProgKind::SchedAct => ("sched_act", 4, 0),
            ProgKind::Tracepoint => ("tracepoint", 5, 0),
            ProgKind::Xdp => ("xdp", 6, 0),
            ProgKind::PerfEvent => ("perf_event", 7, 0),
            ProgKind::CgroupSkb => ("cgroup_skb", 8, 0),
            ProgKind::RawTracepoint => ("raw_tracepoint", 17, 0),
            ProgKind::Syscall => ("syscall", 31, SLEEPABLE),
        }
    }
}

/// Why a test was skipped: the missing feature and what the probe saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skip {
    /// The feature the kernel lacks.
    pub feature: Feature,
    /// What the probe observed (a missing file, the kernel's errno…).
    pub reason: String,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "skipped: kernel lacks {} ({})",
            self.feature, self.reason
        )
    }
}

impl Skip {
    /// Prints `TEST: skipped: kernel lacks X (why)` as one write to stderr. `eprintln!` would
    /// be captured by libtest and hidden for a passing test; a direct write is not.
    pub fn report(&self) {
        let line = match std::thread::current().name() {
            Some(test) if test != "main" => format!("{test}: {self}\n"),
            _ => format!("{self}\n"),
        };
        // Nothing useful can be done if stderr is gone; the test still returns early.
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
}

/// `Ok(())` when the running kernel has `feature`, else the skip to report.
pub fn require(feature: Feature) -> Result<(), Skip> {
    probe_cached(feature).map_err(|reason| Skip { feature, reason })
}

/// Whether the running kernel has `feature`.
pub fn has(feature: Feature) -> bool {
    probe_cached(feature).is_ok()
}

/// The running kernel's `major.minor` from `/proc/sys/kernel/osrelease` (Debian's 6.1.0-57
/// is 6.1; the stable patch level does not matter to features).
pub fn kernel_version() -> Option<(u32, u32)> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let mut parts = release.trim().split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

type Probe = Result<(), String>;

static CACHE: Mutex<Vec<(Feature, Probe)>> = Mutex::new(Vec::new());

fn probe_cached(feature: Feature) -> Probe {
    // A test that panicked while holding the lock leaves a usable cache behind.
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, known)) = cache.iter().find(|(f, _)| *f == feature) {
        return known.clone();
    }
    let result = probe(feature);
    cache.push((feature, result.clone()));
    result
}

fn probe(feature: Feature) -> Probe {
    match feature {
        Feature::Kprobes => path_exists("/sys/bus/event_source/devices/kprobe"),
        Feature::Uprobes => path_exists("/sys/bus/event_source/devices/uprobe"),
        Feature::HardwarePmu => path_exists("/sys/bus/event_source/devices/cpu"),
        Feature::Btf => path_exists("/sys/kernel/btf/vmlinux"),
        Feature::ModuleBtf => probe_module_btf(),
        Feature::KprobeMulti => probe_kprobe_multi(),
        Feature::UprobeMulti => probe_uprobe_multi(),
        Feature::Fentry => probe_trampoline(ATTACH_FENTRY),
        Feature::Fexit => probe_trampoline(ATTACH_FEXIT),
        Feature::Map(kind) => probe_map(kind),
        Feature::Prog(kind) => {
            let (_, prog_type, prog_flags) = kind.params();
            load_trivial(prog_type, prog_flags, 0, 0).map(drop)
        }
        Feature::KernelVersion(major, minor) => match kernel_version() {
            Some(have) if have >= (major, minor) => Ok(()),
            Some((a, b)) => Err(format!("running {a}.{b}")),
            None => Err("cannot read /proc/sys/kernel/osrelease".into()),
        },
    }
}

fn probe_module_btf() -> Probe {
    let dir = std::fs::read_dir("/sys/kernel/btf").map_err(|e| format!("/sys/kernel/btf: {e}"))?;
    let modules = dir
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name() != "vmlinux")
        .count();
    if modules > 0 {
        Ok(())
    } else {
        Err("no module in /sys/kernel/btf besides vmlinux: no modules loaded".into())
    }
}

fn path_exists(path: &str) -> Probe {
    if std::path::Path::new(path).exists() {
        Ok(())
    } else {
        Err(format!("no {path}"))
    }
}

const PROG_KPROBE: u32 = 2;
const PROG_TRACING: u32 = 26;
const ATTACH_FENTRY: u32 = 24;
const ATTACH_FEXIT: u32 = 25;
const ATTACH_KPROBE_MULTI: u32 = 42;
const ATTACH_UPROBE_MULTI: u32 = 48;

/// Traceable kernel functions to probe with, in order of preference: the first is there for
/// BPF's own selftests, the others exist on every kernel bpfkit supports.
const PROBE_FUNCTIONS: [&str; 3] = ["bpf_fentry_test1", "do_sys_openat2", "vfs_read"];

/// The prefix of `union bpf_attr` that BPF_PROG_LOAD reads, up to `attach_prog_fd`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
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
    attach_prog_fd: u32,
    pad: u32,
}

/// Loads `r0 = 0; exit` as `prog_type`, with the kernel's fd on success.
fn load_trivial(
    prog_type: u32,
    prog_flags: u32,
    expected_attach_type: u32,
    attach_btf_id: u32,
) -> Result<std::os::fd::OwnedFd, String> {
    // mov64 r0, 0 (opcode 0xb7) and exit (0x95); registers, offset and immediate all zero.
    let insns: [u64; 2] = [0xb7, 0x95];
    let license = b"GPL\0";
    let mut attr = ProgLoadAttr {
        prog_type,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        prog_flags,
        expected_attach_type,
        attach_btf_id,
        ..ProgLoadAttr::default()
    };
    bpf_fd(Cmd::ProgLoad, &mut attr).map_err(|e| e.to_string())
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
}

fn probe_map(kind: MapKind) -> Probe {
    let (_, map_type, key_size, value_size, max_entries, map_flags) = kind.params();
    let mut attr = MapCreateAttr {
        map_type,
        key_size,
        value_size,
        max_entries,
        map_flags,
    };
    bpf_fd(Cmd::MapCreate, &mut attr)
        .map(drop)
        .map_err(|e| e.to_string())
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct RawTracepointOpenAttr {
    name: u64,
    prog_fd: u32,
    pad: u32,
}

/// Loads and attaches a fentry or fexit program on a kernel function found in the kernel's
/// BTF; lockdown (EPERM for root) and kernels without trampolines fail here.
fn probe_trampoline(attach_type: u32) -> Probe {
    let btf = std::fs::read("/sys/kernel/btf/vmlinux")
        .map_err(|e| format!("needs kernel BTF: /sys/kernel/btf/vmlinux: {e}"))?;
    let (name, id) = PROBE_FUNCTIONS
        .iter()
        .find_map(|name| btf_func_id(&btf, name).map(|id| (*name, id)))
        .ok_or_else(|| format!("none of {PROBE_FUNCTIONS:?} is a FUNC in the kernel BTF"))?;
    let prog = load_trivial(PROG_TRACING, 0, attach_type, id)
        .map_err(|e| format!("loading a program on {name}: {e}"))?;
    let mut attr = RawTracepointOpenAttr {
        name: 0,
        prog_fd: std::os::fd::AsRawFd::as_raw_fd(&prog) as u32,
        pad: 0,
    };
    bpf_fd(Cmd::RawTracepointOpen, &mut attr)
        .map(drop)
        .map_err(|e| format!("attaching to {name}: {e}"))
}

/// The prefix of `union bpf_attr` that BPF_LINK_CREATE reads for a kprobe_multi link.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct KprobeMultiLinkAttr {
    prog_fd: u32,
    target_fd: u32,
    attach_type: u32,
    flags: u32,
    multi_flags: u32,
    cnt: u32,
    syms: u64,
    addrs: u64,
    cookies: u64,
}

/// Attaches a kprobe_multi link to one kernel function; kernels without CONFIG_FPROBE answer
/// EOPNOTSUPP.
fn probe_kprobe_multi() -> Probe {
    let prog = load_trivial(PROG_KPROBE, 0, ATTACH_KPROBE_MULTI, 0)
        .map_err(|e| format!("loading a kprobe_multi program: {e}"))?;
    let mut last = String::new();
    for name in PROBE_FUNCTIONS {
        let sym = format!("{name}\0");
        let syms = [sym.as_ptr() as u64];
        let mut attr = KprobeMultiLinkAttr {
            prog_fd: std::os::fd::AsRawFd::as_raw_fd(&prog) as u32,
            attach_type: ATTACH_KPROBE_MULTI,
            cnt: 1,
            syms: syms.as_ptr() as u64,
            ..KprobeMultiLinkAttr::default()
        };
        // Dropping the link detaches the probe again.
        match bpf_fd(Cmd::LinkCreate, &mut attr) {
            Ok(_link) => return Ok(()),
            Err(e) if e.errno() == Some(libc::EOPNOTSUPP) => {
                return Err(format!(
                    "BPF_LINK_CREATE kprobe_multi on {name}: {e}{}",
                    config_note("CONFIG_FPROBE")
                ))
            }
            Err(e) => last = format!("BPF_LINK_CREATE kprobe_multi on {name}: {e}"),
        }
    }
    Err(last)
}

/// `"; /boot/config-R: # CONFIG_X is not set"` when the running kernel's config (which
/// `scripts/kernel-matrix` puts into its guests) says so, else nothing.
fn config_note(option: &str) -> String {
    let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") else {
        return String::new();
    };
    let path = format!("/boot/config-{}", release.trim());
    let unset = format!("# {option} is not set");
    match std::fs::read_to_string(&path) {
        Ok(config) if config.lines().any(|l| l == unset) => format!("; {path}: {unset}"),
        _ => String::new(),
    }
}

/// The prefix of `union bpf_attr` that BPF_LINK_CREATE reads for an uprobe_multi link.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct UprobeMultiLinkAttr {
    prog_fd: u32,
    target_fd: u32,
    attach_type: u32,
    flags: u32,
    path: u64,
    offsets: u64,
    ref_ctr_offsets: u64,
    cookies: u64,
    cnt: u32,
    multi_flags: u32,
    pid: u32,
    pad: u32,
}

/// Asks for an uprobe_multi link on a file that does not exist: a kernel that knows the link
/// type looks the path up and answers ENOENT, so nothing is ever attached.
fn probe_uprobe_multi() -> Probe {
    let prog = load_trivial(PROG_KPROBE, 0, ATTACH_UPROBE_MULTI, 0)
        .map_err(|e| format!("loading an uprobe_multi program: {e}"))?;
    let path = b"/nonexistent/bpfkit-uprobe-multi-probe\0";
    let offsets: [u64; 1] = [0];
    let mut attr = UprobeMultiLinkAttr {
        prog_fd: std::os::fd::AsRawFd::as_raw_fd(&prog) as u32,
        attach_type: ATTACH_UPROBE_MULTI,
        path: path.as_ptr() as u64,
        offsets: offsets.as_ptr() as u64,
        cnt: 1,
        ..UprobeMultiLinkAttr::default()
    };
    match bpf_fd(Cmd::LinkCreate, &mut attr) {
        Err(e) if e.errno() == Some(libc::ENOENT) => Ok(()),
        Err(e) => Err(format!("BPF_LINK_CREATE uprobe_multi: {e}")),
        Ok(_) => Err("BPF_LINK_CREATE uprobe_multi attached to a missing file".into()),
    }
}

/// The BTF type id of the FUNC called `name`, scanning the raw type section. Only the sizes
/// of each kind's trailing records are needed to walk it.
fn btf_func_id(btf: &[u8], name: &str) -> Option<u32> {
    let u32_at = |off: usize| -> Option<u32> {
        let b = btf.get(off..off.checked_add(4)?)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if btf.get(0..2)? != [0x9f, 0xeb] {
        return None;
    }
    let hdr_len = u32_at(4)? as usize;
    let type_start = hdr_len.checked_add(u32_at(8)? as usize)?;
    let type_end = type_start.checked_add(u32_at(12)? as usize)?;
    let str_start = hdr_len.checked_add(u32_at(16)? as usize)?;
    let str_len = u32_at(20)? as usize;
    let strings = btf.get(str_start..str_start.checked_add(str_len)?)?;
    let mut off = type_start;
    let mut id = 1u32;
    while off < type_end {
        let name_off = u32_at(off)? as usize;
        let info = u32_at(off + 4)?;
        let vlen = (info & 0xffff) as usize;
        let kind = (info >> 24) & 0x1f;
        if kind == 12 {
            let s = strings.get(name_off..)?;
            let end = s.iter().position(|&c| c == 0)?;
            if &s[..end] == name.as_bytes() {
                return Some(id);
            }
        }
        let extra = match kind {
            1 | 14 | 17 => 4,     // int, var, decl_tag
            3 => 12,              // array
            4 | 5 => vlen * 12,   // struct, union: members
            6 | 13 => vlen * 8,   // enum values, func_proto params
            15 | 19 => vlen * 12, // datasec entries, enum64 values
            0 | 2 | 7..=12 | 16 | 18 => 0,
            _ => return None, // a kind this scan does not know: stop rather than misread
        };
        off += 12 + extra;
        id += 1;
    }
    None
}
