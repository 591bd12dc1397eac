//! The BPF filesystem (bpffs): where pins live, and mounting it when it is absent.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::{Error, Result};

/// Where bpffs is mounted by convention.
pub const BPFFS_DEFAULT: &str = "/sys/fs/bpf";

/// `BPF_FS_MAGIC` from `linux/magic.h`, the `f_type` statfs reports for bpffs.
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

fn c_path(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::Os {
        call: format!("path {}", path.display()),
        source: io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"),
    })
}

/// Whether `path` is on a bpffs mount.
pub fn is_bpffs(path: &Path) -> Result<bool> {
    let p = c_path(path)?;
    // SAFETY: an all-zero statfs is a valid value for the kernel to overwrite.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `p` is a NUL-terminated path and `st` a writable statfs, both live for the call.
    let r = unsafe { libc::statfs(p.as_ptr(), &mut st) };
    if r != 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::NotFound {
            return Ok(false);
        }
        return Err(Error::Os {
            call: format!("statfs({})", path.display()),
            source: e,
        });
    }
    Ok(st.f_type as i64 == BPF_FS_MAGIC)
}

/// Makes sure bpffs is mounted at `mount_point` (creating the directory if needed).
///
/// Pinning needs a bpffs; a fresh container or VM may have `/sys/fs/bpf` empty or missing.
pub fn ensure_bpffs(mount_point: &Path) -> Result<()> {
    if is_bpffs(mount_point)? {
        return Ok(());
    }
    std::fs::create_dir_all(mount_point).map_err(|source| Error::Os {
        call: format!("mkdir {}", mount_point.display()),
        source,
    })?;
    let target = c_path(mount_point)?;
    let fstype = c"bpf";
    // SAFETY: all pointers are NUL-terminated strings alive for the call; data is NULL.
    let r = unsafe {
        libc::mount(
            fstype.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if r != 0 {
        return Err(Error::os(format!(
            "mount -t bpf bpf {} (pinning needs bpffs there; mount it as root)",
            mount_point.display()
        )));
    }
    Ok(())
}

/// Makes sure the bpffs that `path` would be pinned on exists: for paths under
/// `/sys/fs/bpf`, mounts bpffs there when absent; other paths must already be on a bpffs.
pub fn ensure_bpffs_for(path: &Path) -> Result<()> {
    let default = Path::new(BPFFS_DEFAULT);
    if path.starts_with(default) {
        ensure_bpffs(default)
    } else {
        Ok(())
    }
}
