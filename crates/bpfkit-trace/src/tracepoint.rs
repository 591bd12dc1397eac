//! Tracepoint `format` files (`/sys/kernel/tracing/events/<category>/<event>/format`): the
//! `field:TYPE NAME; offset:N; size:N; signed:N;` lines parsed into typed fields, which is
//! what `args.<field>` of a tracepoint probe reads.

use crate::TraceError;
use std::path::Path;

/// A dynamic field's encoding: the record holds a 32-bit (length << 16 | offset) word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dynamic {
    /// `__data_loc`: offset from the start of the record.
    DataLoc,
    /// `__rel_loc`: offset from the end of this field.
    RelLoc,
}

/// The length of an array field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArrayLen {
    /// `[16]`.
    Fixed(u64),
    /// `[]`.
    Flexible,
    /// `[TASK_COMM_LEN]`: a name the format file did not expand (use the field's size).
    Symbolic(String),
}

/// A field's C type, decomposed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldType {
    /// The base type with qualifiers dropped: `char`, `unsigned long`, `struct sock`, `pid_t`.
    pub base: String,
    /// Number of `*`.
    pub pointer_depth: u8,
    /// Set for arrays.
    pub array: Option<ArrayLen>,
    /// Set for `__data_loc` / `__rel_loc` fields.
    pub dynamic: Option<Dynamic>,
}

impl FieldType {
    /// A string the checker reads with `str()` semantics: `char[N]` or a dynamic `char[]`.
    pub fn is_char_array(&self) -> bool {
        self.pointer_depth == 0
            && self.array.is_some()
            && matches!(
                self.base.as_str(),
                "char" | "unsigned char" | "signed char" | "u8" | "__u8"
            )
    }
}

/// One field of a tracepoint record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TracepointField {
    /// Member name.
    pub name: String,
    /// The declaration as the file writes it, name included (`const char * filename`), which
    /// is what `-lv` prints.
    pub decl: String,
    /// The decomposed type.
    pub ty: FieldType,
    /// Byte offset in the record.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
    /// Signed integer.
    pub signed: bool,
    /// One of the `common_*` fields every record starts with.
    pub common: bool,
}

/// A parsed format file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TracepointFormat {
    /// `name:` line.
    pub name: String,
    /// `ID:` line (the perf event config value).
    pub id: Option<u64>,
    /// All fields, `common_*` first, in file order.
    pub fields: Vec<TracepointField>,
    /// `print fmt:` line's text.
    pub print_fmt: Option<String>,
}

impl TracepointFormat {
    /// The fields after the common header: what `args` holds.
    pub fn args(&self) -> impl Iterator<Item = &TracepointField> {
        self.fields.iter().filter(|f| !f.common)
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&TracepointField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Size of the record up to the end of its last field.
    pub fn record_size(&self) -> u32 {
        self.fields
            .iter()
            .map(|f| f.offset.saturating_add(f.size))
            .max()
            .unwrap_or(0)
    }
}

impl TracepointFormat {
    /// The `-lv` listing of `tracepoint:category:event`: its name, then each argument's
    /// declaration indented by four spaces, as bpftrace prints it.
    pub fn listing(&self, category: &str, event: &str) -> String {
        let mut out = format!("tracepoint:{category}:{event}\n");
        for f in self.args() {
            out.push_str("    ");
            out.push_str(&f.decl);
            out.push('\n');
        }
        out
    }
}

/// Splits a C declaration `TYPE NAME[dims]` into (name, type).
fn parse_decl(decl: &str) -> Result<(String, FieldType), String> {
    let mut d = decl.trim();
    let mut dynamic = None;
    for (kw, kind) in [
        ("__data_loc", Dynamic::DataLoc),
        ("__rel_loc", Dynamic::RelLoc),
    ] {
        if let Some(rest) = d.strip_prefix(kw) {
            dynamic = Some(kind);
            d = rest.trim_start();
        }
    }
    let mut array = None;
    // Array suffix after the name: `char comm[16]`.
    if d.ends_with(']') {
        if let Some(open) = d.rfind('[') {
            array = Some(array_len(d[open + 1..d.len() - 1].trim()));
            d = d[..open].trim_end();
        }
    }
    let name_len = d
        .bytes()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
        .count();
    if name_len == 0 {
        return Err(format!("no field name in '{decl}'"));
    }
    let name = d[d.len() - name_len..].to_string();
    let mut ty = d[..d.len() - name_len].trim().to_string();
    // Array suffix on the type: `__data_loc char[] filename`.
    if let Some(open) = ty.rfind('[') {
        if ty.ends_with(']') {
            let inner = ty[open + 1..ty.len() - 1].trim().to_string();
            array = Some(array_len(&inner));
            ty.truncate(open);
        }
    }
    let pointer_depth = ty.matches('*').count().min(255) as u8;
    let base: Vec<&str> = ty
        .split(|c: char| c.is_whitespace() || c == '*')
        .filter(|w| {
            !w.is_empty()
                && !matches!(
                    *w,
                    "const" | "volatile" | "__user" | "__seg_gs" | "__percpu" | "__rcu"
                )
        })
        .collect();
    if base.is_empty() {
        return Err(format!("no type in '{decl}'"));
    }
    Ok((
        name,
        FieldType {
            base: base.join(" "),
            pointer_depth,
            array,
            dynamic,
        },
    ))
}

fn array_len(inner: &str) -> ArrayLen {
    if inner.is_empty() {
        ArrayLen::Flexible
    } else {
        match inner.parse() {
            Ok(n) => ArrayLen::Fixed(n),
            Err(_) => ArrayLen::Symbolic(inner.to_string()),
        }
    }
}

/// Parses the text of a format file; `path` names it in errors.
pub fn parse_format(path: &str, text: &str) -> Result<TracepointFormat, TraceError> {
    let err = |line: usize, message: String| TraceError::TracepointFormat {
        path: path.to_string(),
        line,
        message,
    };
    let mut fmt = TracepointFormat {
        name: String::new(),
        id: None,
        fields: Vec::new(),
        print_fmt: None,
    };
    let mut in_common = true;
    let mut seen_format = false;
    for (i, line) in text.lines().enumerate() {
        let lno = i + 1;
        let t = line.trim();
        if t.is_empty() {
            if !fmt.fields.is_empty() {
                in_common = false;
            }
            continue;
        }
        if let Some(v) = t.strip_prefix("name:") {
            fmt.name = v.trim().to_string();
        } else if let Some(v) = t.strip_prefix("ID:") {
            fmt.id = Some(
                v.trim()
                    .parse()
                    .map_err(|_| err(lno, format!("bad ID '{}'", v.trim())))?,
            );
        } else if t == "format:" {
            seen_format = true;
        } else if let Some(v) = t.strip_prefix("print fmt:") {
            fmt.print_fmt = Some(v.trim().to_string());
        } else if t.starts_with("field:") {
            let mut decl = None;
            let mut offset = None;
            let mut size = None;
            let mut signed = None;
            for part in t.split(';').map(str::trim).filter(|p| !p.is_empty()) {
                let (k, v) = part
                    .split_once(':')
                    .ok_or_else(|| err(lno, format!("'{part}' is not key:value")))?;
                let num = || -> Result<u32, TraceError> {
                    v.trim()
                        .parse()
                        .map_err(|_| err(lno, format!("bad {k} '{v}'")))
                };
                match k.trim() {
                    "field" => decl = Some(v.trim().to_string()),
                    "offset" => offset = Some(num()?),
                    "size" => size = Some(num()?),
                    "signed" => signed = Some(num()? != 0),
                    _ => {}
                }
            }
            let decl = decl.ok_or_else(|| err(lno, "field without declaration".into()))?;
            let (name, ty) = parse_decl(&decl).map_err(|m| err(lno, m))?;
            let common = in_common && name.starts_with("common_");
            fmt.fields.push(TracepointField {
                name,
                decl,
                ty,
                offset: offset.ok_or_else(|| err(lno, "field without offset".into()))?,
                size: size.ok_or_else(|| err(lno, "field without size".into()))?,
                signed: signed.unwrap_or(false),
                common,
            });
        } else if !seen_format {
            return Err(err(lno, format!("unexpected line '{t}'")));
        }
    }
    if !seen_format {
        return Err(err(0, "no 'format:' section".into()));
    }
    Ok(fmt)
}

/// Reads and parses `<tracefs>/events/<category>/<event>/format`.
pub fn read_format(
    tracefs: &Path,
    category: &str,
    event: &str,
) -> Result<TracepointFormat, TraceError> {
    let path = tracefs
        .join("events")
        .join(category)
        .join(event)
        .join("format");
    let text = std::fs::read_to_string(&path).map_err(|e| TraceError::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    parse_format(&path.display().to_string(), &text)
}

/// Tracepoint formats read lazily from a tracefs mount (each format file is read and parsed
/// once, when a script first touches that tracepoint).
#[derive(Debug)]
pub struct Tracefs {
    root: std::path::PathBuf,
    cache: std::sync::Mutex<std::collections::HashMap<String, Option<TracepointFormat>>>,
}

impl Tracefs {
    /// Uses the tracefs mounted at `root` (usually `/sys/kernel/tracing`).
    pub fn new(root: impl Into<std::path::PathBuf>) -> Tracefs {
        Tracefs {
            root: root.into(),
            cache: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// The format of `category:event`, or None when tracefs has no such tracepoint (or its
    /// format does not parse).
    pub fn format(&self, category: &str, event: &str) -> Option<TracepointFormat> {
        let key = format!("{category}:{event}");
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .entry(key)
            .or_insert_with(|| read_format(&self.root, category, event).ok())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXECVE: &str = "name: sys_enter_execve\nID: 862\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n\tfield:const char * filename;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:const char *const * argv;\toffset:24;\tsize:8;\tsigned:0;\n\tfield:char comm[16];\toffset:32;\tsize:16;\tsigned:0;\n\tfield:__data_loc char[] name;\toffset:48;\tsize:4;\tsigned:0;\n\nprint fmt: \"x\"\n";

    #[test]
    fn parses_fields() {
        let f = parse_format("t", EXECVE).unwrap();
        assert_eq!(f.id, Some(862));
        assert_eq!(f.args().count(), 5);
        let argv = f.field("argv").unwrap();
        assert_eq!(
            (argv.ty.base.as_str(), argv.ty.pointer_depth, argv.offset),
            ("char", 2, 24)
        );
        assert_eq!(argv.decl, "const char *const * argv");
        let comm = f.field("comm").unwrap();
        assert_eq!(comm.ty.array, Some(ArrayLen::Fixed(16)));
        assert!(comm.ty.is_char_array());
        let name = f.field("name").unwrap();
        assert_eq!(name.ty.dynamic, Some(Dynamic::DataLoc));
        assert_eq!(name.ty.array, Some(ArrayLen::Flexible));
        assert!(f.field("common_pid").unwrap().common);
        assert!(f.field("common_pid").unwrap().signed);
        assert_eq!(f.record_size(), 52);
        assert!(parse_format("t", "format:\n\tfield:int x;\toffset:zz;\tsize:4;\n").is_err());
        assert!(parse_format("t", "junk\n").is_err());
        assert_eq!(
            f.listing("syscalls", "sys_enter_execve"),
            "tracepoint:syscalls:sys_enter_execve\n    int __syscall_nr\n    const char * filename\n    const char *const * argv\n    char comm[16]\n    __data_loc char[] name\n"
        );
    }
}
