//! Nothing but a home for `tests/guest.rs`, which `scripts/kernel-matrix --selftest` boots in
//! each kernel: the probes under test live in `crates/bpfkit/tests/common/features.rs`.
#![forbid(unsafe_code)]
