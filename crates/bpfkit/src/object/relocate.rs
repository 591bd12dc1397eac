//! Instruction fix-ups of a linked program: map fds and map values, `.ksyms` and kfuncs, and
//! CO-RE relocations against the kernel's BTF.

use std::os::fd::RawFd;

use bpfkit_btf::{patch_insn, relocate, Btf, CoreReloKind, Relocation as CoreResult};
use bpfkit_elf::{LinkedProgram, RelocTarget};
use bpfkit_insn::{decode_all, insns_to_bytes, op, Insn};

use super::btf_upload::Poisoned;
use crate::error::{Error, Result};

/// Helper id a call of a missing weak kfunc becomes; the verifier drops it as dead code when
/// `bpf_ksym_exists()` guards it, and names it otherwise.
const POISON_KFUNC: i32 = 0xbad2310 + 1;

/// What an extern resolved to on this kernel.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ExternValue {
    /// A `.kconfig` value: the program reads it from the `.kconfig` map.
    Kconfig,
    /// A typeless ksym: its kallsyms address.
    Address(u64),
    /// A typed ksym or a kfunc: a BTF id in vmlinux (fd 0) or a module (its BTF fd, and its
    /// index in the program's fd_array for calls).
    BtfId {
        id: u32,
        btf_fd: RawFd,
        fd_index: i16,
    },
    /// A weak extern the kernel lacks: 0, or a poisoned call.
    Missing,
}

/// Checks that relocation `i` names an instruction, and for the `ld_imm64` kinds a whole one.
fn check_slot(insns: &[Insn], i: usize, wide: bool, prog: &str) -> Result<()> {
    let Some(insn) = insns.get(i) else {
        return Err(Error::InvalidArgument(format!(
            "program `{prog}`: relocation at instruction {i} is past its end"
        )));
    };
    if wide && (insn.code != op::LD_IMM64 || i + 1 >= insns.len()) {
        return Err(Error::InvalidArgument(format!(
            "program `{prog}`: relocation at instruction {i} needs a 64-bit immediate load (ld_imm64), found opcode {:#04x}",
            insn.code
        )));
    }
    Ok(())
}

/// Patches the map and extern references of `linked` (`map_fds` by map index, `externs` by
/// extern index).
pub(crate) fn apply(
    linked: &mut LinkedProgram,
    map_fds: &[Option<RawFd>],
    map_names: &[String],
    externs: &[ExternValue],
    extern_names: &[String],
) -> Result<()> {
    let prog = linked.name.clone();
    for rel in &linked.relocations {
        let i = rel.insn;
        let wide = !matches!(
            rel.target,
            RelocTarget::Kfunc { .. } | RelocTarget::Call { .. } | RelocTarget::FuncAddr { .. }
        );
        check_slot(&linked.insns, i, wide, &prog)?;
        let insns = &mut linked.insns;
        let map_fd = |m: usize| -> Result<RawFd> {
            map_fds.get(m).copied().flatten().ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "program `{prog}` refers at instruction {i} to map `{}`, which is not created (an inner-map template?)",
                    map_names.get(m).map_or("?", String::as_str)
                ))
            })
        };
        let ext = |e: usize| -> Result<ExternValue> {
            externs.get(e).copied().ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "program `{prog}`: extern #{e} at instruction {i} is unknown"
                ))
            })
        };
        match rel.target {
            RelocTarget::Map { map } => {
                let fd = map_fd(map)?;
                insns[i].src = op::PSEUDO_MAP_FD;
                insns[i].imm = fd;
                insns[i + 1].imm = 0;
            }
            RelocTarget::MapValue { map, offset } => {
                let fd = map_fd(map)?;
                insns[i].src = op::PSEUDO_MAP_VALUE;
                insns[i].imm = fd;
                insns[i + 1].imm = offset as i32;
            }
            RelocTarget::Ksym { ext: e } => {
                let name = extern_names.get(e).map_or("?", String::as_str);
                match ext(e)? {
                    ExternValue::Address(a) => {
                        insns[i].src = op::PSEUDO_NONE;
                        insns[i].imm = a as u32 as i32;
                        insns[i + 1].imm = (a >> 32) as u32 as i32;
                    }
                    ExternValue::BtfId { id, btf_fd, .. } => {
                        insns[i].src = op::PSEUDO_BTF_ID;
                        insns[i].imm = id as i32;
                        insns[i + 1].imm = btf_fd;
                    }
                    ExternValue::Missing => {
                        insns[i].src = op::PSEUDO_NONE;
                        insns[i].imm = 0;
                        insns[i + 1].imm = 0;
                    }
                    ExternValue::Kconfig => {
                        return Err(Error::InvalidArgument(format!(
                            "program `{prog}`: instruction {i} loads the address of kconfig extern `{name}` as a ksym"
                        )))
                    }
                }
            }
            RelocTarget::Kfunc { ext: e } => match ext(e)? {
                ExternValue::BtfId { id, fd_index, .. } => {
                    insns[i].src = op::PSEUDO_KFUNC_CALL;
                    insns[i].imm = id as i32;
                    insns[i].off = fd_index;
                }
                ExternValue::Missing => {
                    insns[i].src = 0;
                    insns[i].off = 0;
                    insns[i].imm = POISON_KFUNC;
                }
                other => {
                    return Err(Error::InvalidArgument(format!(
                        "program `{prog}`: call at instruction {i} of `{}` resolved to {other:?}, not a kernel function",
                        extern_names.get(e).map_or("?", String::as_str)
                    )))
                }
            },
            // link_program resolved these already.
            RelocTarget::Call { .. } | RelocTarget::FuncAddr { .. } => {}
        }
    }
    Ok(())
}

/// The field path an access string names in the local types (`0:1:0` → `.real_parent.tgid`).
fn field_path(local: &Btf, type_id: u32, access: &str) -> String {
    let mut path = String::new();
    let mut ty = type_id;
    for (n, step) in access.split(':').enumerate() {
        let Ok(idx) = step.parse::<usize>() else {
            break;
        };
        if n == 0 {
            if idx != 0 {
                path.push_str(&format!("[{idx}]"));
            }
            continue;
        }
        let Ok(id) = local.skip_modifiers(ty) else {
            break;
        };
        let Ok(t) = local.type_by_id(id) else { break };
        match &t.detail {
            bpfkit_btf::Detail::Composite { members, .. } => {
                let Some(m) = members.get(idx) else { break };
                path.push('.');
                path.push_str(m.name);
                ty = m.type_id;
            }
            bpfkit_btf::Detail::Array(a) => {
                path.push_str(&format!("[{idx}]"));
                ty = a.elem_type;
            }
            _ => break,
        }
    }
    path
}

fn describe(local: &Btf, kind: Option<CoreReloKind>, type_id: u32, access: &str) -> String {
    let ty = local
        .type_by_id(type_id)
        .map(|t| {
            let k = t.kind.as_str().to_lowercase();
            if t.name.is_empty() {
                format!("{k} [{type_id}]")
            } else {
                format!("{k} {}", t.name)
            }
        })
        .unwrap_or_else(|_| format!("[{type_id}]"));
    let is_field = kind.is_some_and(|k| (k as u32) <= 5);
    let target = if is_field {
        format!("`{ty}{}`", field_path(local, type_id, access))
    } else {
        format!("`{ty}`")
    };
    format!(
        "{} of {target} (access {access})",
        kind.map_or_else(|| "?".to_string(), |k| format!("{k:?}"))
    )
}

/// Applies the CO-RE relocations of `linked` against `targets` (vmlinux first). Relocations
/// that match nothing poison their instruction; the list says which, for error messages.
pub(crate) fn apply_core(
    linked: &mut LinkedProgram,
    local: &Btf,
    targets: &[&Btf],
) -> Result<Vec<Poisoned>> {
    let mut poisoned = Vec::new();
    if linked.core_relos.is_empty() {
        return Ok(poisoned);
    }
    let mut bytes = insns_to_bytes(&linked.insns);
    for relo in &linked.core_relos {
        let idx = relo.insn_off as usize;
        let what = describe(
            local,
            CoreReloKind::from_u32(relo.kind),
            relo.type_id,
            &relo.access,
        );
        let result = relocate(local, relo, targets).map_err(|e| Error::Object {
            object: linked.name.clone(),
            detail: format!(
                "program `{}`: CO-RE relocation {what} at instruction {idx}: {e}",
                linked.name
            ),
        })?;
        if result == CoreResult::Poison {
            poisoned.push(Poisoned {
                insn: idx,
                what: what.clone(),
            });
        }
        patch_insn(&mut bytes, idx, &result).map_err(|e| Error::Object {
            object: linked.name.clone(),
            detail: format!(
                "program `{}`: applying CO-RE relocation {what} at instruction {idx}: {e}",
                linked.name
            ),
        })?;
    }
    linked.insns = decode_all(&bytes).map_err(|e| Error::Object {
        object: linked.name.clone(),
        detail: format!("program `{}`: re-reading relocated code: {e}", linked.name),
    })?;
    Ok(poisoned)
}

#[cfg(test)]
mod tests {
    use bpfkit_elf::Relocation;

    use super::*;

    fn linked(insns: Vec<Insn>, rel: Relocation) -> LinkedProgram {
        LinkedProgram {
            name: "p".into(),
            insns,
            relocations: vec![rel],
            func_info: Vec::new(),
            line_info: Vec::new(),
            core_relos: Vec::new(),
            functions: Vec::new(),
        }
    }

    fn insn(code: u8) -> Insn {
        Insn {
            code,
            dst: 1,
            src: 0,
            off: 0,
            imm: 0,
        }
    }

    #[test]
    fn map_fds_and_values_patch_ld_imm64_and_bad_slots_are_errors() {
        let names = vec!["m".to_string()];
        let map = Relocation {
            insn: 0,
            target: RelocTarget::MapValue { map: 0, offset: 12 },
        };
        let mut l = linked(vec![insn(op::LD_IMM64), insn(0)], map);
        apply(&mut l, &[Some(7)], &names, &[], &[]).unwrap();
        assert_eq!(
            (l.insns[0].src, l.insns[0].imm, l.insns[1].imm),
            (op::PSEUDO_MAP_VALUE, 7, 12)
        );

        // Past the end, on the last slot, or on something else than ld_imm64: errors, no panic.
        for (insns, at) in [
            (vec![insn(op::LD_IMM64), insn(0)], 5),
            (vec![insn(0), insn(op::LD_IMM64)], 1),
            (vec![insn(0xb7), insn(0)], 0),
        ] {
            let rel = Relocation {
                insn: at,
                target: RelocTarget::Map { map: 0 },
            };
            let mut l = linked(insns, rel);
            assert!(apply(&mut l, &[Some(7)], &names, &[], &[]).is_err());
        }
        // A map the loader did not create (an inner-map template) is named in the error.
        let rel = Relocation {
            insn: 0,
            target: RelocTarget::Map { map: 0 },
        };
        let mut l = linked(vec![insn(op::LD_IMM64), insn(0)], rel);
        let err = apply(&mut l, &[None], &names, &[], &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`m`"), "{err}");
    }
}
