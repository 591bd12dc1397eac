//! The consumer of a `BPF_MAP_TYPE_PERF_EVENT_ARRAY`: one perf ring per CPU.
//!
//! Programs send samples with `bpf_perf_event_output(ctx, &map, BPF_F_CURRENT_CPU, data, len)`,
//! which writes into the perf event stored at the current CPU's index of the map. [`PerfBuf`]
//! opens a software `bpf-output` event on each CPU, maps its ring, stores the event in the map
//! and waits on all rings with one epoll set. When a ring is full the kernel drops samples and
//! later writes a `PERF_RECORD_LOST` record with the count; those counts reach the caller as
//! [`PerfEvent::Lost`] and in the running totals [`PerfBuf::lost`] / [`PerfBuf::cpu_lost`].

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use bpfkit_sys::map::MapFd;
use bpfkit_sys::perf::{self, PerfEventAttr, PerfTarget};
use bpfkit_sys::ring::{Epoll, PerfRecord, PerfRingMemory};

use crate::error::{Error, Result};

const MAP_TYPE_PERF_EVENT_ARRAY: u32 = 4;

/// When the kernel wakes a waiting reader of a perf ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wakeup {
    /// After this many samples (`wakeup_events`); 1 wakes on every sample.
    Events(u32),
    /// When this many bytes are waiting (`wakeup_watermark`).
    Watermark(u32),
}

/// How a [`PerfBuf`] sets up its rings.
#[derive(Clone, Debug)]
pub struct PerfBufOptions {
    /// Data pages per CPU ring; a power of two.
    pub pages_per_cpu: usize,
    /// Wakeup policy.
    pub wakeup: Wakeup,
    /// CPUs to open rings on; `None` means every online CPU.
    pub cpus: Option<Vec<usize>>,
}

impl Default for PerfBufOptions {
    fn default() -> Self {
        PerfBufOptions {
            pages_per_cpu: 64,
            wakeup: Wakeup::Events(1),
            cpus: None,
        }
    }
}

impl PerfBufOptions {
    /// Sets the data pages per CPU ring (a power of two).
    pub fn pages_per_cpu(mut self, pages: usize) -> Self {
        self.pages_per_cpu = pages;
        self
    }

    /// Sets the wakeup policy.
    pub fn wakeup(mut self, wakeup: Wakeup) -> Self {
        self.wakeup = wakeup;
        self
    }

    /// Restricts the rings to these CPUs.
    pub fn cpus(mut self, cpus: Vec<usize>) -> Self {
        self.cpus = Some(cpus);
        self
    }
}

/// One record of a perf buffer, handed to the callback of [`PerfBuf::poll`].
#[derive(Debug)]
pub enum PerfEvent<'a> {
    /// A sample a program sent from `cpu`. The data holds what the program passed, followed by
    /// up to 7 bytes of the kernel's padding (the raw size is rounded so records stay 8-byte
    /// aligned); for records that wrapped around the ring end it is a copy, else it is borrowed
    /// from the ring.
    Sample {
        /// CPU of the ring.
        cpu: usize,
        /// The raw sample.
        data: &'a [u8],
    },
    /// The kernel dropped `count` samples on `cpu` because its ring was full.
    Lost {
        /// CPU of the ring.
        cpu: usize,
        /// Samples dropped.
        count: u64,
    },
}

#[derive(Debug)]
struct CpuRing {
    cpu: usize,
    mem: PerfRingMemory,
    received: u64,
    lost: u64,
    event: OwnedFd,
}

/// A consumer of a perf event array map, one ring per CPU (libbpf's `perf_buffer`).
#[derive(Debug)]
pub struct PerfBuf {
    rings: Vec<CpuRing>,
    epoll: Epoll,
    ready: Vec<u64>,
    map: MapFd,
}

impl PerfBuf {
    /// Opens a ring on each CPU of `opts`, stores the events in `map` (a
    /// `BPF_MAP_TYPE_PERF_EVENT_ARRAY`) at the CPU indices, and returns the consumer.
    pub fn new(map: impl AsFd, opts: &PerfBufOptions) -> Result<PerfBuf> {
        let map = map.as_fd();
        let dup = map.try_clone_to_owned().map_err(|source| Error::Io {
            path: "dup of perf event array fd".into(),
            source,
        })?;
        let map = MapFd::from_fd(dup)?;
        let info = *map.info();
        if info.map_type != MAP_TYPE_PERF_EVENT_ARRAY {
            return Err(Error::InvalidArgument(format!(
                "PerfBuf needs a map of type perf_event_array but map {} has type {}",
                info.id, info.map_type
            )));
        }
        if !opts.pages_per_cpu.is_power_of_two() {
            return Err(Error::InvalidArgument(format!(
                "PerfBuf: {} pages per CPU is not a power of two",
                opts.pages_per_cpu
            )));
        }
        let cpus = match &opts.cpus {
            Some(c) => c.clone(),
            None => bpfkit_sys::mmap::online_cpus()?,
        };
        let mut pb = PerfBuf {
            rings: Vec::with_capacity(cpus.len()),
            epoll: Epoll::new()?,
            ready: Vec::new(),
            map,
        };
        for cpu in cpus {
            if cpu >= info.max_entries as usize {
                return Err(Error::InvalidArgument(format!(
                    "PerfBuf: CPU {cpu} has no slot in map {} (max_entries {}); create the map with one entry per possible CPU",
                    info.id, info.max_entries
                )));
            }
            let ring = open_cpu_ring(cpu, opts)?;
            pb.epoll.add(ring.event.as_fd(), pb.rings.len() as u64)?;
            let key = (cpu as u32).to_ne_bytes();
            let value = (std::os::fd::AsRawFd::as_raw_fd(&ring.event) as u32).to_ne_bytes();
            // Push before storing so that Drop clears the slot even if the update fails halfway.
            pb.rings.push(ring);
            pb.map
                .update(Some(&key), &value, bpfkit_sys::map::BPF_ANY)?;
        }
        Ok(pb)
    }

    /// Waits up to `timeout` (`None`: forever) for records on any CPU, then reads every ring
    /// that is ready. Returns the number of records (samples and lost notices) handed to `f`.
    pub fn poll<F: FnMut(PerfEvent<'_>)>(
        &mut self,
        timeout: Option<Duration>,
        mut f: F,
    ) -> Result<usize> {
        let mut ready = std::mem::take(&mut self.ready);
        ready.clear();
        let mut res = self.epoll.wait(timeout, &mut ready).map_err(Error::from);
        let mut total = 0;
        if res.is_ok() {
            for &idx in &ready {
                match self.read_ring(idx as usize, &mut f) {
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

    /// Reads every record waiting in every ring now, without waiting.
    pub fn consume<F: FnMut(PerfEvent<'_>)>(&mut self, mut f: F) -> Result<usize> {
        let mut total = 0;
        for idx in 0..self.rings.len() {
            total += self.read_ring(idx, &mut f)?;
        }
        Ok(total)
    }

    fn read_ring<F: FnMut(PerfEvent<'_>)>(&mut self, idx: usize, f: &mut F) -> Result<usize> {
        let Some(ring) = self.rings.get_mut(idx) else {
            return Ok(0);
        };
        let cpu = ring.cpu;
        let (mut received, mut lost) = (0u64, 0u64);
        let n = ring.mem.read(|rec| match rec {
            PerfRecord::Sample(data) => {
                received += 1;
                f(PerfEvent::Sample { cpu, data });
            }
            PerfRecord::Lost(count) => {
                lost += count;
                f(PerfEvent::Lost { cpu, count });
            }
            // Only samples and lost notices are asked for; anything else carries nothing for
            // the caller (e.g. throttle records).
            PerfRecord::Other(..) => {}
        })?;
        ring.received += received;
        ring.lost += lost;
        Ok(n)
    }

    /// Samples received so far, over all CPUs.
    pub fn received(&self) -> u64 {
        self.rings.iter().map(|r| r.received).sum()
    }

    /// Samples the kernel reported lost so far, over all CPUs.
    pub fn lost(&self) -> u64 {
        self.rings.iter().map(|r| r.lost).sum()
    }

    /// Samples reported lost on `cpu` (0 when there is no ring on it).
    pub fn cpu_lost(&self, cpu: usize) -> u64 {
        self.rings
            .iter()
            .find(|r| r.cpu == cpu)
            .map_or(0, |r| r.lost)
    }

    /// Samples received from `cpu` (0 when there is no ring on it).
    pub fn cpu_received(&self, cpu: usize) -> u64 {
        self.rings
            .iter()
            .find(|r| r.cpu == cpu)
            .map_or(0, |r| r.received)
    }

    /// The CPUs that have a ring, in ring order.
    pub fn cpus(&self) -> Vec<usize> {
        self.rings.iter().map(|r| r.cpu).collect()
    }

    /// Data bytes of each CPU ring.
    pub fn ring_size(&self) -> usize {
        self.rings.first().map_or(0, |r| r.mem.data_size())
    }

    /// The epoll fd, to wait on from another event loop (readable when a ring is).
    pub fn epoll_fd(&self) -> BorrowedFd<'_> {
        self.epoll.fd()
    }
}

impl Drop for PerfBuf {
    fn drop(&mut self) {
        // The map holds a reference to each event until its slot is cleared; clearing them
        // frees the events (and their rings) now instead of when the map goes away.
        for ring in &self.rings {
            let key = (ring.cpu as u32).to_ne_bytes();
            let _ = self.map.delete(&key);
        }
    }
}

fn open_cpu_ring(cpu: usize, opts: &PerfBufOptions) -> Result<CpuRing> {
    let (wakeup, watermark_flag) = match opts.wakeup {
        Wakeup::Events(n) => (n.max(1), 0),
        Wakeup::Watermark(bytes) => (bytes.max(1), perf::attr_flag::WATERMARK),
    };
    let attr = PerfEventAttr {
        type_: perf::perf_type::SOFTWARE,
        config: perf::sw::BPF_OUTPUT,
        sample_period_or_freq: 1,
        sample_type: perf::SAMPLE_RAW,
        flags: watermark_flag,
        wakeup_events_or_watermark: wakeup,
        ..Default::default()
    };
    let target = PerfTarget {
        pid: -1,
        cpu: cpu as i32,
    };
    let event = perf::perf_event_open(&attr, target, None, 0, "bpf-output")?;
    let mem = PerfRingMemory::map(event.as_fd(), opts.pages_per_cpu)?;
    Ok(CpuRing {
        cpu,
        mem,
        received: 0,
        lost: 0,
        event,
    })
}
