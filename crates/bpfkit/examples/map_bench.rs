//! Our side of the map syscall benchmark (bench/maps/run.sh): N lookups then N updates on a
//! hash and an array map through [`bpfkit::Map`], the same work as bench/maps/peer.c does
//! through libbpf. Output: one `<map> <op> <ops per CPU-second>` line per measurement.
//!
//! The loop uses the allocation-free calls (`lookup_into`, `update` with stack buffers).

use bpfkit::map::BPF_ANY;
use bpfkit::{Map, MapSpec, MapType};

const ENTRIES: u32 = 1024;

/// Seconds this thread has run on a CPU (first field of `/proc/thread-self/schedstat`, ns):
/// the machine is shared, and time spent descheduled says nothing about the syscall path.
fn cpu_time() -> bpfkit::Result<f64> {
    let path = "/proc/thread-self/schedstat";
    let text = std::fs::read_to_string(path).map_err(|source| bpfkit::Error::Io {
        path: path.into(),
        source,
    })?;
    text.split_whitespace()
        .next()
        .and_then(|f| f.parse::<u64>().ok())
        .map(|ns| ns as f64 / 1e9)
        .ok_or_else(|| bpfkit::Error::InvalidArgument(format!("unexpected {path}: {text:?}")))
}

fn run(label: &str, map_type: MapType, n: u64) -> bpfkit::Result<()> {
    let map = Map::create(&MapSpec::new(map_type, 4, 8, ENTRIES).name("bench_ours"))?;
    for k in 0..ENTRIES {
        map.update(&k.to_ne_bytes(), &0u64.to_ne_bytes(), BPF_ANY)?;
    }
    let mut v = [0u8; 8];
    let t0 = cpu_time()?;
    for i in 0..n {
        let k = (i as u32) & (ENTRIES - 1);
        if !map.lookup_into(&k.to_ne_bytes(), &mut v)? {
            return Err(bpfkit::Error::InvalidArgument(format!("key {k} vanished")));
        }
    }
    let t1 = cpu_time()?;
    for i in 0..n {
        let k = (i as u32) & (ENTRIES - 1);
        map.update(&k.to_ne_bytes(), &i.to_ne_bytes(), BPF_ANY)?;
    }
    let t2 = cpu_time()?;
    println!("{label} lookup {:.0}", n as f64 / (t1 - t0));
    println!("{label} update {:.0}", n as f64 / (t2 - t1));
    Ok(())
}

fn main() {
    let n = match std::env::args().nth(1).map(|a| a.parse::<u64>()) {
        None => 1_000_000,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("map_bench: bad operation count: {e}");
            std::process::exit(2);
        }
    };
    for (label, t) in [("hash", MapType::Hash), ("array", MapType::Array)] {
        if let Err(e) = run(label, t, n) {
            eprintln!("map_bench: {e}");
            std::process::exit(1);
        }
    }
}
