//! The library users call: open → load → attach eBPF programs and maps, and inspect what the
//! kernel holds.
//!
//! Kernel objects are owned file descriptors inside typed wrappers ([`Map`], [`Program`],
//! [`Link`]): dropping a wrapper closes its descriptor, and dropping a [`Link`] detaches it.
//! Every kernel call goes through `bpfkit-sys`; this crate itself is `forbid(unsafe_code)`.
//!
//! Clang-built objects load the way libbpf loads them through [`ObjectBuilder`] (open, adjust,
//! load) and [`Object`] (attach); [`skeleton`] generates Rust skeletons of such objects.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod attach;
pub mod cgroup;
mod error;
pub mod features;
pub mod introspect;
pub mod link;
pub mod map;
pub mod memlock;
pub mod netfilter;
pub mod netlink;
pub mod object;
pub mod perfbuf;
pub mod pin;
pub mod program;
pub mod ringbuf;
pub mod sk_lookup;
pub mod skeleton;
pub mod socket;
pub mod tc;
pub mod xdp;

pub use error::{Error, Result};
pub use introspect::{
    enable_run_time_stats, loaded_btfs, loaded_links, loaded_maps, loaded_programs, StatsGuard,
};
pub use link::{Link, LinkInfo, LinkType, PerfEventLinks};
pub use map::{Map, MapInfo, MapSpec, MapType, Pod};
pub use object::{Object, ObjectBuilder};
pub use perfbuf::{PerfBuf, PerfBufOptions, PerfEvent, Wakeup};
pub use pin::{create_pin_dir, unpin};
pub use program::{
    AttachType, Program, ProgramInfo, ProgramSpec, ProgramType, TestRun, TestRunOutput,
};
pub use ringbuf::{RingBuf, UserRingBuf};
