//! The library users call: open → load → attach eBPF programs and maps, and inspect what the
//! kernel holds.
//!
//! Kernel objects are owned file descriptors inside typed wrappers ([`Map`], [`Program`],
//! [`Link`]): dropping a wrapper closes its descriptor, and dropping a [`Link`] detaches it.
//! Every kernel call goes through `bpfkit-sys`; this crate holds no `unsafe` code.
#![forbid(unsafe_code)]

mod error;

pub use error::{Error, Result};
