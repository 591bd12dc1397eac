//! Objects built by clang (`.bpf.o`), loaded the way libbpf loads them, in phases:
//! **open** ([`ObjectBuilder::open_file`], [`ObjectBuilder::open_bytes`]) reads the ELF;
//! **adjust** (the `ObjectBuilder` setters) sets `.rodata`/`.data` variables, resizes maps,
//! reuses pinned maps, changes a program's type or leaves it out; **load**
//! ([`ObjectBuilder::load`]) creates the maps, uploads the object's BTF, applies relocations and
//! CO-RE against the running kernel and loads every program with its func_info and line_info;
//! **attach** ([`Object::attach`]) attaches each program whose section names its target and
//! returns the [`Link`]s to the caller.
//!
//! A verifier rejection comes back as [`Error::Verifier`] whose log ends with the C file, line
//! and source text of the failing instruction (from line_info), and names a failed CO-RE
//! relocation when the failing instruction is one the loader poisoned.

mod attach;
mod btf_upload;
mod kconfig;
mod ksyms;
mod load;
mod relocate;

use std::path::{Path, PathBuf};

use bpfkit_elf as elf;
use bpfkit_elf::{DataKind, MapOrigin, SecKind};

use crate::error::{Error, Result};
use crate::link::Link;
use crate::map::Map;
use crate::program::{AttachType, Program, ProgramType};

pub use attach::AttachOutcome;

/// Where maps with `pinning = LIBBPF_PIN_BY_NAME` are pinned unless
/// [`ObjectBuilder::pin_root`] says otherwise (libbpf's default).
pub const DEFAULT_PIN_ROOT: &str = "/sys/fs/bpf";

/// Per-map adjustments made between open and load.
#[derive(Debug, Default)]
struct MapAdjust {
    reuse: Option<Map>,
}

/// Per-program adjustments made between open and load.
#[derive(Debug, Clone)]
struct ProgAdjust {
    autoload: bool,
    prog_type: Option<ProgramType>,
    attach_type: Option<Option<AttachType>>,
}

/// An opened object, not yet loaded: the open and adjust phases.
#[derive(Debug)]
pub struct ObjectBuilder {
    obj: elf::Object,
    maps: Vec<MapAdjust>,
    progs: Vec<ProgAdjust>,
    pin_root: PathBuf,
    skip_unsupported: bool,
    log_level: u32,
}

impl ObjectBuilder {
    /// Opens the object file at `path`; its name (the prefix of internal map names) is the file
    /// name up to the first `.`, as libbpf derives it.
    pub fn open_file(path: impl AsRef<Path>) -> Result<ObjectBuilder> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        ObjectBuilder::open_bytes(&elf::object_name_from_path(path), &bytes)
    }

    /// Opens object bytes (an embedded skeleton object, for instance) under object name `name`.
    pub fn open_bytes(name: &str, bytes: &[u8]) -> Result<ObjectBuilder> {
        // The ELF reader wants the headers 8-byte aligned, which `include_bytes!` data is not;
        // a fresh heap copy is (the allocator aligns to at least 8 on 64-bit targets).
        let aligned = bytes.to_vec();
        let obj = elf::Object::parse(name, &aligned)?;
        Ok(ObjectBuilder::from_parsed(obj))
    }

    /// Wraps an object model parsed elsewhere.
    pub fn from_parsed(obj: elf::Object) -> ObjectBuilder {
        let progs = obj
            .programs
            .iter()
            .map(|_| ProgAdjust {
                autoload: true,
                prog_type: None,
                attach_type: None,
            })
            .collect();
        let maps = obj.maps.iter().map(|_| MapAdjust::default()).collect();
        ObjectBuilder {
            obj,
            maps,
            progs,
            pin_root: PathBuf::from(DEFAULT_PIN_ROOT),
            skip_unsupported: false,
            log_level: 0,
        }
    }

    /// The object model as parsed (maps, programs, BTF …).
    pub fn object(&self) -> &elf::Object {
        &self.obj
    }

    /// The object name.
    pub fn name(&self) -> &str {
        &self.obj.name
    }

    fn fail(&self, detail: String) -> Error {
        Error::Object {
            object: self.obj.name.clone(),
            detail,
        }
    }

    fn map_idx(&self, name: &str) -> Result<usize> {
        self.obj.map_index(name).ok_or_else(|| {
            let names: Vec<&str> = self.obj.maps.iter().map(|m| m.name.as_str()).collect();
            self.fail(format!(
                "no map `{name}` (the object has: {})",
                names.join(", ")
            ))
        })
    }

    fn prog_idx(&self, name: &str) -> Result<usize> {
        self.obj
            .programs
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = self.obj.programs.iter().map(|p| p.name.as_str()).collect();
                self.fail(format!(
                    "no program `{name}` (the object has: {})",
                    names.join(", ")
                ))
            })
    }

    /// Finds a global variable of `.data`, `.rodata` or `.bss` (or their `.*` variants) by name:
    /// (map index, byte offset, size).
    fn var_slot(&self, var: &str) -> Result<(usize, usize, usize)> {
        for (i, m) in self.obj.maps.iter().enumerate() {
            let Some(d) = &m.data else { continue };
            if d.kind == DataKind::Kconfig {
                continue;
            }
            if let Some(v) = d.vars.iter().find(|v| v.name == var) {
                return Ok((i, v.offset as usize, v.size as usize));
            }
        }
        Err(self.fail(format!(
            "no global variable `{var}` in .data, .rodata or .bss"
        )))
    }

    /// Sets global variable `var` (of `.rodata`, `.data` or `.bss`) to `value` before load;
    /// `value` must have the variable's size.
    pub fn set_var(&mut self, var: &str, value: &[u8]) -> Result<&mut Self> {
        let (map, off, size) = self.var_slot(var)?;
        if value.len() != size {
            return Err(self.fail(format!(
                "variable `{var}` is {size} bytes; {} given",
                value.len()
            )));
        }
        let data = self.obj.maps[map].data.as_mut();
        let slot = data
            .and_then(|d| d.bytes.get_mut(off..off + size))
            .ok_or_else(|| Error::Object {
                object: String::new(),
                detail: format!("variable `{var}` lies outside its section"),
            })?;
        slot.copy_from_slice(value);
        Ok(self)
    }

    /// The current (initial) value of global variable `var`.
    pub fn var(&self, var: &str) -> Result<&[u8]> {
        let (map, off, size) = self.var_slot(var)?;
        self.obj.maps[map]
            .data
            .as_ref()
            .and_then(|d| d.bytes.get(off..off + size))
            .ok_or_else(|| self.fail(format!("variable `{var}` lies outside its section")))
    }

    /// The initial bytes of a whole data section map (`.rodata`, `.bss` …), by section name.
    pub fn section_data(&self, section: &str) -> Option<&[u8]> {
        self.obj
            .maps
            .iter()
            .filter_map(|m| m.data.as_ref())
            .find(|d| d.section == section)
            .map(|d| d.bytes.as_slice())
    }

    /// Replaces the initial bytes of data section `section` (same size required).
    pub fn set_section_data(&mut self, section: &str, bytes: &[u8]) -> Result<&mut Self> {
        let name = self.obj.name.clone();
        let d = self
            .obj
            .maps
            .iter_mut()
            .filter_map(|m| m.data.as_mut())
            .find(|d| d.section == section)
            .ok_or_else(|| Error::Object {
                object: name.clone(),
                detail: format!("no data section `{section}`"),
            })?;
        if d.bytes.len() != bytes.len() {
            return Err(Error::Object {
                object: name,
                detail: format!(
                    "section `{section}` is {} bytes; {} given",
                    d.bytes.len(),
                    bytes.len()
                ),
            });
        }
        d.bytes.copy_from_slice(bytes);
        Ok(self)
    }

    /// Sets a map's `max_entries` (a ring buffer's size in bytes) before load.
    pub fn set_max_entries(&mut self, map: &str, max_entries: u32) -> Result<&mut Self> {
        let i = self.map_idx(map)?;
        if self.obj.maps[i].is_internal() {
            return Err(self.fail(format!(
                "map `{map}` holds a data section; its size is the section's"
            )));
        }
        self.obj.maps[i].max_entries = max_entries;
        Ok(self)
    }

    /// Uses `existing` (e.g. [`Map::from_pin`]) instead of creating map `map`. Load checks that
    /// type, key and value sizes match the definition.
    pub fn reuse_map(&mut self, map: &str, existing: Map) -> Result<&mut Self> {
        let i = self.map_idx(map)?;
        self.maps[i].reuse = Some(existing);
        Ok(self)
    }

    /// Reuses the map pinned at `path` for map `map`.
    pub fn reuse_pinned_map(&mut self, map: &str, path: impl AsRef<Path>) -> Result<&mut Self> {
        let existing = Map::from_pin(path)?;
        self.reuse_map(map, existing)
    }

    /// Loads program `prog` with type `prog_type` (and `attach_type`) instead of what its
    /// section says.
    pub fn set_program_type(
        &mut self,
        prog: &str,
        prog_type: ProgramType,
        attach_type: Option<AttachType>,
    ) -> Result<&mut Self> {
        let i = self.prog_idx(prog)?;
        self.progs[i].prog_type = Some(prog_type);
        self.progs[i].attach_type = Some(attach_type);
        Ok(self)
    }

    /// Whether program `prog` is loaded (default true). A program left out is neither loaded nor
    /// attached, and its CO-RE relocations are not computed.
    pub fn set_autoload(&mut self, prog: &str, autoload: bool) -> Result<&mut Self> {
        let i = self.prog_idx(prog)?;
        self.progs[i].autoload = autoload;
        Ok(self)
    }

    /// Directory for maps pinned by name (default [`DEFAULT_PIN_ROOT`]).
    pub fn pin_root(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.pin_root = dir.into();
        self
    }

    /// Leave out, with a note in [`Object::skipped`], programs the kernel refuses for a missing
    /// feature or policy (fentry under lockdown …), as libbpf-tools do when they pick fallbacks.
    /// Off by default: then such a program fails the load.
    pub fn skip_unsupported(&mut self, skip: bool) -> &mut Self {
        self.skip_unsupported = skip;
        self
    }

    /// Verifier log level for every program (0: a log only on failure).
    pub fn log_level(&mut self, level: u32) -> &mut Self {
        self.log_level = level;
        self
    }

    /// Creates the maps, loads the programs: see the module documentation.
    pub fn load(self) -> Result<Object> {
        load::load(self)
    }
}

/// A program of a loaded [`Object`].
#[derive(Debug)]
pub struct ObjectProgram {
    /// Function name.
    pub name: String,
    /// ELF section it came from.
    pub section: String,
    /// What the section says about it.
    pub kind: Option<SecKind>,
    /// The loaded program.
    pub program: Program,
}

/// A map of a loaded [`Object`].
#[derive(Debug)]
pub struct ObjectMap {
    /// libbpf's name (`execsnoo.rodata` for data maps).
    pub name: String,
    /// The data section it holds, for internal maps.
    pub section: Option<String>,
    /// Where the map is pinned, when pinned by name.
    pub pinned_at: Option<PathBuf>,
    /// Whether an existing (pinned) map was reused rather than created.
    pub reused: bool,
    /// The map.
    pub map: Map,
}

/// A loaded object: its maps and programs, owned. Dropping it closes them (pinned ones stay).
#[derive(Debug)]
pub struct Object {
    name: String,
    maps: Vec<ObjectMap>,
    programs: Vec<ObjectProgram>,
    vars: Vec<(String, usize, usize, usize)>,
    skipped: Vec<(String, String)>,
    _btf: Option<std::os::fd::OwnedFd>,
}

impl Object {
    /// The object name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The maps, in the object's order (data maps included; inner-map templates are not).
    pub fn maps(&self) -> &[ObjectMap] {
        &self.maps
    }

    /// The loaded programs (those left out are missing).
    pub fn programs(&self) -> &[ObjectProgram] {
        &self.programs
    }

    /// Map `name`.
    pub fn map(&self, name: &str) -> Option<&Map> {
        self.maps.iter().find(|m| m.name == name).map(|m| &m.map)
    }

    /// The map holding data section `section` (`.rodata`, `.bss` …).
    pub fn section_map(&self, section: &str) -> Option<&Map> {
        self.maps
            .iter()
            .find(|m| m.section.as_deref() == Some(section))
            .map(|m| &m.map)
    }

    /// Program `name`.
    pub fn program(&self, name: &str) -> Option<&Program> {
        self.programs
            .iter()
            .find(|p| p.name == name)
            .map(|p| &p.program)
    }

    /// Programs left out by [`ObjectBuilder::skip_unsupported`], with the reason.
    pub fn skipped(&self) -> &[(String, String)] {
        &self.skipped
    }

    fn var_slot(&self, var: &str) -> Result<(&Map, usize, usize)> {
        let (_, map, off, size) =
            self.vars
                .iter()
                .find(|v| v.0 == var)
                .ok_or_else(|| Error::Object {
                    object: self.name.clone(),
                    detail: format!("no global variable `{var}` in .data, .rodata or .bss"),
                })?;
        Ok((&self.maps[*map].map, *off, *size))
    }

    /// Reads global variable `var` from its map now (what the programs see).
    pub fn read_var(&self, var: &str) -> Result<Vec<u8>> {
        let (map, off, size) = self.var_slot(var)?;
        let value = map.lookup(&0u32.to_ne_bytes())?.unwrap_or_default();
        value
            .get(off..off + size)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| Error::Object {
                object: self.name.clone(),
                detail: format!("variable `{var}` lies outside its map value"),
            })
    }

    /// Writes global variable `var` of `.data` or `.bss` (`.rodata` is frozen after load).
    pub fn write_var(&self, var: &str, value: &[u8]) -> Result<()> {
        let (map, off, size) = self.var_slot(var)?;
        if value.len() != size {
            return Err(Error::Object {
                object: self.name.clone(),
                detail: format!("variable `{var}` is {size} bytes; {} given", value.len()),
            });
        }
        let key = 0u32.to_ne_bytes();
        let mut whole = map.lookup(&key)?.unwrap_or_default();
        let slot = whole
            .get_mut(off..off + size)
            .ok_or_else(|| Error::Object {
                object: self.name.clone(),
                detail: format!("variable `{var}` lies outside its map value"),
            })?;
        slot.copy_from_slice(value);
        map.update(&key, &whole, 0)
    }

    /// Reads a whole data section map's value (`.bss`, `.data` …).
    pub fn read_section(&self, section: &str) -> Result<Vec<u8>> {
        let map = self.section_map(section).ok_or_else(|| Error::Object {
            object: self.name.clone(),
            detail: format!("no data section `{section}`"),
        })?;
        Ok(map.lookup(&0u32.to_ne_bytes())?.unwrap_or_default())
    }

    /// Writes a whole data section map's value.
    pub fn write_section(&self, section: &str, bytes: &[u8]) -> Result<()> {
        let map = self.section_map(section).ok_or_else(|| Error::Object {
            object: self.name.clone(),
            detail: format!("no data section `{section}`"),
        })?;
        map.update(&0u32.to_ne_bytes(), bytes, 0)
    }

    /// Attaches every program whose section names its target (`tracepoint/CAT/NAME`,
    /// `raw_tp/NAME`, `tp_btf/NAME`, `fentry/FUNC`, `uprobe/PATH:FUNC`, `kprobe/FUNC` …) and
    /// returns the links; programs whose section needs parameters (perf_event, xdp …) are
    /// skipped. The first failure is returned (links made so far detach when dropped).
    pub fn attach(&self) -> Result<Vec<Link>> {
        let mut links = Vec::new();
        for p in &self.programs {
            match attach::auto_attach(p)? {
                AttachOutcome::Attached(link) => links.push(link),
                AttachOutcome::NotAutoAttachable => {}
            }
        }
        Ok(links)
    }

    /// Attaches program `name` as its section says ([`AttachOutcome::NotAutoAttachable`] when
    /// the section does not name a target).
    pub fn attach_program(&self, name: &str) -> Result<AttachOutcome> {
        let p = self
            .programs
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| Error::Object {
                object: self.name.clone(),
                detail: format!("no loaded program `{name}`"),
            })?;
        attach::auto_attach(p)
    }
}

/// Detaches `links` at once: each is dropped on its own thread. Closing a tracepoint's (or
/// kprobe's) perf event waits for an RCU grace period in the kernel (tens of milliseconds);
/// dropped one after the other, the waits add up, dropped together they overlap. Returns when
/// every link is detached.
pub fn detach_all(links: Vec<Link>) {
    if links.len() < 2 {
        drop(links);
        return;
    }
    std::thread::scope(|s| {
        for link in links {
            s.spawn(move || drop(link));
        }
    });
}

/// Whether a map definition is created by the loader on its own.
fn is_created(def: &elf::MapDef) -> bool {
    def.origin != MapOrigin::InnerTemplate
}
