//! Auto-attach: the attach point a program's section name gives (libbpf's rules).

use bpfkit_elf::{AutoAttach, SecFlags};

use super::ObjectProgram;
use crate::attach::{UprobeOptions, UprobeTarget};
use crate::error::{Error, Result};
use crate::link::Link;

/// What [`super::Object::attach_program`] did.
#[derive(Debug)]
pub enum AttachOutcome {
    /// Attached; dropping the link detaches.
    Attached(Link),
    /// The section does not name an attach target (`perf_event`, `xdp`, `uprobe` without a
    /// path …): attach it yourself with the matching `Program::attach_*` call.
    NotAutoAttachable,
}

/// `FUNC[+OFFSET]` of kprobe and uprobe sections.
fn func_offset(spec: &str) -> Result<(&str, u64)> {
    match spec.split_once('+') {
        None => Ok((spec, 0)),
        Some((f, off)) => {
            let parsed = match off.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => off.parse(),
            };
            parsed.map(|o| (f, o)).map_err(|_| {
                Error::InvalidArgument(format!(
                    "attach target `{spec}`: `{off}` is not an offset (decimal or 0x hex)"
                ))
            })
        }
    }
}

pub(super) fn auto_attach(p: &ObjectProgram) -> Result<AttachOutcome> {
    let Some(kind) = &p.kind else {
        return Ok(AttachOutcome::NotAutoAttachable);
    };
    let prog = &p.program;
    let target = kind.target.as_deref();
    let ret = kind.def.flags.contains(SecFlags::RETURN);
    let link = match (kind.def.auto_attach, target) {
        (AutoAttach::Tracepoint, Some(t)) => {
            let (cat, name) = t.split_once('/').ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "program `{}`: section `{}` should read tracepoint/CATEGORY/NAME",
                    p.name, p.section
                ))
            })?;
            prog.attach_tracepoint(cat, name)?
        }
        (AutoAttach::RawTracepoint, Some(t)) => prog.attach_raw_tracepoint(t)?,
        (AutoAttach::Tracing | AutoAttach::Lsm, _) => prog.attach_btf_target()?,
        (AutoAttach::Kprobe, Some(t)) => {
            let (func, off) = func_offset(t)?;
            prog.attach_kprobe(func, off, ret)?
        }
        (AutoAttach::Ksyscall, Some(t)) => prog.attach_ksyscall(t, ret)?,
        (AutoAttach::KprobeMulti, Some(t)) => prog.attach_kprobe_multi(t, ret)?,
        (AutoAttach::Uprobe | AutoAttach::UprobeMulti, Some(t)) => {
            // libbpf leaves `uprobe/FUNC` (no binary) to the program, as bashreadline does.
            let Some((path, func)) = t.rsplit_once(':') else {
                return Ok(AttachOutcome::NotAutoAttachable);
            };
            let opts = UprobeOptions {
                retprobe: ret,
                ..Default::default()
            };
            if kind.def.auto_attach == AutoAttach::UprobeMulti {
                prog.attach_uprobe_multi(path, func, &opts)?
            } else {
                let (f, off) = func_offset(func)?;
                let target = if off == 0 {
                    UprobeTarget::Symbol(f)
                } else {
                    UprobeTarget::SymbolOffset(f, off)
                };
                prog.attach_uprobe(path, target, &opts)?
            }
        }
        (AutoAttach::Usdt | AutoAttach::KprobeSession | AutoAttach::Iter, Some(_)) => {
            return Err(Error::NotSupported {
                feature: format!("auto-attach of `{}` sections in bpfkit", kind.def.prefix),
                hint: format!("attach program `{}` yourself", p.name),
            })
        }
        _ => return Ok(AttachOutcome::NotAutoAttachable),
    };
    Ok(AttachOutcome::Attached(link))
}
