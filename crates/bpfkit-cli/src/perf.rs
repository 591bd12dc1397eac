//! `bpfkit perf show|list`: which process holds which program on which tracepoint, raw
//! tracepoint, kprobe or uprobe, found by asking `BPF_TASK_FD_QUERY` about every fd of every
//! process that is a perf event or a bpf link.

use crate::output::{fail, print_json, J};
use crate::target::{self, Args};
use crate::{CliError, Global};

/// One attachment.
struct Entry {
    pid: u32,
    fd: u32,
    q: bpfkit_sys::link::TaskFd,
}

/// `bpfkit perf …`.
pub fn run(g: &Global, words: Vec<String>) -> Result<(), CliError> {
    let mut args = Args::new(words);
    let verb = args.next().unwrap_or_else(|| "show".to_string());
    if target::is_prefix(&verb, "help") {
        println!("Usage: bpfkit perf {{ show | list }}\n       bpfkit perf help");
        return Ok(());
    }
    if !(target::is_prefix(&verb, "show") || target::is_prefix(&verb, "list")) {
        return Err(crate::output::usage(format!(
            "unknown perf command '{verb}'\nUsage: bpfkit perf {{ show | list }}"
        )));
    }
    args.finish()?;
    let entries = scan()?;
    if g.json() {
        let items = entries.iter().map(entry_json).collect();
        print_json(g, &J::Arr(items));
    } else {
        let text: String = entries.iter().map(|e| entry_text(e) + "\n").collect();
        crate::emit(&text)?;
    }
    Ok(())
}

fn scan() -> Result<Vec<Entry>, CliError> {
    let me = std::process::id();
    let procs = std::fs::read_dir("/proc").map_err(|e| fail(format!("can't open /proc: {e}")))?;
    let mut pids: Vec<u32> = procs
        .flatten()
        .filter_map(|p| p.file_name().to_str().and_then(|s| s.parse().ok()))
        .filter(|&p| p != me)
        .collect();
    pids.sort_unstable();
    let mut out = Vec::new();
    for pid in pids {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        let mut list: Vec<(u32, String)> = Vec::new();
        for f in fds.flatten() {
            let Some(n) = f.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            match std::fs::read_link(f.path()) {
                Ok(t) => list.push((n, t.to_string_lossy().into_owned())),
                // A process this one may not inspect: skip it whole.
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => break,
                Err(_) => {}
            }
        }
        list.sort_unstable();
        for (fd, target) in list {
            // Only these fds can carry an attachment the query reports.
            if target != "anon_inode:[perf_event]" && target != "anon_inode:bpf_link" {
                continue;
            }
            if let Ok(q) = bpfkit_sys::link::task_fd_query(pid, fd) {
                out.push(Entry { pid, fd, q });
            }
        }
    }
    Ok(out)
}

fn fd_type_name(t: u32) -> &'static str {
    match t {
        0 => "raw_tracepoint",
        1 => "tracepoint",
        2 => "kprobe",
        3 => "kretprobe",
        4 => "uprobe",
        5 => "uretprobe",
        _ => "unknown",
    }
}

fn entry_json(e: &Entry) -> J {
    let mut o = J::obj();
    o.push("pid", J::U(e.pid.into()))
        .push("fd", J::U(e.fd.into()))
        .push("prog_id", J::U(e.q.prog_id.into()))
        .push("fd_type", J::s(fd_type_name(e.q.fd_type)));
    match e.q.fd_type {
        0 | 1 => {
            o.push("tracepoint", J::s(e.q.name.clone()));
        }
        2 | 3 => {
            if e.q.name.is_empty() {
                o.push("addr", J::U(e.q.probe_addr));
            } else {
                o.push("func", J::s(e.q.name.clone()))
                    .push("offset", J::U(e.q.probe_offset));
            }
        }
        4 | 5 => {
            o.push("filename", J::s(e.q.name.clone()))
                .push("offset", J::U(e.q.probe_offset));
        }
        _ => {}
    }
    o
}

fn entry_text(e: &Entry) -> String {
    let mut s = format!(
        "pid {}  fd {}: prog_id {}  {}  ",
        e.pid,
        e.fd,
        e.q.prog_id,
        fd_type_name(e.q.fd_type)
    );
    match e.q.fd_type {
        0 | 1 => s.push_str(&e.q.name),
        2 | 3 => {
            if e.q.name.is_empty() {
                s.push_str(&format!("addr {:x}", e.q.probe_addr));
            } else {
                s.push_str(&format!("func {}  offset {}", e.q.name, e.q.probe_offset));
            }
        }
        4 | 5 => s.push_str(&format!(
            "filename {}  offset {}",
            e.q.name, e.q.probe_offset
        )),
        _ => {}
    }
    s
}
