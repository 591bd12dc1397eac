//! USDT probes (SystemTap SDT notes) of a user-space ELF file.
//!
//! A program built with `<sys/sdt.h>` describes each probe site in one note of the
//! `.note.stapsdt` section: note type 3, owner `stapsdt`, and a descriptor holding three
//! addresses (the probe's pc, the link-time address of `.stapsdt.base`, the semaphore or 0;
//! 8 bytes each in a 64-bit file) followed by three NUL-terminated strings: provider, name and
//! the argument specs. [`usdt_probes`] reads them, corrects the addresses when the file was
//! prelinked (the actual `.stapsdt.base` address differs from the recorded one) and converts
//! pc and semaphore to file offsets through the program headers, which is what a uprobe and
//! its `ref_ctr_offset` take. [`parse_usdt_args`] turns the argument string (`-4@%eax
//! 8@-16(%rbp) -4@$5 -8@counter(%rip)`, x86 AT&T operand syntax) into [`UsdtArg`]s;
//! [`symbol_address`] finds the symbols such specs name.
//!
//! Nothing here touches the kernel; every malformed note is an [`Error`], never a panic.

use crate::error::{Error, Result};
use object::{Object, ObjectSection, ObjectSegment};

/// The note type of an SDT probe descriptor.
const NT_STAPSDT: u32 = 3;

/// One probe site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsdtProbe {
    /// Provider (namespace), e.g. `libc`.
    pub provider: String,
    /// Probe name, e.g. `setjmp`.
    pub name: String,
    /// Virtual address of the probe instruction, corrected for prelinking.
    pub pc: u64,
    /// File offset of the probe instruction (where the uprobe goes).
    pub pc_offset: u64,
    /// Virtual address of the semaphore (0: the probe has none).
    pub semaphore: u64,
    /// File offset of the semaphore (0: none), the uprobe's `ref_ctr_offset`.
    pub semaphore_offset: u64,
    /// The argument specs as written in the note.
    pub args: String,
}

fn bad(detail: impl Into<String>) -> Error {
    Error::BadSection {
        section: ".note.stapsdt".into(),
        detail: detail.into(),
    }
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes(s.try_into().ok()?))
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    let s = b.get(off..off.checked_add(8)?)?;
    Some(u64::from_le_bytes(s.try_into().ok()?))
}

/// The NUL-terminated string at `off` and the offset after its NUL.
fn cstr_at(b: &[u8], off: usize) -> Option<(String, usize)> {
    let rest = b.get(off..)?;
    let len = rest.iter().position(|&c| c == 0)?;
    let s = std::str::from_utf8(rest.get(..len)?).ok()?;
    Some((s.to_string(), off + len + 1))
}

fn align4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|v| v & !3)
}

/// Every USDT probe site of the 64-bit little-endian ELF file in `data`, in note order. A
/// file without `.note.stapsdt` has none (an empty list).
pub fn usdt_probes(data: &[u8]) -> Result<Vec<UsdtProbe>> {
    let file = object::File::parse(data).map_err(|e| Error::Elf {
        detail: e.to_string(),
    })?;
    if !file.is_64() || !file.is_little_endian() {
        return Err(bad("only 64-bit little-endian files are supported"));
    }
    let Some(notes) = file.section_by_name(".note.stapsdt") else {
        return Ok(Vec::new());
    };
    let bytes = notes.data().map_err(|e| bad(e.to_string()))?;
    let actual_base = file.section_by_name(".stapsdt.base").map(|s| s.address());
    let to_offset = |addr: u64| {
        file.segments().find_map(|seg| {
            let (off, size) = seg.file_range();
            let start = seg.address();
            // A corrupt p_offset may be near u64::MAX: no offset, not an overflow.
            addr.checked_sub(start)
                .filter(|&d| d < size)
                .and_then(|d| d.checked_add(off))
        })
    };
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos + 12 <= bytes.len() {
        let (Some(namesz), Some(descsz), Some(ntype)) = (
            u32_at(bytes, pos),
            u32_at(bytes, pos + 4),
            u32_at(bytes, pos + 8),
        ) else {
            break;
        };
        let name_start = pos + 12;
        let desc_start = align4(name_start + namesz as usize).ok_or_else(|| bad("note size"))?;
        let desc_end = desc_start
            .checked_add(descsz as usize)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| bad(format!("note at {pos:#x} runs past the section end")))?;
        let owner = bytes
            .get(name_start..name_start + namesz as usize)
            .ok_or_else(|| bad("note owner out of bounds"))?;
        pos = align4(desc_end).ok_or_else(|| bad("note size"))?;
        if ntype != NT_STAPSDT || owner != b"stapsdt\0" {
            continue;
        }
        let desc = &bytes[desc_start..desc_end];
        let (Some(pc), Some(base), Some(sem)) =
            (u64_at(desc, 0), u64_at(desc, 8), u64_at(desc, 16))
        else {
            return Err(bad("descriptor shorter than its three addresses"));
        };
        let strings = || {
            let (provider, o) = cstr_at(desc, 24)?;
            let (name, o) = cstr_at(desc, o)?;
            let (args, _) = cstr_at(desc, o)?;
            Some((provider, name, args))
        };
        let (provider, name, args) =
            strings().ok_or_else(|| bad("descriptor strings are not NUL-terminated UTF-8"))?;
        // Prelink moves the file: the difference between where .stapsdt.base is and where
        // the note says it was applies to pc and semaphore alike.
        let delta = actual_base.map_or(0, |a| a.wrapping_sub(base));
        let pc = pc.wrapping_add(delta);
        let semaphore = if sem == 0 { 0 } else { sem.wrapping_add(delta) };
        let pc_offset = to_offset(pc).ok_or_else(|| {
            bad(format!(
                "probe {provider}:{name}: pc {pc:#x} is in no loadable segment"
            ))
        })?;
        let semaphore_offset = if semaphore == 0 {
            0
        } else {
            to_offset(semaphore).ok_or_else(|| {
                bad(format!(
                    "probe {provider}:{name}: semaphore {semaphore:#x} is in no loadable segment"
                ))
            })?
        };
        out.push(UsdtProbe {
            provider,
            name,
            pc,
            pc_offset,
            semaphore,
            semaphore_offset,
            args,
        });
    }
    Ok(out)
}

/// Where an argument's value is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsdtArgLoc {
    /// A constant (`$5`).
    Const(i64),
    /// A register (`%eax`), named without the `%`.
    Reg(String),
    /// Memory at `disp(base, index, scale)`: `-16(%rbp)`, `8(%rax,%rdx,4)`, `(%rdi)`, or
    /// at a symbol: `counter(%rip)`, `8+table(%rip)` (the address of `symbol` plus `disp`;
    /// `%rip` as base only says the operand is addressed relative to the code).
    Mem {
        /// Base register (`None` for `disp(,%idx,s)`).
        base: Option<String>,
        /// Index register and scale.
        index: Option<(String, u8)>,
        /// Displacement.
        disp: i64,
        /// A symbol the displacement is relative to.
        symbol: Option<String>,
    },
}

/// One parsed argument spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsdtArg {
    /// Size in bytes (1, 2, 4 or 8).
    pub size: u8,
    /// Sign-extend the value (the spec's size was negative).
    pub signed: bool,
    /// Where the value is.
    pub loc: UsdtArgLoc,
}

fn arg_err(spec: &str, why: &str) -> Error {
    bad(format!("unsupported USDT argument spec `{spec}`: {why}"))
}

fn parse_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(h) => u64::from_str_radix(h, 16).ok()?,
        None => digits.parse::<u64>().ok()?,
    } as i64;
    Some(if neg { v.wrapping_neg() } else { v })
}

/// A displacement: numbers and at most one symbol joined by `+`/`-` (`-16`, `counter`,
/// `8+table`, `table-4`).
fn parse_disp(s: &str) -> Option<(i64, Option<String>)> {
    let mut disp = 0i64;
    let mut symbol = None;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Some((0, None));
    }
    loop {
        let mut neg = false;
        while let Some(r) = rest.strip_prefix(['+', '-']) {
            neg ^= rest.starts_with('-');
            rest = r;
        }
        let end = rest.find(['+', '-']).unwrap_or(rest.len());
        let (body, tail) = rest.split_at(end);
        if body.is_empty() {
            return None;
        }
        if let Some(v) = parse_int(body) {
            disp = disp.wrapping_add(if neg { v.wrapping_neg() } else { v });
        } else if !neg
            && symbol.is_none()
            && body
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'$')
        {
            symbol = Some(body.to_string());
        } else {
            return None;
        }
        if tail.is_empty() {
            return Some((disp, symbol));
        }
        rest = tail;
    }
}

/// The address (`st_value`) of `name` in the symbol tables (`.symtab`, then `.dynsym`) of the
/// ELF file in `data`, for symbolic argument specs.
pub fn symbol_address(data: &[u8], name: &str) -> Result<Option<u64>> {
    use object::ObjectSymbol;
    let file = object::File::parse(data).map_err(|e| Error::Elf {
        detail: e.to_string(),
    })?;
    Ok(file
        .symbols()
        .chain(file.dynamic_symbols())
        .find(|s| s.is_definition() && s.name() == Ok(name))
        .map(|s| s.address()))
}

fn reg_name(s: &str) -> Option<String> {
    let r = s.trim().strip_prefix('%')?;
    (!r.is_empty() && r.bytes().all(|c| c.is_ascii_alphanumeric())).then(|| r.to_string())
}

fn parse_one(spec: &str) -> Result<UsdtArg> {
    let (size, signed, operand) = match spec.split_once('@') {
        Some((sz, op)) => {
            let n: i32 = sz.parse().map_err(|_| arg_err(spec, "bad size"))?;
            (n.unsigned_abs(), n < 0, op)
        }
        // Old notes carry no size: a full register.
        None => (8, false, spec),
    };
    if !matches!(size, 1 | 2 | 4 | 8) {
        return Err(arg_err(spec, "size is not 1, 2, 4 or 8"));
    }
    let loc = if let Some(c) = operand.strip_prefix('$') {
        UsdtArgLoc::Const(parse_int(c).ok_or_else(|| arg_err(spec, "bad constant"))?)
    } else if operand.starts_with('%') {
        UsdtArgLoc::Reg(reg_name(operand).ok_or_else(|| arg_err(spec, "bad register"))?)
    } else if let Some(open) = operand.find('(') {
        let inner = operand
            .get(open + 1..)
            .and_then(|r| r.strip_suffix(')'))
            .ok_or_else(|| arg_err(spec, "unbalanced parentheses"))?;
        let (disp, symbol) =
            parse_disp(&operand[..open]).ok_or_else(|| arg_err(spec, "bad displacement"))?;
        let parts: Vec<&str> = inner.split(',').collect();
        let base = match parts.first().map(|p| p.trim()) {
            Some("") | None => None,
            Some(b) => Some(reg_name(b).ok_or_else(|| arg_err(spec, "bad base register"))?),
        };
        let index = match parts.get(1) {
            None => None,
            Some(i) => {
                let r = reg_name(i).ok_or_else(|| arg_err(spec, "bad index register"))?;
                let scale = match parts.get(2).map(|s| s.trim()) {
                    None => 1,
                    Some(s) => s
                        .parse::<u8>()
                        .ok()
                        .filter(|v| matches!(v, 1 | 2 | 4 | 8))
                        .ok_or_else(|| arg_err(spec, "bad scale"))?,
                };
                Some((r, scale))
            }
        };
        if parts.len() > 3 || (base.is_none() && index.is_none()) {
            return Err(arg_err(spec, "bad memory operand"));
        }
        // Relative to %rip a plain number would count from the next instruction, whose
        // address the note does not give.
        if base.as_deref() == Some("rip") && (symbol.is_none() || index.is_some()) {
            return Err(arg_err(spec, "%rip-relative operands need a symbol"));
        }
        UsdtArgLoc::Mem {
            base,
            index,
            disp,
            symbol,
        }
    } else {
        return Err(arg_err(spec, "unknown operand form"));
    };
    Ok(UsdtArg {
        size: size as u8,
        signed,
        loc,
    })
}

/// Parses a note's argument string (specs separated by spaces).
pub fn parse_usdt_args(args: &str) -> Result<Vec<UsdtArg>> {
    args.split_whitespace().map(parse_one).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(r: &str) -> UsdtArgLoc {
        UsdtArgLoc::Reg(r.into())
    }

    #[test]
    fn argument_forms() {
        let a =
            parse_usdt_args("-4@%eax 8@-16(%rbp) 8@$5 -4@8(%rax,%rdx,4) 1@%sil -8@$-7").unwrap();
        assert_eq!(
            a[0],
            UsdtArg {
                size: 4,
                signed: true,
                loc: reg("eax")
            }
        );
        assert_eq!(
            a[1].loc,
            UsdtArgLoc::Mem {
                base: Some("rbp".into()),
                index: None,
                disp: -16,
                symbol: None
            }
        );
        assert_eq!(a[2].loc, UsdtArgLoc::Const(5));
        assert!(!a[2].signed);
        assert_eq!(
            a[3].loc,
            UsdtArgLoc::Mem {
                base: Some("rax".into()),
                index: Some(("rdx".into(), 4)),
                disp: 8,
                symbol: None
            }
        );
        assert_eq!(a[4].size, 1);
        assert_eq!(a[5].loc, UsdtArgLoc::Const(-7));
        assert_eq!(
            parse_usdt_args("(%rdi) %rsi").unwrap()[1],
            UsdtArg {
                size: 8,
                signed: false,
                loc: reg("rsi")
            }
        );
        let sym = |s: &str| match &parse_usdt_args(s).unwrap()[0].loc {
            UsdtArgLoc::Mem { disp, symbol, .. } => (*disp, symbol.clone()),
            l => panic!("{l:?}"),
        };
        assert_eq!(sym("-8@counter(%rip)"), (0, Some("counter".into())));
        assert_eq!(sym("-4@8+arr(%rip)"), (8, Some("arr".into())));
        assert_eq!(sym("4@arr-4(%rip)"), (-4, Some("arr".into())));
        assert_eq!(sym("4@-0x10(%rbp)"), (-16, None));
        assert!(parse_usdt_args("3@%eax").is_err());
        assert!(parse_usdt_args("8@16(%rip)").is_err());
        assert!(parse_usdt_args("8@a+b(%rip)").is_err());
        assert!(parse_usdt_args("8@-a(%rip)").is_err());
        assert!(parse_usdt_args("8@8(%rax").is_err());
        assert!(parse_usdt_args("8@()").is_err());
        for bad in [
            "@",
            "-@%",
            "8@(",
            "8@)(",
            "8@,(,)",
            "99999999999@%eax",
            "8@$",
            "8@$-",
            "-@$1",
            "8@1+(%rax)",
            "8@+-(%rax)",
            "8@%",
            "8@%é",
            "8@(%rax,%rbx,3)",
            "8@(%rax,,)",
            "8@x(%rax,%rbx,2,1)",
        ] {
            assert!(parse_usdt_args(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn no_notes_in_a_non_elf_is_an_error_not_a_panic() {
        assert!(usdt_probes(b"not an elf").is_err());
        assert!(usdt_probes(&[]).is_err());
    }

    #[test]
    fn reads_the_notes_of_libstdcxx() {
        // Debian's libstdc++ carries SDT notes (`libstdcxx:throw`, `catch`, `rethrow`).
        let path = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6";
        let Ok(data) = std::fs::read(path) else {
            return;
        };
        let probes = usdt_probes(&data).unwrap();
        let p = probes
            .iter()
            .find(|p| p.provider == "libstdcxx" && p.name == "throw")
            .expect("libstdcxx:throw");
        assert!(p.pc_offset != 0 && (p.pc_offset as usize) < data.len());
        assert_eq!(p.semaphore, 0);
        assert!(parse_usdt_args(&p.args).is_ok(), "{}", p.args);
        // Plain uprobe binaries have no notes: an empty list.
        let exe = std::fs::read("/proc/self/exe").unwrap();
        assert!(usdt_probes(&exe).unwrap().is_empty());
    }

    #[test]
    fn damaged_notes_are_errors_or_skipped_never_panics() {
        let path = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6";
        let Ok(data) = std::fs::read(path) else {
            return;
        };
        let file = object::File::parse(&*data).unwrap();
        let sec = file.section_by_name(".note.stapsdt").unwrap();
        let (start, len) = sec.file_range().unwrap();
        let (start, len) = (start as usize, len as usize);
        // Every byte of the section set to 0xff in turn, then to 0: sizes, types, addresses
        // and strings all go wrong somewhere.
        for i in start..start + len {
            for v in [0xffu8, 0] {
                let mut d = data.clone();
                d[i] = v;
                let _ = usdt_probes(&d);
            }
        }
        assert!(!usdt_probes(&data).unwrap().is_empty());
    }
}
