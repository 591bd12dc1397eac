//! `BPF_ITER_CREATE`: an fd that runs an iterator program each time it is read.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use crate::cmd::{bpf_fd, Cmd};
use crate::error::Result;

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct IterCreateRaw {
    link_fd: u32,
    flags: u32,
}

/// Opens a readable iterator instance for an iterator link.
pub fn iter_create(link: BorrowedFd<'_>) -> Result<OwnedFd> {
    let mut raw = IterCreateRaw {
        link_fd: link.as_raw_fd() as u32,
        flags: 0,
    };
    bpf_fd(Cmd::IterCreate, &mut raw)
}
