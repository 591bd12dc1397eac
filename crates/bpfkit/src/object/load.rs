//! The load phase: BTF, maps, externs, programs, then the `values` of prog_arrays.

use std::collections::HashSet;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::PathBuf;

use bpfkit_btf::Kind;
use bpfkit_elf::{maps as emaps, DataKind, ExternKind, LinkedProgram, MapDef, SlotTarget};

use super::btf_upload::{self, Poisoned};
use super::ksyms::{BtfHome, KernelBtfs};
use super::relocate::{self, ExternValue};
use super::{is_created, Object, ObjectBuilder, ObjectMap, ObjectProgram, ProgAdjust};
use crate::attach::fentry::{function_btf_id, TracingKind};
use crate::error::{Error, Result};
use crate::map::{Map, MapSpec, MapType};
use crate::program::{AttachType, Program, ProgramSpec, ProgramType};

/// Kernel object names hold 15 bytes.
const OBJ_NAME_MAX: usize = 15;

fn short(name: &str) -> String {
    name.chars().take(OBJ_NAME_MAX).collect()
}

struct Ctx<'a> {
    b: &'a ObjectBuilder,
    kernel: Option<KernelBtfs>,
}

impl Ctx<'_> {
    fn fail(&self, detail: String) -> Error {
        self.b.fail(detail)
    }

    fn kernel(&mut self) -> Result<&mut KernelBtfs> {
        if self.kernel.is_none() {
            self.kernel = Some(KernelBtfs::new()?);
        }
        self.kernel
            .as_mut()
            .ok_or_else(|| Error::InvalidArgument("kernel BTF unavailable".into()))
    }
}

fn map_spec(def: &MapDef, obj: &str) -> Result<MapSpec> {
    let map_type = MapType::from_raw(def.map_type).ok_or_else(|| Error::Object {
        object: obj.to_string(),
        detail: format!(
            "map `{}` has map type {}, unknown to bpfkit",
            def.name, def.map_type
        ),
    })?;
    let mut max_entries = def.max_entries;
    if map_type == MapType::PerfEventArray && max_entries == 0 {
        // libbpf's convention: one slot per possible CPU.
        max_entries = bpfkit_sys::mmap::possible_cpus()
            .ok()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(1);
    }
    let mut spec = MapSpec::new(map_type, def.key_size, def.value_size, max_entries)
        .name(short(&def.name))
        .flags(def.map_flags)
        .map_extra(def.map_extra);
    if let Some(n) = def.numa_node {
        spec = spec.numa_node(n);
    }
    Ok(spec)
}

fn create_map(def: &MapDef, obj: &str, btf: Option<RawFd>) -> Result<Map> {
    let mut spec = map_spec(def, obj)?;
    // The inner template lives only until the outer map is created: the kernel copies what it
    // needs from it.
    let inner = match &def.inner {
        Some(inner) => Some(
            Map::create(&map_spec(inner, obj)?).map_err(|e| Error::Object {
                object: obj.to_string(),
                detail: format!("creating the inner-map template of `{}`: {e}", def.name),
            })?,
        ),
        None => None,
    };
    if let Some(i) = &inner {
        spec = spec.inner_map(i.fd());
    }
    let typed = btf.filter(|_| def.btf_key_type_id != 0 || def.btf_value_type_id != 0);
    if let Some(fd) = typed {
        let mut with_btf = spec.clone();
        with_btf.btf_fd = Some(fd);
        with_btf.btf_key_type_id = def.btf_key_type_id;
        with_btf.btf_value_type_id = def.btf_value_type_id;
        if let Ok(m) = Map::create(&with_btf) {
            return Ok(m);
        }
    }
    // Without BTF, as libbpf retries: some map types (or old kernels) refuse the type info.
    Map::create(&spec).map_err(|e| Error::Object {
        object: obj.to_string(),
        detail: format!("creating map `{}`: {e}", def.name),
    })
}

fn check_compatible(def: &MapDef, map: &Map, obj: &str, what: &str) -> Result<()> {
    let info = map.info()?;
    let mismatch = [
        ("map type", def.map_type, info.map_type_raw),
        ("key size", def.key_size, info.key_size),
        ("value size", def.value_size, info.value_size),
        (
            "max_entries",
            if def.max_entries == 0 {
                info.max_entries
            } else {
                def.max_entries
            },
            info.max_entries,
        ),
        ("map_flags", def.map_flags, info.flags),
    ]
    .into_iter()
    .find(|(_, want, have)| want != have);
    match mismatch {
        None => Ok(()),
        Some((field, want, have)) => Err(Error::Object {
            object: obj.to_string(),
            detail: format!(
                "cannot reuse {what} for map `{}`: its {field} is {have}, the object defines {want} (remove the pin or fix the definition)",
                def.name
            ),
        }),
    }
}

fn kconfig_env(b: &ObjectBuilder) -> Result<bpfkit_elf::KconfigEnv> {
    let needs_config = b
        .obj
        .externs
        .iter()
        .any(|e| matches!(e.kind, ExternKind::Kconfig { .. }) && !e.name.starts_with("LINUX_"));
    let needs_wrapper = b
        .obj
        .externs
        .iter()
        .any(|e| e.name == "LINUX_HAS_SYSCALL_WRAPPER");
    super::kconfig::running_kernel_env(needs_config, needs_wrapper)
}

fn resolve_externs(ctx: &mut Ctx<'_>, fd_array: &mut Vec<RawFd>) -> Result<Vec<ExternValue>> {
    let externs = &ctx.b.obj.externs;
    let typeless: HashSet<&str> = externs
        .iter()
        .filter(|e| matches!(e.kind, ExternKind::Ksym { type_id: None }))
        .map(|e| e.name.as_str())
        .collect();
    let addrs = if typeless.is_empty() {
        Default::default()
    } else {
        super::ksyms::kallsyms(&typeless)?
    };
    let mut out = Vec::with_capacity(externs.len());
    for e in externs {
        let missing = |what: &str| -> Result<ExternValue> {
            if e.weak {
                Ok(ExternValue::Missing)
            } else {
                Err(Error::Object {
                    object: ctx.b.obj.name.clone(),
                    detail: format!(
                        "extern `{}` is not {what}; declare it __weak if the program copes without it",
                        e.name
                    ),
                })
            }
        };
        let v = match &e.kind {
            ExternKind::Kconfig { .. } => ExternValue::Kconfig,
            ExternKind::Ksym { type_id: None } => match addrs.get(&e.name) {
                Some(&a) => ExternValue::Address(a),
                None => missing("in /proc/kallsyms")?,
            },
            ExternKind::Ksym { type_id: Some(_) } | ExternKind::Kfunc { .. } => {
                let is_func = matches!(e.kind, ExternKind::Kfunc { .. });
                let kind = if is_func { Kind::Func } else { Kind::Var };
                let found = ctx.kernel()?.find(&e.name, kind);
                match found {
                    None => missing(if is_func {
                        "a kernel function (kfunc) in vmlinux or module BTF"
                    } else {
                        "a kernel variable in vmlinux or module BTF"
                    })?,
                    Some((BtfHome::Vmlinux, id)) => ExternValue::BtfId {
                        id,
                        btf_fd: 0,
                        fd_index: 0,
                    },
                    Some((BtfHome::Module(m), id)) => {
                        let fd = ctx
                            .kernel()?
                            .module(m)
                            .map(|m| m.fd.as_raw_fd())
                            .unwrap_or(0);
                        if fd_array.is_empty() {
                            // Index 0 means vmlinux; the kernel never reads that slot.
                            fd_array.push(0);
                        }
                        let idx = match fd_array.iter().position(|&f| f == fd) {
                            Some(i) if i > 0 => i,
                            _ => {
                                fd_array.push(fd);
                                fd_array.len() - 1
                            }
                        };
                        ExternValue::BtfId {
                            id,
                            btf_fd: fd,
                            fd_index: i16::try_from(idx).unwrap_or(i16::MAX),
                        }
                    }
                }
            }
        };
        out.push(v);
    }
    Ok(out)
}

/// The BTF attach target of tracing and LSM programs, from the section's target.
fn attach_btf_id(
    prog: &str,
    attach: Option<AttachType>,
    target: Option<&str>,
) -> Result<Option<u32>> {
    let Some(attach) = attach else {
        return Ok(None);
    };
    let need = |t: Option<&str>| {
        t.map(str::to_string).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "program `{prog}`: its section names no attach target (e.g. SEC(\"fentry/do_unlinkat\"))"
            ))
        })
    };
    Ok(Some(match attach {
        AttachType::TraceRawTp => crate::attach::raw_tp::tp_btf_id(&need(target)?)?,
        AttachType::TraceFentry => function_btf_id(TracingKind::Fentry, &need(target)?)?,
        AttachType::TraceFexit => function_btf_id(TracingKind::Fexit, &need(target)?)?,
        AttachType::ModifyReturn => function_btf_id(TracingKind::ModifyReturn, &need(target)?)?,
        AttachType::LsmMac => function_btf_id(TracingKind::Lsm, &need(target)?)?,
        AttachType::TraceIter => crate::attach::vmlinux_btf_id(
            &format!("bpf_iter_{}", need(target)?),
            Kind::Func,
            "BPF iterator",
        )?,
        _ => return Ok(None),
    }))
}

struct Loaded {
    program: Program,
}

#[allow(clippy::too_many_arguments)]
fn load_program(
    ctx: &mut Ctx<'_>,
    index: usize,
    adj: &ProgAdjust,
    map_fds: &[Option<RawFd>],
    externs: &[ExternValue],
    fd_array: &[RawFd],
    btf_fd: Option<std::os::fd::BorrowedFd<'_>>,
) -> Result<Loaded> {
    let obj = &ctx.b.obj;
    let p = &obj.programs[index];
    let kind = p.kind.as_ref().ok_or_else(|| {
        ctx.fail(format!(
            "program `{}` in section `{}` has no program kind",
            p.name, p.section
        ))
    })?;
    let prog_type = match adj.prog_type {
        Some(t) => t,
        None => ProgramType::from_u32(kind.prog_type() as u32).ok_or_else(|| {
            ctx.fail(format!(
                "program `{}`: section `{}` gives program type {}, unknown to bpfkit",
                p.name,
                p.section,
                kind.prog_type() as u32
            ))
        })?,
    };
    let attach_type = match adj.attach_type {
        Some(t) => t,
        None => kind
            .attach_type()
            .and_then(|a| AttachType::from_u32(a as u32)),
    };
    let mut linked: LinkedProgram = obj.link_program(index)?;
    let map_names: Vec<String> = obj.maps.iter().map(|m| m.name.clone()).collect();
    let extern_names: Vec<String> = obj.externs.iter().map(|e| e.name.clone()).collect();
    relocate::apply(&mut linked, map_fds, &map_names, externs, &extern_names)?;
    let mut poisoned: Vec<Poisoned> = Vec::new();
    if !linked.core_relos.is_empty() {
        let local = obj.btf.as_ref().ok_or_else(|| {
            ctx.fail(format!(
                "program `{}` has CO-RE relocations but the object has no BTF",
                p.name
            ))
        })?;
        let vmlinux = ctx.kernel()?.vmlinux.clone();
        let mut trial = linked.clone();
        poisoned = relocate::apply_core(&mut trial, local, &[&vmlinux])?;
        if poisoned.is_empty() {
            linked = trial;
        } else {
            // Module BTF is read only when vmlinux leaves a relocation unmatched, as a type
            // of a module (a driver's struct) is rare and reading every module costs.
            let kernel = ctx.kernel()?;
            let mods = kernel.module_btfs();
            let mut targets: Vec<&bpfkit_btf::Btf> = vec![&vmlinux];
            targets.extend(mods);
            poisoned = relocate::apply_core(&mut linked, local, &targets)?;
        }
    }
    let attach_btf = match prog_type {
        ProgramType::Tracing | ProgramType::Lsm => {
            attach_btf_id(&p.name, attach_type, kind.target.as_deref())?
        }
        _ => None,
    };
    let func_info = btf_upload::func_info_bytes(&linked.func_info);
    let line_info = btf_upload::line_info_bytes(&linked.line_info);
    let mut spec = ProgramSpec::new(short(&p.name), prog_type, &linked.insns)
        .license(obj.license.clone().unwrap_or_default())
        .kern_version(
            obj.kernel_version
                .unwrap_or_else(super::kconfig::kernel_version_code),
        )
        .prog_flags(kind.prog_flags())
        .log_level(ctx.b.log_level);
    if let Some(t) = attach_type {
        spec = spec.expected_attach_type(t);
    }
    if let Some(id) = attach_btf {
        spec = spec.attach_btf_id(id, None);
    }
    if let Some(fd) = btf_fd.filter(|_| !linked.func_info.is_empty()) {
        spec = spec.btf(
            fd,
            &func_info,
            btf_upload::FUNC_INFO_REC,
            &line_info,
            btf_upload::LINE_INFO_REC,
        );
    }
    if !fd_array.is_empty() {
        spec = spec.fd_array(fd_array);
    }
    match Program::load(&spec) {
        Ok(program) => Ok(Loaded { program }),
        Err(Error::Verifier { source, log, .. }) => Err(Error::Verifier {
            name: p.name.clone(),
            source,
            log: btf_upload::annotate(&log, &linked.line_info, obj.btf.as_ref(), &poisoned),
        }),
        Err(e) => Err(e),
    }
}

pub(super) fn load(mut b: ObjectBuilder) -> Result<Object> {
    crate::memlock::ensure();
    let mut adjust: Vec<Option<Map>> = b.maps.iter_mut().map(|a| a.reuse.take()).collect();
    let mut ctx = Ctx {
        b: &b,
        kernel: None,
    };
    let obj = &b.obj;
    let btf_fd = obj
        .btf
        .as_ref()
        .and_then(|btf| btf_upload::upload(btf).ok());
    let btf_raw = btf_fd.as_ref().map(|f| f.as_raw_fd());

    // Maps, with their initial contents, then pins.
    let mut maps: Vec<ObjectMap> = Vec::new();
    let mut map_fds: Vec<Option<RawFd>> = Vec::new();
    let mut def_to_map: Vec<Option<usize>> = Vec::new();
    let mut kconfig: Option<Vec<u8>> = None;
    if obj
        .maps
        .iter()
        .any(|m| m.data.as_ref().is_some_and(|d| d.kind == DataKind::Kconfig))
    {
        kconfig = obj.kconfig_data(&kconfig_env(&b)?)?;
    }
    for (i, def) in obj.maps.iter().enumerate() {
        if !is_created(def) {
            map_fds.push(None);
            def_to_map.push(None);
            continue;
        }
        let mut pinned_at: Option<PathBuf> = None;
        let mut reused = None;
        if let Some(m) = adjust.get_mut(i).and_then(Option::take) {
            check_compatible(def, &m, &obj.name, "the given map")?;
            reused = Some(m);
        } else if def.pinning == emaps::LIBBPF_PIN_BY_NAME {
            let path = b.pin_root.join(&def.name);
            if path.exists() {
                let m = Map::from_pin(&path)?;
                check_compatible(
                    def,
                    &m,
                    &obj.name,
                    &format!("the map pinned at {}", path.display()),
                )?;
                reused = Some(m);
            }
            pinned_at = Some(path);
        } else if def.pinning != 0 {
            return Err(ctx.fail(format!(
                "map `{}` has pinning mode {}; only LIBBPF_PIN_BY_NAME (1) is defined",
                def.name, def.pinning
            )));
        }
        let is_reused = reused.is_some();
        let map = match reused {
            Some(m) => m,
            None => {
                let m = create_map(def, &obj.name, btf_raw)?;
                if let Some(d) = &def.data {
                    let bytes = match d.kind {
                        DataKind::Kconfig => kconfig.clone().unwrap_or_else(|| d.bytes.clone()),
                        _ => d.bytes.clone(),
                    };
                    if !bytes.is_empty() && d.kind != DataKind::Bss {
                        m.update(&0u32.to_ne_bytes(), &bytes, 0).map_err(|e| {
                            ctx.fail(format!("writing the initial value of `{}`: {e}", def.name))
                        })?;
                    }
                    if def.frozen_after_load() {
                        m.freeze()
                            .map_err(|e| ctx.fail(format!("freezing `{}`: {e}", def.name)))?;
                    }
                }
                if let Some(path) = &pinned_at {
                    m.pin(path).map_err(|e| {
                        ctx.fail(format!(
                            "pinning map `{}` at {}: {e}",
                            def.name,
                            path.display()
                        ))
                    })?;
                }
                m
            }
        };
        map_fds.push(Some(map.fd().as_raw_fd()));
        def_to_map.push(Some(maps.len()));
        maps.push(ObjectMap {
            name: def.name.clone(),
            section: def.data.as_ref().map(|d| d.section.clone()),
            pinned_at,
            reused: is_reused,
            map,
        });
    }
    let find_map = |name: &str| maps.iter().find(|m| m.name == name);
    for def in &obj.maps {
        if def.map_type == emaps::MAP_TYPE_PROG_ARRAY || def.init_slots.is_empty() {
            continue;
        }
        let Some(outer) = find_map(&def.name) else {
            continue;
        };
        if outer.reused {
            continue;
        }
        for slot in &def.init_slots {
            let SlotTarget::Map(inner) = &slot.target else {
                continue;
            };
            let m = find_map(inner).ok_or_else(|| {
                ctx.fail(format!(
                    "map `{}` slot {} names map `{inner}`, which is not created",
                    def.name, slot.slot
                ))
            })?;
            outer
                .map
                .update_fd(&slot.slot.to_ne_bytes(), m.map.fd(), 0)
                .map_err(|e| {
                    ctx.fail(format!(
                        "setting slot {} of `{}` to map `{inner}`: {e}",
                        slot.slot, def.name
                    ))
                })?;
        }
    }

    // Externs, then programs.
    let mut fd_array = Vec::new();
    let externs = resolve_externs(&mut ctx, &mut fd_array)?;
    let mut programs = Vec::new();
    let mut skipped = Vec::new();
    for (i, adj) in b.progs.iter().enumerate() {
        if !adj.autoload {
            continue;
        }
        let p = &obj.programs[i];
        match load_program(
            &mut ctx,
            i,
            adj,
            &map_fds,
            &externs,
            &fd_array,
            btf_fd.as_ref().map(|f| f.as_fd()),
        ) {
            Ok(l) => programs.push(ObjectProgram {
                name: p.name.clone(),
                section: p.section.clone(),
                kind: p.kind.clone(),
                program: l.program,
            }),
            Err(e @ (Error::NotSupported { .. } | Error::Refused { .. })) if b.skip_unsupported => {
                skipped.push((p.name.clone(), e.to_string()));
            }
            Err(e) => {
                return Err(match e {
                    v @ Error::Verifier { .. } => v,
                    other => Error::Object {
                        object: obj.name.clone(),
                        detail: format!(
                            "loading program `{}` (section {}): {other}",
                            p.name, p.section
                        ),
                    },
                })
            }
        }
    }

    for def in &obj.maps {
        if def.map_type != emaps::MAP_TYPE_PROG_ARRAY || def.init_slots.is_empty() {
            continue;
        }
        let Some(outer) = maps.iter().find(|m| m.name == def.name) else {
            continue;
        };
        for slot in &def.init_slots {
            let SlotTarget::Program(name) = &slot.target else {
                continue;
            };
            // A program left out leaves its slot empty, as in libbpf.
            let Some(prog) = programs.iter().find(|p| &p.name == name) else {
                continue;
            };
            outer
                .map
                .update_fd(&slot.slot.to_ne_bytes(), prog.program.fd(), 0)
                .map_err(|e| {
                    ctx.fail(format!(
                        "setting slot {} of `{}` to program `{name}`: {e}",
                        slot.slot, def.name
                    ))
                })?;
        }
    }

    let mut vars = Vec::new();
    for (i, def) in obj.maps.iter().enumerate() {
        let (Some(d), Some(Some(m))) = (&def.data, def_to_map.get(i)) else {
            continue;
        };
        if d.kind == DataKind::Kconfig {
            continue;
        }
        for v in &d.vars {
            vars.push((v.name.clone(), *m, v.offset as usize, v.size as usize));
        }
    }
    Ok(Object {
        name: obj.name.clone(),
        maps,
        programs,
        vars,
        skipped,
        _btf: btf_fd,
    })
}
