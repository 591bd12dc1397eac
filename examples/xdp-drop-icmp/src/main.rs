//! Drops ICMP on an interface with XDP and counts every packet by IP protocol.
//!
//! Usage: `xdp-drop-icmp IFACE [--generic | --native] [--duration SECS]`
//!
//! The program is attached with a bpf_link owned by this process: it goes away when the
//! process exits, however it exits. On exit (or after `--duration`) the counts are printed,
//! one `PROTO COUNT` line per protocol seen, then `dropped N`.
//!
//! The BPF side is `xdp_drop_icmp.bpf.c`, compiled by scripts/build-fixtures (cargo never runs
//! clang); build.rs turns the object into the skeleton included here.
#![forbid(unsafe_code)]

#[cfg(not(no_object))]
#[allow(dead_code)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/skel.rs"));
}

use std::time::{Duration, Instant};

use bpfkit::xdp::XdpMode;

struct Opts {
    iface: String,
    mode: Option<XdpMode>,
    duration: Option<Duration>,
}

fn parse_args() -> Result<Opts, String> {
    let mut iface = None;
    let mut mode = None;
    let mut duration = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--generic" => mode = Some(XdpMode::Generic),
            "--native" => mode = Some(XdpMode::Driver),
            "--duration" => {
                let v = it.next().ok_or("--duration needs seconds")?;
                let s: u64 = v.parse().map_err(|_| format!("invalid duration '{v}'"))?;
                duration = Some(Duration::from_secs(s));
            }
            "-h" | "--help" => {
                println!("Usage: xdp-drop-icmp IFACE [--generic | --native] [--duration SECS]");
                std::process::exit(0);
            }
            other if iface.is_none() && !other.starts_with('-') => iface = Some(other.to_string()),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    Ok(Opts {
        iface: iface.ok_or("which interface? (usage: xdp-drop-icmp IFACE)")?,
        mode,
        duration,
    })
}

fn proto_name(p: u32) -> String {
    match p {
        1 => "icmp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        58 => "icmpv6".into(),
        255 => "non-ip".into(),
        n => n.to_string(),
    }
}

#[cfg(not(no_object))]
fn run(o: &Opts) -> bpfkit::Result<()> {
    let ifindex = bpfkit::xdp::ifindex(&o.iface)?;
    let sk = skel::open()?.load()?;
    let link = bpfkit::xdp::attach(sk.progs()?.xdp_drop_icmp, ifindex, o.mode)?;
    println!("attached to {} (link {})", o.iface, link.id()?);
    let start = Instant::now();
    while o.duration.is_none_or(|d| start.elapsed() < d) {
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(link);
    let counts = sk.maps()?.proto_count;
    for p in 0..256u32 {
        let n = counts
            .lookup(&p.to_ne_bytes())?
            .and_then(|v| v.get(..8).and_then(|b| b.try_into().ok()))
            .map_or(0, u64::from_ne_bytes);
        if n > 0 {
            println!("{:<8} {n}", proto_name(p));
        }
    }
    println!("dropped {}", sk.bss()?.dropped);
    Ok(())
}

#[cfg(no_object)]
fn run(_o: &Opts) -> bpfkit::Result<()> {
    Err(bpfkit::Error::InvalidArgument(format!(
        "the BPF object {} was missing when this was built: run scripts/build-fixtures, then rebuild",
        env!("BPF_OBJECT")
    )))
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("xdp-drop-icmp: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&opts) {
        eprintln!("xdp-drop-icmp: {e}");
        std::process::exit(1);
    }
}
