//! `BPF_ENABLE_STATS`: run-time and run-count accounting for all programs while an fd is open.

use std::os::fd::OwnedFd;

use crate::cmd::{bpf_fd, Cmd};
use crate::error::Result;

/// `BPF_STATS_RUN_TIME`.
pub const STATS_RUN_TIME: u32 = 0;

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct EnableStatsRaw {
    type_: u32,
}

/// Turns on statistics of `stats_type`; they stay on until the returned fd is closed.
pub fn enable_stats(stats_type: u32) -> Result<OwnedFd> {
    let mut raw = EnableStatsRaw { type_: stats_type };
    bpf_fd(Cmd::EnableStats, &mut raw)
}
