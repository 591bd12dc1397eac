//! Shared-memory rings between the kernel and user space: the BPF ring buffer
//! (`BPF_MAP_TYPE_RINGBUF`, read by us), the user ring buffer (`BPF_MAP_TYPE_USER_RINGBUF`,
//! written by us) and the per-CPU perf event ring (`PERF_RECORD_*` records), plus the epoll
//! set that waits on them.
//!
//! The kernel and user space exchange positions through plain 64-bit words in shared pages.
//! Each side publishes its position with a release store after it is done with the bytes, and
//! reads the other side's position with an acquire load before touching the bytes it covers;
//! this module is where those atomics and the raw pointer reads they guard live.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::mmap::{page_size, Mmap, Protection};

/// Length word flag: the producer has reserved the record but not yet committed it.
pub const RINGBUF_BUSY_BIT: u32 = 1 << 31;
/// Length word flag: the producer discarded the record; the consumer skips it.
pub const RINGBUF_DISCARD_BIT: u32 = 1 << 30;
/// Size of the header (length word and page offset word) in front of each ring buffer record.
pub const RINGBUF_HDR_SZ: usize = 8;

fn invalid(call: String, msg: String) -> Error {
    Error::Os {
        call,
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, msg),
    }
}

/// Rounds `len` bytes of payload plus the record header up to the 8-byte record stride.
fn record_stride(len: u32) -> u64 {
    (u64::from(len) + RINGBUF_HDR_SZ as u64 + 7) & !7
}

/// Acquire load of a 64-bit position word in a shared page.
///
/// # Safety
/// `p` must point into a live mapping, 8-byte aligned.
unsafe fn load_acquire_u64(p: *const u8) -> u64 {
    // SAFETY: the caller guarantees a live, aligned word; AtomicU64 has u64's layout.
    unsafe { AtomicU64::from_ptr(p as *mut u64).load(Ordering::Acquire) }
}

/// Release store of a 64-bit position word in a shared page.
///
/// # Safety
/// `p` must point into a live, writable mapping, 8-byte aligned.
unsafe fn store_release_u64(p: *mut u8, v: u64) {
    // SAFETY: as for `load_acquire_u64`, and the mapping is writable.
    unsafe { AtomicU64::from_ptr(p as *mut u64).store(v, Ordering::Release) }
}

/// Acquire load of a record's 32-bit length word.
///
/// # Safety
/// `p` must point into a live mapping, 4-byte aligned.
unsafe fn load_acquire_u32(p: *const u8) -> u32 {
    // SAFETY: the caller guarantees a live, aligned word.
    unsafe { AtomicU32::from_ptr(p as *mut u32).load(Ordering::Acquire) }
}

/// The consumer side of a `BPF_MAP_TYPE_RINGBUF` map, mapped into this process.
///
/// The kernel lays the map out as one consumer page (writable by us), one producer page and
/// the data area, which it maps twice back to back so that a record crossing the end of the
/// data area is still contiguous in memory. That is what lets [`consume`](Self::consume) hand
/// out every record as one borrowed slice with no copy.
#[derive(Debug)]
pub struct RingBufMemory {
    consumer: Mmap,
    producer: Mmap,
    /// Data size minus one (the size is a power of two).
    mask: u64,
    /// Our consumer position; the shared word is only written, never read back.
    cons: u64,
}

impl RingBufMemory {
    /// Maps the ring buffer map `fd` whose data area is `data_size` bytes (its `max_entries`).
    pub fn map(fd: BorrowedFd<'_>, data_size: usize) -> Result<RingBufMemory> {
        let page = page_size();
        if data_size == 0 || !data_size.is_power_of_two() || data_size % page != 0 {
            return Err(invalid(
                "map ring buffer".into(),
                format!(
                    "data size {data_size} is not a power-of-two multiple of the page size {page}"
                ),
            ));
        }
        let consumer = Mmap::map(fd, page, 0, Protection::ReadWrite)?;
        let producer = Mmap::map(fd, page + 2 * data_size, page as i64, Protection::Read)?;
        // SAFETY: the consumer page is mapped and the position word sits at its start.
        let cons = unsafe { load_acquire_u64(consumer.as_ptr()) };
        Ok(RingBufMemory {
            consumer,
            producer,
            mask: data_size as u64 - 1,
            cons,
        })
    }

    /// Size of the data area in bytes.
    pub fn data_size(&self) -> usize {
        (self.mask + 1) as usize
    }

    /// The producer's position (bytes ever reserved).
    pub fn producer_pos(&self) -> u64 {
        // SAFETY: the producer page is mapped and its first word is the producer position.
        unsafe { load_acquire_u64(self.producer.as_ptr()) }
    }

    /// Our position (bytes ever consumed).
    pub fn consumer_pos(&self) -> u64 {
        self.cons
    }

    /// Bytes reserved by the producer and not yet consumed (committed or not).
    pub fn available(&self) -> u64 {
        self.producer_pos().wrapping_sub(self.cons)
    }

    /// Calls `f` with each committed record, oldest first, borrowed straight from the ring,
    /// until the ring is empty, a record still being written is reached, or `limit` records
    /// were handed out. Discarded records are skipped without a call.
    ///
    /// The consumer position is published once per pass over the records found (not once per
    /// record), and the producer position is read again after each pass, so records committed
    /// meanwhile are taken in the same call. Returns the number of records given to `f`.
    pub fn consume<F: FnMut(&[u8])>(&mut self, limit: usize, mut f: F) -> Result<usize> {
        let data = self.data_ptr();
        let size = self.mask + 1;
        let mut count = 0usize;
        loop {
            let prod = self.producer_pos();
            let start = self.cons;
            let mut cons = start;
            let mut stop = false;
            while cons < prod {
                if count >= limit {
                    stop = true;
                    break;
                }
                // SAFETY: `cons & mask` is within the data area and 8-byte aligned (record
                // strides are multiples of 8 and the area starts on a page boundary).
                let hdr_ptr = unsafe { data.add((cons & self.mask) as usize) };
                // SAFETY: as above; the acquire pairs with the kernel's release of the length word.
                let len_word = unsafe { load_acquire_u32(hdr_ptr) };
                if len_word & RINGBUF_BUSY_BIT != 0 {
                    stop = true;
                    break;
                }
                let len = len_word & !(RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT);
                let stride = record_stride(len);
                if stride > size {
                    self.publish(cons);
                    return Err(invalid(
                        "consume ring buffer".into(),
                        format!("record at position {cons} claims {len} bytes, more than the {size}-byte ring"),
                    ));
                }
                if len_word & RINGBUF_DISCARD_BIT == 0 {
                    // SAFETY: the record is committed (busy bit clear, seen with acquire) and the
                    // kernel does not reuse its bytes until we publish a consumer position past
                    // it, which happens only after `f` returns. The data area is mapped twice, so
                    // `hdr + 8 .. hdr + 8 + len` (at most `size` bytes past the area start
                    // offset) lies inside the mapping.
                    let rec = unsafe {
                        std::slice::from_raw_parts(hdr_ptr.add(RINGBUF_HDR_SZ), len as usize)
                    };
                    f(rec);
                    count += 1;
                }
                cons += stride;
            }
            if cons != start {
                self.publish(cons);
            }
            if stop || cons == start {
                return Ok(count);
            }
        }
    }

    fn data_ptr(&self) -> *const u8 {
        // SAFETY: the producer mapping is one page plus twice the data size long.
        unsafe { self.producer.as_ptr().add(page_size()) }
    }

    fn publish(&mut self, cons: u64) {
        self.cons = cons;
        // SAFETY: the consumer page is mapped writable; its first word is the consumer position.
        // The release orders our reads of the records before the kernel may overwrite them.
        unsafe { store_release_u64(self.consumer.as_ptr(), cons) }
    }
}

/// The producer side of a `BPF_MAP_TYPE_USER_RINGBUF` map, mapped into this process.
///
/// Here the roles swap: we own the producer page and the data area (mapped twice, writable),
/// the kernel's `bpf_user_ringbuf_drain` owns the consumer page (read-only to us).
#[derive(Debug)]
pub struct UserRingBufMemory {
    consumer: Mmap,
    producer: Mmap,
    mask: u64,
    prod: u64,
}

impl UserRingBufMemory {
    /// Maps the user ring buffer map `fd` whose data area is `data_size` bytes.
    pub fn map(fd: BorrowedFd<'_>, data_size: usize) -> Result<UserRingBufMemory> {
        let page = page_size();
        if data_size == 0 || !data_size.is_power_of_two() || data_size % page != 0 {
            return Err(invalid(
                "map user ring buffer".into(),
                format!(
                    "data size {data_size} is not a power-of-two multiple of the page size {page}"
                ),
            ));
        }
        let consumer = Mmap::map(fd, page, 0, Protection::Read)?;
        let producer = Mmap::map(fd, page + 2 * data_size, page as i64, Protection::ReadWrite)?;
        // SAFETY: the producer page is mapped; its first word is the producer position.
        let prod = unsafe { load_acquire_u64(producer.as_ptr()) };
        Ok(UserRingBufMemory {
            consumer,
            producer,
            mask: data_size as u64 - 1,
            prod,
        })
    }

    /// Size of the data area in bytes.
    pub fn data_size(&self) -> usize {
        (self.mask + 1) as usize
    }

    /// Free bytes: data size minus what the kernel has not consumed yet.
    pub fn free(&self) -> u64 {
        // SAFETY: the consumer page is mapped; its first word is the consumer position.
        let cons = unsafe { load_acquire_u64(self.consumer.as_ptr()) };
        (self.mask + 1).saturating_sub(self.prod.wrapping_sub(cons))
    }

    /// Writes one record of `data.len()` bytes filled by `fill`, then commits it.
    /// Returns `Ok(false)` when the ring has no room for it now.
    pub fn write<F: FnOnce(&mut [u8])>(&mut self, len: usize, fill: F) -> Result<bool> {
        let size = self.mask + 1;
        let len32 = u32::try_from(len)
            .ok()
            .filter(|&l| l & (RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT) == 0);
        let Some(len32) = len32.filter(|&l| record_stride(l) <= size) else {
            return Err(invalid(
                "write user ring buffer".into(),
                format!("a {len}-byte record does not fit a {size}-byte ring"),
            ));
        };
        let stride = record_stride(len32);
        if self.free() < stride {
            return Ok(false);
        }
        // SAFETY: the data area follows the producer page and is mapped twice, so the record
        // (at most `size` bytes from an in-area offset) is inside the writable mapping.
        let hdr = unsafe {
            self.producer
                .as_ptr()
                .add(page_size() + (self.prod & self.mask) as usize)
        };
        // SAFETY: `hdr` is 8-byte aligned inside the mapping. The kernel stops at a busy record,
        // so marking it busy before moving the producer position keeps it from reading a
        // half-written record.
        unsafe {
            AtomicU32::from_ptr(hdr as *mut u32).store(len32 | RINGBUF_BUSY_BIT, Ordering::Relaxed)
        };
        let pos = self.prod + stride;
        self.prod = pos;
        // SAFETY: the producer position word is the first word of the writable producer page.
        unsafe { store_release_u64(self.producer.as_ptr(), pos) };
        // SAFETY: the bytes after the header belong to this reservation alone until it commits.
        let body = unsafe { std::slice::from_raw_parts_mut(hdr.add(RINGBUF_HDR_SZ), len) };
        fill(body);
        // SAFETY: as above; the release publishes the body before the cleared busy bit.
        unsafe { AtomicU32::from_ptr(hdr as *mut u32).store(len32, Ordering::Release) };
        Ok(true)
    }
}

/// `PERF_RECORD_LOST`: the kernel dropped samples because the ring was full.
pub const PERF_RECORD_LOST: u32 = 2;
/// `PERF_RECORD_SAMPLE`: one sample (for `bpf-output` events: the raw data a program sent).
pub const PERF_RECORD_SAMPLE: u32 = 9;
/// Offset of `data_head` in `struct perf_event_mmap_page`.
const PERF_DATA_HEAD_OFF: usize = 1024;
/// Offset of `data_tail` in `struct perf_event_mmap_page`.
const PERF_DATA_TAIL_OFF: usize = 1032;
/// Size of `struct perf_event_header`.
const PERF_HEADER_SZ: usize = 8;

/// One record read from a perf ring.
#[derive(Debug)]
pub enum PerfRecord<'a> {
    /// A `PERF_RECORD_SAMPLE` carrying `PERF_SAMPLE_RAW` data (including the kernel's
    /// padding to an 8-byte record).
    Sample(&'a [u8]),
    /// A `PERF_RECORD_LOST`: this many samples were dropped.
    Lost(u64),
    /// Any other record: its type and body (after the 8-byte header).
    Other(u32, &'a [u8]),
}

/// A perf event ring (`1 + 2^n` pages mapped from a perf event fd), read by us.
///
/// Unlike the BPF ring buffer, the data area is mapped once, so a record that wraps around
/// its end is copied into a scratch buffer before it is handed out.
#[derive(Debug)]
pub struct PerfRingMemory {
    map: Mmap,
    data_size: u64,
    scratch: Vec<u8>,
}

impl PerfRingMemory {
    /// Maps the metadata page plus `data_pages` (a power of two) data pages of perf event `fd`.
    pub fn map(fd: BorrowedFd<'_>, data_pages: usize) -> Result<PerfRingMemory> {
        if data_pages == 0 || !data_pages.is_power_of_two() {
            return Err(invalid(
                "map perf ring".into(),
                format!("{data_pages} data pages: the count must be a power of two"),
            ));
        }
        let page = page_size();
        let map = Mmap::map(fd, page * (1 + data_pages), 0, Protection::ReadWrite)?;
        Ok(PerfRingMemory {
            map,
            data_size: (page * data_pages) as u64,
            scratch: Vec::new(),
        })
    }

    /// Size of the data area in bytes.
    pub fn data_size(&self) -> usize {
        self.data_size as usize
    }

    fn head(&self) -> u64 {
        // SAFETY: the metadata page is mapped; data_head is an aligned u64 inside it.
        unsafe { load_acquire_u64(self.map.as_ptr().add(PERF_DATA_HEAD_OFF)) }
    }

    fn tail(&self) -> u64 {
        // SAFETY: as above; only we write data_tail, so this reads back our own store.
        unsafe { load_acquire_u64(self.map.as_ptr().add(PERF_DATA_TAIL_OFF)) }
    }

    /// Whether records are waiting.
    pub fn has_data(&self) -> bool {
        self.head() != self.tail()
    }

    /// Calls `f` with every record the kernel has written, oldest first, then publishes the
    /// new tail once. Returns the number of records read.
    pub fn read<F: FnMut(PerfRecord<'_>)>(&mut self, mut f: F) -> Result<usize> {
        self.read_records(|typ, body| {
            let rec = match typ {
                PERF_RECORD_SAMPLE => {
                    // PERF_SAMPLE_RAW alone: a u32 size, then that many bytes.
                    let raw_len = body
                        .get(..4)
                        .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize)
                        .unwrap_or(0);
                    PerfRecord::Sample(body.get(4..4 + raw_len).unwrap_or(&[]))
                }
                PERF_RECORD_LOST => {
                    // u64 id, then u64 lost.
                    let lost = body
                        .get(8..16)
                        .and_then(|b| <[u8; 8]>::try_from(b).ok())
                        .map(u64::from_ne_bytes)
                        .unwrap_or(0);
                    PerfRecord::Lost(lost)
                }
                other => PerfRecord::Other(other, body),
            };
            f(rec)
        })
    }

    /// Calls `f` with the type and body (after the 8-byte header) of every record the kernel
    /// has written, oldest first, for events whose samples carry more than `PERF_SAMPLE_RAW`;
    /// then publishes the new tail once. Returns the number of records read.
    pub fn read_records<F: FnMut(u32, &[u8])>(&mut self, mut f: F) -> Result<usize> {
        let head = self.head();
        let mut tail = self.tail();
        let size = self.data_size;
        // SAFETY: the data area starts one page into the mapping.
        let data = unsafe { self.map.as_ptr().add(page_size()) as *const u8 };
        let mut count = 0;
        while tail < head {
            let off = (tail % size) as usize;
            let mut hdr = [0u8; PERF_HEADER_SZ];
            self.copy_out(data, off, &mut hdr);
            let typ = u32::from_ne_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
            let rec_size = u16::from_ne_bytes([hdr[6], hdr[7]]) as usize;
            if rec_size < PERF_HEADER_SZ || rec_size as u64 > head - tail {
                self.set_tail(head);
                return Err(invalid(
                    "read perf ring".into(),
                    format!("record at position {tail} has a bad size {rec_size}"),
                ));
            }
            let body_len = rec_size - PERF_HEADER_SZ;
            let body_off = (off + PERF_HEADER_SZ) % size as usize;
            let body: &[u8] = if body_off + body_len <= size as usize {
                // SAFETY: the body lies inside the data area, which the kernel does not
                // overwrite before we advance data_tail past it (after `f` returns).
                unsafe { std::slice::from_raw_parts(data.add(body_off), body_len) }
            } else {
                let mut scratch = std::mem::take(&mut self.scratch);
                scratch.resize(body_len, 0);
                self.copy_out(data, body_off, &mut scratch);
                self.scratch = scratch;
                &self.scratch
            };
            f(typ, body);
            count += 1;
            tail += rec_size as u64;
        }
        self.set_tail(tail);
        Ok(count)
    }

    /// Copies `out.len()` bytes starting at data offset `off`, wrapping at the end.
    fn copy_out(&self, data: *const u8, off: usize, out: &mut [u8]) {
        let size = self.data_size as usize;
        let first = out.len().min(size - off);
        // SAFETY: `off < size` and `first <= size - off`, so both pieces lie in the data area;
        // `out` is a distinct, writable buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(data.add(off), out.as_mut_ptr(), first);
            std::ptr::copy_nonoverlapping(data, out.as_mut_ptr().add(first), out.len() - first);
        }
    }

    fn set_tail(&mut self, tail: u64) {
        // SAFETY: data_tail is an aligned u64 in the writable metadata page; the release orders
        // our reads of the records before the kernel may overwrite them.
        unsafe { store_release_u64(self.map.as_ptr().add(PERF_DATA_TAIL_OFF), tail) }
    }
}

/// An epoll instance waiting for rings to become readable.
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
    events: Vec<libc::epoll_event>,
}

impl Epoll {
    /// Creates an epoll instance (`epoll_create1(EPOLL_CLOEXEC)`).
    pub fn new() -> Result<Epoll> {
        // SAFETY: epoll_create1 has no pointer arguments.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(Error::os("epoll_create1"));
        }
        // SAFETY: a fresh descriptor owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Epoll {
            fd,
            events: Vec::new(),
        })
    }

    /// Watches `fd` for readability; `token` comes back from [`wait`](Self::wait) when it is.
    pub fn add(&mut self, fd: BorrowedFd<'_>, token: u64) -> Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call.
        let rc = unsafe {
            libc::epoll_ctl(
                self.fd.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                fd.as_raw_fd(),
                &mut ev,
            )
        };
        if rc < 0 {
            return Err(Error::os(format!("epoll_ctl(ADD, fd {})", fd.as_raw_fd())));
        }
        self.events.push(libc::epoll_event { events: 0, u64: 0 });
        Ok(())
    }

    /// Waits until a watched fd is readable or `timeout` passes (`None`: forever) and pushes
    /// the tokens of the ready fds into `ready`. An interrupted wait returns with none.
    pub fn wait(&mut self, timeout: Option<Duration>, ready: &mut Vec<u64>) -> Result<()> {
        let ms = match timeout {
            None => -1,
            Some(d) => {
                // Round up so a sub-millisecond timeout still sleeps instead of spinning.
                let ms = d.as_nanos().div_ceil(1_000_000);
                i32::try_from(ms).unwrap_or(i32::MAX)
            }
        };
        if self.events.is_empty() {
            self.events.push(libc::epoll_event { events: 0, u64: 0 });
        }
        // SAFETY: `events` is a writable array of `events.len()` epoll_event structs.
        let n = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                self.events.as_mut_ptr(),
                self.events.len() as i32,
                ms,
            )
        };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EINTR) {
                return Ok(());
            }
            return Err(Error::Os {
                call: "epoll_wait".into(),
                source: err,
            });
        }
        ready.extend(self.events.iter().take(n as usize).map(|e| e.u64));
        Ok(())
    }

    /// The epoll descriptor itself, for embedding in another event loop.
    pub fn fd(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strides_are_eight_byte_aligned() {
        assert_eq!(record_stride(0), 8);
        assert_eq!(record_stride(1), 16);
        assert_eq!(record_stride(8), 16);
        assert_eq!(record_stride(9), 24);
    }
}
