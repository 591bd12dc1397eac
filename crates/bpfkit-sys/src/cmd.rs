//! `bpf(2)` command numbers and the single entry point through which every command goes.

use std::fmt;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

/// A `bpf(2)` command (`enum bpf_cmd` in `include/uapi/linux/bpf.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
#[allow(missing_docs)] // the names are the kernel's; see bpf(2) for each
pub enum Cmd {
    MapCreate = 0,
    MapLookupElem = 1,
    MapUpdateElem = 2,
    MapDeleteElem = 3,
    MapGetNextKey = 4,
    ProgLoad = 5,
    ObjPin = 6,
    ObjGet = 7,
    ProgAttach = 8,
    ProgDetach = 9,
    ProgTestRun = 10,
    ProgGetNextId = 11,
    MapGetNextId = 12,
    ProgGetFdById = 13,
    MapGetFdById = 14,
    ObjGetInfoByFd = 15,
    ProgQuery = 16,
    RawTracepointOpen = 17,
    BtfLoad = 18,
    BtfGetFdById = 19,
    TaskFdQuery = 20,
    MapLookupAndDeleteElem = 21,
    MapFreeze = 22,
    BtfGetNextId = 23,
    MapLookupBatch = 24,
    MapLookupAndDeleteBatch = 25,
    MapUpdateBatch = 26,
    MapDeleteBatch = 27,
    LinkCreate = 28,
    LinkUpdate = 29,
    LinkGetFdById = 30,
    LinkGetNextId = 31,
    EnableStats = 32,
    IterCreate = 33,
    LinkDetach = 34,
    ProgBindMap = 35,
    TokenCreate = 36,
}

impl Cmd {
    /// The kernel's name for the command, as `bpf(2)` and strace print it.
    pub fn name(self) -> &'static str {
        match self {
            Cmd::MapCreate => "BPF_MAP_CREATE",
            Cmd::MapLookupElem => "BPF_MAP_LOOKUP_ELEM",
            Cmd::MapUpdateElem => "BPF_MAP_UPDATE_ELEM",
            Cmd::MapDeleteElem => "BPF_MAP_DELETE_ELEM",
            Cmd::MapGetNextKey => "BPF_MAP_GET_NEXT_KEY",
            Cmd::ProgLoad => "BPF_PROG_LOAD",
            Cmd::ObjPin => "BPF_OBJ_PIN",
            Cmd::ObjGet => "BPF_OBJ_GET",
            Cmd::ProgAttach => "BPF_PROG_ATTACH",
            Cmd::ProgDetach => "BPF_PROG_DETACH",
            Cmd::ProgTestRun => "BPF_PROG_TEST_RUN",
            Cmd::ProgGetNextId => "BPF_PROG_GET_NEXT_ID",
            Cmd::MapGetNextId => "BPF_MAP_GET_NEXT_ID",
            Cmd::ProgGetFdById => "BPF_PROG_GET_FD_BY_ID",
            Cmd::MapGetFdById => "BPF_MAP_GET_FD_BY_ID",
            Cmd::ObjGetInfoByFd => "BPF_OBJ_GET_INFO_BY_FD",
            Cmd::ProgQuery => "BPF_PROG_QUERY",
            Cmd::RawTracepointOpen => "BPF_RAW_TRACEPOINT_OPEN",
            Cmd::BtfLoad => "BPF_BTF_LOAD",
            Cmd::BtfGetFdById => "BPF_BTF_GET_FD_BY_ID",
            Cmd::TaskFdQuery => "BPF_TASK_FD_QUERY",
            Cmd::MapLookupAndDeleteElem => "BPF_MAP_LOOKUP_AND_DELETE_ELEM",
            Cmd::MapFreeze => "BPF_MAP_FREEZE",
            Cmd::BtfGetNextId => "BPF_BTF_GET_NEXT_ID",
            Cmd::MapLookupBatch => "BPF_MAP_LOOKUP_BATCH",
            Cmd::MapLookupAndDeleteBatch => "BPF_MAP_LOOKUP_AND_DELETE_BATCH",
            Cmd::MapUpdateBatch => "BPF_MAP_UPDATE_BATCH",
            Cmd::MapDeleteBatch => "BPF_MAP_DELETE_BATCH",
            Cmd::LinkCreate => "BPF_LINK_CREATE",
            Cmd::LinkUpdate => "BPF_LINK_UPDATE",
            Cmd::LinkGetFdById => "BPF_LINK_GET_FD_BY_ID",
            Cmd::LinkGetNextId => "BPF_LINK_GET_NEXT_ID",
            Cmd::EnableStats => "BPF_ENABLE_STATS",
            Cmd::IterCreate => "BPF_ITER_CREATE",
            Cmd::LinkDetach => "BPF_LINK_DETACH",
            Cmd::ProgBindMap => "BPF_PROG_BIND_MAP",
            Cmd::TokenCreate => "BPF_TOKEN_CREATE",
        }
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether every command is reported on stderr (see [`set_debug`]).
static DEBUG: AtomicBool = AtomicBool::new(false);

/// Turns on (or off) a report on stderr of every `bpf(2)` command this process issues: one
/// line per call, `bpf(NAME) = RESULT` or `bpf(NAME) = -1 ERRNO`, with the ids of id walks. It is the
/// `-d/--debug` of the command line; a process-wide flag because the calls come from every
/// layer above this one.
pub fn set_debug(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
}

fn report(cmd: Cmd, attr: &[u8], ret: i64, errno: &std::io::Error) {
    let word = |at: usize| {
        attr.get(at..at + 4)
            .map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    // The ids make an id walk readable: which id was asked for and which came back.
    let (arg, out) = match cmd {
        Cmd::ProgGetNextId | Cmd::MapGetNextId | Cmd::BtfGetNextId | Cmd::LinkGetNextId => (
            format!(", start_id {}", word(0)),
            format!(", next_id {}", word(4)),
        ),
        Cmd::ProgGetFdById | Cmd::MapGetFdById | Cmd::BtfGetFdById | Cmd::LinkGetFdById => {
            (format!(", id {}", word(0)), String::new())
        }
        _ => (String::new(), String::new()),
    };
    if ret >= 0 {
        eprintln!("bpf({cmd}{arg}) = {ret}{out}");
    } else {
        let code = errno.raw_os_error().unwrap_or(0);
        eprintln!("bpf({cmd}{arg}) = -1 {}", errno_name(code));
    }
}

/// The symbolic name of the errnos `bpf(2)` returns, as strace prints them.
fn errno_name(code: i32) -> String {
    let name = match code {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::E2BIG => "E2BIG",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EINVAL => "EINVAL",
        libc::ENOSPC => "ENOSPC",
        libc::ERANGE => "ERANGE",
        libc::ENOSYS => "ENOSYS",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        524 => "ENOTSUPP", // the kernel's internal "operation not supported"
        _ => return format!("E{code}"),
    };
    name.to_string()
}

/// Issues `bpf(cmd, attr, sizeof(*attr))` and returns the kernel's non-negative result.
///
/// `A` must be a `#[repr(C)]` struct laid out as the prefix of `union bpf_attr` that `cmd`
/// reads, with every byte initialised (no implicit padding: declare padding as fields). The
/// kernel may write back into `attr` (for example `info_len`, batch counts, `prog_cnt`).
pub fn bpf<A: Copy>(cmd: Cmd, attr: &mut A) -> Result<i64> {
    let size = std::mem::size_of::<A>() as libc::c_uint;
    loop {
        // SAFETY: `attr` is a valid, exclusively borrowed, fully initialised repr(C) value of
        // `size` bytes for the duration of the call; the kernel reads and writes within it.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                cmd as libc::c_long,
                attr as *mut A as *mut libc::c_void,
                size,
            )
        };
        let errno = std::io::Error::last_os_error();
        if DEBUG.load(Ordering::Relaxed) {
            // SAFETY: `attr` is a fully initialised value of `size` bytes (the contract above),
            // read here as bytes while no one else can touch it.
            let bytes =
                unsafe { std::slice::from_raw_parts(attr as *const A as *const u8, size as usize) };
            report(cmd, bytes, ret, &errno);
        }
        if ret >= 0 {
            return Ok(ret);
        }
        if errno.raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        return Err(Error::from_errno(cmd, errno));
    }
}

/// Like [`bpf`], for commands whose result is a new file descriptor.
pub fn bpf_fd<A: Copy>(cmd: Cmd, attr: &mut A) -> Result<OwnedFd> {
    let fd = bpf(cmd, attr)?;
    // SAFETY: on success these commands return a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}
