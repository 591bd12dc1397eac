//! What the kernel holds: every loaded program, map, link and BTF object, by id iteration.
//!
//! Objects can vanish between `*_GET_NEXT_ID` and `*_GET_FD_BY_ID`; those are skipped, not
//! reported as errors. The iterators are lazy: each step is one id lookup and one info call.

use std::os::fd::{AsFd, OwnedFd};

use bpfkit_sys::obj::{get_fd_by_id, get_next_id, ObjKind};

use crate::error::Result;
use crate::link::LinkInfo;
use crate::map::MapInfo;
use crate::program::ProgramInfo;

pub use bpfkit_sys::btf::BtfInfo;

/// Iterates the ids of `kind`, opening each; yields `(id, fd)` and skips objects that vanished.
struct Objects {
    kind: ObjKind,
    cur: u32,
    done: bool,
}

impl Iterator for Objects {
    type Item = Result<(u32, OwnedFd)>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            match get_next_id(self.kind, self.cur) {
                Ok(Some(id)) => {
                    self.cur = id;
                    match get_fd_by_id(self.kind, id) {
                        Ok(fd) => return Some(Ok((id, fd))),
                        Err(e) if e.errno() == Some(libc::ENOENT) => continue,
                        Err(e) => {
                            self.done = true;
                            return Some(Err(e.into()));
                        }
                    }
                }
                Ok(None) => self.done = true,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e.into()));
                }
            }
        }
        None
    }
}

fn objects(kind: ObjKind) -> Objects {
    Objects {
        kind,
        cur: 0,
        done: false,
    }
}

/// Every loaded program's info, in id order.
pub fn loaded_programs() -> impl Iterator<Item = Result<ProgramInfo>> {
    objects(ObjKind::Prog).map(|r| r.and_then(|(_, fd)| ProgramInfo::from_fd(fd.as_fd())))
}

/// Every map's info, in id order.
pub fn loaded_maps() -> impl Iterator<Item = Result<MapInfo>> {
    objects(ObjKind::Map)
        .map(|r| r.and_then(|(_, fd)| Ok(MapInfo::from(&bpfkit_sys::map::map_info(fd.as_fd())?))))
}

/// Every link's info, in id order.
pub fn loaded_links() -> impl Iterator<Item = Result<LinkInfo>> {
    objects(ObjKind::Link).map(|r| r.and_then(|(_, fd)| LinkInfo::from_fd(fd.as_fd())))
}

/// Every BTF object's info (vmlinux, modules, and BTF loaded by programs), in id order.
pub fn loaded_btfs() -> impl Iterator<Item = Result<BtfInfo>> {
    objects(ObjKind::Btf).map(|r| r.and_then(|(_, fd)| Ok(bpfkit_sys::btf::btf_info(fd.as_fd())?)))
}

/// Keeps run-time statistics (`run_time_ns`, `run_cnt` in [`ProgramInfo`]) on for every
/// program while it lives (`BPF_ENABLE_STATS`); the kernel turns them off when the last
/// such guard in the system is dropped.
#[derive(Debug)]
pub struct StatsGuard {
    _fd: OwnedFd,
}

/// Turns on program run-time statistics until the guard is dropped.
pub fn enable_run_time_stats() -> Result<StatsGuard> {
    let fd = bpfkit_sys::stats::enable_stats(bpfkit_sys::stats::STATS_RUN_TIME)?;
    Ok(StatsGuard { _fd: fd })
}
