//! Shared memory mappings of BPF objects (mmapable arrays, ring buffers, perf rings, arenas).

use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;

use crate::error::{Error, Result};

/// An owned `mmap(2)` region; unmapped on drop.
#[derive(Debug)]
pub struct Mmap {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain shared memory owned by this value; access to its bytes goes through
// raw-pointer reads and writes whose synchronisation the callers (ring consumers) define.
unsafe impl Send for Mmap {}
// SAFETY: as above; `&Mmap` only hands out raw pointers.
unsafe impl Sync for Mmap {}

/// Access of a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protection {
    /// `PROT_READ`.
    Read,
    /// `PROT_READ | PROT_WRITE`.
    ReadWrite,
}

impl Mmap {
    /// Maps `len` bytes of `fd` at `offset` with `MAP_SHARED`.
    pub fn map(fd: BorrowedFd<'_>, len: usize, offset: i64, prot: Protection) -> Result<Mmap> {
        let prot = match prot {
            Protection::Read => libc::PROT_READ,
            Protection::ReadWrite => libc::PROT_READ | libc::PROT_WRITE,
        };
        // SAFETY: a fresh mapping chosen by the kernel (addr NULL); no existing memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                offset,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(Error::os(format!("mmap({len} bytes at offset {offset})")));
        }
        let ptr = NonNull::new(ptr as *mut u8).ok_or_else(|| Error::os("mmap returned NULL"))?;
        Ok(Mmap { ptr, len })
    }

    /// Maps a whole regular or sysfs file read-only and private (`MAP_PRIVATE`).
    ///
    /// Used for `/sys/kernel/btf/*`: sysfs refuses `MAP_SHARED` for these files but allows a
    /// private read-only mapping, whose pages are the kernel's own and are not charged to the
    /// process's RSS — reading the 5 MB vmlinux BTF into a buffer would be.
    pub fn map_file_readonly(path: &std::path::Path) -> Result<Mmap> {
        let file = std::fs::File::open(path).map_err(|source| Error::Os {
            call: format!("open {}", path.display()),
            source,
        })?;
        let len = file
            .metadata()
            .map_err(|source| Error::Os {
                call: format!("stat {}", path.display()),
                source,
            })?
            .len() as usize;
        if len == 0 {
            return Err(Error::Os {
                call: format!("mmap {}", path.display()),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, "file is empty"),
            });
        }
        // SAFETY: a fresh read-only private mapping chosen by the kernel (addr NULL); the file
        // descriptor may be closed afterwards, the mapping keeps its own reference.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(Error::os(format!("mmap {} ({len} bytes)", path.display())));
        }
        let ptr = NonNull::new(ptr as *mut u8).ok_or_else(|| Error::os("mmap returned NULL"))?;
        Ok(Mmap { ptr, len })
    }

    /// Start of the mapping.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty (never true for a successful map).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The mapping as a byte slice. Only for mappings the kernel does not write concurrently
    /// (frozen or otherwise quiescent arrays); rings must use atomic reads.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: the region is mapped and readable for `len` bytes while `self` lives.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl AsRef<[u8]> for Mmap {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the region this value mapped; nothing else owns it.
        unsafe {
            libc::munmap(self.ptr.as_ptr() as *mut libc::c_void, self.len);
        }
    }
}

/// The system page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if v > 0 {
        v as usize
    } else {
        4096
    }
}

/// Number of possible CPUs (`/sys/devices/system/cpu/possible`), the count per-CPU map values use.
pub fn possible_cpus() -> Result<usize> {
    parse_cpu_list_file("/sys/devices/system/cpu/possible").map(|v| v.last().map_or(1, |&c| c + 1))
}

/// Online CPU numbers (`/sys/devices/system/cpu/online`).
pub fn online_cpus() -> Result<Vec<usize>> {
    parse_cpu_list_file("/sys/devices/system/cpu/online")
}

fn parse_cpu_list_file(path: &str) -> Result<Vec<usize>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Os {
        call: format!("read {path}"),
        source,
    })?;
    parse_cpu_list(text.trim()).ok_or_else(|| Error::Os {
        call: format!("parse {path}"),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("bad CPU list {text:?}"),
        ),
    })
}

/// Parses a kernel CPU list such as `0-3,5,7-8`.
pub fn parse_cpu_list(s: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
                if b < a {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,5,7-8"), Some(vec![0, 1, 2, 3, 5, 7, 8]));
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
    }
}
