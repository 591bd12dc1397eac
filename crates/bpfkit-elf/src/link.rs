//! bpf-to-bpf linking: one program with every function it calls, as the kernel loads it.

use std::collections::HashMap;

use bpfkit_btf::{CoreRelo, FuncInfo, LineInfo};
use bpfkit_insn::{op, Insn};

use crate::error::{Error, Result};
use crate::object::{FuncRef, Object, RelocTarget, Relocation};

/// A program ready for `BPF_PROG_LOAD` but for map fds, externs and CO-RE: the program's
/// instructions followed by each function it calls (transitively), calls and function
/// addresses resolved.
#[derive(Debug, Clone)]
pub struct LinkedProgram {
    /// Program name.
    pub name: String,
    /// All instructions: the program first, then the called functions.
    pub insns: Vec<Insn>,
    /// Relocations left for the loader (maps, map values, ksyms, kfuncs), by instruction index
    /// into [`LinkedProgram::insns`]. Calls and function addresses are already resolved.
    pub relocations: Vec<Relocation>,
    /// func_info for the kernel: one record per function, `insn_off` in instructions.
    pub func_info: Vec<FuncInfo>,
    /// line_info for the kernel, `insn_off` in instructions.
    pub line_info: Vec<LineInfo>,
    /// CO-RE records, `insn_off` in instructions into [`LinkedProgram::insns`].
    pub core_relos: Vec<CoreRelo>,
    /// Where each function starts: the program at 0, then the appended ones.
    pub functions: Vec<(FuncRef, usize)>,
}

impl Object {
    /// Links program `index` (into [`Object::programs`]) with the subprograms it calls.
    pub fn link_program(&self, index: usize) -> Result<LinkedProgram> {
        let main = FuncRef::Program(index);
        let prog = self.func(main).ok_or_else(|| Error::Link {
            program: format!("#{index}"),
            detail: format!(
                "no program with index {index} (the object has {})",
                self.programs.len()
            ),
        })?;
        let fail = |detail: String| Error::Link {
            program: prog.name.clone(),
            detail,
        };
        let mut out = LinkedProgram {
            name: prog.name.clone(),
            insns: prog.insns.clone(),
            relocations: Vec::new(),
            func_info: Vec::new(),
            line_info: Vec::new(),
            core_relos: Vec::new(),
            functions: vec![(main, 0)],
        };
        let mut placed: HashMap<FuncRef, usize> = HashMap::from([(main, 0)]);
        let mut next = 0;
        while let Some(&(fref, start)) = out.functions.get(next) {
            next += 1;
            let Some(func) = self.func(fref) else {
                return Err(fail(format!("function reference {fref:?} names nothing")));
            };
            for rel in &func.relocations {
                let at = start + rel.insn;
                let (target, insn_off, is_call) = match rel.target {
                    RelocTarget::Call { func, insn_off } => (func, insn_off, true),
                    RelocTarget::FuncAddr { func, insn_off } => (func, insn_off, false),
                    other => {
                        out.relocations.push(Relocation {
                            insn: at,
                            target: other,
                        });
                        continue;
                    }
                };
                let target_start = match placed.get(&target) {
                    Some(&s) => s,
                    None => {
                        let callee = self
                            .func(target)
                            .ok_or_else(|| fail(format!("call target {target:?} names nothing")))?;
                        let s = out.insns.len();
                        out.insns.extend_from_slice(&callee.insns);
                        placed.insert(target, s);
                        out.functions.push((target, s));
                        s
                    }
                };
                let rel_off = (target_start + insn_off) as i64 - (at as i64 + 1);
                let imm = i32::try_from(rel_off).map_err(|_| {
                    fail(format!(
                        "call at instruction {at} is {rel_off} instructions from its target"
                    ))
                })?;
                let insn = out.insns.get_mut(at).ok_or_else(|| {
                    fail(format!("relocation at instruction {at} is past the code"))
                })?;
                insn.imm = imm;
                insn.src = if is_call {
                    op::PSEUDO_CALL
                } else {
                    op::PSEUDO_FUNC
                };
                if !is_call {
                    if let Some(hi) = out.insns.get_mut(at + 1) {
                        hi.imm = 0;
                    }
                }
            }
            let shift = u32::try_from(start).map_err(|_| fail("program too large".into()))?;
            out.func_info
                .extend(func.func_info.iter().map(|r| FuncInfo {
                    insn_off: r.insn_off + shift,
                    ..*r
                }));
            out.line_info
                .extend(func.line_info.iter().map(|r| LineInfo {
                    insn_off: r.insn_off + shift,
                    ..*r
                }));
            out.core_relos
                .extend(func.core_relos.iter().map(|r| CoreRelo {
                    insn_off: r.insn_off + shift,
                    ..r.clone()
                }));
        }
        out.relocations.sort_by_key(|r| r.insn);
        Ok(out)
    }
}
