//! `perf_event_open(2)`, the full `perf_event_attr` layout, and the perf ioctls BPF uses.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::error::{Error, Result};

/// `PERF_TYPE_*`: built-in PMU types.
pub mod perf_type {
    #![allow(missing_docs)]
    pub const HARDWARE: u32 = 0;
    pub const SOFTWARE: u32 = 1;
    pub const TRACEPOINT: u32 = 2;
    pub const HW_CACHE: u32 = 3;
    pub const RAW: u32 = 4;
    pub const BREAKPOINT: u32 = 5;
}

/// `PERF_COUNT_SW_*`.
pub mod sw {
    #![allow(missing_docs)]
    pub const CPU_CLOCK: u64 = 0;
    pub const TASK_CLOCK: u64 = 1;
    pub const PAGE_FAULTS: u64 = 2;
    pub const CONTEXT_SWITCHES: u64 = 3;
    pub const CPU_MIGRATIONS: u64 = 4;
    pub const PAGE_FAULTS_MIN: u64 = 5;
    pub const PAGE_FAULTS_MAJ: u64 = 6;
    pub const ALIGNMENT_FAULTS: u64 = 7;
    pub const EMULATION_FAULTS: u64 = 8;
    pub const DUMMY: u64 = 9;
    pub const BPF_OUTPUT: u64 = 10;
    pub const CGROUP_SWITCHES: u64 = 11;
}

/// `PERF_COUNT_HW_*`.
pub mod hw {
    #![allow(missing_docs)]
    pub const CPU_CYCLES: u64 = 0;
    pub const INSTRUCTIONS: u64 = 1;
    pub const CACHE_REFERENCES: u64 = 2;
    pub const CACHE_MISSES: u64 = 3;
    pub const BRANCH_INSTRUCTIONS: u64 = 4;
    pub const BRANCH_MISSES: u64 = 5;
    pub const BUS_CYCLES: u64 = 6;
    pub const STALLED_CYCLES_FRONTEND: u64 = 7;
    pub const STALLED_CYCLES_BACKEND: u64 = 8;
    pub const REF_CPU_CYCLES: u64 = 9;
}

/// Bits of [`PerfEventAttr::flags`] (the C bitfield word).
pub mod attr_flag {
    #![allow(missing_docs)]
    pub const DISABLED: u64 = 1 << 0;
    pub const INHERIT: u64 = 1 << 1;
    pub const PINNED: u64 = 1 << 2;
    pub const EXCLUSIVE: u64 = 1 << 3;
    pub const EXCLUDE_USER: u64 = 1 << 4;
    pub const EXCLUDE_KERNEL: u64 = 1 << 5;
    pub const EXCLUDE_HV: u64 = 1 << 6;
    pub const EXCLUDE_IDLE: u64 = 1 << 7;
    pub const MMAP: u64 = 1 << 8;
    pub const COMM: u64 = 1 << 9;
    pub const FREQ: u64 = 1 << 10;
    pub const INHERIT_STAT: u64 = 1 << 11;
    pub const ENABLE_ON_EXEC: u64 = 1 << 12;
    pub const TASK: u64 = 1 << 13;
    pub const WATERMARK: u64 = 1 << 14;
    /// Two bits (15–16) of skid constraint.
    pub const PRECISE_IP_SHIFT: u32 = 15;
    pub const MMAP_DATA: u64 = 1 << 17;
    pub const SAMPLE_ID_ALL: u64 = 1 << 18;
    pub const EXCLUDE_HOST: u64 = 1 << 19;
    pub const EXCLUDE_GUEST: u64 = 1 << 20;
    pub const EXCLUDE_CALLCHAIN_KERNEL: u64 = 1 << 21;
    pub const EXCLUDE_CALLCHAIN_USER: u64 = 1 << 22;
    pub const MMAP2: u64 = 1 << 23;
    pub const COMM_EXEC: u64 = 1 << 24;
    pub const USE_CLOCKID: u64 = 1 << 25;
    pub const CONTEXT_SWITCH: u64 = 1 << 26;
    pub const WRITE_BACKWARD: u64 = 1 << 27;
    pub const NAMESPACES: u64 = 1 << 28;
    pub const KSYMBOL: u64 = 1 << 29;
    pub const BPF_EVENT: u64 = 1 << 30;
    pub const AUX_OUTPUT: u64 = 1 << 31;
    pub const CGROUP: u64 = 1 << 32;
    pub const TEXT_POKE: u64 = 1 << 33;
    pub const BUILD_ID: u64 = 1 << 34;
    pub const INHERIT_THREAD: u64 = 1 << 35;
    pub const REMOVE_ON_EXEC: u64 = 1 << 36;
    pub const SIGTRAP: u64 = 1 << 37;
}

/// `PERF_SAMPLE_RAW`: the sample type bpf-output events use.
pub const SAMPLE_RAW: u64 = 1 << 10;

/// `PERF_FLAG_FD_CLOEXEC`.
pub const FLAG_FD_CLOEXEC: u64 = 1 << 3;

/// `struct perf_event_attr` (`PERF_ATTR_SIZE_VER8`, 136 bytes). Older kernels accept it as
/// long as the fields they do not know are zero.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PerfEventAttr {
    /// PMU type (`PERF_TYPE_*` or a dynamic PMU's `type` file).
    pub type_: u32,
    /// Size of this struct; [`perf_event_open`] fills it.
    pub size: u32,
    /// Event selector within the PMU.
    pub config: u64,
    /// `sample_period`, or `sample_freq` with [`attr_flag::FREQ`].
    pub sample_period_or_freq: u64,
    /// `PERF_SAMPLE_*` bits.
    pub sample_type: u64,
    /// `PERF_FORMAT_*` bits.
    pub read_format: u64,
    /// The bitfield word ([`attr_flag`]).
    pub flags: u64,
    /// `wakeup_events`, or `wakeup_watermark` with [`attr_flag::WATERMARK`].
    pub wakeup_events_or_watermark: u32,
    /// Breakpoint type.
    pub bp_type: u32,
    /// `config1` / `bp_addr` / `kprobe_func` / `uprobe_path` (a pointer to a C string).
    pub config1: u64,
    /// `config2` / `bp_len` / `kprobe_addr` / `probe_offset`.
    pub config2: u64,
    /// `PERF_SAMPLE_BRANCH_*`.
    pub branch_sample_type: u64,
    /// User registers to sample.
    pub sample_regs_user: u64,
    /// User stack bytes to sample.
    pub sample_stack_user: u32,
    /// Clock for timestamps with [`attr_flag::USE_CLOCKID`].
    pub clockid: i32,
    /// Interrupt registers to sample.
    pub sample_regs_intr: u64,
    /// AUX area watermark.
    pub aux_watermark: u32,
    /// Maximum callchain depth.
    pub sample_max_stack: u16,
    /// Reserved.
    pub reserved_2: u16,
    /// AUX sample size.
    pub aux_sample_size: u32,
    /// AUX action bits.
    pub aux_action: u32,
    /// Data passed with SIGTRAP.
    pub sig_data: u64,
    /// `config3`.
    pub config3: u64,
}

/// Where a perf event counts: one task on any CPU, every task on one CPU, or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PerfTarget {
    /// Process/thread id, -1 for all.
    pub pid: i32,
    /// CPU, -1 for all.
    pub cpu: i32,
}

/// Opens a perf event (`perf_event_open(2)`) with close-on-exec. `what` names the event in errors.
pub fn perf_event_open(
    attr: &PerfEventAttr,
    target: PerfTarget,
    group_fd: Option<BorrowedFd<'_>>,
    flags: u64,
    what: &str,
) -> Result<OwnedFd> {
    let mut a = *attr;
    a.size = std::mem::size_of::<PerfEventAttr>() as u32;
    let group = group_fd.map_or(-1, |f| f.as_raw_fd());
    loop {
        // SAFETY: `a` is a fully initialised perf_event_attr of `a.size` bytes; pointer fields
        // (config1 for kprobe/uprobe names) point at strings the caller keeps alive.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                &mut a as *mut PerfEventAttr,
                target.pid as libc::c_long,
                target.cpu as libc::c_long,
                group as libc::c_long,
                (flags | FLAG_FD_CLOEXEC) as libc::c_ulong,
            )
        };
        if ret >= 0 {
            // SAFETY: perf_event_open returned a new fd that nothing else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(ret as i32) });
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        let hint = match err.raw_os_error() {
            Some(libc::EACCES) | Some(libc::EPERM) => {
                " (missing CAP_PERFMON, or /proc/sys/kernel/perf_event_paranoid forbids it)"
            }
            Some(libc::ENOENT) | Some(libc::ENODEV) | Some(libc::EOPNOTSUPP) => {
                " (this kernel or machine has no such event)"
            }
            _ => "",
        };
        return Err(Error::Os {
            call: format!(
                "perf_event_open({what}, pid {}, cpu {}){hint}",
                target.pid, target.cpu
            ),
            source: err,
        });
    }
}

const IOC_ENABLE: libc::c_ulong = 0x2400;
const IOC_DISABLE: libc::c_ulong = 0x2401;
const IOC_RESET: libc::c_ulong = 0x2403;
const IOC_SET_OUTPUT: libc::c_ulong = 0x2405;
const IOC_ID: libc::c_ulong = 0x8008_2407;
const IOC_SET_BPF: libc::c_ulong = 0x4004_2408;
const IOC_PAUSE_OUTPUT: libc::c_ulong = 0x4004_2409;
const IOC_QUERY_BPF: libc::c_ulong = 0xc008_240a;

fn ioctl_int(fd: BorrowedFd<'_>, req: libc::c_ulong, arg: libc::c_ulong, name: &str) -> Result<()> {
    // SAFETY: these perf ioctls take an integer argument by value; no memory is passed.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), req, arg) };
    if r < 0 {
        return Err(Error::os(format!("ioctl({name})")));
    }
    Ok(())
}

/// `PERF_EVENT_IOC_ENABLE`.
pub fn enable(fd: BorrowedFd<'_>) -> Result<()> {
    ioctl_int(fd, IOC_ENABLE, 0, "PERF_EVENT_IOC_ENABLE")
}

/// `PERF_EVENT_IOC_DISABLE`.
pub fn disable(fd: BorrowedFd<'_>) -> Result<()> {
    ioctl_int(fd, IOC_DISABLE, 0, "PERF_EVENT_IOC_DISABLE")
}

/// `PERF_EVENT_IOC_RESET`.
pub fn reset(fd: BorrowedFd<'_>) -> Result<()> {
    ioctl_int(fd, IOC_RESET, 0, "PERF_EVENT_IOC_RESET")
}

/// `PERF_EVENT_IOC_SET_BPF`: runs `prog` on each event (the pre-link way to attach).
pub fn set_bpf(fd: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> Result<()> {
    ioctl_int(
        fd,
        IOC_SET_BPF,
        prog.as_raw_fd() as libc::c_ulong,
        "PERF_EVENT_IOC_SET_BPF",
    )
}

/// `PERF_EVENT_IOC_SET_OUTPUT`: send `fd`'s samples into `target`'s ring.
pub fn set_output(fd: BorrowedFd<'_>, target: BorrowedFd<'_>) -> Result<()> {
    ioctl_int(
        fd,
        IOC_SET_OUTPUT,
        target.as_raw_fd() as libc::c_ulong,
        "PERF_EVENT_IOC_SET_OUTPUT",
    )
}

/// `PERF_EVENT_IOC_PAUSE_OUTPUT`.
pub fn pause_output(fd: BorrowedFd<'_>, pause: bool) -> Result<()> {
    ioctl_int(
        fd,
        IOC_PAUSE_OUTPUT,
        pause as libc::c_ulong,
        "PERF_EVENT_IOC_PAUSE_OUTPUT",
    )
}

/// `PERF_EVENT_IOC_ID`: the event's id.
pub fn event_id(fd: BorrowedFd<'_>) -> Result<u64> {
    let mut id: u64 = 0;
    // SAFETY: the ioctl writes one u64 into `id`, which lives across the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), IOC_ID, &mut id as *mut u64) };
    if r < 0 {
        return Err(Error::os("ioctl(PERF_EVENT_IOC_ID)"));
    }
    Ok(id)
}

/// `PERF_EVENT_IOC_QUERY_BPF`: ids of the programs attached to a tracepoint/kprobe/uprobe event.
pub fn query_bpf(fd: BorrowedFd<'_>) -> Result<Vec<u32>> {
    let mut cap = 64usize;
    loop {
        // struct perf_event_query_bpf { u32 ids_len; u32 prog_cnt; u32 ids[]; }
        let mut buf = vec![0u32; 2 + cap];
        buf[0] = cap as u32;
        // SAFETY: the buffer holds the header and `cap` ids, as ids_len tells the kernel.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), IOC_QUERY_BPF, buf.as_mut_ptr()) };
        let cnt = buf[1] as usize;
        if r < 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::ENOSPC) && cnt > cap {
                cap = cnt;
                continue;
            }
            return Err(Error::Os {
                call: "ioctl(PERF_EVENT_IOC_QUERY_BPF)".into(),
                source: err,
            });
        }
        return Ok(buf.get(2..2 + cnt.min(cap)).unwrap_or(&[]).to_vec());
    }
}

/// Builds an attr for a kprobe/uprobe PMU event: `config1` points at `name_or_path`, which the
/// caller keeps alive until [`perf_event_open`] returns.
pub fn probe_attr(
    pmu_type: u32,
    config: u64,
    name_or_path: &CStr,
    offset_or_addr: u64,
) -> PerfEventAttr {
    PerfEventAttr {
        type_: pmu_type,
        config,
        config1: name_or_path.as_ptr() as u64,
        config2: offset_or_addr,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_is_ver8() {
        assert_eq!(std::mem::size_of::<PerfEventAttr>(), 136);
    }
}
