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

fn at(insns: &mut [Insn], i: usize, prog: &str) -> Result<()> {
    if i + 1 >= insns.len() && insns.get(i).is_some_and(|x| x.code == op::LD_IMM64) {
        return Err(Error::InvalidArgument(format!(
            "program `{prog}`: ld_imm64 at instruction {i} has no second half"
        )));
    }
    if i >= insns.len() {
        return Err(Error::InvalidArgument(format!(
            "program `{prog}`: relocation at instruction {i} is past its end"
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
        at(&mut linked.insns, i, &prog)?;
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
