//! The object model and the ELF reader that fills it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use bpfkit_btf::{Btf, BtfExt, CoreRelo, FuncInfo, LineInfo};
use bpfkit_insn::{op, Insn};
use object::elf;
use object::read::elf::{FileHeader, Rel, SectionHeader, Sym};
use object::{LittleEndian, SectionIndex};

use crate::error::{Error, Result};
use crate::externs::{self, Extern, ExternKind};
use crate::maps::{self, MapDef};
use crate::sec::{find_sec_def, SecKind};

/// `EM_BPF`.
pub const EM_BPF: u16 = 247;

type Hdr = elf::FileHeader64<LittleEndian>;
type ElfSym = elf::Sym64<LittleEndian>;
pub(crate) const LE: LittleEndian = LittleEndian;

/// R_BPF_64_64: the 64-bit immediate of an `ld_imm64`.
const R_BPF_64_64: u32 = 1;
/// R_BPF_64_ABS64: a 64-bit data word (pointers in `.maps` initialisers).
pub(crate) const R_BPF_64_ABS64: u32 = 2;
/// R_BPF_64_32: the 32-bit immediate of a call.
const R_BPF_64_32: u32 = 10;

/// A clang-built BPF object file, read into libbpf's model.
#[derive(Debug, Clone)]
pub struct Object {
    /// Object name: the file name up to its first `.` (`execsnoop` for `execsnoop.bpf.o`),
    /// used as the prefix of internal map names.
    pub name: String,
    /// Entry-point programs, in section then offset order.
    pub programs: Vec<Program>,
    /// Functions that are only called: everything in `.text` and static functions of program
    /// sections. [`Object::link_program`] appends the ones a program needs.
    pub subprograms: Vec<Program>,
    /// Maps in libbpf's order: legacy `maps`, BTF `.maps`, data sections, `.kconfig`.
    /// Relocations refer to maps by index into this list.
    pub maps: Vec<MapDef>,
    /// `__kconfig` and `__ksym` externs. Relocations refer to them by index into this list.
    pub externs: Vec<Extern>,
    /// The object's `.BTF`, ready for `BPF_BTF_LOAD` on a current kernel: DATASEC sizes and
    /// variable offsets filled in from the ELF symbols (clang leaves them zero), `.kconfig` laid
    /// out as [`Object::maps`] has it, `.ksyms` rewritten as libbpf does. Type ids are those of
    /// the file. Older kernels still need `Btf::sanitize`.
    pub btf: Option<Btf>,
    /// The object's `.BTF.ext`, as in the file (offsets in bytes per section); [`Program`]
    /// holds its records rebased per program.
    pub btf_ext: Option<BtfExt>,
    /// Contents of the `license` section.
    pub license: Option<String>,
    /// Contents of the `version` section (needed by kprobes on kernels before 5.0).
    pub kernel_version: Option<u32>,
}

/// A program or subprogram: one function symbol in an executable section.
#[derive(Debug, Clone)]
pub struct Program {
    /// Function symbol name.
    pub name: String,
    /// ELF section name.
    pub section: String,
    /// ELF section index.
    pub section_index: usize,
    /// Index of the first instruction within the section.
    pub section_insn_off: usize,
    /// What the section name says about the program; `None` for subprograms.
    pub kind: Option<SecKind>,
    /// Global (or weak) symbol, as opposed to static.
    pub global: bool,
    /// Instructions as in the file.
    pub insns: Vec<Insn>,
    /// Relocations, by instruction index within this function.
    pub relocations: Vec<Relocation>,
    /// func_info records of this function; `insn_off` counts instructions from its start.
    pub func_info: Vec<FuncInfo>,
    /// line_info records; `insn_off` counts instructions from the function start.
    pub line_info: Vec<LineInfo>,
    /// CO-RE relocation records; `insn_off` counts instructions from the function start.
    pub core_relos: Vec<CoreRelo>,
}

/// A reference to a function of an [`Object`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FuncRef {
    /// Index into [`Object::programs`].
    Program(usize),
    /// Index into [`Object::subprograms`].
    Subprogram(usize),
}

/// One instruction that needs a value only the loader knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relocation {
    /// Instruction index within the function (the first slot of an `ld_imm64`).
    pub insn: usize,
    /// What the instruction refers to.
    pub target: RelocTarget,
}

/// The target of a [`Relocation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelocTarget {
    /// `ld_imm64` of a map: becomes `BPF_PSEUDO_MAP_FD` with the map's fd.
    Map {
        /// Index into [`Object::maps`].
        map: usize,
    },
    /// `ld_imm64` of an address inside a map value (global data, `.kconfig`): becomes
    /// `BPF_PSEUDO_MAP_VALUE` with the map's fd and `offset` in the second slot.
    MapValue {
        /// Index into [`Object::maps`].
        map: usize,
        /// Byte offset in the value.
        offset: u32,
    },
    /// A bpf-to-bpf call; [`Object::link_program`] resolves it.
    Call {
        /// Called function.
        func: FuncRef,
        /// Instruction offset of the call target within that function (0: its start).
        insn_off: usize,
    },
    /// `ld_imm64` of a function's address (a callback for `bpf_loop` …): becomes
    /// `BPF_PSEUDO_FUNC`; [`Object::link_program`] resolves it.
    FuncAddr {
        /// Referenced function.
        func: FuncRef,
        /// Instruction offset within that function.
        insn_off: usize,
    },
    /// `ld_imm64` of a kernel variable: `BPF_PSEUDO_BTF_ID` (typed) or its kallsyms address
    /// (typeless), as [`Object::externs`] says.
    Ksym {
        /// Index into [`Object::externs`].
        ext: usize,
    },
    /// A call of a kernel function (kfunc): `BPF_PSEUDO_KFUNC_CALL` with its vmlinux BTF id.
    Kfunc {
        /// Index into [`Object::externs`].
        ext: usize,
    },
}

/// Symbol facts the parser keeps (the ELF record borrows the file bytes).
#[derive(Debug, Clone)]
pub(crate) struct SymInfo {
    pub name: String,
    pub shndx: u16,
    pub value: u64,
    pub size: u64,
    pub kind: u8,
    pub bind: u8,
}

/// What a section is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecRole {
    Code,
    BtfMaps,
    LegacyMaps,
    Data(maps::DataKind),
    License,
    Version,
    Other,
}

/// A section with its name and contents (empty for NOBITS).
pub(crate) struct SecInfo<'a> {
    pub name: String,
    pub role: SecRole,
    pub data: &'a [u8],
    pub size: u64,
}

/// The parser's working state, shared with the map and extern readers.
pub(crate) struct Ctx<'a> {
    pub secs: Vec<SecInfo<'a>>,
    pub syms: Vec<SymInfo>,
    pub btf: Option<Btf>,
    /// Relocation tables keyed by the section they apply to.
    pub rels: BTreeMap<usize, Vec<(u64, u32, u32)>>,
}

impl Ctx<'_> {
    pub fn sym(&self, idx: u32, section: &str, insn: usize) -> Result<&SymInfo> {
        self.syms
            .get(idx as usize)
            .ok_or_else(|| Error::BadRelocation {
                section: section.to_string(),
                insn,
                symbol: format!("#{idx}"),
                detail: format!(
                    "symbol index {idx} is past the symbol table ({} symbols)",
                    self.syms.len()
                ),
            })
    }
}

impl Object {
    /// Reads an object file; its name comes from the file name as libbpf derives it.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Object> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        Object::parse(&object_name_from_path(path), &bytes)
    }

    /// Parses object bytes. `name` is the object name (see [`object_name_from_path`]).
    pub fn parse(name: &str, bytes: &[u8]) -> Result<Object> {
        let mut ctx = read_elf(bytes)?;
        let mut obj = Object {
            name: name.to_string(),
            programs: Vec::new(),
            subprograms: Vec::new(),
            maps: Vec::new(),
            externs: Vec::new(),
            btf: None,
            btf_ext: None,
            license: None,
            kernel_version: None,
        };
        for sec in &ctx.secs {
            match sec.role {
                SecRole::License => obj.license = Some(parse_license(sec)?),
                SecRole::Version => obj.kernel_version = Some(parse_version(sec)?),
                _ => {}
            }
            if sec.name == ".BTF.ext" {
                if let Some(btf) = &ctx.btf {
                    let ext = BtfExt::parse(sec.data, btf).map_err(|source| Error::Btf {
                        section: ".BTF.ext",
                        source,
                    })?;
                    obj.btf_ext = Some(ext);
                }
            }
        }

        obj.maps = maps::collect_maps(&ctx, name)?;
        obj.externs = externs::collect_externs(&ctx)?;
        if let Some(layout_size) = externs::kconfig_size(&obj.externs) {
            if layout_size > maps::MAX_DATA_SIZE {
                return Err(Error::BadSection {
                    section: ".kconfig".into(),
                    detail: format!("the kconfig externs need {layout_size} bytes, more than one map value holds"),
                });
            }
            obj.maps.push(maps::kconfig_map(
                name,
                layout_size,
                externs::kconfig_vars(&obj.externs),
                ctx.btf.as_ref(),
            ));
        }
        if let Some(btf) = ctx.btf.take() {
            ctx.btf = Some(crate::fixup::fix_btf(&btf, &ctx, &obj.externs)?);
        }

        collect_functions(&ctx, &mut obj)?;
        collect_relocations(&ctx, &mut obj)?;
        if let Some(ext) = &obj.btf_ext {
            attach_btf_ext(ext, &mut obj.programs);
            attach_btf_ext(ext, &mut obj.subprograms);
        }
        obj.btf = ctx.btf;
        Ok(obj)
    }

    /// The program named `name`.
    pub fn program(&self, name: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// The map named `name` (its libbpf name, `execsnoo.rodata` for internal maps).
    pub fn map(&self, name: &str) -> Option<&MapDef> {
        self.maps.iter().find(|m| m.name == name)
    }

    /// The index of the map named `name`.
    pub fn map_index(&self, name: &str) -> Option<usize> {
        self.maps.iter().position(|m| m.name == name)
    }

    /// The function a [`FuncRef`] names.
    pub fn func(&self, r: FuncRef) -> Option<&Program> {
        match r {
            FuncRef::Program(i) => self.programs.get(i),
            FuncRef::Subprogram(i) => self.subprograms.get(i),
        }
    }
}

/// The object name libbpf derives from a path: the file name up to its first `.`.
pub fn object_name_from_path(path: &Path) -> String {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    match file.split_once('.') {
        Some((stem, _)) => stem.to_string(),
        None => file,
    }
}

fn parse_license(sec: &SecInfo) -> Result<String> {
    let end = sec
        .data
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(sec.data.len());
    std::str::from_utf8(&sec.data[..end])
        .map(str::to_string)
        .map_err(|_| Error::BadSection {
            section: sec.name.clone(),
            detail: "license is not valid UTF-8 text".into(),
        })
}

fn parse_version(sec: &SecInfo) -> Result<u32> {
    match <[u8; 4]>::try_from(sec.data) {
        Ok(b) => Ok(u32::from_le_bytes(b)),
        Err(_) => Err(Error::BadSection {
            section: sec.name.clone(),
            detail: format!(
                "version must be one 4-byte integer, found {} bytes",
                sec.data.len()
            ),
        }),
    }
}

fn classify(name: &str, sh_type: u32, flags: u64) -> SecRole {
    let is = |p: &str| name == p || name.strip_prefix(p).is_some_and(|r| r.starts_with('.'));
    if flags & u64::from(elf::SHF_EXECINSTR) != 0 {
        return SecRole::Code;
    }
    match name {
        ".maps" => SecRole::BtfMaps,
        "maps" => SecRole::LegacyMaps,
        "license" => SecRole::License,
        "version" => SecRole::Version,
        _ if is(".rodata") => SecRole::Data(maps::DataKind::Rodata),
        _ if is(".data") && sh_type == elf::SHT_PROGBITS => SecRole::Data(maps::DataKind::Data),
        _ if is(".bss") && sh_type == elf::SHT_NOBITS => SecRole::Data(maps::DataKind::Bss),
        _ => SecRole::Other,
    }
}

fn read_elf(bytes: &[u8]) -> Result<Ctx<'_>> {
    if bytes.len() < 20 || &bytes[..4] != b"\x7fELF" {
        return Err(Error::Elf {
            detail: "no ELF magic (\\x7fELF) at the start".into(),
        });
    }
    if bytes[5] == elf::ELFDATA2MSB {
        return Err(Error::BigEndian);
    }
    if bytes[4] != elf::ELFCLASS64 {
        return Err(Error::Elf {
            detail: "not a 64-bit ELF file (BPF objects are ELF64)".into(),
        });
    }
    let hdr = Hdr::parse(bytes)?;
    let machine = hdr.e_machine(LE);
    if machine != EM_BPF {
        return Err(Error::NotBpf { machine });
    }
    let sections = hdr.sections(LE, bytes)?;
    let mut secs = Vec::with_capacity(sections.len());
    let mut rels: BTreeMap<usize, Vec<(u64, u32, u32)>> = BTreeMap::new();
    let mut symtab = None;
    for (i, sh) in sections.iter().enumerate() {
        let name = match sections.section_name(LE, sh) {
            Ok(n) => String::from_utf8_lossy(n).into_owned(),
            Err(_) => format!("#{i}"),
        };
        let sh_type = sh.sh_type(LE);
        let data: &[u8] = if sh_type == elf::SHT_NOBITS {
            &[]
        } else {
            sh.data(LE, bytes).map_err(|_| Error::BadSection {
                section: name.clone(),
                detail: format!(
                    "contents at offset {} size {} lie outside the {}-byte file",
                    sh.sh_offset(LE),
                    sh.sh_size(LE),
                    bytes.len()
                ),
            })?
        };
        if sh_type == elf::SHT_SYMTAB {
            symtab = Some(i);
        }
        if sh_type == elf::SHT_REL {
            let target = sh.sh_info(LE) as usize;
            let entries: &[elf::Rel64<LittleEndian>] = match sh.rel(LE, bytes) {
                Ok(Some((r, _))) => r,
                _ => {
                    return Err(Error::BadSection {
                        section: name,
                        detail: "relocation table is truncated or misaligned".into(),
                    })
                }
            };
            if target >= sections.len() {
                return Err(Error::BadSection {
                    section: name,
                    detail: format!(
                        "applies to section index {target}, past the {} sections",
                        sections.len()
                    ),
                });
            }
            let list: Vec<(u64, u32, u32)> = entries
                .iter()
                .map(|r| (r.r_offset(LE), r.r_sym(LE), r.r_type(LE)))
                .collect();
            rels.entry(target).or_default().extend(list);
        }
        let role = if sh_type == elf::SHT_PROGBITS || sh_type == elf::SHT_NOBITS {
            classify(&name, sh_type, sh.sh_flags(LE))
        } else {
            SecRole::Other
        };
        secs.push(SecInfo {
            name,
            role,
            data,
            size: sh.sh_size(LE),
        });
    }
    let Some(symtab_idx) = symtab else {
        return Err(Error::NoSymbols);
    };
    let symbols = sections.symbol_table_by_index(LE, bytes, SectionIndex(symtab_idx))?;
    let mut syms = Vec::with_capacity(symbols.len());
    for (i, s) in symbols.iter().enumerate() {
        let s: &ElfSym = s;
        let name = match symbols.symbol_name(LE, s) {
            Ok(n) => String::from_utf8_lossy(n).into_owned(),
            Err(_) => {
                return Err(Error::BadSymbol {
                    symbol: format!("#{i}"),
                    detail: "name offset is outside the string table".into(),
                })
            }
        };
        syms.push(SymInfo {
            name,
            shndx: s.st_shndx(LE),
            value: s.st_value(LE),
            size: s.st_size(LE),
            kind: s.st_type(),
            bind: s.st_bind(),
        });
    }
    // Section symbols have no name of their own; give them their section's, for messages.
    for s in &mut syms {
        if s.kind == elf::STT_SECTION && s.name.is_empty() {
            if let Some(sec) = secs.get(s.shndx as usize) {
                s.name = sec.name.clone();
            }
        }
    }
    let btf = match secs.iter().find(|s| s.name == ".BTF") {
        Some(sec) => Some(Btf::parse(sec.data).map_err(|source| Error::Btf {
            section: ".BTF",
            source,
        })?),
        None => None,
    };
    Ok(Ctx {
        secs,
        syms,
        btf,
        rels,
    })
}

/// Splits every executable section into functions at its function symbols.
fn collect_functions(ctx: &Ctx, obj: &mut Object) -> Result<()> {
    let mut by_sec: BTreeMap<usize, Vec<&SymInfo>> = BTreeMap::new();
    for s in &ctx.syms {
        if s.kind == elf::STT_FUNC && s.shndx != elf::SHN_UNDEF && s.shndx < elf::SHN_LORESERVE {
            by_sec.entry(s.shndx as usize).or_default().push(s);
        }
    }
    for (idx, sec) in ctx.secs.iter().enumerate() {
        if sec.role != SecRole::Code || sec.data.is_empty() {
            continue;
        }
        let mut funcs = by_sec.remove(&idx).unwrap_or_default();
        funcs.sort_by_key(|s| s.value);
        let Some(first) = funcs.first() else {
            return Err(Error::BadSection {
                section: sec.name.clone(),
                detail: "holds code but no function symbol names it".into(),
            });
        };
        let is_text = sec.name == ".text";
        let kind = if is_text {
            None
        } else {
            Some(
                find_sec_def(&sec.name).ok_or_else(|| Error::UnknownSection {
                    section: sec.name.clone(),
                    program: first.name.clone(),
                })?,
            )
        };
        if sec.data.len() % 8 != 0 {
            return Err(Error::BadSection {
                section: sec.name.clone(),
                detail: format!("code size {} is not a multiple of 8", sec.data.len()),
            });
        }
        for (k, f) in funcs.iter().enumerate() {
            let start = f.value;
            let next = funcs
                .get(k + 1)
                .map(|n| n.value)
                .unwrap_or(sec.data.len() as u64);
            let end = if f.size == 0 {
                next
            } else {
                start.saturating_add(f.size)
            };
            if start % 8 != 0
                || end % 8 != 0
                || end > sec.data.len() as u64
                || start >= end
                || end > next
            {
                return Err(Error::BadSymbol {
                    symbol: f.name.clone(),
                    detail: format!(
                        "function bytes {start}..{end} do not fit section `{}` ({} bytes) in whole instructions without overlap",
                        sec.name,
                        sec.data.len()
                    ),
                });
            }
            let code = &sec.data[start as usize..end as usize];
            let insns = bpfkit_insn::decode_all(code).map_err(|source| Error::Insn {
                program: f.name.clone(),
                section: sec.name.clone(),
                source,
            })?;
            let global = f.bind == elf::STB_GLOBAL || f.bind == elf::STB_WEAK;
            let entry = !is_text && global;
            let prog = Program {
                name: f.name.clone(),
                section: sec.name.clone(),
                section_index: idx,
                section_insn_off: (start / 8) as usize,
                kind: if entry { kind.clone() } else { None },
                global,
                insns,
                relocations: Vec::new(),
                func_info: Vec::new(),
                line_info: Vec::new(),
                core_relos: Vec::new(),
            };
            if entry {
                obj.programs.push(prog);
            } else {
                obj.subprograms.push(prog);
            }
        }
    }
    Ok(())
}

/// Finds the function holding instruction `insn` (an index within section `sec`).
fn func_at(obj: &Object, sec: usize, insn: usize) -> Option<(FuncRef, usize)> {
    let within = |p: &Program| {
        p.section_index == sec
            && insn >= p.section_insn_off
            && insn < p.section_insn_off + p.insns.len()
    };
    if let Some(i) = obj.programs.iter().position(within) {
        return Some((FuncRef::Program(i), insn - obj.programs[i].section_insn_off));
    }
    obj.subprograms.iter().position(within).map(|i| {
        (
            FuncRef::Subprogram(i),
            insn - obj.subprograms[i].section_insn_off,
        )
    })
}

fn func_mut(obj: &mut Object, r: FuncRef) -> &mut Program {
    match r {
        FuncRef::Program(i) => &mut obj.programs[i],
        FuncRef::Subprogram(i) => &mut obj.subprograms[i],
    }
}

/// Reads the relocation tables of code sections and the pc-relative calls clang leaves
/// without one, and files each under the function it patches.
fn collect_relocations(ctx: &Ctx, obj: &mut Object) -> Result<()> {
    let mut found: Vec<(FuncRef, Relocation)> = Vec::new();
    let mut relocated: HashMap<(usize, usize), ()> = HashMap::new();
    for (&sec_idx, list) in &ctx.rels {
        let Some(sec) = ctx.secs.get(sec_idx) else {
            continue;
        };
        if sec.role != SecRole::Code {
            continue;
        }
        for &(offset, sym_idx, r_type) in list {
            let insn_idx = (offset / 8) as usize;
            let bad = |symbol: &str, detail: String| Error::BadRelocation {
                section: sec.name.clone(),
                insn: insn_idx,
                symbol: symbol.to_string(),
                detail,
            };
            let sym = ctx.sym(sym_idx, &sec.name, insn_idx)?;
            if offset % 8 != 0 {
                return Err(bad(
                    &sym.name,
                    format!("offset {offset} is not on an instruction boundary"),
                ));
            }
            let Some((owner, local)) = func_at(obj, sec_idx, insn_idx) else {
                return Err(bad(
                    &sym.name,
                    "the instruction is outside every function of the section".into(),
                ));
            };
            let Some(insn) = obj.func(owner).and_then(|p| p.insns.get(local)).copied() else {
                return Err(bad(&sym.name, "no such instruction".into()));
            };
            let target = classify_reloc(ctx, obj, &insn, sym, r_type)
                .map_err(|detail| bad(&sym.name, detail))?;
            relocated.insert((sec_idx, insn_idx), ());
            found.push((
                owner,
                Relocation {
                    insn: local,
                    target,
                },
            ));
        }
    }
    // Calls inside one section need no relocation: the offset is already pc-relative.
    let mut local_calls = Vec::new();
    for (r, p) in obj
        .programs
        .iter()
        .enumerate()
        .map(|(i, p)| (FuncRef::Program(i), p))
        .chain(
            obj.subprograms
                .iter()
                .enumerate()
                .map(|(i, p)| (FuncRef::Subprogram(i), p)),
        )
    {
        for (k, insn) in p.insns.iter().enumerate() {
            let sec_insn = p.section_insn_off + k;
            if !is_pseudo_call(insn) || relocated.contains_key(&(p.section_index, sec_insn)) {
                continue;
            }
            let target = sec_insn as i64 + i64::from(insn.imm) + 1;
            let hit = usize::try_from(target)
                .ok()
                .and_then(|t| func_at(obj, p.section_index, t));
            let Some((func, insn_off)) = hit else {
                return Err(Error::BadRelocation {
                    section: p.section.clone(),
                    insn: sec_insn,
                    symbol: p.name.clone(),
                    detail: format!("bpf-to-bpf call to instruction {target}, which no function of the section holds"),
                });
            };
            local_calls.push((
                r,
                Relocation {
                    insn: k,
                    target: RelocTarget::Call { func, insn_off },
                },
            ));
        }
    }
    for (owner, rel) in found.into_iter().chain(local_calls) {
        func_mut(obj, owner).relocations.push(rel);
    }
    for p in obj.programs.iter_mut().chain(obj.subprograms.iter_mut()) {
        p.relocations.sort_by_key(|r| r.insn);
    }
    Ok(())
}

pub(crate) fn is_pseudo_call(insn: &Insn) -> bool {
    insn.code == op::JMP | op::CALL && insn.src == op::PSEUDO_CALL
}

fn classify_reloc(
    ctx: &Ctx,
    obj: &Object,
    insn: &Insn,
    sym: &SymInfo,
    r_type: u32,
) -> std::result::Result<RelocTarget, String> {
    let is_ld64 = insn.code == op::LD_IMM64;
    let is_call = insn.code == op::JMP | op::CALL;
    match (r_type, is_ld64, is_call) {
        (R_BPF_64_64, true, _) | (R_BPF_64_32, _, true) => {}
        _ => {
            return Err(format!(
                "relocation type {r_type} on opcode {:#04x}: only ld_imm64 (R_BPF_64_64) and call (R_BPF_64_32) instructions can be relocated",
                insn.code
            ))
        }
    }
    if sym.shndx == elf::SHN_UNDEF {
        let ext = obj
            .externs
            .iter()
            .position(|e| e.name == sym.name)
            .ok_or_else(|| {
                if sym.name.is_empty() {
                    "relocation against a missing (undefined, unnamed) symbol".to_string()
                } else {
                    "undefined symbol that is no __kconfig or __ksym extern of the object's BTF; define it or declare it extern with __kconfig/__ksym".to_string()
                }
            })?;
        return match (&obj.externs[ext].kind, is_call) {
            (ExternKind::Kfunc { .. }, true) => Ok(RelocTarget::Kfunc { ext }),
            (ExternKind::Ksym { .. }, false) => Ok(RelocTarget::Ksym { ext }),
            (ExternKind::Kconfig { offset, .. }, false) => {
                let map = obj
                    .maps
                    .iter()
                    .position(|m| {
                        m.data
                            .as_ref()
                            .is_some_and(|d| d.kind == maps::DataKind::Kconfig)
                    })
                    .ok_or("no .kconfig map for a kconfig extern")?;
                Ok(RelocTarget::MapValue {
                    map,
                    offset: *offset,
                })
            }
            (_, true) => Err("a call of an extern that is not a function".into()),
            (_, false) => Err("ld_imm64 of an extern function; only calls can use a kfunc".into()),
        };
    }
    let shndx = sym.shndx as usize;
    let target_sec = ctx
        .secs
        .get(shndx)
        .ok_or_else(|| format!("symbol is in section index {shndx}, past the section table"))?;
    match &target_sec.role {
        SecRole::Code => {
            // clang's encoding: a call lands on (symbol value / 8) + imm + 1, with imm = -1
            // against a function symbol and the section-relative offset against a section
            // symbol; an ld_imm64 of a function address carries its byte offset in imm.
            let base = sym.value / 8;
            let target = if is_call {
                base as i64 + i64::from(insn.imm) + 1
            } else {
                base as i64 + i64::from(insn.imm) / 8
            };
            let (func, insn_off) = usize::try_from(target)
                .ok()
                .and_then(|t| func_at(obj, shndx, t))
                .ok_or_else(|| {
                    format!(
                        "points at instruction {target} of `{}`, where no function is",
                        target_sec.name
                    )
                })?;
            if is_call {
                Ok(RelocTarget::Call { func, insn_off })
            } else {
                Ok(RelocTarget::FuncAddr { func, insn_off })
            }
        }
        _ if is_call => Err(format!(
            "a call of `{}` in non-code section `{}`",
            sym.name, target_sec.name
        )),
        SecRole::BtfMaps | SecRole::LegacyMaps => {
            let map = obj
                .maps
                .iter()
                .position(|m| m.section_index == Some(shndx) && m.section_offset == sym.value)
                .ok_or_else(|| {
                    format!(
                        "no map starts at offset {} of `{}`",
                        sym.value, target_sec.name
                    )
                })?;
            Ok(RelocTarget::Map { map })
        }
        SecRole::Data(_) => {
            let map = obj
                .maps
                .iter()
                .position(|m| m.section_index == Some(shndx))
                .ok_or_else(|| format!("data section `{}` has no map", target_sec.name))?;
            let offset = i64::try_from(sym.value)
                .unwrap_or(i64::MAX)
                .saturating_add(i64::from(insn.imm));
            let offset = u32::try_from(offset)
                .ok()
                .filter(|&o| u64::from(o) <= target_sec.size)
                .ok_or_else(|| {
                    format!(
                        "offset {offset} is outside `{}` ({} bytes)",
                        target_sec.name, target_sec.size
                    )
                })?;
            Ok(RelocTarget::MapValue { map, offset })
        }
        _ => Err(format!(
            "symbol is in section `{}`, which is neither code, a map section nor global data",
            target_sec.name
        )),
    }
}

/// Files `.BTF.ext` records under the function they describe, rebased to its start and
/// converted from bytes to instructions (the kernel's unit).
fn attach_btf_ext(ext: &BtfExt, funcs: &mut [Program]) {
    for p in funcs {
        let start = p.section_insn_off as u64 * 8;
        let end = start + p.insns.len() as u64 * 8;
        let rebase = |off: u32| -> Option<u32> {
            let off = u64::from(off);
            (off >= start && off < end && off % 8 == 0).then(|| ((off - start) / 8) as u32)
        };
        if let Some(s) = ext.func_info.iter().find(|s| s.name == p.section) {
            p.func_info = s
                .records
                .iter()
                .filter_map(|r| rebase(r.insn_off).map(|insn_off| FuncInfo { insn_off, ..*r }))
                .collect();
        }
        if let Some(s) = ext.line_info.iter().find(|s| s.name == p.section) {
            p.line_info = s
                .records
                .iter()
                .filter_map(|r| rebase(r.insn_off).map(|insn_off| LineInfo { insn_off, ..*r }))
                .collect();
        }
        if let Some(s) = ext.core_relos.iter().find(|s| s.name == p.section) {
            p.core_relos = s
                .records
                .iter()
                .filter_map(|r| {
                    rebase(r.insn_off).map(|insn_off| CoreRelo {
                        insn_off,
                        ..r.clone()
                    })
                })
                .collect();
        }
    }
}
