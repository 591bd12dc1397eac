//! The only door from bpfkit to the kernel.
//!
//! Every `unsafe` system call of bpfkit lives in this crate: `bpf(2)` with one `#[repr(C)]`
//! attribute struct per command (the kernel accepts a prefix of `union bpf_attr` and zero-fills
//! the rest, so each command passes exactly the fields it uses), `perf_event_open(2)` and its
//! ioctls, the mmap'd rings, and the tracefs and bpffs paths. Higher crates never see a raw
//! pointer: file descriptors come back as [`std::os::fd::OwnedFd`], failures as [`Error`],
//! which names the command and, for `EPERM`/`EACCES`, the capability that is missing.
//!
//! Layout: [`cmd`](bpf) holds the command numbers and the [`bpf`] entry point; [`obj`] the
//! commands common to all objects (ids, info, pinning); [`mmap`] shared mappings; the other
//! modules group commands by the kernel object they act on.
#![warn(missing_docs)]

pub mod btf;
mod cmd;
mod error;
pub mod fs;
pub mod iter;
pub mod link;
pub mod map;
pub mod mmap;
pub mod obj;
pub mod perf;
pub mod prog;
pub mod ring;
pub mod rlimit;
pub mod signal;
pub mod sockopt;
pub mod stats;
pub mod tracefs;

pub use cmd::{bpf, bpf_fd, set_debug, Cmd};
pub use error::{Capability, Error, Result};
