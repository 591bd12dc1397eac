//! Attach kinds. Each adds `Program::attach_*` methods returning a [`Link`]:
//! tracepoints, raw tracepoints, tp_btf, uprobes, kprobes, fentry/fexit, and perf event samplers.
//!
//! Features the running kernel lacks (no kprobe PMU, fentry refused by lockdown…) give a
//! one-line [`Error::NotSupported`] or [`Error::Refused`] naming the feature.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, OnceLock};

use bpfkit_btf::{Btf, Kind};
use bpfkit_sys::link::{LinkCreate, LinkTarget};

use crate::error::{Error, Result};
use crate::link::Link;
use crate::program::{AttachType, Program, ProgramType};

pub mod fentry;
pub mod iter;
pub mod kprobe;
pub mod perf_event;
pub mod raw_tp;
pub mod tracepoint;
pub mod uprobe;

pub use bpfkit_sys::perf::PerfTarget;
pub use fentry::TracingKind;
pub use perf_event::{HardwareEvent, PerfEventConfig, SampleRate, SoftwareEvent};
pub use uprobe::{UprobeOptions, UprobeTarget};

/// Checks that `prog` has one of the program types an attach kind takes.
pub(crate) fn require_type(prog: &Program, allowed: &[ProgramType], kind: &str) -> Result<()> {
    if allowed.contains(&prog.prog_type()) {
        return Ok(());
    }
    let names: Vec<&str> = allowed.iter().map(|t| t.name()).collect();
    Err(Error::InvalidArgument(format!(
        "program `{}` has type {} but {kind} attachment needs {}",
        prog.name(),
        prog.prog_type(),
        names.join(" or ")
    )))
}

/// Attaches `prog` to an opened perf event (tracepoint, kprobe, uprobe or sampler): through a
/// bpf_link where the kernel has perf links (5.15+), else with `PERF_EVENT_IOC_SET_BPF`, then
/// enables the event. `cookie` needs the link path.
pub(crate) fn attach_to_perf_event(
    prog: &Program,
    event: OwnedFd,
    cookie: u64,
    what: String,
) -> Result<Link> {
    attach_perf(prog, event, cookie, what, true)
}

fn attach_perf(
    prog: &Program,
    event: OwnedFd,
    cookie: u64,
    what: String,
    try_link: bool,
) -> Result<Link> {
    let created = if try_link {
        bpfkit_sys::link::link_create(&LinkCreate {
            prog_fd: std::os::fd::AsRawFd::as_raw_fd(&prog.fd()) as u32,
            target: std::os::fd::AsRawFd::as_raw_fd(&event) as u32,
            attach_type: AttachType::PerfEvent.as_u32(),
            flags: 0,
            extra: LinkTarget::PerfEvent { bpf_cookie: cookie },
        })
        .map(Some)
    } else {
        Ok(None)
    };
    let link = match created {
        Ok(Some(fd)) => Some(fd),
        // Kernels without perf links reject the attach type with EINVAL.
        Err(e) if e.errno() != Some(libc::EINVAL) => return Err(attach_error(&what, e)),
        Ok(None) | Err(_) => {
            if cookie != 0 {
                return Err(Error::NotSupported {
                    feature: "perf event links (bpf_link on perf events, Linux 5.15)".into(),
                    hint: format!("{what}: attach cookies need them; attach without a cookie"),
                });
            }
            bpfkit_sys::perf::set_bpf(event.as_fd(), prog.fd())
                .map_err(|e2| attach_error(&what, e2))?;
            None
        }
    };
    bpfkit_sys::perf::enable(event.as_fd()).map_err(|e| attach_error(&what, e))?;
    Ok(Link::from_perf_event(event, link, what))
}

fn attach_error(what: &str, e: bpfkit_sys::Error) -> Error {
    match e {
        bpfkit_sys::Error::Os { call, source } => Error::Sys(bpfkit_sys::Error::Os {
            call: format!("{call} attaching {what}"),
            source,
        }),
        other => Error::Sys(other),
    }
}

static VMLINUX: OnceLock<std::result::Result<Arc<Btf>, String>> = OnceLock::new();

/// The running kernel's BTF, parsed once per process.
pub fn vmlinux_btf() -> Result<Arc<Btf>> {
    VMLINUX
        .get_or_init(|| load_vmlinux_btf().map(Arc::new))
        .clone()
        .map_err(|e| Error::NotSupported {
            feature: "kernel BTF".into(),
            hint: format!("{e}; tp_btf and fentry need CONFIG_DEBUG_INFO_BTF"),
        })
}

/// Reads the kernel's BTF through a private read-only mapping of /sys/kernel/btf/vmlinux
/// (no copy, and its pages do not count against our RSS), falling back to reading the file.
pub fn load_vmlinux_btf() -> std::result::Result<Btf, String> {
    let path = std::path::Path::new("/sys/kernel/btf/vmlinux");
    match bpfkit_sys::mmap::Mmap::map_file_readonly(path) {
        Ok(map) => Btf::from_shared(Arc::new(map)).map_err(|e| format!("{}: {e}", path.display())),
        Err(_) => Btf::vmlinux().map_err(|e| e.to_string()),
    }
}

/// The vmlinux BTF id of `name` of `kind`, or a clear error naming what is missing.
pub fn vmlinux_btf_id(name: &str, kind: Kind, what: &str) -> Result<u32> {
    let btf = vmlinux_btf()?;
    btf.find_by_name_kind(name, kind).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{what} `{name}` is not in the kernel's BTF (/sys/kernel/btf/vmlinux)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use bpfkit_insn::{helpers, AluOp, Builder, JmpOp, Reg, Size};
    use bpfkit_sys::perf::{attr_flag, perf_event_open, perf_type, PerfEventAttr, PerfTarget};

    use super::*;
    use crate::{Map, MapSpec, MapType, ProgramSpec};

    /// The pre-5.15 path (`PERF_EVENT_IOC_SET_BPF` + enable, no bpf_link) counts exactly too;
    /// this kernel has perf links, so the fallback is exercised by skipping them.
    #[test]
    fn legacy_set_bpf_attach_counts_and_detaches_on_drop() {
        let counter = Map::create(&MapSpec::new(MapType::Array, 4, 8, 1)).unwrap();
        let me = std::process::id() as i32;
        let mut b = Builder::new();
        b.call_helper(helpers::GET_CURRENT_PID_TGID)
            .alu64_imm(AluOp::Rsh, Reg::R0, 32)
            .jmp_imm(JmpOp::Ne, Reg::R0, me, "out")
            .store_imm(Size::W, Reg::R10, -4, 0)
            .mov64_reg(Reg::R2, Reg::R10)
            .alu64_imm(AluOp::Add, Reg::R2, -4)
            .ld_map_fd(Reg::R1, counter.fd().as_raw_fd())
            .call_helper(helpers::MAP_LOOKUP_ELEM)
            .jmp_imm(JmpOp::Eq, Reg::R0, 0, "out")
            .mov64_imm(Reg::R1, 1)
            .atomic_add(Size::DW, Reg::R0, 0, Reg::R1)
            .label("out")
            .mov64_imm(Reg::R0, 0)
            .exit();
        let insns = b.build().unwrap();
        let prog = Program::load(&ProgramSpec::new(
            "legacy_tp",
            ProgramType::Tracepoint,
            &insns,
        ))
        .unwrap();
        let id = bpfkit_sys::tracefs::event_id("syscalls", "sys_enter_getppid").unwrap();
        let attr = PerfEventAttr {
            type_: perf_type::TRACEPOINT,
            config: id,
            sample_period_or_freq: 1,
            flags: attr_flag::DISABLED,
            ..Default::default()
        };
        let fd =
            perf_event_open(&attr, PerfTarget { pid: -1, cpu: 0 }, None, 0, "getppid").unwrap();
        let link = attach_perf(&prog, fd, 0, "legacy".into(), false).unwrap();
        assert!(link.link_fd().is_none(), "no bpf_link on the legacy path");
        let attached = bpfkit_sys::perf::query_bpf(link.perf_event_fd().unwrap()).unwrap();
        assert_eq!(attached, vec![prog.id().unwrap()]);
        for _ in 0..17 {
            // getppid goes straight to the kernel (glibc does not cache it).
            std::hint::black_box(std::os::unix::process::parent_id());
        }
        let read = |m: &Map| {
            u64::from_ne_bytes(
                m.lookup(&0u32.to_ne_bytes()).unwrap().unwrap()[..8]
                    .try_into()
                    .unwrap(),
            )
        };
        assert_eq!(read(&counter), 17);
        drop(link);
        std::hint::black_box(std::os::unix::process::parent_id());
        assert_eq!(read(&counter), 17, "dropping the legacy link detaches");
    }
}
