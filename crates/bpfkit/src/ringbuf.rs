//! Consumers and producers of BPF ring buffers.
//!
//! [`RingBuf`] reads one or more `BPF_MAP_TYPE_RINGBUF` maps (programs write with
//! `bpf_ringbuf_output` / `bpf_ringbuf_reserve` + `submit`): it waits on all of them with one
//! epoll set and calls a closure per record with a slice borrowed directly from the shared
//! ring, so no record is copied. [`UserRingBuf`] is the other direction: user space writes
//! records into a `BPF_MAP_TYPE_USER_RINGBUF` map that a program drains with
//! `bpf_user_ringbuf_drain`.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use bpfkit_sys::ring::{Epoll, RingBufMemory, UserRingBufMemory};

use crate::error::{Error, Result};

const MAP_TYPE_RINGBUF: u32 = 27;
const MAP_TYPE_USER_RINGBUF: u32 = 31;

/// Duplicates the map's fd (so the ring keeps the map alive on its own) and returns it with
/// the map's data size, after checking its type.
fn open_ring_map(map: BorrowedFd<'_>, want_type: u32, what: &str) -> Result<(OwnedFd, usize)> {
    let info = bpfkit_sys::map::map_info(map)?;
    if info.map_type != want_type {
        return Err(Error::InvalidArgument(format!(
            "{what} needs a map of type {} but map {} (`{}`) has type {}",
            if want_type == MAP_TYPE_RINGBUF {
                "ringbuf"
            } else {
                "user_ringbuf"
            },
            info.id,
            map_name(&info.name),
            info.map_type
        )));
    }
    let fd = map.try_clone_to_owned().map_err(|source| Error::Io {
        path: format!("dup of map {} fd", info.id),
        source,
    })?;
    Ok((fd, info.max_entries as usize))
}

fn map_name(raw: &[u8]) -> String {
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    String::from_utf8_lossy(raw.get(..end).unwrap_or_default()).into_owned()
}

#[derive(Debug)]
struct Ring {
    mem: RingBufMemory,
    consumed: u64,
    // Keeps the map alive (and the mapping valid) as long as the ring is read.
    _fd: OwnedFd,
}

/// A consumer of one or more BPF ring buffer maps, waited on together with epoll
/// (the counterpart of libbpf's `ring_buffer`, with `ring_buffer__add` as [`RingBuf::add`]).
///
/// ```no_run
/// # fn f(map: &std::os::fd::OwnedFd) -> bpfkit::Result<()> {
/// let mut rb = bpfkit::RingBuf::new(map)?;
/// rb.poll(Some(std::time::Duration::from_millis(100)), |rec| println!("{} bytes", rec.len()))?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct RingBuf {
    rings: Vec<Ring>,
    epoll: Epoll,
    ready: Vec<u64>,
}

impl RingBuf {
    /// A consumer of the ring buffer map `map` (a `BPF_MAP_TYPE_RINGBUF`), ring index 0.
    pub fn new(map: impl AsFd) -> Result<RingBuf> {
        let mut rb = RingBuf {
            rings: Vec::new(),
            epoll: Epoll::new()?,
            ready: Vec::new(),
        };
        rb.add(map)?;
        Ok(rb)
    }

    /// Adds another ring buffer map to the same epoll set and returns its ring index, which
    /// the `*_with_ring` methods pass to the callback.
    pub fn add(&mut self, map: impl AsFd) -> Result<usize> {
        let (fd, size) = open_ring_map(map.as_fd(), MAP_TYPE_RINGBUF, "RingBuf")?;
        let mem = RingBufMemory::map(fd.as_fd(), size)?;
        let idx = self.rings.len();
        self.epoll.add(fd.as_fd(), idx as u64)?;
        self.rings.push(Ring {
            mem,
            consumed: 0,
            _fd: fd,
        });
        Ok(idx)
    }

    /// Number of rings.
    pub fn len(&self) -> usize {
        self.rings.len()
    }

    /// Whether there are no rings (never true: [`RingBuf::new`] adds the first).
    pub fn is_empty(&self) -> bool {
        self.rings.is_empty()
    }

    /// Waits up to `timeout` (`None`: forever) for records in any ring, then consumes all
    /// records of the rings that are ready. Returns the number of records handed to `f`.
    pub fn poll<F: FnMut(&[u8])>(&mut self, timeout: Option<Duration>, mut f: F) -> Result<usize> {
        self.poll_with_ring(timeout, |_, rec| f(rec))
    }

    /// Like [`poll`](Self::poll), passing the ring index along with each record.
    pub fn poll_with_ring<F: FnMut(usize, &[u8])>(
        &mut self,
        timeout: Option<Duration>,
        mut f: F,
    ) -> Result<usize> {
        let mut ready = std::mem::take(&mut self.ready);
        ready.clear();
        let waited = self.epoll.wait(timeout, &mut ready);
        let mut total = 0;
        let mut res = waited.map_err(Error::from);
        if res.is_ok() {
            for &idx in &ready {
                match self.consume_ring(idx as usize, |rec| f(idx as usize, rec)) {
                    Ok(n) => total += n,
                    Err(e) => {
                        res = Err(e);
                        break;
                    }
                }
            }
        }
        self.ready = ready;
        res.map(|()| total)
    }

    /// Consumes every record available now in every ring without waiting.
    pub fn consume<F: FnMut(&[u8])>(&mut self, mut f: F) -> Result<usize> {
        self.consume_with_ring(|_, rec| f(rec))
    }

    /// Like [`consume`](Self::consume), passing the ring index along with each record.
    pub fn consume_with_ring<F: FnMut(usize, &[u8])>(&mut self, mut f: F) -> Result<usize> {
        let mut total = 0;
        for idx in 0..self.rings.len() {
            total += self.consume_ring(idx, |rec| f(idx, rec))?;
        }
        Ok(total)
    }

    /// Consumes the records available now in ring `idx`.
    pub fn consume_ring<F: FnMut(&[u8])>(&mut self, idx: usize, f: F) -> Result<usize> {
        self.consume_ring_n(idx, usize::MAX, f)
    }

    /// Consumes at most `limit` records of ring `idx`.
    pub fn consume_ring_n<F: FnMut(&[u8])>(
        &mut self,
        idx: usize,
        limit: usize,
        f: F,
    ) -> Result<usize> {
        let nrings = self.rings.len();
        let ring = self.rings.get_mut(idx).ok_or_else(|| {
            Error::InvalidArgument(format!("ring index {idx} out of range (have {nrings})"))
        })?;
        let n = ring.mem.consume(limit, f)?;
        ring.consumed += n as u64;
        Ok(n)
    }

    /// Records consumed so far, over all rings.
    pub fn consumed(&self) -> u64 {
        self.rings.iter().map(|r| r.consumed).sum()
    }

    /// Records consumed so far from ring `idx` (0 for an unknown index).
    pub fn ring_consumed(&self, idx: usize) -> u64 {
        self.rings.get(idx).map_or(0, |r| r.consumed)
    }

    /// Bytes the producer has reserved in ring `idx` that are not consumed yet
    /// (`ring__avail_data_size`); 0 for an unknown index.
    pub fn available(&self, idx: usize) -> u64 {
        self.rings.get(idx).map_or(0, |r| r.mem.available())
    }

    /// Data size of ring `idx` in bytes (0 for an unknown index).
    pub fn size(&self, idx: usize) -> usize {
        self.rings.get(idx).map_or(0, |r| r.mem.data_size())
    }

    /// The epoll fd, to wait on from another event loop (readable when a ring is).
    pub fn epoll_fd(&self) -> BorrowedFd<'_> {
        self.epoll.fd()
    }
}

/// A producer into a `BPF_MAP_TYPE_USER_RINGBUF` map, which a program consumes with
/// `bpf_user_ringbuf_drain`.
#[derive(Debug)]
pub struct UserRingBuf {
    mem: UserRingBufMemory,
    written: u64,
    _fd: OwnedFd,
}

impl UserRingBuf {
    /// A producer for the user ring buffer map `map`.
    pub fn new(map: impl AsFd) -> Result<UserRingBuf> {
        let (fd, size) = open_ring_map(map.as_fd(), MAP_TYPE_USER_RINGBUF, "UserRingBuf")?;
        let mem = UserRingBufMemory::map(fd.as_fd(), size)?;
        Ok(UserRingBuf {
            mem,
            written: 0,
            _fd: fd,
        })
    }

    /// Writes `data` as one record. `Ok(false)` when the ring is full right now (the program
    /// has not drained enough yet); nothing is written then.
    pub fn write(&mut self, data: &[u8]) -> Result<bool> {
        self.write_with(data.len(), |buf| buf.copy_from_slice(data))
    }

    /// Reserves a `len`-byte record, lets `fill` write it in place, and commits it.
    /// `Ok(false)` when the ring is full right now.
    pub fn write_with<F: FnOnce(&mut [u8])>(&mut self, len: usize, fill: F) -> Result<bool> {
        let ok = self.mem.write(len, fill)?;
        if ok {
            self.written += 1;
        }
        Ok(ok)
    }

    /// Bytes free in the ring now.
    pub fn free(&self) -> u64 {
        self.mem.free()
    }

    /// Records written so far.
    pub fn written(&self) -> u64 {
        self.written
    }
}
