//! uprobes and uretprobes through the uprobe PMU: a binary (path, or a library name found
//! through `/etc/ld.so.cache`), a symbol from `.symtab`/`.dynsym` or an offset, optionally one
//! process only.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use object::{Object, ObjectSegment, ObjectSymbol};

use bpfkit_sys::perf::{perf_event_open, probe_attr, PerfTarget};

use crate::error::{Error, Result};
use crate::link::Link;
use crate::program::{Program, ProgramType};

/// Where in the binary to probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UprobeTarget<'a> {
    /// A function symbol.
    Symbol(&'a str),
    /// A function symbol plus a byte offset into it.
    SymbolOffset(&'a str, u64),
    /// A virtual address as the ELF file states it (converted through the program headers).
    Address(u64),
    /// A file offset, used as is.
    FileOffset(u64),
}

/// Options of a uprobe attachment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UprobeOptions {
    /// Only this process (`None`: every process running the binary).
    pub pid: Option<i32>,
    /// A uretprobe (fires on return) instead of a uprobe.
    pub retprobe: bool,
    /// Value for `bpf_get_attach_cookie`.
    pub cookie: u64,
    /// File offset of a USDT semaphore the kernel increments while attached (0: none).
    pub ref_ctr_offset: u64,
}

fn io_err(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

fn elf_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(format!("{}: not a readable ELF file: {e}", path.display()))
}

/// The file offset of `symbol` in the ELF file at `path`: its address from `.symtab` or
/// `.dynsym`, mapped through the loadable segment that contains it.
pub fn symbol_file_offset(path: &Path, symbol: &str) -> Result<u64> {
    let data = std::fs::read(path).map_err(|e| io_err(path, e))?;
    let file = object::File::parse(&*data).map_err(|e| elf_err(path, e))?;
    let found = file
        .symbols()
        .chain(file.dynamic_symbols())
        .filter(|s| s.is_definition() && s.address() != 0)
        .find(|s| {
            s.name().is_ok_and(|n| {
                // Versioned dynamic names may come as `name@VERSION` or `name@@VERSION`.
                n == symbol || n.split('@').next() == Some(symbol)
            })
        })
        .map(|s| s.address());
    let Some(addr) = found else {
        return Err(Error::InvalidArgument(format!(
            "symbol `{symbol}` is not defined in {} (.symtab/.dynsym); check the name or use an offset",
            path.display()
        )));
    };
    address_to_offset(&file, addr).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{}: address {addr:#x} of `{symbol}` is in no loadable segment",
            path.display()
        ))
    })
}

fn address_to_offset(file: &object::File<'_>, addr: u64) -> Option<u64> {
    file.segments().find_map(|seg| {
        let (off, size) = seg.file_range();
        let start = seg.address();
        (addr >= start && addr < start + size).then(|| addr - start + off)
    })
}

/// The file offset of virtual address `addr` in the ELF file at `path`.
pub fn address_file_offset(path: &Path, addr: u64) -> Result<u64> {
    let data = std::fs::read(path).map_err(|e| io_err(path, e))?;
    let file = object::File::parse(&*data).map_err(|e| elf_err(path, e))?;
    address_to_offset(&file, addr).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{}: address {addr:#x} is in no loadable segment",
            path.display()
        ))
    })
}

/// Function symbols of the ELF file at `path` whose names match the glob `pattern`, with their
/// file offsets, sorted by name and deduplicated.
pub fn matching_symbols(path: &Path, pattern: &str) -> Result<Vec<(String, u64)>> {
    let data = std::fs::read(path).map_err(|e| io_err(path, e))?;
    let file = object::File::parse(&*data).map_err(|e| elf_err(path, e))?;
    let mut out: Vec<(String, u64)> = file
        .symbols()
        .chain(file.dynamic_symbols())
        .filter(|s| s.is_definition() && s.address() != 0 && s.kind() == object::SymbolKind::Text)
        .filter_map(|s| {
            let name = s.name().ok()?.split('@').next()?.to_string();
            if !super::kprobe::glob_match(pattern, &name) {
                return None;
            }
            Some((name, address_to_offset(&file, s.address())?))
        })
        .collect();
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    Ok(out)
}

/// Magic of the current ld.so.cache format (glibc 2.32+ writes only this one).
const CACHE_MAGIC_NEW: &[u8] = b"glibc-ld.so.cache1.1";
/// Magic of the old format, which older glibc writes before the new one.
const CACHE_MAGIC_OLD: &[u8] = b"ld.so-1.7.0";

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    b.get(off..off + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_ne_bytes)
}

fn cstr_at(b: &[u8], off: usize) -> Option<&str> {
    let rest = b.get(off..)?;
    let end = rest.iter().position(|&c| c == 0)?;
    std::str::from_utf8(&rest[..end]).ok()
}

/// Parses ld.so.cache bytes into `(soname, path)` pairs, in cache order.
pub fn parse_ld_so_cache(bytes: &[u8]) -> Vec<(String, String)> {
    // The new-format table may follow an old-format table; its string offsets are relative to
    // its own header.
    let base = if bytes.starts_with(CACHE_MAGIC_NEW) {
        Some(0)
    } else if bytes.starts_with(CACHE_MAGIC_OLD) {
        bytes
            .windows(CACHE_MAGIC_NEW.len())
            .position(|w| w == CACHE_MAGIC_NEW)
    } else {
        None
    };
    let Some(base) = base else {
        return Vec::new();
    };
    let Some(nlibs) = u32_at(bytes, base + 20) else {
        return Vec::new();
    };
    const HEADER: usize = 48;
    const ENTRY: usize = 24;
    let mut out = Vec::new();
    for i in 0..nlibs as usize {
        let e = base + HEADER + i * ENTRY;
        let (Some(flags), Some(key), Some(value)) =
            (u32_at(bytes, e), u32_at(bytes, e + 4), u32_at(bytes, e + 8))
        else {
            break;
        };
        // Only ELF libc6 entries (type 3 in the low byte); the arch byte is checked when the
        // file is opened, since several ABIs may share one cache.
        if flags & 0xff != 3 {
            continue;
        }
        if let (Some(k), Some(v)) = (
            cstr_at(bytes, base + key as usize),
            cstr_at(bytes, base + value as usize),
        ) {
            out.push((k.to_string(), v.to_string()));
        }
    }
    out
}

fn native_machine() -> Option<object::Architecture> {
    match std::env::consts::ARCH {
        "x86_64" => Some(object::Architecture::X86_64),
        "aarch64" => Some(object::Architecture::Aarch64),
        "riscv64" => Some(object::Architecture::Riscv64),
        "s390x" => Some(object::Architecture::S390x),
        _ => None,
    }
}

fn is_native_elf(path: &Path) -> bool {
    let Ok(data) = std::fs::read(path) else {
        return false;
    };
    match (object::File::parse(&*data), native_machine()) {
        (Ok(f), Some(m)) => f.architecture() == m,
        (Ok(_), None) => true,
        (Err(_), _) => false,
    }
}

/// Finds a shared library by name (`libc.so.6`, `libc`, `c`) through `/etc/ld.so.cache`, then
/// the standard library directories.
pub fn find_library(name: &str) -> Result<PathBuf> {
    let stem = name.strip_prefix("lib").unwrap_or(name);
    let stem = stem.split(".so").next().unwrap_or(stem);
    let want_exact = name.contains(".so");
    let prefix = format!("lib{stem}.so");
    let cache = std::fs::read("/etc/ld.so.cache").unwrap_or_default();
    let entries = parse_ld_so_cache(&cache);
    let by_name = |exact: bool| {
        entries
            .iter()
            .filter(|(k, _)| {
                if exact {
                    k == name
                } else {
                    k == &prefix || k.starts_with(&format!("{prefix}."))
                }
            })
            .map(|(_, v)| PathBuf::from(v))
            .find(|p| is_native_elf(p))
    };
    if let Some(p) = by_name(want_exact).or_else(|| by_name(false)) {
        return Ok(p);
    }
    let triplet = format!("{}-linux-gnu", std::env::consts::ARCH);
    let dirs = [
        "/lib64".to_string(),
        "/usr/lib64".to_string(),
        format!("/lib/{triplet}"),
        format!("/usr/lib/{triplet}"),
        "/lib".to_string(),
        "/usr/lib".to_string(),
        "/usr/local/lib".to_string(),
    ];
    let file = if want_exact {
        name.to_string()
    } else {
        prefix.clone()
    };
    for d in &dirs {
        let p = Path::new(d).join(&file);
        if is_native_elf(&p) {
            return Ok(p);
        }
    }
    Err(Error::InvalidArgument(format!(
        "shared library `{name}` not found in /etc/ld.so.cache or {}",
        dirs.join(", ")
    )))
}

/// Resolves what the user named as the binary to probe: a path (anything with a `/`), a
/// library name (`libc`, `libssl.so.3`), or a program found on `$PATH`.
pub fn resolve_binary(name: &str) -> Result<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        if !p.exists() {
            return Err(Error::InvalidArgument(format!(
                "binary {name} does not exist"
            )));
        }
        return Ok(p);
    }
    if name.starts_with("lib") || name.contains(".so") {
        return find_library(name);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    find_library(name).map_err(|_| {
        Error::InvalidArgument(format!(
            "`{name}` is neither a path, a program on $PATH, nor a known library"
        ))
    })
}

fn uprobe_pmu() -> Result<super::kprobe::ProbePmu> {
    super::kprobe::probe_pmu("uprobe")?.ok_or_else(|| Error::NotSupported {
        feature: "uprobes".into(),
        hint: "CONFIG_UPROBE_EVENTS is not set: no /sys/bus/event_source/devices/uprobe".into(),
    })
}

fn ref_ctr_shift() -> u32 {
    std::fs::read_to_string("/sys/bus/event_source/devices/uprobe/format/ref_ctr_offset")
        .ok()
        .and_then(|f| {
            f.trim()
                .strip_prefix("config:")
                .and_then(|r| r.split('-').next())
                .and_then(|b| b.parse().ok())
        })
        .unwrap_or(32)
}

impl Program {
    /// Attaches a uprobe (or uretprobe, see [`UprobeOptions::retprobe`]) program to `target`
    /// in `binary` (a path, or a name [`resolve_binary`] understands).
    pub fn attach_uprobe(
        &self,
        binary: impl AsRef<Path>,
        target: UprobeTarget<'_>,
        opts: &UprobeOptions,
    ) -> Result<Link> {
        super::require_type(self, &[ProgramType::Kprobe], "uprobe")?;
        let given = binary.as_ref();
        let path = match given.to_str() {
            Some(s) => resolve_binary(s)?,
            None => given.to_path_buf(),
        };
        let (offset, label) = match target {
            UprobeTarget::Symbol(s) => (symbol_file_offset(&path, s)?, s.to_string()),
            UprobeTarget::SymbolOffset(s, off) => {
                (symbol_file_offset(&path, s)? + off, format!("{s}+{off:#x}"))
            }
            UprobeTarget::Address(a) => (address_file_offset(&path, a)?, format!("{a:#x}")),
            UprobeTarget::FileOffset(o) => (o, format!("offset {o:#x}")),
        };
        let pmu = uprobe_pmu()?;
        let abs = std::fs::canonicalize(&path).map_err(|e| io_err(&path, e))?;
        let c = CString::new(abs.as_os_str().as_bytes()).map_err(|_| {
            Error::InvalidArgument(format!("path {} contains a NUL byte", abs.display()))
        })?;
        let mut config = if opts.retprobe {
            1u64 << pmu.retprobe_bit
        } else {
            0
        };
        if opts.ref_ctr_offset != 0 {
            config |= opts.ref_ctr_offset << ref_ctr_shift();
        }
        let attr = probe_attr(pmu.pmu_type, config, &c, offset);
        let kind = if opts.retprobe { "uretprobe" } else { "uprobe" };
        let what = format!("{kind} {}:{label}", abs.display());
        let target = match opts.pid {
            Some(pid) => PerfTarget { pid, cpu: -1 },
            None => PerfTarget { pid: -1, cpu: 0 },
        };
        let fd = perf_event_open(&attr, target, None, 0, &what)?;
        super::attach_to_perf_event(self, fd, opts.cookie, what)
    }
}

impl Program {
    /// Attaches one `uprobe.multi` link (program loaded with expected attach type
    /// `trace_uprobe_multi`, Linux 6.6+) to every function of `binary` matching `pattern`.
    /// `opts.ref_ctr_offset` and `opts.cookie` are not used.
    pub fn attach_uprobe_multi(
        &self,
        binary: impl AsRef<Path>,
        pattern: &str,
        opts: &UprobeOptions,
    ) -> Result<Link> {
        super::require_type(self, &[ProgramType::Kprobe], "uprobe.multi")?;
        let given = binary.as_ref();
        let path = match given.to_str() {
            Some(s) => resolve_binary(s)?,
            None => given.to_path_buf(),
        };
        let syms = matching_symbols(&path, pattern)?;
        if syms.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "no function in {} matches `{pattern}`",
                path.display()
            )));
        }
        let offsets: Vec<u64> = syms.iter().map(|s| s.1).collect();
        let abs = std::fs::canonicalize(&path).map_err(|e| io_err(&path, e))?;
        let c = CString::new(abs.as_os_str().as_bytes()).map_err(|_| {
            Error::InvalidArgument(format!("path {} contains a NUL byte", abs.display()))
        })?;
        let kind = if opts.retprobe {
            "uretprobe.multi"
        } else {
            "uprobe.multi"
        };
        let res = bpfkit_sys::link::link_create(&bpfkit_sys::link::LinkCreate {
            prog_fd: std::os::fd::AsRawFd::as_raw_fd(&self.fd()) as u32,
            target: 0,
            attach_type: crate::program::AttachType::TraceUprobeMulti.as_u32(),
            flags: 0,
            extra: bpfkit_sys::link::LinkTarget::UprobeMulti {
                path: &c,
                offsets: &offsets,
                ref_ctr_offsets: &[],
                cookies: &[],
                flags: if opts.retprobe {
                    bpfkit_sys::link::F_UPROBE_MULTI_RETURN
                } else {
                    0
                },
                pid: opts.pid.map_or(0, |p| p as u32),
            },
        });
        match res {
            Ok(fd) => Ok(Link::from_link_fd(
                fd,
                format!(
                    "{kind} {}:{pattern} ({} functions)",
                    abs.display(),
                    offsets.len()
                ),
            )),
            Err(e) if matches!(e.errno(), Some(libc::EOPNOTSUPP) | Some(524)) => {
                Err(Error::NotSupported {
                    feature: "uprobe.multi".into(),
                    hint: "needs Linux 6.6+".into(),
                })
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache_with(entries: &[(u32, &str, &str)]) -> Vec<u8> {
        let mut strings = Vec::new();
        let strings_at = 48 + 24 * entries.len();
        let mut table = Vec::new();
        for (flags, k, v) in entries {
            let ko = strings_at + strings.len();
            strings.extend_from_slice(k.as_bytes());
            strings.push(0);
            let vo = strings_at + strings.len();
            strings.extend_from_slice(v.as_bytes());
            strings.push(0);
            table.extend_from_slice(&flags.to_ne_bytes());
            table.extend_from_slice(&(ko as u32).to_ne_bytes());
            table.extend_from_slice(&(vo as u32).to_ne_bytes());
            table.extend_from_slice(&[0u8; 12]);
        }
        let mut out = CACHE_MAGIC_NEW.to_vec();
        out.extend_from_slice(&(entries.len() as u32).to_ne_bytes());
        out.extend_from_slice(&(strings.len() as u32).to_ne_bytes());
        out.resize(48, 0);
        out.extend(table);
        out.extend(strings);
        out
    }

    #[test]
    fn parses_new_format_cache() {
        let c = cache_with(&[
            (0x0303, "libz.so.1", "/lib/libz.so.1"),
            (0x0001, "libold.so", "/x"),
            (0x0303, "libc.so.6", "/lib/libc.so.6"),
        ]);
        let e = parse_ld_so_cache(&c);
        assert_eq!(
            e,
            vec![
                ("libz.so.1".to_string(), "/lib/libz.so.1".to_string()),
                ("libc.so.6".to_string(), "/lib/libc.so.6".to_string())
            ]
        );
        assert!(parse_ld_so_cache(b"garbage").is_empty());
        // A truncated table stops cleanly.
        assert!(parse_ld_so_cache(&c[..60]).is_empty());
    }

    #[test]
    fn finds_libc_on_this_machine() {
        let p = find_library("libc").expect("libc through ld.so.cache");
        assert!(p.to_string_lossy().contains("libc.so"), "{}", p.display());
        let off = symbol_file_offset(&p, "getpid").expect("getpid in libc");
        assert!(off > 0);
    }
}
