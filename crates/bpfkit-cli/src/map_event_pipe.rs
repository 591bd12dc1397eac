//! `bpfkit map event_pipe MAP [cpu N index M]`: bpftool's reader of a perf event array. It
//! opens a `bpf-output` perf event (raw data and a timestamp per sample) on every online CPU
//! (or on CPU N only), stores each in the map at its CPU's index (or at M), and prints every
//! record until SIGINT/SIGTERM, in bpftool's text or as one JSON array.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use bpfkit_sys::map::{MapFd, BPF_ANY};
use bpfkit_sys::perf::{self, PerfEventAttr, PerfTarget};
use bpfkit_sys::ring::{PerfRingMemory, PERF_RECORD_LOST, PERF_RECORD_SAMPLE};

use crate::output::{fail, hex_text, J};
use crate::target::{self, Args};
use crate::{CliError, Global};

/// `BPF_MAP_TYPE_PERF_EVENT_ARRAY`.
const PERF_EVENT_ARRAY: u32 = 4;
/// `PERF_SAMPLE_TIME`.
const SAMPLE_TIME: u64 = 1 << 2;
/// Data pages of each ring, as bpftool maps them.
const RING_PAGES: usize = 16;

/// One CPU's event: its ring and the map slot it is stored at.
struct Ring {
    cpu: usize,
    index: u32,
    mem: PerfRingMemory,
    event: OwnedFd,
}

/// Reads the optional `cpu N index M` words: `None` for every CPU.
fn parse_target(args: &mut Args) -> Result<Option<(usize, u32)>, CliError> {
    let (mut cpu, mut index) = (None, None);
    let mut any = false;
    while let Some(w) = args.next() {
        let Some(value) = args.next() else {
            return Err(fail(format!("what is '{w}'?")));
        };
        if target::is_prefix(&w, "cpu") {
            let n = target::parse_u64(&value)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| fail(format!("can't parse {value} as CPU ID")))?;
            cpu = Some(n);
        } else if target::is_prefix(&w, "index") {
            let n = target::parse_u64(&value)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| fail(format!("can't parse {value} as index")))?;
            index = Some(n);
        } else {
            return Err(fail(format!("what is '{w}'?")));
        }
        any = true;
    }
    if !any {
        return Ok(None);
    }
    match (cpu, index) {
        (Some(c), Some(i)) => Ok(Some((c, i))),
        _ => Err(fail("cpu and index must be specified together")),
    }
}

fn open_ring(cpu: usize, index: u32) -> Result<Ring, CliError> {
    let attr = PerfEventAttr {
        type_: perf::perf_type::SOFTWARE,
        config: perf::sw::BPF_OUTPUT,
        sample_period_or_freq: 1,
        sample_type: perf::SAMPLE_RAW | SAMPLE_TIME,
        wakeup_events_or_watermark: 1,
        ..Default::default()
    };
    let target = PerfTarget {
        pid: -1,
        cpu: cpu as i32,
    };
    let event = perf::perf_event_open(&attr, target, None, 0, "bpf-output").map_err(|e| {
        fail(format!(
            "failed to create perf buffer: {}",
            target::sys_err(&e)
        ))
    })?;
    let mem = PerfRingMemory::map(event.as_fd(), RING_PAGES).map_err(|e| {
        fail(format!(
            "failed to create perf buffer: {}",
            target::sys_err(&e)
        ))
    })?;
    Ok(Ring {
        cpu,
        index,
        mem,
        event,
    })
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    b.get(off..off + 8)
        .and_then(|s| <[u8; 8]>::try_from(s).ok())
        .map_or(0, u64::from_ne_bytes)
}

/// One record as bpftool prints it: text (with its newline), or under `-j` a JSON array
/// holding the record (see [`array_element`]).
fn format_record(g: &Global, typ: u32, body: &[u8], cpu: usize, index: u32) -> String {
    // A sample: u64 time, u32 raw size, raw bytes (with the kernel's padding). Lost: u64 id,
    // u64 count.
    let raw = || {
        let size = body
            .get(8..12)
            .map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize);
        body.get(12..12 + size).unwrap_or(&[])
    };
    if g.json() {
        let mut o = J::obj();
        o.push("type", J::U(typ as u64));
        o.push("cpu", J::U(cpu as u64));
        o.push("index", J::U(index as u64));
        if typ == PERF_RECORD_SAMPLE {
            o.push("timestamp", J::U(u64_at(body, 0)));
            o.push(
                "data",
                J::Arr(raw().iter().map(|&b| J::U(b as u64)).collect()),
            );
        } else if typ == PERF_RECORD_LOST {
            let mut l = J::obj();
            l.push("id", J::U(u64_at(body, 0)));
            l.push("count", J::U(u64_at(body, 8)));
            o.push("lost", l);
        }
        return J::Arr(vec![o]).render(g.pretty);
    }
    match typ {
        PERF_RECORD_SAMPLE => {
            let t = u64_at(body, 0);
            format!(
                "== @{}.{:09} CPU: {cpu} index: {index} =====\n{}\n",
                t / 1_000_000_000,
                t % 1_000_000_000,
                hex_text(raw())
            )
        }
        PERF_RECORD_LOST => format!("lost {} events\n", u64_at(body, 8)),
        other => format!("unknown event type={other} size={}\n", body.len() + 8),
    }
}

/// `map event_pipe MAP [cpu N index M]`.
pub fn run(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let fd = target::parse_one_map(args)?;
    let map = MapFd::from_fd(fd).map_err(|e| fail(format!("can't get map info: {e}")))?;
    if map.info().map_type != PERF_EVENT_ARRAY {
        return Err(fail("map is not a perf event array"));
    }
    let wanted = parse_target(args)?;
    let slots: Vec<(usize, u32)> = match wanted {
        Some(one) => vec![one],
        None => bpfkit_sys::mmap::online_cpus()
            .map_err(|e| fail(format!("can't get the online CPUs: {e}")))?
            .into_iter()
            .filter(|&c| c < map.info().max_entries as usize)
            .map(|c| (c, c as u32))
            .collect(),
    };
    let sig = bpfkit_sys::signal::termination_fd(false)
        .map_err(|e| fail(format!("can't wait for signals: {e}")))?;
    let mut rings = Vec::with_capacity(slots.len());
    for (cpu, index) in slots {
        let ring = open_ring(cpu, index)?;
        let value = (ring.event.as_raw_fd() as u32).to_ne_bytes();
        map.update(Some(&index.to_ne_bytes()), &value, BPF_ANY)
            .map_err(|e| {
                fail(format!(
                    "failed to create perf buffer: {}",
                    target::sys_err(&e)
                ))
            })?;
        rings.push(ring);
    }
    let result = pump(g, &mut rings, sig.as_fd());
    // The map holds each event until its slot is cleared.
    for r in &rings {
        let _ = map.delete(&r.index.to_ne_bytes());
    }
    result
}

/// A record as an element of bpftool's streamed JSON array: rendered inside a one-element
/// array (so `-p` indents it one level down) with the brackets taken off.
fn array_element(text: &str, pretty: bool) -> &str {
    let inner = text.strip_prefix('[').unwrap_or(text);
    let end = if pretty { "\n]" } else { "]" };
    inner.strip_suffix(end).unwrap_or(inner)
}

fn pump(g: &Global, rings: &mut [Ring], sig: BorrowedFd<'_>) -> Result<(), CliError> {
    let mut first = true;
    if g.json() {
        crate::emit("[")?;
    }
    loop {
        let mut fds: Vec<BorrowedFd<'_>> = rings.iter().map(|r| r.event.as_fd()).collect();
        fds.push(sig);
        let ready = bpfkit_sys::signal::wait_readable(&fds, 200)
            .map_err(|e| fail(format!("perf buffer polling failed: {e}")))?;
        drop(fds);
        let stop = ready.last().copied().unwrap_or(false);
        let mut out = String::new();
        for r in rings.iter_mut() {
            let (cpu, index) = (r.cpu, r.index);
            r.mem
                .read_records(|typ, body| {
                    let rec = format_record(g, typ, body, cpu, index);
                    if g.json() {
                        if !std::mem::take(&mut first) {
                            out.push(',');
                        }
                        out.push_str(array_element(&rec, g.pretty));
                    } else {
                        out.push_str(&rec);
                    }
                })
                .map_err(|e| fail(format!("perf buffer polling failed: {e}")))?;
        }
        if !out.is_empty() {
            crate::emit(&out)?;
        }
        if stop {
            // bpftool says so on stderr when a signal ends the reading.
            eprintln!("Stopping...");
            break;
        }
    }
    if g.json() {
        crate::emit(if g.pretty && !first { "\n]\n" } else { "]\n" })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Args {
        Args::new(w.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn cpu_and_index_come_together() {
        assert_eq!(parse_target(&mut words(&[])).ok(), Some(None));
        assert_eq!(
            parse_target(&mut words(&["cpu", "1", "index", "0x2"])).ok(),
            Some(Some((1, 2)))
        );
        assert!(parse_target(&mut words(&["cpu", "1"])).is_err());
        assert!(parse_target(&mut words(&["cpu", "x", "index", "1"])).is_err());
        assert!(parse_target(&mut words(&["cpu"])).is_err());
    }

    #[test]
    fn samples_print_as_bpftool_prints_them() {
        let mut body = Vec::new();
        body.extend_from_slice(&1_500_000_007u64.to_ne_bytes());
        body.extend_from_slice(&4u32.to_ne_bytes());
        body.extend_from_slice(&[1, 2, 3, 0xff]);
        let g = Global::default();
        assert_eq!(
            format_record(&g, PERF_RECORD_SAMPLE, &body, 1, 1),
            "== @1.500000007 CPU: 1 index: 1 =====\n01 02 03 ff\n"
        );
        let j = Global {
            json: true,
            ..Global::default()
        };
        assert_eq!(
            array_element(&format_record(&j, PERF_RECORD_SAMPLE, &body, 0, 0), false),
            r#"{"type":9,"cpu":0,"index":0,"timestamp":1500000007,"data":[1,2,3,255]}"#
        );
    }
}
