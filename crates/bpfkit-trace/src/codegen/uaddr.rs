//! `uaddr("sym")`: the address of a symbol of the probed binary. In an executable linked at
//! fixed addresses (`ET_EXEC`) that is the symbol's value, known when the script compiles.
//! A position-independent binary or shared library (`ET_DYN`) is mapped at a base chosen at
//! run time: in a uprobe on one of its functions, the instruction pointer at the probe is the
//! probed address, so the base is the register minus that address's link-time value.

use super::*;

/// `e_type` of a position-independent ELF file.
const ET_DYN: u64 = 3;
/// Offset of `ip` in x86-64 `struct pt_regs`.
const PT_REGS_IP: i16 = 16 * 8;

/// Little-endian integer of `n` bytes at `off` of `b`.
fn le(b: &[u8], off: u64, n: usize) -> Option<u64> {
    let off = usize::try_from(off).ok()?;
    let s = b.get(off..off.checked_add(n)?)?;
    Some(s.iter().rev().fold(0u64, |a, &x| (a << 8) | u64::from(x)))
}

/// `(link-time value of `name`, whether the file is position-independent)` from the symbol
/// tables of the 64-bit little-endian ELF file `b`.
fn elf_symbol(b: &[u8], name: &str) -> Option<(u64, bool)> {
    if b.get(..4)? != b"\x7fELF" || *b.get(4)? != 2 || *b.get(5)? != 1 {
        return None;
    }
    let is_dyn = le(b, 16, 2)? == ET_DYN;
    let value = bpfkit_elf::notes::symbol_address(b, name).ok()??;
    (value != 0).then_some((value, is_dyn))
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
