//! bpftool's object specifications on the command line: `PROG := id N | tag T | name N |
//! pinned PATH` and `MAP := id N | name N | pinned PATH`, read from a cursor over the words,
//! with bpftool's error texts. `name` and `tag` may match several objects.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use bpfkit_sys::obj::{get_fd_by_id, get_next_id, obj_get, ObjKind};

use crate::output::{fail, strerror};
use crate::CliError;

/// The words after the verb, consumed left to right.
#[derive(Debug, Clone)]
pub struct Args {
    words: Vec<String>,
    pos: usize,
}

impl Args {
    /// A cursor over `words`.
    pub fn new(words: Vec<String>) -> Args {
        Args { words, pos: 0 }
    }

    /// The next word without consuming it.
    pub fn peek(&self) -> Option<&str> {
        self.words.get(self.pos).map(String::as_str)
    }

    /// Consumes and returns the next word.
    pub fn next(&mut self) -> Option<String> {
        let w = self.words.get(self.pos).cloned();
        if w.is_some() {
            self.pos += 1;
        }
        w
    }

    /// How many words are left.
    pub fn remaining(&self) -> usize {
        self.words.len().saturating_sub(self.pos)
    }

    /// Whether every word is consumed.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.words.len()
    }

    /// Consumes the next word if it is `kw` (or a prefix of it, as bpftool accepts).
    pub fn eat(&mut self, kw: &str) -> bool {
        match self.peek() {
            Some(w) if is_prefix(w, kw) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    /// The value after a keyword: bpftool's "what is 'KW'?" when it is missing.
    pub fn value_of(&mut self, kw: &str) -> Result<String, CliError> {
        self.next().ok_or_else(|| fail(format!("what is '{kw}'?")))
    }

    /// bpftool's complaint about words left over.
    pub fn finish(&self) -> Result<(), CliError> {
        match self.peek() {
            None => Ok(()),
            Some(w) => Err(fail(format!("unexpected argument: '{w}'"))),
        }
    }
}

/// bpftool's keyword matching: a word names a keyword when it is a non-empty prefix of it.
pub fn is_prefix(word: &str, kw: &str) -> bool {
    !word.is_empty() && kw.starts_with(word)
}

/// Parses an id the way bpftool does (decimal, hex with 0x, octal with 0).
pub fn parse_id(s: &str) -> Result<u32, CliError> {
    parse_u64(s)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| fail(format!("can't parse {s} as ID")))
}

/// `strtoul(…, 0)`-style number.
pub fn parse_u64(s: &str) -> Option<u64> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u64::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse().ok()
    }
}

fn kind_word(kind: ObjKind) -> &'static str {
    match kind {
        ObjKind::Prog => "prog",
        ObjKind::Map => "map",
        ObjKind::Link => "link",
        _ => "btf",
    }
}

/// Opens a pin and checks it holds an object of `kind`, with bpftool's messages for a
/// missing file, a path outside bpffs and a pin of another kind.
pub fn open_pinned(path: &str, kind: ObjKind) -> Result<OwnedFd, CliError> {
    let p = Path::new(path);
    let fd = match obj_get(p, 0) {
        Ok(fd) => fd,
        Err(e) => {
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if p.exists() && !matches!(bpfkit_sys::fs::is_bpffs(dir), Ok(true)) {
                return Err(fail(format!(
                    "bpf obj get ({}): directory not in bpf file system (bpffs)",
                    dir.display()
                )));
            }
            return Err(fail(format!(
                "bpf obj get ({path}): {}",
                strerror(e.errno().unwrap_or(libc_enoent()))
            )));
        }
    };
    let actual = fd_kind(fd.as_fd());
    if actual != Some(kind) {
        return Err(fail(format!(
            "incorrect object type: {}",
            actual.map(kind_word).unwrap_or("unknown")
        )));
    }
    Ok(fd)
}

fn libc_enoent() -> i32 {
    2
}

/// The kind of a bpf descriptor, from the id key its fdinfo shows (a link's fdinfo names its
/// program too, so `link_id` is looked for first).
pub fn fd_kind(fd: std::os::fd::BorrowedFd<'_>) -> Option<ObjKind> {
    use std::os::fd::AsRawFd;
    let text = crate::output::read_small(&format!("/proc/self/fdinfo/{}", fd.as_raw_fd()))?;
    let has = |k: &str| text.lines().any(|l| l.starts_with(k));
    if has("link_id:") {
        Some(ObjKind::Link)
    } else if has("map_id:") {
        Some(ObjKind::Map)
    } else if has("prog_id:") {
        Some(ObjKind::Prog)
    } else if has("btf_id:") {
        Some(ObjKind::Btf)
    } else {
        None
    }
}

/// Opens an object by id with bpftool's message (`get by id (N): …`, `get map by id …`).
pub fn open_id(kind: ObjKind, id: u32) -> Result<OwnedFd, CliError> {
    get_fd_by_id(kind, id).map_err(|e| {
        let what = match kind {
            ObjKind::Prog => "get by id".to_string(),
            ObjKind::Link => {
                return fail(format!(
                    "failed to get link with ID {id}: {}",
                    strerror(e.errno().unwrap_or(2))
                ))
            }
            other => format!("get {} by id", kind_word(other)),
        };
        fail(format!(
            "{what} ({id}): {}",
            strerror(e.errno().unwrap_or(2))
        ))
    })
}

/// Reads a `PROG` specification; returns every program it names (at least one).
pub fn parse_prog(args: &mut Args) -> Result<Vec<OwnedFd>, CliError> {
    let Some(kw) = args.next() else {
        return Err(fail("expected 'id', 'tag', 'name' or 'pinned', got: ''?"));
    };
    if is_prefix(&kw, "id") {
        let id = parse_id(&args.value_of("id")?)?;
        return Ok(vec![open_id(ObjKind::Prog, id)?]);
    }
    if is_prefix(&kw, "pinned") {
        let path = args.value_of("pinned")?;
        return Ok(vec![open_pinned(&path, ObjKind::Prog)?]);
    }
    if is_prefix(&kw, "tag") {
        let tag = args.value_of("tag")?;
        let want = parse_tag(&tag).ok_or_else(|| fail("can't parse tag"))?;
        let found = scan_progs(|info, _| info.tag == want)?;
        if found.is_empty() {
            return Err(fail(format!("no program with tag {tag}")));
        }
        return Ok(found);
    }
    if is_prefix(&kw, "name") {
        let name = args.value_of("name")?;
        // bpftool compares the full name: the kernel's, completed from BTF when cut.
        let found = scan_progs(|info, fd| crate::prog::full_name(info, fd) == name)?;
        if found.is_empty() {
            return Err(fail(format!("no program with name {name}")));
        }
        return Ok(found);
    }
    Err(fail(format!(
        "expected 'id', 'tag', 'name' or 'pinned', got: '{kw}'?"
    )))
}

fn parse_tag(s: &str) -> Option<[u8; 8]> {
    let s = s.trim();
    if s.len() != 16 {
        return None;
    }
    let mut out = [0u8; 8];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

fn scan_progs(
    mut want: impl FnMut(&bpfkit_sys::prog::ProgInfo, std::os::fd::BorrowedFd<'_>) -> bool,
) -> Result<Vec<OwnedFd>, CliError> {
    let mut out = Vec::new();
    let mut cur = 0;
    loop {
        let id = match get_next_id(ObjKind::Prog, cur) {
            Ok(Some(id)) => id,
            Ok(None) => break,
            Err(e) => return Err(fail(format!("can't get next program: {e}"))),
        };
        cur = id;
        let Ok(fd) = get_fd_by_id(ObjKind::Prog, id) else {
            continue;
        };
        let Ok(info) = bpfkit_sys::prog::prog_info(fd.as_fd()) else {
            continue;
        };
        if want(&info, fd.as_fd()) {
            out.push(fd);
        }
    }
    Ok(out)
}

/// Reads a `MAP` specification; returns every map it names (at least one).
pub fn parse_map(args: &mut Args) -> Result<Vec<OwnedFd>, CliError> {
    let Some(kw) = args.next() else {
        return Err(fail("expected 'id', 'name' or 'pinned', got: ''?"));
    };
    if is_prefix(&kw, "id") {
        let id = parse_id(&args.value_of("id")?)?;
        return Ok(vec![open_id(ObjKind::Map, id)?]);
    }
    if is_prefix(&kw, "pinned") {
        let path = args.value_of("pinned")?;
        return Ok(vec![open_pinned(&path, ObjKind::Map)?]);
    }
    if is_prefix(&kw, "name") {
        let name = args.value_of("name")?;
        if name.len() > 15 {
            return Err(fail(format!(
                "can't parse name {name}: name is longer than 15 characters"
            )));
        }
        let mut out = Vec::new();
        let mut cur = 0;
        while let Ok(Some(id)) = get_next_id(ObjKind::Map, cur) {
            cur = id;
            let Ok(fd) = get_fd_by_id(ObjKind::Map, id) else {
                continue;
            };
            let Ok(info) = bpfkit_sys::map::map_info(fd.as_fd()) else {
                continue;
            };
            if bpfkit_sys::prog::name_from_bytes(&info.name) == name {
                out.push(fd);
            }
        }
        if out.is_empty() {
            return Err(fail(format!("no map with name {name}")));
        }
        return Ok(out);
    }
    Err(fail(format!(
        "expected 'id', 'name' or 'pinned', got: '{kw}'?"
    )))
}

/// Reads a `MAP` specification that must name exactly one map.
pub fn parse_one_map(args: &mut Args) -> Result<OwnedFd, CliError> {
    let mut maps = parse_map(args)?;
    if maps.len() > 1 {
        return Err(fail("several maps match this handle"));
    }
    maps.pop().ok_or_else(|| fail("no map matches this handle"))
}

/// Reads a `PROG` specification that must name exactly one program.
pub fn parse_one_prog(args: &mut Args) -> Result<OwnedFd, CliError> {
    let mut progs = parse_prog(args)?;
    if progs.len() > 1 {
        return Err(fail("several programs match this handle"));
    }
    progs
        .pop()
        .ok_or_else(|| fail("no program matches this handle"))
}

/// `strerror` of a sys error.
pub fn sys_err(e: &bpfkit_sys::Error) -> String {
    match e.errno() {
        Some(n) => strerror(n),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_numbers() {
        assert!(is_prefix("pin", "pinned"));
        assert!(!is_prefix("", "id"));
        assert_eq!(parse_u64("0x10"), Some(16));
        assert_eq!(parse_u64("010"), Some(8));
        assert_eq!(parse_u64("0"), Some(0));
        assert!(parse_id("abc").is_err());
        assert_eq!(parse_tag("b11af16c55dee00b").map(|t| t[0]), Some(0xb1));
        assert!(parse_tag("zz").is_none());
    }

    #[test]
    fn missing_values_are_errors() {
        let mut a = Args::new(vec!["id".into()]);
        assert!(parse_prog(&mut a).is_err());
        let mut a = Args::new(vec!["foo".into(), "1".into()]);
        assert!(parse_map(&mut a).is_err());
    }
}
