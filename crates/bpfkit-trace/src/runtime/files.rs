//! Files `cat()` prints: at most `BPFTRACE_MAX_CAT_BYTES` bytes of each (10240 by default,
//! as bpftrace reads them).

use std::io::Read;

/// bpftrace's default `BPFTRACE_MAX_CAT_BYTES`.
const DEFAULT_MAX_CAT_BYTES: u64 = 10240;

/// The byte limit from the environment, or the default when unset or not a number.
fn max_cat_bytes() -> u64 {
    std::env::var("BPFTRACE_MAX_CAT_BYTES")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(DEFAULT_MAX_CAT_BYTES)
}

/// The first `BPFTRACE_MAX_CAT_BYTES` bytes of the file at `path`.
pub fn read_for_cat(path: &str) -> std::io::Result<Vec<u8>> {
    let f = std::fs::File::open(path)?;
    let mut out = Vec::new();
    f.take(max_cat_bytes()).read_to_end(&mut out)?;
    Ok(out)
}
