//! The object's BTF in the kernel (`BPF_BTF_LOAD`), the func_info and line_info records that
//! go with each program, and the mapping of a verifier failure back to the C source.

use std::os::fd::OwnedFd;

use bpfkit_btf::{Btf, Features, FuncInfo, LineInfo};

/// Size of a `struct bpf_func_info`.
pub(crate) const FUNC_INFO_REC: u32 = 8;
/// Size of a `struct bpf_line_info`.
pub(crate) const LINE_INFO_REC: u32 = 16;

/// Loads `btf`, rewritten for the running kernel's BTF features, into the kernel. The error is
/// the kernel's explanation; the caller loads without BTF then, as libbpf does.
pub(crate) fn upload(btf: &Btf) -> Result<OwnedFd, String> {
    let release = super::kconfig::kernel_release().unwrap_or_default();
    let mut nums = release.split(|c: char| !c.is_ascii_digit());
    let major = nums.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let minor = nums.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let features = if (major, minor) >= (6, 0) {
        Features::all()
    } else {
        Features::for_kernel(major, minor)
    };
    let owned;
    let bytes = if features == Features::all() {
        btf.as_bytes()
    } else {
        owned = btf.sanitize(&features).map_err(|e| e.to_string())?;
        owned.as_bytes()
    };
    bpfkit_sys::btf::btf_load(bytes).map_err(|e| e.to_string())
}

/// `bpf_func_info` records, `insn_off` in instructions.
pub(crate) fn func_info_bytes(recs: &[FuncInfo]) -> Vec<u8> {
    let mut out = Vec::with_capacity(recs.len() * FUNC_INFO_REC as usize);
    for r in recs {
        out.extend_from_slice(&r.insn_off.to_ne_bytes());
        out.extend_from_slice(&r.type_id.to_ne_bytes());
    }
    out
}

/// `bpf_line_info` records, `insn_off` in instructions.
pub(crate) fn line_info_bytes(recs: &[LineInfo]) -> Vec<u8> {
    let mut out = Vec::with_capacity(recs.len() * LINE_INFO_REC as usize);
    for r in recs {
        out.extend_from_slice(&r.insn_off.to_ne_bytes());
        out.extend_from_slice(&r.file_name_off.to_ne_bytes());
        out.extend_from_slice(&r.line_off.to_ne_bytes());
        out.extend_from_slice(&r.line_col().to_ne_bytes());
    }
    out
}

/// The instruction the verifier stopped at: the last `N: (xx) …` line of its log.
pub(crate) fn failing_insn(log: &str) -> Option<usize> {
    log.lines().rev().find_map(|line| {
        let (num, rest) = line.split_once(": (")?;
        if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) || rest.len() < 3 {
            return None;
        }
        num.parse().ok()
    })
}

/// The source position of instruction `insn`: the last line_info record at or before it.
pub(crate) fn source_of(insn: usize, lines: &[LineInfo], btf: &Btf) -> Option<String> {
    let rec = lines
        .iter()
        .filter(|l| l.insn_off as usize <= insn)
        .max_by_key(|l| l.insn_off)?;
    let file = rec.file_name(btf).unwrap_or("?");
    let text = rec.source(btf).unwrap_or("").trim();
    Some(format!("{file}:{}:{}: {text}", rec.line, rec.column))
}

/// A failed CO-RE relocation the loader turned into a poisoned instruction.
#[derive(Debug, Clone)]
pub(crate) struct Poisoned {
    pub insn: usize,
    pub what: String,
}

/// The verifier log followed by what the loader knows of the failing instruction: its C source
/// position and, when it was poisoned, the CO-RE relocation that failed.
pub(crate) fn annotate(
    log: &str,
    lines: &[LineInfo],
    btf: Option<&Btf>,
    poisoned: &[Poisoned],
) -> String {
    let mut out = log.trim_end().to_string();
    let Some(insn) = failing_insn(log) else {
        return out;
    };
    out.push_str(&format!("\nfailing instruction {insn}"));
    if let Some(src) = btf.and_then(|b| source_of(insn, lines, b)) {
        out.push_str(&format!(" at {src}"));
    }
    if let Some(p) = poisoned
        .iter()
        .find(|p| p.insn == insn || p.insn + 1 == insn)
    {
        out.push_str(&format!(
            "\nthe loader poisoned this instruction: CO-RE relocation {} found no match in the kernel's BTF; guard the access with bpf_core_field_exists()/bpf_core_type_exists()",
            p.what
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_insn_is_the_last_numbered_line() {
        let log = "0: R1=ctx() R10=fp0\n0: (b7) r0 = 0\n1: (85) call unknown#195896080\ninvalid func unknown#195896080\nprocessed 2 insns";
        assert_eq!(failing_insn(log), Some(1));
        assert_eq!(failing_insn("no numbers here\n"), None);
        assert_eq!(failing_insn("12: R1=ctx()\n"), None);
    }
}
