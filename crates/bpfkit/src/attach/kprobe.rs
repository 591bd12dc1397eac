//! kprobes and kretprobes through the kprobe PMU (`/sys/bus/event_source/devices/kprobe`).
//!
//! Kernels built without `CONFIG_KPROBES` have no such PMU; attaching there fails with one
//! line naming the missing feature.

use std::ffi::CString;
use std::path::Path;

use bpfkit_sys::perf::{perf_event_open, probe_attr, PerfTarget};

use crate::error::{Error, Result};
use crate::link::Link;
use crate::program::{Program, ProgramType};

const EVENT_SOURCES: &str = "/sys/bus/event_source/devices";

/// A dynamic probe PMU (`kprobe` or `uprobe`): its type number and retprobe config bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProbePmu {
    pub pmu_type: u32,
    pub retprobe_bit: u32,
}

fn read_trim(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Reads `<devices>/<name>/type` and `format/retprobe` (`config:<bit>`); `None` if absent.
pub(crate) fn probe_pmu(name: &str) -> Result<Option<ProbePmu>> {
    let dir = Path::new(EVENT_SOURCES).join(name);
    let Some(t) = read_trim(&dir.join("type")) else {
        return Ok(None);
    };
    let pmu_type = t.parse().map_err(|_| {
        Error::InvalidArgument(format!(
            "{}: unexpected PMU type {t:?}",
            dir.join("type").display()
        ))
    })?;
    let bit = read_trim(&dir.join("format/retprobe"))
        .and_then(|f| f.strip_prefix("config:").and_then(|b| b.parse().ok()))
        .unwrap_or(0);
    Ok(Some(ProbePmu {
        pmu_type,
        retprobe_bit: bit,
    }))
}

/// Whether this kernel can attach kprobes (it has the kprobe PMU).
pub fn kprobes_available() -> bool {
    matches!(probe_pmu("kprobe"), Ok(Some(_)))
}

fn kprobe_pmu() -> Result<ProbePmu> {
    match probe_pmu("kprobe")? {
        Some(p) => Ok(p),
        None => Err(Error::NotSupported {
            feature: "kprobes".into(),
            hint: "CONFIG_KPROBES is not set: no /sys/bus/event_source/devices/kprobe".into(),
        }),
    }
}

/// The kernel function implementing syscall `name` on this architecture (`getpid` →
/// `__x64_sys_getpid` on x86-64 since 4.17), checked against /proc/kallsyms when readable.
pub fn syscall_function(name: &str) -> String {
    let prefix = match std::env::consts::ARCH {
        "x86_64" => "__x64_sys_",
        "aarch64" => "__arm64_sys_",
        "s390x" => "__s390x_sys_",
        "riscv64" => "__riscv_sys_",
        _ => "sys_",
    };
    let wrapped = format!("{prefix}{name}");
    if let Ok(syms) = std::fs::read_to_string("/proc/kallsyms") {
        let has = |s: &str| syms.lines().any(|l| l.split_whitespace().nth(2) == Some(s));
        if !has(&wrapped) && has(&format!("sys_{name}")) {
            return format!("sys_{name}");
        }
    }
    wrapped
}

impl Program {
    /// Attaches a kprobe (or, with `retprobe`, a kretprobe) program to kernel function `func`
    /// at byte `offset` into it.
    pub fn attach_kprobe(&self, func: &str, offset: u64, retprobe: bool) -> Result<Link> {
        self.attach_kprobe_with_cookie(func, offset, retprobe, 0)
    }

    /// Like [`Program::attach_kprobe`], with a value for `bpf_get_attach_cookie`.
    pub fn attach_kprobe_with_cookie(
        &self,
        func: &str,
        offset: u64,
        retprobe: bool,
        cookie: u64,
    ) -> Result<Link> {
        super::require_type(self, &[ProgramType::Kprobe], "kprobe")?;
        let pmu = kprobe_pmu()?;
        let c = CString::new(func).map_err(|_| {
            Error::InvalidArgument(format!("function name {func:?} contains a NUL byte"))
        })?;
        let config = if retprobe {
            1u64 << pmu.retprobe_bit
        } else {
            0
        };
        let attr = probe_attr(pmu.pmu_type, config, &c, offset);
        let kind = if retprobe { "kretprobe" } else { "kprobe" };
        let what = format!("{kind} {func}+{offset:#x}");
        let fd = perf_event_open(&attr, PerfTarget { pid: -1, cpu: 0 }, None, 0, &what).map_err(|e| {
            if e.errno() == Some(libc::ENOENT) || e.errno() == Some(libc::EINVAL) {
                Error::InvalidArgument(format!(
                    "cannot {kind} `{func}`: no such probe-able kernel function (see /proc/kallsyms; inlined or notrace functions cannot be probed)"
                ))
            } else {
                Error::Sys(e)
            }
        })?;
        super::attach_to_perf_event(self, fd, cookie, what)
    }

    /// Attaches a kprobe on the function implementing syscall `name` (`ksyscall/<name>`).
    pub fn attach_ksyscall(&self, name: &str, retprobe: bool) -> Result<Link> {
        self.attach_kprobe(&syscall_function(name), 0, retprobe)
    }
}

/// Whether `name` matches the shell-style `pattern` (`*` any run, `?` one character).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                // Let the last `*` swallow one more character and retry.
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Kernel functions that ftrace can probe and that match `pattern`, sorted, one name per
/// function.
///
/// `available_filter_functions` names each traceable function once, by whichever of its
/// symbols kallsyms reports for the address; an alias at the same address is missing there.
/// Debian's kernels list `__do_sys_getpid` but not `__x64_sys_getpid`, which is the same code
/// (`SYSCALL_DEFINE0` makes the wrapper an alias of the body). So the names of /proc/kallsyms
/// that sit at a listed function's address match too. Aliases of one function are attached
/// once: the first matching name in sorted order stands for the address.
pub fn matching_kernel_functions(pattern: &str) -> Result<Vec<String>> {
    let path = bpfkit_sys::tracefs::root()?.join("available_filter_functions");
    let text = std::fs::read_to_string(&path).map_err(|source| {
        if source.raw_os_error() == Some(libc::EPERM) {
            Error::Refused {
                what: "listing traceable kernel functions".into(),
                reason: format!("EPERM reading {}: kernel lockdown hides it", path.display()),
            }
        } else {
            Error::Io {
                path: path.display().to_string(),
                source,
            }
        }
    })?;
    let traceable: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    // Without kallsyms (unreadable, or addresses hidden by kptr_restrict) only the listed
    // names can match.
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
    Ok(match_functions(pattern, &traceable, &kallsyms))
}

/// The matching logic of [`matching_kernel_functions`] on the two files' contents.
fn match_functions(pattern: &str, traceable: &[&str], kallsyms: &str) -> Vec<String> {
    use std::collections::{BTreeMap, HashSet};
    let listed: HashSet<&str> = traceable.iter().copied().collect();
    // Text symbols with a known address: (address, name).
    let text_syms: Vec<(u64, &str)> = kallsyms
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let addr = u64::from_str_radix(f.next()?, 16).ok()?;
            let kind = f.next()?;
            let name = f.next()?;
            (addr != 0 && matches!(kind, "t" | "T")).then_some((addr, name))
        })
        .collect();
    let listed_addrs: HashSet<u64> = text_syms
        .iter()
        .filter(|(_, name)| listed.contains(name))
        .map(|&(addr, _)| addr)
        .collect();
    let mut by_addr: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    let mut located: HashSet<&str> = HashSet::new();
    for &(addr, name) in &text_syms {
        if listed_addrs.contains(&addr) {
            located.insert(name);
            if glob_match(pattern, name) {
                by_addr.entry(addr).or_default().push(name);
            }
        }
    }
    let mut out: Vec<String> = by_addr
        .into_values()
        .filter_map(|mut names| {
            names.sort_unstable();
            names.first().map(|n| n.to_string())
        })
        .collect();
    // Listed functions kallsyms did not place (no addresses) still match by name.
    out.extend(
        listed
            .iter()
            .filter(|name| !located.contains(*name) && glob_match(pattern, name))
            .map(|name| name.to_string()),
    );
    out.sort();
    out.dedup();
    out
}

impl Program {
    /// Attaches a `kprobe.multi` program (loaded with expected attach type
    /// `trace_kprobe_multi`) to every kernel function matching `pattern` in one link.
    pub fn attach_kprobe_multi(&self, pattern: &str, retprobe: bool) -> Result<Link> {
        super::require_type(self, &[ProgramType::Kprobe], "kprobe.multi")?;
        // A plain name needs no listing (which lockdown may hide).
        let funcs = if pattern.contains(['*', '?']) {
            matching_kernel_functions(pattern)?
        } else {
            vec![pattern.to_string()]
        };
        if funcs.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "no traceable kernel function matches `{pattern}` (see available_filter_functions)"
            )));
        }
        self.attach_kprobe_multi_symbols(&funcs, retprobe)
            .map_err(|e| match e {
                Error::InvalidArgument(m) => {
                    Error::InvalidArgument(format!("{m} (pattern `{pattern}`)"))
                }
                other => other,
            })
    }

    /// Attaches a `kprobe.multi` program to the named kernel functions.
    pub fn attach_kprobe_multi_symbols<S: AsRef<str>>(
        &self,
        funcs: &[S],
        retprobe: bool,
    ) -> Result<Link> {
        super::require_type(self, &[ProgramType::Kprobe], "kprobe.multi")?;
        let syms = bpfkit_sys::link::CStrArray::new(funcs)
            .ok_or_else(|| Error::InvalidArgument("a function name contains a NUL byte".into()))?;
        let res = bpfkit_sys::link::link_create(&bpfkit_sys::link::LinkCreate {
            prog_fd: std::os::fd::AsRawFd::as_raw_fd(&self.fd()) as u32,
            target: 0,
            attach_type: crate::program::AttachType::TraceKprobeMulti.as_u32(),
            flags: 0,
            extra: bpfkit_sys::link::LinkTarget::KprobeMulti {
                flags: if retprobe {
                    bpfkit_sys::link::F_KPROBE_MULTI_RETURN
                } else {
                    0
                },
                syms: &syms,
                addrs: &[],
                cookies: &[],
            },
        });
        let kind = if retprobe {
            "kretprobe.multi"
        } else {
            "kprobe.multi"
        };
        match res {
            Ok(fd) => Ok(Link::from_link_fd(fd, format!("{kind} on {} functions", funcs.len()))),
            Err(e) if matches!(e.errno(), Some(libc::EOPNOTSUPP) | Some(524)) => Err(Error::NotSupported {
                feature: "kprobe.multi".into(),
                hint: "needs CONFIG_FPROBE and Linux 5.18+".into(),
            }),
            Err(e) if e.errno() == Some(libc::EINVAL) && self.expected_attach_type()
                != Some(crate::program::AttachType::TraceKprobeMulti) =>
            {
                Err(Error::InvalidArgument(format!(
                    "program `{}` must be loaded with expected attach type trace_kprobe_multi for {kind}",
                    self.name()
                )))
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("do_sys_*", "do_sys_openat2"));
        assert!(glob_match("*open*", "do_sys_openat2"));
        assert!(glob_match("vfs_rea?", "vfs_read"));
        assert!(!glob_match("vfs_rea?", "vfs_readv"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a*b", "acbd"));
        assert!(glob_match("a*b*", "acbd"));
        assert!(glob_match("exact", "exact"));
    }

    #[test]
    fn aliases_at_a_traceable_address_match_once() {
        let listed = ["__do_sys_getpid", "vfs_read", "do_sys_openat2"];
        let kallsyms = "\
ffffffff81100000 t __do_sys_getpid
ffffffff81100000 T __x64_sys_getpid
ffffffff81100000 T __ia32_sys_getpid
ffffffff810ffff0 T __pfx___x64_sys_getpid
ffffffff81200000 T vfs_read
ffffffff81300000 T do_sys_openat2
ffffffff81400000 T __x64_sys_notrace_thing
ffffffff82000000 D __x64_sys_data_not_text
";
        assert_eq!(
            match_functions("__x64_sys_getpi?", &listed, kallsyms),
            ["__x64_sys_getpid"]
        );
        // Three names of one function: attached once, by the first name.
        assert_eq!(
            match_functions("*sys_getpid", &listed, kallsyms),
            ["__do_sys_getpid"]
        );
        // Neither data nor text at an address ftrace does not list.
        assert_eq!(
            match_functions("__x64_sys_*", &listed, kallsyms),
            ["__x64_sys_getpid"]
        );
        assert_eq!(
            match_functions("*", &listed, kallsyms),
            ["__do_sys_getpid", "do_sys_openat2", "vfs_read"]
        );
        // Hidden addresses (kptr_restrict): names from the listing alone.
        let hidden = "0000000000000000 T __x64_sys_getpid\n0000000000000000 t __do_sys_getpid\n";
        assert_eq!(
            match_functions("*sys_getpid", &listed, hidden),
            ["__do_sys_getpid"]
        );
        assert!(match_functions("__x64_*", &listed, "").is_empty());
    }

    #[test]
    fn syscall_names_are_arch_prefixed() {
        let f = syscall_function("getpid");
        assert!(f.ends_with("sys_getpid"), "{f}");
    }
}
