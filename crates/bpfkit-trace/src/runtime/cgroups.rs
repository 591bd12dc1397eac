//! `cgroup_path(id[, filter])` as bpftrace words it: for each mounted cgroup hierarchy whose
//! name matches the filter (a `*` wildcard, all without one) and holds a cgroup whose inode
//! number is `id`, `NAME:/path` (`unified` for cgroup2 mounts, the mount directory's name for
//! cgroup v1 ones), cgroup2 first, then v1 sorted by name, joined by commas.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

/// Directories visited at most per hierarchy (a guard against huge trees).
const MAX_DIRS: usize = 100_000;

/// Paths remembered at most; the cache starts over past it (an id, an inode number, can
/// come back for a new cgroup once the old one is gone, so it is not kept for ever).
const MAX_CACHED: usize = 4096;

/// The text of a `cgroup_path` value: cgroup `id`, in the hierarchies `pattern` names.
pub fn path_text(id: u64, pattern: &str) -> String {
    static CACHE: OnceLock<Mutex<HashMap<(u64, String), String>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let key = (id, pattern.to_string());
    if let Some(t) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return t;
    }
    let text = resolve(id, &key.1);
    if let Ok(mut c) = cache.lock() {
        if c.len() >= MAX_CACHED {
            c.clear();
        }
        c.insert(key, text.clone());
    }
    text
}

fn resolve(id: u64, pattern: &str) -> String {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mut v2 = Vec::new();
    let mut v1 = Vec::new();
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(dir), Some(fs)) = (f.get(1), f.get(2)) else {
            continue;
        };
        let dir = unescape(dir);
        if !Path::new(&dir).is_dir() {
            continue;
        }
        match *fs {
            "cgroup2" => v2.push(("unified".to_string(), dir)),
            "cgroup" => {
                let name = Path::new(&dir)
                    .file_name()
                    .map_or(String::new(), |n| n.to_string_lossy().into_owned());
                v1.push((name, dir));
            }
            _ => {}
        }
    }
    v1.sort();
    let mut parts = Vec::new();
    for (name, root) in v2.into_iter().chain(v1) {
        if !bpfkit::attach::kprobe::glob_match(pattern, &name) {
            continue;
        }
        if let Some(p) = find(Path::new(&root), id) {
            parts.push(format!("{name}:{p}"));
        }
    }
    parts.join(",")
}

/// The path below `root` (`/` for the root itself) of the directory with inode `id`.
fn find(root: &Path, id: u64) -> Option<String> {
    if std::fs::metadata(root).ok()?.ino() == id {
        return Some("/".to_string());
    }
    let mut stack = vec![root.to_path_buf()];
    let mut visited = 0usize;
    while let Some(dir) = stack.pop() {
        visited += 1;
        if visited > MAX_DIRS {
            return None;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(md) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            if !md.is_dir() {
                continue;
            }
            if md.ino() == id {
                let rel = e
                    .path()
                    .strip_prefix(root)
                    .ok()?
                    .to_string_lossy()
                    .into_owned();
                return Some(format!("/{rel}"));
            }
            stack.push(e.path());
        }
    }
    None
}

/// `/proc/mounts` escapes spaces, tabs, newlines and backslashes as octal `\NNN`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        if let (b'\\', Some(d)) = (b[i], octal) {
            let v = d.iter().fold(0u32, |a, c| a * 8 + u32::from(c - b'0'));
            out.push(u8::try_from(v).unwrap_or(b'?'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_paths_are_unescaped() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/plain"), "/plain");
    }
}
