//! Socket options that carry BPF programs: `SO_ATTACH_BPF` / `SO_DETACH_BPF` (socket
//! filters) and `SO_ATTACH_REUSEPORT_EBPF` (reuseport selection).

use std::os::fd::{AsRawFd, BorrowedFd};

use crate::error::{Error, Result};

/// `SO_ATTACH_BPF`.
pub const SO_ATTACH_BPF: i32 = 50;
/// `SO_DETACH_BPF` (the same number as `SO_DETACH_FILTER`).
pub const SO_DETACH_BPF: i32 = 27;
/// `SO_ATTACH_REUSEPORT_EBPF`.
pub const SO_ATTACH_REUSEPORT_EBPF: i32 = 52;

fn set_prog(sock: BorrowedFd<'_>, opt: i32, prog: i32, what: &str) -> Result<()> {
    let value: libc::c_int = prog;
    // SAFETY: `value` is a live c_int for the duration of the call and the length passed is
    // its size; the kernel only reads it. `sock` is a valid open fd (BorrowedFd).
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(Error::os(format!("setsockopt({what})")));
    }
    Ok(())
}

/// Attaches a socket filter program to a socket (`SO_ATTACH_BPF`), replacing any filter.
pub fn attach_bpf(sock: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> Result<()> {
    set_prog(sock, SO_ATTACH_BPF, prog.as_raw_fd(), "SO_ATTACH_BPF")
}

/// Removes a socket's filter (`SO_DETACH_BPF`).
pub fn detach_bpf(sock: BorrowedFd<'_>) -> Result<()> {
    set_prog(sock, SO_DETACH_BPF, 0, "SO_DETACH_BPF")
}

/// Sets the program that picks a socket in a `SO_REUSEPORT` group.
pub fn attach_reuseport_bpf(sock: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> Result<()> {
    set_prog(
        sock,
        SO_ATTACH_REUSEPORT_EBPF,
        prog.as_raw_fd(),
        "SO_ATTACH_REUSEPORT_EBPF",
    )
}

/// Opens a socket (`socket(2)`), e.g. a raw IPv4 socket for testing socket filters, which
/// the standard library cannot create.
pub fn socket(domain: i32, ty: i32, protocol: i32) -> Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: socket(2) takes no pointers; SOCK_CLOEXEC keeps the fd from leaking into
    // children.
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, protocol) };
    if fd < 0 {
        return Err(Error::os(format!("socket({domain}, {ty}, {protocol})")));
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Sets `SO_RCVTIMEO`, so a blocking read gives up after `timeout`.
pub fn set_recv_timeout(sock: BorrowedFd<'_>, timeout: std::time::Duration) -> Result<()> {
    let tv = libc::timeval {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_usec: timeout.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: `tv` is a live timeval and the length passed is its size; the kernel only
    // reads it.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(Error::os("setsockopt(SO_RCVTIMEO)"));
    }
    Ok(())
}
