//! tracefs: finding (or mounting) it, tracepoint ids, format files, event lists.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where tracefs lives on current kernels.
pub const TRACEFS: &str = "/sys/kernel/tracing";
/// Where tracefs appears under debugfs on older set-ups.
pub const DEBUGFS_TRACING: &str = "/sys/kernel/debug/tracing";

/// `TRACEFS_MAGIC` from `linux/magic.h`.
const TRACEFS_MAGIC: i64 = 0x7472_6163;

fn fs_type(path: &Path) -> Option<i64> {
    let p = CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: an all-zero statfs is a valid value for the kernel to overwrite.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `p` is NUL-terminated and `st` writable, both alive for the call.
    let r = unsafe { libc::statfs(p.as_ptr(), &mut st) };
    (r == 0).then_some(st.f_type as i64)
}

fn looks_like_tracefs(path: &Path) -> bool {
    fs_type(path) == Some(TRACEFS_MAGIC) || path.join("events").is_dir()
}

/// The tracefs root: `/sys/kernel/tracing`, else `/sys/kernel/debug/tracing`; when neither is
/// mounted, mounts tracefs at `/sys/kernel/tracing`.
pub fn root() -> Result<PathBuf> {
    for cand in [TRACEFS, DEBUGFS_TRACING] {
        let p = Path::new(cand);
        if looks_like_tracefs(p) {
            return Ok(p.to_path_buf());
        }
    }
    mount_tracefs(Path::new(TRACEFS))?;
    Ok(PathBuf::from(TRACEFS))
}

/// Mounts tracefs at `at` (which must exist: sysfs provides `/sys/kernel/tracing`).
pub fn mount_tracefs(at: &Path) -> Result<()> {
    let target = CString::new(at.as_os_str().as_bytes()).map_err(|_| Error::Os {
        call: format!("mount tracefs at {}", at.display()),
        source: io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"),
    })?;
    let fstype = c"tracefs";
    // SAFETY: all pointers are NUL-terminated strings alive for the call; data is NULL.
    let r = unsafe {
        libc::mount(
            fstype.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if r != 0 {
        return Err(Error::os(format!(
            "mount -t tracefs tracefs {} (tracepoints need tracefs; mount it as root)",
            at.display()
        )));
    }
    Ok(())
}

fn check_component(what: &str, s: &str) -> Result<()> {
    if s.is_empty() || s.contains('/') || s == "." || s == ".." {
        return Err(Error::Os {
            call: format!("tracefs {what} {s:?}"),
            source: io::Error::new(io::ErrorKind::InvalidInput, "not a valid event name"),
        });
    }
    Ok(())
}

/// The directory `events/<category>/<name>`.
pub fn event_dir(category: &str, name: &str) -> Result<PathBuf> {
    check_component("category", category)?;
    check_component("event", name)?;
    Ok(root()?.join("events").join(category).join(name))
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Os {
        call: format!("read {}", path.display()),
        source,
    })
}

/// The id of tracepoint `category:name` (`events/<category>/<name>/id`), the perf `config`.
pub fn event_id(category: &str, name: &str) -> Result<u64> {
    let path = event_dir(category, name)?.join("id");
    let text = read(&path).map_err(|e| match e {
        Error::Os { source, .. } if source.kind() == io::ErrorKind::NotFound => Error::Os {
            call: format!("tracepoint {category}:{name}"),
            source: io::Error::new(
                io::ErrorKind::NotFound,
                format!("no such tracepoint ({} is missing)", path.display()),
            ),
        },
        other => other,
    })?;
    text.trim().parse().map_err(|_| Error::Os {
        call: format!("parse {}", path.display()),
        source: io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad id {:?}", text.trim()),
        ),
    })
}

/// The text of `events/<category>/<name>/format`.
pub fn event_format(category: &str, name: &str) -> Result<String> {
    read(&event_dir(category, name)?.join("format"))
}

/// Every tracepoint as `(category, name)`, from `available_events`.
pub fn list_events() -> Result<Vec<(String, String)>> {
    let text = read(&root()?.join("available_events"))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(c, n)| (c.to_string(), n.to_string()))
        .collect())
}

/// One field of a tracepoint format file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatField {
    /// The C declaration, e.g. `const char * filename` or `char comm[16]`.
    pub decl: String,
    /// The field name.
    pub name: String,
    /// Byte offset in the record (the BPF context).
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
    /// Whether the type is signed.
    pub signed: bool,
    /// Whether the field belongs to the common header (`common_*`).
    pub common: bool,
}

/// Parses a tracepoint `format` file into its fields.
pub fn parse_format(text: &str) -> Vec<FormatField> {
    let mut out = Vec::new();
    let mut common = true;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            // A blank line separates the common fields from the event's own.
            if !out.is_empty() {
                common = false;
            }
            continue;
        }
        let Some(rest) = line.strip_prefix("field:") else {
            continue;
        };
        let mut decl = None;
        let mut offset = None;
        let mut size = None;
        let mut signed = false;
        for (i, part) in rest.split(';').enumerate() {
            let part = part.trim();
            if i == 0 {
                decl = Some(part.to_string());
            } else if let Some(v) = part.strip_prefix("offset:") {
                offset = v.trim().parse().ok();
            } else if let Some(v) = part.strip_prefix("size:") {
                size = v.trim().parse().ok();
            } else if let Some(v) = part.strip_prefix("signed:") {
                signed = v.trim() == "1";
            }
        }
        let (Some(decl), Some(offset), Some(size)) = (decl, offset, size) else {
            continue;
        };
        let name = field_name(&decl);
        out.push(FormatField {
            common: common || name.starts_with("common_"),
            decl,
            name,
            offset,
            size,
            signed,
        });
    }
    out
}

fn field_name(decl: &str) -> String {
    let base = decl.split('[').next().unwrap_or(decl).trim_end();
    base.rsplit(|c: char| c.is_whitespace() || c == '*')
        .next()
        .unwrap_or(base)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "name: sys_enter_openat
ID: 700
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;
\tfield:char comm[16];\toffset:32;\tsize:16;\tsigned:0;

print fmt: \"dfd: 0x%08lx\"
";

    #[test]
    fn parses_format_fields() {
        let f = parse_format(SAMPLE);
        assert_eq!(f.len(), 5);
        assert!(f[1].common && f[1].signed && f[1].name == "common_pid");
        assert_eq!(
            (f[3].name.as_str(), f[3].offset, f[3].size),
            ("filename", 24, 8)
        );
        assert!(!f[3].common);
        assert_eq!(f[4].name, "comm");
    }

    #[test]
    fn rejects_path_tricks() {
        assert!(event_dir("..", "x").is_err());
        assert!(event_dir("syscalls", "a/b").is_err());
    }
}
