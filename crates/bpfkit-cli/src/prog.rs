//! `bpfkit prog`: bpftool's `prog show|list`, `dump xlated|jited`, `run`, `pin` and
//! `tracelog` (`load`/`loadall` live with the loader). Text and JSON follow bpftool 7.1.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

use bpfkit_btf::{Btf, Detail};
use bpfkit_insn::xlated::{self, Dialect, KernelSymbols};
use bpfkit_sys::obj::{get_fd_by_id, get_next_id, ObjKind};
use bpfkit_sys::prog::{prog_info, prog_info_full, ProgInfo, ProgInfoArrays};

use crate::btf::{load_btf, type_name};
use crate::output::{self, fail, print_json, ObjClass, Owner, J};
use crate::target::{self, Args};
use crate::{CliError, Global};

/// `bpfkit prog …`.
pub fn run(g: &Global, words: Vec<String>) -> Result<(), CliError> {
    let mut args = Args::new(words);
    let verb = args.next().unwrap_or_else(|| "show".to_string());
    let v = verb.as_str();
    let is = |kw: &str| target::is_prefix(v, kw);
    if is("show") || is("list") {
        show(g, &mut args)
    } else if is("dump") {
        dump(g, &mut args)
    } else if is("pin") {
        pin(g, &mut args)
    } else if is("attach") {
        crate::prog_attach::attach(g, &mut args)
    } else if is("detach") {
        crate::prog_attach::detach(g, &mut args)
    } else if is("profile") {
        crate::prog_profile::run(g, &mut args)
    } else if is("run") {
        run_prog(g, &mut args)
    } else if is("tracelog") {
        tracelog(g)
    } else if is("help") {
        println!("{}", HELP);
        Ok(())
    } else {
        Err(output::usage(format!("unknown prog command '{v}'\n{HELP}")))
    }
}

const HELP: &str = "Usage: bpfkit prog { show | list } [PROG]
       bpfkit prog dump xlated PROG [{ file FILE | opcodes | visual | linum }]
       bpfkit prog dump jited  PROG [{ file FILE | opcodes | linum }]
       bpfkit prog pin   PROG FILE
       bpfkit prog attach PROG ATTACH_TYPE [MAP]
       bpfkit prog detach PROG ATTACH_TYPE [MAP]
       bpfkit prog run PROG data_in FILE [data_out FILE [data_size_out L]] \\
                         [ctx_in FILE [ctx_out FILE [ctx_size_out M]]] [repeat N]
       bpfkit prog profile PROG [duration DURATION] METRICs
       bpfkit prog tracelog
       bpfkit prog help

       MAP := { id MAP_ID | pinned FILE | name MAP_NAME }
       PROG := { id PROG_ID | pinned FILE | tag PROG_TAG | name PROG_NAME }
       ATTACH_TYPE := { sk_msg_verdict | sk_skb_verdict | sk_skb_stream_verdict |
                        sk_skb_stream_parser | flow_dissector }
       METRIC := { cycles | instructions | l1d_loads | llc_misses | itlb_misses | dtlb_misses }";

/// bpftool's program name: the kernel keeps 15 characters; a name that long is completed from
/// the BTF name of the program's first function.
pub fn full_name(info: &ProgInfo, fd: BorrowedFd<'_>) -> String {
    Light::fetch(info, fd).name(info)
}

/// The map ids and first func_info record of a program, in one info call (without copying the
/// instruction images as a full fetch does): what `prog show` needs beyond the fixed fields.
struct Light {
    map_ids: Vec<u32>,
    first_func_type: Option<u32>,
}

impl Light {
    fn fetch(info: &ProgInfo, fd: BorrowedFd<'_>) -> Light {
        let want_func = info.nr_func_info > 0 && info.btf_id != 0 && info.name().len() >= 15;
        if info.nr_map_ids == 0 && !want_func {
            return Light {
                map_ids: Vec::new(),
                first_func_type: None,
            };
        }
        let mut map_ids = vec![0u32; info.nr_map_ids as usize];
        let mut func = [0u32; 2];
        // Buffers handed to the kernel by address, as plain data; both outlive the call.
        let mut q = ProgInfo {
            nr_map_ids: map_ids.len() as u32,
            map_ids: if map_ids.is_empty() {
                0
            } else {
                map_ids.as_mut_ptr() as u64
            },
            ..Default::default()
        };
        if want_func {
            q.nr_func_info = 1;
            q.func_info_rec_size = 8;
            q.func_info = func.as_mut_ptr() as u64;
        }
        if bpfkit_sys::obj::obj_get_info_by_fd(fd, &mut q).is_err() {
            return Light {
                map_ids: Vec::new(),
                first_func_type: None,
            };
        }
        map_ids.truncate(q.nr_map_ids as usize);
        Light {
            map_ids,
            first_func_type: (want_func && q.nr_func_info > 0).then_some(func[1]),
        }
    }

    fn name(&self, info: &ProgInfo) -> String {
        let short = info.name();
        let Some(tid) = self.first_func_type else {
            return short;
        };
        match load_btf(info.btf_id) {
            Ok(btf) => match btf.name_of(tid) {
                Ok(n) if !n.is_empty() => n.to_string(),
                _ => short,
            },
            Err(_) => short,
        }
    }
}

/// Shared facts of the `-f` and pid columns, gathered once per command.
struct Extras {
    pinned: BTreeMap<u32, Vec<PathBuf>>,
    owners: BTreeMap<u32, Vec<Owner>>,
}

impl Extras {
    /// Starts the /proc scan for owners on another thread: it is independent of the per-program
    /// work and, on a busy system, as long.
    fn start(g: &Global) -> std::thread::JoinHandle<Extras> {
        let bpffs = g.bpffs;
        std::thread::spawn(move || Extras {
            pinned: if bpffs {
                output::pinned_paths(ObjClass::Prog)
            } else {
                BTreeMap::new()
            },
            owners: output::owners(ObjClass::Prog),
        })
    }
}

fn show(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let all = args.is_empty();
    let fds: Vec<OwnedFd> = if all {
        let mut v = Vec::new();
        let mut cur = 0;
        loop {
            match get_next_id(ObjKind::Prog, cur) {
                Ok(Some(id)) => {
                    cur = id;
                    if let Ok(fd) = get_fd_by_id(ObjKind::Prog, id) {
                        v.push(fd);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(fail(format!(
                        "can't get next program: {}",
                        target::sys_err(&e)
                    )))
                }
            }
        }
        v
    } else {
        let v = target::parse_prog(args)?;
        args.finish()?;
        v
    };
    let extras = Extras::start(g);
    let mut views = Vec::new();
    for fd in &fds {
        let info = match prog_info(fd.as_fd()) {
            Ok(i) => i,
            // In a listing, a program unloaded meanwhile is simply gone.
            Err(_) if all => continue,
            Err(e) => {
                return Err(fail(format!(
                    "can't get prog info: {}",
                    target::sys_err(&e)
                )))
            }
        };
        let light = Light::fetch(&info, fd.as_fd());
        views.push(View {
            name: light.name(&info),
            map_ids: light.map_ids,
            memlock: output::memlock_of(fd.as_fd()),
            info,
        });
    }
    let extras = extras.join().unwrap_or_else(|_| Extras {
        pinned: BTreeMap::new(),
        owners: BTreeMap::new(),
    });
    if g.json() {
        let items = views.iter().map(|v| prog_json(v, &extras)).collect();
        print_json(g, &output::list_or_one(items, !all));
    } else {
        let text: String = views.iter().map(|v| prog_text(v, &extras)).collect();
        crate::emit(&text)?;
    }
    Ok(())
}

/// What `prog show` prints of one program.
struct View {
    info: ProgInfo,
    name: String,
    map_ids: Vec<u32>,
    memlock: Option<u64>,
}

/// bpftool's type column: the name, or the number of a type this build does not know.
fn type_json(t: u32) -> J {
    match bpfkit::ProgramType::from_u32(t) {
        Some(pt) => J::s(pt.name()),
        None => J::U(t.into()),
    }
}

fn tag_hex(tag: &[u8; 8]) -> String {
    tag.iter().map(|b| format!("{b:02x}")).collect()
}

fn prog_json(v: &View, x: &Extras) -> J {
    let info = &v.info;
    let mut o = J::obj();
    o.push("id", J::U(info.id.into()))
        .push("type", type_json(info.prog_type));
    if !v.name.is_empty() {
        o.push("name", J::s(v.name.clone()));
    }
    o.push("tag", J::s(tag_hex(&info.tag)))
        .push("gpl_compatible", J::Bool(info.gpl_compatible & 1 != 0));
    if info.run_time_ns != 0 {
        o.push("run_time_ns", J::U(info.run_time_ns))
            .push("run_cnt", J::U(info.run_cnt));
    }
    if info.recursion_misses != 0 {
        o.push("recursion_misses", J::U(info.recursion_misses));
    }
    if info.load_time != 0 {
        o.push("loaded_at", J::I(output::boot_ns_to_unix(info.load_time)))
            .push("uid", J::U(info.created_by_uid.into()));
    }
    o.push("bytes_xlated", J::U(info.xlated_prog_len.into()))
        .push("jited", J::Bool(info.jited_prog_len != 0));
    if info.jited_prog_len != 0 {
        o.push("bytes_jited", J::U(info.jited_prog_len.into()));
    }
    if let Some(m) = v.memlock {
        o.push("bytes_memlock", J::U(m));
    }
    if !v.map_ids.is_empty() {
        o.push(
            "map_ids",
            J::Arr(v.map_ids.iter().map(|&i| J::U(i.into())).collect()),
        );
    }
    if info.btf_id != 0 {
        o.push("btf_id", J::U(info.btf_id.into()));
    }
    if let Some(paths) = x.pinned.get(&info.id) {
        o.push(
            "pinned",
            J::Arr(
                paths
                    .iter()
                    .map(|p| J::s(p.display().to_string()))
                    .collect(),
            ),
        );
    }
    if let Some(list) = x.owners.get(&info.id) {
        o.push("pids", output::owners_json(list));
    }
    o
}

fn prog_text(v: &View, x: &Extras) -> String {
    let info = &v.info;
    let mut s = format!("{}: ", info.id);
    match bpfkit::ProgramType::from_u32(info.prog_type) {
        Some(t) => s.push_str(&format!("{}  ", t.name())),
        None => s.push_str(&format!("type {}  ", info.prog_type)),
    }
    if !v.name.is_empty() {
        s.push_str(&format!("name {}  ", v.name));
    }
    s.push_str(&format!("tag {}", tag_hex(&info.tag)));
    if info.gpl_compatible & 1 != 0 {
        s.push_str("  gpl");
    }
    if info.run_time_ns != 0 {
        s.push_str(&format!(
            " run_time_ns {} run_cnt {}",
            info.run_time_ns, info.run_cnt
        ));
    }
    if info.recursion_misses != 0 {
        s.push_str(&format!(" recursion_misses {}", info.recursion_misses));
    }
    s.push('\n');
    if info.load_time != 0 {
        s.push_str(&format!(
            "\tloaded_at {}  uid {}\n",
            output::format_time(output::boot_ns_to_unix(info.load_time)),
            info.created_by_uid
        ));
    }
    s.push_str(&format!("\txlated {}B", info.xlated_prog_len));
    if info.jited_prog_len != 0 {
        s.push_str(&format!("  jited {}B", info.jited_prog_len));
    } else {
        s.push_str("  not jited");
    }
    if let Some(m) = v.memlock {
        s.push_str(&format!("  memlock {m}B"));
    }
    if !v.map_ids.is_empty() {
        let ids: Vec<String> = v.map_ids.iter().map(|i| i.to_string()).collect();
        s.push_str(&format!("  map_ids {}", ids.join(",")));
    }
    s.push('\n');
    if let Some(paths) = x.pinned.get(&info.id) {
        for p in paths {
            s.push_str(&format!("\tpinned {}\n", p.display()));
        }
    }
    if info.btf_id != 0 {
        s.push_str(&format!("\tbtf_id {}\n", info.btf_id));
    }
    if let Some(list) = x.owners.get(&info.id) {
        s.push_str(&output::owners_text(list));
        s.push('\n');
    }
    s
}

/// Options of `prog dump`.
#[derive(Default)]
struct DumpOpts {
    file: Option<String>,
    opcodes: bool,
    visual: bool,
    linum: bool,
}

fn dump(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let what = args
        .next()
        .ok_or_else(|| fail("expected 'xlated' or 'jited'"))?;
    let jited = if target::is_prefix(&what, "xlated") {
        false
    } else if target::is_prefix(&what, "jited") {
        true
    } else {
        return Err(fail(format!("expected 'xlated' or 'jited', got: {what}")));
    };
    let fd = target::parse_one_prog(args)?;
    let mut o = DumpOpts::default();
    while let Some(w) = args.next() {
        if target::is_prefix(&w, "file") {
            o.file = Some(args.value_of("file")?);
        } else if target::is_prefix(&w, "opcodes") {
            o.opcodes = true;
        } else if target::is_prefix(&w, "visual") && !jited {
            o.visual = true;
        } else if target::is_prefix(&w, "linum") {
            o.linum = true;
        } else {
            return Err(fail(format!("unexpected argument: '{w}'")));
        }
    }
    let (info, arrays) = prog_info_full(fd.as_fd())
        .map_err(|e| fail(format!("can't get prog info: {}", target::sys_err(&e))))?;
    if jited {
        if arrays.jited.is_empty() {
            return Err(fail("no instructions returned"));
        }
        // As bpftool: `file` receives the raw image, not its disassembly.
        if let Some(path) = &o.file {
            return emit(Some(path), &arrays.jited);
        }
        let ctx = SourceInfo::new(&info, &arrays);
        let out = crate::jited::dump(g, &info, &arrays, &ctx, o.opcodes, o.linum)?;
        return emit(None, &out);
    }
    if arrays.xlated.is_empty() {
        return Err(fail("no instructions returned"));
    }
    if let Some(path) = &o.file {
        std::fs::write(path, &arrays.xlated)
            .map_err(|e| fail(format!("error writing output file: {e}")))?;
        return Ok(());
    }
    let insns = bpfkit_insn::decode_all(&arrays.xlated)
        .map_err(|e| fail(format!("can't decode instructions: {e}")))?;
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
    if o.visual {
        let syms = KernelSymbols::from_kallsyms(&kallsyms, Vec::new());
        crate::emit(&xlated::dot(&insns, &syms, Dialect::PreV4))?;
        return Ok(());
    }
    let syms = KernelSymbols::from_kallsyms(&kallsyms, arrays.jited_ksyms.clone());
    let src = SourceInfo::new(&info, &arrays);
    if g.json() {
        let lines = xlated::disassemble(&insns, &syms, Dialect::PreV4);
        let mut items = Vec::new();
        for line in lines {
            let mut e = J::obj();
            if let Some(p) = src.proto_at(line.index) {
                e.push("proto", J::s(p));
            }
            if let Some(l) = src.line_at(line.index) {
                e.push("src", J::s(l.text.clone()));
                if o.linum {
                    e.push("file", J::s(l.file.clone()));
                    if l.line != 0 {
                        e.push("line_num", J::U(l.line.into()));
                    }
                    if l.col != 0 {
                        e.push("line_col", J::U(l.col.into()));
                    }
                }
            }
            e.push("disasm", J::s(line.text.clone()));
            if o.opcodes {
                let f = line.opcode_fields();
                let mut op = J::obj();
                op.push("code", J::s(format!("0x{:02x}", f.code)))
                    .push("src_reg", J::s(format!("{:#x}", f.src_reg)))
                    .push("dst_reg", J::s(format!("{:#x}", f.dst_reg)))
                    .push("off", output::hex_json(&f.off))
                    .push("imm", output::hex_json(&f.imm));
                e.push("opcodes", op);
            }
            items.push(e);
        }
        print_json(g, &J::Arr(items));
        return Ok(());
    }
    let text = xlated::dump_annotated(&insns, &syms, Dialect::PreV4, o.opcodes, &mut |i| {
        src.before(i, o.linum)
    });
    crate::emit(&text)
}

fn emit(file: Option<&str>, out: &[u8]) -> Result<(), CliError> {
    match file {
        Some(path) => {
            std::fs::write(path, out).map_err(|e| fail(format!("error writing output file: {e}")))
        }
        // A reader that went away (`| head`) ends the dump quietly.
        None => {
            let _ = std::io::stdout().lock().write_all(out);
            Ok(())
        }
    }
}

/// One source line of line_info.
#[derive(Clone, Debug)]
pub struct SrcLine {
    /// Source text, leading blanks trimmed as bpftool does.
    pub text: String,
    /// Source file.
    pub file: String,
    /// Line number.
    pub line: u32,
    /// Column.
    pub col: u32,
}

/// A program's BTF func_info and line_info, keyed by instruction index.
pub struct SourceInfo {
    protos: BTreeMap<usize, (String, String)>,
    lines: BTreeMap<usize, SrcLine>,
    /// jited line_info: (address, line) pairs in jited order, matched to `lines` by index.
    pub jited_lines: Vec<(u64, SrcLine)>,
}

impl SourceInfo {
    /// Reads the records through the program's BTF; empty when it has none.
    pub fn new(info: &ProgInfo, a: &ProgInfoArrays) -> SourceInfo {
        let mut s = SourceInfo {
            protos: BTreeMap::new(),
            lines: BTreeMap::new(),
            jited_lines: Vec::new(),
        };
        if info.btf_id == 0 {
            return s;
        }
        let Ok(btf) = load_btf(info.btf_id) else {
            return s;
        };
        let frs = info.func_info_rec_size.max(8) as usize;
        for rec in a.func_info.chunks_exact(frs) {
            let (Some(off), Some(tid)) = (word(rec, 0), word(rec, 1)) else {
                continue;
            };
            if let Some(p) = func_proto(&btf, tid) {
                s.protos.insert(off as usize, p);
            }
        }
        let lrs = info.line_info_rec_size.max(16) as usize;
        let mut ordered = Vec::new();
        for rec in a.line_info.chunks_exact(lrs) {
            let (Some(off), Some(file), Some(line), Some(lc)) =
                (word(rec, 0), word(rec, 1), word(rec, 2), word(rec, 3))
            else {
                continue;
            };
            let text = btf.str_at(line).unwrap_or("").trim_start().to_string();
            let l = SrcLine {
                text,
                file: btf.str_at(file).unwrap_or("").to_string(),
                line: lc >> 10,
                col: lc & 0x3ff,
            };
            ordered.push(l.clone());
            s.lines.insert(off as usize, l);
        }
        for (addr, l) in a.jited_line_info.iter().zip(ordered) {
            s.jited_lines.push((*addr, l));
        }
        s
    }

    fn proto_at(&self, i: usize) -> Option<String> {
        self.protos.get(&i).map(|(proto, _)| proto.clone())
    }

    /// Prototypes in instruction order.
    pub fn protos(&self) -> impl Iterator<Item = (&usize, &String)> {
        self.protos.iter().map(|(i, (p, _))| (i, p))
    }

    fn line_at(&self, i: usize) -> Option<&SrcLine> {
        self.lines.get(&i)
    }

    /// The text lines bpftool prints before instruction `i`.
    pub fn before(&self, i: usize, linum: bool) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(p) = self.proto_at(i) {
            v.push(format!("{p}:"));
        }
        if let Some(l) = self.line_at(i) {
            v.push(src_text(l, linum));
        }
        v
    }
}

/// bpftool's `; source` line, with the location under `linum`.
pub fn src_text(l: &SrcLine, linum: bool) -> String {
    if linum {
        format!(
            "; {} [file:{} line_num:{} line_col:{}]",
            l.text, l.file, l.line, l.col
        )
    } else {
        format!("; {}", l.text)
    }
}

fn word(rec: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(
        rec.get(i * 4..i * 4 + 4)?.try_into().ok()?,
    ))
}

/// bpftool's prototype line of a FUNC: `int name(void * ctx)`, and the name.
fn func_proto(btf: &Btf, func_id: u32) -> Option<(String, String)> {
    let f = btf.type_by_id(func_id).ok()?;
    let Detail::Func { proto, .. } = f.detail else {
        return None;
    };
    let p = btf.type_by_id(proto).ok()?;
    let Detail::FuncProto(fp) = &p.detail else {
        return None;
    };
    let mut s = format!("{} {}(", type_name(btf, fp.ret_type), f.name);
    for (i, param) in fp.params.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        if param.type_id == 0 {
            s.push_str("...");
            continue;
        }
        s.push_str(&type_name(btf, param.type_id));
        if !param.name.is_empty() {
            s.push(' ');
            s.push_str(param.name);
        }
    }
    s.push(')');
    Some((s, f.name.to_string()))
}

fn pin(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let fd = target::parse_one_prog(args)?;
    let path = args
        .next()
        .ok_or_else(|| fail("please specify the path to pin to"))?;
    args.finish()?;
    pin_fd(fd.as_fd(), &path)?;
    if g.json() {
        print_json(g, &J::Null);
    }
    Ok(())
}

/// Pins `fd` at `path`, mounting bpffs on the parent directory first when it has none (as
/// bpftool does unless `-n`), with bpftool's error text.
pub fn pin_fd(fd: BorrowedFd<'_>, path: &str) -> Result<(), CliError> {
    let p = std::path::Path::new(path);
    if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !matches!(bpfkit_sys::fs::is_bpffs(dir), Ok(true)) {
            bpfkit_sys::fs::ensure_bpffs_for(p).map_err(|e| {
                fail(format!(
                    "can't mount BPF file system to pin the object ({path}): {e}"
                ))
            })?;
        }
    }
    bpfkit_sys::obj::obj_pin(fd, p).map_err(|e| {
        fail(format!(
            "can't pin the object ({path}): {}",
            target::sys_err(&e)
        ))
    })
}

fn read_file(path: &str, what: &str) -> Result<Vec<u8>, CliError> {
    if path == "-" {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut v)
            .map_err(|e| fail(format!("failed to read {what} from stdin: {e}")))?;
        return Ok(v);
    }
    std::fs::read(path).map_err(|e| fail(format!("failed to open {what} file {path}: {e}")))
}

fn run_prog(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let fd = target::parse_one_prog(args)?;
    let mut data_in = None;
    let mut data_out = None;
    let mut ctx_in = None;
    let mut ctx_out = None;
    let mut data_size_out = None;
    let mut ctx_size_out = None;
    let mut repeat = 1u32;
    while let Some(w) = args.next() {
        let kw = w.as_str();
        let val = args.value_of(kw)?;
        match kw {
            "data_in" => data_in = Some(read_file(&val, "data_in")?),
            "data_out" => data_out = Some(val),
            "ctx_in" => ctx_in = Some(read_file(&val, "ctx_in")?),
            "ctx_out" => ctx_out = Some(val),
            "data_size_out" => data_size_out = Some(parse_size(&val, kw)?),
            "ctx_size_out" => ctx_size_out = Some(parse_size(&val, kw)?),
            "repeat" => repeat = parse_size(&val, kw)? as u32,
            _ => {
                return Err(fail(format!(
                    "unknown option '{kw}': expected data_in, data_out, data_size_out, ctx_in, ctx_out, ctx_size_out or repeat"
                )))
            }
        }
    }
    let data_in = data_in.unwrap_or_default();
    let ctx_in = ctx_in.unwrap_or_default();
    // Beyond bpftool: a pcap file as data_in runs the program once per packet.
    if let Some(packets) = pcap_packets(&data_in)? {
        if data_out.is_some() || ctx_out.is_some() {
            return Err(fail(
                "data_out and ctx_out take one packet: give data_in a raw packet, not a pcap file",
            ));
        }
        return run_packets(g, fd.as_fd(), &packets, &ctx_in, repeat);
    }
    let t = bpfkit_sys::prog::TestRun {
        data_in: &data_in,
        data_out_size: data_out
            .as_ref()
            .map(|_| data_size_out.unwrap_or(data_in.len().max(32) + 256 * 1024)),
        ctx_in: &ctx_in,
        ctx_out_size: ctx_out
            .as_ref()
            .map(|_| ctx_size_out.unwrap_or(ctx_in.len().max(32))),
        repeat,
        flags: 0,
        cpu: 0,
        batch_size: 0,
    };
    let r = bpfkit_sys::prog::prog_test_run(fd.as_fd(), &t)
        .map_err(|e| fail(format!("failed to run program: {}", target::sys_err(&e))))?;
    if let Some(path) = &data_out {
        write_out(path, &r.data_out, "data_out")?;
    }
    if let Some(path) = &ctx_out {
        write_out(path, &r.ctx_out, "ctx_out")?;
    }
    if g.json() {
        let mut o = J::obj();
        o.push("retval", J::U(r.retval.into()))
            .push("duration", J::U(r.duration_ns.into()));
        print_json(g, &o);
    } else {
        println!(
            "Return value: {}, duration{}: {}ns",
            r.retval,
            if repeat > 1 { " (average)" } else { "" },
            r.duration_ns
        );
    }
    Ok(())
}

/// The packets of a pcap capture (classic format, either byte order, micro- or nanosecond
/// timestamps), or `None` when `data` is not one.
fn pcap_packets(data: &[u8]) -> Result<Option<Vec<&[u8]>>, CliError> {
    let Some(magic) = data.get(..4) else {
        return Ok(None);
    };
    let le = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => return Ok(None),
    };
    let u32_at = |off: usize| -> Option<u32> {
        let b: [u8; 4] = data.get(off..off + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let bad = |what: &str| fail(format!("data_in is a truncated pcap file: {what}"));
    if data.len() < 24 {
        return Err(bad("no complete file header"));
    }
    let mut packets = Vec::new();
    let mut off = 24;
    while off < data.len() {
        let len = u32_at(off + 8).ok_or_else(|| bad("a record header is cut short"))? as usize;
        let start = off + 16;
        let pkt = data
            .get(start..start.saturating_add(len))
            .ok_or_else(|| bad(&format!("packet {} is cut short", packets.len() + 1)))?;
        packets.push(pkt);
        off = start + len;
    }
    Ok(Some(packets))
}

/// Runs the program on each packet and prints one verdict per packet.
fn run_packets(
    g: &Global,
    fd: std::os::fd::BorrowedFd<'_>,
    packets: &[&[u8]],
    ctx_in: &[u8],
    repeat: u32,
) -> Result<(), CliError> {
    let mut items = Vec::new();
    let mut text = String::new();
    for (i, pkt) in packets.iter().enumerate() {
        let t = bpfkit_sys::prog::TestRun {
            data_in: pkt,
            data_out_size: None,
            ctx_in,
            ctx_out_size: None,
            repeat,
            flags: 0,
            cpu: 0,
            batch_size: 0,
        };
        let r = bpfkit_sys::prog::prog_test_run(fd, &t).map_err(|e| {
            fail(format!(
                "failed to run program on packet {}: {}",
                i + 1,
                target::sys_err(&e)
            ))
        })?;
        let mut o = J::obj();
        o.push("packet", J::U(i as u64 + 1))
            .push("retval", J::U(r.retval.into()))
            .push("duration", J::U(r.duration_ns.into()));
        items.push(o);
        text.push_str(&format!(
            "Packet {}: return value: {}, duration{}: {}ns\n",
            i + 1,
            r.retval,
            if repeat > 1 { " (average)" } else { "" },
            r.duration_ns
        ));
    }
    if g.json() {
        print_json(g, &J::Arr(items));
    } else {
        crate::emit(&text)?;
    }
    Ok(())
}

fn parse_size(s: &str, what: &str) -> Result<usize, CliError> {
    target::parse_u64(s)
        .and_then(|v| usize::try_from(v).ok())
        .ok_or_else(|| fail(format!("can't parse {s} as {what}")))
}

fn write_out(path: &str, data: &[u8], what: &str) -> Result<(), CliError> {
    if path == "-" {
        // bpftool prints binary output to stdout as a hex dump.
        println!("{}", output::hex_text(data));
        return Ok(());
    }
    std::fs::write(path, data).map_err(|e| fail(format!("failed to write {what} file {path}: {e}")))
}

/// Streams the kernel's trace_pipe to stdout, mounting tracefs when it is absent.
fn tracelog(g: &Global) -> Result<(), CliError> {
    let root = match bpfkit_sys::tracefs::root() {
        Ok(r) => r,
        Err(_) => {
            let at = std::path::Path::new(bpfkit_sys::tracefs::TRACEFS);
            bpfkit_sys::tracefs::mount_tracefs(at)
                .map_err(|e| fail(format!("could not find or mount tracefs: {e}")))?;
            at.to_path_buf()
        }
    };
    let pipe = root.join("trace_pipe");
    let f = std::fs::File::open(&pipe)
        .map_err(|e| fail(format!("failed to open trace pipe {}: {e}", pipe.display())))?;
    let mut r = std::io::BufReader::new(f);
    let mut out = std::io::stdout().lock();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match r.read_until(b'\n', &mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {
                let ok = if g.json() {
                    let line = String::from_utf8_lossy(&buf);
                    writeln!(out, "{}", output::quote(line.trim_end_matches('\n')))
                } else {
                    out.write_all(&buf)
                };
                // A closed stdout (`| head`) ends the stream quietly, as it does for bpftool.
                if ok.and_then(|_| out.flush()).is_err() {
                    return Ok(());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(fail(format!("failed to read trace pipe: {e}"))),
        }
    }
}
