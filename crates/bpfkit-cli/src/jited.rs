//! `prog dump jited`: the x86-64 JIT image in AT&T syntax through iced-x86, laid out like
//! bpftool's LLVM-backed dump: per function the BTF prototype and the kernel symbol as labels,
//! `; source` lines where jited line_info maps them, `   off:\tmnemonic\toperands` lines, and
//! with `opcodes` the instruction bytes under each line. Debian's bpftool is built without a
//! disassembler (`No libbfd support`), so there is no peer text to match byte for byte.

use std::collections::BTreeMap;

use bpfkit_sys::prog::{ProgInfo, ProgInfoArrays};
use iced_x86::{Decoder, DecoderOptions, Formatter, GasFormatter, Instruction};

use crate::output::{fail, hex_text, J};
use crate::prog::{src_text, SourceInfo, SrcLine};
use crate::{CliError, Global};

/// The dump as bytes ready for stdout (or a file).
pub fn dump(
    g: &Global,
    info: &ProgInfo,
    a: &ProgInfoArrays,
    src: &SourceInfo,
    opcodes: bool,
    linum: bool,
) -> Result<Vec<u8>, CliError> {
    if std::env::consts::ARCH != "x86_64" {
        return Err(fail(format!(
            "jited dump supports x86-64 images only, this is {}",
            std::env::consts::ARCH
        )));
    }
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
    let names = symbol_names(&kallsyms, &a.jited_ksyms);
    // Functions: (start address, length) from the ksyms/func_lens arrays, or the whole image.
    let funcs: Vec<(u64, usize)> =
        if a.jited_ksyms.len() > 1 && a.jited_ksyms.len() == a.jited_func_lens.len() {
            a.jited_ksyms
                .iter()
                .zip(&a.jited_func_lens)
                .map(|(&s, &l)| (s, l as usize))
                .collect()
        } else {
            vec![(a.jited_ksyms.first().copied().unwrap_or(0), a.jited.len())]
        };
    let mut lines_at: BTreeMap<u64, &SrcLine> = BTreeMap::new();
    for (addr, l) in &src.jited_lines {
        lines_at.entry(*addr).or_insert(l);
    }
    let protos: Vec<&String> = src.protos().map(|(_, p)| p).collect();
    let mut text = String::new();
    let mut json = Vec::new();
    let mut off = 0usize;
    let mut fmt = GasFormatter::new();
    fmt.options_mut().set_first_operand_char_index(0);
    fmt.options_mut().set_uppercase_hex(false);
    for (fi, (start, len)) in funcs.iter().enumerate() {
        let Some(code) = a.jited.get(off..off + len) else {
            return Err(fail("jited image is shorter than its functions"));
        };
        off += len;
        let multi = funcs.len() > 1;
        let name = names
            .get(start)
            .cloned()
            .unwrap_or_else(|| format!("bpf_prog_{}_{}", hex(&info.tag), info.name()));
        let mut fjson = Vec::new();
        if !g.json() {
            if let Some(p) = protos.get(fi) {
                text.push_str(&format!("{p}:\n"));
            }
            if multi || !protos.is_empty() {
                text.push_str(&format!("{name}:\n"));
            }
        }
        // Offsets from the function start, as LLVM's disassembly of a JIT image shows them.
        let ip = 0;
        let mut dec = Decoder::with_ip(64, code, ip, DecoderOptions::NONE);
        let mut insn = Instruction::default();
        while dec.can_decode() {
            dec.decode_out(&mut insn);
            let pc = (insn.ip() - ip) as usize;
            let bytes = code.get(pc..pc + insn.len()).unwrap_or(&[]);
            let mut asm = String::new();
            fmt.format(&insn, &mut asm);
            let asm = match asm.split_once(' ') {
                Some((m, ops)) => format!("{m}\t{}", ops.trim_start()),
                None => asm,
            };
            let line = lines_at.get(&(start + insn.ip())).copied();
            if g.json() {
                let mut e = J::obj();
                if let Some(l) = line {
                    e.push("src", J::s(l.text.clone()));
                    if linum {
                        e.push("file", J::s(l.file.clone()))
                            .push("line_num", J::U(l.line.into()))
                            .push("line_col", J::U(l.col.into()));
                    }
                }
                e.push("pc", J::s(format!("{pc:#x}")))
                    .push("operation", J::s(asm.replace('\t', " ")));
                if opcodes {
                    e.push("opcodes", crate::output::hex_json(bytes));
                }
                fjson.push(e);
            } else {
                if let Some(l) = line {
                    text.push_str(&src_text(l, linum));
                    text.push('\n');
                }
                text.push_str(&format!("{pc:4x}:\t{asm}\n"));
                if opcodes {
                    text.push_str(&format!("\t{}\n", hex_text(bytes)));
                }
            }
        }
        if g.json() {
            let mut f = J::obj();
            f.push("name", J::s(name)).push("insns", J::Arr(fjson));
            json.push(f);
        } else if multi && fi + 1 < funcs.len() {
            text.push('\n');
        }
    }
    if g.json() {
        let mut s = J::Arr(json).render(g.pretty);
        s.push('\n');
        return Ok(s.into_bytes());
    }
    Ok(text.into_bytes())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn symbol_names(kallsyms: &str, addrs: &[u64]) -> BTreeMap<u64, String> {
    let mut out = BTreeMap::new();
    if addrs.is_empty() {
        return out;
    }
    for line in kallsyms.lines() {
        let mut it = line.split_whitespace();
        let (Some(a), Some(_), Some(name)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let Ok(a) = u64::from_str_radix(a, 16) else {
            continue;
        };
        if addrs.contains(&a) {
            out.entry(a).or_insert_with(|| name.to_string());
        }
    }
    out
}
