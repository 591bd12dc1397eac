//! Output limits bpftrace takes from its environment.

/// Bytes `cat()` prints at most: `BPFTRACE_MAX_CAT_BYTES`, else bpftrace's 10240.
pub(super) fn max_cat_bytes() -> usize {
    std::env::var("BPFTRACE_MAX_CAT_BYTES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(10240)
}
