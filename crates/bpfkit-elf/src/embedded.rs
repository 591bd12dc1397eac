//! Finding BPF objects embedded in other files: libbpf skeletons compile the `.bpf.o` into the
//! tool as a byte array, so a libbpf-tools binary holds whole ELF images.

const EM_BPF: u16 = 247;

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

/// Length of the little-endian ELF64 BPF image at the start of `b`: up to the end of its
/// section header table or of its last section, whichever is further. `None` when `b` does
/// not start with a whole one.
fn bpf_image_len(b: &[u8]) -> Option<usize> {
    if b.get(..4)? != b"\x7fELF" || *b.get(4)? != 2 || *b.get(5)? != 1 || u16_at(b, 18)? != EM_BPF {
        return None;
    }
    let shoff = usize::try_from(u64_at(b, 0x28)?).ok()?;
    let shentsize = usize::from(u16_at(b, 0x3a)?);
    let shnum = usize::from(u16_at(b, 0x3c)?);
    if shentsize < 64 || shnum == 0 {
        return None;
    }
    let mut end = shoff.checked_add(shentsize.checked_mul(shnum)?)?;
    if end > b.len() {
        return None;
    }
    for i in 0..shnum {
        let sh = shoff + i * shentsize;
        let sh_type = u32::from_le_bytes(b.get(sh + 4..sh + 8)?.try_into().ok()?);
        if sh_type == 8 {
            continue; // SHT_NOBITS occupies no file bytes
        }
        let off = usize::try_from(u64_at(b, sh + 0x18)?).ok()?;
        let size = usize::try_from(u64_at(b, sh + 0x20)?).ok()?;
        end = end.max(off.checked_add(size)?);
    }
    (end <= b.len()).then_some(end)
}

/// Every little-endian BPF ELF object (`e_machine == EM_BPF`) embedded in `bytes`, such as the
/// skeleton objects inside a libbpf-tools binary, in file order.
pub fn extract_embedded_objects(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(found) = bytes
        .get(pos..)
        .and_then(|rest| rest.windows(4).position(|w| w == b"\x7fELF"))
    {
        let start = pos + found;
        match bpf_image_len(&bytes[start..]) {
            Some(len) => {
                out.push(&bytes[start..start + len]);
                pos = start + len;
            }
            None => pos = start + 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignores_non_bpf_and_truncated_images() {
        assert!(extract_embedded_objects(b"").is_empty());
        assert!(extract_embedded_objects(b"\x7fELF").is_empty());
        let mut fake = vec![0u8; 64];
        fake[..4].copy_from_slice(b"\x7fELF");
        fake[4] = 2;
        fake[5] = 1;
        fake[18..20].copy_from_slice(&62u16.to_le_bytes());
        assert!(
            extract_embedded_objects(&fake).is_empty(),
            "x86-64 ELF is no BPF object"
        );
        fake[18..20].copy_from_slice(&EM_BPF.to_le_bytes());
        fake[0x28..0x30].copy_from_slice(&1000u64.to_le_bytes());
        fake[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        fake[0x3c..0x3e].copy_from_slice(&1u16.to_le_bytes());
        assert!(
            extract_embedded_objects(&fake).is_empty(),
            "section headers past the end"
        );
    }
}
