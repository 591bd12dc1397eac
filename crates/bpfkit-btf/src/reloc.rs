//! CO-RE: computing relocations of a program's local BTF against target BTF (the running
//! kernel's, and its modules'), and patching the relocated instructions.
//!
//! Candidates for a local type are the target types of the same kind whose names are equal once
//! `___flavour` suffixes are dropped. Every candidate is tried; candidates that match but give
//! different values make the relocation ambiguous (an error). No match at all yields
//! [`Relocation::Poison`] (except for the `*_EXISTS`/`TYPE_MATCHES` kinds, which yield 0), which
//! [`patch_insn`] turns into a call of the invalid helper `0xbad2310` so the verifier names the
//! instruction.

use crate::btf::{essential_name, Btf};
use crate::error::{Error, Result};
use crate::ext::CoreRelo;
use crate::types::*;

/// `enum bpf_core_relo_kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CoreReloKind {
    /// Byte offset of a field.
    FieldByteOffset = 0,
    /// Byte size of a field.
    FieldByteSize = 1,
    /// Whether a field exists.
    FieldExists = 2,
    /// Whether a field is signed.
    FieldSigned = 3,
    /// Left shift to extract a bitfield from a u64.
    FieldLshiftU64 = 4,
    /// Right shift to extract a bitfield from a u64.
    FieldRshiftU64 = 5,
    /// The local type id.
    TypeIdLocal = 6,
    /// The target type id.
    TypeIdTarget = 7,
    /// Whether the type exists in the target.
    TypeExists = 8,
    /// Size of the type in the target.
    TypeSize = 9,
    /// Whether an enumerator exists in the target.
    EnumvalExists = 10,
    /// The enumerator's value in the target.
    EnumvalValue = 11,
    /// Whether the target type matches the local one member for member.
    TypeMatches = 12,
}

impl CoreReloKind {
    /// The kind with numeric value `v`.
    pub fn from_u32(v: u32) -> Option<Self> {
        use CoreReloKind::*;
        Some(match v {
            0 => FieldByteOffset,
            1 => FieldByteSize,
            2 => FieldExists,
            3 => FieldSigned,
            4 => FieldLshiftU64,
            5 => FieldRshiftU64,
            6 => TypeIdLocal,
            7 => TypeIdTarget,
            8 => TypeExists,
            9 => TypeSize,
            10 => EnumvalExists,
            11 => EnumvalValue,
            12 => TypeMatches,
            _ => return None,
        })
    }

    fn is_field(self) -> bool {
        (self as u32) <= 5
    }

    fn is_enumval(self) -> bool {
        matches!(
            self,
            CoreReloKind::EnumvalExists | CoreReloKind::EnumvalValue
        )
    }

    /// Whether a missing target gives 0 rather than poisoning the instruction.
    fn zero_when_missing(self) -> bool {
        matches!(
            self,
            CoreReloKind::FieldExists
                | CoreReloKind::TypeExists
                | CoreReloKind::EnumvalExists
                | CoreReloKind::TypeMatches
        )
    }
}

/// The outcome of one relocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Relocation {
    /// Patch the instruction: it holds `local` (what the compiler computed against the local
    /// types) and must hold `target`.
    Value {
        /// The value as compiled.
        local: u64,
        /// The value for the target.
        target: u64,
        /// Size in bytes of the accessed field locally (field relocations, else 0).
        local_size: u32,
        /// Size in bytes of the field in the target (field relocations, else 0).
        target_size: u32,
        /// Whether the target field can be loaded with a different width than the local one
        /// (an integer, enum or pointer).
        size_adjustable: bool,
        /// Which target BTF (index into the targets given) and type id matched, if any.
        matched: Option<(usize, u32)>,
    },
    /// No candidate matched: the instruction must be poisoned.
    Poison,
}

/// The invalid helper id a poisoned instruction calls.
pub const POISON_HELPER: i32 = 0xbad2310;

/// One step of a parsed access string.
#[derive(Clone, Debug)]
struct Step<'a> {
    /// Member name (struct/union steps) or empty for array steps.
    name: &'a str,
    /// Array index (array steps) or member index (member steps, local side only).
    idx: u32,
    is_array: bool,
}

/// A resolved access in one BTF.
#[derive(Clone, Debug)]
struct Access {
    /// Bit offset of the accessed field from the root.
    bit_offset: u64,
    /// The field's type id.
    type_id: u32,
    /// Bitfield width (0 when not a bitfield).
    bitfield: u32,
}

fn bad(relo: &CoreRelo, detail: impl Into<String>) -> Error {
    Error::Core {
        insn_off: relo.insn_off,
        detail: detail.into(),
    }
}

fn parse_access(s: &str) -> Option<Vec<u32>> {
    if s.is_empty() {
        return None;
    }
    s.split(':').map(|p| p.parse().ok()).collect()
}

/// Follows typedefs and modifiers.
fn skip(btf: &Btf, id: u32) -> Result<(u32, Type<'_>)> {
    let id = btf.resolve_type(id)?;
    Ok((id, btf.type_by_id(id)?))
}

/// Walks the local access path, returning the named steps and the final access.
fn local_access<'a>(
    btf: &'a Btf,
    root: u32,
    acc: &[u32],
    relo: &CoreRelo,
) -> Result<(Vec<Step<'a>>, Access)> {
    let first = *acc
        .first()
        .ok_or_else(|| bad(relo, "empty access string"))?;
    let root_size = btf.type_size(root).unwrap_or(0);
    let mut a = Access {
        bit_offset: (first as u64).saturating_mul(root_size).saturating_mul(8),
        type_id: root,
        bitfield: 0,
    };
    let mut steps = Vec::new();
    for &i in &acc[1..] {
        let (_, t) = skip(btf, a.type_id)?;
        match &t.detail {
            Detail::Composite { members, .. } => {
                let m = members.get(i as usize).ok_or_else(|| {
                    bad(
                        relo,
                        format!(
                            "member index {i} is past the {} members of [{}]",
                            members.len(),
                            t.id
                        ),
                    )
                })?;
                a.bit_offset = a.bit_offset.saturating_add(m.bit_offset as u64);
                a.type_id = m.type_id;
                a.bitfield = m.bitfield_size as u32;
                // Anonymous members are transparent: targets are searched through them by name.
                if !m.name.is_empty() {
                    steps.push(Step {
                        name: m.name,
                        idx: i,
                        is_array: false,
                    });
                }
            }
            Detail::Array(arr) => {
                let esz = btf.type_size(arr.elem_type)?;
                a.bit_offset = a
                    .bit_offset
                    .saturating_add((i as u64).saturating_mul(esz).saturating_mul(8));
                a.type_id = arr.elem_type;
                a.bitfield = 0;
                steps.push(Step {
                    name: "",
                    idx: i,
                    is_array: true,
                });
            }
            _ => {
                return Err(bad(
                    relo,
                    format!("access index {i} into [{}], which is {}", t.id, t.kind),
                ))
            }
        }
    }
    Ok((steps, a))
}

/// Whether fields of local type `l` and target type `t` are compatible for field relocations.
fn fields_compat(lb: &Btf, l: u32, tb: &Btf, t: u32, depth: u32) -> Result<bool> {
    if depth > 32 {
        return Ok(false);
    }
    let (_, lt) = skip(lb, l)?;
    let (_, tt) = skip(tb, t)?;
    if lt.kind.is_composite() && tt.kind.is_composite() {
        return Ok(true);
    }
    let same = lt.kind == tt.kind || (lt.kind.is_enum() && tt.kind.is_enum());
    if !same {
        return Ok(false);
    }
    Ok(match (&lt.detail, &tt.detail) {
        (Detail::Ptr { .. }, _) | (Detail::Float { .. }, _) => true,
        (Detail::Fwd { .. }, _) | (Detail::Enum(_), _) => {
            essential_name(lt.name) == essential_name(tt.name)
        }
        (Detail::Int(a), Detail::Int(b)) => a.offset == 0 && b.offset == 0,
        (Detail::Array(a), Detail::Array(b)) => {
            fields_compat(lb, a.elem_type, tb, b.elem_type, depth + 1)?
        }
        _ => false,
    })
}

/// Finds member `name` of composite `id` in `btf`, searching anonymous members recursively;
/// returns (bit offset from `id`, member type, bitfield size).
fn find_member(btf: &Btf, id: u32, name: &str, depth: u32) -> Result<Option<(u64, u32, u32)>> {
    if depth > 32 {
        return Ok(None);
    }
    let (_, t) = skip(btf, id)?;
    for m in t.members() {
        if m.name == name {
            return Ok(Some((
                m.bit_offset as u64,
                m.type_id,
                m.bitfield_size as u32,
            )));
        }
        if m.name.is_empty() && btf.kind_of(btf.resolve_type(m.type_id)?)?.is_composite() {
            if let Some((off, ty, bf)) = find_member(btf, m.type_id, name, depth + 1)? {
                return Ok(Some((off.saturating_add(m.bit_offset as u64), ty, bf)));
            }
        }
    }
    Ok(None)
}

/// Walks the named steps in the target from candidate `root`; `None` when the target lacks them.
fn target_access(
    lb: &Btf,
    local: &Access,
    steps: &[Step<'_>],
    first: u32,
    tb: &Btf,
    root: u32,
) -> Result<Option<Access>> {
    let root_size = tb.type_size(root).unwrap_or(0);
    let mut a = Access {
        bit_offset: (first as u64).saturating_mul(root_size).saturating_mul(8),
        type_id: root,
        bitfield: 0,
    };
    for s in steps {
        let (_, t) = skip(tb, a.type_id)?;
        if s.is_array {
            let Detail::Array(arr) = &t.detail else {
                return Ok(None);
            };
            // A zero-length array is a flexible one: any index is allowed.
            if arr.nelems != 0 && s.idx >= arr.nelems {
                return Ok(None);
            }
            a.bit_offset = a.bit_offset.saturating_add(
                (s.idx as u64)
                    .saturating_mul(tb.type_size(arr.elem_type)?)
                    .saturating_mul(8),
            );
            a.type_id = arr.elem_type;
            a.bitfield = 0;
        } else {
            if !t.kind.is_composite() {
                return Ok(None);
            }
            let Some((off, ty, bf)) = find_member(tb, t.id, s.name, 0)? else {
                return Ok(None);
            };
            a.bit_offset = a.bit_offset.saturating_add(off);
            a.type_id = ty;
            a.bitfield = bf;
        }
    }
    Ok(fields_compat(lb, local.type_id, tb, a.type_id, 0)?.then_some(a))
}

/// Whether types are compatible for type-based relocations (same shape, names checked at the root
/// only).
fn types_compat(lb: &Btf, l: u32, tb: &Btf, t: u32, depth: u32) -> Result<bool> {
    if depth > 32 {
        return Ok(false);
    }
    let (_, lt) = skip(lb, l)?;
    let (_, tt) = skip(tb, t)?;
    let fwd_ok = |a: &Type<'_>, b: &Type<'_>| match (&a.detail, &b.kind) {
        (Detail::Fwd { is_union }, k) if k.is_composite() => *is_union == (*k == Kind::Union),
        _ => false,
    };
    if fwd_ok(&lt, &tt) || fwd_ok(&tt, &lt) {
        return Ok(true);
    }
    if !(lt.kind == tt.kind || (lt.kind.is_enum() && tt.kind.is_enum())) {
        return Ok(false);
    }
    Ok(match (&lt.detail, &tt.detail) {
        (Detail::Void, _)
        | (Detail::Composite { .. }, _)
        | (Detail::Enum(_), _)
        | (Detail::Fwd { .. }, _) => true,
        (Detail::Float { .. }, _) => true,
        (Detail::Int(a), Detail::Int(b)) => a.offset == 0 && b.offset == 0,
        (Detail::Ptr { type_id: a }, Detail::Ptr { type_id: b }) => {
            types_compat(lb, *a, tb, *b, depth + 1)?
        }
        (Detail::Array(a), Detail::Array(b)) => {
            types_compat(lb, a.elem_type, tb, b.elem_type, depth + 1)?
        }
        (Detail::FuncProto(a), Detail::FuncProto(b)) => {
            if a.params.len() != b.params.len()
                || !types_compat(lb, a.ret_type, tb, b.ret_type, depth + 1)?
            {
                false
            } else {
                let mut ok = true;
                for (x, y) in a.params.iter().zip(&b.params) {
                    if !types_compat(lb, x.type_id, tb, y.type_id, depth + 1)? {
                        ok = false;
                        break;
                    }
                }
                ok
            }
        }
        _ => false,
    })
}

/// `TYPE_MATCHES`: the target has everything the local type has, with matching types.
/// Typedefs and qualifiers are looked through on both sides; named kinds (struct, union,
/// enum, forward declaration) must agree on their essential name; a forward declaration
/// matches a struct or union of its flavour; behind a pointer a struct or union matches by
/// name alone (clang emits the pointee of an unused pointer member as a forward declaration).
fn types_match(lb: &Btf, l: u32, tb: &Btf, t: u32, behind_ptr: bool, depth: u32) -> Result<bool> {
    if depth > 32 {
        return Ok(false);
    }
    let l = lb.resolve_type(l)?;
    let t = tb.resolve_type(t)?;
    let lt = lb.type_by_id(l)?;
    let tt = tb.type_by_id(t)?;
    let named = |k: Kind| k.is_composite() || k.is_enum() || k == Kind::Fwd;
    if named(lt.kind) && essential_name(lt.name) != essential_name(tt.name) {
        return Ok(false);
    }
    let union_of = |ty: &Type<'_>| match ty.detail {
        Detail::Fwd { is_union } => Some(is_union),
        _ if ty.kind == Kind::Union => Some(true),
        _ if ty.kind == Kind::Struct => Some(false),
        _ => None,
    };
    if lt.kind == Kind::Fwd || tt.kind == Kind::Fwd {
        return Ok(union_of(&lt).is_some() && union_of(&lt) == union_of(&tt));
    }
    let kinds_ok = lt.kind == tt.kind || (lt.kind.is_enum() && tt.kind.is_enum());
    if !kinds_ok {
        return Ok(false);
    }
    Ok(match (&lt.detail, &tt.detail) {
        (Detail::Void, _) => true,
        (Detail::Int(a), Detail::Int(b)) => a.size == b.size && a.is_signed() == b.is_signed(),
        (Detail::Float { size: a }, Detail::Float { size: b }) => a == b,
        (Detail::Enum(a), Detail::Enum(b)) => {
            a.size == b.size
                && a.values.iter().all(|v| {
                    b.values
                        .iter()
                        .any(|w| essential_name(w.name) == essential_name(v.name))
                })
        }
        (Detail::Ptr { type_id: a }, Detail::Ptr { type_id: b }) => {
            types_match(lb, *a, tb, *b, true, depth + 1)?
        }
        (Detail::Array(a), Detail::Array(b)) => {
            a.nelems == b.nelems
                && types_match(lb, a.elem_type, tb, b.elem_type, behind_ptr, depth + 1)?
        }
        (Detail::Composite { .. }, Detail::Composite { .. }) if behind_ptr => true,
        (Detail::Composite { members: lm, .. }, Detail::Composite { members: tm, .. }) => {
            let mut ok = lm.len() <= tm.len();
            for m in lm {
                if !ok {
                    break;
                }
                // Any same-named target member will do: anonymous members all share the
                // empty name.
                ok = false;
                for x in tm.iter().filter(|x| x.name == m.name) {
                    if m.bitfield_size == x.bitfield_size
                        && types_match(lb, m.type_id, tb, x.type_id, false, depth + 1)?
                    {
                        ok = true;
                        break;
                    }
                }
            }
            ok
        }
        (Detail::FuncProto(a), Detail::FuncProto(b)) => {
            let mut ok = a.params.len() == b.params.len()
                && types_match(lb, a.ret_type, tb, b.ret_type, behind_ptr, depth + 1)?;
            for (x, y) in a.params.iter().zip(&b.params) {
                if !ok {
                    break;
                }
                ok = types_match(lb, x.type_id, tb, y.type_id, behind_ptr, depth + 1)?;
            }
            ok
        }
        _ => false,
    })
}

/// Values of a field relocation for one resolved access (local or target side).
struct FieldValue {
    value: u64,
    size: u32,
    size_adjustable: bool,
}

fn field_value(btf: &Btf, a: &Access, kind: CoreReloKind, relo: &CoreRelo) -> Result<FieldValue> {
    let (_, ft) = skip(btf, a.type_id)?;
    let type_size = btf.type_size(a.type_id).unwrap_or(0);
    let size_adjustable = matches!(ft.kind, Kind::Int | Kind::Enum | Kind::Enum64 | Kind::Ptr);
    let signed = match &ft.detail {
        Detail::Int(i) => i.is_signed(),
        Detail::Enum(e) => e.signed,
        _ => false,
    };
    let (byte_off, byte_size, bit_off, bit_size) = if a.bitfield == 0 {
        if a.bit_offset % 8 != 0 {
            return Err(bad(relo, "field is not byte-aligned"));
        }
        (
            a.bit_offset / 8,
            type_size,
            a.bit_offset,
            type_size.saturating_mul(8),
        )
    } else {
        // The narrowest naturally aligned load, starting from the field type's width, that
        // covers the whole bitfield.
        let mut size = type_size.clamp(1, 16);
        let bit_off = a.bit_offset;
        let bits = a.bitfield as u64;
        let mut off = bit_off / 8 / size * size;
        while bit_off.saturating_add(bits) - off * 8 > size * 8 {
            if size >= 8 {
                return Err(bad(
                    relo,
                    "bitfield cannot be read with one load of 8 bytes or less",
                ));
            }
            size *= 2;
            off = bit_off / 8 / size * size;
        }
        (off, size, bit_off, a.bitfield as u64)
    };
    let shift = |v: u64| {
        64u64.checked_sub(v).ok_or_else(|| {
            bad(
                relo,
                format!("a field of {v} bits cannot be shifted out of a u64"),
            )
        })
    };
    let value = match kind {
        CoreReloKind::FieldByteOffset => byte_off,
        CoreReloKind::FieldByteSize => byte_size,
        CoreReloKind::FieldExists => 1,
        CoreReloKind::FieldSigned => signed as u64,
        CoreReloKind::FieldLshiftU64 => shift(bit_off.saturating_add(bit_size) - byte_off * 8)?,
        CoreReloKind::FieldRshiftU64 => shift(bit_size)?,
        _ => 0,
    };
    Ok(FieldValue {
        value,
        size: u32::try_from(byte_size).unwrap_or(u32::MAX),
        size_adjustable,
    })
}

/// Computes relocation `relo` of `local` against `targets` (vmlinux first, then modules).
pub fn relocate(local: &Btf, relo: &CoreRelo, targets: &[&Btf]) -> Result<Relocation> {
    let kind = CoreReloKind::from_u32(relo.kind)
        .ok_or_else(|| bad(relo, format!("unknown relocation kind {}", relo.kind)))?;
    let acc = parse_access(&relo.access)
        .ok_or_else(|| bad(relo, format!("bad access string {:?}", relo.access)))?;
    let root = relo.type_id;
    let local_root = local.type_by_id(root)?;
    if kind == CoreReloKind::TypeIdLocal {
        return Ok(Relocation::Value {
            local: root as u64,
            target: root as u64,
            local_size: 0,
            target_size: 0,
            size_adjustable: false,
            matched: None,
        });
    }
    // Candidates are looked up by the root's own name and kind (a typedef finds typedefs);
    // only qualifiers are skipped.
    let lroot_id = local.skip_modifiers(root)?;
    let lroot = local.type_by_id(lroot_id)?;
    let _ = local_root;
    if lroot.name.is_empty() {
        return Err(bad(
            relo,
            format!("local type [{root}] is anonymous: CO-RE needs a named type to look up"),
        ));
    }
    let name = essential_name(lroot.name);
    let cand_kind = match lroot.kind {
        Kind::Enum64 => Kind::Enum,
        k => k,
    };
    let mut cands = Vec::new();
    for (ti, tb) in targets.iter().enumerate() {
        for id in tb.find_candidates(name, None) {
            let k = tb.kind_of(id)?;
            let k = if k == Kind::Enum64 { Kind::Enum } else { k };
            if k == cand_kind {
                cands.push((ti, id));
            }
        }
    }

    // Local values, which the instruction holds now.
    let local_steps;
    let local_access_v;
    let (local_value, local_size) = if kind.is_field() {
        let (steps, a) = local_access(local, root, &acc, relo)?;
        let v = field_value(local, &a, kind, relo)?;
        local_steps = steps;
        local_access_v = Some(a);
        (v.value, v.size)
    } else {
        local_steps = Vec::new();
        local_access_v = None;
        let v = match kind {
            CoreReloKind::TypeIdTarget => root as u64,
            CoreReloKind::TypeExists | CoreReloKind::TypeMatches => 1,
            CoreReloKind::TypeSize => local.type_size(lroot_id)?,
            CoreReloKind::EnumvalExists => 1,
            CoreReloKind::EnumvalValue => {
                let i = *acc.first().unwrap_or(&0) as usize;
                let (_, le) = skip(local, lroot_id)?;
                let Detail::Enum(e) = &le.detail else {
                    return Err(bad(
                        relo,
                        format!("enum value relocation on [{root}], which is {}", lroot.kind),
                    ));
                };
                e.values
                    .get(i)
                    .ok_or_else(|| bad(relo, format!("enumerator index {i} out of range")))?
                    .value
            }
            _ => 0,
        };
        (v, 0)
    };

    let mut result: Option<(u64, u32, bool, (usize, u32))> = None;
    for (ti, cid) in cands {
        let tb = targets[ti];
        let computed = if kind.is_field() {
            let Some(la) = &local_access_v else { continue };
            let first = *acc.first().unwrap_or(&0);
            match target_access(local, la, &local_steps, first, tb, cid)? {
                Some(ta) => {
                    let v = field_value(tb, &ta, kind, relo)?;
                    Some((v.value, v.size, v.size_adjustable))
                }
                None => None,
            }
        } else if kind.is_enumval() {
            let i = *acc.first().unwrap_or(&0) as usize;
            let (_, lt) = skip(local, lroot_id)?;
            let Detail::Enum(le) = &lt.detail else {
                continue;
            };
            let Some(lv) = le.values.get(i) else { continue };
            let (_, tt) = skip(tb, cid)?;
            let Detail::Enum(te) = &tt.detail else {
                continue;
            };
            te.values
                .iter()
                .find(|v| essential_name(v.name) == essential_name(lv.name))
                .map(|v| {
                    let val = if kind == CoreReloKind::EnumvalExists {
                        1
                    } else {
                        v.value
                    };
                    (val, 0, false)
                })
        } else if kind == CoreReloKind::TypeMatches {
            types_match(local, lroot_id, tb, cid, false, 0)?.then_some((1, 0, false))
        } else if types_compat(local, lroot_id, tb, cid, 0)? {
            let v = match kind {
                CoreReloKind::TypeIdTarget => cid as u64,
                CoreReloKind::TypeExists => 1,
                CoreReloKind::TypeSize => tb.type_size(cid)?,
                _ => 0,
            };
            Some((v, 0, false))
        } else {
            None
        };
        let Some((v, size, adj)) = computed else {
            continue;
        };
        match &result {
            None => result = Some((v, size, adj, (ti, cid))),
            // TYPE_ID_TARGET differs for every candidate by nature; the first one wins.
            Some((prev, ..)) if *prev != v && kind != CoreReloKind::TypeIdTarget => {
                return Err(bad(
                    relo,
                    format!(
                        "ambiguous: candidates for {:?} give {prev} and {v} (relocation kind {kind:?}, access {})",
                        lroot.name, relo.access
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(match result {
        Some((target, target_size, size_adjustable, m)) => Relocation::Value {
            local: local_value,
            target,
            local_size,
            target_size,
            size_adjustable,
            matched: Some(m),
        },
        None if kind.zero_when_missing() => Relocation::Value {
            local: local_value,
            target: 0,
            local_size,
            target_size: 0,
            size_adjustable: false,
            matched: None,
        },
        None => Relocation::Poison,
    })
}

const BPF_LD: u8 = 0x00;
const BPF_LDX: u8 = 0x01;
const BPF_ST: u8 = 0x02;
const BPF_STX: u8 = 0x03;
const BPF_ALU: u8 = 0x04;
const BPF_ALU64: u8 = 0x07;
const BPF_MEM: u8 = 0x60;
const BPF_IMM: u8 = 0x00;
const BPF_DW: u8 = 0x18;
const BPF_K: u8 = 0x00;

fn size_code(bytes: u32) -> Option<u8> {
    Some(match bytes {
        1 => 0x10,
        2 => 0x08,
        4 => 0x00,
        8 => 0x18,
        _ => return None,
    })
}

fn size_bytes(code: u8) -> u32 {
    match code & 0x18 {
        0x10 => 1,
        0x08 => 2,
        0x00 => 4,
        _ => 8,
    }
}

/// Applies `reloc` to instruction `idx` of `insns` (raw little-endian 8-byte instructions):
/// ALU immediates, load/store offsets (and widths, when the target field's size differs and it
/// is an integer), and 64-bit immediate loads. The instruction must hold the local value.
/// [`Relocation::Poison`] turns it into a call of helper [`POISON_HELPER`].
pub fn patch_insn(insns: &mut [u8], idx: usize, reloc: &Relocation) -> Result<()> {
    let err = |detail: String| Error::Patch {
        insn_idx: idx,
        detail,
    };
    let start = idx
        .checked_mul(8)
        .filter(|s| s.checked_add(16).is_some() && s + 8 <= insns.len())
        .ok_or_else(|| {
            err(format!(
                "past the end of the program ({} instructions)",
                insns.len() / 8
            ))
        })?;
    let insn = &mut insns[start..start + 8];
    let code = insn[0];
    let is_ldimm64 = code == (BPF_LD | BPF_IMM | BPF_DW);
    let (local, target, local_size, target_size, adjustable) = match reloc {
        Relocation::Poison => {
            let poison = |i: &mut [u8]| {
                i[0] = 0x85;
                i[1] = 0;
                i[2..4].copy_from_slice(&0u16.to_le_bytes());
                i[4..8].copy_from_slice(&POISON_HELPER.to_le_bytes());
            };
            poison(insn);
            if is_ldimm64 {
                if let Some(second) = insns.get_mut(start + 8..start + 16) {
                    poison(second);
                }
            }
            return Ok(());
        }
        Relocation::Value {
            local,
            target,
            local_size,
            target_size,
            size_adjustable,
            ..
        } => (*local, *target, *local_size, *target_size, *size_adjustable),
    };
    let class = code & 0x07;
    match class {
        BPF_ALU | BPF_ALU64 => {
            if code & 0x08 != BPF_K {
                return Err(err(format!(
                    "ALU instruction {code:#04x} has no immediate to relocate"
                )));
            }
            let imm = i32::from_le_bytes([insn[4], insn[5], insn[6], insn[7]]);
            if imm as i64 as u64 != local && imm as u32 as u64 != local {
                return Err(err(format!(
                    "immediate is {imm}, expected the local value {local}"
                )));
            }
            let new = i32::try_from(target as i64)
                .or_else(|_| u32::try_from(target).map(|v| v as i32))
                .map_err(|_| err(format!("value {target} does not fit a 32-bit immediate")))?;
            insn[4..8].copy_from_slice(&new.to_le_bytes());
        }
        BPF_LDX | BPF_ST | BPF_STX if code & 0xe0 == BPF_MEM => {
            let off = i16::from_le_bytes([insn[2], insn[3]]);
            if off as i64 as u64 != local {
                return Err(err(format!(
                    "offset is {off}, expected the local value {local}"
                )));
            }
            let new = i16::try_from(target)
                .map_err(|_| err(format!("offset {target} does not fit 16 bits")))?;
            insn[2..4].copy_from_slice(&new.to_le_bytes());
            if target_size != local_size && target_size != 0 {
                if size_bytes(code) != local_size {
                    return Err(err(format!(
                        "accesses {} bytes but the local field has {local_size}",
                        size_bytes(code)
                    )));
                }
                let sz = size_code(target_size)
                    .filter(|_| adjustable)
                    .ok_or_else(|| err(format!("the target field is {target_size} bytes and cannot be loaded in its place")))?;
                insn[0] = (code & !0x18) | sz;
            }
        }
        _ if is_ldimm64 => {
            let second = insns
                .get(start + 8..start + 16)
                .ok_or_else(|| err("64-bit immediate load without its second half".into()))?;
            let hi = u32::from_le_bytes([second[4], second[5], second[6], second[7]]) as u64;
            let lo = u32::from_le_bytes([
                insns[start + 4],
                insns[start + 5],
                insns[start + 6],
                insns[start + 7],
            ]) as u64;
            if (hi << 32 | lo) != local {
                return Err(err(format!(
                    "64-bit immediate is {}, expected the local value {local}",
                    hi << 32 | lo
                )));
            }
            insns[start + 4..start + 8].copy_from_slice(&(target as u32).to_le_bytes());
            insns[start + 12..start + 16].copy_from_slice(&((target >> 32) as u32).to_le_bytes());
        }
        _ => {
            return Err(err(format!(
                "instruction {code:#04x} cannot carry a CO-RE relocation"
            )))
        }
    }
    Ok(())
}
