//! execsnoop on a bpfkit skeleton: prints one line per execve(2) with libbpf-tools' columns
//! `PCOMM PID PPID RET ARGS`.
//!
//! Usage: `execsnoop [-u UID] [-x] [--duration SECS]` (`-x`: failed execs only).
//!
//! The BPF side is `execsnoop.bpf.c`, compiled by scripts/build-fixtures (cargo never runs
//! clang); build.rs turns the object into the skeleton this file includes.
#![forbid(unsafe_code)]

// A skeleton has an accessor for every map and program; this program uses a few.
#[cfg(not(execsnoop_no_object))]
#[allow(dead_code)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/execsnoop.skel.rs"));
}

/// Layout of `struct event` in execsnoop.h.
#[cfg(not(execsnoop_no_object))]
const ARGS_OFF: usize = 40;
#[cfg(not(execsnoop_no_object))]
const COMM_OFF: usize = 24;

#[derive(Debug, Default)]
struct Opts {
    uid: Option<u32>,
    failed_only: bool,
    duration: Option<std::time::Duration>,
}

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts::default();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "-u" | "--uid" => {
                let v = it.next().ok_or("-u needs a UID")?;
                o.uid = Some(v.parse().map_err(|_| format!("invalid UID '{v}'"))?);
            }
            "-x" | "--fails" => o.failed_only = true,
            "--duration" => {
                let v = it.next().ok_or("--duration needs seconds")?;
                let s: u64 = v.parse().map_err(|_| format!("invalid duration '{v}'"))?;
                o.duration = Some(std::time::Duration::from_secs(s));
            }
            "-h" | "--help" => {
                println!("Usage: execsnoop [-u UID] [-x] [--duration SECS]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    Ok(o)
}

#[cfg(not(execsnoop_no_object))]
fn i32_at(b: &[u8], off: usize) -> i32 {
    b.get(off..off + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, i32::from_ne_bytes)
}

/// One line in libbpf-tools' format.
#[cfg(not(execsnoop_no_object))]
fn format_event(b: &[u8]) -> String {
    let pid = i32_at(b, 0);
    let ppid = i32_at(b, 4);
    let ret = i32_at(b, 12);
    let size = i32_at(b, 20).max(0) as usize;
    let comm = b.get(COMM_OFF..COMM_OFF + 16).unwrap_or_default();
    let comm =
        String::from_utf8_lossy(comm.split(|&c| c == 0).next().unwrap_or_default()).to_string();
    let args = b.get(ARGS_OFF..ARGS_OFF + size).unwrap_or_default();
    let args: Vec<String> = args
        .split(|&c| c == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).to_string())
        .collect();
    format!("{comm:<16} {pid:<6} {ppid:<6} {ret:3} {}", args.join(" "))
}

#[cfg(not(execsnoop_no_object))]
fn run(o: &Opts) -> bpfkit::Result<()> {
    use std::io::Write;
    let mut open = skel::open()?;
    if let Some(uid) = o.uid {
        open.rodata.targ_uid = uid;
    }
    open.rodata.failed_only = u8::from(o.failed_only);
    let sk = open.load()?;
    // The ring buffer is open before the programs attach, so no exec is missed.
    let mut ring = bpfkit::RingBuf::new(sk.maps()?.events)?;
    let _links = sk.attach()?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{:<16} {:<6} {:<6} {:>3} ARGS",
        "PCOMM", "PID", "PPID", "RET"
    );
    let _ = out.flush();
    let start = std::time::Instant::now();
    loop {
        ring.poll(Some(std::time::Duration::from_millis(100)), |b| {
            let _ = writeln!(out, "{}", format_event(b));
        })?;
        let _ = out.flush();
        if o.duration.is_some_and(|d| start.elapsed() >= d) {
            return Ok(());
        }
    }
}

#[cfg(execsnoop_no_object)]
fn run(_o: &Opts) -> bpfkit::Result<()> {
    Err(bpfkit::Error::InvalidArgument(format!(
        "built without {}: run scripts/build-fixtures, then rebuild",
        env!("EXECSNOOP_OBJECT")
    )))
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("execsnoop: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&opts) {
        eprintln!("execsnoop: {e}");
        std::process::exit(1);
    }
}
