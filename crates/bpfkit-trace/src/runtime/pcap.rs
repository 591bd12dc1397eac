//! `skboutput()` packets to pcap files: each perf sample is the header the program wrote
//! (file id, `bpf_ktime_get_ns` time, captured length, offset; see
//! [`SKB_META_SIZE`]) followed by the packet bytes. Files are created on
//! first use with a nanosecond-resolution pcap header of link type raw IP; each packet
//! record carries the wall-clock time of its capture.

use crate::codegen::SKB_META_SIZE;
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;

/// pcap magic for nanosecond timestamps.
const MAGIC_NS: u32 = 0xa1b2_3c4d;
/// `LINKTYPE_RAW`: packets start at the IP header.
const LINKTYPE_RAW: u32 = 101;
/// Largest packet a record holds.
const SNAPLEN: u32 = 65535;

/// The open pcap files of one script run.
pub struct PcapFiles {
    paths: Vec<String>,
    open: HashMap<usize, File>,
    /// Wall-clock minus monotonic time, in nanoseconds.
    clock_offset: i128,
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    let s = b.get(off..off + 8)?;
    let mut w = [0u8; 8];
    w.copy_from_slice(s);
    Some(u64::from_ne_bytes(w))
}

impl PcapFiles {
    /// Files for `paths` (by id); `monotonic_ns` is `CLOCK_MONOTONIC` now.
    pub fn new(paths: Vec<String>, monotonic_ns: u64) -> PcapFiles {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        PcapFiles {
            paths,
            open: HashMap::new(),
            clock_offset: wall - i128::from(monotonic_ns),
        }
    }

    /// Writes the packet of one perf sample; Err names the file that could not be written.
    pub fn sample(&mut self, data: &[u8]) -> Result<(), String> {
        let meta = SKB_META_SIZE as usize;
        let (Some(id), Some(ts), Some(len), Some(offset)) = (
            u64_at(data, 0),
            u64_at(data, 8),
            u64_at(data, 16),
            u64_at(data, 24),
        ) else {
            return Ok(());
        };
        let Some(path) = usize::try_from(id).ok().and_then(|i| self.paths.get(i)) else {
            return Ok(());
        };
        let len = usize::try_from(len).unwrap_or(0);
        let packet = meta
            .checked_add(len)
            .and_then(|end| data.get(meta..end))
            .unwrap_or(&[]);
        let packet = packet
            .get(
                usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(packet.len())..,
            )
            .unwrap_or(&[]);
        let path = path.clone();
        let fail = |e: std::io::Error| format!("skboutput: writing {path}: {e}");
        let f = match self.open.entry(id as usize) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let mut f = File::create(&path).map_err(fail)?;
                f.write_all(&file_header()).map_err(fail)?;
                v.insert(f)
            }
        };
        let t = (i128::from(ts) + self.clock_offset).max(0);
        let secs = (t / 1_000_000_000) as u32;
        let nanos = (t % 1_000_000_000) as u32;
        let n = packet.len() as u32;
        let mut rec = Vec::with_capacity(16 + packet.len());
        for w in [secs, nanos, n, n] {
            rec.extend_from_slice(&w.to_ne_bytes());
        }
        rec.extend_from_slice(packet);
        f.write_all(&rec).map_err(fail)
    }
}

/// The 24-byte pcap file header (native byte order, as the magic tells readers).
fn file_header() -> Vec<u8> {
    let mut h = Vec::with_capacity(24);
    h.extend_from_slice(&MAGIC_NS.to_ne_bytes());
    h.extend_from_slice(&2u16.to_ne_bytes());
    h.extend_from_slice(&4u16.to_ne_bytes());
    h.extend_from_slice(&0i32.to_ne_bytes());
    h.extend_from_slice(&0u32.to_ne_bytes());
    h.extend_from_slice(&SNAPLEN.to_ne_bytes());
    h.extend_from_slice(&LINKTYPE_RAW.to_ne_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_header_and_records() {
        let dir = std::env::temp_dir().join(format!("bpfkit_pcap_{}", std::process::id()));
        let path = dir.to_string_lossy().into_owned();
        let mut p = PcapFiles::new(vec![path.clone()], 0);
        let mut sample = Vec::new();
        for w in [0u64, 5, 6, 2] {
            sample.extend_from_slice(&w.to_ne_bytes());
        }
        sample.extend_from_slice(b"\x01\x02abcd\0\0");
        p.sample(&sample).unwrap();
        drop(p);
        let b = std::fs::read(&dir).unwrap();
        let _ = std::fs::remove_file(&dir);
        assert_eq!(b.get(..24), Some(file_header().as_slice()));
        assert_eq!(b.len(), 24 + 16 + 4);
        assert_eq!(
            &b[24 + 8..24 + 16],
            [4u32.to_ne_bytes(), 4u32.to_ne_bytes()].concat()
        );
        assert_eq!(&b[40..], b"abcd");
    }
}
