//! `format c`: BTF as a compilable C header (`vmlinux.h`).
//!
//! Every named struct, union, enum and typedef is defined once, after what it needs: a member
//! used by value (directly, through typedefs, modifiers or arrays) needs its type complete; a
//! pointer only needs a forward declaration. Anonymous types are written inline where they are
//! used. Layout is reproduced exactly: members the C rules would place elsewhere get anonymous
//! `long: N` padding before them, records the rules cannot produce are `packed`, and enums that
//! are not 4 bytes get a `mode` attribute. Names that occur more than once (distinct kernel types
//! with the same name) get `___2`, `___3`… suffixes in id order, as bpftool names them.

use std::collections::HashMap;
use std::io::Write;

use crate::btf::Btf;
use crate::error::Result;
use crate::types::*;

const DEF_MASK: u8 = 0b11;
const EMITTING: u8 = 1;
const DONE: u8 = 2;
const FWD_DONE: u8 = 1 << 2;
const REFERENCED: u8 = 1 << 3;
const LAYOUT_KNOWN: u8 = 1 << 4;
const PACKED: u8 = 1 << 5;
const INLINE_ENUM_DONE: u8 = 1 << 6;
/// A typedef named `__builtin_va_list`, which the compiler predefines.
const BUILTIN: u8 = 1 << 7;

/// Deepest nesting of declarations followed; real C types stay far below.
const MAX_DEPTH: u32 = 200;

/// Largest C text of one definition or declarator; real ones are a few KiB.
const MAX_DEFINITION: usize = 1 << 20;

/// Flush the staging buffer to the writer once it grows past this.
const FLUSH_AT: usize = 1 << 16;

impl Btf {
    /// Writes a complete C header declaring every type of this BTF, as
    /// `bpftool btf dump … format c` does: the `__VMLINUX_H__` guard and the
    /// `preserve_access_index` pragma around the types. For split BTF, the header declares the
    /// split's own types and the base types they need.
    pub fn dump_c(&self, out: &mut impl Write) -> Result<()> {
        let mut d = CDump::new(self)?;
        d.buf.extend_from_slice(
            b"#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n\
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n#endif\n\n",
        );
        for id in self.start_id()..=self.len() {
            d.top_level(id)?;
            if d.buf.len() > FLUSH_AT {
                out.write_all(&d.buf)?;
                d.buf.clear();
            }
        }
        d.buf.extend_from_slice(
            b"#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n#endif /* __VMLINUX_H__ */\n",
        );
        out.write_all(&d.buf)?;
        out.flush()?;
        Ok(())
    }
}

struct CDump<'a> {
    btf: &'a Btf,
    buf: Vec<u8>,
    flags: Vec<u8>,
    align: Vec<u8>,
    /// 1 where a type is known not to be a legacy (non-kind-flag) INT bitfield.
    legacy_bits: Vec<u8>,
    /// Spare declarator buffers, reused to spare an allocation per member.
    scratch: Vec<Vec<u8>>,
    /// Nesting of `need`/`write_decl` calls, bounded so reference cycles cannot recurse forever.
    depth: u32,
    /// Inside a prototype's parameter list, where an enum defined inline would be local to it.
    in_params: u32,
    tag_suffix: HashMap<u32, u32>,
    ident_suffix: HashMap<(u32, u32), u32>,
}

fn hash_str(s: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in s {
        h = (h ^ b as u32).wrapping_mul(0x0100_0193);
    }
    h
}

/// Assigns `___N` suffixes: entries are `(hash, key, name)`; within each group of equal names,
/// the lowest key keeps the name and the others are numbered from 2 in key order.
fn number_duplicates<K: Ord + Copy + std::hash::Hash + Eq>(
    mut entries: Vec<(u32, K, &[u8])>,
) -> HashMap<K, u32> {
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut out = HashMap::new();
    let mut i = 0;
    while i < entries.len() {
        let mut j = i + 1;
        while j < entries.len() && entries[j].0 == entries[i].0 {
            j += 1;
        }
        if j - i > 1 {
            let run = &entries[i..j];
            let mut seen: Vec<(&[u8], u32)> = Vec::new();
            for &(_, key, name) in run {
                match seen.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, count)) => {
                        *count += 1;
                        out.insert(key, *count);
                    }
                    None => seen.push((name, 1)),
                }
            }
        }
        i = j;
    }
    out
}

fn tabs(buf: &mut Vec<u8>, n: usize) {
    buf.extend(std::iter::repeat_n(b'\t', n));
}

impl<'a> CDump<'a> {
    fn new(btf: &'a Btf) -> Result<Self> {
        let n = btf.len() as usize + 1;
        let mut flags = vec![0u8; n];
        let mut tags = Vec::new();
        let mut idents = Vec::new();
        for id in 1..=btf.len() {
            let r = btf.raw(id)?;
            let kind = r.kind();
            match kind {
                Kind::Struct | Kind::Union => {
                    for i in 0..r.vlen() {
                        mark(&mut flags, r.word(i * 3 + 1));
                    }
                }
                Kind::Ptr
                | Kind::Typedef
                | Kind::Const
                | Kind::Volatile
                | Kind::Restrict
                | Kind::TypeTag => mark(&mut flags, r.st),
                Kind::Array => mark(&mut flags, r.word(0)),
                // Not prototypes: an anonymous enum used only there is written on its own,
                // since inside a parameter list its constants would be local to it.
                _ => {}
            }
            let name = btf.name_bytes(r.name_off);
            match kind {
                Kind::Struct | Kind::Union | Kind::Enum | Kind::Enum64 | Kind::Fwd
                    if !name.is_empty() =>
                {
                    tags.push((hash_str(name), id, name))
                }
                Kind::Typedef => {
                    if name == b"__builtin_va_list" {
                        flags[id as usize] |= BUILTIN;
                    }
                    idents.push((hash_str(name), (id, 0), name))
                }
                _ => {}
            }
            if matches!(kind, Kind::Enum | Kind::Enum64) {
                let stride = if kind == Kind::Enum { 2 } else { 3 };
                for i in 0..r.vlen() {
                    let v = btf.name_bytes(r.word(i * stride));
                    idents.push((hash_str(v), (id, i as u32 + 1), v));
                }
            }
        }
        Ok(CDump {
            btf,
            buf: Vec::with_capacity(FLUSH_AT * 2),
            flags,
            align: vec![0u8; n],
            legacy_bits: vec![0u8; n],
            scratch: Vec::new(),
            depth: 0,
            in_params: 0,
            tag_suffix: number_duplicates(tags),
            ident_suffix: number_duplicates(idents),
        })
    }

    /// The BTF, with a lifetime not tied to `self` so decoded types outlive `&mut self` calls.
    fn b(&self) -> &'a Btf {
        self.btf
    }

    fn flag(&self, id: u32, f: u8) -> bool {
        self.flags.get(id as usize).is_some_and(|v| v & f != 0)
    }

    fn set(&mut self, id: u32, f: u8) {
        if let Some(v) = self.flags.get_mut(id as usize) {
            *v |= f;
        }
    }

    fn def_state(&self, id: u32) -> u8 {
        self.flags.get(id as usize).map_or(DONE, |v| v & DEF_MASK)
    }

    fn set_def(&mut self, id: u32, s: u8) {
        if let Some(v) = self.flags.get_mut(id as usize) {
            *v = (*v & !DEF_MASK) | s;
        }
    }

    fn put_ident_name(&mut self, id: u32, idx: u32, name: &[u8]) {
        self.buf.extend_from_slice(name);
        if let Some(n) = self.ident_suffix.get(&(id, idx)) {
            let _ = write!(self.buf, "___{n}");
        }
    }

    fn put_tag_name(&mut self, id: u32, name: &[u8]) {
        self.buf.extend_from_slice(name);
        if let Some(n) = self.tag_suffix.get(&id) {
            let _ = write!(self.buf, "___{n}");
        }
    }

    fn ident_name(&self, id: u32, idx: u32, name: &str) -> String {
        match self.ident_suffix.get(&(id, idx)) {
            Some(n) => format!("{name}___{n}"),
            None => name.to_string(),
        }
    }

    fn top_level(&mut self, id: u32) -> Result<()> {
        let btf = self.b();
        let r = btf.raw(id)?;
        let named = r.name_off != 0;
        match r.kind() {
            Kind::Struct | Kind::Union if named => self.define_composite(id),
            Kind::Enum | Kind::Enum64 if named || !self.flag(id, REFERENCED) => {
                let t = btf.type_by_id(id)?;
                self.define_enum(&t)
            }
            Kind::Typedef => self.define_typedef(id),
            Kind::Fwd => self.declare_fwd(id),
            _ => Ok(()),
        }
    }

    fn declare_fwd(&mut self, id: u32) -> Result<()> {
        if self.flag(id, FWD_DONE) || self.def_state(id) == DONE {
            return Ok(());
        }
        self.set(id, FWD_DONE);
        let t = self.b().type_by_id(id)?;
        let is_union = t.kind == Kind::Union || matches!(t.detail, Detail::Fwd { is_union: true });
        self.buf
            .extend_from_slice(if is_union { b"union " } else { b"struct " });
        self.put_tag_name(id, t.name.as_bytes());
        self.buf.extend_from_slice(b";\n\n");
        if t.kind == Kind::Fwd {
            self.set_def(id, DONE);
        }
        Ok(())
    }

    /// Makes sure what a use of type `id` needs is already written: complete definitions when
    /// `strong` (used by value), forward declarations otherwise.
    fn need(&mut self, id: u32, strong: bool) -> Result<()> {
        self.enter(id)?;
        let r = self.need_in(id, strong);
        self.depth -= 1;
        r
    }

    fn enter(&mut self, id: u32) -> Result<()> {
        if self.depth >= MAX_DEPTH {
            return Err(crate::Error::TypeLoop { id });
        }
        self.depth += 1;
        Ok(())
    }

    fn need_in(&mut self, id: u32, strong: bool) -> Result<()> {
        let btf = self.b();
        let mut cur = id;
        let mut strong = strong;
        for _ in 0..=btf.len() {
            let r = btf.raw(cur)?;
            let named = r.name_off != 0;
            match r.kind() {
                Kind::Void | Kind::Int | Kind::Float => return Ok(()),
                Kind::Ptr => {
                    cur = r.st;
                    strong = false;
                }
                Kind::TypeTag | Kind::Const | Kind::Volatile | Kind::Restrict => cur = r.st,
                Kind::Typedef if self.flag(cur, BUILTIN) => cur = r.st,
                Kind::Typedef => {
                    self.define_typedef(cur)?;
                    if !strong {
                        return Ok(());
                    }
                    cur = r.st;
                }
                Kind::Array => {
                    cur = r.word(0);
                    strong = true;
                }
                Kind::FuncProto => {
                    // What a prototype needs does not depend on how it is used: once is enough.
                    if self.def_state(cur) != 0 {
                        return Ok(());
                    }
                    self.set_def(cur, EMITTING);
                    self.need(r.st, false)?;
                    for i in 0..r.vlen() {
                        self.need(r.word(i * 2 + 1), false)?;
                    }
                    self.set_def(cur, DONE);
                    return Ok(());
                }
                Kind::Struct | Kind::Union if !named => {
                    // Written inline, so everything its members use by value must be complete.
                    if self.def_state(cur) == EMITTING {
                        return Ok(());
                    }
                    if self.def_state(cur) == DONE {
                        return Ok(());
                    }
                    self.set_def(cur, EMITTING);
                    for i in 0..r.vlen() {
                        self.need(r.word(i * 3 + 1), true)?;
                    }
                    self.set_def(cur, DONE);
                    return Ok(());
                }
                Kind::Struct | Kind::Union => {
                    return if strong {
                        self.define_composite(cur)
                    } else {
                        self.declare_fwd(cur)
                    };
                }
                Kind::Enum | Kind::Enum64 if !named => return Ok(()),
                Kind::Enum | Kind::Enum64 => {
                    let t = btf.type_by_id(cur)?;
                    return self.define_enum(&t);
                }
                Kind::Fwd => return self.declare_fwd(cur),
                Kind::Func | Kind::Var | Kind::Datasec | Kind::DeclTag => return Ok(()),
            }
        }
        Err(crate::Error::TypeLoop { id })
    }

    fn define_composite(&mut self, id: u32) -> Result<()> {
        match self.def_state(id) {
            0 => {}
            // Needed complete while its own members are being prepared: it contains itself.
            EMITTING => return Err(crate::Error::TypeLoop { id }),
            _ => return Ok(()),
        }
        self.set_def(id, EMITTING);
        let r = self.b().raw(id)?;
        for i in 0..r.vlen() {
            self.need(r.word(i * 3 + 1), true)?;
        }
        self.write_composite(id, 0)?;
        self.buf.extend_from_slice(b";\n\n");
        self.set_def(id, DONE);
        Ok(())
    }

    fn define_typedef(&mut self, id: u32) -> Result<()> {
        match self.def_state(id) {
            0 => {}
            // C cannot name a typedef inside its own definition.
            EMITTING => return Err(crate::Error::TypeLoop { id }),
            _ => return Ok(()),
        }
        self.set_def(id, EMITTING);
        let t = self.b().type_by_id(id)?;
        if t.name == "__builtin_va_list" {
            self.set_def(id, DONE);
            return Ok(());
        }
        let target = t.size_or_type;
        self.need(target, false)?;
        let mut name = t.name.as_bytes().to_vec();
        if let Some(n) = self.ident_suffix.get(&(id, 0)) {
            let _ = write!(name, "___{n}");
        }
        self.buf.extend_from_slice(b"typedef ");
        self.write_decl(target, &name, 0)?;
        self.buf.extend_from_slice(b";\n\n");
        self.set_def(id, DONE);
        Ok(())
    }

    fn define_enum(&mut self, t: &Type<'_>) -> Result<()> {
        if self.def_state(t.id) != 0 {
            return Ok(());
        }
        self.set_def(t.id, DONE);
        self.write_enum(t, 0);
        self.buf.extend_from_slice(b";\n\n");
        Ok(())
    }

    fn write_enum(&mut self, t: &Type<'_>, indent: usize) {
        let Detail::Enum(e) = &t.detail else { return };
        self.buf.extend_from_slice(b"enum ");
        if !t.name.is_empty() {
            self.put_tag_name(t.id, t.name.as_bytes());
            self.buf.push(b' ');
        }
        self.buf.extend_from_slice(b"{\n");
        for (i, v) in e.values.iter().enumerate() {
            tabs(&mut self.buf, indent + 1);
            let name = self.ident_name(t.id, i as u32 + 1, v.name);
            let _ = match (e.is64, e.signed) {
                (false, true) => writeln!(self.buf, "{name} = {},", v.value as i64),
                (false, false) => writeln!(self.buf, "{name} = {},", v.value as u32),
                (true, true) => writeln!(self.buf, "{name} = {}LL,", v.value as i64),
                (true, false) => writeln!(self.buf, "{name} = {}ULL,", v.value),
            };
        }
        tabs(&mut self.buf, indent);
        self.buf.push(b'}');
        let mode = match e.size {
            1 => Some("QI"),
            2 => Some("HI"),
            8 => Some("DI"),
            _ => None,
        };
        if let Some(mode) = mode {
            let _ = write!(self.buf, " __attribute__((mode({mode})))");
        }
    }

    /// Alignment in bytes of type `id` as the written C gives it.
    fn align_of(&mut self, id: u32) -> Result<u32> {
        let btf = self.b();
        let mut cur = id;
        for _ in 0..=btf.len() {
            if let Some(&a) = self.align.get(cur as usize) {
                if a != 0 {
                    return Ok(a as u32);
                }
            }
            let r = btf.raw(cur)?;
            let a = match r.kind() {
                Kind::Int | Kind::Float => r.st.clamp(1, 16),
                Kind::Enum | Kind::Enum64 => r.st.clamp(1, 8),
                Kind::Ptr => 8,
                Kind::Typedef | Kind::Const | Kind::Volatile | Kind::Restrict | Kind::TypeTag => {
                    cur = r.st;
                    continue;
                }
                Kind::Array => {
                    cur = r.word(0);
                    continue;
                }
                Kind::Struct | Kind::Union => {
                    // Provisional, so a record that contains itself cannot recurse forever.
                    if let Some(slot) = self.align.get_mut(cur as usize) {
                        *slot = 1;
                    }
                    if self.is_packed(cur)? {
                        1
                    } else {
                        let mut a = 1;
                        for i in 0..r.vlen() {
                            a = a.max(self.align_of(r.word(i * 3 + 1))?);
                        }
                        a
                    }
                }
                _ => 1,
            };
            if let Some(slot) = self.align.get_mut(cur as usize) {
                *slot = a as u8;
            }
            return Ok(a);
        }
        Err(crate::Error::TypeLoop { id })
    }

    /// Storage unit size in bits and bit count of a member that is a bitfield, else `None`.
    fn bitfield(
        &mut self,
        type_id: u32,
        bitfield_size: u8,
        kind_flag: bool,
    ) -> Result<Option<(u32, u32)>> {
        if kind_flag && bitfield_size == 0 {
            return Ok(None);
        }
        if !kind_flag {
            if let Some(&c) = self.legacy_bits.get(type_id as usize) {
                if c == 1 {
                    return Ok(None);
                }
            }
        }
        let btf = self.b();
        let r = btf.raw(btf.resolve_type(type_id)?)?;
        let sized = matches!(
            r.kind(),
            Kind::Int | Kind::Enum | Kind::Enum64 | Kind::Struct | Kind::Union | Kind::Float
        );
        let unit = if sized { r.st.saturating_mul(8) } else { 0 };
        if kind_flag {
            return Ok((bitfield_size != 0).then_some((unit, bitfield_size as u32)));
        }
        // Without the kind flag, a bitfield is an INT whose bit count is below its size.
        let bits = r.word(0) & 0xff;
        let found = (r.kind() == Kind::Int && bits < unit).then_some((unit, bits));
        if found.is_none() {
            if let Some(c) = self.legacy_bits.get_mut(type_id as usize) {
                *c = 1;
            }
        }
        Ok(found)
    }

    fn is_packed(&mut self, id: u32) -> Result<bool> {
        if self.flag(id, LAYOUT_KNOWN) {
            return Ok(self.flag(id, PACKED));
        }
        self.set(id, LAYOUT_KNOWN);
        let r = self.b().raw(id)?;
        if !r.kind().is_composite() {
            return Ok(false);
        }
        let kflag = r.kflag();
        let mut packed = false;
        let mut align = 1;
        for i in 0..r.vlen() {
            let (mtype, moff) = (r.word(i * 3 + 1), r.word(i * 3 + 2));
            let (bit_offset, bf_size) = if kflag {
                (moff & 0xff_ffff, (moff >> 24) as u8)
            } else {
                (moff, 0)
            };
            let a = self.align_of(mtype)?;
            align = align.max(a);
            match self.bitfield(mtype, bf_size, kflag)? {
                Some((unit, bits)) if unit > 0 => {
                    if (bit_offset % unit) as u64 + bits as u64 > unit as u64 {
                        packed = true;
                    }
                }
                Some(_) => {}
                None => {
                    if bit_offset % (a * 8) != 0 {
                        packed = true;
                    }
                }
            }
        }
        if r.st % align != 0 {
            packed = true;
        }
        if packed {
            self.set(id, PACKED);
        }
        Ok(packed)
    }

    fn pad(&mut self, id: u32, mut from: u64, to: u64, indent: usize) -> Result<()> {
        if (to - from) / 8 > MAX_DEFINITION as u64 {
            return Err(crate::Error::BadType {
                id,
                detail: format!(
                    "a gap of {} bytes between members is not believable",
                    (to - from) / 8
                ),
            });
        }
        while from < to {
            let w = (to - from).min(64 - from % 64);
            tabs(&mut self.buf, indent);
            let _ = writeln!(self.buf, "long: {w};");
            from += w;
        }
        Ok(())
    }

    /// Writes `struct NAME {…}` (or the anonymous form) with members at `indent + 1`.
    fn write_composite(&mut self, id: u32, indent: usize) -> Result<()> {
        let btf = self.b();
        let r = btf.raw(id)?;
        let is_struct = r.kind() == Kind::Struct;
        let kflag = r.kflag();
        self.buf
            .extend_from_slice(if is_struct { b"struct " } else { b"union " });
        if r.name_off != 0 {
            self.put_tag_name(id, btf.name_bytes(r.name_off));
            self.buf.push(b' ');
        }
        self.buf.extend_from_slice(b"{\n");
        let body = self.buf.len();
        let packed = self.is_packed(id)?;
        let mut cur: u64 = 0;
        let mut align: u64 = 1;
        for i in 0..r.vlen() {
            let (mname, mtype, moff) = (r.word(i * 3), r.word(i * 3 + 1), r.word(i * 3 + 2));
            let (bit_offset, bf_size) = if kflag {
                (moff & 0xff_ffff, (moff >> 24) as u8)
            } else {
                (moff, 0)
            };
            let a = self.align_of(mtype)? as u64;
            align = align.max(a);
            let bf = self.bitfield(mtype, bf_size, kflag)?;
            let o = bit_offset as u64;
            let (natural, width) = match bf {
                Some((unit, bits)) => {
                    let unit = unit.max(1) as u64;
                    let n = if packed || (cur % unit) + bits as u64 <= unit {
                        cur
                    } else {
                        cur.div_ceil(unit).saturating_mul(unit)
                    };
                    (n, bits as u64)
                }
                None => {
                    let step = if packed { 8 } else { a * 8 };
                    (
                        cur.div_ceil(step).saturating_mul(step),
                        btf.type_size(mtype).unwrap_or(0).saturating_mul(8),
                    )
                }
            };
            if is_struct && natural < o {
                self.pad(id, cur, o, indent + 1)?;
            }
            if self.buf.len() > MAX_DEFINITION {
                return Err(crate::Error::BadType {
                    id,
                    detail: "its C definition grows past 1 MiB (types nested in a loop?)".into(),
                });
            }
            tabs(&mut self.buf, indent + 1);
            self.write_decl(mtype, btf.name_bytes(mname), indent + 1)?;
            if let Some((_, bits)) = bf {
                let _ = write!(self.buf, ": {bits}");
            }
            self.buf.extend_from_slice(b";\n");
            if is_struct {
                cur = o.saturating_add(width);
            }
        }
        let size = r.st as u64 * 8;
        let step = if packed { 8 } else { align * 8 };
        if is_struct && cur.div_ceil(step).saturating_mul(step) < size {
            self.pad(id, cur, size, indent + 1)?;
        }
        if self.buf.len() == body {
            // No members and no padding: `struct x {}` on one line, as libbpf writes it.
            self.buf.pop();
        } else {
            tabs(&mut self.buf, indent);
        }
        self.buf.push(b'}');
        if packed {
            self.buf.extend_from_slice(b" __attribute__((packed))");
        }
        Ok(())
    }

    /// Writes a declaration of `name` with type `id` (`name` may be empty for an abstract
    /// declarator, as in a parameter list).
    fn write_decl(&mut self, id: u32, name: &[u8], indent: usize) -> Result<()> {
        self.enter(id)?;
        let mut decl = self.scratch.pop().unwrap_or_default();
        decl.clear();
        decl.extend_from_slice(name);
        let r = self.write_decl_in(id, &mut decl, indent);
        self.scratch.push(decl);
        self.depth -= 1;
        r
    }

    fn write_decl_in(&mut self, id: u32, decl: &mut Vec<u8>, indent: usize) -> Result<()> {
        let btf = self.b();
        let mut mods: Vec<&'static str> = Vec::new();
        let mut after_ptr = false;
        let mut cur = id;
        for _ in 0..=btf.len() {
            let r = btf.raw(cur)?;
            let kind = r.kind();
            match kind {
                Kind::Ptr => {
                    for m in mods.drain(..).rev() {
                        decl.insert(0, b' ');
                        decl.splice(0..0, m.bytes());
                        decl.insert(0, b' ');
                    }
                    decl.insert(0, b'*');
                    after_ptr = true;
                    cur = r.st;
                    continue;
                }
                Kind::Const | Kind::Volatile | Kind::Restrict => {
                    let m = match kind {
                        Kind::Const => "const",
                        Kind::Volatile => "volatile",
                        _ => "restrict",
                    };
                    // Qualifiers of an array apply to its elements, which may repeat them.
                    if !mods.contains(&m) {
                        mods.insert(0, m);
                    }
                    cur = r.st;
                    continue;
                }
                Kind::TypeTag => {
                    cur = r.st;
                    continue;
                }
                // The compiler's own `__builtin_va_list` differs from the kernel's (it is
                // `void *` for the BPF target): spell out the kernel's type instead.
                Kind::Typedef if self.flag(cur, BUILTIN) => {
                    cur = r.st;
                    continue;
                }
                Kind::Array => {
                    if after_ptr {
                        decl.insert(0, b'(');
                        decl.push(b')');
                        after_ptr = false;
                    }
                    let _ = write!(decl, "[{}]", r.word(2));
                    cur = r.word(0);
                    continue;
                }
                Kind::FuncProto => {
                    if after_ptr {
                        decl.insert(0, b'(');
                        decl.push(b')');
                        after_ptr = false;
                    }
                    mods.clear();
                    decl.push(b'(');
                    let n = r.vlen();
                    if n == 0 {
                        decl.extend_from_slice(b"void");
                    }
                    for i in 0..n {
                        let pt = r.word(i * 2 + 1);
                        if i > 0 {
                            decl.extend_from_slice(b", ");
                        }
                        if pt == 0 && i + 1 == n {
                            decl.extend_from_slice(b"...");
                            continue;
                        }
                        if decl.len() > MAX_DEFINITION {
                            return Err(crate::Error::BadType {
                                id,
                                detail:
                                    "its C declarator grows past 1 MiB (types nested in a loop?)"
                                        .into(),
                            });
                        }
                        let mark = self.buf.len();
                        self.in_params += 1;
                        let written = self.write_decl(pt, b"", indent);
                        self.in_params -= 1;
                        written?;
                        decl.extend_from_slice(&self.buf[mark..]);
                        self.buf.truncate(mark);
                    }
                    decl.push(b')');
                    cur = r.st;
                    continue;
                }
                _ => {}
            }
            for m in &mods {
                self.buf.extend_from_slice(m.as_bytes());
                self.buf.push(b' ');
            }
            let name = btf.name_bytes(r.name_off);
            match kind {
                Kind::Int | Kind::Float => self.buf.extend_from_slice(name),
                Kind::Typedef => self.put_ident_name(cur, 0, name),
                Kind::Struct | Kind::Union if name.is_empty() => {
                    self.write_composite(cur, indent)?
                }
                Kind::Struct | Kind::Union | Kind::Fwd => {
                    let union = kind == Kind::Union || (kind == Kind::Fwd && r.kflag());
                    self.buf
                        .extend_from_slice(if union { b"union " } else { b"struct " });
                    self.put_tag_name(cur, name);
                }
                Kind::Enum | Kind::Enum64 if name.is_empty() => {
                    if self.flag(cur, INLINE_ENUM_DONE) || self.in_params > 0 {
                        // Its constants are declared elsewhere (or would be local to a parameter
                        // list): an int of the same size keeps the layout.
                        let int = match (r.st, r.kflag()) {
                            (1, true) => "signed char",
                            (1, false) => "unsigned char",
                            (2, true) => "short int",
                            (2, false) => "short unsigned int",
                            (8, true) => "long long int",
                            (8, false) => "long long unsigned int",
                            (_, true) => "int",
                            (_, false) => "unsigned int",
                        };
                        self.buf.extend_from_slice(int.as_bytes());
                    } else {
                        self.set(cur, INLINE_ENUM_DONE);
                        let t = btf.type_by_id(cur)?;
                        self.write_enum(&t, indent);
                    }
                }
                Kind::Enum | Kind::Enum64 => {
                    self.buf.extend_from_slice(b"enum ");
                    self.put_tag_name(cur, name);
                }
                _ => self.buf.extend_from_slice(b"void"),
            }
            if !decl.is_empty() {
                self.buf.push(b' ');
                self.buf.extend_from_slice(decl);
            }
            return Ok(());
        }
        Err(crate::Error::TypeLoop { id })
    }
}

fn mark(flags: &mut [u8], id: u32) {
    if let Some(f) = flags.get_mut(id as usize) {
        *f |= REFERENCED;
    }
}

/// The set of type names a C header declares at file scope: `struct X`, `union X`, `enum X` (as
/// definitions or forward declarations) and typedef names. Used to compare headers.
pub fn declared_names(header: &str) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    let mut depth = 0i32;
    let mut stmt = String::new();
    for line in header.lines() {
        if depth == 0 && (line.starts_with('#') || line.trim().is_empty()) {
            continue;
        }
        stmt.push_str(line);
        stmt.push('\n');
        depth += line.matches('{').count() as i32 - line.matches('}').count() as i32;
        if depth == 0 && line.trim_end().ends_with(';') {
            if let Some(name) = statement_name(&stmt) {
                out.insert(name);
            }
            stmt.clear();
        }
    }
    out
}

fn ident_at_end(s: &str) -> Option<&str> {
    let s = s.trim_end();
    let start = s
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '_')
        .last()
        .map(|(i, _)| i)?;
    Some(&s[start..])
}

fn statement_name(stmt: &str) -> Option<String> {
    // Drop bodies so only the head and the declarator remain.
    let mut flat = String::new();
    let mut depth = 0;
    for c in stmt.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ if depth == 0 => flat.push(if c == '\n' { ' ' } else { c }),
            _ => {}
        }
    }
    let flat = flat.replace("__attribute__((packed))", "");
    let flat = flat.trim().trim_end_matches(';').trim();
    if let Some(rest) = flat.strip_prefix("typedef ") {
        // A function pointer typedef is named inside `(*…)`; a function typedef before `(`.
        if let Some(p) = rest.find("(*").or_else(|| rest.find('(')) {
            let tail = if rest[p..].starts_with("(*") {
                &rest[p + 2..]
            } else {
                return ident_at_end(&rest[..p]).map(|n| format!("typedef {n}"));
            };
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            return Some(format!("typedef {}", &tail[..end]));
        }
        let rest = rest.split('[').next().unwrap_or(rest);
        return ident_at_end(rest).map(|n| format!("typedef {n}"));
    }
    for kw in ["struct ", "union ", "enum "] {
        if let Some(rest) = flat.strip_prefix(kw) {
            let rest = rest.split("__attribute__").next().unwrap_or(rest).trim();
            if rest.is_empty() {
                return None;
            }
            let name = rest.split_whitespace().next()?;
            return Some(format!("{}{name}", kw));
        }
    }
    None
}
