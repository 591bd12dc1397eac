//! Output shared by the bpftool-style nouns (`prog`, `map`, `link`, `btf`, `perf`): a JSON
//! value written the way bpftool's JSON writer lays it out, hex byte dumps, and the pieces of
//! text layout several nouns print (`loaded_at` times, pinned paths, owning pids).
//!
//! [`J`] is the one JSON writer of the command line: it holds the whole `u64` range (map
//! values, counters) and under `-p` places brackets where bpftool does (scalars of an array on
//! one line, the closing bracket on its own).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::{CliError, Global};

/// A JSON value with ordered objects and full-range integers.
#[derive(Clone, Debug, PartialEq)]
pub enum J {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An unsigned integer.
    U(u64),
    /// A signed integer.
    I(i64),
    /// A number already formatted (floats, 128-bit values).
    Num(String),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<J>),
    /// An object, keys in output order.
    Obj(Vec<(String, J)>),
}

impl J {
    /// An empty object.
    pub fn obj() -> J {
        J::Obj(Vec::new())
    }

    /// Appends `key: value` to an object (ignored on other values).
    pub fn push(&mut self, key: &str, value: J) -> &mut J {
        if let J::Obj(v) = self {
            v.push((key.to_string(), value));
        }
        self
    }

    /// A string value.
    pub fn s(v: impl Into<String>) -> J {
        J::Str(v.into())
    }

    /// Renders compactly, or laid out like bpftool's `-p`.
    pub fn render(&self, pretty: bool) -> String {
        let mut w = Writer {
            out: String::new(),
            pretty,
            depth: 0,
            sep: false,
        };
        w.value(self);
        w.out
    }
}

/// bpftool's JSON writer: a separator is owed after every value; names start a new line under
/// `-p`, array elements do not, and a non-empty container closes on a line of its own.
struct Writer {
    out: String,
    pretty: bool,
    depth: usize,
    sep: bool,
}

impl Writer {
    fn eor(&mut self) {
        if self.sep {
            self.out.push(',');
        }
        self.sep = true;
    }

    fn eol(&mut self) {
        if self.pretty {
            self.out.push('\n');
            for _ in 0..self.depth {
                self.out.push_str("    ");
            }
        }
    }

    fn open(&mut self, c: char) {
        self.eor();
        self.out.push(c);
        self.depth += 1;
        self.sep = false;
    }

    fn close(&mut self, c: char) {
        self.depth = self.depth.saturating_sub(1);
        if self.sep {
            self.eol();
        }
        self.out.push(c);
        self.sep = true;
    }

    fn scalar(&mut self, text: &str) {
        self.eor();
        self.out.push_str(text);
    }

    fn value(&mut self, v: &J) {
        match v {
            J::Null => self.scalar("null"),
            J::Bool(b) => self.scalar(if *b { "true" } else { "false" }),
            J::U(n) => self.scalar(&n.to_string()),
            J::I(n) => self.scalar(&n.to_string()),
            J::Num(n) => self.scalar(n),
            J::Str(s) => self.scalar(&quote(s)),
            J::Arr(items) => {
                self.open('[');
                for item in items {
                    self.value(item);
                }
                self.close(']');
            }
            J::Obj(fields) => {
                self.open('{');
                for (k, v) in fields {
                    self.eor();
                    self.eol();
                    self.sep = false;
                    self.out.push_str(&quote(k));
                    self.out.push(':');
                    if self.pretty {
                        self.out.push(' ');
                    }
                    self.value(v);
                }
                self.close('}');
            }
        }
    }
}

/// A JSON string literal, escaped as bpftool escapes (control characters as `\uXXXX`).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Prints a JSON document (with the trailing newline bpftool ends it with).
pub fn print_json(g: &Global, v: &J) {
    let mut s = v.render(g.pretty);
    s.push('\n');
    // A reader that went away ends the command quietly (as `emit` does); nothing else can fail.
    let _ = crate::emit(&s);
}

/// bpftool prints a lone object for a command naming one object, an array otherwise.
pub fn list_or_one(mut items: Vec<J>, named: bool) -> J {
    if named && items.len() == 1 {
        items.pop().unwrap_or(J::Null)
    } else {
        J::Arr(items)
    }
}

/// Bytes as `"0x01"` strings, the way bpftool prints raw keys and values in JSON.
pub fn hex_json(bytes: &[u8]) -> J {
    J::Arr(bytes.iter().map(|b| J::Str(format!("0x{b:02x}"))).collect())
}

/// bpftool's text hex dump: bytes separated by one space, two after every eighth, a new line
/// after every sixteenth. No trailing newline.
pub fn hex_text(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            if i % 16 == 0 {
                s.push('\n');
            } else if i % 8 == 0 {
                s.push_str("  ");
            } else {
                s.push(' ');
            }
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Turns a kernel boot-time stamp (ns since boot, as in `load_time`) into Unix seconds, the
/// way bpftool converts `loaded_at`: wall clock now minus boot clock now plus the stamp.
pub fn boot_ns_to_unix(boot_ns: u64) -> i64 {
    // The offset between the two clocks, taken once per command.
    static OFFSET: std::sync::OnceLock<i128> = std::sync::OnceLock::new();
    let off = *OFFSET.get_or_init(|| {
        let now_real = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        now_real - boottime_ns() as i128
    });
    ((off + boot_ns as i128) / 1_000_000_000) as i64
}

/// The boot clock from `/proc/uptime` (centiseconds): this crate makes no system calls of
/// its own, and a second is all `loaded_at` shows.
fn boottime_ns() -> u64 {
    read_small("/proc/uptime")
        .and_then(|s| {
            let first = s.split_whitespace().next()?.to_string();
            let (secs, frac) = first.split_once('.').unwrap_or((&first, "0"));
            let secs: u64 = secs.parse().ok()?;
            let mut frac = frac.to_string();
            frac.truncate(9);
            while frac.len() < 9 {
                frac.push('0');
            }
            let frac: u64 = frac.parse().ok()?;
            Some(secs * 1_000_000_000 + frac)
        })
        .unwrap_or(0)
}

/// Unix seconds as bpftool's text `loaded_at`: local time `2026-12-03T18:14:13+0000`.
/// bpftool uses the local zone; this binary has no zone database, so it prints UTC, which is
/// the same text on machines set to UTC (this one and CI).
pub fn format_time(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let rem = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+0000",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Gregorian date of a day count since 1970-01-01 (Howard Hinnant's civil-from-days).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Which kernel object a `/proc/PID/fdinfo` entry or a bpffs pin refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ObjClass {
    /// A program (`prog_id:` in fdinfo).
    Prog,
    /// A map (`map_id:`).
    Map,
    /// A link (`link_id:`).
    Link,
}

impl ObjClass {
    fn fdinfo_key(self) -> &'static str {
        match self {
            ObjClass::Prog => "prog_id:",
            ObjClass::Map => "map_id:",
            ObjClass::Link => "link_id:",
        }
    }
}

/// A process holding a descriptor of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// Process id.
    pub pid: u32,
    /// `/proc/PID/comm`.
    pub comm: String,
}

/// Object id → processes holding it, from every `/proc/*/fdinfo/*` (one pass for all
/// objects). This process is left out: it holds the object only because it is looking at it.
pub fn owners(class: ObjClass) -> BTreeMap<u32, Vec<Owner>> {
    let mut map: BTreeMap<u32, Vec<Owner>> = BTreeMap::new();
    let me = std::process::id();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return map;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let fd_dir = p.path().join("fd");
        let Ok(fds) = std::fs::read_dir(&fd_dir) else {
            continue;
        };
        let mut comm: Option<String> = None;
        for fd in fds.flatten() {
            // Only anon-inode bpf objects carry these keys; skip the rest without reading.
            let target = match std::fs::read_link(fd.path()) {
                Ok(t) => t,
                // A process this one may not inspect (another user namespace): skip it whole.
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => break,
                Err(_) => continue,
            };
            if !target.to_string_lossy().starts_with("anon_inode:bpf") {
                continue;
            }
            let info = p.path().join("fdinfo").join(fd.file_name());
            let Some(text) = read_small(&info.display().to_string()) else {
                continue;
            };
            let Some(id) = fdinfo_field(&text, class.fdinfo_key()) else {
                continue;
            };
            let comm = comm
                .get_or_insert_with(|| {
                    read_small(&p.path().join("comm").display().to_string())
                        .map(|s| s.trim_end().to_string())
                        .unwrap_or_default()
                })
                .clone();
            let list = map.entry(id as u32).or_default();
            if !list.iter().any(|o| o.pid == pid) {
                list.push(Owner { pid, comm });
            }
        }
    }
    map
}

/// A small /proc file (fdinfo, comm) in one read: `fs::read_to_string` would also stat it and
/// read again to see the end, which doubles the system calls of a scan over every process.
pub fn read_small(path: &str) -> Option<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    loop {
        let n = f.read(&mut buf[len..]).ok()?;
        len += n;
        if n == 0 || len < buf.len() {
            break;
        }
        buf.resize(buf.len() * 2, 0);
    }
    buf.truncate(len);
    String::from_utf8(buf).ok()
}

/// The number after `key` in fdinfo text.
pub fn fdinfo_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().parse().ok())
}

/// The `memlock:` of one of this process's descriptors.
pub fn memlock_of(fd: std::os::fd::BorrowedFd<'_>) -> Option<u64> {
    use std::os::fd::AsRawFd;
    let text = read_small(&format!("/proc/self/fdinfo/{}", fd.as_raw_fd()))?;
    fdinfo_field(&text, "memlock:")
}

/// The `pids` JSON array and text line of an object's owners.
pub fn owners_json(list: &[Owner]) -> J {
    J::Arr(
        list.iter()
            .map(|o| {
                let mut e = J::obj();
                e.push("pid", J::U(o.pid.into()))
                    .push("comm", J::s(o.comm.clone()));
                e
            })
            .collect(),
    )
}

/// bpftool's text `pids` line: `\tpids comm(pid), comm(pid)`.
pub fn owners_text(list: &[Owner]) -> String {
    let parts: Vec<String> = list
        .iter()
        .map(|o| format!("{}({})", o.comm, o.pid))
        .collect();
    format!("\tpids {}", parts.join(", "))
}

/// Object id → the paths under the bpffs root(s) where it is pinned (for `-f`).
pub fn pinned_paths(class: ObjClass) -> BTreeMap<u32, Vec<PathBuf>> {
    let mut map: BTreeMap<u32, Vec<PathBuf>> = BTreeMap::new();
    let roots = bpffs_mounts();
    for root in roots {
        walk_pins(&root, class, &mut map, 0);
    }
    for v in map.values_mut() {
        v.sort();
        v.dedup();
    }
    map
}

fn bpffs_mounts() -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mut out: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (_dev, dir, fstype) = (it.next()?, it.next()?, it.next()?);
            (fstype == "bpf").then(|| PathBuf::from(dir))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn walk_pins(dir: &Path, class: ObjClass, map: &mut BTreeMap<u32, Vec<PathBuf>>, depth: usize) {
    if depth > 16 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            walk_pins(&path, class, map, depth + 1);
            continue;
        }
        if !ft.is_file() {
            continue;
        }
        // A pin opens as its object; its fdinfo then names the object's id.
        let Ok(fd) = bpfkit_sys::obj::obj_get(&path, 0) else {
            continue;
        };
        use std::os::fd::AsRawFd;
        let Some(text) = read_small(&format!("/proc/self/fdinfo/{}", fd.as_raw_fd())) else {
            continue;
        };
        if let Some(id) = fdinfo_field(&text, class.fdinfo_key()) {
            map.entry(id as u32).or_default().push(path);
        }
    }
}

/// Shorthand for a failed command.
pub fn fail(msg: impl Into<String>) -> CliError {
    CliError::Failed(msg.into())
}

/// Shorthand for a usage error.
pub fn usage(msg: impl Into<String>) -> CliError {
    CliError::Usage(msg.into())
}

/// The `strerror` text of an errno, as bpftool appends it to its messages.
pub fn strerror(errno: i32) -> String {
    std::io::Error::from_raw_os_error(errno)
        .to_string()
        .split(" (os error")
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The errno text of a library error, or its whole message when it carries no errno.
pub fn err_text(e: &bpfkit::Error) -> String {
    match errno_of(e) {
        Some(n) => strerror(n),
        None => e.to_string(),
    }
}

/// The errno behind a library error, if any.
pub fn errno_of(e: &bpfkit::Error) -> Option<i32> {
    match e {
        bpfkit::Error::Sys(s) => s.errno(),
        bpfkit::Error::Verifier { source, .. } => source.errno(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_layout_is_bpftools() {
        let mut o = J::obj();
        o.push("id", J::U(5))
            .push("map_ids", J::Arr(vec![J::U(1), J::U(2)]))
            .push("e", J::Arr(vec![]));
        let top = J::Arr(vec![o.clone(), o]);
        assert_eq!(
            top.render(false),
            r#"[{"id":5,"map_ids":[1,2],"e":[]},{"id":5,"map_ids":[1,2],"e":[]}]"#
        );
        let p = top.render(true);
        assert!(p.starts_with("[{\n        \"id\": 5,\n        \"map_ids\": [1,2\n        ],"));
        assert!(p.contains("\"e\": []\n    },{"));
        assert!(p.ends_with("}\n]"));
    }

    #[test]
    fn hex_layout() {
        let b: Vec<u8> = (0..17).collect();
        assert_eq!(
            hex_text(&b),
            "00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f\n10"
        );
    }

    #[test]
    fn dates() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00+0000");
        assert_eq!(format_time(1_796_321_653), "2026-12-03T18:14:13+0000");
    }
}
