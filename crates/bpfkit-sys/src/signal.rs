//! Termination signals as a file descriptor: `SIGINT`/`SIGTERM` (and `SIGCHLD` on request)
//! blocked and read through a `signalfd`, so an event loop waits on one `poll(2)` for ring
//! buffer data and Ctrl-C alike, with no signal handler.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::error::{Error, Result};

fn os_err(call: &str) -> Error {
    Error::Os {
        call: call.to_string(),
        source: std::io::Error::last_os_error(),
    }
}

/// Blocks `SIGINT`, `SIGTERM` (and `SIGCHLD` when `child` is set) in the calling thread and
/// returns a non-blocking signalfd that becomes readable when one arrives. Call it before
/// spawning threads so they inherit the mask; child processes started by `std::process`
/// get a clean mask.
pub fn termination_fd(child: bool) -> Result<OwnedFd> {
    // SAFETY: sigset_t is plain data; sigemptyset/sigaddset only write into it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable sigset_t.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        if child {
            libc::sigaddset(&mut set, libc::SIGCHLD);
        }
    }
    // SAFETY: `set` is initialised; the old mask is not wanted (null).
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(Error::Os {
            call: "pthread_sigmask".into(),
            source: std::io::Error::from_raw_os_error(rc),
        });
    }
    // SAFETY: `set` is initialised; -1 asks for a new descriptor.
    let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) };
    if fd < 0 {
        return Err(os_err("signalfd"));
    }
    // SAFETY: signalfd returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reads one pending signal from a [`termination_fd`]: its number, or `None` if none is
/// pending.
pub fn read_signal(fd: BorrowedFd<'_>) -> Result<Option<i32>> {
    // SAFETY: signalfd_siginfo is plain data.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let len = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: `info` is writable for `len` bytes.
    let n = unsafe {
        libc::read(
            fd.as_raw_fd(),
            (&mut info as *mut libc::signalfd_siginfo).cast(),
            len,
        )
    };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() == std::io::ErrorKind::WouldBlock {
            return Ok(None);
        }
        return Err(Error::Os {
            call: "read signalfd".into(),
            source: e,
        });
    }
    Ok((n as usize == len).then_some(info.ssi_signo as i32))
}

/// Waits until one of `fds` is readable or `timeout_ms` passes (-1: forever); returns which
/// are readable. An interrupted wait returns all false.
pub fn wait_readable(fds: &[BorrowedFd<'_>], timeout_ms: i32) -> Result<Vec<bool>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|f| libc::pollfd {
            fd: f.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `pfds` is a valid array of `pfds.len()` pollfd structs.
    let rc = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() == std::io::ErrorKind::Interrupted {
            return Ok(vec![false; fds.len()]);
        }
        return Err(Error::Os {
            call: "poll".into(),
            source: e,
        });
    }
    Ok(pfds.iter().map(|p| p.revents != 0).collect())
}
