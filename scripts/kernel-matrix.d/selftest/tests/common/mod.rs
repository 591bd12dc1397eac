//! The same layout as crates/bpfkit/tests/common, so that `require_feature!` expands alike.

#[path = "../../../../../crates/bpfkit/tests/common/features.rs"]
pub mod features;
