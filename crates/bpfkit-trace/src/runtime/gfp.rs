//! `%gr`: GFP allocation flags by name (`GFP_KERNEL|__GFP_ZERO`). The names and masks are
//! the kernel's own, read from the `__print_flags(REC->gfp_flags, "|", { MASK, "NAME" }, …)`
//! table in the print format of a tracepoint that shows GFP flags (`kmem:mm_page_alloc`),
//! so they match the running kernel's bit layout. Masks are C constant expressions there
//! (`(( gfp_t)((((1UL))) << (10)))`), evaluated here.

use std::sync::OnceLock;

/// Events whose print format carries the GFP flag table, tried in order.
const EVENTS: &[&str] = &[
    "kmem/mm_page_alloc",
    "kmem/kmalloc",
    "kmem/kmem_cache_alloc",
    "vmscan/mm_vmscan_wakeup_kswapd",
];

/// The kernel's `(mask, name)` table, most bits first, as the tracepoints list it.
fn table() -> &'static [(u64, String)] {
    static TABLE: OnceLock<Vec<(u64, String)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let root = bpfkit_sys::tracefs::root().unwrap_or_else(|_| "/sys/kernel/tracing".into());
        EVENTS
            .iter()
            .filter_map(|ev| {
                std::fs::read_to_string(
                    std::path::Path::new(&root).join(format!("events/{ev}/format")),
                )
                .ok()
            })
            .map(|f| parse_table(&f))
            .find(|t| !t.is_empty())
            .unwrap_or_default()
    })
}

/// bpftrace's `%gr` text of `flags`: the names of the masks it holds, `|`-separated, left
/// over bits in hex; `none` for 0, as the kernel prints them.
pub fn flags_text(flags: u64) -> String {
    flags_with(table(), flags)
}

fn flags_with(table: &[(u64, String)], flags: u64) -> String {
    if flags == 0 {
        return "none".to_string();
    }
    let mut left = flags;
    let mut parts: Vec<String> = Vec::new();
    for (mask, name) in table {
        if *mask == 0 || left & mask != *mask {
            continue;
        }
        left &= !mask;
        parts.push(name.clone());
        if left == 0 {
            break;
        }
    }
    if left != 0 {
        parts.push(format!("0x{left:x}"));
    }
    parts.join("|")
}

/// The `{ MASK, "NAME" }` pairs of the format's `__print_flags(REC->gfp_flags, "|", …)`.
fn parse_table(format: &str) -> Vec<(u64, String)> {
    let Some(start) = format.find("__print_flags(REC->gfp_flags, \"|\",") else {
        return Vec::new();
    };
    let mut rest = &format[start..];
    let mut out = Vec::new();
    while let Some(open) = rest.find('{') {
        // The table ends at the call's closing parenthesis: no `{` before it.
        let before = &rest[..open];
        if !out.is_empty()
            && before
                .trim_start_matches([',', ' ', '\t', '\n'])
                .starts_with(')')
        {
            break;
        }
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let entry = &rest[open + 1..open + close];
        rest = &rest[open + close + 1..];
        let Some((expr, name)) = entry.rsplit_once(',') else {
            break;
        };
        let name = name.trim().trim_matches('"').to_string();
        let Some(mask) = eval(expr) else {
            break;
        };
        out.push((mask, name));
    }
    out
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(u64),
    Ident,
    Op(&'static str),
}

fn tokens(s: &str) -> Option<Vec<Tok>> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let st = i;
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let text = s[st..i].trim_end_matches(['u', 'U', 'l', 'L']);
            let v = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
                Some(h) => u64::from_str_radix(h, 16).ok()?,
                None => text.parse().ok()?,
            };
            out.push(Tok::Num(v));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Ident);
        } else {
            let two = s.get(i..i + 2);
            let op = match two {
                Some("<<") => "<<",
                Some(">>") => ">>",
                _ => match c {
                    b'(' => "(",
                    b')' => ")",
                    b'|' => "|",
                    b'&' => "&",
                    b'^' => "^",
                    b'~' => "~",
                    b'+' => "+",
                    b'-' => "-",
                    _ => return None,
                },
            };
            i += op.len();
            out.push(Tok::Op(op));
        }
    }
    Some(out)
}

/// Evaluates a C integer constant expression of numbers, casts, `| ^ & << >> + - ~`.
fn eval(s: &str) -> Option<u64> {
    let toks = tokens(s)?;
    let mut p = Parser { toks, pos: 0 };
    let v = p.binary(0)?;
    (p.pos == p.toks.len()).then_some(v)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

/// Binary operators by precedence level, loosest first.
const LEVELS: &[&[&str]] = &[&["|"], &["^"], &["&"], &["<<", ">>"], &["+", "-"]];

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn binary(&mut self, level: usize) -> Option<u64> {
        let Some(ops) = LEVELS.get(level) else {
            return self.unary();
        };
        let mut v = self.binary(level + 1)?;
        while let Some(Tok::Op(op)) = self.peek().cloned() {
            if !ops.contains(&op) {
                break;
            }
            self.pos += 1;
            let r = self.binary(level + 1)?;
            v = match op {
                "|" => v | r,
                "^" => v ^ r,
                "&" => v & r,
                "<<" => v.checked_shl(u32::try_from(r).ok()?)?,
                ">>" => v.checked_shr(u32::try_from(r).ok()?)?,
                "+" => v.wrapping_add(r),
                _ => v.wrapping_sub(r),
            };
        }
        Some(v)
    }

    fn unary(&mut self) -> Option<u64> {
        match self.peek()?.clone() {
            Tok::Op("~") => {
                self.pos += 1;
                Some(!self.unary()?)
            }
            Tok::Op("-") => {
                self.pos += 1;
                Some(self.unary()?.wrapping_neg())
            }
            Tok::Op("(") => {
                // A cast: `(` type-name words `)`.
                let mut j = self.pos + 1;
                while self.toks.get(j) == Some(&Tok::Ident) {
                    j += 1;
                }
                if j > self.pos + 1 && self.toks.get(j) == Some(&Tok::Op(")")) {
                    self.pos = j + 1;
                    return self.unary();
                }
                self.pos += 1;
                let v = self.binary(0)?;
                if self.peek() != Some(&Tok::Op(")")) {
                    return None;
                }
                self.pos += 1;
                Some(v)
            }
            Tok::Num(v) => {
                self.pos += 1;
                Some(v)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_evaluate_and_flags_print_as_the_kernel_does() {
        assert_eq!(
            eval("( unsigned long)(( gfp_t)((((1UL))) << (0)))"),
            Some(1)
        );
        assert_eq!(
            eval("((( gfp_t)0x400u|0x800u) & ~(( gfp_t)0x800u)) | 0x1"),
            Some(0x401)
        );
        let fmt = "print fmt: \"%s\", __print_flags(REC->gfp_flags, \"|\", \
                   {( unsigned long)((1UL << 1)|(1UL << 0)), \"GFP_BOTH\"}, \
                   {( unsigned long)(( gfp_t)((((1UL))) << (0))), \"GFP_DMA\"}, \
                   {( unsigned long)(1UL << 1), \"__GFP_HIGHMEM\"}) : \"none\"";
        let t = parse_table(fmt);
        assert_eq!(t.len(), 3);
        assert_eq!(flags_with(&t, 1), "GFP_DMA");
        assert_eq!(flags_with(&t, 3), "GFP_BOTH");
        assert_eq!(flags_with(&t, 0x12), "__GFP_HIGHMEM|0x10");
        assert_eq!(flags_with(&t, 0), "none");
    }

    #[test]
    fn the_running_kernel_names_gfp_dma() {
        // This machine's tracefs lists kmem:mm_page_alloc with its GFP table.
        assert_eq!(flags_text(1), "GFP_DMA");
    }
}
