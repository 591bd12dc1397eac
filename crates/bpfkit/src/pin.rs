//! Pinning objects on bpffs, with the checks bpffs itself would only answer with a bare errno.

use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::Path;

use bpfkit_sys::fs;

use crate::error::{Error, Result};

/// Checks that `path` can hold a pin: its name has no '.', and its directory is on bpffs
/// (mounting bpffs at `/sys/fs/bpf` first when the path is below it and nothing is mounted).
pub fn check_pin_path(path: &Path) -> Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
        Error::InvalidArgument(format!("cannot pin at {}: no file name", path.display()))
    })?;
    if name.contains('.') {
        return Err(Error::InvalidArgument(format!(
            "cannot pin at {}: bpffs refuses names containing '.'; choose a name without dots",
            path.display()
        )));
    }
    fs::ensure_bpffs_for(path)?;
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !fs::is_bpffs(parent)? {
        return Err(Error::InvalidArgument(format!(
            "cannot pin at {}: {} is not on a bpffs mount (pin under {} or mount -t bpf there)",
            path.display(),
            parent.display(),
            fs::BPFFS_DEFAULT
        )));
    }
    Ok(())
}

/// Pins `fd` at `path`; `what` names the object in errors.
pub fn pin_fd(fd: BorrowedFd<'_>, path: &Path, what: &str) -> Result<()> {
    check_pin_path(path)?;
    bpfkit_sys::obj::obj_pin(fd, path).map_err(|e| match e.errno() {
        Some(libc::EEXIST) => Error::InvalidArgument(format!(
            "cannot pin {what} at {}: the path exists already (unpin it first)",
            path.display()
        )),
        Some(libc::ENOENT) => Error::InvalidArgument(format!(
            "cannot pin {what} at {}: its directory does not exist (create it with mkdir)",
            path.display()
        )),
        _ => Error::Sys(e),
    })
}

/// Opens the object pinned at `path`.
pub fn open_pinned(path: &Path, what: &str) -> Result<OwnedFd> {
    bpfkit_sys::obj::obj_get(path, 0).map_err(|e| match e.errno() {
        Some(libc::ENOENT) => {
            Error::InvalidArgument(format!("no {what} is pinned at {}", path.display()))
        }
        _ => Error::Sys(e),
    })
}

/// Removes a pin (the object lives on while anything else holds it).
pub fn unpin(path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    if !fs::is_bpffs(path)? {
        return Err(Error::InvalidArgument(format!(
            "cannot unpin {}: not a pin on bpffs",
            path.display()
        )));
    }
    std::fs::remove_file(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Creates a directory for pins on bpffs (and its parents), mounting `/sys/fs/bpf` if needed.
pub fn create_pin_dir(path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let dotted = path.components().any(|c| match c {
        std::path::Component::Normal(n) => n.to_string_lossy().contains('.'),
        _ => false,
    });
    if dotted {
        return Err(Error::InvalidArgument(format!(
            "cannot create pin directory {}: bpffs refuses names containing '.'",
            path.display()
        )));
    }
    fs::ensure_bpffs_for(path)?;
    std::fs::create_dir_all(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}
