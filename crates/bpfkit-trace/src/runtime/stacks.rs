//! Printing `kstack` / `ustack`. The BPF side stores one 8-byte value: bits 0-15 the stack id
//! in the stack-trace map (`0xffff`: none), bits 16-23 the frame limit (0: all), bits 24-25
//! the mode (0 bpftrace, 1 perf, 2 raw) and, for `ustack`, bits 32-63 the pid. Kernel
//! addresses are named from `/proc/kallsyms`, user ones from `/proc/PID/maps` and the mapped
//! ELF file's symbol tables.

use bpfkit::Map;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// The frames of stack `id` in the stack-trace map `map`, innermost first.
fn frames(map: &Map, id: u32) -> Vec<u64> {
    let Some(v) = map.lookup(&id.to_ne_bytes()).ok().flatten() else {
        return Vec::new();
    };
    v.chunks_exact(8)
        .map(|c| c.iter().rev().fold(0u64, |a, &b| (a << 8) | u64::from(b)))
        .take_while(|&a| a != 0)
        .collect()
}

/// The printed text of a stack value (see the module docs for `v`) whose frames are in the
/// stack-trace map `map` (`None`: the script has none, so no frames).
pub fn text(map: Option<&Map>, kernel: bool, v: u64) -> String {
    let id = (v & 0xffff) as u32;
    let limit = ((v >> 16) & 0xff) as usize;
    let mode = (v >> 24) & 3;
    let pid = (v >> 32) as u32;
    let mut addrs = match map {
        Some(m) if id != 0xffff => frames(m, id),
        _ => Vec::new(),
    };
    if limit > 0 {
        addrs.truncate(limit);
    }
    let mut out = String::from("\n");
    for a in addrs {
        let (name, module) = if kernel {
            (ksym(a), "[kernel.kallsyms]".to_string())
        } else {
            usym(pid, a)
        };
        let name = name.unwrap_or_else(|| format!("0x{a:x}"));
        match mode {
            1 => out.push_str(&format!("\t{a:x} {name} ({module})\n")),
            2 => out.push_str(&format!("{a:x}\n")),
            _ => out.push_str(&format!("        {name}\n")),
        }
    }
    out
}

/// `/proc/kallsyms`, sorted by address.
fn kallsyms() -> &'static Vec<(u64, String)> {
    static TABLE: OnceLock<Vec<(u64, String)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let text = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
        let mut v: Vec<(u64, String)> = text
            .lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                let addr = u64::from_str_radix(f.next()?, 16).ok()?;
                let _kind = f.next()?;
                let name = f.next()?;
                (addr != 0).then(|| (addr, name.to_string()))
            })
            .collect();
        v.sort();
        v
    })
}

/// `name+offset` of kernel address `a`.
pub(super) fn ksym(a: u64) -> Option<String> {
    let t = kallsyms();
    let i = t.partition_point(|(s, _)| *s <= a).checked_sub(1)?;
    let (s, n) = t.get(i)?;
    Some(format!("{n}+{}", a - s))
}

/// `(name+offset, file)` of address `a` in process `pid`.
pub(super) fn usym(pid: u32, a: u64) -> (Option<String>, String) {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    for l in maps.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        let (Some(range), Some(off), Some(path)) = (f.first(), f.get(2), f.get(5)) else {
            continue;
        };
        let Some((lo, hi)) = range.split_once('-') else {
            continue;
        };
        let (Ok(lo), Ok(hi), Ok(off)) = (
            u64::from_str_radix(lo, 16),
            u64::from_str_radix(hi, 16),
            u64::from_str_radix(off, 16),
        ) else {
            continue;
        };
        if a < lo || a >= hi {
            continue;
        }
        let path = path.to_string();
        let name = elf_symbols(&path).and_then(|e| e.name_at(a - lo + off));
        return (name, path);
    }
    (None, "unknown".to_string())
}

/// The function symbols and loadable segments of one ELF file.
struct ElfSyms {
    /// `(file offset, size, virtual address)` of each `PT_LOAD` segment.
    loads: Vec<(u64, u64, u64)>,
    /// `(address, size, name)` sorted by address.
    syms: Vec<(u64, u64, String)>,
}

impl ElfSyms {
    /// `name+offset` of the symbol holding file offset `off`.
    fn name_at(&self, off: u64) -> Option<String> {
        let (fo, _, va) = self
            .loads
            .iter()
            .find(|(o, sz, _)| off >= *o && off < o.saturating_add(*sz))?;
        let addr = off - fo + va;
        let i = self.syms.partition_point(|s| s.0 <= addr).checked_sub(1)?;
        let (s, size, n) = self.syms.get(i)?;
        (addr < s.saturating_add((*size).max(1)) || *size == 0).then(|| format!("{n}+{}", addr - s))
    }
}

/// Parsed symbol tables by path (`None`: not a readable 64-bit ELF file).
fn elf_symbols(path: &str) -> Option<std::sync::Arc<ElfSyms>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<std::sync::Arc<ElfSyms>>>>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut c = cache.lock().ok()?;
    c.entry(path.to_string())
        .or_insert_with(|| {
            std::fs::read(path)
                .ok()
                .and_then(|b| parse_elf(&b))
                .map(std::sync::Arc::new)
        })
        .clone()
}

/// Little-endian integer of `n` bytes at `off`.
fn le(b: &[u8], off: usize, n: usize) -> Option<u64> {
    let s = b.get(off..off.checked_add(n)?)?;
    Some(s.iter().rev().fold(0u64, |a, &x| (a << 8) | u64::from(x)))
}

/// Reads the `PT_LOAD` segments and `STT_FUNC` symbols of a 64-bit little-endian ELF file.
fn parse_elf(b: &[u8]) -> Option<ElfSyms> {
    if b.get(..4)? != b"\x7fELF" || *b.get(4)? != 2 || *b.get(5)? != 1 {
        return None;
    }
    let at = |off: u64, n: usize| le(b, usize::try_from(off).ok()?, n);
    let (phoff, shoff) = (at(0x20, 8)?, at(0x28, 8)?);
    let (phent, phnum) = (at(0x36, 2)?, at(0x38, 2)?);
    let (shent, shnum) = (at(0x3a, 2)?, at(0x3c, 2)?);
    let mut loads = Vec::new();
    for i in 0..phnum {
        let p = phoff + i * phent;
        if at(p, 4)? == 1 {
            loads.push((at(p + 8, 8)?, at(p + 32, 8)?, at(p + 16, 8)?));
        }
    }
    let sh = |i: u64| shoff + i * shent;
    let mut syms = Vec::new();
    for want in [2u64, 11] {
        for i in 0..shnum {
            let s = sh(i);
            if at(s + 4, 4)? != want {
                continue;
            }
            let (off, size, link, ent) = (at(s + 24, 8)?, at(s + 32, 8)?, at(s + 40, 4)?, 24);
            let stroff = at(sh(link) + 24, 8)?;
            for k in 0..size / ent {
                let e = off + k * ent;
                let (name, info, value, sz) =
                    (at(e, 4)?, at(e + 4, 1)?, at(e + 8, 8)?, at(e + 16, 8)?);
                if info & 0xf != 2 || value == 0 {
                    continue;
                }
                let start = usize::try_from(stroff + name).ok()?;
                let bytes = b.get(start..)?;
                let end = bytes.iter().position(|&c| c == 0)?;
                let n = String::from_utf8_lossy(bytes.get(..end)?).into_owned();
                syms.push((value, sz, n));
            }
        }
        if !syms.is_empty() {
            break;
        }
    }
    syms.sort();
    Some(ElfSyms { loads, syms })
}
