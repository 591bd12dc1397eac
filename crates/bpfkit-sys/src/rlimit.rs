//! `RLIMIT_MEMLOCK`, which kernels before memcg accounting of BPF memory (5.11) charge maps to.

use crate::error::{Error, Result};

/// Raises `RLIMIT_MEMLOCK` to unlimited.
pub fn raise_memlock_unlimited() -> Result<()> {
    let lim = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: `lim` is a valid rlimit read by the kernel during the call.
    let r = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) };
    if r != 0 {
        return Err(Error::os("setrlimit(RLIMIT_MEMLOCK, unlimited)"));
    }
    Ok(())
}
