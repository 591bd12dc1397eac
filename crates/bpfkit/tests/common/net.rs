//! Network and cgroup fixtures of the kernel tests: a veth pair whose peer lives in a fresh
//! network namespace, and a child cgroup; both removed on drop, even when the test fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use bpfkit::{Program, ProgramSpec, ProgramType};

static NEXT: AtomicU32 = AtomicU32::new(0);

fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {cmd} {args:?}: {e}"))
}

fn must(cmd: &str, args: &[&str]) {
    let out = run(cmd, args);
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A short unique tag: interface names have at most 15 bytes.
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

impl VethPair {
    /// Creates the namespace and the pair, with addresses, both ends up.
    pub fn new() -> VethPair {
        let tag = short_tag();
        // A /30 per pair in 10.128.0.0/9, picked from the pid and a counter so parallel
        // test processes do not share a subnet.
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let slot = (std::process::id()
            .wrapping_mul(2654435761)
            .wrapping_add(n * 7919))
            % (1 << 21);
        let a = 128 + (slot >> 14);
        let b = (slot >> 6) & 0xff;
        let c = (slot & 0x3f) << 2;
        let pair = VethPair {
            ns: format!("bpfkit_ns_{tag}"),
            host: format!("bk{tag}h"),
            peer: format!("bk{tag}p"),
            host_ip: format!("10.{a}.{b}.{}", c + 1),
            peer_ip: format!("10.{a}.{b}.{}", c + 2),
            ifindex: 0,
        };
        must("ip", &["netns", "add", &pair.ns]);
        // From here on, Drop cleans up whatever exists.
        let mut pair = pair;
        must(
            "ip",
            &[
                "link", "add", &pair.host, "type", "veth", "peer", "name", &pair.peer, "netns",
                &pair.ns,
            ],
        );
        must(
            "ip",
            &[
                "addr",
                "add",
                &format!("{}/30", pair.host_ip),
                "dev",
                &pair.host,
            ],
        );
        must("ip", &["link", "set", &pair.host, "up"]);
        must(
            "ip",
            &[
                "-n",
                &pair.ns,
                "addr",
                "add",
                &format!("{}/30", pair.peer_ip),
                "dev",
                &pair.peer,
            ],
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

/// A fresh child cgroup under the cgroup v2 root, removed on drop (after its processes exit).
pub struct ChildCgroup {
    path: PathBuf,
}

impl ChildCgroup {
    /// Creates it.
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

/// Assembles and loads a program from bpftool-style assembly text.
pub fn load_asm(
    name: &str,
    ty: ProgramType,
    attach: Option<bpfkit::AttachType>,
    text: &str,
) -> Program {
    let insns = bpfkit_insn::asm::assemble(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut spec = ProgramSpec::new(name, ty, &insns).license("GPL");
    if let Some(a) = attach {
        spec = spec.expected_attach_type(a);
    }
    Program::load(&spec).unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

/// A one-slot u64 array used as a counter.
pub fn counter_map(name: &str) -> bpfkit::Map {
    bpfkit::Map::create(&bpfkit::MapSpec::new(bpfkit::MapType::Array, 4, 8, 1).name(name))
        .expect("creating a counter map")
}

/// Reads the counter of [`counter_map`].
pub fn read_counter(map: &bpfkit::Map) -> u64 {
    let v = map
        .lookup(&0u32.to_ne_bytes())
        .expect("reading the counter")
        .expect("slot 0 exists");
    u64::from_ne_bytes(v[..8].try_into().expect("8-byte value"))
}

/// Instructions that add 1 to slot 0 of the counter map with fd `fd`; uses r1–r5, r0 and
/// the stack slot at fp-4. Labels get `tag` so several can sit in one program.
pub fn count_asm(fd: i32, tag: &str) -> String {
    format!(
        "*(u32 *)(r10 -4) = 0\n\
         r1 = map[fd:{fd}]\n\
         r2 = r10\n\
         r2 += -4\n\
         call map_lookup_elem\n\
         if r0 == 0x0 goto skip_{tag}\n\
         r1 = 1\n\
         lock *(u64 *)(r0 +0) += r1\n\
         skip_{tag}:\n"
    )
}

/// A map's raw fd, for `map[fd:N]` in assembly text.
pub fn fd_of(map: &bpfkit::Map) -> i32 {
    use std::os::fd::AsRawFd;
    map.fd().as_raw_fd()
}
