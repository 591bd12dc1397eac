//! `RLIMIT_MEMLOCK` handling: raised only on kernels that still charge BPF memory to it.
//!
//! Since 5.11 the kernel charges maps and programs to the memory cgroup instead, and raising
//! the limit is pointless (and may be forbidden, e.g. in containers). On older kernels a low
//! limit makes map creation fail with `EPERM`, so there the limit is raised once, best effort.

use std::sync::Once;

static RAISE: Once = Once::new();

/// Kernel release as `(major, minor)` from `/proc/sys/kernel/osrelease`.
pub fn kernel_version() -> Option<(u32, u32)> {
    let text = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    parse_release(&text)
}

fn parse_release(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.trim().split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts
        .next()?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()?;
    Some((major, minor))
}

/// Whether this kernel accounts BPF memory through memcg (5.11 and later).
pub fn has_memcg_accounting() -> bool {
    kernel_version().is_none_or(|v| v >= (5, 11))
}

/// Raises `RLIMIT_MEMLOCK` once per process when the kernel needs it; never fails.
pub fn ensure() {
    RAISE.call_once(|| {
        if !has_memcg_accounting() {
            // Best effort: if the limit cannot be raised, the kernel call that needed it fails
            // with its own error later, which is the clearer place to report it.
            let _ = bpfkit_sys::rlimit::raise_memlock_unlimited();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_releases() {
        assert_eq!(parse_release("6.18.44-fc-v1147\n"), Some((6, 18)));
        assert_eq!(parse_release("5.4.0"), Some((5, 4)));
        assert_eq!(parse_release("5.10rc1"), Some((5, 10)));
        assert_eq!(parse_release("x"), None);
    }

    #[test]
    fn ensure_never_fails() {
        ensure();
        ensure();
    }
}
