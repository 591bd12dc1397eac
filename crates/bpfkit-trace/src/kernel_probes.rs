//! Kernel-side probes: kprobe/kretprobe (`+offset`, wildcards over the functions ftrace can
//! trace), fentry/fexit (the same functions, limited to those the kernel's BTF describes),
//! iterators (`iter:task`, `iter:task_file`, … over the kernel's `bpf_iter_<name>` targets),
//! their `-l` listing, and the BTF facts code generation needs for them (a function's
//! parameters, an iterator's context struct).

use crate::attach::{AttachPoint, AttachTarget, ProbeKind};
use crate::probes::{Point, Resolved};
use bpfkit::attach::kprobe::{glob_match, kprobes_available, matching_kernel_functions};
use bpfkit_btf::{Btf, Detail, Kind};
use std::sync::Arc;

fn no_match(ap: &AttachPoint) -> String {
    format!("No probes matched the attach point '{}'", ap.raw)
}

fn btf() -> Result<Arc<Btf>, String> {
    bpfkit::attach::vmlinux_btf().map_err(|e| e.to_string())
}

/// Functions ftrace can trace that match `pattern` (a plain name is taken as it is).
fn functions(ap: &AttachPoint, pattern: &str) -> Result<Vec<String>, String> {
    if !pattern.contains('*') {
        return Ok(vec![pattern.to_string()]);
    }
    let v = matching_kernel_functions(pattern).map_err(|e| format!("{}: {e}", ap.raw))?;
    if v.is_empty() {
        return Err(no_match(ap));
    }
    Ok(v)
}

/// Expands a kprobe, kretprobe, fentry, fexit or iter attach point; `None` for other kinds.
pub fn resolve(ap: &AttachPoint) -> Option<Result<Vec<Resolved>, String>> {
    let r = match (&ap.kind, &ap.target) {
        (
            ProbeKind::Kprobe | ProbeKind::Kretprobe,
            AttachTarget::Kernel {
                function, offset, ..
            },
        ) => kprobes(ap, function, offset.unwrap_or(0)),
        (
            ProbeKind::Fentry | ProbeKind::Fexit,
            AttachTarget::Kernel {
                module, function, ..
            },
        ) => fentries(ap, module.as_deref(), function),
        (ProbeKind::Iter, AttachTarget::Iter { name, pin }) => iter(ap, name, pin.is_some()),
        _ => return None,
    };
    Some(r)
}

fn kprobes(ap: &AttachPoint, pattern: &str, offset: u64) -> Result<Vec<Resolved>, String> {
    if !kprobes_available() {
        return Err(format!(
            "{}: this kernel lacks kprobes (CONFIG_KPROBES is not set)",
            ap.raw
        ));
    }
    let ret = ap.kind == ProbeKind::Kretprobe;
    if pattern.contains('*') && offset != 0 {
        return Err(format!(
            "{}: an offset cannot be combined with a wildcard",
            ap.raw
        ));
    }
    let prov = ap.kind.name();
    Ok(functions(ap, pattern)?
        .into_iter()
        .map(|f| Resolved {
            name: if offset != 0 {
                format!("{prov}:{f}+{offset}")
            } else {
                format!("{prov}:{f}")
            },
            point: Point::Kprobe {
                function: f,
                offset,
                ret,
            },
            kind: ap.kind,
        })
        .collect())
}

fn fentries(
    ap: &AttachPoint,
    module: Option<&str>,
    pattern: &str,
) -> Result<Vec<Resolved>, String> {
    let ret = ap.kind == ProbeKind::Fexit;
    let mut names = functions(ap, pattern)?;
    let module = module.filter(|m| *m != "vmlinux");
    match module {
        Some(m) => {
            let mb = module_btf(m).map_err(|e| format!("{}: {e}", ap.raw))?;
            names.retain(|f| mb.function(f).is_some());
        }
        None => {
            let btf = btf()?;
            names.retain(|f| btf.find_by_name_kind(f, Kind::Func).is_some());
        }
    }
    if names.is_empty() {
        return Err(if pattern.contains('*') {
            no_match(ap)
        } else {
            let home = module.map_or("the kernel's BTF".to_string(), |m| {
                format!("module {m}'s BTF")
            });
            format!("{}: function {pattern} is not in {home}", ap.raw)
        });
    }
    let prov = ap.kind.name();
    let home = module.unwrap_or("vmlinux");
    Ok(names
        .into_iter()
        .map(|f| Resolved {
            name: format!("{prov}:{home}:{f}"),
            point: Point::Fentry {
                module: module.map(str::to_string),
                function: f,
                ret,
            },
            kind: ap.kind,
        })
        .collect())
}

/// A kernel module's BTF (split on vmlinux's), with an fd of the kernel's BTF object for it
/// (what an fentry program on one of the module's functions names at load).
pub struct ModuleBtf {
    /// The types.
    pub btf: Btf,
    /// The kernel object.
    pub fd: std::os::fd::OwnedFd,
}

impl ModuleBtf {
    /// The id of the module's own function `name`.
    pub fn function(&self, name: &str) -> Option<u32> {
        self.btf
            .find_by_name_kind(name, Kind::Func)
            .filter(|&id| id >= self.btf.start_id())
    }
}

/// The BTF of loaded kernel module `name`.
pub fn module_btf(name: &str) -> Result<ModuleBtf, String> {
    use bpfkit_sys::obj::{all_ids, get_fd_by_id, ObjKind};
    let vmlinux = btf()?;
    for id in all_ids(ObjKind::Btf).map_err(|e| e.to_string())? {
        let Ok(fd) = get_fd_by_id(ObjKind::Btf, id) else {
            continue;
        };
        let Ok(info) = bpfkit_sys::btf::btf_info(std::os::fd::AsFd::as_fd(&fd)) else {
            continue;
        };
        if info.kernel_btf && info.name == name {
            let btf = Btf::module(name, &vmlinux).map_err(|e| format!("module {name}: {e}"))?;
            return Ok(ModuleBtf { btf, fd });
        }
    }
    Err(format!("kernel module {name} is not loaded or has no BTF"))
}

fn iter(ap: &AttachPoint, name: &str, pinned: bool) -> Result<Vec<Resolved>, String> {
    if pinned {
        return Err(format!(
            "{}: pinning an iterator is not supported by bpfkit trace",
            ap.raw
        ));
    }
    let btf = btf()?;
    if btf
        .find_by_name_kind(&format!("bpf_iter_{name}"), Kind::Func)
        .is_none()
    {
        return Err(format!(
            "{}: the kernel has no iterator named '{name}'",
            ap.raw
        ));
    }
    Ok(vec![Resolved {
        name: format!("iter:{name}"),
        point: Point::Iter {
            name: name.to_string(),
        },
        kind: ap.kind,
    }])
}

/// A kernel function's parameters from BTF (vmlinux's, or with `module` that module's):
/// `(name, type id)` in order, and its return type id (0 for void).
pub fn function_params(
    module: Option<&str>,
    function: &str,
) -> Result<(Vec<(String, u32)>, u32), String> {
    let (owned, vmlinux);
    let btf: &Btf = match module {
        Some(m) => {
            owned = module_btf(m)?;
            &owned.btf
        }
        None => {
            vmlinux = btf()?;
            &vmlinux
        }
    };
    let id = btf
        .find_by_name_kind(function, Kind::Func)
        .ok_or_else(|| format!("function {function} is not in the kernel's BTF"))?;
    let proto = btf
        .type_by_id(id)
        .ok()
        .and_then(|t| t.referenced())
        .and_then(|p| btf.type_by_id(p).ok())
        .ok_or_else(|| format!("function {function} has no prototype in BTF"))?;
    match &proto.detail {
        Detail::FuncProto(fp) => Ok((
            fp.params
                .iter()
                .map(|p| (p.name.to_string(), p.type_id))
                .collect(),
            fp.ret_type,
        )),
        _ => Err(format!("function {function} has no prototype in BTF")),
    }
}

/// The BTF id of an iterator's context struct, `struct bpf_iter__<name>`.
pub fn iter_context(name: &str) -> Option<u32> {
    btf()
        .ok()?
        .find_by_name_kind(&format!("bpf_iter__{name}"), Kind::Struct)
}

/// `-l` for kprobe, kretprobe, fentry, fexit and iter: every matching probe, one a line, as
/// bpftrace lists them (`kprobe:NAME`, `fentry:vmlinux:NAME`, `iter:NAME`); `None` for other
/// providers.
pub fn list(kind: ProbeKind, pattern: &str) -> Option<Result<String, String>> {
    let prov = kind.name();
    // `kprobe:vmlinux:f*` and `kprobe:f*` both name vmlinux's functions.
    let pattern = pattern.strip_prefix("vmlinux:").unwrap_or(pattern);
    let r = match kind {
        ProbeKind::Kprobe | ProbeKind::Kretprobe => list_functions(pattern, false)
            .map(|v| v.iter().map(|f| format!("{prov}:{f}\n")).collect()),
        ProbeKind::Fentry | ProbeKind::Fexit => match pattern.split_once(':') {
            // `fentry:MODULE:PATTERN`: the functions of that module's BTF.
            Some((m, pat)) => module_btf(m).map(|mb| {
                let mut v: Vec<&str> = mb
                    .btf
                    .types()
                    .filter_map(Result::ok)
                    .filter(|t| {
                        t.kind == Kind::Func && t.id >= mb.btf.start_id() && glob_match(pat, t.name)
                    })
                    .map(|t| t.name)
                    .collect();
                v.sort_unstable();
                v.dedup();
                v.iter().map(|f| format!("{prov}:{m}:{f}\n")).collect()
            }),
            None => list_functions(pattern, true)
                .map(|v| v.iter().map(|f| format!("{prov}:vmlinux:{f}\n")).collect()),
        },
        ProbeKind::Iter => btf().map(|b| {
            let mut v: Vec<String> = b
                .types()
                .filter_map(Result::ok)
                .filter(|t| t.kind == Kind::Struct)
                .filter_map(|t| t.name.strip_prefix("bpf_iter__").map(str::to_string))
                .filter(|n| {
                    glob_match(pattern, n)
                        && b.find_by_name_kind(&format!("bpf_iter_{n}"), Kind::Func)
                            .is_some()
                })
                .collect();
            v.sort();
            v.dedup();
            v.iter().map(|n| format!("iter:{n}\n")).collect()
        }),
        _ => return None,
    };
    Some(r)
}

/// Traceable functions matching `pattern`; with `in_btf` only those BTF describes (or, when
/// the kernel hides ftrace's list, every BTF function that matches).
fn list_functions(pattern: &str, in_btf: bool) -> Result<Vec<String>, String> {
    let listed = matching_kernel_functions(pattern).map_err(|e| e.to_string());
    if !in_btf {
        return listed;
    }
    let b = btf()?;
    let funcs = b
        .types()
        .filter_map(Result::ok)
        .filter(|t| t.kind == Kind::Func)
        .map(|t| t.name);
    let mut v: Vec<String> = match listed {
        Ok(listed) => {
            let funcs: std::collections::HashSet<&str> = funcs.collect();
            listed
                .into_iter()
                .filter(|f| funcs.contains(f.as_str()))
                .collect()
        }
        Err(_) => funcs
            .filter(|f| glob_match(pattern, f))
            .map(str::to_string)
            .collect(),
    };
    v.sort();
    v.dedup();
    Ok(v)
}

/// Runs each iterator link once over its objects, handing the events its program emits to
/// the runtime as they come (between reads of the iterator, so a long pass cannot fill the
/// ring buffer before anything drains it). After `exit()`, later records are dropped and no
/// further iterator runs, as records behind an `exit()` are elsewhere.
pub fn run_iterators(
    links: &[&bpfkit::Link],
    ring: &mut bpfkit::RingBuf,
    rt: &mut crate::runtime::Runtime<'_>,
) -> Result<(), String> {
    use std::io::Read;
    for link in links {
        if rt.exit {
            break;
        }
        let mut f = link.open_iter().map_err(|e| e.to_string())?;
        let mut buf = [0u8; 4096];
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| format!("reading {}: {e}", link.describe()))?;
            let _ = ring.consume(|rec| {
                if !rt.exit {
                    rt.handle(rec)
                }
            });
            if n == 0 || rt.exit {
                break;
            }
        }
    }
    Ok(())
}
