//! Disassembly into the text of bpftool's `prog dump xlated`.
//!
//! The instruction text is the kernel verifier's notation as bpftool prints it:
//! `(b7) r1 = 33`, `(6b) *(u16 *)(r10 -4) = r1`, `(18) r1 = map[id:5][0]+16`,
//! `(85) call bpf_trace_printk#-82848`, `(15) if r0 == 0x0 goto pc+3`. Kernel facts that a
//! translated program refers to — symbol names of called kernel functions, addresses of jited
//! subprograms — come from a [`Resolver`]; [`KernelSymbols`] resolves them the way bpftool does,
//! from `/proc/kallsyms` text and the program's `jited_ksyms`.
//!
//! [`dump`] and [`dump_annotated`] give the text mode (with or without `opcodes`), [`dot`]
//! the `visual` mode, and [`Line::opcode_fields`] the parts of the JSON mode that are not
//! plain text.
//!
//! Two dialects exist because the notation grew with the ISA: [`Dialect::Current`] is the
//! notation of current kernels (ISA v4 spelled `s/=`, `(s8)`, `bswap16`, `gotol`, …), while
//! [`Dialect::PreV4`] reproduces disassemblers built from older kernel sources, such as
//! Debian's bpftool 7.1, which print ISA v4 instructions as their older look-alikes or as `BUG_…` lines.
//! Both agree on every instruction of ISA v1–v3 except the per-CPU address move that current
//! verifiers inline into translated programs (`(bf) r0 = &(void __percpu *)(r0)`).

use std::fmt::Write as _;

use crate::helpers;
use crate::insn::{op, Insn};

/// Which generation of the kernel's notation to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// The notation of current kernels, covering the whole ISA.
    Current,
    /// The notation of disassemblers built from kernel sources before ISA v4 (Linux 6.6),
    /// e.g. Debian's bpftool 7.1: sdiv/smod and movsx print as div/mod/mov, bswap as
    /// `BUG_alu64_d7`, sign-extending loads as `BUG_ldx_…`, gotol as `if w0 jmp … goto …`,
    /// load-acquire/store-release as `BUG_…`, and the per-CPU address move the verifier
    /// inlines (`r0 = &(void __percpu *)(r0)`) as `r0 = r0`. The default, because it is the
    /// text of the bpftool installed here for every program the verifier translates.
    #[default]
    PreV4,
}

/// Supplies the kernel facts a disassembly refers to. Every method has a default, so
/// `impl Resolver for T {}` is a resolver knowing nothing; [`NoSymbols`] is that resolver.
pub trait Resolver {
    /// The callee text of a call instruction whose imm is not a plain helper id: the part
    /// after `call ` (before `#imm`) for helper and kfunc calls, or after `call pc` for
    /// bpf-to-bpf calls. `None` prints the kernel's fallback (`unknown`, `kernel-function`,
    /// or the signed imm).
    fn call(&self, insn: &Insn) -> Option<String> {
        let _ = insn;
        None
    }

    /// The operand text of a 64-bit immediate load. The default prints bpftool's forms:
    /// `map[id:N]`, `map[id:N][0]+off`, `map[idx:N]+off`, `subprog[+N]` and `0x…`.
    fn imm64(&self, first: &Insn, second: &Insn, value: u64) -> String {
        default_imm64(first, second, value)
    }
}

/// bpftool's operand text of a 64-bit immediate load.
pub fn default_imm64(first: &Insn, second: &Insn, value: u64) -> String {
    match first.src {
        op::PSEUDO_MAP_FD => format!("map[id:{}]", first.imm as u32),
        op::PSEUDO_MAP_VALUE => format!("map[id:{}][0]+{}", first.imm as u32, second.imm as u32),
        op::PSEUDO_MAP_IDX_VALUE => format!("map[idx:{}]+{}", first.imm as u32, second.imm as u32),
        op::PSEUDO_FUNC => format!("subprog[{:+}]", first.imm),
        _ => format!("{value:#x}"),
    }
}

/// A resolver that knows no kernel symbols.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSymbols;

impl Resolver for NoSymbols {}

/// Resolves calls like bpftool: kernel symbol names by exact address from kallsyms, with
/// `__bpf_call_base` as the origin of helper-call immediates, and bpf-to-bpf calls through the
/// program's `jited_ksyms`.
#[derive(Debug, Clone, Default)]
pub struct KernelSymbols {
    call_base: u64,
    syms: Vec<(u64, String)>,
    jited_ksyms: Vec<u64>,
}

impl KernelSymbols {
    /// Builds the table from the text of `/proc/kallsyms` and the program's `jited_ksyms`
    /// (empty for a program that is not jited). Lines that do not parse are skipped, as are
    /// symbols at address 0 (kallsyms hidden by `kptr_restrict`).
    pub fn from_kallsyms(text: &str, jited_ksyms: Vec<u64>) -> KernelSymbols {
        let mut syms = Vec::new();
        let mut call_base = 0;
        for line in text.lines() {
            let mut it = line.split_whitespace();
            let (Some(addr), Some(_kind), Some(name)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            let Ok(addr) = u64::from_str_radix(addr, 16) else {
                continue;
            };
            if addr == 0 {
                continue;
            }
            if name == "__bpf_call_base" {
                call_base = addr;
            }
            syms.push((addr, name.to_string()));
        }
        // First symbol at an address wins, as with a search over the file order.
        syms.sort_by_key(|s| s.0);
        syms.dedup_by_key(|s| s.0);
        KernelSymbols {
            call_base,
            syms,
            jited_ksyms,
        }
    }

    /// The address of `__bpf_call_base`, 0 when kallsyms did not show it.
    pub fn call_base(&self) -> u64 {
        self.call_base
    }

    fn lookup(&self, addr: u64) -> Option<&str> {
        let i = self.syms.binary_search_by_key(&addr, |s| s.0).ok()?;
        self.syms.get(i).map(|s| s.1.as_str())
    }
}

impl Resolver for KernelSymbols {
    fn call(&self, insn: &Insn) -> Option<String> {
        let mut addr = self.call_base.wrapping_add(insn.imm as i64 as u64);
        if insn.src == op::PSEUDO_CALL {
            if let Some(a) = usize::try_from(insn.imm)
                .ok()
                .and_then(|i| self.jited_ksyms.get(i))
            {
                addr = *a;
            }
            if self.jited_ksyms.is_empty() {
                return Some(format!("{:+}", insn.off));
            }
            return Some(match self.lookup(addr) {
                Some(name) => format!("{:+}#{name}", insn.off),
                None => format!("{:+}#{addr:#x}", insn.off),
            });
        }
        match self.lookup(addr) {
            Some(name) => Some(name.to_string()),
            None if self.call_base != 0 => Some(format!("{addr:#x}")),
            None => None,
        }
    }
}

/// One disassembled instruction (two slots for `ld_imm64`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Index of the (first) slot.
    pub index: usize,
    /// The text after `N: `, e.g. `(b7) r1 = 33`.
    pub text: String,
    /// The raw bytes: 8, or 16 for `ld_imm64`.
    pub bytes: Vec<u8>,
}

/// The fields of bpftool's JSON `"opcodes"` object: `code`, `src_reg`, `dst_reg`, the two
/// `off` bytes and the `imm` bytes (4, or 12 for `ld_imm64`: everything after the first
/// slot's offset). bpftool prints each as a `0x%02x`-style string, registers as `0x%x`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpcodeFields {
    /// Opcode byte.
    pub code: u8,
    /// Source register nibble.
    pub src_reg: u8,
    /// Destination register nibble.
    pub dst_reg: u8,
    /// Offset bytes, little-endian.
    pub off: [u8; 2],
    /// Immediate bytes, little-endian.
    pub imm: Vec<u8>,
}

impl Line {
    /// The raw bytes split as bpftool's JSON `"opcodes"` object shows them.
    pub fn opcode_fields(&self) -> OpcodeFields {
        let byte = |i: usize| self.bytes.get(i).copied().unwrap_or(0);
        OpcodeFields {
            code: byte(0),
            src_reg: byte(1) >> 4,
            dst_reg: byte(1) & 0x0f,
            off: [byte(2), byte(3)],
            imm: self.bytes.get(4..).map(<[u8]>::to_vec).unwrap_or_default(),
        }
    }

    /// Number of instruction slots the line covers.
    pub fn slots(&self) -> usize {
        self.bytes.len() / Insn::SIZE
    }

    /// bpftool's `opcodes` line: seven spaces and the bytes in hex.
    pub fn opcodes(&self) -> String {
        let mut s = String::from("      ");
        for b in &self.bytes {
            let _ = write!(s, " {b:02x}");
        }
        s
    }

    /// The text bpftool prints for this instruction, `"   0: (b7) r1 = 33"`, followed
    /// (with `opcodes`) by a newline and the bytes line. No trailing newline.
    pub fn render(&self, opcodes: bool) -> String {
        let mut s = format!("{:4}: {}", self.index, self.text);
        if opcodes {
            s.push('\n');
            s.push_str(&self.opcodes());
        }
        s
    }
}

fn ldst(code: u8) -> &'static str {
    match code & 0x18 {
        op::B => "u8",
        op::H => "u16",
        op::W => "u32",
        _ => "u64",
    }
}

fn ldsx(code: u8) -> &'static str {
    match code & 0x18 {
        op::B => "s8",
        op::H => "s16",
        op::W => "s32",
        _ => "s64",
    }
}

fn alu_str(opbits: u8) -> &'static str {
    match opbits {
        op::ADD => "+=",
        op::SUB => "-=",
        op::MUL => "*=",
        op::DIV => "/=",
        op::OR => "|=",
        op::AND => "&=",
        op::LSH => "<<=",
        op::RSH => ">>=",
        op::NEG => "neg",
        op::MOD => "%=",
        op::XOR => "^=",
        op::MOV => "=",
        op::ARSH => "s>>=",
        op::END => "endian",
        _ => "(null)",
    }
}

fn jmp_str(opbits: u8) -> &'static str {
    match opbits {
        op::JA => "jmp",
        op::JEQ => "==",
        op::JGT => ">",
        op::JGE => ">=",
        op::JSET => "&",
        op::JNE => "!=",
        op::JSGT => "s>",
        op::JSGE => "s>=",
        op::CALL => "call",
        op::EXIT => "exit",
        op::JLT => "<",
        op::JLE => "<=",
        op::JSLT => "s<",
        op::JSLE => "s<=",
        op::JCOND => "may_goto",
        _ => "(null)",
    }
}

fn atomic_alu_str(imm: i32) -> Option<&'static str> {
    Some(match imm & !op::FETCH {
        op::ATOMIC_ADD => "add",
        op::ATOMIC_AND => "and",
        op::ATOMIC_OR => "or",
        op::ATOMIC_XOR => "xor",
        _ => return None,
    })
}

/// Formats the instruction at `insns[i]` (reading `insns[i + 1]` for an `ld_imm64`).
///
/// Returns the text without the index prefix and the number of slots consumed. An `ld_imm64`
/// whose second slot is missing reads as zero upper half; [`crate::decode_all`] rejects such
/// input beforehand.
pub fn format_insn(
    insns: &[Insn],
    i: usize,
    resolver: &dyn Resolver,
    dialect: Dialect,
) -> (String, usize) {
    let Some(insn) = insns.get(i) else {
        return (String::new(), 0);
    };
    let c = insn.code;
    let (d, s, off, imm) = (insn.dst, insn.src, insn.off, insn.imm);
    let v4 = dialect == Dialect::Current;
    let text = match insn.class() {
        cls @ (op::ALU | op::ALU64) => {
            let rc = if cls == op::ALU64 { 'r' } else { 'w' };
            let opbits = c & 0xf0;
            let is_x = c & op::X != 0;
            if opbits == op::END {
                if cls == op::ALU64 {
                    if v4 {
                        format!("({c:02x}) r{d} = bswap{imm} r{d}")
                    } else {
                        format!("BUG_alu64_{c:02x}")
                    }
                } else {
                    let e = if is_x { "be" } else { "le" };
                    format!("({c:02x}) r{d} = {e}{imm} r{d}")
                }
            } else if opbits == op::NEG {
                format!("({c:02x}) {rc}{d} = -{rc}{d}")
            } else if v4 && c == op::ALU64 | op::MOV | op::X && off == op::ADDR_SPACE_CAST {
                let (to, from) = ((imm as u32) >> 16, imm as u32 & 0xffff);
                format!("({c:02x}) r{d} = addr_space_cast(r{s}, {to}, {from})")
            } else if v4 && c == op::ALU64 | op::MOV | op::X && off == op::ADDR_PERCPU {
                format!("({c:02x}) r{d} = &(void __percpu *)(r{s})")
            } else {
                let signed = v4 && (opbits == op::DIV || opbits == op::MOD) && off == 1;
                let o = match (signed, opbits) {
                    (true, op::DIV) => "s/=",
                    (true, _) => "s%=",
                    _ => alu_str(opbits),
                };
                if is_x {
                    let sx = match (v4 && opbits == op::MOV, off) {
                        (true, 8) => "(s8)",
                        (true, 16) => "(s16)",
                        (true, 32) => "(s32)",
                        _ => "",
                    };
                    format!("({c:02x}) {rc}{d} {o} {sx}{rc}{s}")
                } else {
                    format!("({c:02x}) {rc}{d} {o} {imm}")
                }
            }
        }
        op::STX => {
            let size = ldst(c);
            let mode = c & 0xe0;
            let dw = c & 0x18 == op::DW;
            let bits = if dw { "64" } else { "" };
            if mode == op::MEM {
                format!("({c:02x}) *({size} *)(r{d} {off:+}) = r{s}")
            } else if mode == op::ATOMIC {
                match (imm, atomic_alu_str(imm)) {
                    (_, Some(_)) if imm & op::FETCH == 0 => {
                        let o = alu_str((imm & 0xf0) as u8);
                        format!("({c:02x}) lock *({size} *)(r{d} {off:+}) {o} r{s}")
                    }
                    (_, Some(name)) => format!(
                        "({c:02x}) r{s} = atomic{bits}_fetch_{name}(({size} *)(r{d} {off:+}), r{s})"
                    ),
                    (op::CMPXCHG, None) => format!(
                        "({c:02x}) r0 = atomic{bits}_cmpxchg(({size} *)(r{d} {off:+}), r0, r{s})"
                    ),
                    (op::XCHG, None) => {
                        format!(
                            "({c:02x}) r{s} = atomic{bits}_xchg(({size} *)(r{d} {off:+}), r{s})"
                        )
                    }
                    (op::LOAD_ACQ, None) if v4 => {
                        format!("({c:02x}) r{d} = load_acquire(({size} *)(r{s} {off:+}))")
                    }
                    (op::STORE_REL, None) if v4 => {
                        format!("({c:02x}) store_release(({size} *)(r{d} {off:+}), r{s})")
                    }
                    _ => format!("BUG_{c:02x}"),
                }
            } else {
                format!("BUG_{c:02x}")
            }
        }
        op::ST => {
            if c & 0xe0 == op::MEM {
                format!("({c:02x}) *({} *)(r{d} {off:+}) = {imm}", ldst(c))
            } else if c & 0xe0 == op::NOSPEC {
                format!("({c:02x}) nospec")
            } else {
                format!("BUG_st_{c:02x}")
            }
        }
        op::LDX => {
            let mode = c & 0xe0;
            if mode == op::MEM {
                format!("({c:02x}) r{d} = *({} *)(r{s} {off:+})", ldst(c))
            } else if v4 && mode == op::MEMSX {
                format!("({c:02x}) r{d} = *({} *)(r{s} {off:+})", ldsx(c))
            } else {
                format!("BUG_ldx_{c:02x}")
            }
        }
        op::LD => {
            let mode = c & 0xe0;
            if mode == op::ABS {
                format!("({c:02x}) r0 = *({} *)skb[{imm}]", ldst(c))
            } else if mode == op::IND {
                format!("({c:02x}) r0 = *({} *)skb[r{s} + {imm}]", ldst(c))
            } else if c == op::LD_IMM64 {
                let second = insns.get(i + 1).copied().unwrap_or_default();
                let value = (u64::from(second.imm as u32) << 32) | u64::from(imm as u32);
                let text = resolver.imm64(insn, &second, value);
                let slots = if i + 1 < insns.len() { 2 } else { 1 };
                return (format!("({c:02x}) r{d} = {text}"), slots);
            } else {
                format!("BUG_ld_{c:02x}")
            }
        }
        cls => {
            let rc = if cls == op::JMP32 { 'w' } else { 'r' };
            let opbits = c & 0xf0;
            if opbits == op::CALL {
                call_text(insn, resolver)
            } else if c == op::JMP | op::JA {
                format!("({c:02x}) goto pc{off:+}")
            } else if v4 && c == op::JMP | op::JCOND && s == op::MAY_GOTO {
                format!("({c:02x}) may_goto pc{off:+}")
            } else if v4 && c == op::JMP32 | op::JA {
                format!("({c:02x}) gotol pc{imm:+}")
            } else if c == op::JMP | op::EXIT {
                format!("({c:02x}) exit")
            } else if c & op::X != 0 {
                format!(
                    "({c:02x}) if {rc}{d} {} {rc}{s} goto pc{off:+}",
                    jmp_str(opbits)
                )
            } else {
                format!(
                    "({c:02x}) if {rc}{d} {} {:#x} goto pc{off:+}",
                    jmp_str(opbits),
                    imm as u32
                )
            }
        }
    };
    (text, 1)
}

fn call_text(insn: &Insn, resolver: &dyn Resolver) -> String {
    let c = insn.code;
    if insn.src == op::PSEUDO_CALL {
        let callee = resolver
            .call(insn)
            .unwrap_or_else(|| format!("{:+}", insn.imm));
        return format!("({c:02x}) call pc{callee}");
    }
    let table = if insn.src == 0 && insn.imm == 0 {
        Some("bpf_unspec")
    } else if insn.src == 0 && insn.imm > 0 {
        helpers::helper_by_id(insn.imm as u32).map(|h| h.name)
    } else {
        None
    };
    let name = match table {
        Some(n) => n.to_string(),
        None => resolver.call(insn).unwrap_or_else(|| {
            if insn.src == op::PSEUDO_KFUNC_CALL {
                "kernel-function".to_string()
            } else {
                "unknown".to_string()
            }
        }),
    };
    format!("({c:02x}) call {name}#{}", insn.imm)
}

/// Disassembles a whole program into lines, one per instruction (an `ld_imm64` is one line
/// covering two slots).
pub fn disassemble(insns: &[Insn], resolver: &dyn Resolver, dialect: Dialect) -> Vec<Line> {
    let mut out = Vec::with_capacity(insns.len());
    let mut i = 0;
    while i < insns.len() {
        let (text, slots) = format_insn(insns, i, resolver, dialect);
        let slots = slots.max(1);
        let bytes = insns[i..(i + slots).min(insns.len())]
            .iter()
            .flat_map(|x| x.to_bytes())
            .collect();
        out.push(Line {
            index: i,
            text,
            bytes,
        });
        i += slots;
    }
    out
}

/// The text of `bpftool prog dump xlated` for a program without BTF (no prototype or source
/// lines): one line per instruction, each followed by its bytes when `opcodes` is set. Every
/// line ends with a newline.
pub fn dump(insns: &[Insn], resolver: &dyn Resolver, dialect: Dialect, opcodes: bool) -> String {
    let mut s = String::new();
    for line in disassemble(insns, resolver, dialect) {
        s.push_str(&line.render(opcodes));
        s.push('\n');
    }
    s
}

/// Like [`dump`], with the caller's lines put before instructions: `before(index)` returns
/// the lines to print ahead of the instruction at slot `index` — bpftool's BTF prototype line
/// (`int f(void * ctx):`) and `; source` lines (with ` [file:… line_num:… line_col:…]` under
/// `linum`), which come from BTF func_info and line_info.
pub fn dump_annotated(
    insns: &[Insn],
    resolver: &dyn Resolver,
    dialect: Dialect,
    opcodes: bool,
    before: &mut dyn FnMut(usize) -> Vec<String>,
) -> String {
    let mut s = String::new();
    for line in disassemble(insns, resolver, dialect) {
        for extra in before(line.index) {
            s.push_str(&extra);
            s.push('\n');
        }
        s.push_str(&line.render(opcodes));
        s.push('\n');
    }
    s
}

/// bpftool's escaping of one instruction line inside a DOT record label. bpftool formats each
/// line into a 64-byte buffer, so a line (with its newline) longer than 63 bytes is cut there.
fn dot_escape(text: &str) -> String {
    let mut line = format!("{text}\n");
    if line.len() > 63 {
        let mut cut = 63;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
    }
    let mut out = String::with_capacity(line.len() + 8);
    for ch in line.chars() {
        match ch {
            '\n' => out.push_str("\\l\\\n"),
            '<' | '>' | '|' | '&' => {
                out.push('\\');
                out.push(ch);
            }
            _ => out.push(ch),
        }
    }
    out
}

fn is_jump_class(insn: &Insn) -> bool {
    matches!(insn.class(), op::JMP | op::JMP32)
}

fn rel_target(i: usize, off: i16) -> Option<usize> {
    usize::try_from(i as i64 + 1 + i64::from(off)).ok()
}

/// The control-flow graph of `bpftool prog dump xlated … visual`, in DOT.
///
/// Functions start at instruction 0 and at every bpf-to-bpf call target (the call's `off`,
/// which is where translated programs keep it); basic blocks start at jump targets and after
/// conditional jumps. Each function is a cluster with ENTRY and EXIT nodes; instruction
/// indices restart at 0 in each function. The resolver should carry no jited symbols, as
/// bpftool prints plain `call pc+N` in this view.
pub fn dot(insns: &[Insn], resolver: &dyn Resolver, dialect: Dialect) -> String {
    let n = insns.len();
    let mut starts = vec![0usize];
    for (i, insn) in insns.iter().enumerate() {
        if insn.code == op::JMP | op::CALL && insn.src == op::PSEUDO_CALL {
            if let Some(t) = rel_target(i, insn.off).filter(|&t| t < n) {
                starts.push(t);
            }
        }
    }
    starts.sort_unstable();
    starts.dedup();

    let mut out = String::from("digraph \"DOT graph for eBPF program\" {\n");
    if n == 0 {
        out.push_str("}\n");
        return out;
    }
    for (f, &start) in starts.iter().enumerate() {
        let end = starts.get(f + 1).copied().unwrap_or(n);
        let func = &insns[start..end];
        let mut heads = vec![0usize];
        for (i, insn) in func.iter().enumerate() {
            let opbits = insn.code & 0xf0;
            if !is_jump_class(insn) || opbits == op::EXIT || opbits == op::CALL {
                continue;
            }
            if let Some(t) = rel_target(i, insn.off).filter(|&t| t < func.len()) {
                heads.push(t);
            }
            if opbits != op::JA && i + 1 < func.len() {
                heads.push(i + 1);
            }
        }
        heads.sort_unstable();
        heads.dedup();

        let _ = write!(
            out,
            "subgraph \"cluster_{f}\" {{\n\tstyle=\"dashed\";\n\tcolor=\"black\";\n\tlabel=\"func_{f} ()\";\n\tfn_{f}_bb_0 [shape=Mdiamond,style=filled,label=\"ENTRY\"];\n\n"
        );
        for (b, &head) in heads.iter().enumerate() {
            let tail = heads.get(b + 1).copied().unwrap_or(func.len());
            let _ = write!(
                out,
                "\tfn_{f}_bb_{} [shape=record,style=filled,label=\"{{",
                b + 2
            );
            let mut i = head;
            let mut first = true;
            while i < tail {
                let (text, slots) = format_insn(func, i, resolver, dialect);
                if !first {
                    out.push_str(" | ");
                }
                first = false;
                let _ = write!(out, "{i:4}: ");
                out.push_str(&dot_escape(&text));
                i += slots.max(1);
            }
            out.push_str("}\"];\n\n");
        }
        let _ = write!(
            out,
            "\tfn_{f}_bb_1 [shape=Mdiamond,style=filled,label=\"EXIT\"];\n\n"
        );
        let edge = |out: &mut String, a: usize, b: usize| {
            let _ = writeln!(
                out,
                "\tfn_{f}_bb_{a}:s -> fn_{f}_bb_{b}:n [style=\"solid,bold\", color=black, weight=10, constraint=true];"
            );
        };
        edge(&mut out, 0, 2);
        // Block k (0-based) is node k + 2; the block after the last one is EXIT (node 1).
        let node_after = |b: usize| if b + 1 < heads.len() { b + 3 } else { 1 };
        let node_at = |t: usize| heads.binary_search(&t).ok().map(|b| b + 2);
        for b in 0..heads.len() {
            let tail_idx = heads.get(b + 1).copied().unwrap_or(func.len()) - 1;
            let Some(tail) = func.get(tail_idx) else {
                continue;
            };
            let opbits = tail.code & 0xf0;
            if !is_jump_class(tail) || opbits == op::EXIT {
                edge(&mut out, b + 2, node_after(b));
                continue;
            }
            let target = rel_target(tail_idx, tail.off).and_then(node_at);
            if opbits == op::JA {
                if let Some(t) = target {
                    edge(&mut out, b + 2, t);
                }
                continue;
            }
            edge(&mut out, b + 2, node_after(b));
            if let Some(t) = target {
                edge(&mut out, b + 2, t);
            }
        }
        let _ = write!(
            out,
            "\tfn_{f}_bb_0:s -> fn_{f}_bb_1:n [style=\"invis\", constraint=true];\n}}\n"
        );
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Builder, Reg, Size};

    /// Reads a `bpftool prog dump xlated … opcodes` capture: the instructions (from the bytes
    /// lines) and the capture with BTF prototype and `; source` lines removed.
    fn parse_capture(text: &str) -> (Vec<Insn>, String) {
        let mut insns = Vec::new();
        let mut kept = String::new();
        for line in text.lines() {
            if line.starts_with(';') || !line.starts_with(' ') {
                continue;
            }
            kept.push_str(line);
            kept.push('\n');
            if let Some(hex) = line.strip_prefix("       ") {
                let bytes: Vec<u8> = hex
                    .split(' ')
                    .map(|b| u8::from_str_radix(b, 16).unwrap())
                    .collect();
                insns.extend(crate::decode_all(&bytes).unwrap());
            }
        }
        (insns, kept)
    }

    const CALL_BASE: u64 = 0xffff_ffff_814d_d7d0;

    /// A kallsyms text with `__bpf_call_base` and the callees of the captures at the offsets
    /// the captures show, plus three jited subprograms.
    fn kallsyms() -> String {
        let mut s = format!("{CALL_BASE:016x} T __bpf_call_base\n");
        for (off, name) in [
            (279456i64, "bpf_get_current_comm"),
            (343344, "__htab_map_lookup_elem"),
            (353936, "htab_percpu_map_update_elem"),
            (278656, "bpf_get_current_pid_tgid"),
            (-61744, "bpf_perf_event_output_tp"),
            (-63408, "bpf_trace_printk"),
            (23472, "bpf_user_rnd_u32"),
            (279088, "bpf_ktime_get_ns"),
            (-1583744, "arch_bpf_timed_may_goto"),
            (10579024, "bpf_dynptr_from_skb"),
            (10550496, "bpf_skb_load_helper_16_no_cache"),
            (10550240, "bpf_skb_load_helper_8_no_cache"),
            (-79312, "bpf_get_current_task"),
            (279328, "bpf_get_current_uid_gid"),
            (-71216, "bpf_probe_read_kernel"),
            (-60160, "bpf_probe_read_user"),
            (-59808, "bpf_probe_read_user_str"),
            (352576, "htab_map_delete_elem"),
            (356272, "htab_map_update_elem"),
        ] {
            let addr = CALL_BASE.wrapping_add(off as u64);
            s.push_str(&format!("{addr:016x} t {name}\n"));
        }
        s.push_str("ffffffffc0001000 t bpf_prog_38c3ec4a05a65438_c1\t[bpf]\n");
        s.push_str("ffffffffc0002000 t bpf_prog_8aac7fd4c2e97bf7_cb\t[bpf]\n");
        s.push_str("ffffffffc0003000 t bpf_prog_52ad18105c17d387_sub\t[bpf]\n");
        s
    }

    fn syms() -> KernelSymbols {
        KernelSymbols::from_kallsyms(
            &kallsyms(),
            vec![
                0xffff_ffff_c000_1000,
                0xffff_ffff_c000_2000,
                0xffff_ffff_c000_3000,
            ],
        )
    }

    fn assert_same(capture: &str, dialect: Dialect) {
        let (insns, expected) = parse_capture(capture);
        assert!(!insns.is_empty());
        let got = dump(&insns, &syms(), dialect, true);
        for (g, e) in got.lines().zip(expected.lines()) {
            assert_eq!(g, e);
        }
        assert_eq!(got, expected);
    }

    // Captures of `bpftool prog dump xlated id N opcodes` (Debian bpftool 7.1, Linux 6.18).

    #[test]
    fn matches_bpftool_on_alu_mem_and_jumps() {
        assert_same(include_str!("testdata/cov_opcodes.txt"), Dialect::PreV4);
    }

    #[test]
    fn matches_bpftool_on_maps_globals_subprogs_and_loop() {
        assert_same(include_str!("testdata/c1_opcodes.txt"), Dialect::PreV4);
        assert_same(include_str!("testdata/c1_opcodes.txt"), Dialect::Current);
    }

    #[test]
    fn annotated_dump_reproduces_btf_lines() {
        let capture = include_str!("testdata/c1_opcodes.txt");
        let (insns, _) = parse_capture(capture);
        // Collect the prototype and source lines bpftool printed before each instruction.
        let mut notes: Vec<(usize, Vec<String>)> = Vec::new();
        let mut pending = Vec::new();
        for line in capture.lines() {
            if line.starts_with(';') || !line.starts_with(' ') {
                pending.push(line.to_string());
            } else if let Some((idx, _)) = line.trim_start().split_once(':') {
                if let Ok(i) = idx.parse::<usize>() {
                    notes.push((i, std::mem::take(&mut pending)));
                }
            }
        }
        let mut before = |i: usize| {
            notes
                .iter()
                .find(|(at, _)| *at == i)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let got = dump_annotated(&insns, &syms(), Dialect::PreV4, true, &mut before);
        assert_eq!(got, capture);
    }

    #[test]
    fn matches_bpftool_on_libbpf_tools() {
        // Debian's libbpf-tools execsnoop and tcpstates, as loaded on this machine (their BTF
        // prototype and source lines left out of the captures).
        assert_same(
            include_str!("testdata/execsnoop_opcodes.txt"),
            Dialect::PreV4,
        );
        assert_same(
            include_str!("testdata/tcpstates_opcodes.txt"),
            Dialect::PreV4,
        );
    }

    #[test]
    fn matches_bpftool_on_kfunc_tail_call_and_ld_abs() {
        for capture in [
            include_str!("testdata/kfunc_tailcall_opcodes.txt"),
            include_str!("testdata/ld_abs_opcodes.txt"),
        ] {
            assert_same(capture, Dialect::PreV4);
            assert_same(capture, Dialect::Current);
        }
    }

    #[test]
    fn matches_bpftool_on_bpftrace_program() {
        assert_same(
            include_str!("testdata/bpftrace_opcodes.txt"),
            Dialect::PreV4,
        );
        assert_same(
            include_str!("testdata/bpftrace_hist_opcodes.txt"),
            Dialect::PreV4,
        );
    }

    #[test]
    fn current_dialect_matches_kernel_verifier_log() {
        // Instruction bytes and the text the Linux 6.18 verifier printed for them in its
        // log (bpftool -d prog load), ISA v4 included.
        let data = include_str!("testdata/verifier_log_6.18.txt");
        let mut n = 0;
        for line in data.lines() {
            let (hex, want) = line.split_once('\t').unwrap();
            let bytes: Vec<u8> = hex
                .split(' ')
                .map(|b| u8::from_str_radix(b, 16).unwrap())
                .collect();
            let insns = crate::decode_all(&bytes).unwrap();
            assert_eq!(format_insn(&insns, 0, &NoSymbols, Dialect::Current).0, want);
            n += 1;
        }
        assert!(n > 40);
    }

    #[test]
    fn current_dialect_differs_only_on_percpu_move() {
        for capture in [
            include_str!("testdata/cov_opcodes.txt"),
            include_str!("testdata/bpftrace_opcodes.txt"),
        ] {
            let (insns, _) = parse_capture(capture);
            let old = disassemble(&insns, &syms(), Dialect::PreV4);
            let new = disassemble(&insns, &syms(), Dialect::Current);
            let differ: Vec<_> = old
                .iter()
                .zip(&new)
                .filter(|(a, b)| a.text != b.text)
                .map(|(a, b)| (a.text.as_str(), b.text.as_str()))
                .collect();
            assert_eq!(
                differ,
                [("(bf) r0 = r0", "(bf) r0 = &(void __percpu *)(r0)")]
            );
        }
    }

    #[test]
    fn matches_bpftool71_on_isa_v4_in_pre_v4_dialect() {
        assert_same(
            include_str!("testdata/v4a_opcodes_bpftool71.txt"),
            Dialect::PreV4,
        );
        assert_same(
            include_str!("testdata/v4b_opcodes_bpftool71.txt"),
            Dialect::PreV4,
        );
    }

    fn assert_same_dot(capture: &str, visual: &str) {
        let (insns, _) = parse_capture(capture);
        // The visual view resolves helpers through kallsyms but shows no jited symbols.
        let ks = KernelSymbols::from_kallsyms(&kallsyms(), Vec::new());
        let got = dot(&insns, &ks, Dialect::PreV4);
        for (g, e) in got.lines().zip(visual.lines()) {
            assert_eq!(g, e);
        }
        assert_eq!(got, visual);
    }

    // `bpftool prog dump xlated id N visual` of the same loads as the opcodes captures.

    #[test]
    fn dot_matches_bpftool_visual() {
        assert_same_dot(
            include_str!("testdata/c1_opcodes.txt"),
            include_str!("testdata/c1_visual.txt"),
        );
        assert_same_dot(
            include_str!("testdata/cov_opcodes.txt"),
            include_str!("testdata/cov_visual.txt"),
        );
        assert_same_dot(
            include_str!("testdata/ld_abs_opcodes.txt"),
            include_str!("testdata/ld_abs_visual.txt"),
        );
        assert_same_dot(
            include_str!("testdata/bpftrace_hist_opcodes.txt"),
            include_str!("testdata/bpftrace_hist_visual.txt"),
        );
        assert_same_dot(
            include_str!("testdata/execsnoop_opcodes.txt"),
            include_str!("testdata/execsnoop_visual.txt"),
        );
        assert_same_dot(
            include_str!("testdata/tcpstates_opcodes.txt"),
            include_str!("testdata/tcpstates_visual.txt"),
        );
    }

    #[test]
    fn dot_escapes_and_cuts_long_lines_like_bpftool() {
        assert_eq!(dot_escape("(5f) r1 &= r2"), "(5f) r1 \\&= r2\\l\\\n");
        let long = format!("(85) call {}#1", "x".repeat(60));
        let e = dot_escape(&long);
        assert_eq!(e.len(), 63);
        assert!(!e.ends_with('\n'));
        assert_eq!(
            dot(&[], &NoSymbols, Dialect::PreV4),
            "digraph \"DOT graph for eBPF program\" {\n}\n"
        );
    }

    fn one(b: &mut Builder) -> Vec<String> {
        let insns = b.build().unwrap();
        disassemble(&insns, &NoSymbols, Dialect::Current)
            .into_iter()
            .map(|l| l.text)
            .collect()
    }

    #[test]
    fn current_dialect_spells_isa_v4() {
        let mut b = Builder::new();
        b.alu64_imm(crate::AluOp::Sdiv, Reg::R1, 3)
            .alu64_reg(crate::AluOp::Sdiv, Reg::R1, Reg::R2)
            .alu32_reg(crate::AluOp::Smod, Reg::R1, Reg::R2)
            .movsx64(Reg::R1, Reg::R2, 8)
            .movsx64(Reg::R1, Reg::R2, 16)
            .movsx64(Reg::R1, Reg::R2, 32)
            .movsx32(Reg::R1, Reg::R2, 8)
            .bswap(Reg::R1, 16)
            .bswap(Reg::R1, 64)
            .load_sx(Size::B, Reg::R0, Reg::R1, 0)
            .load_sx(Size::H, Reg::R0, Reg::R1, -2)
            .load_sx(Size::W, Reg::R0, Reg::R1, 4)
            .jmp_long("x")
            .raw(Insn::new(op::JMP | op::JCOND, 0, 0, 1, 0))
            .label("x")
            .load_acquire(Size::DW, Reg::R2, Reg::R10, -8)
            .store_release(Size::W, Reg::R10, -8, Reg::R1)
            .raw(Insn::new(op::ALU64 | op::MOV | op::X, 1, 2, 1, 1))
            .raw(Insn::new(op::ST | 0xc0, 0, 0, 0, 0));
        assert_eq!(
            one(&mut b),
            [
                "(37) r1 s/= 3",
                "(3f) r1 s/= r2",
                "(9c) w1 s%= w2",
                "(bf) r1 = (s8)r2",
                "(bf) r1 = (s16)r2",
                "(bf) r1 = (s32)r2",
                "(bc) w1 = (s8)w2",
                "(d7) r1 = bswap16 r1",
                "(d7) r1 = bswap64 r1",
                "(91) r0 = *(s8 *)(r1 +0)",
                "(89) r0 = *(s16 *)(r1 -2)",
                "(81) r0 = *(s32 *)(r1 +4)",
                "(06) gotol pc+1",
                "(e5) may_goto pc+1",
                "(db) r2 = load_acquire((u64 *)(r10 -8))",
                "(c3) store_release((u32 *)(r10 -8), r1)",
                "(bf) r1 = addr_space_cast(r2, 0, 1)",
                "(c2) nospec",
            ]
        );
    }

    #[test]
    fn calls_without_symbols() {
        let mut b = Builder::new();
        b.call_helper(6)
            .call_label("f")
            .call_kfunc(1234, 0)
            .raw(Insn::new(op::JMP | op::CALL, 0, 0, 0, 999_999))
            .ld_map_idx_value(Reg::R1, 2, 8)
            .ld_map_idx(Reg::R1, 3)
            .ld_func(Reg::R2, "f")
            .label("f")
            .exit();
        assert_eq!(
            one(&mut b),
            [
                "(85) call bpf_trace_printk#6",
                "(85) call pc+8",
                "(85) call kernel-function#1234",
                "(85) call unknown#999999",
                "(18) r1 = map[idx:2]+8",
                "(18) r1 = 0x3",
                "(18) r2 = subprog[+1]",
                "(95) exit",
            ]
        );
    }

    #[test]
    fn pseudo_calls_of_interpreted_programs_print_offset_only() {
        let ks = KernelSymbols::from_kallsyms(&kallsyms(), Vec::new());
        let call = Insn::new(op::JMP | op::CALL, 0, op::PSEUDO_CALL, 5, 1);
        assert_eq!(
            format_insn(&[call], 0, &ks, Dialect::Current).0,
            "(85) call pc+5"
        );
        let jited = syms();
        assert_eq!(
            format_insn(&[call], 0, &jited, Dialect::Current).0,
            "(85) call pc+5#bpf_prog_8aac7fd4c2e97bf7_cb"
        );
        let unknown = Insn::new(op::JMP | op::CALL, 0, 0, 0, 16);
        let far = Insn {
            imm: 1_000_000,
            ..unknown
        };
        assert_eq!(
            format_insn(&[far], 0, &jited, Dialect::Current).0,
            format!("(85) call {:#x}#1000000", CALL_BASE + 1_000_000)
        );
    }

    #[test]
    fn opcode_fields_as_bpftool_json() {
        // From `bpftool -j prog dump xlated id N opcodes`: "(18) r1 = map[id:1494]" has
        // {"code":"0x18","src_reg":"0x1","dst_reg":"0x1","off":["0x00","0x00"],
        //  "imm":["0xd6","0x05","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00"]}
        let mut b = Builder::new();
        b.ld_map_fd(Reg::R1, 1494)
            .alu64_imm(crate::AluOp::Add, Reg::R2, -4);
        let lines = disassemble(&b.build().unwrap(), &NoSymbols, Dialect::PreV4);
        let f = lines[0].opcode_fields();
        assert_eq!((f.code, f.src_reg, f.dst_reg, f.off), (0x18, 1, 1, [0, 0]));
        assert_eq!(f.imm, [0xd6, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(lines[1].opcode_fields().imm, [0xfc, 0xff, 0xff, 0xff]);
    }

    #[test]
    fn kallsyms_parsing() {
        let text = "0000000000000000 T hidden\nffffffff81000000 T __bpf_call_base\nffffffff81000010 t helper_a\nffffffff81000010 t alias_a\nffffffffc0000000 t mod_fn\t[nf_tables]\ngarbage line\nzz T bad_addr\n";
        let ks = KernelSymbols::from_kallsyms(text, Vec::new());
        assert_eq!(ks.call_base(), 0xffff_ffff_8100_0000);
        let call = |imm| Insn::new(op::JMP | op::CALL, 0, 0, 0, imm);
        assert_eq!(ks.call(&call(16)).as_deref(), Some("helper_a"));
        assert_eq!(ks.call(&call(0x3f00_0000)).as_deref(), Some("mod_fn"));
        assert_eq!(ks.call(&call(8)).as_deref(), Some("0xffffffff81000008"));
        let none = KernelSymbols::from_kallsyms("", Vec::new());
        assert_eq!(none.call(&call(8)), None);
        assert_eq!(
            format_insn(&[call(1000)], 0, &none, Dialect::PreV4).0,
            "(85) call unknown#1000"
        );
    }

    #[test]
    fn line_rendering() {
        let insns = Insn::ld_imm64(Reg::R1, 0, 0x57202c6f6c6c6548);
        let lines = disassemble(&insns, &NoSymbols, Dialect::Current);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].slots(), 2);
        assert_eq!(
            lines[0].render(true),
            "   0: (18) r1 = 0x57202c6f6c6c6548\n       18 01 00 00 48 65 6c 6c 00 00 00 00 6f 2c 20 57"
        );
        assert_eq!(
            Line {
                index: 10000,
                text: "x".into(),
                bytes: vec![]
            }
            .render(false),
            "10000: x"
        );
    }
}
