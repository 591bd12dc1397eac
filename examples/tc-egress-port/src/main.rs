//! Drops or marks packets leaving an interface by destination port, with a TC egress program.
//!
//! Usage: `tc-egress-port IFACE [--drop PORT] [--mark PORT] [--clsact] [--duration SECS]`
//!
//! By default the program runs on a tcx egress link owned by this process (gone when it
//! exits); `--clsact` uses a cls_bpf filter on a clsact qdisc instead, which this program
//! deletes again before it exits. On exit it prints `dropped N` and `marked N`.
//!
//! The BPF side is `tc_egress_port.bpf.c`, compiled by scripts/build-fixtures; build.rs turns
//! the object into the skeleton included here.
#![forbid(unsafe_code)]

#[cfg(not(no_object))]
#[allow(dead_code)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/skel.rs"));
}

use std::time::{Duration, Instant};

#[derive(Default)]
struct Opts {
    iface: String,
    drop_port: u16,
    mark_port: u16,
    clsact: bool,
    duration: Option<Duration>,
}

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts::default();
    let mut it = std::env::args().skip(1);
    let port = |v: Option<String>, what: &str| -> Result<u16, String> {
        let v = v.ok_or(format!("{what} needs a port"))?;
        v.parse().map_err(|_| format!("invalid port '{v}'"))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--drop" => o.drop_port = port(it.next(), "--drop")?,
            "--mark" => o.mark_port = port(it.next(), "--mark")?,
            "--clsact" => o.clsact = true,
            "--duration" => {
                let v = it.next().ok_or("--duration needs seconds")?;
                let s: u64 = v.parse().map_err(|_| format!("invalid duration '{v}'"))?;
                o.duration = Some(Duration::from_secs(s));
            }
            "-h" | "--help" => {
                println!("Usage: tc-egress-port IFACE [--drop PORT] [--mark PORT] [--clsact] [--duration SECS]");
                std::process::exit(0);
            }
            other if o.iface.is_empty() && !other.starts_with('-') => o.iface = other.to_string(),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    if o.iface.is_empty() {
        return Err("which interface? (usage: tc-egress-port IFACE --drop PORT)".into());
    }
    Ok(o)
}

#[cfg(not(no_object))]
fn run(o: &Opts) -> bpfkit::Result<()> {
    use bpfkit::tc::{self, Direction, FilterId, TcxOptions};
    let ifindex = bpfkit::xdp::ifindex(&o.iface)?;
    let mut open = skel::open()?;
    open.rodata.drop_port = o.drop_port;
    open.rodata.mark_port = o.mark_port;
    let sk = open.load()?;
    let prog = sk.progs()?.tc_egress_port;
    let link = if o.clsact {
        let id = tc::attach_filter(prog, ifindex, Direction::Egress, FilterId::default(), false)?;
        println!(
            "attached to {} (clsact egress filter {}:{:#x})",
            o.iface, id.priority, id.handle
        );
        Err(id)
    } else {
        let l = tc::attach_tcx(prog, ifindex, Direction::Egress, &TcxOptions::default())?;
        println!("attached to {} (tcx link {})", o.iface, l.id()?);
        Ok(l)
    };
    let start = Instant::now();
    while o.duration.is_none_or(|d| start.elapsed() < d) {
        std::thread::sleep(Duration::from_millis(100));
    }
    match link {
        Ok(l) => drop(l),
        Err(id) => tc::detach_filter(ifindex, Direction::Egress, id)?,
    }
    let verdicts = sk.maps()?.verdicts;
    let read = |slot: u32| -> bpfkit::Result<u64> {
        Ok(verdicts
            .lookup(&slot.to_ne_bytes())?
            .and_then(|v| v.get(..8).and_then(|b| b.try_into().ok()))
            .map_or(0, u64::from_ne_bytes))
    };
    println!("dropped {}", read(0)?);
    println!("marked {}", read(1)?);
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
            eprintln!("tc-egress-port: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&opts) {
        eprintln!("tc-egress-port: {e}");
        std::process::exit(1);
    }
}
