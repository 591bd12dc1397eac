//! Makes an object's BTF what the kernel accepts and the object model describes.
//!
//! clang leaves DATASEC sizes and variable offsets zero (only the ELF section headers and
//! symbols know them) and marks externs with linkage the kernel refuses. Here:
//! - every DATASEC named after an ELF section gets the section size and its variables' symbol
//!   offsets, entries sorted by offset as the kernel requires;
//! - `.kconfig` gets the layout of the `.kconfig` map built by this crate, its VARs allocated;
//! - `.ksyms`, as libbpf does, becomes a DATASEC of 4-byte slots: VARs turn into allocated
//!   `int`s, FUNC entries point at one dummy `int` VAR, FUNCs get global linkage, and unnamed
//!   kfunc parameters borrow the dummy's name (the kernel wants every parameter named).
//!
//! Type ids never change, so every id the object model records stays valid. New types (the
//! dummy VAR, an `int` when the object has none) are appended with bpfkit-btf's builder; the
//! in-place edits of type and name fields are done on the raw records, which the builder has
//! no setters for.

use bpfkit_btf::{Btf, BtfBuilder, Detail, Kind, VarLinkage, INT_SIGNED};
use object::elf;

use crate::error::{Error, Result};
use crate::externs::{Extern, ExternKind};
use crate::object::Ctx;

/// `BTF_VAR_GLOBAL_ALLOCATED`.
const VAR_GLOBAL_ALLOCATED: u32 = 1;
/// `BTF_FUNC_GLOBAL`.
const FUNC_GLOBAL: u32 = 1;
/// Name of the VAR `.ksyms` function entries point at.
const DUMMY_KSYM_VAR: &str = "dummy_ksym";

fn rd(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn wr(b: &mut [u8], off: usize, v: u32) {
    if let Some(s) = off.checked_add(4).and_then(|end| b.get_mut(off..end)) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

fn record_len(kind: u32, vlen: usize) -> usize {
    12 + match kind {
        1 | 14 | 17 => 4,
        3 => 12,
        4 | 5 | 15 | 19 => 12 * vlen,
        6 | 13 => 8 * vlen,
        _ => 0,
    }
}

/// Byte offset of every type record in raw BTF `bytes`, indexed by `id - 1`.
fn record_offsets(bytes: &[u8]) -> Option<Vec<usize>> {
    let hdr_len = rd(bytes, 4)? as usize;
    let start = hdr_len.checked_add(rd(bytes, 8)? as usize)?;
    let end = start.checked_add(rd(bytes, 12)? as usize)?.min(bytes.len());
    let mut out = Vec::new();
    let mut off = start;
    while off < end {
        out.push(off);
        let info = rd(bytes, off + 4)?;
        off = off.checked_add(record_len((info >> 24) & 0x1f, (info & 0xffff) as usize))?;
    }
    Some(out)
}

struct Raw {
    bytes: Vec<u8>,
    offsets: Vec<usize>,
}

impl Raw {
    fn rec(&self, id: u32) -> Option<usize> {
        id.checked_sub(1)
            .and_then(|i| self.offsets.get(i as usize))
            .copied()
    }

    /// Rewrites the entries of DATASEC `id` as (type, offset, size), sorted by offset.
    fn set_datasec(&mut self, id: u32, size: u32, mut entries: Vec<(u32, u32, u32)>) {
        let Some(off) = self.rec(id) else { return };
        let vlen = rd(&self.bytes, off + 4).map_or(0, |i| (i & 0xffff) as usize);
        if vlen != entries.len() {
            return;
        }
        entries.sort_by_key(|e| e.1);
        wr(&mut self.bytes, off + 8, size);
        for (k, (t, o, s)) in entries.into_iter().enumerate() {
            let e = off + 12 + 12 * k;
            wr(&mut self.bytes, e, t);
            wr(&mut self.bytes, e + 4, o);
            wr(&mut self.bytes, e + 8, s);
        }
    }

    fn set_var(&mut self, id: u32, type_id: Option<u32>, linkage: u32) {
        if let Some(off) = self.rec(id) {
            if let Some(t) = type_id {
                wr(&mut self.bytes, off + 8, t);
            }
            wr(&mut self.bytes, off + 12, linkage);
        }
    }

    fn set_func_linkage(&mut self, id: u32, linkage: u32) {
        if let Some(off) = self.rec(id) {
            if let Some(info) = rd(&self.bytes, off + 4) {
                wr(&mut self.bytes, off + 4, (info & !0xffff) | linkage);
            }
        }
    }
}

fn datasec_entries(btf: &Btf, id: u32) -> Vec<(u32, u32, u32)> {
    match btf.type_by_id(id).map(|t| t.detail) {
        Ok(Detail::Datasec { vars, .. }) => {
            vars.iter().map(|v| (v.type_id, v.offset, v.size)).collect()
        }
        _ => Vec::new(),
    }
}

pub(crate) fn fix_btf(btf: &Btf, ctx: &Ctx, externs: &[Extern]) -> Result<Btf> {
    let btf_err = |source| Error::Btf {
        section: ".BTF",
        source,
    };
    let datasecs: Vec<(u32, String)> = (1..=btf.len())
        .filter(|&id| btf.kind_of(id).is_ok_and(|k| k == Kind::Datasec))
        .map(|id| (id, btf.name_of(id).unwrap_or("").to_string()))
        .collect();
    if datasecs.is_empty() {
        return Ok(btf.clone());
    }
    let ksyms = datasecs
        .iter()
        .find(|(_, n)| n == ".ksyms")
        .map(|(id, _)| *id);

    // Types the .ksyms rewrite needs, appended so no existing id moves.
    let mut int_id = None;
    let mut dummy = None;
    let bytes = match ksyms {
        Some(_) => {
            let mut b = BtfBuilder::from_btf(btf).map_err(btf_err)?;
            let existing_int = (1..=btf.len()).find(|&id| {
                matches!(btf.type_by_id(id).map(|t| t.detail), Ok(Detail::Int(i)) if i.size == 4)
            });
            let int = match existing_int {
                Some(id) => id,
                None => b.add_int("int", 4, INT_SIGNED).map_err(btf_err)?,
            };
            let var = b
                .add_var(DUMMY_KSYM_VAR, int, VarLinkage::Global)
                .map_err(btf_err)?;
            let name_off = b.add_string(DUMMY_KSYM_VAR).map_err(btf_err)?;
            int_id = Some(int);
            dummy = Some((var, name_off));
            b.to_bytes()
        }
        None => btf.as_bytes().to_vec(),
    };
    let offsets = record_offsets(&bytes).ok_or_else(|| Error::Btf {
        section: ".BTF",
        source: bpfkit_btf::Error::BadHeader {
            what: "BTF",
            detail: "type records run past the type section".into(),
        },
    })?;
    let mut raw = Raw { bytes, offsets };

    for (id, name) in &datasecs {
        let entries = datasec_entries(btf, *id);
        if name == ".kconfig" {
            let size = crate::externs::kconfig_size(externs).unwrap_or(0);
            let mut fixed = Vec::with_capacity(entries.len());
            for (t, o, s) in entries {
                match externs.iter().find(|x| x.btf_id == t).map(|x| &x.kind) {
                    Some(ExternKind::Kconfig { offset, size, .. }) => {
                        raw.set_var(t, None, VAR_GLOBAL_ALLOCATED);
                        fixed.push((t, *offset, *size));
                    }
                    _ => fixed.push((t, o, s)),
                }
            }
            raw.set_datasec(*id, size, fixed);
        } else if Some(*id) == ksyms {
            let (Some(int), Some((dummy_var, dummy_name))) = (int_id, dummy) else {
                continue;
            };
            let mut fixed = Vec::with_capacity(entries.len());
            for (k, (t, _, _)) in entries.into_iter().enumerate() {
                let slot = u32::try_from(k * 4).unwrap_or(u32::MAX);
                match btf.type_by_id(t).map(|x| x.detail) {
                    Ok(Detail::Func { proto, .. }) => {
                        raw.set_func_linkage(t, FUNC_GLOBAL);
                        name_unnamed_params(btf, &mut raw, proto, dummy_name);
                        fixed.push((dummy_var, slot, 4));
                    }
                    _ => {
                        raw.set_var(t, Some(int), VAR_GLOBAL_ALLOCATED);
                        fixed.push((t, slot, 4));
                    }
                }
            }
            let size = u32::try_from(fixed.len() * 4).unwrap_or(u32::MAX);
            raw.set_datasec(*id, size, fixed);
        } else if let Some((sec_idx, sec)) =
            ctx.secs.iter().enumerate().find(|(_, s)| &s.name == name)
        {
            let fixed = entries
                .into_iter()
                .map(|(t, o, s)| {
                    let var_name = btf.name_of(t).unwrap_or("");
                    let sym = ctx.syms.iter().find(|y| {
                        y.shndx as usize == sec_idx
                            && y.kind != elf::STT_SECTION
                            && y.name == var_name
                    });
                    (
                        t,
                        sym.map_or(o, |y| u32::try_from(y.value).unwrap_or(u32::MAX)),
                        s,
                    )
                })
                .collect();
            raw.set_datasec(*id, u32::try_from(sec.size).unwrap_or(u32::MAX), fixed);
        }
    }
    Btf::from_vec(raw.bytes).map_err(btf_err)
}

/// Gives every unnamed parameter of FUNC_PROTO `proto` the name at `name_off`.
fn name_unnamed_params(btf: &Btf, raw: &mut Raw, proto: u32, name_off: u32) {
    let Ok(Detail::FuncProto(p)) = btf.type_by_id(proto).map(|t| t.detail) else {
        return;
    };
    let Some(off) = raw.rec(proto) else { return };
    for (j, param) in p.params.iter().enumerate() {
        if param.name_off == 0 && param.type_id != 0 {
            wr(&mut raw.bytes, off + 12 + 8 * j, name_off);
        }
    }
}
