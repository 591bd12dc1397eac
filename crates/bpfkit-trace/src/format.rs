//! printf-style format strings as bpftrace understands them: C conversions (`%d %u %x %s %c
//! %p`, flags, width, precision, length modifiers) plus bpftrace's own `%r` (buffer, with `x`
//! or `h` variants) and `%gr` (GFP flags). Used by the checker to count and type arguments,
//! and by the runtime to format them.

/// What kind of value a conversion consumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// `%d %i %u %x %X %o %c %p %gr` (length modifiers allowed).
    Integer,
    /// `%s`: anything printable.
    Any,
    /// `%r`, `%rx`, `%rh`: a buffer or string.
    Buffer,
}

/// One conversion of a format string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// Byte offset of the `%` in the (unescaped) format string.
    pub offset: usize,
    /// The whole specifier text, e.g. `%-16s`, `%llu`, `%rx`.
    pub text: String,
    /// Flags among `-+ #0`.
    pub flags: String,
    /// Field width.
    pub width: Option<usize>,
    /// Precision.
    pub precision: Option<usize>,
    /// Length modifier (`hh`, `h`, `l`, `ll`, `j`, `z`, `t`).
    pub length: String,
    /// The conversion (`d`, `s`, `r`, `rx`, `rh`, `gr`, …).
    pub conversion: String,
    /// What the argument must be.
    pub kind: ArgKind,
}

/// Literal text and conversions in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Text printed as is (`%%` already turned into `%`).
    Text(String),
    /// A conversion.
    Spec(Spec),
}

/// Splits a format string into pieces; Err names the bad specifier.
pub fn parse_format(fmt: &str) -> Result<Vec<Piece>, String> {
    let b = fmt.as_bytes();
    let mut out = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    while i < b.len() {
        let Some(rel) = fmt[i..].find('%') else {
            text.push_str(&fmt[i..]);
            break;
        };
        text.push_str(&fmt[i..i + rel]);
        let start = i + rel;
        let mut j = start + 1;
        if b.get(j) == Some(&b'%') {
            text.push('%');
            i = j + 1;
            continue;
        }
        let fs = j;
        while j < b.len() && b"-+ #0".contains(&b[j]) {
            j += 1;
        }
        let flags = fmt[fs..j].to_string();
        let ws = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let width = fmt[ws..j].parse().ok();
        let mut precision = None;
        if b.get(j) == Some(&b'.') {
            j += 1;
            let ps = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            precision = Some(fmt[ps..j].parse().unwrap_or(0));
        }
        let ls = j;
        while j < b.len() && b"hljzt".contains(&b[j]) && j - ls < 2 {
            j += 1;
        }
        let length = fmt[ls..j].to_string();
        let (conversion, kind) = match b.get(j) {
            Some(b'd' | b'i' | b'u' | b'x' | b'X' | b'o' | b'c' | b'p') => {
                j += 1;
                (fmt[j - 1..j].to_string(), ArgKind::Integer)
            }
            Some(b's') => {
                j += 1;
                ("s".to_string(), ArgKind::Any)
            }
            Some(b'r') => {
                j += 1;
                let mut c = "r".to_string();
                if let Some(&x @ (b'x' | b'h')) = b.get(j) {
                    c.push(char::from(x));
                    j += 1;
                }
                (c, ArgKind::Buffer)
            }
            Some(b'g') if b.get(j + 1) == Some(&b'r') => {
                j += 2;
                ("gr".to_string(), ArgKind::Integer)
            }
            _ => {
                let end = fmt[j..].chars().next().map_or(j, |c| j + c.len_utf8());
                return Err(format!("unknown format specifier '{}'", &fmt[start..end]));
            }
        };
        if !text.is_empty() {
            out.push(Piece::Text(std::mem::take(&mut text)));
        }
        out.push(Piece::Spec(Spec {
            offset: start,
            text: fmt[start..j].to_string(),
            flags,
            width,
            precision,
            length,
            conversion,
            kind,
        }));
        i = j;
    }
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    Ok(out)
}

/// The conversions only.
pub fn specs(fmt: &str) -> Result<Vec<Spec>, String> {
    Ok(parse_format(fmt)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Spec(s) => Some(s),
            Piece::Text(_) => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        let s = specs("%-16s %5.2d %llu %% %rx %rh %r %gr %c%p\n").unwrap();
        let conv: Vec<&str> = s.iter().map(|s| s.conversion.as_str()).collect();
        assert_eq!(conv, ["s", "d", "u", "rx", "rh", "r", "gr", "c", "p"]);
        assert_eq!(s[0].flags, "-");
        assert_eq!(s[0].width, Some(16));
        assert_eq!(s[1].precision, Some(2));
        assert_eq!(s[2].length, "ll");
        assert_eq!(s[4].kind, ArgKind::Buffer);
        assert_eq!(specs("value: %dms100").unwrap().len(), 1);
        assert!(specs("%z").is_err());
        assert!(specs("100%").is_err());
        assert_eq!(
            parse_format("a%%b").unwrap(),
            vec![Piece::Text("a%b".into())]
        );
    }
}
