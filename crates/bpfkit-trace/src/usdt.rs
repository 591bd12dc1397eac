//! USDT probes: `usdt:BINARY:[PROVIDER:]NAME` (wildcards in each part) resolved against the
//! `.note.stapsdt` notes of the binary (read by [`bpfkit_elf::notes`]), one [`UsdtPoint`] per
//! probe site. Each site is attached as a uprobe at the note's pc (as a file offset), with the
//! probe's semaphore as the uprobe's `ref_ctr_offset` so the kernel counts it up while the
//! probe is attached (code guarded by `PROVIDER_NAME_ENABLED()` runs only then). `argN` reads
//! the site's N-th argument spec: a register of the probed thread's `pt_regs`, user memory
//! at `disp(base,index,scale)` or a constant; see `codegen/usdt.rs`.
//!
//! With `-p PID` the binary may be omitted or a wildcard: the process's executable and the
//! files it maps are searched. With `-c CMD` (and no `-p`) it is the command's program.

use crate::attach::{AttachPoint, AttachTarget};
use crate::probes::{Point, Resolved};
use bpfkit::attach::kprobe::glob_match;
use bpfkit::attach::uprobe::{resolve_binary, UprobeOptions, UprobeTarget};
use bpfkit::{Link, Program};
use bpfkit_elf::notes::{
    parse_usdt_args, symbol_address, usdt_probes, UsdtArg, UsdtArgLoc, UsdtProbe,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One USDT probe site to attach to.
#[derive(Clone, Debug)]
pub struct UsdtPoint {
    /// The binary or library holding the probe.
    pub path: PathBuf,
    /// Provider (namespace).
    pub provider: String,
    /// Probe name.
    pub name: String,
    /// File offset of the probe instruction.
    pub offset: u64,
    /// Its virtual address in the file (the probed thread's `ip` minus this is the load bias).
    pub pc: u64,
    /// Virtual addresses of the symbols the argument specs name (`counter(%rip)`).
    pub symbols: BTreeMap<String, u64>,
    /// File offset of the semaphore (0: none).
    pub semaphore: u64,
    /// Parsed argument specs.
    pub args: Vec<UsdtArg>,
}

/// The binaries a `usdt` attach point (or `-l` pattern) names: the resolved binary, or with
/// `-p PID` and no binary (or a wildcard one) the process's executable and mapped files, or
/// with `-c CMD` instead the command's program (when the wildcard matches its path).
fn binaries(binary: &str, pid: Option<u32>, cmd: Option<&str>) -> Result<Vec<PathBuf>, String> {
    if !binary.is_empty() && !binary.contains('*') {
        return Ok(vec![resolve_binary(binary).map_err(|e| e.to_string())?]);
    }
    if let (None, Some(prog)) = (pid, cmd.and_then(|c| c.split_whitespace().next())) {
        let path = resolve_binary(prog).map_err(|e| e.to_string())?;
        let hit = binary.is_empty() || glob_match(binary, &path.display().to_string());
        return Ok(if hit { vec![path] } else { Vec::new() });
    }
    let Some(pid) = pid else {
        return Err(format!(
            "usdt probe binary '{binary}': name a binary, or give -p PID to search the process's files"
        ));
    };
    let mut out: Vec<PathBuf> = Vec::new();
    if let Ok(exe) = std::fs::read_link(format!("/proc/{pid}/exe")) {
        out.push(exe);
    }
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .map_err(|e| format!("reading /proc/{pid}/maps: {e}"))?;
    for line in maps.lines() {
        // `address perms offset dev inode path`: only the path has a '/', and it may hold
        // spaces; a file deleted since it was mapped has no notes to read.
        let Some(path) = line.find('/').map(|i| &line[i..]) else {
            continue;
        };
        if !path.ends_with(" (deleted)") && !out.iter().any(|p| p.as_os_str() == path) {
            out.push(PathBuf::from(path));
        }
    }
    Ok(out
        .into_iter()
        .filter(|p| binary.is_empty() || glob_match(binary, &p.display().to_string()))
        .collect())
}

/// The probe sites of `path` (an unreadable or non-ELF mapped file has none).
fn notes_of(path: &Path, strict: bool) -> Result<Vec<UsdtProbe>, String> {
    match std::fs::read(path) {
        Ok(data) => match usdt_probes(&data) {
            Ok(v) => Ok(v),
            Err(e) if strict => Err(format!("{}: {e}", path.display())),
            Err(_) => Ok(Vec::new()),
        },
        Err(e) if strict => Err(format!("{}: {e}", path.display())),
        Err(_) => Ok(Vec::new()),
    }
}

/// Sites matching `provider` (`None`: any) and `name` in the binaries named by `binary`.
fn matching(
    binary: &str,
    provider: Option<&str>,
    name: &str,
    pid: Option<u32>,
    cmd: Option<&str>,
) -> Result<Vec<(PathBuf, UsdtProbe)>, String> {
    let strict = !binary.is_empty() && !binary.contains('*');
    let mut out = Vec::new();
    for path in binaries(binary, pid, cmd)? {
        for n in notes_of(&path, strict)? {
            if provider.is_none_or(|p| glob_match(p, &n.provider)) && glob_match(name, &n.name) {
                out.push((path.clone(), n));
            }
        }
    }
    Ok(out)
}

/// Expands a `usdt` attach point into one resolved point per probe site; `pid` and `cmd`
/// are `-p` and `-c`, which name the binary when the attach point omits it.
pub fn resolve(
    ap: &AttachPoint,
    pid: Option<u32>,
    cmd: Option<&str>,
) -> Result<Vec<Resolved>, String> {
    let AttachTarget::Usdt {
        binary,
        namespace,
        probe,
    } = &ap.target
    else {
        return Err(format!("{}: not a usdt probe", ap.raw));
    };
    let mut out = Vec::new();
    for (path, n) in matching(binary, namespace.as_deref(), probe, pid, cmd)? {
        let in_probe = |e: &dyn std::fmt::Display| {
            format!(
                "{}: probe {}:{} in {}: {e}",
                ap.raw,
                n.provider,
                n.name,
                path.display()
            )
        };
        let args = parse_usdt_args(&n.args).map_err(|e| in_probe(&e))?;
        let symbols = arg_symbols(&path, &args).map_err(|e| in_probe(&e))?;
        out.push(Resolved {
            name: format!("usdt:{}:{}:{}", path.display(), n.provider, n.name),
            point: Point::Usdt(UsdtPoint {
                path,
                provider: n.provider,
                name: n.name,
                offset: n.pc_offset,
                pc: n.pc,
                symbols,
                semaphore: n.semaphore_offset,
                args,
            }),
            kind: ap.kind,
        });
    }
    if out.is_empty() {
        return Err(format!("No probes matched the attach point '{}'", ap.raw));
    }
    Ok(out)
}

/// The addresses of the symbols `args` name, from the symbol tables of `path`.
fn arg_symbols(path: &Path, args: &[UsdtArg]) -> Result<BTreeMap<String, u64>, String> {
    let mut out = BTreeMap::new();
    let mut data = None;
    for a in args {
        let UsdtArgLoc::Mem {
            symbol: Some(s), ..
        } = &a.loc
        else {
            continue;
        };
        if data.is_none() {
            data = Some(std::fs::read(path).map_err(|e| e.to_string())?);
        }
        let bytes = data.as_deref().unwrap_or_default();
        let addr = symbol_address(bytes, s)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("argument symbol `{s}` is not in the symbol tables"))?;
        out.insert(s.clone(), addr);
    }
    Ok(out)
}

/// `-l 'usdt:BINARY[:PROVIDER]:NAME'` (the part after `usdt:`): one
/// `usdt:PATH:PROVIDER:NAME` line per probe, sorted, each probe once however many sites it
/// has, as bpftrace lists them.
pub fn list(rest: &str, pid: Option<u32>) -> Result<String, String> {
    let parts: Vec<&str> = rest.split(':').collect();
    let (binary, provider, name) = match parts.as_slice() {
        [] | [""] => ("", None, "*"),
        [b] => (*b, None, "*"),
        [b, n] => (*b, None, *n),
        [b, p, n] => (*b, Some(*p), *n),
        _ => return Err(format!("usdt:{rest}: expected usdt:BINARY[:PROVIDER]:NAME")),
    };
    let mut lines: Vec<String> = matching(binary, provider, name, pid, None)?
        .into_iter()
        .map(|(path, n)| format!("usdt:{}:{}:{}\n", path.display(), n.provider, n.name))
        .collect();
    lines.sort();
    lines.dedup();
    Ok(lines.concat())
}

/// Attaches `prog` to one probe site (a uprobe at the site, counting the semaphore).
pub fn attach(prog: &Program, p: &UsdtPoint, pid: Option<i32>) -> Result<Link, String> {
    let opts = UprobeOptions {
        pid,
        ref_ctr_offset: p.semaphore,
        ..Default::default()
    };
    prog.attach_uprobe(&p.path, UprobeTarget::FileOffset(p.offset), &opts)
        .map_err(|e| e.to_string())
}

/// Where an x86-64 register named in an argument spec lives in `struct pt_regs`: the byte
/// offset of its 64-bit slot and the right shift that brings it to bit 0 (8 for `ah` …).
pub fn pt_regs_slot(reg: &str) -> Option<(i16, i32)> {
    // (slot offset, names of the 64/32/16/8-bit views)
    const GPRS: [(i16, [&str; 4]); 8] = [
        (80, ["rax", "eax", "ax", "al"]),
        (40, ["rbx", "ebx", "bx", "bl"]),
        (88, ["rcx", "ecx", "cx", "cl"]),
        (96, ["rdx", "edx", "dx", "dl"]),
        (104, ["rsi", "esi", "si", "sil"]),
        (112, ["rdi", "edi", "di", "dil"]),
        (32, ["rbp", "ebp", "bp", "bpl"]),
        (152, ["rsp", "esp", "sp", "spl"]),
    ];
    // r8 … r15 and their d/w/b views.
    const RN: [i16; 8] = [72, 64, 56, 48, 24, 16, 8, 0];
    for (off, names) in GPRS {
        if names.contains(&reg) {
            return Some((off, 0));
        }
    }
    match reg {
        "ah" => return Some((80, 8)),
        "bh" => return Some((40, 8)),
        "ch" => return Some((88, 8)),
        "dh" => return Some((96, 8)),
        "rip" => return Some((128, 0)),
        _ => {}
    }
    let n = reg.strip_prefix('r')?;
    let digits = n.trim_end_matches(['d', 'w', 'b']);
    if n.len() - digits.len() > 1 {
        return None;
    }
    let i: usize = digits.parse().ok()?;
    RN.get(i.checked_sub(8)?).map(|&o| (o, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_slots() {
        assert_eq!(pt_regs_slot("eax"), Some((80, 0)));
        assert_eq!(pt_regs_slot("ah"), Some((80, 8)));
        assert_eq!(pt_regs_slot("sil"), Some((104, 0)));
        assert_eq!(pt_regs_slot("r8d"), Some((72, 0)));
        assert_eq!(pt_regs_slot("r15"), Some((0, 0)));
        assert_eq!(pt_regs_slot("r12w"), Some((24, 0)));
        assert_eq!(pt_regs_slot("r7"), None);
        assert_eq!(pt_regs_slot("r16"), None);
        assert_eq!(pt_regs_slot("r9dd"), None);
        assert_eq!(pt_regs_slot("xmm0"), None);
    }
}
