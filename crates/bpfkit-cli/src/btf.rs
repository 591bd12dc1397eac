//! `bpfkit btf`: bpftool's `btf show|list` and `btf dump id N | file F | prog PROG | map MAP
//! [format raw|c]`. The BTF crate does the formatting; this module finds the BTF (and its
//! vmlinux base for module or split BTF), and also loads kernel BTF for the other nouns.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::fd::AsFd;

use bpfkit_btf::{Btf, Detail, Kind};
use bpfkit_sys::obj::{get_fd_by_id, get_next_id, ObjKind};

use crate::output::{fail, print_json, J};
use crate::target::{self, Args};
use crate::{CliError, Global};

/// `bpfkit btf …`.
pub fn run(g: &Global, words: Vec<String>) -> Result<(), CliError> {
    let mut args = Args::new(words);
    let verb = args.next().unwrap_or_else(|| "show".to_string());
    if target::is_prefix(&verb, "show") || target::is_prefix(&verb, "list") {
        show(g, &mut args)
    } else if target::is_prefix(&verb, "dump") {
        dump(g, &mut args)
    } else if target::is_prefix(&verb, "help") {
        println!("{HELP}");
        Ok(())
    } else {
        Err(crate::output::usage(format!(
            "unknown btf command '{verb}'\n{HELP}"
        )))
    }
}

const HELP: &str = "Usage: bpfkit btf { show | list } [id BTF_ID]
       bpfkit btf dump BTF_SRC [format FORMAT]
       bpfkit btf help

       BTF_SRC := { id BTF_ID | prog PROG | map MAP [{key | value | kv | all}] | file FILE }
       FORMAT  := { raw | c }";

/// Loads a kernel BTF object by id; module BTF (split) is parsed on top of vmlinux.
pub fn load_btf(id: u32) -> Result<Btf, CliError> {
    load_btf_on(id, None)
}

/// Like [`load_btf`], parsed as split BTF on `base` when one is given (`-B`).
fn load_btf_on(id: u32, base: Option<&Btf>) -> Result<Btf, CliError> {
    let fd = get_fd_by_id(ObjKind::Btf, id)
        .map_err(|e| fail(format!("get btf by id ({id}): {}", target::sys_err(&e))))?;
    let info = bpfkit_sys::btf::btf_info(fd.as_fd()).map_err(|e| {
        fail(format!(
            "can't get BTF object info: {}",
            target::sys_err(&e)
        ))
    })?;
    let raw = bpfkit_sys::btf::btf_raw(fd.as_fd()).map_err(|e| {
        fail(format!(
            "can't read BTF object {id}: {}",
            target::sys_err(&e)
        ))
    })?;
    if let Some(base) = base {
        return Btf::parse_split(&raw, base).map_err(|e| fail(format!("can't parse BTF: {e}")));
    }
    parse_maybe_split(raw, info.kernel_btf && info.name != "vmlinux")
}

/// The `-B/--base-btf` file, parsed (vmlinux mapped rather than read).
fn base_btf(g: &Global) -> Result<Option<Btf>, CliError> {
    let Some(path) = &g.base_btf else {
        return Ok(None);
    };
    let failed = |e: &dyn std::fmt::Display| {
        fail(format!(
            "failed to parse base BTF at '{}': {e}",
            path.display()
        ))
    };
    if path.as_os_str() == bpfkit_btf::VMLINUX_PATH {
        return bpfkit::attach::load_vmlinux_btf()
            .map(Some)
            .map_err(|e| failed(&e));
    }
    Btf::from_file(path).map(Some).map_err(|e| failed(&e))
}

fn parse_maybe_split(raw: Vec<u8>, split: bool) -> Result<Btf, CliError> {
    if split {
        let base = Btf::vmlinux().map_err(|e| fail(format!("can't load vmlinux BTF: {e}")))?;
        return Btf::parse_split(&raw, &base).map_err(|e| fail(format!("can't parse BTF: {e}")));
    }
    // Shared, so the split retry below needs no copy of bytes that usually parse at once.
    let raw: bpfkit_btf::SharedBytes = std::sync::Arc::new(raw);
    match Btf::from_shared(raw.clone()) {
        Ok(b) => Ok(b),
        // Program BTF made against a module or vmlinux may be split too.
        Err(first) => match Btf::vmlinux() {
            Ok(base) => Btf::from_shared_split(raw, &base)
                .map_err(|_| fail(format!("can't parse BTF: {first}"))),
            Err(_) => Err(fail(format!("can't parse BTF: {first}"))),
        },
    }
}

/// A type as bpftool names it in prototypes: `int`, `struct sk_buff *`, `const char *`.
pub fn type_name(btf: &Btf, id: u32) -> String {
    type_name_depth(btf, id, 0)
}

fn type_name_depth(btf: &Btf, id: u32, depth: usize) -> String {
    if id == 0 {
        return "void".to_string();
    }
    if depth > 32 {
        return "?".to_string();
    }
    let Ok(t) = btf.type_by_id(id) else {
        return "?".to_string();
    };
    match (&t.kind, &t.detail) {
        (Kind::Struct, _) => format!("struct {}", t.name),
        (Kind::Union, _) => format!("union {}", t.name),
        (Kind::Enum | Kind::Enum64, _) => format!("enum {}", t.name),
        (Kind::Fwd, Detail::Fwd { is_union }) => {
            format!("{} {}", if *is_union { "union" } else { "struct" }, t.name)
        }
        (Kind::Ptr, Detail::Ptr { type_id }) => {
            format!("{} *", type_name_depth(btf, *type_id, depth + 1))
        }
        (Kind::Const, Detail::Ref { type_id }) => {
            format!("const {}", type_name_depth(btf, *type_id, depth + 1))
        }
        (Kind::Volatile, Detail::Ref { type_id }) => {
            format!("volatile {}", type_name_depth(btf, *type_id, depth + 1))
        }
        (Kind::Restrict, Detail::Ref { type_id }) => {
            format!("restrict {}", type_name_depth(btf, *type_id, depth + 1))
        }
        (Kind::TypeTag, Detail::TypeTag { type_id }) => type_name_depth(btf, *type_id, depth + 1),
        (Kind::Array, Detail::Array(a)) => format!(
            "{}[{}]",
            type_name_depth(btf, a.elem_type, depth + 1),
            a.nelems
        ),
        (Kind::FuncProto, _) => "(*)()".to_string(),
        _ => t.name.to_string(),
    }
}

fn show(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let only = if args.eat("id") {
        Some(target::parse_id(&args.value_of("id")?)?)
    } else {
        None
    };
    args.finish()?;
    // Which programs and maps use each BTF object; bpftool lists them newest first.
    let mut progs: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    let mut maps: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for_each(ObjKind::Prog, |fd| {
        if let Ok(i) = bpfkit_sys::prog::prog_info(fd) {
            if i.btf_id != 0 {
                progs.entry(i.btf_id).or_default().push(i.id);
            }
        }
    });
    for_each(ObjKind::Map, |fd| {
        if let Ok(i) = bpfkit_sys::map::map_info(fd) {
            if i.btf_id != 0 {
                maps.entry(i.btf_id).or_default().push(i.id);
            }
            if i.btf_vmlinux_id != 0 && i.btf_vmlinux_id != i.btf_id {
                maps.entry(i.btf_vmlinux_id).or_default().push(i.id);
            }
        }
    });
    let mut infos = Vec::new();
    match only {
        Some(id) => {
            let fd = get_fd_by_id(ObjKind::Btf, id).map_err(|e| {
                fail(format!(
                    "can't get BTF object by id ({id}): {}",
                    target::sys_err(&e)
                ))
            })?;
            infos.push(bpfkit_sys::btf::btf_info(fd.as_fd()).map_err(|e| {
                fail(format!(
                    "can't get BTF object info: {}",
                    target::sys_err(&e)
                ))
            })?);
        }
        None => for_each(ObjKind::Btf, |fd| {
            if let Ok(i) = bpfkit_sys::btf::btf_info(fd) {
                infos.push(i);
            }
        }),
    }
    let rev = |v: Option<&Vec<u32>>| -> Vec<u32> {
        v.map(|v| v.iter().rev().copied().collect())
            .unwrap_or_default()
    };
    let mut items = Vec::new();
    let mut text = String::new();
    for i in &infos {
        let p = rev(progs.get(&i.id));
        let m = rev(maps.get(&i.id));
        if g.json() {
            let mut o = J::obj();
            o.push("id", J::U(i.id.into()))
                .push("size", J::U(i.size.into()))
                .push(
                    "prog_ids",
                    J::Arr(p.iter().map(|&x| J::U(x.into())).collect()),
                )
                .push(
                    "map_ids",
                    J::Arr(m.iter().map(|&x| J::U(x.into())).collect()),
                )
                .push("kernel", J::Bool(i.kernel_btf));
            if !i.name.is_empty() {
                o.push("name", J::s(i.name.clone()));
            }
            items.push(o);
        } else {
            text.push_str(&format!("{}: ", i.id));
            if i.name.is_empty() {
                text.push_str("name <anon>  ");
            } else if i.kernel_btf {
                text.push_str(&format!("name [{}]  ", i.name));
            } else {
                text.push_str(&format!("name {}  ", i.name));
            }
            text.push_str(&format!("size {}B", i.size));
            let join = |v: &[u32]| {
                v.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            if !p.is_empty() {
                text.push_str(&format!("  prog_ids {}", join(&p)));
            }
            if !m.is_empty() {
                text.push_str(&format!("  map_ids {}", join(&m)));
            }
            text.push('\n');
        }
    }
    if g.json() {
        print_json(g, &crate::output::list_or_one(items, only.is_some()));
    } else {
        crate::emit(&text)?;
    }
    Ok(())
}

fn for_each(kind: ObjKind, mut f: impl FnMut(std::os::fd::BorrowedFd<'_>)) {
    let mut cur = 0;
    while let Ok(Some(id)) = get_next_id(kind, cur) {
        cur = id;
        if let Ok(fd) = get_fd_by_id(kind, id) {
            f(fd.as_fd());
        }
    }
}

/// Which of a map's types `btf dump map` prints.
#[derive(Clone, Copy, PartialEq)]
enum MapPart {
    Key,
    Value,
    Both,
}

fn dump(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let src = args
        .next()
        .ok_or_else(|| fail("expected 'id', 'prog', 'map' or 'file'"))?;
    let base = base_btf(g)?;
    let mut only: Option<Vec<u32>> = None;
    let btf = if target::is_prefix(&src, "id") {
        let id = target::parse_id(&args.value_of("id")?)?;
        get_fd_by_id(ObjKind::Btf, id).map_err(|e| {
            fail(format!(
                "can't get BTF object by id ({id}): {}",
                target::sys_err(&e)
            ))
        })?;
        load_btf_on(id, base.as_ref())?
    } else if target::is_prefix(&src, "file") {
        let path = args.value_of("file")?;
        if let Some(base) = &base {
            let bytes = std::fs::read(&path)
                .map_err(|e| fail(format!("failed to load BTF from {path}: {e}")))?;
            match Btf::parse_split(&bytes, base) {
                Ok(b) => b,
                Err(e) if !bytes.starts_with(b"\x7fELF") => {
                    return Err(fail(format!("failed to load BTF from {path}: {e}")))
                }
                Err(_) => bpfkit_elf_btf(&path)?,
            }
        } else if path == "/sys/kernel/btf/vmlinux" {
            // Mapped, not read: the dump then costs no more memory than its own output buffer.
            bpfkit::attach::load_vmlinux_btf()
                .map_err(|e| fail(format!("failed to load BTF from {path}: {e}")))?
        } else {
            let bytes = std::fs::read(&path)
                .map_err(|e| fail(format!("failed to load BTF from {path}: {e}")))?;
            let in_sysfs = path.starts_with("/sys/kernel/btf/") && !path.ends_with("/vmlinux");
            if in_sysfs {
                parse_maybe_split(bytes, true)?
            } else {
                match Btf::from_vec(bytes) {
                    Ok(b) => b,
                    Err(_) => bpfkit_elf_btf(&path)?,
                }
            }
        }
    } else if target::is_prefix(&src, "prog") {
        let fd = target::parse_one_prog(args)?;
        let info = bpfkit_sys::prog::prog_info(fd.as_fd())
            .map_err(|e| fail(format!("can't get prog info: {}", target::sys_err(&e))))?;
        if info.btf_id == 0 {
            return Err(fail("can't get BTF object: no BTF for this program"));
        }
        load_btf(info.btf_id)?
    } else if target::is_prefix(&src, "map") {
        let fd = target::parse_one_map(args)?;
        let info = bpfkit_sys::map::map_info(fd.as_fd())
            .map_err(|e| fail(format!("can't get map info: {}", target::sys_err(&e))))?;
        let mut part = MapPart::Both;
        let mut all = false;
        if let Some(w) = args.peek().map(str::to_string) {
            match w.as_str() {
                "key" => part = MapPart::Key,
                "value" => part = MapPart::Value,
                "kv" => part = MapPart::Both,
                "all" => all = true,
                _ => {}
            }
            if matches!(w.as_str(), "key" | "value" | "kv" | "all") {
                args.next();
            }
        }
        if info.btf_id == 0 {
            return Err(fail("can't get BTF object: no BTF for this map"));
        }
        if !all {
            let mut ids = Vec::new();
            if part != MapPart::Value && info.btf_key_type_id != 0 {
                ids.push(info.btf_key_type_id);
            }
            if part != MapPart::Key {
                if info.btf_value_type_id != 0 {
                    ids.push(info.btf_value_type_id);
                } else if info.btf_vmlinux_value_type_id != 0 {
                    ids.push(info.btf_vmlinux_value_type_id);
                }
            }
            only = Some(ids);
        }
        load_btf(info.btf_id)?
    } else {
        return Err(fail(format!("unrecognized BTF source specifier: '{src}'")));
    };
    let mut format_c = false;
    while let Some(w) = args.next() {
        if target::is_prefix(&w, "format") {
            let f = args.value_of("format")?;
            if f == "c" {
                format_c = true;
            } else if f == "raw" {
                format_c = false;
            } else {
                return Err(fail(format!(
                    "unrecognized format specifier: '{f}', possible values: raw, c"
                )));
            }
        } else {
            return Err(fail(format!(
                "unrecognized option: '{w}', possible values: format"
            )));
        }
    }
    if format_c && g.json() {
        return Err(fail("JSON output for C-syntax dump is not supported"));
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let res = if format_c {
        btf.dump_c(&mut out)
    } else if let Some(ids) = only {
        dump_some(&btf, &ids, g.json(), &mut out)
    } else if g.json() {
        btf.dump_raw_json(&mut out)
    } else {
        btf.dump_raw(&mut out)
    };
    match res.map(|_| out.flush()) {
        Ok(_) => Ok(()),
        Err(e) if is_broken_pipe(&e) => Ok(()),
        Err(e) => Err(fail(format!("dump failed: {e}"))),
    }
}

fn is_broken_pipe(e: &bpfkit_btf::Error) -> bool {
    e.to_string().contains("Broken pipe")
}

fn dump_some(btf: &Btf, ids: &[u32], json: bool, out: &mut impl Write) -> bpfkit_btf::Result<()> {
    if json {
        out.write_all(b"{\"types\":[")?;
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            btf.write_raw_type_json(out, *id)?;
        }
        out.write_all(b"]}\n")?;
    } else {
        for id in ids {
            btf.write_raw_type(out, *id)?;
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}

/// The `.BTF` section of an ELF object file, for `btf dump file OBJ.o`: as stored in the file,
/// without the loader's fix-ups (data section sizes stay 0 as clang wrote them), which is what
/// bpftool prints.
fn bpfkit_elf_btf(path: &str) -> Result<Btf, CliError> {
    let err = |m: &str| fail(format!("failed to load BTF from {path}: {m}"));
    let data = std::fs::read(path).map_err(|e| err(&e.to_string()))?;
    let sec = elf_section(&data, ".BTF").ok_or_else(|| err("no .BTF section in this file"))?;
    Btf::parse(sec).map_err(|e| err(&e.to_string()))
}

/// A section of a little-endian ELF64 file by name.
fn elf_section<'a>(d: &'a [u8], want: &str) -> Option<&'a [u8]> {
    let u16_at = |o: usize| -> Option<u64> {
        Some(u16::from_le_bytes(d.get(o..o + 2)?.try_into().ok()?).into())
    };
    let u32_at = |o: usize| -> Option<u64> {
        Some(u32::from_le_bytes(d.get(o..o + 4)?.try_into().ok()?).into())
    };
    let u64_at =
        |o: usize| -> Option<u64> { Some(u64::from_le_bytes(d.get(o..o + 8)?.try_into().ok()?)) };
    if d.get(0..4)? != b"\x7fELF" || *d.get(4)? != 2 || *d.get(5)? != 1 {
        return None;
    }
    let shoff = u64_at(0x28)? as usize;
    let shentsize = u16_at(0x3a)? as usize;
    let shnum = u16_at(0x3c)? as usize;
    let shstrndx = u16_at(0x3e)? as usize;
    let sh = |i: usize| -> Option<(u64, u64, u64)> {
        let base = shoff.checked_add(i.checked_mul(shentsize)?)?;
        Some((u32_at(base)?, u64_at(base + 0x18)?, u64_at(base + 0x20)?))
    };
    let (_, str_off, str_size) = sh(shstrndx)?;
    let strtab = d.get(str_off as usize..(str_off + str_size) as usize)?;
    for i in 0..shnum {
        let (name, off, size) = sh(i)?;
        let name = strtab.get(name as usize..)?;
        let end = name.iter().position(|&b| b == 0)?;
        if &name[..end] == want.as_bytes() {
            return d.get(off as usize..off.checked_add(size)? as usize);
        }
    }
    None
}
