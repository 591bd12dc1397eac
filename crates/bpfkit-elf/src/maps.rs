//! Map definitions: BTF-defined `.maps`, the legacy `maps` section and global data sections.

use bpfkit_btf::{Btf, Detail, Kind};
use object::elf;

use crate::error::{Error, Result};
use crate::object::{Ctx, SecRole};

/// `BPF_MAP_TYPE_PROG_ARRAY`.
pub const MAP_TYPE_PROG_ARRAY: u32 = 3;
/// `BPF_MAP_TYPE_ARRAY`.
pub const MAP_TYPE_ARRAY: u32 = 2;
/// `BPF_MAP_TYPE_ARRAY_OF_MAPS`.
pub const MAP_TYPE_ARRAY_OF_MAPS: u32 = 12;
/// `BPF_MAP_TYPE_HASH_OF_MAPS`.
pub const MAP_TYPE_HASH_OF_MAPS: u32 = 13;
/// `BPF_F_RDONLY_PROG`: the program may only read the map.
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
/// `BPF_F_MMAPABLE`: user space may mmap the array.
pub const BPF_F_MMAPABLE: u32 = 1 << 10;
/// libbpf's `LIBBPF_PIN_BY_NAME`.
pub const LIBBPF_PIN_BY_NAME: u32 = 1;

/// Largest global data section accepted. The kernel caps array values far lower (a kmalloc),
/// so this only keeps a corrupt section size from allocating gigabytes.
pub const MAX_DATA_SIZE: u32 = 64 << 20;

/// `BPF_OBJ_NAME_LEN`: kernel object names hold 15 characters and a NUL.
const OBJ_NAME_LEN: usize = 16;

/// Which global data section a map holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataKind {
    /// `.data` or `.data.*`: initialised, writable.
    Data,
    /// `.rodata` or `.rodata.*`: initialised, read-only for programs (`BPF_F_RDONLY_PROG`);
    /// the loader freezes it after writing the initial contents.
    Rodata,
    /// `.bss` or `.bss.*`: zero-initialised.
    Bss,
    /// The `.kconfig` externs, filled by the loader (see [`crate::Object::kconfig_data`]).
    Kconfig,
}

/// One variable of a data section, from the ELF symbol table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataVar {
    /// Symbol name.
    pub name: String,
    /// Byte offset in the section.
    pub offset: u64,
    /// Size in bytes.
    pub size: u64,
    /// Global (visible to a skeleton) rather than static.
    pub global: bool,
    /// The VAR type id in the object's BTF, if it has one.
    pub btf_var_id: Option<u32>,
}

/// The contents of a global data map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSection {
    /// Which kind of section.
    pub kind: DataKind,
    /// ELF section name (`.rodata`, `.data.custom` …; `.kconfig` for externs).
    pub section: String,
    /// Initial value: the section bytes, zeros for `.bss` and `.kconfig`.
    pub bytes: Vec<u8>,
    /// Variables in offset order.
    pub vars: Vec<DataVar>,
}

/// How a map definition was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapOrigin {
    /// A variable of the `.maps` section described by BTF.
    Btf,
    /// A `struct bpf_map_def` in the legacy `maps` section.
    Legacy,
    /// A global data section (or `.kconfig`).
    Data,
    /// The template of a map-in-map's inner maps (never created on its own).
    InnerTemplate,
}

/// What a `values` slot of a map-in-map or prog_array is initialised with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotTarget {
    /// The map of that name (for `ARRAY_OF_MAPS`/`HASH_OF_MAPS`).
    Map(String),
    /// The program of that name (for `PROG_ARRAY`).
    Program(String),
}

/// One initialised `values` slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotInit {
    /// Key (array index) of the slot.
    pub slot: u32,
    /// What goes in it.
    pub target: SlotTarget,
}

/// A map the object defines, ready to become a `BPF_MAP_CREATE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapDef {
    /// Name: the variable name, or libbpf's internal name for data maps (`execsnoo.rodata`).
    pub name: String,
    /// Where the definition came from.
    pub origin: MapOrigin,
    /// `enum bpf_map_type` value.
    pub map_type: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum number of entries (ring buffer size in bytes for ring buffers).
    pub max_entries: u32,
    /// `map_flags` (`BPF_F_*`).
    pub map_flags: u32,
    /// NUMA node, when the definition names one.
    pub numa_node: Option<u32>,
    /// libbpf pinning mode: 0 none, [`LIBBPF_PIN_BY_NAME`].
    pub pinning: u32,
    /// `map_extra` (bloom filter hash count, arena address …).
    pub map_extra: u64,
    /// BTF type id of the key, 0 when not typed.
    pub btf_key_type_id: u32,
    /// BTF type id of the value (the DATASEC for data maps), 0 when not typed.
    pub btf_value_type_id: u32,
    /// For map-in-map: the inner map template.
    pub inner: Option<Box<MapDef>>,
    /// Initialised `values` slots (map-in-map and prog_array).
    pub init_slots: Vec<SlotInit>,
    /// ELF section of the definition (or of the data).
    pub section_index: Option<usize>,
    /// Byte offset of the definition in its section (0 for data maps).
    pub section_offset: u64,
    /// Size of the definition in its section.
    pub section_size: u64,
    /// Byte offset of the `values` member in a BTF definition.
    pub(crate) values_offset: Option<u64>,
    /// Contents, for data maps.
    pub data: Option<DataSection>,
}

impl MapDef {
    fn new(name: String, origin: MapOrigin) -> MapDef {
        MapDef {
            name,
            origin,
            map_type: 0,
            key_size: 0,
            value_size: 0,
            max_entries: 0,
            map_flags: 0,
            numa_node: None,
            pinning: 0,
            map_extra: 0,
            btf_key_type_id: 0,
            btf_value_type_id: 0,
            inner: None,
            init_slots: Vec::new(),
            section_index: None,
            section_offset: 0,
            section_size: 0,
            values_offset: None,
            data: None,
        }
    }

    /// Whether this is a global data (or `.kconfig`) map.
    pub fn is_internal(&self) -> bool {
        self.data.is_some()
    }

    /// Whether the loader freezes the map (`BPF_MAP_FREEZE`) once it wrote the initial value:
    /// `.rodata*` and `.kconfig`, so the verifier can treat their contents as constants.
    pub fn frozen_after_load(&self) -> bool {
        self.data
            .as_ref()
            .is_some_and(|d| matches!(d.kind, DataKind::Rodata | DataKind::Kconfig))
    }
}

/// libbpf's name for the map of data section `section` in object `object`.
///
/// Kernel object names hold 15 characters. A suffix is the section name, counted as at least
/// 7 characters; the prefix is as much of the object name as fits before it (`execsnoo.rodata`,
/// `execsno.kconfig`, `execsnoo.bss`). Sections with a second dot (`.data.custom`,
/// `.rodata.str1.1`) keep their own name without prefix. The result is cut to 15 characters and
/// characters other than letters, digits, `_` and `.` become `_`.
///
/// Observed with libbpf 1.1 (bpftool v7.1): object `elf_naming` gives `elf_nami.data`,
/// `elf_nami.rodata`, `elf_nami.bss`, `elf_nam.kconfig` and `.data.custom`. A skeleton names
/// its object `TOOL_bpf`, so the running `/usr/sbin/tcplife` creates `tcplife_.rodata` where
/// `bpftool prog loadall tcplife.bpf.o` creates `tcplife.rodata`.
pub fn internal_map_name(object: &str, section: &str) -> String {
    let has_second_dot = section.get(1..).is_some_and(|rest| rest.contains('.'));
    let name = if has_second_dot {
        section.to_string()
    } else {
        let sfx_len = section.len().max(7);
        let room = OBJ_NAME_LEN - 1;
        let pfx_len = room.saturating_sub(sfx_len).min(object.len());
        let prefix: String = object.chars().take(pfx_len).collect();
        format!("{prefix}{section}")
    };
    name.chars()
        .take(OBJ_NAME_LEN - 1)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// All maps of the object except `.kconfig` (added once externs are known).
pub(crate) fn collect_maps(ctx: &Ctx, object: &str) -> Result<Vec<MapDef>> {
    let mut out = Vec::new();
    for (idx, sec) in ctx.secs.iter().enumerate() {
        if sec.role == SecRole::LegacyMaps {
            out.extend(legacy_maps(ctx, idx)?);
        }
    }
    for (idx, sec) in ctx.secs.iter().enumerate() {
        if sec.role == SecRole::BtfMaps {
            let btf = ctx.btf.as_ref().ok_or_else(|| Error::BadSection {
                section: sec.name.clone(),
                detail: "BTF-defined maps need the object's .BTF; compile with `clang -g`".into(),
            })?;
            let mut maps = btf_maps(ctx, btf, idx)?;
            init_slots(ctx, idx, &mut maps)?;
            out.extend(maps);
        }
    }
    for (idx, sec) in ctx.secs.iter().enumerate() {
        if let SecRole::Data(kind) = sec.role {
            if sec.size > 0 {
                out.push(data_map(ctx, object, idx, kind)?);
            }
        }
    }
    Ok(out)
}

fn symbols_in<'c>(
    ctx: &'c Ctx,
    sec: usize,
) -> impl Iterator<Item = &'c crate::object::SymInfo> + 'c {
    ctx.syms.iter().filter(move |s| {
        s.shndx as usize == sec
            && s.kind != elf::STT_SECTION
            && s.kind != elf::STT_FILE
            && !s.name.is_empty()
    })
}

fn legacy_maps(ctx: &Ctx, idx: usize) -> Result<Vec<MapDef>> {
    let sec = &ctx.secs[idx];
    let mut syms: Vec<_> = symbols_in(ctx, idx).collect();
    syms.sort_by_key(|s| s.value);
    if syms.is_empty() {
        return Ok(Vec::new());
    }
    // libbpf's rule: every definition in the section has the same size.
    let def_size = sec.data.len() / syms.len();
    if def_size < 16 || sec.data.len() % syms.len() != 0 {
        return Err(Error::BadSection {
            section: sec.name.clone(),
            detail: format!(
                "{} bytes do not divide into {} struct bpf_map_def of at least 16 bytes",
                sec.data.len(),
                syms.len()
            ),
        });
    }
    let mut out = Vec::new();
    for s in syms {
        let bad = |detail: String| Error::BadMap {
            map: s.name.clone(),
            detail,
        };
        let start = usize::try_from(s.value).unwrap_or(usize::MAX);
        let bytes = start
            .checked_add(def_size)
            .and_then(|end| sec.data.get(start..end))
            .ok_or_else(|| {
                bad(format!(
                    "definition at offset {start} is outside the section"
                ))
            })?;
        let word = |i: usize| -> u32 {
            bytes
                .get(i * 4..i * 4 + 4)
                .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        if bytes
            .get(20..)
            .is_some_and(|extra| extra.iter().any(|&b| b != 0))
        {
            return Err(bad(format!(
                "the {def_size}-byte definition has non-zero fields after map_flags, which libbpf's struct bpf_map_def does not have"
            )));
        }
        let mut m = MapDef::new(s.name.clone(), MapOrigin::Legacy);
        m.map_type = word(0);
        m.key_size = word(1);
        m.value_size = word(2);
        m.max_entries = word(3);
        m.map_flags = word(4);
        m.section_index = Some(idx);
        m.section_offset = s.value;
        m.section_size = def_size as u64;
        out.push(m);
    }
    Ok(out)
}

fn btf_maps(ctx: &Ctx, btf: &Btf, idx: usize) -> Result<Vec<MapDef>> {
    let sec = &ctx.secs[idx];
    let btf_err = |source| Error::Btf {
        section: ".BTF",
        source,
    };
    let Some(ds_id) = btf.find_by_name_kind(".maps", Kind::Datasec) else {
        return Err(Error::BadSection {
            section: sec.name.clone(),
            detail: "the object's BTF has no DATASEC `.maps` describing the map definitions".into(),
        });
    };
    let ds = btf.type_by_id(ds_id).map_err(btf_err)?;
    let Detail::Datasec { vars, .. } = &ds.detail else {
        return Err(Error::BadSection {
            section: sec.name.clone(),
            detail: "`.maps` is not a DATASEC".into(),
        });
    };
    let mut out = Vec::new();
    for vsi in vars {
        let var = btf.type_by_id(vsi.type_id).map_err(btf_err)?;
        let Detail::Var { type_id, .. } = var.detail else {
            return Err(Error::BadSection {
                section: sec.name.clone(),
                detail: format!(
                    "DATASEC entry [{}] is a {}, not a VAR",
                    vsi.type_id,
                    var.kind.as_str()
                ),
            });
        };
        let name = var.name.to_string();
        let sym = symbols_in(ctx, idx)
            .find(|s| s.name == name)
            .ok_or_else(|| Error::BadMap {
                map: name.clone(),
                detail: "BTF describes it but no ELF symbol in `.maps` has this name".into(),
            })?;
        let mut m = parse_map_struct(btf, type_id, &name, 0)?;
        m.section_index = Some(idx);
        m.section_offset = sym.value;
        m.section_size = sym.size;
        out.push(m);
    }
    Ok(out)
}

/// Decodes a `__uint(name, N)` member: a pointer to an array of N elements.
fn uint_member(btf: &Btf, type_id: u32) -> Option<u64> {
    let t = btf.type_by_id(btf.resolve_type(type_id).ok()?).ok()?;
    match t.detail {
        Detail::Ptr { type_id } => {
            let arr = btf.type_by_id(btf.resolve_type(type_id).ok()?).ok()?;
            match arr.detail {
                Detail::Array(a) => Some(u64::from(a.nelems)),
                _ => None,
            }
        }
        // `__ulong(name, N)` is an enum whose only value is N.
        Detail::Enum(e) => e.values.first().map(|v| v.value),
        _ => None,
    }
}

fn parse_map_struct(btf: &Btf, type_id: u32, name: &str, depth: u32) -> Result<MapDef> {
    let bad = |detail: String| Error::BadMap {
        map: name.to_string(),
        detail,
    };
    let btf_err = |e: bpfkit_btf::Error| bad(format!("BTF: {e}"));
    let sid = btf.resolve_type(type_id).map_err(btf_err)?;
    let st = btf.type_by_id(sid).map_err(btf_err)?;
    if st.kind != Kind::Struct {
        return Err(bad(format!(
            "definition has BTF type [{sid}] {}, not a struct",
            st.kind.as_str()
        )));
    }
    let origin = if depth == 0 {
        MapOrigin::Btf
    } else {
        MapOrigin::InnerTemplate
    };
    let mut m = MapDef::new(name.to_string(), origin);
    let mut key_size = None;
    let mut value_size = None;
    let mut inner_kind = None;
    for mem in st.members() {
        let uint = || {
            uint_member(btf, mem.type_id).ok_or_else(|| {
                bad(format!(
                    "member `{}` must be written __uint({}, VALUE)",
                    mem.name, mem.name
                ))
            })
        };
        let u32_of = |v: u64| {
            u32::try_from(v).map_err(|_| {
                bad(format!(
                    "member `{}` value {v} does not fit 32 bits",
                    mem.name
                ))
            })
        };
        match mem.name {
            "type" => m.map_type = u32_of(uint()?)?,
            "max_entries" => m.max_entries = u32_of(uint()?)?,
            "map_flags" => m.map_flags = u32_of(uint()?)?,
            "numa_node" => m.numa_node = Some(u32_of(uint()?)?),
            "pinning" => m.pinning = u32_of(uint()?)?,
            "map_extra" => m.map_extra = uint()?,
            "key_size" => key_size = Some(u32_of(uint()?)?),
            "value_size" => value_size = Some(u32_of(uint()?)?),
            "key" | "value" => {
                let ptr = btf.type_by_id(btf.resolve_type(mem.type_id).map_err(btf_err)?).map_err(btf_err)?;
                let Detail::Ptr { type_id: target } = ptr.detail else {
                    return Err(bad(format!("member `{}` must be written __type({}, TYPE)", mem.name, mem.name)));
                };
                let size = btf.type_size(target).map_err(btf_err)?;
                let size = u32_of(size)?;
                if mem.name == "key" {
                    m.btf_key_type_id = target;
                    key_size = check_size(key_size, size, "key", &bad)?;
                } else {
                    m.btf_value_type_id = target;
                    value_size = check_size(value_size, size, "value", &bad)?;
                }
            }
            "values" => {
                let arr = btf.type_by_id(btf.resolve_type(mem.type_id).map_err(btf_err)?).map_err(btf_err)?;
                let Detail::Array(a) = arr.detail else {
                    return Err(bad("member `values` must be written __array(values, TYPE)".into()));
                };
                let ptr = btf.type_by_id(btf.resolve_type(a.elem_type).map_err(btf_err)?).map_err(btf_err)?;
                let Detail::Ptr { type_id: target } = ptr.detail else {
                    return Err(bad("`values` must be an array of pointers".into()));
                };
                let target = btf.resolve_type(target).map_err(btf_err)?;
                inner_kind = Some((target, btf.kind_of(target).map_err(btf_err)?));
                m.values_offset = Some(u64::from(mem.bit_offset / 8));
            }
            other => {
                return Err(bad(format!(
                    "unknown member `{other}`; BTF map definitions know type, key, value, key_size, value_size, max_entries, map_flags, numa_node, pinning, map_extra and values"
                )))
            }
        }
    }
    if let Some((target, kind)) = inner_kind {
        match (m.map_type, kind) {
            (MAP_TYPE_ARRAY_OF_MAPS | MAP_TYPE_HASH_OF_MAPS, Kind::Struct) => {
                if depth > 0 {
                    return Err(bad("an inner map cannot itself hold maps".into()));
                }
                let inner = parse_map_struct(btf, target, &format!("{name}.inner"), depth + 1)?;
                m.inner = Some(Box::new(inner));
            }
            (MAP_TYPE_PROG_ARRAY, Kind::FuncProto) => {}
            (t, k) => {
                return Err(bad(format!(
                    "`values` of {} in a map of type {t}: only map-in-map (struct) and prog_array (function) maps take `values`",
                    k.as_str()
                )))
            }
        }
        // Slots of map-in-map and prog_array hold fds (or ids): 4 bytes.
        value_size = check_size(value_size, 4, "value", &bad)?;
        key_size = Some(key_size.unwrap_or(4));
    }
    m.key_size = key_size.unwrap_or(0);
    m.value_size = value_size.unwrap_or(0);
    Ok(m)
}

fn check_size(
    given: Option<u32>,
    size: u32,
    what: &str,
    bad: &dyn Fn(String) -> Error,
) -> Result<Option<u32>> {
    match given {
        Some(g) if g != size => Err(bad(format!(
            "{what}_size {g} disagrees with the {what} type's size {size}"
        ))),
        _ => Ok(Some(size)),
    }
}

/// Reads `.rel.maps`: pointers in `values` initialisers.
fn init_slots(ctx: &Ctx, idx: usize, maps: &mut [MapDef]) -> Result<()> {
    let Some(rels) = ctx.rels.get(&idx) else {
        return Ok(());
    };
    let sec = &ctx.secs[idx];
    for &(offset, sym_idx, r_type) in rels {
        if r_type != crate::object::R_BPF_64_ABS64 {
            return Err(Error::BadRelocation {
                section: sec.name.clone(),
                insn: 0,
                symbol: format!("#{sym_idx}"),
                detail: format!("relocation type {r_type} at byte {offset}; `.maps` initialisers use R_BPF_64_ABS64 (2)"),
            });
        }
        let sym = ctx.syms.get(sym_idx as usize).ok_or_else(|| Error::BadRelocation {
            section: sec.name.clone(),
            insn: 0,
            symbol: format!("#{sym_idx}"),
            detail: format!("`values` initialiser at byte {offset} refers to a symbol past the symbol table"),
        })?;
        let map = maps
            .iter_mut()
            .find(|m| {
                offset >= m.section_offset
                    && offset < m.section_offset.saturating_add(m.section_size)
            })
            .ok_or_else(|| Error::BadRelocation {
                section: sec.name.clone(),
                insn: 0,
                symbol: sym.name.clone(),
                detail: format!("pointer at byte {offset} of `.maps` lies in no map definition"),
            })?;
        let bad = |detail: String| Error::BadMap {
            map: map.name.clone(),
            detail,
        };
        let Some(values_off) = map.values_offset else {
            return Err(bad(format!(
                "initialises `{}` but the definition has no `values` member",
                sym.name
            )));
        };
        let rel_off = offset - map.section_offset;
        if rel_off < values_off || (rel_off - values_off) % 8 != 0 {
            return Err(bad(format!(
                "pointer to `{}` is not on a `values` slot",
                sym.name
            )));
        }
        let slot = (rel_off - values_off) / 8;
        let slot = u32::try_from(slot)
            .ok()
            .filter(|&s| s < map.max_entries)
            .ok_or_else(|| {
                bad(format!(
                    "`values` slot {slot} is past max_entries {}",
                    map.max_entries
                ))
            })?;
        let target_sec = ctx.secs.get(sym.shndx as usize).map(|s| &s.role);
        let target = match (map.map_type, target_sec) {
            (MAP_TYPE_PROG_ARRAY, Some(SecRole::Code)) if sym.kind == elf::STT_FUNC => {
                SlotTarget::Program(sym.name.clone())
            }
            (MAP_TYPE_ARRAY_OF_MAPS | MAP_TYPE_HASH_OF_MAPS, Some(SecRole::BtfMaps)) => {
                SlotTarget::Map(sym.name.clone())
            }
            _ => {
                return Err(bad(format!(
                    "slot {slot} points at `{}`, which is not a {}",
                    sym.name,
                    if map.map_type == MAP_TYPE_PROG_ARRAY {
                        "program"
                    } else {
                        "map in .maps"
                    }
                )))
            }
        };
        map.init_slots.push(SlotInit { slot, target });
    }
    for m in maps.iter_mut() {
        m.init_slots.sort_by_key(|s| s.slot);
    }
    Ok(())
}

fn data_map(ctx: &Ctx, object: &str, idx: usize, kind: DataKind) -> Result<MapDef> {
    let sec = &ctx.secs[idx];
    let value_size = u32::try_from(sec.size).ok().filter(|&s| s <= MAX_DATA_SIZE).ok_or_else(|| {
        Error::BadSection {
            section: sec.name.clone(),
            detail: format!(
                "{} bytes of global data exceed what one array map value holds ({MAX_DATA_SIZE} bytes here; the kernel allows less)",
                sec.size
            ),
        }
    })?;
    let datasec = ctx.btf.as_ref().and_then(|b| {
        b.find_by_name_kind(&sec.name, Kind::Datasec)
            .map(|id| (b, id))
    });
    let mut vars: Vec<DataVar> = symbols_in(ctx, idx)
        .filter(|s| s.kind == elf::STT_OBJECT)
        .map(|s| DataVar {
            name: s.name.clone(),
            offset: s.value,
            size: s.size,
            global: s.bind == elf::STB_GLOBAL || s.bind == elf::STB_WEAK,
            btf_var_id: datasec.and_then(|(b, id)| datasec_var(b, id, &s.name)),
        })
        .collect();
    vars.sort_by_key(|v| v.offset);
    for v in &vars {
        if v.offset.saturating_add(v.size) > sec.size {
            return Err(Error::BadSymbol {
                symbol: v.name.clone(),
                detail: format!(
                    "bytes {}..+{} lie outside `{}` ({} bytes)",
                    v.offset, v.size, sec.name, sec.size
                ),
            });
        }
    }
    let bytes = if kind == DataKind::Bss {
        vec![0; value_size as usize]
    } else {
        sec.data.to_vec()
    };
    let mut m = MapDef::new(internal_map_name(object, &sec.name), MapOrigin::Data);
    m.map_type = MAP_TYPE_ARRAY;
    m.key_size = 4;
    m.value_size = value_size;
    m.max_entries = 1;
    m.map_flags = data_map_flags(kind);
    m.btf_value_type_id = datasec.map_or(0, |(_, id)| id);
    m.section_index = Some(idx);
    m.section_size = sec.size;
    m.data = Some(DataSection {
        kind,
        section: sec.name.clone(),
        bytes,
        vars,
    });
    Ok(m)
}

/// Flags libbpf 1.1 gives internal maps (observed with bpftool v7.1 `prog loadall` and
/// `map show`): all are mmapable, even one holding only static variables; `.rodata` and
/// `.kconfig` are read-only for programs. (The libbpf linked into Debian's libbpf-tools leaves
/// `BPF_F_MMAPABLE` off a map whose variables are all static: biolatency's `.bss` has flags 0
/// under the tool, 0x400 under bpftool. Either works; we follow bpftool.)
fn data_map_flags(kind: DataKind) -> u32 {
    match kind {
        DataKind::Rodata | DataKind::Kconfig => BPF_F_MMAPABLE | BPF_F_RDONLY_PROG,
        DataKind::Data | DataKind::Bss => BPF_F_MMAPABLE,
    }
}

fn datasec_var(btf: &Btf, ds: u32, name: &str) -> Option<u32> {
    let t = btf.type_by_id(ds).ok()?;
    let Detail::Datasec { vars, .. } = t.detail else {
        return None;
    };
    vars.iter()
        .map(|v| v.type_id)
        .find(|&id| btf.name_of(id).is_ok_and(|n| n == name))
}

/// The `.kconfig` map holding `size` bytes of extern values.
pub(crate) fn kconfig_map(
    object: &str,
    size: u32,
    vars: Vec<DataVar>,
    btf: Option<&Btf>,
) -> MapDef {
    let mut m = MapDef::new(internal_map_name(object, ".kconfig"), MapOrigin::Data);
    m.map_type = MAP_TYPE_ARRAY;
    m.key_size = 4;
    m.value_size = size;
    m.max_entries = 1;
    m.map_flags = data_map_flags(DataKind::Kconfig);
    m.btf_value_type_id = btf
        .and_then(|b| b.find_by_name_kind(".kconfig", Kind::Datasec))
        .unwrap_or(0);
    m.section_size = u64::from(size);
    m.data = Some(DataSection {
        kind: DataKind::Kconfig,
        section: ".kconfig".into(),
        bytes: vec![0; size as usize],
        vars,
    });
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_names_follow_libbpf() {
        assert_eq!(internal_map_name("elf_naming", ".data"), "elf_nami.data");
        assert_eq!(
            internal_map_name("elf_naming", ".rodata"),
            "elf_nami.rodata"
        );
        assert_eq!(internal_map_name("elf_naming", ".bss"), "elf_nami.bss");
        assert_eq!(
            internal_map_name("elf_naming", ".kconfig"),
            "elf_nam.kconfig"
        );
        assert_eq!(
            internal_map_name("elf_naming", ".data.custom"),
            ".data.custom"
        );
        assert_eq!(internal_map_name("c1", ".bss"), "c1.bss");
        assert_eq!(internal_map_name("x", ".rodata.str1.1"), ".rodata.str1.1");
        assert_eq!(
            internal_map_name("x", ".data.a_very_long_name"),
            ".data.a_very_lo"
        );
        assert_eq!(internal_map_name("my-obj", ".bss"), "my_obj.bss");
        // Seen in `bpftool map list` while /usr/sbin/tcplife and biolatency ran.
        assert_eq!(
            internal_map_name("tcplife_bpf", ".rodata"),
            "tcplife_.rodata"
        );
        assert_eq!(
            internal_map_name("biolatency_bpf", ".kconfig"),
            "biolate.kconfig"
        );
    }
}
