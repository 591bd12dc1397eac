//! Kernel symbols for `.ksyms` externs and kfunc calls: `/proc/kallsyms` addresses for typeless
//! externs, vmlinux (then module) BTF ids for typed ones.

use std::collections::{HashMap, HashSet};
use std::os::fd::OwnedFd;
use std::sync::Arc;

use bpfkit_btf::{Btf, Kind};
use bpfkit_sys::obj::{all_ids, get_fd_by_id, ObjKind};

use crate::error::{Error, Result};

const KALLSYMS: &str = "/proc/kallsyms";

/// Addresses of `names` in `/proc/kallsyms`, read in one pass; names it lacks are absent.
pub(crate) fn kallsyms(names: &HashSet<&str>) -> Result<HashMap<String, u64>> {
    let text = std::fs::read_to_string(KALLSYMS).map_err(|source| Error::Io {
        path: KALLSYMS.into(),
        source,
    })?;
    let mut out = HashMap::new();
    for line in text.lines() {
        let mut f = line.split_ascii_whitespace();
        let (Some(addr), Some(_ty), Some(name)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if names.contains(name) && !out.contains_key(name) {
            if let Ok(a) = u64::from_str_radix(addr, 16) {
                out.insert(name.to_string(), a);
            }
        }
    }
    Ok(out)
}

/// A kernel BTF object that holds a symbol: vmlinux, or a module with its BTF fd.
pub(crate) struct ModuleBtf {
    pub btf: Btf,
    pub fd: OwnedFd,
}

/// vmlinux BTF plus module BTFs, the latter read only when a name is missing from vmlinux.
pub(crate) struct KernelBtfs {
    pub vmlinux: Arc<Btf>,
    modules: Option<Vec<ModuleBtf>>,
}

/// Where a kernel BTF id lives.
#[derive(Clone, Copy, Debug)]
pub(crate) enum BtfHome {
    Vmlinux,
    Module(usize),
}

impl KernelBtfs {
    pub fn new() -> Result<KernelBtfs> {
        Ok(KernelBtfs {
            vmlinux: crate::attach::vmlinux_btf()?,
            modules: None,
        })
    }

    fn modules(&mut self) -> &[ModuleBtf] {
        if self.modules.is_none() {
            let mut mods = Vec::new();
            for id in all_ids(ObjKind::Btf).unwrap_or_default() {
                let Ok(fd) = get_fd_by_id(ObjKind::Btf, id) else {
                    continue;
                };
                let Ok(info) = bpfkit_sys::btf::btf_info(std::os::fd::AsFd::as_fd(&fd)) else {
                    continue;
                };
                if !info.kernel_btf || info.name == "vmlinux" || info.name.is_empty() {
                    continue;
                }
                if let Ok(btf) = Btf::module(&info.name, &self.vmlinux) {
                    mods.push(ModuleBtf { btf, fd });
                }
            }
            self.modules = Some(mods);
        }
        self.modules.as_deref().unwrap_or_default()
    }

    /// The id of `name` of `kind` in vmlinux, else in the first module that has it.
    pub fn find(&mut self, name: &str, kind: Kind) -> Option<(BtfHome, u32)> {
        if let Some(id) = self.vmlinux.find_by_name_kind(name, kind) {
            return Some((BtfHome::Vmlinux, id));
        }
        self.modules().iter().enumerate().find_map(|(i, m)| {
            m.btf
                .find_by_name_kind(name, kind)
                .filter(|&id| id >= m.btf.start_id())
                .map(|id| (BtfHome::Module(i), id))
        })
    }

    /// Every module's BTF (split on vmlinux), read on first use.
    pub fn module_btfs(&mut self) -> Vec<&Btf> {
        self.modules().iter().map(|m| &m.btf).collect()
    }

    pub fn module(&self, i: usize) -> Option<&ModuleBtf> {
        self.modules.as_ref().and_then(|m| m.get(i))
    }
}
