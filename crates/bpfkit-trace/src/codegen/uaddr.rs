//! `uaddr("sym")`: the address of a symbol of the probed binary. In an executable linked at
//! fixed addresses (`ET_EXEC`) that is the symbol's value, known when the script compiles.
//! A position-independent binary or shared library (`ET_DYN`) is mapped at a base chosen at
//! run time: in a uprobe on one of its functions, the instruction pointer at the probe is the
//! probed address, so the base is the register minus that address's link-time value.

use super::*;

/// `e_type` of a position-independent ELF file.
const ET_DYN: u64 = 3;
/// `SHT_SYMTAB` and `SHT_DYNSYM`.
const SYMBOL_TABLES: [u64; 2] = [2, 11];
/// Offset of `ip` in x86-64 `struct pt_regs`.
const PT_REGS_IP: i16 = 16 * 8;

/// Little-endian integer of `n` bytes at `off` of `b`.
fn le(b: &[u8], off: u64, n: usize) -> Option<u64> {
    let off = usize::try_from(off).ok()?;
    let s = b.get(off..off.checked_add(n)?)?;
    Some(s.iter().rev().fold(0u64, |a, &x| (a << 8) | u64::from(x)))
}

/// `(link-time value of `name`, whether the file is position-independent)` from the symbol
/// tables of the 64-bit little-endian ELF file `b`; versioned names (`name@VER`) match.
fn elf_symbol(b: &[u8], name: &str) -> Option<(u64, bool)> {
    if b.get(..4)? != b"\x7fELF" || *b.get(4)? != 2 || *b.get(5)? != 1 {
        return None;
    }
    let is_dyn = le(b, 16, 2)? == ET_DYN;
    let (shoff, shent, shnum) = (le(b, 0x28, 8)?, le(b, 0x3a, 2)?, le(b, 0x3c, 2)?);
    let sh = |i: u64| shoff + i * shent;
    for want in SYMBOL_TABLES {
        for i in 0..shnum {
            if le(b, sh(i) + 4, 4)? != want {
                continue;
            }
            let (off, size, link) = (
                le(b, sh(i) + 24, 8)?,
                le(b, sh(i) + 32, 8)?,
                le(b, sh(i) + 40, 4)?,
            );
            let strtab = le(b, sh(link) + 24, 8)?;
            for k in 0..size / 24 {
                let e = off + k * 24;
                let (name_off, value, shndx) = (le(b, e, 4)?, le(b, e + 8, 8)?, le(b, e + 6, 2)?);
                // Undefined symbols (section 0) name what other files define.
                if value == 0 || shndx == 0 {
                    continue;
                }
                let start = usize::try_from(strtab + name_off).ok()?;
                let rest = b.get(start..)?;
                let end = rest.iter().position(|&c| c == 0)?;
                let n = std::str::from_utf8(rest.get(..end)?).ok()?;
                if n == name || n.split('@').next() == Some(name) {
                    return Some((value, is_dyn));
                }
            }
        }
    }
    None
}

impl Gen<'_, '_> {
    /// `uaddr("sym")` in a uprobe (see the module docs).
    pub(super) fn uaddr_fn(&mut self, e: &Expr, args: &[Expr]) -> R<Val> {
        let Some(ExprKind::Str(s)) = args.first().map(|a| &a.kind) else {
            return Err(Diagnostic::error(
                e.span,
                "uaddr() expects a string literal",
            ));
        };
        let sym = String::from_utf8_lossy(s).into_owned();
        let Point::Uprobe {
            path,
            symbol,
            offset,
            ret,
        } = &self.res.point
        else {
            return Err(Diagnostic::error(
                e.span,
                "uaddr() can only be used in uprobes",
            ));
        };
        let not_found = || {
            Diagnostic::error(
                e.span,
                format!("Could not resolve symbol: {}:{sym}", path.display()),
            )
        };
        let bytes = std::fs::read(path).map_err(|_| not_found())?;
        let (value, is_dyn) = elf_symbol(&bytes, &sym).ok_or_else(not_found)?;
        if !is_dyn {
            return Ok(Val::Int(self.imm(value as i64), false));
        }
        // The probed address's link-time value: the probe's symbol plus its offset, or the
        // address the probe was given.
        let probed = if symbol.is_empty() {
            *offset
        } else {
            elf_symbol(&bytes, symbol).ok_or_else(not_found)?.0 + offset
        };
        if *ret {
            return Err(Diagnostic::error(
                e.span,
                "uaddr() of a position-independent binary needs a uprobe (in a uretprobe the instruction pointer is the return address)",
            ));
        }
        let v = self.v();
        self.emit(Op::Load(Size::DW, v, self.ctx, PT_REGS_IP));
        let delta = value.wrapping_sub(probed) as i64;
        let d = self.imm(delta);
        self.alu(AluOp::Add, v, Src::V(d));
        Ok(Val::Int(v, false))
    }
}

#[cfg(test)]
mod tests {
    use super::elf_symbol;

    #[test]
    fn finds_symbols_of_this_test_binary() {
        let exe = std::fs::read("/proc/self/exe").expect("own executable");
        let main = elf_symbol(&exe, "main");
        assert!(main.is_some_and(|(v, _)| v != 0), "{main:?}");
        assert_eq!(elf_symbol(&exe, "no_such_symbol_here"), None);
        assert_eq!(elf_symbol(b"not an elf file", "main"), None);
    }
}
