//! `--emit-elf FILE`: a compiled script written as a standard BPF object, the shape clang
//! gives a libbpf program, so `bpftool prog loadall`, libbpf and `bpfkit prog loadall` load it.
//!
//! Layout (ELF64 relocatable, `EM_BPF`, little-endian):
//! - one section per attach point kind and target, named as libbpf's `SEC()` table names it
//!   (`tracepoint/CAT/EVENT`, `kprobe/FUNC`, `uprobe/PATH:SYMBOL`, `raw_tp`, `perf_event` …;
//!   probes with the same section name share it), each program a global `FUNC` symbol;
//! - `.text` with the callback subprograms (`for` over maps …) as static functions, reached
//!   through `BPF_PSEUDO_FUNC` loads relocated against the `.text` section symbol;
//! - `.maps` with one BTF-defined map per map of the script but the zero buffer
//!   (`__uint(type, …)`, `__uint(max_entries, …)`, `__type(key, …)`/`__type(value, …)` when
//!   both are plain integers, else `__uint(key_size, …)`/`__uint(value_size, …)`): the event ring
//!   buffer `events`, the per-CPU `scratch` and `lost` buffers, and `AT_name` per `@name`;
//! - `.rodata` holding `zeros`, the zero-filled buffer programs copy from (a direct value
//!   load relocated against its symbol);
//! - `.data` holding the one-element array maps the programs only reach through direct value
//!   loads (the exit flag, the `Map full` counters), one zero-filled variable each;
//! - `license` (`GPL`), `.BTF` (map definitions, `.rodata`, functions), `.BTF.ext` (one
//!   `func_info` record per function, which the kernel needs for callbacks, and `line_info`
//!   mapping instructions to script lines, which `bpftool prog dump xlated` shows), `.symtab`.
//!
//! Map references (`BPF_PSEUDO_MAP_IDX` loads in the compiled code) become `R_BPF_64_64`
//! relocations against the map symbols.
//!
//! The file holds the programs and maps only; what `bpfkit trace` does around them is not in
//! it: reading the ring buffer (`printf`, `print`, `time`, `cat`, `system`, `exit()` still
//! write their events, which nobody decodes), printing maps at exit, running `begin`/`end`,
//! attaching `interval`/`profile`, usdt sites and address uprobes (their sections carry no
//! target), symbolising stacks. docs/design.md lists these. The ELF is written by hand rather than with the
//! `object` crate's writer: its `write` feature brings three more crates for a file whose
//! shape is fixed and small.

use crate::codegen::{Compiled, MapDef, ProgDef, ValueKind, MAP_ZEROS};
use crate::diag::SourceFile;
use crate::probes::Point;
use crate::types::{AggKind, Type};
use bpfkit::MapType;
use bpfkit_btf::{BtfBuilder, FuncLinkage, NewMember, VarLinkage, VarSecinfo, INT_SIGNED};
use bpfkit_insn::{op, Insn};
use std::collections::{BTreeMap, HashMap};

const SHT_PROGBITS: u32 = 1;
const SHT_SYMTAB: u32 = 2;
const SHT_STRTAB: u32 = 3;
const SHT_REL: u32 = 9;
const SHF_WRITE: u64 = 1;
const SHF_ALLOC: u64 = 2;
const SHF_EXECINSTR: u64 = 4;
const SHF_INFO_LINK: u64 = 0x40;
const STB_LOCAL: u8 = 0;
const STB_GLOBAL: u8 = 1;
const STT_OBJECT: u8 = 1;
const STT_FUNC: u8 = 2;
const STT_SECTION: u8 = 3;
const R_BPF_64_64: u64 = 1;
const EM_BPF: u16 = 247;

/// The libbpf `SEC()` name of a program's attach point, `prog_type` being the type it loads
/// as (a raw tracepoint whose `args` are typed from BTF loads as `tp_btf`). Points whose
/// target a section name cannot state (a uprobe at an address, a USDT site, `begin`/`end`)
/// get the bare kind: such programs load but are attached by hand.
pub fn section_name(p: &Point, prog_type: bpfkit::ProgramType) -> String {
    match p {
        Point::RawTracepoint { name } if prog_type == bpfkit::ProgramType::Tracing => {
            format!("tp_btf/{name}")
        }
        Point::Begin | Point::End | Point::Bench { .. } => "raw_tp".into(),
        Point::Tracepoint {
            category, event, ..
        } => format!("tracepoint/{category}/{event}"),
        Point::RawTracepoint { name } => format!("raw_tp/{name}"),
        Point::Uprobe {
            path,
            symbol,
            offset,
            ret,
        } => {
            let kind = if *ret { "uretprobe" } else { "uprobe" };
            match (symbol.is_empty(), *offset) {
                (true, _) => kind.into(),
                (false, 0) => format!("{kind}/{}:{symbol}", path.display()),
                (false, o) => format!("{kind}/{}:{symbol}+{o:#x}", path.display()),
            }
        }
        Point::Usdt(_) => "uprobe".into(),
        Point::Perf { .. } => "perf_event".into(),
        Point::Kprobe {
            function,
            offset,
            ret,
        } => match (*ret, *offset) {
            (true, _) => format!("kretprobe/{function}"),
            (false, 0) => format!("kprobe/{function}"),
            (false, o) => format!("kprobe/{function}+{o}"),
        },
        Point::Iter { name } => format!("iter/{name}"),
        Point::Fentry { function, ret, .. } => {
            format!("{}/{function}", if *ret { "fexit" } else { "fentry" })
        }
    }
}

/// Integer key and value types of a map as `(bytes, signed)`, when the script's types of both
/// are plain integers stored at their full size, so `bpftool map dump` prints them as numbers;
/// other maps are described by sizes only (the kernel takes a value type without a key type
/// for arrays only).
fn int_key_value(m: &MapDef) -> Option<((u32, bool), (u32, bool))> {
    let int = |t: &Type, size: u32| match t {
        Type::Int { signed, .. } if matches!(size, 1 | 2 | 4 | 8) => Some((size, *signed)),
        _ => None,
    };
    let key = m.key.as_ref().and_then(|k| int(k, m.key_size));
    let value = match &m.value {
        ValueKind::Plain(t) => int(t, m.value_size),
        ValueKind::Agg(AggKind::Count, _) if m.value_size == 8 => Some((8, false)),
        ValueKind::Agg(AggKind::Sum | AggKind::Min | AggKind::Max, _) if m.value_size == 8 => {
            Some((8, true))
        }
        _ => None,
    };
    key.zip(value)
}

/// An identifier from a map or program name (`@a.b` → `AT_a_b`), unique among `taken`.
fn ident(base: &str, taken: &mut std::collections::HashSet<String>) -> String {
    let mut s: String = base
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    let mut out = s.clone();
    let mut n = 1;
    while !taken.insert(out.clone()) {
        n += 1;
        out = format!("{s}_{n}");
    }
    out
}

struct Section {
    name: String,
    kind: u32,
    flags: u64,
    data: Vec<u8>,
    align: u64,
    /// `(byte offset, symbol index)` R_BPF_64_64 relocations.
    rels: Vec<(u64, u32)>,
}

struct Sym {
    name: String,
    info: u8,
    shndx: u16,
    value: u64,
    size: u64,
}

fn btf_err(e: bpfkit_btf::Error) -> String {
    format!("building the object's BTF: {e}")
}

/// Instructions of one program: the main part (before the first callback) and callbacks.
fn split(p: &ProgDef) -> (Vec<Insn>, Vec<Vec<Insn>>) {
    let mut starts: Vec<usize> = p.funcs.iter().map(|&f| f as usize).collect();
    starts.push(p.insns.len());
    let main_end = starts.first().copied().unwrap_or(p.insns.len());
    let main = p.insns.get(..main_end).unwrap_or(&p.insns).to_vec();
    let subs = starts
        .windows(2)
        .map(|w| p.insns.get(w[0]..w[1]).unwrap_or(&[]).to_vec())
        .collect();
    (main, subs)
}

/// `line_info` records (instruction byte offset, file name, line text, line and column) of
/// the function at instructions `range` of `p`, placed at byte offset `base` of its section.
/// The first record is at the function's first instruction, as the kernel requires.
fn line_records(
    b: &mut BtfBuilder,
    src: &SourceFile,
    p: &ProgDef,
    range: std::ops::Range<usize>,
    base: usize,
) -> Result<Vec<[u32; 4]>, String> {
    let file = b.add_string(src.name()).map_err(btf_err)?;
    let mut out: Vec<[u32; 4]> = Vec::new();
    let mut last_line = 0;
    let first = p
        .spans
        .iter()
        .find(|(i, _)| range.contains(i))
        .or(p.spans.first())
        .map(|(_, s)| *s);
    let at_start = first.map(|s| (range.start, s));
    let inside = p
        .spans
        .iter()
        .filter(|(i, _)| range.contains(i))
        .map(|(i, s)| (*i, *s));
    for (i, span) in at_start.into_iter().chain(inside) {
        let lc = src.line_col(span.start);
        if lc.line == last_line {
            continue;
        }
        last_line = lc.line;
        let text = src.line_text(lc.line).trim().to_string();
        let off = ((base + i - range.start) * 8) as u32;
        if out.last().is_some_and(|r| r[0] == off) {
            out.pop();
        }
        let line = b.add_string(&text).map_err(btf_err)?;
        out.push([
            off,
            file,
            line,
            ((lc.line as u32) << 10) | (lc.col as u32 & 0x3ff),
        ]);
    }
    Ok(out)
}

/// Writes `c`, compiled from `src`, as a BPF ELF object.
pub fn write(c: &Compiled, src: &SourceFile) -> Result<Vec<u8>, String> {
    // How each map is referenced: by its fd (helpers) and/or by a direct value load.
    let mut by_fd = vec![false; c.maps.len()];
    let mut by_value = vec![false; c.maps.len()];
    for i in c.progs.iter().flat_map(|p| &p.insns) {
        if !i.is_ld_imm64() {
            continue;
        }
        let Some(slot) = usize::try_from(i.imm).ok().filter(|&m| m < c.maps.len()) else {
            continue;
        };
        match i.src {
            op::PSEUDO_MAP_IDX => by_fd[slot] = true,
            op::PSEUDO_MAP_IDX_VALUE => by_value[slot] = true,
            _ => {}
        }
    }
    let zeros_used = by_value.get(MAP_ZEROS as usize).copied().unwrap_or(false);
    // Maps reached only through their value become `.data` variables; a map reached both
    // ways (or a bigger one) has no libbpf spelling.
    let mut in_data = vec![false; c.maps.len()];
    for (i, m) in c.maps.iter().enumerate() {
        if i == MAP_ZEROS as usize {
            if by_fd[i] {
                return Err("--emit-elf: the zero buffer used as a map".into());
            }
        } else if by_value[i] {
            if by_fd[i] || m.map_type != MapType::Array || m.max_entries != 1 {
                return Err(format!(
                    "--emit-elf: map {} is used through both its fd and its value",
                    m.name
                ));
            }
            in_data[i] = true;
        }
    }
    let in_maps = |i: usize| i != MAP_ZEROS as usize && !in_data[i];

    // Section indexes: 0 null, 1 .strtab, then programs (each followed by its .rel), .text
    // and its .rel, .maps, .rodata, .data, license, .BTF, .BTF.ext, .symtab.
    let mut taken = std::collections::HashSet::new();
    let mut groups: BTreeMap<String, Vec<&ProgDef>> = BTreeMap::new();
    for p in &c.progs {
        groups
            .entry(section_name(&p.point.point, p.prog_type))
            .or_default()
            .push(p);
    }

    // Map names first: programs relocate against them. The zero buffer is `.rodata`'s
    // `zeros` (only its value is ever used), not a map of `.maps`.
    taken.insert("zeros".to_string());
    let map_names: Vec<String> = c
        .maps
        .iter()
        .enumerate()
        .map(|(i, m)| {
            if i < crate::codegen::MAP_LOST as usize + 1 && !m.name.starts_with('@') {
                ident(&m.name, &mut taken)
            } else {
                ident(
                    &format!("AT_{}", m.name.trim_start_matches('@')),
                    &mut taken,
                )
            }
        })
        .collect();

    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, INT_SIGNED).map_err(btf_err)?;
    let idx_ty = b.add_int("__ARRAY_SIZE_TYPE__", 4, 0).map_err(btf_err)?;
    let long = b.add_int("long", 8, INT_SIGNED).map_err(btf_err)?;
    let proto = b.add_func_proto(long, &[("ctx", long)]).map_err(btf_err)?;
    let mut ints: HashMap<(u32, bool), u32> = HashMap::new();
    let mut int_ptr = |b: &mut BtfBuilder, (size, signed): (u32, bool)| -> Result<u32, String> {
        if let Some(&id) = ints.get(&(size, signed)) {
            return Ok(id);
        }
        let name = format!("{}{}", if signed { "s" } else { "u" }, size * 8);
        let enc = if signed { INT_SIGNED } else { 0 };
        let t = b.add_int(&name, size, enc).map_err(btf_err)?;
        let p = b.add_ptr(t).map_err(btf_err)?;
        ints.insert((size, signed), p);
        Ok(p)
    };
    let mut nptr: HashMap<u32, u32> = HashMap::new();
    let mut ptr_to_n = |b: &mut BtfBuilder, n: u32| -> Result<u32, String> {
        if let Some(&id) = nptr.get(&n) {
            return Ok(id);
        }
        let arr = b.add_array(int, idx_ty, n).map_err(btf_err)?;
        let p = b.add_ptr(arr).map_err(btf_err)?;
        nptr.insert(n, p);
        Ok(p)
    };

    // .maps contents and BTF.
    let mut maps_secinfo = Vec::new();
    let mut map_offsets = Vec::new();
    let mut maps_size = 0u32;
    for (i, m) in c.maps.iter().enumerate() {
        if !in_maps(i) {
            map_offsets.push((0, 0));
            continue;
        }
        let mut members = vec![
            ("type", ptr_to_n(&mut b, m.map_type as u32)?),
            ("max_entries", ptr_to_n(&mut b, m.max_entries)?),
        ];
        if m.map_type != MapType::Ringbuf {
            // `__type(key, T)` where T is a plain integer, else `__uint(key_size, N)`.
            match int_key_value(m) {
                Some((k, v)) => {
                    members.push(("key", int_ptr(&mut b, k)?));
                    members.push(("value", int_ptr(&mut b, v)?));
                }
                None => {
                    members.push(("key_size", ptr_to_n(&mut b, m.key_size)?));
                    members.push(("value_size", ptr_to_n(&mut b, m.value_size)?));
                }
            }
        }
        let members: Vec<(&str, u32, u32)> = members
            .into_iter()
            .enumerate()
            .map(|(k, (name, t))| (name, t, (k as u32) * 64))
            .collect();
        let nm: Vec<NewMember<'_>> = members
            .iter()
            .map(|(name, t, off)| NewMember {
                name,
                type_id: *t,
                bit_offset: *off,
                bitfield_size: 0,
            })
            .collect();
        let size = 8 * nm.len() as u32;
        let st = b.add_struct("", size, &nm).map_err(btf_err)?;
        let var = b
            .add_var(&map_names[i], st, VarLinkage::Global)
            .map_err(btf_err)?;
        maps_secinfo.push(VarSecinfo {
            type_id: var,
            offset: maps_size,
            size,
        });
        map_offsets.push((maps_size, size));
        maps_size += size;
    }
    b.add_datasec(".maps", maps_size, &maps_secinfo)
        .map_err(btf_err)?;

    let zeros_size = c.maps.get(MAP_ZEROS as usize).map_or(8, |m| m.value_size);
    if zeros_used {
        let uchar = b.add_int("unsigned char", 1, 0).map_err(btf_err)?;
        let arr = b.add_array(uchar, idx_ty, zeros_size).map_err(btf_err)?;
        let k = b
            .add_modifier(bpfkit_btf::Kind::Const, arr)
            .map_err(btf_err)?;
        let var = b.add_var("zeros", k, VarLinkage::Global).map_err(btf_err)?;
        b.add_datasec(
            ".rodata",
            zeros_size,
            &[VarSecinfo {
                type_id: var,
                offset: 0,
                size: zeros_size,
            }],
        )
        .map_err(btf_err)?;
    }

    // .data: the value-only maps, 8-byte aligned, zero-filled.
    let mut data_vars: Vec<(usize, u32, u32)> = Vec::new();
    let mut data_size = 0u32;
    let mut data_secinfo = Vec::new();
    for (i, m) in c.maps.iter().enumerate().filter(|(i, _)| in_data[*i]) {
        let size = m.value_size.max(1);
        let uchar = b.add_int("unsigned char", 1, 0).map_err(btf_err)?;
        let arr = b.add_array(uchar, idx_ty, size).map_err(btf_err)?;
        let var = b
            .add_var(&map_names[i], arr, VarLinkage::Global)
            .map_err(btf_err)?;
        data_secinfo.push(VarSecinfo {
            type_id: var,
            offset: data_size,
            size,
        });
        data_vars.push((i, data_size, size));
        data_size += size.next_multiple_of(8);
    }
    if !data_vars.is_empty() {
        b.add_datasec(".data", data_size, &data_secinfo)
            .map_err(btf_err)?;
    }

    // Sections and symbols. Programs reference map symbols, whose indexes are only known
    // once the symbol table is laid out: relocations are recorded by target and resolved then.
    let mut sections: Vec<Section> = Vec::with_capacity(groups.len() + 6);
    let mut locals: Vec<Sym> = Vec::new();
    let mut globals: Vec<Sym> = Vec::new();
    enum Target {
        Map(usize),
        /// A direct value load of map `.0`: `zeros` in `.rodata` or a `.data` variable.
        Value(usize),
        Text,
    }
    struct PendingSec {
        sec: Section,
        rels: Vec<(u64, Target)>,
    }
    let mut pending: Vec<PendingSec> = Vec::new();
    let mut text: Vec<Insn> = Vec::new();
    let mut text_rels: Vec<(u64, Target)> = Vec::new();
    let mut text_funcs: Vec<(String, u64, u64)> = Vec::new();
    // func_info: (section name, [(byte offset, FUNC type id)]).
    let mut func_info: Vec<(String, Vec<(u32, u32)>)> = Vec::new();
    let mut text_info: Vec<(u32, u32)> = Vec::new();
    let mut line_info: Vec<(String, Vec<[u32; 4]>)> = Vec::new();
    let mut text_lines: Vec<[u32; 4]> = Vec::new();
    let mut prog_syms: Vec<(usize, String, u64, u64)> = Vec::new();

    let relocate = |insns: &mut [Insn], rels: &mut Vec<(u64, Target)>| -> Result<(), String> {
        for i in 0..insns.len() {
            if !insns[i].is_ld_imm64() {
                continue;
            }
            let at = (i * 8) as u64;
            match insns[i].src {
                op::PSEUDO_MAP_IDX => {
                    let idx = usize::try_from(insns[i].imm)
                        .map_err(|_| format!("bad map index {}", insns[i].imm))?;
                    insns[i].src = 0;
                    insns[i].imm = 0;
                    rels.push((at, Target::Map(idx)));
                }
                op::PSEUDO_MAP_IDX_VALUE => {
                    // The offset into the value moves to the first half, the addend of a
                    // relocation against a data symbol.
                    let idx = usize::try_from(insns[i].imm)
                        .map_err(|_| format!("bad map index {}", insns[i].imm))?;
                    let off = insns.get(i + 1).map_or(0, |n| n.imm);
                    insns[i].src = 0;
                    insns[i].imm = off;
                    if let Some(n) = insns.get_mut(i + 1) {
                        n.imm = 0;
                    }
                    rels.push((at, Target::Value(idx)));
                }
                _ => {}
            }
        }
        Ok(())
    };

    for (sec_name, progs) in &groups {
        let mut data: Vec<Insn> = Vec::new();
        let mut rels = Vec::new();
        let mut infos = Vec::new();
        let mut lines = Vec::new();
        for p in progs {
            let (mut main, subs) = split(p);
            let start = data.len();
            lines.extend(line_records(&mut b, src, p, 0..main.len(), start)?);
            // Callbacks move to .text: the PSEUDO_FUNC loads get the callback's byte offset
            // there and a relocation against the .text section symbol.
            let mut sub_text_off = Vec::new();
            for (k, mut s) in subs.into_iter().enumerate() {
                let off = text.len();
                let at = p.funcs.get(k).map_or(0, |&f| f as usize);
                text_lines.extend(line_records(&mut b, src, p, at..at + s.len(), off)?);
                let mut r = Vec::new();
                relocate(&mut s, &mut r)?;
                for (o, t) in r {
                    text_rels.push((o + off as u64 * 8, t));
                }
                let fname = format!("{}_cb{}", p.name, k + 1);
                let fid = b
                    .add_func(&fname, proto, FuncLinkage::Static)
                    .map_err(btf_err)?;
                text_info.push(((off * 8) as u32, fid));
                text_funcs.push((fname, (off * 8) as u64, (s.len() * 8) as u64));
                sub_text_off.push(off);
                text.extend(s);
            }
            let funcs: Vec<usize> = p.funcs.iter().map(|&f| f as usize).collect();
            for (i, insn) in main.iter_mut().enumerate() {
                if insn.is_ld_imm64() && insn.src == op::PSEUDO_FUNC {
                    let target = (i as i64 + i64::from(insn.imm) + 1) as usize;
                    let k = funcs
                        .iter()
                        .position(|&f| f == target)
                        .ok_or("--emit-elf: a function reference to no callback")?;
                    insn.imm = (sub_text_off[k] * 8) as i32;
                    rels.push((((start + i) * 8) as u64, Target::Text));
                }
            }
            let mut r = Vec::new();
            relocate(&mut main, &mut r)?;
            rels.extend(r.into_iter().map(|(o, t)| (o + start as u64 * 8, t)));
            // `interval:s:1` compiles to a program named `1`: lead with the probe kind.
            let sym = if p.name.starts_with(|c: char| c.is_ascii_digit()) {
                ident(&format!("{}_{}", p.point.kind.name(), p.name), &mut taken)
            } else {
                ident(&p.name, &mut taken)
            };
            let fid = b
                .add_func(&sym, proto, FuncLinkage::Global)
                .map_err(btf_err)?;
            infos.push(((start * 8) as u32, fid));
            prog_syms.push((
                pending.len(),
                sym,
                (start * 8) as u64,
                (main.len() * 8) as u64,
            ));
            data.extend(main);
        }
        func_info.push((sec_name.clone(), infos));
        line_info.push((sec_name.clone(), lines));
        pending.push(PendingSec {
            sec: Section {
                name: sec_name.clone(),
                kind: SHT_PROGBITS,
                flags: SHF_ALLOC | SHF_EXECINSTR,
                data: data.iter().flat_map(|i| i.to_bytes()).collect(),
                align: 8,
                rels: Vec::new(),
            },
            rels,
        });
    }

    // Section index of each pending section: programs first (each with a .rel after it).
    let mut next: u16 = 2;
    let mut prog_shndx = Vec::new();
    for p in &pending {
        prog_shndx.push(next);
        next += if p.rels.is_empty() { 1 } else { 2 };
    }
    let text_shndx = if text.is_empty() {
        None
    } else {
        let t = next;
        next += if text_rels.is_empty() { 1 } else { 2 };
        Some(t)
    };
    let maps_shndx = next;
    next += 1;
    let rodata_shndx = if zeros_used {
        next += 1;
        Some(next - 1)
    } else {
        None
    };
    let data_shndx = if data_vars.is_empty() {
        None
    } else {
        next += 1;
        Some(next - 1)
    };
    let license_shndx = next;

    if let Some(t) = text_shndx {
        locals.push(Sym {
            name: String::new(),
            info: (STB_LOCAL << 4) | STT_SECTION,
            shndx: t,
            value: 0,
            size: 0,
        });
        for (n, off, size) in &text_funcs {
            locals.push(Sym {
                name: n.clone(),
                info: (STB_LOCAL << 4) | STT_FUNC,
                shndx: t,
                value: *off,
                size: *size,
            });
        }
        func_info.push((".text".into(), text_info));
        line_info.push((".text".into(), text_lines));
    }
    for (pi, name, off, size) in &prog_syms {
        globals.push(Sym {
            name: name.clone(),
            info: (STB_GLOBAL << 4) | STT_FUNC,
            shndx: prog_shndx[*pi],
            value: *off,
            size: *size,
        });
    }
    // Symbol (index into `globals`) of each map: in `.maps`, or its `.data` variable.
    let mut map_sym: Vec<Option<usize>> = vec![None; map_names.len()];
    for (i, n) in map_names.iter().enumerate() {
        if !in_maps(i) {
            continue;
        }
        map_sym[i] = Some(globals.len());
        globals.push(Sym {
            name: n.clone(),
            info: (STB_GLOBAL << 4) | STT_OBJECT,
            shndx: maps_shndx,
            value: u64::from(map_offsets[i].0),
            size: u64::from(map_offsets[i].1),
        });
    }
    if let Some(s) = data_shndx {
        for &(i, off, size) in &data_vars {
            map_sym[i] = Some(globals.len());
            globals.push(Sym {
                name: map_names[i].clone(),
                info: (STB_GLOBAL << 4) | STT_OBJECT,
                shndx: s,
                value: u64::from(off),
                size: u64::from(size),
            });
        }
    }
    let zeros_sym = rodata_shndx.map(|s| {
        globals.push(Sym {
            name: "zeros".into(),
            info: (STB_GLOBAL << 4) | STT_OBJECT,
            shndx: s,
            value: 0,
            size: u64::from(zeros_size),
        });
        globals.len() - 1
    });
    globals.push(Sym {
        name: "_license".into(),
        info: (STB_GLOBAL << 4) | STT_OBJECT,
        shndx: license_shndx,
        value: 0,
        size: 4,
    });
    // Symbol index: 0 null, then locals, then globals.
    let nlocal = 1 + locals.len() as u32;
    let resolve = |t: &Target| -> Result<u32, String> {
        match t {
            Target::Map(i) => map_sym
                .get(*i)
                .copied()
                .flatten()
                .filter(|_| in_maps(*i))
                .map(|g| nlocal + g as u32)
                .ok_or_else(|| format!("--emit-elf: no map with index {i}")),
            Target::Value(i) if *i == MAP_ZEROS as usize => zeros_sym
                .map(|z| nlocal + z as u32)
                .ok_or_else(|| "--emit-elf: no .rodata".into()),
            Target::Value(i) => map_sym
                .get(*i)
                .copied()
                .flatten()
                .map(|g| nlocal + g as u32)
                .ok_or_else(|| format!("--emit-elf: no .data variable for map {i}")),
            Target::Text => Ok(1),
        }
    };
    for p in pending {
        let mut sec = p.sec;
        for (o, t) in &p.rels {
            sec.rels.push((*o, resolve(t)?));
        }
        sections.push(sec);
    }
    if text_shndx.is_some() {
        let mut rels = Vec::new();
        for (o, t) in &text_rels {
            rels.push((*o, resolve(t)?));
        }
        sections.push(Section {
            name: ".text".into(),
            kind: SHT_PROGBITS,
            flags: SHF_ALLOC | SHF_EXECINSTR,
            data: text.iter().flat_map(|i| i.to_bytes()).collect(),
            align: 8,
            rels,
        });
    }
    sections.push(Section {
        name: ".maps".into(),
        kind: SHT_PROGBITS,
        flags: SHF_WRITE | SHF_ALLOC,
        data: vec![0; maps_size as usize],
        align: 8,
        rels: Vec::new(),
    });
    if zeros_used {
        sections.push(Section {
            name: ".rodata".into(),
            kind: SHT_PROGBITS,
            flags: SHF_ALLOC,
            data: vec![0; zeros_size as usize],
            align: 8,
            rels: Vec::new(),
        });
    }
    if data_shndx.is_some() {
        sections.push(Section {
            name: ".data".into(),
            kind: SHT_PROGBITS,
            flags: SHF_WRITE | SHF_ALLOC,
            data: vec![0; data_size as usize],
            align: 8,
            rels: Vec::new(),
        });
    }
    sections.push(Section {
        name: "license".into(),
        kind: SHT_PROGBITS,
        flags: SHF_WRITE | SHF_ALLOC,
        data: b"GPL\0".to_vec(),
        align: 1,
        rels: Vec::new(),
    });

    // .BTF.ext: header (24 bytes), func_info and line_info (each: record size, then per
    // section: name offset, count, records).
    let mut fi = 8u32.to_le_bytes().to_vec();
    for (name, recs) in &func_info {
        let off = b.add_string(name).map_err(btf_err)?;
        fi.extend(off.to_le_bytes());
        fi.extend((recs.len() as u32).to_le_bytes());
        for (o, t) in recs {
            fi.extend(o.to_le_bytes());
            fi.extend(t.to_le_bytes());
        }
    }
    let mut li = 16u32.to_le_bytes().to_vec();
    for (name, recs) in &line_info {
        let off = b.add_string(name).map_err(btf_err)?;
        li.extend(off.to_le_bytes());
        li.extend((recs.len() as u32).to_le_bytes());
        for r in recs {
            for w in r {
                li.extend(w.to_le_bytes());
            }
        }
    }
    let mut ext = Vec::new();
    ext.extend(0xeb9fu16.to_le_bytes());
    ext.push(1);
    ext.push(0);
    ext.extend(24u32.to_le_bytes());
    ext.extend(0u32.to_le_bytes());
    ext.extend((fi.len() as u32).to_le_bytes());
    ext.extend((fi.len() as u32).to_le_bytes());
    ext.extend((li.len() as u32).to_le_bytes());
    ext.extend(fi);
    ext.extend(li);
    let btf = b.to_bytes();
    for (name, data) in [(".BTF", btf), (".BTF.ext", ext)] {
        sections.push(Section {
            name: name.into(),
            kind: SHT_PROGBITS,
            flags: 0,
            data,
            align: 4,
            rels: Vec::new(),
        });
    }
    Ok(layout(sections, locals, globals))
}

/// Lays the sections out after the ELF header: `.strtab` first (section 1), each section
/// with relocations followed by its `.rel` section, `.symtab` last, then the headers.
fn layout(sections: Vec<Section>, locals: Vec<Sym>, globals: Vec<Sym>) -> Vec<u8> {
    let mut strtab = vec![0u8];
    let mut add_str = |s: &str| -> u32 {
        if s.is_empty() {
            return 0;
        }
        let off = strtab.len() as u32;
        strtab.extend(s.as_bytes());
        strtab.push(0);
        off
    };
    struct Hdr {
        name: u32,
        kind: u32,
        flags: u64,
        data: Vec<u8>,
        link: u32,
        info: u32,
        align: u64,
        entsize: u64,
    }
    let strtab_name = add_str(".strtab");
    let mut hdrs: Vec<Hdr> = Vec::new();
    // Index of .symtab: 2 + sections + their .rel sections.
    let symtab_idx =
        2 + sections.len() as u32 + sections.iter().filter(|s| !s.rels.is_empty()).count() as u32;
    for s in sections {
        let idx = 2 + hdrs.len() as u32;
        let rel_name = add_str(&format!(".rel{}", s.name));
        let name = add_str(&s.name);
        hdrs.push(Hdr {
            name,
            kind: s.kind,
            flags: s.flags,
            data: s.data,
            link: 0,
            info: 0,
            align: s.align,
            entsize: 0,
        });
        if !s.rels.is_empty() {
            let mut d = Vec::new();
            for (off, sym) in &s.rels {
                d.extend(off.to_le_bytes());
                d.extend(((u64::from(*sym) << 32) | R_BPF_64_64).to_le_bytes());
            }
            hdrs.push(Hdr {
                name: rel_name,
                kind: SHT_REL,
                flags: SHF_INFO_LINK,
                data: d,
                link: symtab_idx,
                info: idx,
                align: 8,
                entsize: 16,
            });
        }
    }
    let mut symtab = vec![0u8; 24];
    let nlocal = 1 + locals.len() as u32;
    for s in locals.iter().chain(&globals) {
        let name = add_str(&s.name);
        symtab.extend(name.to_le_bytes());
        symtab.push(s.info);
        symtab.push(0);
        symtab.extend(s.shndx.to_le_bytes());
        symtab.extend(s.value.to_le_bytes());
        symtab.extend(s.size.to_le_bytes());
    }
    let symtab_name = add_str(".symtab");
    hdrs.push(Hdr {
        name: symtab_name,
        kind: SHT_SYMTAB,
        flags: 0,
        data: symtab,
        link: 1,
        info: nlocal,
        align: 8,
        entsize: 24,
    });
    hdrs.insert(
        0,
        Hdr {
            name: strtab_name,
            kind: SHT_STRTAB,
            flags: 0,
            data: strtab,
            link: 0,
            info: 0,
            align: 1,
            entsize: 0,
        },
    );

    let mut out = vec![0u8; 64];
    let mut offsets = Vec::new();
    for h in &hdrs {
        let a = h.align.max(1) as usize;
        while out.len() % a != 0 {
            out.push(0);
        }
        offsets.push(out.len() as u64);
        out.extend(&h.data);
    }
    while out.len() % 8 != 0 {
        out.push(0);
    }
    let shoff = out.len() as u64;
    out.extend([0u8; 64]);
    for (h, off) in hdrs.iter().zip(&offsets) {
        out.extend(h.name.to_le_bytes());
        out.extend(h.kind.to_le_bytes());
        out.extend(h.flags.to_le_bytes());
        out.extend(0u64.to_le_bytes());
        out.extend(off.to_le_bytes());
        out.extend((h.data.len() as u64).to_le_bytes());
        out.extend(h.link.to_le_bytes());
        out.extend(h.info.to_le_bytes());
        out.extend(h.align.to_le_bytes());
        out.extend(h.entsize.to_le_bytes());
    }
    let shnum = (hdrs.len() + 1) as u16;
    let mut eh = Vec::with_capacity(64);
    eh.extend([0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    eh.extend([0u8; 8]);
    eh.extend(1u16.to_le_bytes()); // ET_REL
    eh.extend(EM_BPF.to_le_bytes());
    eh.extend(1u32.to_le_bytes());
    eh.extend(0u64.to_le_bytes()); // entry
    eh.extend(0u64.to_le_bytes()); // phoff
    eh.extend(shoff.to_le_bytes());
    eh.extend(0u32.to_le_bytes()); // flags
    eh.extend(64u16.to_le_bytes());
    eh.extend(0u16.to_le_bytes());
    eh.extend(0u16.to_le_bytes());
    eh.extend(64u16.to_le_bytes());
    eh.extend(shnum.to_le_bytes());
    eh.extend(1u16.to_le_bytes()); // shstrndx: .strtab
    out[..64].copy_from_slice(&eh);
    out
}
