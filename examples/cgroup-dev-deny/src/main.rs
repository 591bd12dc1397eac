//! Denies one character device to the processes of a cgroup, with a cgroup device program.
//!
//! Usage: `cgroup-dev-deny CGROUP [--device MAJOR:MINOR] [--duration SECS]` (default 1:3,
//! `/dev/null`).
//!
//! The program is attached with a cgroup link owned by this process, so the device is
//! allowed again as soon as it exits. On exit it prints `denied N`.
//!
//! The BPF side is `cgroup_dev_deny.bpf.c`, compiled by scripts/build-fixtures; build.rs turns
//! the object into the skeleton included here.
#![forbid(unsafe_code)]

#[cfg(not(no_object))]
#[allow(dead_code)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/skel.rs"));
}

use std::time::{Duration, Instant};

struct Opts {
    cgroup: String,
    major: u32,
    minor: u32,
    duration: Option<Duration>,
}

fn parse_args() -> Result<Opts, String> {
    let mut cgroup = None;
    let (mut major, mut minor) = (1, 3);
    let mut duration = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--device" => {
                let v = it.next().ok_or("--device needs MAJOR:MINOR")?;
                let (ma, mi) = v.split_once(':').ok_or(format!("invalid device '{v}'"))?;
                major = ma.parse().map_err(|_| format!("invalid major '{ma}'"))?;
                minor = mi.parse().map_err(|_| format!("invalid minor '{mi}'"))?;
            }
            "--duration" => {
                let v = it.next().ok_or("--duration needs seconds")?;
                let s: u64 = v.parse().map_err(|_| format!("invalid duration '{v}'"))?;
                duration = Some(Duration::from_secs(s));
            }
            "-h" | "--help" => {
                println!("Usage: cgroup-dev-deny CGROUP [--device MAJOR:MINOR] [--duration SECS]");
                std::process::exit(0);
            }
            other if cgroup.is_none() && !other.starts_with('-') => {
                cgroup = Some(other.to_string())
            }
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    Ok(Opts {
        cgroup: cgroup.ok_or("which cgroup? (usage: cgroup-dev-deny CGROUP)")?,
        major,
        minor,
        duration,
    })
}

#[cfg(not(no_object))]
fn run(o: &Opts) -> bpfkit::Result<()> {
    let cg = bpfkit::cgroup::Cgroup::open(&o.cgroup)?;
    let mut open = skel::open()?;
    open.rodata.deny_major = o.major;
    open.rodata.deny_minor = o.minor;
    let sk = open.load()?;
    let link = cg.link(
        sk.progs()?.cgroup_dev_deny,
        bpfkit::AttachType::CgroupDevice,
    )?;
    println!(
        "denying {}:{} in {} (link {})",
        o.major,
        o.minor,
        o.cgroup,
        link.id()?
    );
    let start = Instant::now();
    while o.duration.is_none_or(|d| start.elapsed() < d) {
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(link);
    println!("denied {}", sk.bss()?.denied);
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
            eprintln!("cgroup-dev-deny: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&opts) {
        eprintln!("cgroup-dev-deny: {e}");
        std::process::exit(1);
    }
}
