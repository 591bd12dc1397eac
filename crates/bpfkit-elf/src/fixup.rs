//! Fills in what clang leaves out of an object's BTF: DATASEC sizes and variable offsets are
//! zero in the file and only the ELF section headers and symbols know them; `.kconfig`
//! variables get the offsets of the `.kconfig` map built here.
//!
//! The patch is done on the raw type section in place (same length, same ids), so every type
//! id the rest of the object model records stays valid. bpfkit-btf offers no in-place editor of
//! DATASEC records, hence the small record walker here.

use bpfkit_btf::{Btf, Kind};
use object::elf;

use crate::error::{Error, Result};
use crate::externs::{Extern, ExternKind};
use crate::object::Ctx;

/// `BTF_VAR_GLOBAL_ALLOCATED`: what the kernel accepts for a variable the loader backs by a map.
const VAR_GLOBAL_ALLOCATED: u32 = 1;

fn rd(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn wr(b: &mut [u8], off: usize, v: u32) -> Option<()> {
    b.get_mut(off..off.checked_add(4)?)?
        .copy_from_slice(&v.to_le_bytes());
    Some(())
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

pub(crate) fn fix_btf(btf: &Btf, ctx: &Ctx, externs: &[Extern]) -> Result<Btf> {
    let broken = |detail: &str| Error::Btf {
        section: ".BTF",
        source: bpfkit_btf::Error::BadHeader {
            what: "BTF",
            detail: detail.to_string(),
        },
    };
    let h = btf.header();
    let mut bytes = btf.as_bytes().to_vec();
    let start = (h.hdr_len as usize).saturating_add(h.type_off as usize);
    let end = start.saturating_add(h.type_len as usize).min(bytes.len());
    let kconfig_size = crate::externs::kconfig_size(externs);
    let mut changed = false;
    let mut off = start;
    let mut id = btf.start_id();
    while off < end {
        let info = rd(&bytes, off + 4).ok_or_else(|| broken("type record cut short"))?;
        let kind = (info >> 24) & 0x1f;
        let vlen = (info & 0xffff) as usize;
        let len = record_len(kind, vlen);
        if kind == Kind::Datasec as u32 {
            let name = btf.name_of(id).unwrap_or("");
            if name == ".kconfig" {
                if let Some(size) = kconfig_size {
                    changed |= fix_kconfig(btf, &mut bytes, off, vlen, size, externs);
                }
            } else if let Some((sec_idx, sec)) =
                ctx.secs.iter().enumerate().find(|(_, s)| s.name == name)
            {
                let size = u32::try_from(sec.size).unwrap_or(u32::MAX);
                wr(&mut bytes, off + 8, size);
                for k in 0..vlen {
                    let e = off + 12 + 12 * k;
                    let Some(var_id) = rd(&bytes, e) else { break };
                    let Ok(var_name) = btf.name_of(var_id) else {
                        continue;
                    };
                    let sym = ctx.syms.iter().find(|s| {
                        s.shndx as usize == sec_idx
                            && s.kind != elf::STT_SECTION
                            && s.name == var_name
                    });
                    if let Some(sym) = sym {
                        wr(
                            &mut bytes,
                            e + 4,
                            u32::try_from(sym.value).unwrap_or(u32::MAX),
                        );
                    }
                }
                sort_entries(&mut bytes, off, vlen);
                changed = true;
            }
        }
        off = off
            .checked_add(len)
            .ok_or_else(|| broken("type section overflows"))?;
        id += 1;
    }
    if !changed {
        return Ok(btf.clone());
    }
    Btf::from_vec(bytes).map_err(|source| Error::Btf {
        section: ".BTF",
        source,
    })
}

fn fix_kconfig(
    btf: &Btf,
    bytes: &mut [u8],
    off: usize,
    vlen: usize,
    size: u32,
    externs: &[Extern],
) -> bool {
    wr(bytes, off + 8, size);
    for k in 0..vlen {
        let e = off + 12 + 12 * k;
        let Some(var_id) = rd(bytes, e) else { break };
        let Some(ext) = externs.iter().find(|x| x.btf_id == var_id) else {
            continue;
        };
        let ExternKind::Kconfig { offset, size, .. } = ext.kind else {
            continue;
        };
        wr(bytes, e + 4, offset);
        wr(bytes, e + 8, size);
        if let Some(var_off) = record_offset(btf, var_id) {
            wr(bytes, var_off + 12, VAR_GLOBAL_ALLOCATED);
        }
    }
    sort_entries(bytes, off, vlen);
    true
}

/// The kernel wants DATASEC entries in increasing offset order; clang's order is arbitrary
/// once the real offsets are in.
fn sort_entries(bytes: &mut [u8], off: usize, vlen: usize) {
    let start = off + 12;
    let Some(area) = start.checked_add(12 * vlen).and_then(|end| bytes.get_mut(start..end)) else {
        return;
    };
    let mut entries: Vec<[u8; 12]> = area
        .chunks_exact(12)
        .filter_map(|c| <[u8; 12]>::try_from(c).ok())
        .collect();
    entries.sort_by_key(|e| u32::from_le_bytes([e[4], e[5], e[6], e[7]]));
    for (dst, e) in area.chunks_exact_mut(12).zip(&entries) {
        dst.copy_from_slice(e);
    }
}

/// Byte offset (in the whole raw BTF) of the record of type `id`.
fn record_offset(btf: &Btf, id: u32) -> Option<usize> {
    let h = btf.header();
    let bytes = btf.as_bytes();
    let start = (h.hdr_len as usize).checked_add(h.type_off as usize)?;
    let end = start.checked_add(h.type_len as usize)?.min(bytes.len());
    let mut off = start;
    let mut cur = btf.start_id();
    while off < end {
        if cur == id {
            return Some(off);
        }
        let info = rd(bytes, off + 4)?;
        off = off.checked_add(record_len((info >> 24) & 0x1f, (info & 0xffff) as usize))?;
        cur += 1;
    }
    None
}
