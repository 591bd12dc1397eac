//! bpfkit side of bench/loader: N times open + load + attach + detach of one object file.
//! Prints one line per iteration: `iter TOTAL_NS LOAD_NS` (LOAD_NS: open + load alone). Detach is `bpfkit::object::detach_all` (links
//! dropped together, so the kernel's RCU waits overlap); with `--sequential` the links are
//! dropped one after the other, as libbpf destroys them.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sequential = std::env::args().any(|a| a == "--sequential");
    let mut args = std::env::args().skip(1).filter(|a| a != "--sequential");
    let (Some(path), Some(n)) = (args.next(), args.next()) else {
        eprintln!("usage: loader_bench OBJ ITERATIONS");
        std::process::exit(2);
    };
    let n: usize = n.parse()?;
    for _ in 0..n {
        let t0 = Instant::now();
        let obj = bpfkit::ObjectBuilder::open_file(&path)?.load()?;
        let loaded = t0.elapsed();
        let links = obj.attach()?;
        if sequential {
            drop(links);
        } else {
            bpfkit::object::detach_all(links);
        }
        drop(obj);
        println!("iter {} {}", t0.elapsed().as_nanos(), loaded.as_nanos());
    }
    Ok(())
}
