//! Values decoded from event and map bytes, and printed as bpftrace prints them: `printf`
//! conversions with flags and widths, keys `[a, b]`, tuples `(1, ab)`, histogram bars.

use crate::codegen::layout::size_of;
use crate::format::{parse_format, Piece, Spec};
use crate::types::Type;
use bpfkit::Map;

/// A decoded value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Value {
    /// A bool.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    Uint(u64),
    /// A string (bytes up to the first NUL).
    Str(Vec<u8>),
    /// A tuple.
    Tuple(Vec<Value>),
    /// A record: field names and values.
    Record(Vec<(String, Value)>),
    /// A pointer (printed in hex).
    Ptr(u64),
    /// A fixed-size array (printed `[1,2,3]`).
    Array(Vec<Value>),
}

impl Value {
    /// The integer's bits.
    pub fn as_u64(&self) -> u64 {
        match self {
            Value::Int(v) => *v as u64,
            Value::Uint(v) | Value::Ptr(v) => *v,
            Value::Bool(b) => u64::from(*b),
            _ => 0,
        }
    }

    /// As bpftrace prints it in a map or key.
    pub fn display(&self) -> String {
        match self {
            Value::Bool(b) => b.to_string(),
            Value::Int(v) => v.to_string(),
            Value::Uint(v) => v.to_string(),
            Value::Str(s) => String::from_utf8_lossy(s).into_owned(),
            Value::Tuple(vs) => {
                let inner: Vec<String> = vs.iter().map(Value::display).collect();
                format!("({})", inner.join(", "))
            }
            Value::Record(fs) => super::records::display(fs),
            Value::Ptr(v) => format!("0x{v:x}"),
            Value::Array(vs) => {
                let inner: Vec<String> = vs.iter().map(Value::display).collect();
                format!("[{}]", inner.join(","))
            }
        }
    }
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut w = [0u8; 8];
    if let Some(s) = b.get(off..off + 8) {
        w.copy_from_slice(s);
    }
    u64::from_ne_bytes(w)
}

/// What decoding needs besides the bytes: the kernel objects and tables of the run they
/// came from.
#[derive(Clone, Copy, Debug, Default)]
pub struct DecodeCx<'m> {
    /// The run's stack-trace map, which `kstack`/`ustack` values name frames in.
    pub stacks: Option<&'m Map>,
    /// The script's `cgroup_path()` hierarchy filters, by the id a value carries.
    pub cgroup_filters: &'m [String],
}

/// Reads a value of `t` at the start of `b`, outside any run (stacks have no frames).
pub fn decode(t: &Type, b: &[u8]) -> Value {
    decode_in(DecodeCx::default(), t, b)
}

/// Reads a value of `t` at the start of `b`, read by the run `cx` describes.
pub fn decode_in(cx: DecodeCx<'_>, t: &Type, b: &[u8]) -> Value {
    match t {
        Type::Buffer(n) => {
            let n = (*n as usize).min(b.len());
            Value::Str(super::strfuncs::escape_buffer(b.get(..n).unwrap_or(&[])))
        }
        Type::Str(_) => {
            let n = (size_of(t) as usize).min(b.len());
            let s = b.get(..n).unwrap_or(&[]);
            let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
            Value::Str(s.get(..end).unwrap_or(&[]).to_vec())
        }
        Type::Tuple(ts) => {
            let mut off = 0usize;
            let mut out = Vec::new();
            for t in ts {
                out.push(decode_in(cx, t, b.get(off..).unwrap_or(&[])));
                off += size_of(t) as usize;
            }
            Value::Tuple(out)
        }
        Type::Named(fs) => super::records::decode_record(cx, fs, b),
        Type::Pointer(_) => Value::Ptr(u64_at(b, 0)),
        Type::Array(e, n) => {
            let es = crate::codegen::layout::elem_size(e) as usize;
            let count = b
                .len()
                .checked_div(es)
                .unwrap_or(0)
                .min(usize::try_from(*n).unwrap_or(usize::MAX));
            Value::Array(
                (0..count)
                    .map(|i| decode_elem(cx, e, b.get(i * es..).unwrap_or(&[]), es))
                    .collect(),
            )
        }
        Type::Username => Value::Str(super::users::name_of(u64_at(b, 0)).into_bytes()),
        Type::Stack { kernel } => {
            Value::Str(super::stacks::text(cx.stacks, *kernel, u64_at(b, 0)).into_bytes())
        }
        Type::Int { signed: true, .. } => Value::Int(u64_at(b, 0) as i64),
        Type::Bool => Value::Bool(u64_at(b, 0) != 0),
        Type::Inet => Value::Str(super::strfuncs::inet_text(b).into_bytes()),
        Type::Timestamp => Value::Str(super::strfuncs::timestamp_text(b).into_bytes()),
        Type::MacAddr => Value::Str(super::symbols::mac_text(b).into_bytes()),
        Type::Symbol => Value::Str(super::symbols::text(u64_at(b, 0), u64_at(b, 8)).into_bytes()),
        Type::CgroupPath => {
            let filter = usize::try_from(u64_at(b, 8))
                .ok()
                .and_then(|i| cx.cgroup_filters.get(i))
                .map_or("*", String::as_str);
            Value::Str(super::cgroups::path_text(u64_at(b, 0), filter).into_bytes())
        }
        Type::Strerror => {
            Value::Str(super::strfuncs::strerror_text(u64_at(b, 0) as i64).into_bytes())
        }
        _ => Value::Uint(u64_at(b, 0)),
    }
}

/// Reads one array element of `t`, `es` bytes wide.
fn decode_elem(cx: DecodeCx<'_>, t: &Type, b: &[u8], es: usize) -> Value {
    if !matches!(t, Type::Int { .. } | Type::Bool) || es >= 8 {
        return decode_in(cx, t, b);
    }
    let mut w = [0u8; 8];
    for (d, s) in w.iter_mut().zip(b.iter().take(es)) {
        *d = *s;
    }
    let u = u64::from_le_bytes(w);
    match t {
        Type::Bool => Value::Bool(u != 0),
        Type::Int { signed: true, .. } => {
            let sh = 64 - 8 * es as u32;
            Value::Int(((u << sh) as i64) >> sh)
        }
        _ => Value::Uint(u),
    }
}

/// Reads values of `types` packed one after another.
pub fn decode_all(cx: DecodeCx<'_>, types: &[Type], b: &[u8]) -> Vec<Value> {
    let mut off = 0usize;
    types
        .iter()
        .map(|t| {
            let v = decode_in(cx, t, b.get(off..).unwrap_or(&[]));
            off += size_of(t) as usize;
            v
        })
        .collect()
}

fn pad(s: String, spec: &Spec) -> String {
    let w = spec.width.unwrap_or(0);
    let len = s.chars().count();
    if len >= w {
        return s;
    }
    let fill = w - len;
    if spec.flags.contains('-') {
        format!("{s}{}", " ".repeat(fill))
    } else if spec.flags.contains('0') && !matches!(spec.conversion.as_str(), "s" | "c") {
        let (sign, digits) = match s.strip_prefix('-') {
            Some(d) => ("-", d.to_string()),
            None => ("", s),
        };
        format!("{sign}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

/// Truncates the integer to the width its length modifier names (no modifier: `int`).
fn sized(v: u64, spec: &Spec, signed: bool) -> (u64, i64) {
    let bits = match spec.length.as_str() {
        "hh" => 8,
        "h" => 16,
        "" if spec.conversion == "c" => 8,
        // C's unsigned int: bpftrace truncates `%x` of a 64-bit value to 32 bits.
        "" if matches!(spec.conversion.as_str(), "x" | "X" | "o") => 32,
        "" => 64,
        _ => 64,
    };
    if bits == 64 {
        return (v, v as i64);
    }
    let mask = (1u64 << bits) - 1;
    let u = v & mask;
    let s = if signed && u >> (bits - 1) == 1 {
        (u | !mask) as i64
    } else {
        u as i64
    };
    (u, s)
}

/// Formats one conversion.
pub fn format_spec(spec: &Spec, v: &Value) -> String {
    let conv = spec.conversion.as_str();
    let s = match (conv, v) {
        ("s", v) => {
            let mut s = v.display();
            if let Some(p) = spec.precision {
                s = s.chars().take(p).collect();
            }
            s
        }
        ("rx" | "rh", Value::Str(b)) => super::strfuncs::buffer_hex(b, conv == "rh"),
        ("gr", Value::Int(_) | Value::Uint(_)) => super::gfp::flags_text(v.as_u64()),
        (_, Value::Str(_) | Value::Tuple(_) | Value::Record(_) | Value::Array(_)) => v.display(),
        ("d" | "i", v) => sized(v.as_u64(), spec, true).1.to_string(),
        ("u", v) => sized(v.as_u64(), spec, false).0.to_string(),
        ("x", v) => {
            let n = sized(v.as_u64(), spec, false).0;
            if spec.flags.contains('#') && n != 0 {
                format!("0x{n:x}")
            } else {
                format!("{n:x}")
            }
        }
        ("X", v) => {
            let n = sized(v.as_u64(), spec, false).0;
            if spec.flags.contains('#') && n != 0 {
                format!("0X{n:X}")
            } else {
                format!("{n:X}")
            }
        }
        ("o", v) => format!("{:o}", sized(v.as_u64(), spec, false).0),
        ("c", v) => char::from(v.as_u64() as u8).to_string(),
        ("p", v) => format!("0x{:x}", v.as_u64()),
        (_, v) => v.display(),
    };
    pad(s, spec)
}

/// Formats a whole `printf`.
pub fn printf(fmt: &str, args: &[Value]) -> String {
    let Ok(pieces) = parse_format(fmt) else {
        return fmt.to_string();
    };
    let mut out = String::new();
    let mut it = args.iter();
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(&t),
            Piece::Spec(s) => match it.next() {
                Some(v) => out.push_str(&format_spec(&s, v)),
                None => out.push_str(&s.text),
            },
        }
    }
    out
}

/// A histogram bucket bound with bpftrace's K/M/G/T/P suffixes (exact multiples only).
pub fn hist_bound(v: u64) -> String {
    const SUF: [&str; 6] = ["", "K", "M", "G", "T", "P"];
    let mut n = v;
    let mut i = 0;
    while n >= 1024 && n % 1024 == 0 && i < SUF.len() - 1 {
        n /= 1024;
        i += 1;
    }
    format!("{n}{}", SUF.get(i).copied().unwrap_or(""))
}

/// The label of log2 histogram bucket `b`.
pub fn hist_label(b: u64) -> String {
    match b {
        0 => "(..., 0)".to_string(),
        1 => "[0]".to_string(),
        2 => "[1]".to_string(),
        _ => {
            let lo = 1u64.checked_shl((b - 2) as u32).unwrap_or(u64::MAX);
            let hi = 1u64.checked_shl((b - 1) as u32).unwrap_or(u64::MAX);
            format!("[{}, {})", hist_bound(lo), hist_bound(hi))
        }
    }
}

/// The label of linear histogram bucket `b` of `lhist(_, min, max, step)`.
pub fn lhist_label(b: u64, min: i64, max: i64, step: i64) -> String {
    let nb = ((max - min) / step + i64::from((max - min) % step != 0)) as u64;
    if b == 0 {
        return format!("(..., {min})");
    }
    if b > nb {
        return format!("[{max}, ...)");
    }
    let lo = min + (b as i64 - 1) * step;
    let hi = (lo + step).min(max);
    format!("[{lo}, {hi})")
}

/// One bar line: label, count and a bar scaled to `max` over 52 characters.
pub fn bar_line(label: &str, count: u64, max: u64) -> String {
    let n = if max == 0 {
        0
    } else {
        (u128::from(count) * 52 / u128::from(max)) as usize
    };
    format!(
        "{label:<16}{count:>8} |{}{}|\n",
        "@".repeat(n),
        " ".repeat(52 - n.min(52))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printf_widths_and_conversions() {
        let out = printf(
            "%d|%5d|%-5d|%05d|%u|%x|%#x|%s|%-6s|%c|%lu|%p\n",
            &[
                Value::Int(-3),
                Value::Int(42),
                Value::Int(7),
                Value::Int(-12),
                Value::Uint(9),
                Value::Uint(255),
                Value::Uint(255),
                Value::Str(b"ab".to_vec()),
                Value::Str(b"cd".to_vec()),
                Value::Uint(65),
                Value::Uint(u64::MAX),
                Value::Uint(0x1000),
            ],
        );
        assert_eq!(
            out,
            "-3|   42|7    |-0012|9|ff|0xff|ab|cd    |A|18446744073709551615|0x1000\n"
        );
    }

    #[test]
    fn hist_labels_match_bpftrace() {
        assert_eq!(hist_label(0), "(..., 0)");
        assert_eq!(hist_label(1), "[0]");
        assert_eq!(hist_label(2), "[1]");
        assert_eq!(hist_label(3), "[2, 4)");
        assert_eq!(hist_label(11), "[512, 1K)");
        assert_eq!(hist_label(21), "[512K, 1M)");
        assert_eq!(lhist_label(0, 0, 100, 10), "(..., 0)");
        assert_eq!(lhist_label(2, 0, 100, 10), "[10, 20)");
        assert_eq!(lhist_label(11, 0, 100, 10), "[100, ...)");
        assert_eq!(
            bar_line("[4, 8)", 1, 1),
            format!("[4, 8)                 1 |{}|\n", "@".repeat(52))
        );
    }

    #[test]
    fn decoding_tuples_and_strings() {
        let t = Type::Tuple(vec![Type::U64, Type::Str(4)]);
        let mut b = 7u64.to_ne_bytes().to_vec();
        b.extend_from_slice(b"ab\0\0\0\0\0\0");
        assert_eq!(decode(&t, &b).display(), "(7, ab)");
    }
}
