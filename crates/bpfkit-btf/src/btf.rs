//! Raw BTF: the header, the one-pass type index, strings, decoding on demand, name lookup.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{Error, Result};
use crate::types::*;

/// `BTF_MAGIC`.
pub const BTF_MAGIC: u16 = 0xeb9f;
/// Size of `struct btf_header`.
pub const HEADER_LEN: usize = 24;
/// Size of `struct btf_type` (the common part of each record).
pub const TYPE_LEN: usize = 12;

/// Where the kernel exposes its own BTF.
pub const VMLINUX_PATH: &str = "/sys/kernel/btf/vmlinux";

/// Shared storage of raw BTF bytes: a `Vec<u8>`, or anything else that derefs to bytes (for
/// example a read-only mapping of `/sys/kernel/btf/vmlinux` made by `bpfkit-sys`).
pub type SharedBytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

pub(crate) fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Parsed `struct btf_header`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Version (1).
    pub version: u8,
    /// Flags (0).
    pub flags: u8,
    /// Header length in bytes.
    pub hdr_len: u32,
    /// Type section offset, from the end of the header.
    pub type_off: u32,
    /// Type section length.
    pub type_len: u32,
    /// String section offset, from the end of the header.
    pub str_off: u32,
    /// String section length.
    pub str_len: u32,
}

/// Size in bytes of the record of kind `kind` with `vlen` entries, including the common part.
pub(crate) fn record_len(kind: Kind, vlen: u32) -> usize {
    let vlen = vlen as usize;
    TYPE_LEN
        + match kind {
            Kind::Int | Kind::Var | Kind::DeclTag => 4,
            Kind::Array => 12,
            Kind::Struct | Kind::Union | Kind::Datasec | Kind::Enum64 => 12 * vlen,
            Kind::Enum | Kind::FuncProto => 8 * vlen,
            _ => 0,
        }
}

/// Hash of a name's bytes for the name index (FNV-1a: short keys, no dependency).
fn name_hash(s: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in s {
        h = (h ^ b as u32).wrapping_mul(0x0100_0193);
    }
    h
}

/// Length of `name` without a CO-RE `___flavour` suffix: the last `___` that has a
/// non-underscore on both sides starts the flavour.
pub fn essential_name(name: &str) -> &str {
    let b = name.as_bytes();
    for at in (1..b.len().saturating_sub(3)).rev() {
        if &b[at..at + 3] == b"___" && b[at - 1] != b'_' && b[at + 3] != b'_' {
            return &name[..at];
        }
    }
    name
}

/// The undecoded words of one type record: what hot loops (the C dumper, size and alignment
/// walks) read instead of a full [`Type`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Raw<'a> {
    pub name_off: u32,
    pub info: u32,
    pub st: u32,
    /// The kind-specific words after the common 12 bytes (and what follows the record).
    pub extra: &'a [u8],
}

impl Raw<'_> {
    pub fn kind(&self) -> Kind {
        Kind::from_u32((self.info >> 24) & 0x1f).unwrap_or(Kind::Void)
    }

    pub fn vlen(&self) -> usize {
        (self.info & 0xffff) as usize
    }

    pub fn kflag(&self) -> bool {
        self.info >> 31 != 0
    }

    /// Word `i` of the kind-specific part (0 past its end, which indexing rules out).
    pub fn word(&self, i: usize) -> u32 {
        u32_at(self.extra, i * 4).unwrap_or(0)
    }
}

struct Inner {
    data: SharedBytes,
    header: Header,
    types_start: usize,
    types_end: usize,
    strs_start: usize,
    strs_end: usize,
    /// Offset (within the type section) of the record of type `start_id + i`.
    offsets: Vec<u32>,
    start_id: u32,
    start_str: u32,
    base: Option<Btf>,
    lookups: AtomicU32,
    names: OnceLock<NameIndex>,
    /// Ids per essential name found by the scans made before the index exists, so a loader
    /// asking for the same few names once per relocation scans once per name.
    scanned: Mutex<HashMap<Box<[u8]>, Vec<u32>>>,
}

/// Distinct names looked up by scanning before the full name index is built: a scan costs a
/// few milliseconds over vmlinux, the index about ten scans, and a CO-RE object names only a
/// handful of types.
const SCANS_BEFORE_INDEX: u32 = 8;

/// Open-addressing table of named type ids keyed by their essential name.
struct NameIndex {
    slots: Vec<u32>,
    mask: usize,
}

/// Parsed BTF: kernel (`vmlinux`), module (split) or object `.BTF`. Cheap to clone.
///
/// Parsing reads each record's header once to build an index of record offsets; nothing else is
/// decoded until asked for by [`Btf::type_by_id`].
#[derive(Clone)]
pub struct Btf {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Btf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Btf")
            .field("start_id", &self.inner.start_id)
            .field("types", &self.inner.offsets.len())
            .field("split", &self.inner.base.is_some())
            .finish()
    }
}

impl Btf {
    /// Parses raw BTF (vmlinux, an object's `.BTF` section), copying `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Btf> {
        Self::from_vec(bytes.to_vec())
    }

    /// Parses raw BTF, taking ownership of `bytes`.
    pub fn from_vec(bytes: Vec<u8>) -> Result<Btf> {
        Self::build(Arc::new(bytes), None)
    }

    /// Parses raw BTF held in shared storage (a memory mapping, say) without copying it,
    /// unless it is big-endian and must be converted.
    pub fn from_shared(data: SharedBytes) -> Result<Btf> {
        Self::build(data, None)
    }

    /// Parses split BTF (a kernel module's `/sys/kernel/btf/<module>`) on top of `base`.
    pub fn parse_split(bytes: &[u8], base: &Btf) -> Result<Btf> {
        Self::build(Arc::new(bytes.to_vec()), Some(base.clone()))
    }

    /// [`Btf::parse_split`] for shared storage.
    pub fn from_shared_split(data: SharedBytes, base: &Btf) -> Result<Btf> {
        Self::build(data, Some(base.clone()))
    }

    /// Reads and parses a raw BTF file.
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Btf> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_vec(bytes)
    }

    /// Reads and parses a split BTF file on top of `base`.
    pub fn from_file_split(path: impl AsRef<std::path::Path>, base: &Btf) -> Result<Btf> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::build(Arc::new(bytes), Some(base.clone()))
    }

    /// The running kernel's BTF, `/sys/kernel/btf/vmlinux`.
    pub fn vmlinux() -> Result<Btf> {
        Self::from_file(VMLINUX_PATH)
    }

    /// Alias of [`Btf::vmlinux`].
    pub fn from_sys_fs() -> Result<Btf> {
        Self::vmlinux()
    }

    /// A kernel module's BTF, `/sys/kernel/btf/<module>`, split on top of `vmlinux`.
    pub fn module(name: &str, vmlinux: &Btf) -> Result<Btf> {
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(Error::BadHeader {
                what: "BTF",
                detail: format!("{name:?} is not a kernel module name"),
            });
        }
        Self::from_file_split(format!("/sys/kernel/btf/{name}"), vmlinux)
    }

    fn build(data: SharedBytes, base: Option<Btf>) -> Result<Btf> {
        let raw = (*data).as_ref();
        if raw.len() < 2 {
            return Err(Error::Truncated {
                what: "BTF header",
                offset: 0,
                needed: HEADER_LEN - raw.len(),
            });
        }
        let magic = u16::from_le_bytes([raw[0], raw[1]]);
        let data: SharedBytes = if magic == BTF_MAGIC {
            data
        } else if magic == BTF_MAGIC.swap_bytes() {
            Arc::new(swap_endian(raw)?)
        } else {
            return Err(Error::BadMagic {
                what: "BTF",
                found: magic,
            });
        };
        let raw = (*data).as_ref();
        let header = parse_header(raw)?;
        let body = header.hdr_len as usize;
        let sect = |off: u32, len: u32, name: &str| -> Result<(usize, usize)> {
            let start = body.checked_add(off as usize);
            let end = start.and_then(|s| s.checked_add(len as usize));
            match (start, end) {
                (Some(s), Some(e)) if e <= raw.len() => Ok((s, e)),
                _ => Err(Error::BadHeader {
                    what: "BTF",
                    detail: format!(
                        "{name} section (offset {off}, length {len}) ends past the data ({} bytes after a {body}-byte header)",
                        raw.len().saturating_sub(body)
                    ),
                }),
            }
        };
        let (types_start, types_end) = sect(header.type_off, header.type_len, "type")?;
        let (strs_start, strs_end) = sect(header.str_off, header.str_len, "string")?;
        if types_start < strs_end && strs_start < types_end {
            return Err(Error::BadHeader {
                what: "BTF",
                detail: "type and string sections overlap".into(),
            });
        }
        if header.type_off % 4 != 0 {
            return Err(Error::BadHeader {
                what: "BTF",
                detail: format!(
                    "type section offset {} is not 4-byte aligned",
                    header.type_off
                ),
            });
        }
        let strs = &raw[strs_start..strs_end];
        if base.is_none() && strs.first().is_some_and(|&c| c != 0) {
            return Err(Error::BadHeader {
                what: "BTF",
                detail: "string section does not start with an empty string".into(),
            });
        }
        if strs.last().is_some_and(|&c| c != 0) {
            return Err(Error::BadHeader {
                what: "BTF",
                detail: "string section does not end with a NUL byte".into(),
            });
        }
        let (start_id, start_str) = match &base {
            Some(b) => (b.len() + 1, b.total_str_len()),
            None => (1, 0),
        };
        let total_strs = start_str as u64 + strs.len() as u64;
        let types = &raw[types_start..types_end];
        let offsets = index_types(types, start_id, total_strs)?;
        if start_id as u64 + offsets.len() as u64 > u32::MAX as u64 {
            return Err(Error::BadHeader {
                what: "BTF",
                detail: "more types than 32-bit ids can number".into(),
            });
        }
        Ok(Btf {
            inner: Arc::new(Inner {
                data,
                header,
                types_start,
                types_end,
                strs_start,
                strs_end,
                offsets,
                start_id,
                start_str,
                base,
                lookups: AtomicU32::new(0),
                names: OnceLock::new(),
                scanned: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The parsed header.
    pub fn header(&self) -> Header {
        self.inner.header
    }

    /// The whole raw BTF (header, types, strings) of this object, little-endian. Split BTF
    /// returns only its own part, as the kernel expects it.
    pub fn as_bytes(&self) -> &[u8] {
        (*self.inner.data).as_ref()
    }

    /// The raw type section.
    pub fn type_section(&self) -> &[u8] {
        &self.as_bytes()[self.inner.types_start..self.inner.types_end]
    }

    /// The raw string section of this object (not including a base's).
    pub fn string_section(&self) -> &[u8] {
        &self.as_bytes()[self.inner.strs_start..self.inner.strs_end]
    }

    /// The base BTF of split BTF.
    pub fn base(&self) -> Option<&Btf> {
        self.inner.base.as_ref()
    }

    /// The first type id defined by this object (1, or the base's last id + 1 for split BTF).
    pub fn start_id(&self) -> u32 {
        self.inner.start_id
    }

    /// The last valid type id (the number of types, not counting `void`, including a base's).
    pub fn len(&self) -> u32 {
        self.inner.start_id - 1 + self.inner.offsets.len() as u32
    }

    /// Whether there are no types besides `void`.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn total_str_len(&self) -> u32 {
        self.inner.start_str + (self.inner.strs_end - self.inner.strs_start) as u32
    }

    /// The NUL-terminated string at `offset` of the string section (the base's strings come
    /// first for split BTF).
    pub fn str_at(&self, offset: u32) -> Result<&str> {
        if offset == 0 {
            return Ok("");
        }
        if offset < self.inner.start_str {
            if let Some(b) = &self.inner.base {
                return b.str_at(offset);
            }
        }
        let rel = (offset - self.inner.start_str) as usize;
        let tail = self.string_section().get(rel..).unwrap_or(&[]);
        let c = std::ffi::CStr::from_bytes_until_nul(tail).map_err(|_| Error::BadString {
            offset,
            detail: if tail.is_empty() {
                "past the end of the string section"
            } else {
                "no NUL terminator"
            },
        })?;
        c.to_str().map_err(|_| Error::BadString {
            offset,
            detail: "not valid UTF-8",
        })
    }

    /// Raw bytes of the string at `offset` without the NUL, or `None` when out of range.
    fn str_bytes_at(&self, offset: u32) -> Option<&[u8]> {
        if offset < self.inner.start_str {
            return self.inner.base.as_ref()?.str_bytes_at(offset);
        }
        let tail = self
            .string_section()
            .get((offset - self.inner.start_str) as usize..)?;
        Some(std::ffi::CStr::from_bytes_until_nul(tail).ok()?.to_bytes())
    }

    /// Byte offset within the type section, and the raw slice from there, of own type `id`.
    fn record(&self, id: u32) -> Result<(&Btf, &[u8])> {
        if id < self.inner.start_id {
            if let Some(b) = &self.inner.base {
                return b.record(id);
            }
        }
        let idx = id.checked_sub(self.inner.start_id);
        let off = idx
            .and_then(|i| self.inner.offsets.get(i as usize))
            .ok_or_else(|| Error::TypeIdOutOfRange {
                id,
                max: self.len(),
            })?;
        Ok((self, &self.type_section()[*off as usize..]))
    }

    /// The raw words of type `id` (all zero for `void`).
    #[inline]
    pub(crate) fn raw(&self, id: u32) -> Result<Raw<'_>> {
        match self.raw_opt(id) {
            Some(r) => Ok(r),
            None => Err(Error::TypeIdOutOfRange {
                id,
                max: self.len(),
            }),
        }
    }

    fn raw_opt(&self, id: u32) -> Option<Raw<'_>> {
        if id == 0 {
            return Some(Raw {
                name_off: 0,
                info: 0,
                st: 0,
                extra: &[],
            });
        }
        let inner = &*self.inner;
        if id < inner.start_id {
            return inner.base.as_ref()?.raw_opt(id);
        }
        let off = *inner.offsets.get((id - inner.start_id) as usize)? as usize;
        let data: &[u8] = (*inner.data).as_ref();
        let rec = data.get(inner.types_start + off..inner.types_end)?;
        let (head, extra) = rec.split_at_checked(TYPE_LEN)?;
        let word = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
        // `extra` runs on past this record; the indexing pass checked that the words its vlen
        // implies are inside the section, and readers stop there.
        Some(Raw {
            name_off: word(0),
            info: word(4),
            st: word(8),
            extra,
        })
    }

    /// Bytes of the string at `offset` (empty when invalid; for hashing and comparing names).
    pub(crate) fn name_bytes(&self, offset: u32) -> &[u8] {
        self.str_bytes_at(offset).unwrap_or(&[])
    }

    /// Kind of type `id` without decoding the rest of it.
    pub fn kind_of(&self, id: u32) -> Result<Kind> {
        if id == 0 {
            return Ok(Kind::Void);
        }
        let (_, rec) = self.record(id)?;
        let info = u32_at(rec, 4).unwrap_or(0);
        Ok(Kind::from_u32((info >> 24) & 0x1f).unwrap_or(Kind::Void))
    }

    /// Name of type `id` (`""` when anonymous, and for `void`).
    pub fn name_of(&self, id: u32) -> Result<&str> {
        if id == 0 {
            return Ok("");
        }
        let (owner, rec) = self.record(id)?;
        owner.str_at(u32_at(rec, 0).unwrap_or(0))
    }

    /// Decodes type `id`.
    pub fn type_by_id(&self, id: u32) -> Result<Type<'_>> {
        if id == 0 {
            return Ok(Type {
                id: 0,
                kind: Kind::Void,
                name: "",
                name_off: 0,
                kind_flag: false,
                vlen: 0,
                size_or_type: 0,
                detail: Detail::Void,
            });
        }
        let (owner, rec) = self.record(id)?;
        owner.decode(id, rec)
    }

    fn decode<'a>(&'a self, id: u32, rec: &'a [u8]) -> Result<Type<'a>> {
        let w = |i: usize| -> Result<u32> {
            // A match, not `ok_or`: building the error eagerly costs a drop per word read.
            match u32_at(rec, i * 4) {
                Some(v) => Ok(v),
                None => Err(Error::Truncated {
                    what: "BTF type",
                    offset: i * 4,
                    needed: 4,
                }),
            }
        };
        let name_off = w(0)?;
        let info = w(1)?;
        let st = w(2)?;
        let kind = Kind::from_u32((info >> 24) & 0x1f).ok_or_else(|| Error::BadType {
            id,
            detail: "unknown kind".into(),
        })?;
        let vlen = (info & 0xffff) as u16;
        let kflag = info >> 31 != 0;
        let name = self.str_at(name_off)?;
        let n = vlen as usize;
        let detail = match kind {
            Kind::Void => Detail::Void,
            Kind::Int => {
                let x = w(3)?;
                Detail::Int(Int {
                    size: st,
                    encoding: ((x >> 24) & 0x0f) as u8,
                    offset: ((x >> 16) & 0xff) as u8,
                    bits: (x & 0xff) as u8,
                })
            }
            Kind::Ptr => Detail::Ptr { type_id: st },
            Kind::Array => Detail::Array(Array {
                elem_type: w(3)?,
                index_type: w(4)?,
                nelems: w(5)?,
            }),
            Kind::Struct | Kind::Union => {
                let mut members = Vec::with_capacity(n);
                for i in 0..n {
                    let b = 3 + i * 3;
                    let (moff, mtype, mbits) = (w(b)?, w(b + 1)?, w(b + 2)?);
                    let (bit_offset, bitfield_size) = if kflag {
                        (mbits & 0x00ff_ffff, (mbits >> 24) as u8)
                    } else {
                        (mbits, 0)
                    };
                    members.push(Member {
                        name: self.str_at(moff)?,
                        name_off: moff,
                        type_id: mtype,
                        bit_offset,
                        bitfield_size,
                    });
                }
                Detail::Composite { size: st, members }
            }
            Kind::Enum | Kind::Enum64 => {
                let is64 = kind == Kind::Enum64;
                let stride = if is64 { 3 } else { 2 };
                let mut values = Vec::with_capacity(n);
                for i in 0..n {
                    let b = 3 + i * stride;
                    let voff = w(b)?;
                    let value = if is64 {
                        (w(b + 1)? as u64) | ((w(b + 2)? as u64) << 32)
                    } else if kflag {
                        w(b + 1)? as i32 as i64 as u64
                    } else {
                        w(b + 1)? as u64
                    };
                    values.push(EnumValue {
                        name: self.str_at(voff)?,
                        name_off: voff,
                        value,
                    });
                }
                Detail::Enum(Enum {
                    size: st,
                    signed: kflag,
                    is64,
                    values,
                })
            }
            Kind::Fwd => Detail::Fwd { is_union: kflag },
            Kind::Typedef | Kind::Volatile | Kind::Const | Kind::Restrict => {
                Detail::Ref { type_id: st }
            }
            Kind::TypeTag => Detail::TypeTag { type_id: st },
            Kind::Func => Detail::Func {
                proto: st,
                linkage: FuncLinkage::from_u16(vlen),
            },
            Kind::FuncProto => {
                let mut params = Vec::with_capacity(n);
                for i in 0..n {
                    let poff = w(3 + i * 2)?;
                    params.push(Param {
                        name: self.str_at(poff)?,
                        name_off: poff,
                        type_id: w(4 + i * 2)?,
                    });
                }
                Detail::FuncProto(FuncProto {
                    ret_type: st,
                    params,
                })
            }
            Kind::Var => Detail::Var {
                type_id: st,
                linkage: VarLinkage::from_u32(w(3)?),
            },
            Kind::Datasec => {
                let mut vars = Vec::with_capacity(n);
                for i in 0..n {
                    let b = 3 + i * 3;
                    vars.push(VarSecinfo {
                        type_id: w(b)?,
                        offset: w(b + 1)?,
                        size: w(b + 2)?,
                    });
                }
                Detail::Datasec { size: st, vars }
            }
            Kind::Float => Detail::Float { size: st },
            Kind::DeclTag => Detail::DeclTag {
                type_id: st,
                component_idx: w(3)? as i32,
            },
        };
        Ok(Type {
            id,
            kind,
            name,
            name_off,
            kind_flag: kflag,
            vlen,
            size_or_type: st,
            detail,
        })
    }

    /// All types of this object (not a base's) in id order.
    pub fn types(&self) -> impl Iterator<Item = Result<Type<'_>>> + '_ {
        (self.inner.start_id..=self.len()).map(move |id| self.type_by_id(id))
    }

    /// Follows typedefs and modifiers (const, volatile, restrict, type tags) from `id` to the
    /// first type that is none of them.
    pub fn resolve_type(&self, id: u32) -> Result<u32> {
        let mut cur = id;
        for _ in 0..=self.len() {
            let r = self.raw(cur)?;
            match r.kind() {
                Kind::Typedef | Kind::Const | Kind::Volatile | Kind::Restrict | Kind::TypeTag => {
                    cur = r.st
                }
                _ => return Ok(cur),
            }
        }
        Err(Error::TypeLoop { id })
    }

    /// Follows only modifiers (not typedefs) from `id`.
    pub fn skip_modifiers(&self, id: u32) -> Result<u32> {
        let mut cur = id;
        for _ in 0..=self.len() {
            if !self.kind_of(cur)?.is_modifier() {
                return Ok(cur);
            }
            let (_, rec) = self.record(cur)?;
            cur = u32_at(rec, 8).unwrap_or(0);
        }
        Err(Error::TypeLoop { id })
    }

    /// Size in bytes of an object of type `id` (through typedefs, modifiers and arrays;
    /// pointers are 8 bytes). Errors for kinds without a size (void, func, fwd…).
    pub fn type_size(&self, id: u32) -> Result<u64> {
        let mut cur = id;
        let mut mult: u64 = 1;
        for _ in 0..=self.len() {
            let r = self.raw(cur)?;
            let size = match r.kind() {
                Kind::Ptr => 8,
                Kind::Typedef
                | Kind::Const
                | Kind::Volatile
                | Kind::Restrict
                | Kind::TypeTag
                | Kind::Var => {
                    cur = r.st;
                    continue;
                }
                Kind::Array => {
                    mult = mult.checked_mul(r.word(2) as u64).ok_or(Error::BadType {
                        id: cur,
                        detail: "array size overflows".into(),
                    })?;
                    cur = r.word(0);
                    continue;
                }
                Kind::Int
                | Kind::Struct
                | Kind::Union
                | Kind::Enum
                | Kind::Enum64
                | Kind::Float
                | Kind::Datasec => r.st as u64,
                k => {
                    return Err(Error::WrongKind {
                        id: cur,
                        expected: "a type with a size",
                        found: k.as_str(),
                    })
                }
            };
            return mult.checked_mul(size).ok_or(Error::BadType {
                id,
                detail: "size overflows".into(),
            });
        }
        Err(Error::TypeLoop { id })
    }

    /// Name offset and kind of own type at index `i` (from the record header, no decoding).
    fn own_name_kind(&self, i: usize) -> Option<(u32, u32)> {
        let off = *self.inner.offsets.get(i)? as usize;
        let ts = self.type_section();
        Some((u32_at(ts, off)?, (u32_at(ts, off + 4)? >> 24) & 0x1f))
    }

    fn build_index(&self) -> NameIndex {
        let n = self.inner.offsets.len();
        let cap = (n + n / 2).next_power_of_two().max(16);
        let mask = cap - 1;
        let mut slots = vec![0u32; cap];
        for i in 0..n {
            let Some((noff, _)) = self.own_name_kind(i) else {
                continue;
            };
            if noff == 0 {
                continue;
            }
            let Some(name) = self.str_bytes_at(noff) else {
                continue;
            };
            let Ok(name) = std::str::from_utf8(name) else {
                continue;
            };
            let mut s = name_hash(essential_name(name).as_bytes()) as usize & mask;
            while slots[s] != 0 {
                s = (s + 1) & mask;
            }
            slots[s] = self.inner.start_id + i as u32;
        }
        NameIndex { slots, mask }
    }

    /// Calls `f` with each own type id whose essential name (without `___flavour`) is `ess`.
    fn for_each_essential(&self, ess: &str, mut f: impl FnMut(u32, bool) -> bool) {
        let want = ess.as_bytes();
        let index = match self.inner.names.get() {
            Some(ix) => Some(ix),
            None => {
                let mut scanned = self.inner.scanned.lock().unwrap_or_else(|e| e.into_inner());
                let ids = match scanned.get(want) {
                    Some(ids) => Some(ids.clone()),
                    None if self.inner.lookups.load(Ordering::Relaxed) < SCANS_BEFORE_INDEX => {
                        self.inner.lookups.fetch_add(1, Ordering::Relaxed);
                        let ids = self.scan_essential(want);
                        scanned.insert(want.into(), ids.clone());
                        Some(ids)
                    }
                    None => None,
                };
                drop(scanned);
                match ids {
                    Some(ids) => {
                        // Ascending, so the first hit is the lowest id.
                        for id in ids {
                            if !f(id, true) {
                                return;
                            }
                        }
                        return;
                    }
                    None => Some(self.inner.names.get_or_init(|| self.build_index())),
                }
            }
        };
        if let Some(ix) = index {
            let mut s = name_hash(want) as usize & ix.mask;
            while let Some(&id) = ix.slots.get(s) {
                if id == 0 {
                    break;
                }
                let i = (id - self.inner.start_id) as usize;
                if let Some(name) = self
                    .own_name_kind(i)
                    .and_then(|(o, _)| self.str_bytes_at(o))
                {
                    if std::str::from_utf8(name).is_ok_and(|n| essential_name(n).as_bytes() == want)
                        && !f(id, false)
                    {
                        return;
                    }
                }
                s = (s + 1) & ix.mask;
            }
        }
    }

    /// Own type ids, ascending, whose essential name is `want`, by one pass over the records.
    fn scan_essential(&self, want: &[u8]) -> Vec<u32> {
        let mut out = Vec::new();
        let strs = self.string_section();
        for i in 0..self.inner.offsets.len() {
            let Some((noff, _)) = self.own_name_kind(i) else {
                continue;
            };
            if noff == 0 {
                continue;
            }
            // Compare the prefix in place before looking for the name's end (a split BTF
            // name in the base's strings is read from there).
            if let Some(tail) = noff
                .checked_sub(self.inner.start_str)
                .and_then(|o| strs.get(o as usize..))
            {
                if tail.len() < want.len() || &tail[..want.len()] != want {
                    continue;
                }
            }
            let Some(name) = self.str_bytes_at(noff) else {
                continue;
            };
            if std::str::from_utf8(name).is_ok_and(|n| essential_name(n).as_bytes() == want) {
                out.push(self.inner.start_id + i as u32);
            }
        }
        out
    }

    /// All type ids (base first, ascending) whose name without a `___flavour` suffix equals
    /// `name`'s, of kind `kind` (any kind when `None`). These are CO-RE's candidates.
    pub fn find_candidates(&self, name: &str, kind: Option<Kind>) -> Vec<u32> {
        let mut out = match &self.inner.base {
            Some(b) => b.find_candidates(name, kind),
            None => Vec::new(),
        };
        let start = out.len();
        self.for_each_essential(essential_name(name), |id, _| {
            if kind.is_none_or(|k| self.kind_of(id).ok() == Some(k)) {
                out.push(id);
            }
            true
        });
        out[start..].sort_unstable();
        out
    }

    /// The lowest type id named exactly `name` of kind `kind` (base first for split BTF).
    pub fn find_by_name_kind(&self, name: &str, kind: Kind) -> Option<u32> {
        self.find_by_name_impl(name, Some(kind))
    }

    /// The lowest type id named exactly `name`, of any kind.
    pub fn find_by_name(&self, name: &str) -> Option<u32> {
        self.find_by_name_impl(name, None)
    }

    fn find_by_name_impl(&self, name: &str, kind: Option<Kind>) -> Option<u32> {
        if name.is_empty() {
            return None;
        }
        if let Some(b) = &self.inner.base {
            if let Some(id) = b.find_by_name_impl(name, kind) {
                return Some(id);
            }
        }
        let mut best: Option<u32> = None;
        self.for_each_essential(essential_name(name), |id, in_order| {
            let i = (id - self.inner.start_id) as usize;
            if let Some((noff, k)) = self.own_name_kind(i) {
                if kind.is_none_or(|want| want as u32 == k)
                    && self.str_bytes_at(noff) == Some(name.as_bytes())
                {
                    best = Some(best.map_or(id, |b| b.min(id)));
                    // A scan visits ids in order, so its first hit is the lowest.
                    return !in_order;
                }
            }
            true
        });
        best
    }
}

/// The indexing pass: the offset of every record, checking each record's kind, name offset and
/// length. Kept tight, since it is all that parsing costs.
fn index_types(types: &[u8], start_id: u32, total_strs: u64) -> Result<Vec<u32>> {
    // Bytes of kind-specific data: fixed per kind, plus per vlen entry; u16::MAX marks
    // kinds that do not exist.
    const FIXED: [u16; 32] = {
        let mut t = [u16::MAX; 32];
        let mut k = 1;
        while k < 20 {
            t[k] = match k {
                1 | 14 | 17 => 4,
                3 => 12,
                _ => 0,
            };
            k += 1;
        }
        t
    };
    const PER_VLEN: [u8; 32] = {
        let mut t = [0u8; 32];
        t[4] = 12;
        t[5] = 12;
        t[15] = 12;
        t[19] = 12;
        t[6] = 8;
        t[13] = 8;
        t
    };
    let mut offsets = Vec::with_capacity(types.len() / 24 + 1);
    let n = types.len();
    let mut off = 0usize;
    while off < n {
        let Some(head) = types.get(off..off + TYPE_LEN) else {
            return Err(Error::Truncated {
                what: "BTF type",
                offset: off,
                needed: off + TYPE_LEN - n,
            });
        };
        let name_off = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let info = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let kind = ((info >> 24) & 0x1f) as usize;
        let fixed = FIXED[kind];
        if fixed == u16::MAX || name_off as u64 >= total_strs {
            let id = start_id.saturating_add(offsets.len() as u32);
            return Err(Error::BadType {
                id,
                detail: if fixed == u16::MAX {
                    format!("unknown kind {kind} at type section offset {off}")
                } else {
                    format!(
                        "name offset {name_off} is past the string section ({total_strs} bytes)"
                    )
                },
            });
        }
        let len = TYPE_LEN + fixed as usize + PER_VLEN[kind] as usize * (info & 0xffff) as usize;
        if off + len > n {
            return Err(Error::Truncated {
                what: "BTF type",
                offset: off,
                needed: off + len - n,
            });
        }
        offsets.push(off as u32);
        off += len;
    }
    Ok(offsets)
}

fn parse_header(raw: &[u8]) -> Result<Header> {
    if raw.len() < HEADER_LEN {
        return Err(Error::Truncated {
            what: "BTF header",
            offset: 0,
            needed: HEADER_LEN - raw.len(),
        });
    }
    let w = |i| u32_at(raw, i).unwrap_or(0);
    let h = Header {
        version: raw[2],
        flags: raw[3],
        hdr_len: w(4),
        type_off: w(8),
        type_len: w(12),
        str_off: w(16),
        str_len: w(20),
    };
    if h.version != 1 {
        return Err(Error::BadHeader {
            what: "BTF",
            detail: format!("version {} is not supported (only 1)", h.version),
        });
    }
    if (h.hdr_len as usize) < HEADER_LEN || h.hdr_len as usize > raw.len() {
        return Err(Error::BadHeader {
            what: "BTF",
            detail: format!(
                "header length {} (data is {} bytes, minimum 24)",
                h.hdr_len,
                raw.len()
            ),
        });
    }
    // A longer header from a newer writer is fine only if its extra bytes are zero.
    if raw[HEADER_LEN..h.hdr_len as usize].iter().any(|&b| b != 0) {
        return Err(Error::BadHeader {
            what: "BTF",
            detail: "header has unknown non-zero fields".into(),
        });
    }
    Ok(h)
}

/// Converts big-endian BTF to little-endian: every field of the header after the first four
/// bytes and every type record word is a 32-bit integer.
fn swap_endian(raw: &[u8]) -> Result<Vec<u8>> {
    if raw.len() < HEADER_LEN {
        return Err(Error::Truncated {
            what: "BTF header",
            offset: 0,
            needed: HEADER_LEN - raw.len(),
        });
    }
    let mut out = raw.to_vec();
    out[0] = raw[1];
    out[1] = raw[0];
    let be = |i: usize| u32::from_be_bytes([raw[i], raw[i + 1], raw[i + 2], raw[i + 3]]);
    for i in (4..HEADER_LEN).step_by(4) {
        out[i..i + 4].copy_from_slice(&be(i).to_le_bytes());
    }
    let hdr_len = be(4) as usize;
    let (toff, tlen) = (be(8) as usize, be(12) as usize);
    let start = hdr_len.saturating_add(toff);
    let end = start.saturating_add(tlen);
    if end > raw.len() || tlen % 4 != 0 {
        return Err(Error::BadHeader {
            what: "BTF",
            detail: "big-endian type section is out of range or not a whole number of words".into(),
        });
    }
    for i in (start..end).step_by(4) {
        out[i..i + 4].copy_from_slice(&be(i).to_le_bytes());
    }
    Ok(out)
}
