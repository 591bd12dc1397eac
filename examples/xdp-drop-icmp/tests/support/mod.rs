//! Shared by the example tests: a veth pair whose peer sits in a fresh network namespace,
//! removed on drop.

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

pub fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {cmd}: {e}"))
}

fn must(cmd: &str, args: &[&str]) {
    let o = run(cmd, args);
    assert!(
        o.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

pub struct Veth {
    pub ns: String,
    pub host: String,
    pub host_ip: String,
    pub peer_ip: String,
}

impl Veth {
    pub fn new(salt: u32) -> Veth {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{:x}{n:x}", std::process::id() % 0xfffff);
        let slot = (std::process::id()
            .wrapping_mul(2654435761)
            .wrapping_add(n * 7919 + salt))
            % (1 << 21);
        let (a, b, c) = (128 + (slot >> 14), (slot >> 6) & 0xff, (slot & 0x3f) << 2);
        let v = Veth {
            ns: format!("bpfkit_ex_{tag}"),
            host: format!("bx{tag}h"),
            host_ip: format!("10.{a}.{b}.{}", c + 1),
            peer_ip: format!("10.{a}.{b}.{}", c + 2),
        };
        let peer = format!("bx{tag}p");
        must("ip", &["netns", "add", &v.ns]);
        must(
            "ip",
            &[
                "link", "add", &v.host, "type", "veth", "peer", "name", &peer, "netns", &v.ns,
            ],
        );
        must(
            "ip",
            &["addr", "add", &format!("{}/30", v.host_ip), "dev", &v.host],
        );
        must("ip", &["link", "set", &v.host, "up"]);
        must(
            "ip",
            &[
                "-n",
                &v.ns,
                "addr",
                "add",
                &format!("{}/30", v.peer_ip),
                "dev",
                &peer,
            ],
        );
        must("ip", &["-n", &v.ns, "link", "set", &peer, "up"]);
        v
    }

    /// Pings the host end from the peer; true when all `count` pings were answered.
    pub fn ping_from_peer(&self, count: u32) -> bool {
        let c = count.to_string();
        run(
            "ip",
            &[
                "netns",
                "exec",
                &self.ns,
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
            ],
        )
        .status
        .success()
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = run("ip", &["link", "del", &self.host]);
        let _ = run("ip", &["netns", "del", &self.ns]);
    }
}
