//! Building BTF: new types from scratch or edits of parsed BTF, serialised to the raw format the
//! kernel loads; and sanitising an object's BTF for kernels that lack some kinds.

use std::collections::HashMap;

use crate::btf::{Btf, BTF_MAGIC, HEADER_LEN};
use crate::error::{Error, Result};
use crate::types::*;

/// One encoded type record: the common words plus the kind-specific words.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Rec {
    name_off: u32,
    info: u32,
    st: u32,
    extra: Vec<u32>,
}

fn info(kind: Kind, kflag: bool, vlen: usize) -> Result<u32> {
    let vlen = u16::try_from(vlen)
        .map_err(|_| Error::Build(format!("{kind} with {vlen} entries (the maximum is 65535)")))?;
    Ok(((kflag as u32) << 31) | ((kind as u32) << 24) | vlen as u32)
}

/// A member of a struct or union being built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMember<'a> {
    /// Name (`""` for an anonymous member).
    pub name: &'a str,
    /// Member type id.
    pub type_id: u32,
    /// Offset in bits.
    pub bit_offset: u32,
    /// Bitfield width in bits, 0 for an ordinary member.
    pub bitfield_size: u8,
}

/// Builds BTF type by type. Ids are handed out in order, starting at 1 (or after the types of
/// the BTF the builder started from). Strings are interned.
#[derive(Clone, Debug, Default)]
pub struct BtfBuilder {
    recs: Vec<Rec>,
    strings: Vec<u8>,
    interned: HashMap<String, u32>,
}

impl BtfBuilder {
    /// An empty builder (type ids start at 1).
    pub fn new() -> Self {
        BtfBuilder {
            recs: Vec::new(),
            strings: vec![0],
            interned: HashMap::new(),
        }
    }

    /// A builder holding every type of `btf` (which must not be split BTF), to edit or extend.
    pub fn from_btf(btf: &Btf) -> Result<Self> {
        if btf.base().is_some() {
            return Err(Error::Build(
                "split BTF cannot be rebuilt on its own".into(),
            ));
        }
        let mut b = BtfBuilder {
            recs: Vec::with_capacity(btf.len() as usize),
            strings: btf.string_section().to_vec(),
            interned: HashMap::new(),
        };
        if b.strings.is_empty() {
            b.strings.push(0);
        }
        for id in 1..=btf.len() {
            let r = btf.raw(id)?;
            let words = crate::btf::record_len(r.kind(), r.info & 0xffff) / 4 - 3;
            let extra = (0..words).map(|i| r.word(i)).collect();
            b.recs.push(Rec {
                name_off: r.name_off,
                info: r.info,
                st: r.st,
                extra,
            });
        }
        Ok(b)
    }

    /// The last id handed out (the number of types).
    pub fn len(&self) -> u32 {
        self.recs.len() as u32
    }

    /// Whether no type has been added.
    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }

    /// Offset of `s` in the string section, adding it when new.
    pub fn add_string(&mut self, s: &str) -> Result<u32> {
        if s.is_empty() {
            return Ok(0);
        }
        if s.contains('\0') {
            return Err(Error::Build(format!("name {s:?} contains a NUL byte")));
        }
        if let Some(&off) = self.interned.get(s) {
            return Ok(off);
        }
        let off = u32::try_from(self.strings.len())
            .map_err(|_| Error::Build("string section exceeds 4 GiB".into()))?;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        self.interned.insert(s.to_string(), off);
        Ok(off)
    }

    fn push(&mut self, name: &str, info: u32, st: u32, extra: Vec<u32>) -> Result<u32> {
        let name_off = self.add_string(name)?;
        self.recs.push(Rec {
            name_off,
            info,
            st,
            extra,
        });
        u32::try_from(self.recs.len()).map_err(|_| Error::Build("too many types".into()))
    }

    /// Adds an integer of `size` bytes with `encoding` ([`INT_SIGNED`] …), all bits used.
    pub fn add_int(&mut self, name: &str, size: u32, encoding: u8) -> Result<u32> {
        if !matches!(size, 1 | 2 | 4 | 8 | 16) {
            return Err(Error::Build(format!(
                "int {name:?} of {size} bytes (1, 2, 4, 8 or 16)"
            )));
        }
        let word = ((encoding as u32 & 0xf) << 24) | (size * 8);
        self.push(name, info(Kind::Int, false, 0)?, size, vec![word])
    }

    /// Adds a pointer to `type_id`.
    pub fn add_ptr(&mut self, type_id: u32) -> Result<u32> {
        self.push("", info(Kind::Ptr, false, 0)?, type_id, vec![])
    }

    /// Adds an array of `nelems` elements of `elem_type`, indexed by `index_type`.
    pub fn add_array(&mut self, elem_type: u32, index_type: u32, nelems: u32) -> Result<u32> {
        self.push(
            "",
            info(Kind::Array, false, 0)?,
            0,
            vec![elem_type, index_type, nelems],
        )
    }

    fn add_composite(
        &mut self,
        kind: Kind,
        name: &str,
        size: u32,
        members: &[NewMember<'_>],
    ) -> Result<u32> {
        let kflag = members.iter().any(|m| m.bitfield_size != 0);
        let mut extra = Vec::with_capacity(members.len() * 3);
        for m in members {
            let off = if kflag {
                if m.bit_offset > 0xff_ffff {
                    return Err(Error::Build(format!(
                        "member {:?} of {name:?}: bit offset {} does not fit 24 bits beside a bitfield",
                        m.name, m.bit_offset
                    )));
                }
                ((m.bitfield_size as u32) << 24) | m.bit_offset
            } else {
                m.bit_offset
            };
            extra.extend([self.add_string(m.name)?, m.type_id, off]);
        }
        self.push(name, info(kind, kflag, members.len())?, size, extra)
    }

    /// Adds a struct of `size` bytes.
    pub fn add_struct(&mut self, name: &str, size: u32, members: &[NewMember<'_>]) -> Result<u32> {
        self.add_composite(Kind::Struct, name, size, members)
    }

    /// Adds a union of `size` bytes.
    pub fn add_union(&mut self, name: &str, size: u32, members: &[NewMember<'_>]) -> Result<u32> {
        self.add_composite(Kind::Union, name, size, members)
    }

    /// Adds an enum; a 64-bit one (`ENUM64`) when a value does not fit 32 bits or `size` is 8.
    pub fn add_enum(
        &mut self,
        name: &str,
        size: u32,
        signed: bool,
        values: &[(&str, i64)],
    ) -> Result<u32> {
        let wide = size == 8
            || values.iter().any(|&(_, v)| {
                if signed {
                    i32::try_from(v).is_err()
                } else {
                    u32::try_from(v).is_err()
                }
            });
        let mut extra = Vec::with_capacity(values.len() * 3);
        for &(n, v) in values {
            extra.push(self.add_string(n)?);
            extra.push(v as u32);
            if wide {
                extra.push((v as u64 >> 32) as u32);
            }
        }
        let kind = if wide { Kind::Enum64 } else { Kind::Enum };
        self.push(name, info(kind, signed, values.len())?, size, extra)
    }

    /// Adds a forward declaration of a struct (or union).
    pub fn add_fwd(&mut self, name: &str, is_union: bool) -> Result<u32> {
        self.push(name, info(Kind::Fwd, is_union, 0)?, 0, vec![])
    }

    /// Adds a typedef.
    pub fn add_typedef(&mut self, name: &str, type_id: u32) -> Result<u32> {
        self.push(name, info(Kind::Typedef, false, 0)?, type_id, vec![])
    }

    /// Adds `const`, `volatile` or `restrict` (`kind`) of `type_id`.
    pub fn add_modifier(&mut self, kind: Kind, type_id: u32) -> Result<u32> {
        if !matches!(kind, Kind::Const | Kind::Volatile | Kind::Restrict) {
            return Err(Error::Build(format!("{kind} is not a modifier")));
        }
        self.push("", info(kind, false, 0)?, type_id, vec![])
    }

    /// Adds a function prototype; a parameter of type 0 last means `...`.
    pub fn add_func_proto(&mut self, ret_type: u32, params: &[(&str, u32)]) -> Result<u32> {
        let mut extra = Vec::with_capacity(params.len() * 2);
        for &(n, t) in params {
            extra.extend([self.add_string(n)?, t]);
        }
        self.push(
            "",
            info(Kind::FuncProto, false, params.len())?,
            ret_type,
            extra,
        )
    }

    /// Adds a function of prototype `proto`.
    pub fn add_func(&mut self, name: &str, proto: u32, linkage: FuncLinkage) -> Result<u32> {
        self.push(
            name,
            info(Kind::Func, false, linkage.as_u16() as usize)?,
            proto,
            vec![],
        )
    }

    /// Adds a variable.
    pub fn add_var(&mut self, name: &str, type_id: u32, linkage: VarLinkage) -> Result<u32> {
        self.push(
            name,
            info(Kind::Var, false, 0)?,
            type_id,
            vec![linkage.as_u32()],
        )
    }

    /// Adds a data section.
    pub fn add_datasec(&mut self, name: &str, size: u32, vars: &[VarSecinfo]) -> Result<u32> {
        let extra = vars
            .iter()
            .flat_map(|v| [v.type_id, v.offset, v.size])
            .collect();
        self.push(name, info(Kind::Datasec, false, vars.len())?, size, extra)
    }

    /// Adds a floating point type.
    pub fn add_float(&mut self, name: &str, size: u32) -> Result<u32> {
        self.push(name, info(Kind::Float, false, 0)?, size, vec![])
    }

    /// Adds a declaration tag on `type_id` (member or parameter `component_idx`, or -1).
    pub fn add_decl_tag(&mut self, tag: &str, type_id: u32, component_idx: i32) -> Result<u32> {
        self.push(
            tag,
            info(Kind::DeclTag, false, 0)?,
            type_id,
            vec![component_idx as u32],
        )
    }

    /// Adds a type tag on `type_id`.
    pub fn add_type_tag(&mut self, tag: &str, type_id: u32) -> Result<u32> {
        self.push(tag, info(Kind::TypeTag, false, 0)?, type_id, vec![])
    }

    fn rec_mut(&mut self, id: u32, want: Kind) -> Result<&mut Rec> {
        let max = self.len();
        let rec = id
            .checked_sub(1)
            .and_then(|i| self.recs.get_mut(i as usize))
            .ok_or(Error::TypeIdOutOfRange { id, max })?;
        let found = Kind::from_u32((rec.info >> 24) & 0x1f).unwrap_or(Kind::Void);
        if found != want {
            return Err(Error::WrongKind {
                id,
                expected: want.as_str(),
                found: found.as_str(),
            });
        }
        Ok(rec)
    }

    /// Replaces the size and variables of DATASEC `id` (what a loader learns from the ELF file).
    pub fn set_datasec(&mut self, id: u32, size: u32, vars: &[VarSecinfo]) -> Result<()> {
        let vlen = vars.len();
        let rec = self.rec_mut(id, Kind::Datasec)?;
        rec.st = size;
        rec.info = info(Kind::Datasec, false, vlen)?;
        rec.extra = vars
            .iter()
            .flat_map(|v| [v.type_id, v.offset, v.size])
            .collect();
        Ok(())
    }

    /// Sets the linkage of VAR `id`.
    pub fn set_var_linkage(&mut self, id: u32, linkage: VarLinkage) -> Result<()> {
        let rec = self.rec_mut(id, Kind::Var)?;
        rec.extra = vec![linkage.as_u32()];
        Ok(())
    }

    /// Sets the linkage of FUNC `id`.
    pub fn set_func_linkage(&mut self, id: u32, linkage: FuncLinkage) -> Result<()> {
        let rec = self.rec_mut(id, Kind::Func)?;
        rec.info = info(Kind::Func, false, linkage.as_u16() as usize)?;
        Ok(())
    }

    /// The raw BTF: header, type section, string section (little-endian).
    pub fn to_bytes(&self) -> Vec<u8> {
        let type_len: usize = self.recs.iter().map(|r| 12 + 4 * r.extra.len()).sum();
        let mut out = Vec::with_capacity(HEADER_LEN + type_len + self.strings.len());
        out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        for w in [
            HEADER_LEN as u32,
            0,
            type_len as u32,
            type_len as u32,
            self.strings.len() as u32,
        ] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        for r in &self.recs {
            for w in [r.name_off, r.info, r.st].iter().chain(&r.extra) {
                out.extend_from_slice(&w.to_le_bytes());
            }
        }
        out.extend_from_slice(&self.strings);
        out
    }

    /// Serialises and parses the result.
    pub fn build(&self) -> Result<Btf> {
        Btf::from_vec(self.to_bytes())
    }
}

/// Which BTF kinds and flags a kernel accepts. [`Features::all`] is the newest kernel; the
/// `since_*` fields name the version that introduced each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Features {
    /// FUNC and FUNC_PROTO (Linux 5.0).
    pub func: bool,
    /// VAR and DATASEC (Linux 5.2).
    pub datasec: bool,
    /// Global linkage on FUNC (Linux 5.6).
    pub func_global: bool,
    /// FLOAT (Linux 5.13).
    pub float: bool,
    /// DECL_TAG (Linux 5.16).
    pub decl_tag: bool,
    /// TYPE_TAG (Linux 5.17).
    pub type_tag: bool,
    /// ENUM64 and signed enums (Linux 6.0).
    pub enum64: bool,
}

impl Features {
    /// Everything supported.
    pub fn all() -> Self {
        Features {
            func: true,
            datasec: true,
            func_global: true,
            float: true,
            decl_tag: true,
            type_tag: true,
            enum64: true,
        }
    }

    /// What a kernel of version `major.minor` supports, by the versions that introduced each.
    pub fn for_kernel(major: u32, minor: u32) -> Self {
        let at_least = |a: u32, b: u32| (major, minor) >= (a, b);
        Features {
            func: at_least(5, 0),
            datasec: at_least(5, 2),
            func_global: at_least(5, 6),
            float: at_least(5, 13),
            decl_tag: at_least(5, 16),
            type_tag: at_least(5, 17),
            enum64: at_least(6, 0),
        }
    }
}

/// Replaces `.` (which old kernels refuse in names) with `_`.
fn dotless(s: &str) -> String {
    s.replace('.', "_")
}

impl Btf {
    /// A copy of this BTF the kernel described by `features` accepts. Type ids do not change:
    /// each unsupported record is rewritten as a supported one of no consequence for loading
    /// (FUNC_PROTO → ENUM of its parameter names, FUNC → TYPEDEF, VAR → INT, DATASEC → STRUCT,
    /// FLOAT → STRUCT of the same size, DECL_TAG → INT, TYPE_TAG → CONST, ENUM64 → ENUM with the
    /// low 32 bits, global FUNC → static, signed ENUM → unsigned).
    pub fn sanitize(&self, features: &Features) -> Result<Btf> {
        if self.base().is_some() {
            return Err(Error::Build(
                "split BTF cannot be sanitised on its own".into(),
            ));
        }
        let mut b = BtfBuilder::from_btf(self)?;
        let mut placeholder_int: Option<u32> = None;
        for id in 1..=self.len() {
            let t = self.type_by_id(id)?;
            let mut new: Option<Rec> = None;
            match &t.detail {
                Detail::FuncProto(p) if !features.func => {
                    let mut extra = Vec::new();
                    for (i, prm) in p.params.iter().enumerate() {
                        extra.extend([prm.name_off, i as u32]);
                    }
                    new = Some(Rec {
                        name_off: 0,
                        info: info(Kind::Enum, false, p.params.len())?,
                        st: 4,
                        extra,
                    });
                }
                Detail::Func { proto, .. } if !features.func => {
                    new = Some(Rec {
                        name_off: t.name_off,
                        info: info(Kind::Typedef, false, 0)?,
                        st: *proto,
                        extra: vec![],
                    })
                }
                Detail::Func { proto, linkage }
                    if !features.func_global && *linkage != FuncLinkage::Static =>
                {
                    new = Some(Rec {
                        name_off: t.name_off,
                        info: info(Kind::Func, false, 0)?,
                        st: *proto,
                        extra: vec![],
                    })
                }
                Detail::Var { .. } if !features.datasec => {
                    new = Some(Rec {
                        name_off: b.add_string(&dotless(t.name))?,
                        info: info(Kind::Int, false, 0)?,
                        st: 1,
                        extra: vec![8],
                    })
                }
                Detail::Datasec { size, vars } if !features.datasec => {
                    let mut extra = Vec::new();
                    for v in vars {
                        let name = self.name_of(v.type_id).unwrap_or("");
                        let int = match placeholder_int {
                            Some(i) => i,
                            None => *placeholder_int.insert(b.add_int("", 1, 0)?),
                        };
                        extra.extend([
                            b.add_string(&dotless(name))?,
                            int,
                            v.offset.saturating_mul(8),
                        ]);
                    }
                    new = Some(Rec {
                        name_off: b.add_string(&dotless(t.name))?,
                        info: info(Kind::Struct, false, vars.len())?,
                        st: *size,
                        extra,
                    });
                }
                Detail::Float { size } if !features.float => {
                    new = Some(Rec {
                        name_off: t.name_off,
                        info: info(Kind::Struct, false, 0)?,
                        st: *size,
                        extra: vec![],
                    })
                }
                Detail::DeclTag { .. } if !features.decl_tag => {
                    new = Some(Rec {
                        name_off: 0,
                        info: info(Kind::Int, false, 0)?,
                        st: 1,
                        extra: vec![8],
                    })
                }
                Detail::TypeTag { type_id } if !features.type_tag => {
                    new = Some(Rec {
                        name_off: 0,
                        info: info(Kind::Const, false, 0)?,
                        st: *type_id,
                        extra: vec![],
                    })
                }
                Detail::Enum(e) if !features.enum64 && (e.is64 || e.signed) => {
                    let extra = e
                        .values
                        .iter()
                        .flat_map(|v| [v.name_off, v.value as u32])
                        .collect();
                    new = Some(Rec {
                        name_off: t.name_off,
                        info: info(Kind::Enum, false, e.values.len())?,
                        st: e.size,
                        extra,
                    });
                }
                _ => {}
            }
            if let Some(rec) = new {
                if let Some(slot) = b.recs.get_mut(id as usize - 1) {
                    *slot = rec;
                }
            }
        }
        b.build()
    }
}
