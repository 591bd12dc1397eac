//! `load_object OBJ.bpf.o [RINGBUF_MAP]`: the libbpf workflow with bpfkit — open an object clang
//! built, load it (maps created, CO-RE applied against the running kernel), attach every program
//! from its SEC() name, and print the size of each record its ring buffer map receives.
//!
//! Try it on the execsnoop example: `scripts/build-fixtures` then
//! `cargo run -p bpfkit --example load_object target/fixtures/execsnoop.bpf.o events`.

use bpfkit::{ObjectBuilder, RingBuf};

fn run(path: &str, ring_map: &str) -> bpfkit::Result<()> {
    let open = ObjectBuilder::open_file(path)?;
    let obj = open.load()?;
    let map = obj.map(ring_map).ok_or_else(|| {
        bpfkit::Error::InvalidArgument(format!("{path} has no map named `{ring_map}`"))
    })?;
    // The ring is open before the programs attach, so no early record is missed.
    let mut ring = RingBuf::new(map)?;
    let links = obj.attach()?;
    eprintln!("attached {} programs; Ctrl-C to stop", links.len());
    loop {
        ring.poll(None, |record| println!("record of {} bytes", record.len()))?;
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: load_object OBJ.bpf.o [RINGBUF_MAP]");
        std::process::exit(2);
    };
    let ring_map = args.next().unwrap_or_else(|| "events".to_string());
    if let Err(e) = run(&path, &ring_map) {
        eprintln!("load_object: {e}");
        std::process::exit(1);
    }
}
