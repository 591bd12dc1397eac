//! BTF commands: `BPF_BTF_LOAD` (with the kernel's log) and `bpf_btf_info`.

use std::os::fd::{BorrowedFd, OwnedFd};

use crate::cmd::{bpf_fd, Cmd};
use crate::error::{Error, Result};
use crate::obj::obj_get_info_by_fd;

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct BtfLoadAttr {
    btf: u64,
    btf_log_buf: u64,
    btf_size: u32,
    btf_log_size: u32,
    btf_log_level: u32,
    btf_log_true_size: u32,
    btf_flags: u32,
    btf_token_fd: i32,
}

/// A rejected `BPF_BTF_LOAD`: the errno and the kernel's explanation.
#[derive(Debug)]
pub struct BtfLoadError {
    /// The failed call.
    pub error: Error,
    /// The kernel's BTF log (empty when the kernel gave none).
    pub log: String,
}

impl std::fmt::Display for BtfLoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.log.is_empty() {
            write!(f, "{}", self.error)
        } else {
            write!(f, "{}\n{}", self.error, self.log.trim_end())
        }
    }
}

impl std::error::Error for BtfLoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Loads a raw BTF blob (header, types, strings) into the kernel.
///
/// The first try asks for no log, so a good blob costs one call; on failure the load is
/// repeated with a log buffer (grown while the kernel reports `ENOSPC`) to explain why.
pub fn btf_load(data: &[u8]) -> std::result::Result<OwnedFd, BtfLoadError> {
    let size = u32::try_from(data.len()).map_err(|_| BtfLoadError {
        error: Error::Bpf {
            cmd: Cmd::BtfLoad,
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "BTF blob over 4 GiB"),
        },
        log: String::new(),
    })?;
    let mut attr = BtfLoadAttr {
        btf: data.as_ptr() as u64,
        btf_size: size,
        ..Default::default()
    };
    let first = match bpf_fd(Cmd::BtfLoad, &mut attr) {
        Ok(fd) => return Ok(fd),
        Err(e) => e,
    };
    let mut log_size: usize = 64 * 1024;
    loop {
        let mut log = vec![0u8; log_size];
        let mut attr = BtfLoadAttr {
            btf: data.as_ptr() as u64,
            btf_size: size,
            btf_log_buf: log.as_mut_ptr() as u64,
            btf_log_size: log.len() as u32,
            btf_log_level: 1,
            ..Default::default()
        };
        match bpf_fd(Cmd::BtfLoad, &mut attr) {
            Ok(fd) => return Ok(fd),
            Err(e) if e.errno() == Some(libc::ENOSPC) && log_size < 16 << 20 => {
                log_size = (attr.btf_log_true_size as usize).max(log_size * 2);
            }
            Err(e) => {
                let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                let text = String::from_utf8_lossy(&log[..end]).into_owned();
                // A kernel that cannot log returns the original error; keep that one.
                let error = if e.errno() == first.errno() { e } else { first };
                return Err(BtfLoadError { error, log: text });
            }
        }
    }
}

/// `struct bpf_btf_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct BtfInfoRaw {
    /// User pointer for the raw BTF, or 0.
    pub btf: u64,
    /// In: size of the `btf` buffer; out: size of the BTF.
    pub btf_size: u32,
    /// Kernel id.
    pub id: u32,
    /// User pointer for the name, or 0.
    pub name: u64,
    /// In: size of the `name` buffer; out: length of the name.
    pub name_len: u32,
    /// Non-zero for vmlinux and module BTF.
    pub kernel_btf: u32,
}

/// Basic info of a BTF object: id, size, name and whether the kernel owns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BtfInfo {
    /// Kernel id.
    pub id: u32,
    /// Size of the raw BTF in bytes.
    pub size: u32,
    /// Name (`vmlinux`, a module's name, or empty for BTF loaded by user space).
    pub name: String,
    /// Whether this is kernel (vmlinux or module) BTF.
    pub kernel_btf: bool,
}

/// Reads id, size and name of the BTF object behind `fd`.
pub fn btf_info(fd: BorrowedFd<'_>) -> Result<BtfInfo> {
    let mut name = [0u8; 64];
    let mut info = BtfInfoRaw {
        name: name.as_mut_ptr() as u64,
        name_len: name.len() as u32,
        ..Default::default()
    };
    obj_get_info_by_fd(fd, &mut info)?;
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    Ok(BtfInfo {
        id: info.id,
        size: info.btf_size,
        name: String::from_utf8_lossy(&name[..end]).into_owned(),
        kernel_btf: info.kernel_btf != 0,
    })
}

/// Reads the raw BTF bytes of the object behind `fd`.
pub fn btf_raw(fd: BorrowedFd<'_>) -> Result<Vec<u8>> {
    let size = btf_info(fd)?.size as usize;
    let mut buf = vec![0u8; size];
    let mut info = BtfInfoRaw {
        btf: buf.as_mut_ptr() as u64,
        btf_size: size as u32,
        ..Default::default()
    };
    obj_get_info_by_fd(fd, &mut info)?;
    buf.truncate(info.btf_size as usize);
    Ok(buf)
}
