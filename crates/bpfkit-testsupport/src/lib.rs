//! Fixtures shared by the kernel tests of the workspace (the library's, the command line's and
//! the examples'): a veth pair whose peer sits in a fresh network namespace, and a child cgroup
//! under the cgroup v2 root. Both are removed on drop, even when the test fails.
//!
//! A dev-dependency only (`publish = false`). It runs `ip`, `ping`, `bash` and `python3` as
//! commands and panics with the command's stderr when one fails: it is test code. It uses no
//! part of bpfkit, so every crate's tests can take it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Runs `cmd` with `args` and returns its output; panics if it cannot be started.
pub fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {cmd} {args:?}: {e}"))
}

/// Runs `cmd` and panics with its stderr unless it succeeds.
pub fn must(cmd: &str, args: &[&str]) {
    let out = run(cmd, args);
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A short tag unique in this machine for the life of the process: interface names have at
/// most 15 bytes.
fn short_tag() -> String {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{:x}{:x}", std::process::id() % 0xfffff, n)
}

/// `host` in this namespace (`10.A.B.1/30`), `peer` in namespace `ns` (`10.A.B.2/30`).
pub struct VethPair {
    /// The namespace holding the peer.
    pub ns: String,
    /// The end in the test's namespace, where programs attach.
    pub host: String,
    /// The end inside `ns`.
    pub peer: String,
    /// The host end's address.
    pub host_ip: String,
    /// The peer's address.
    pub peer_ip: String,
    /// The host end's ifindex.
    pub ifindex: u32,
}

// No `Default`: making one runs commands and changes the machine.
#[allow(clippy::new_without_default)]
impl VethPair {
    /// Creates the namespace and the pair, with addresses, both ends (and the namespace's `lo`)
    /// up.
    pub fn new() -> VethPair {
        let tag = short_tag();
        // A /30 per pair in 10.128.0.0/9, picked from the pid and a counter so that parallel
        // test processes do not share a subnet.
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let slot = (std::process::id()
            .wrapping_mul(2654435761)
            .wrapping_add(n.wrapping_mul(7919)))
            % (1 << 21);
        let (a, b, c) = (128 + (slot >> 14), (slot >> 6) & 0xff, (slot & 0x3f) << 2);
        let mut pair = VethPair {
            ns: format!("bpfkit_ns_{tag}"),
            host: format!("bk{tag}h"),
            peer: format!("bk{tag}p"),
            host_ip: format!("10.{a}.{b}.{}", c + 1),
            peer_ip: format!("10.{a}.{b}.{}", c + 2),
            ifindex: 0,
        };
        must("ip", &["netns", "add", &pair.ns]);
        // From here on, Drop cleans up whatever exists.
        must(
            "ip",
            &[
                "link", "add", &pair.host, "type", "veth", "peer", "name", &pair.peer, "netns",
                &pair.ns,
            ],
        );
        let host_cidr = format!("{}/30", pair.host_ip);
        must("ip", &["addr", "add", &host_cidr, "dev", &pair.host]);
        must("ip", &["link", "set", &pair.host, "up"]);
        let peer_cidr = format!("{}/30", pair.peer_ip);
        must(
            "ip",
            &["-n", &pair.ns, "addr", "add", &peer_cidr, "dev", &pair.peer],
        );
        must("ip", &["-n", &pair.ns, "link", "set", &pair.peer, "up"]);
        must("ip", &["-n", &pair.ns, "link", "set", "lo", "up"]);
        let idx = std::fs::read_to_string(format!("/sys/class/net/{}/ifindex", pair.host))
            .expect("reading the veth's ifindex");
        pair.ifindex = idx.trim().parse().expect("ifindex is a number");
        pair
    }

    /// Runs a command inside the namespace.
    pub fn ns_exec(&self, args: &[&str]) -> Output {
        let mut all = vec!["netns", "exec", &self.ns];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    /// Pings the host end from the peer `count` times; true when every ping was answered.
    pub fn ping_from_peer(&self, count: u32) -> bool {
        let c = count.to_string();
        self.ns_exec(&[
            "ping",
            "-n",
            "-q",
            "-c",
            &c,
            "-i",
            "0.2",
            "-W",
            "1",
            &self.host_ip,
        ])
        .status
        .success()
    }

    /// Runs a python3 snippet inside the namespace and returns its stdout.
    pub fn ns_python(&self, code: &str) -> String {
        let out = self.ns_exec(&["python3", "-c", code]);
        assert!(
            out.status.success(),
            "python3 in {} failed: {}",
            self.ns,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        let _ = run("ip", &["link", "del", &self.host]);
        let _ = run("ip", &["netns", "del", &self.ns]);
    }
}

/// Where cgroup v2 is mounted (from /proc/self/mounts).
pub fn cgroup2_root() -> PathBuf {
    let mounts = std::fs::read_to_string("/proc/self/mounts").expect("reading /proc/self/mounts");
    mounts
        .lines()
        .find_map(|l| {
            let mut f = l.split_whitespace();
            let (_, dir, ty) = (f.next()?, f.next()?, f.next()?);
            (ty == "cgroup2").then(|| PathBuf::from(dir))
        })
        .expect("no cgroup2 mount found in /proc/self/mounts")
}

/// A fresh child cgroup, removed on drop (after its processes exit).
pub struct ChildCgroup {
    path: PathBuf,
}

#[allow(clippy::new_without_default)]
impl ChildCgroup {
    /// Creates one under the cgroup v2 root.
    pub fn new() -> ChildCgroup {
        ChildCgroup::new_in(&cgroup2_root())
    }

    /// Creates one below `parent` (drop it before its parent).
    pub fn new_in(parent: &Path) -> ChildCgroup {
        let path = parent.join(format!("bpfkit_cg_{}", short_tag()));
        std::fs::create_dir(&path).expect("creating a child cgroup");
        ChildCgroup { path }
    }

    /// Its directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its directory as text, for command lines.
    pub fn path_str(&self) -> &str {
        self.path
            .to_str()
            .expect("cgroup paths made here are UTF-8")
    }

    /// Runs `script` with `bash -c` inside the cgroup: the shell moves itself in first.
    pub fn sh(&self, script: &str) -> Output {
        let full = format!("echo $$ > {}/cgroup.procs && {script}", self.path.display());
        run("bash", &["-c", &full])
    }
}

impl Drop for ChildCgroup {
    fn drop(&mut self) {
        // The shells have exited by now; rmdir may still race their teardown briefly.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.path).is_ok() || !self.path.exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}
