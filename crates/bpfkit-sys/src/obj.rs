//! Commands that act on any kind of BPF object: ids, fds by id, info by fd, pinning.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::cmd::{bpf, bpf_fd, Cmd};
use crate::error::{Error, Result};

/// The four kinds of kernel object that have ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjKind {
    /// A program.
    Prog,
    /// A map.
    Map,
    /// A link.
    Link,
    /// A BTF object.
    Btf,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct GetIdAttr {
    start_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// The id after `start` of an object of `kind`, or `None` when there is none.
pub fn get_next_id(kind: ObjKind, start: u32) -> Result<Option<u32>> {
    let cmd = match kind {
        ObjKind::Prog => Cmd::ProgGetNextId,
        ObjKind::Map => Cmd::MapGetNextId,
        ObjKind::Link => Cmd::LinkGetNextId,
        ObjKind::Btf => Cmd::BtfGetNextId,
    };
    let mut attr = GetIdAttr {
        start_id: start,
        ..Default::default()
    };
    match bpf(cmd, &mut attr) {
        Ok(_) => Ok(Some(attr.next_id)),
        Err(e) if e.errno() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Every id of `kind` currently in the kernel, in increasing order.
pub fn all_ids(kind: ObjKind) -> Result<Vec<u32>> {
    let mut ids = Vec::new();
    let mut cur = 0;
    while let Some(next) = get_next_id(kind, cur)? {
        ids.push(next);
        cur = next;
    }
    Ok(ids)
}

/// Opens a new fd for the object `id` of `kind`.
pub fn get_fd_by_id(kind: ObjKind, id: u32) -> Result<OwnedFd> {
    let cmd = match kind {
        ObjKind::Prog => Cmd::ProgGetFdById,
        ObjKind::Map => Cmd::MapGetFdById,
        ObjKind::Link => Cmd::LinkGetFdById,
        ObjKind::Btf => Cmd::BtfGetFdById,
    };
    let mut attr = GetIdAttr {
        start_id: id,
        ..Default::default()
    };
    bpf_fd(cmd, &mut attr)
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// Fills `info` (a `bpf_prog_info`, `bpf_map_info`, `bpf_link_info` or `bpf_btf_info` layout)
/// for the object behind `fd` and returns how many bytes the kernel wrote.
///
/// `T` must be a `#[repr(C)]` plain-data struct with no implicit padding; pointer fields inside
/// it (e.g. `xlated_prog_insns`) must point at buffers that stay alive during the call.
pub fn obj_get_info_by_fd<T: Copy>(fd: BorrowedFd<'_>, info: &mut T) -> Result<u32> {
    let mut attr = InfoAttr {
        bpf_fd: fd.as_raw_fd() as u32,
        info_len: std::mem::size_of::<T>() as u32,
        info: info as *mut T as u64,
    };
    bpf(Cmd::ObjGetInfoByFd, &mut attr)?;
    Ok(attr.info_len)
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct ObjAttr {
    pathname: u64,
    bpf_fd: u32,
    file_flags: u32,
    path_fd: i32,
    _pad: u32,
}

fn c_path(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::Os {
        call: format!("pin path {}", path.display()),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "path contains a NUL byte"),
    })
}

/// Pins the object behind `fd` at `path` on a bpffs mount (`BPF_OBJ_PIN`).
pub fn obj_pin(fd: BorrowedFd<'_>, path: &Path) -> Result<()> {
    let p = c_path(path)?;
    let mut attr = ObjAttr {
        pathname: p.as_ptr() as u64,
        bpf_fd: fd.as_raw_fd() as u32,
        ..Default::default()
    };
    bpf(Cmd::ObjPin, &mut attr).map(|_| ())
}

/// Opens the object pinned at `path` (`BPF_OBJ_GET`); `file_flags` is 0, `BPF_F_RDONLY` or `BPF_F_WRONLY`.
pub fn obj_get(path: &Path, file_flags: u32) -> Result<OwnedFd> {
    let p = c_path(path)?;
    let mut attr = ObjAttr {
        pathname: p.as_ptr() as u64,
        file_flags,
        ..Default::default()
    };
    bpf_fd(Cmd::ObjGet, &mut attr)
}
