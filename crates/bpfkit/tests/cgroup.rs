//! cgroup programs on fresh child cgroups: cgroup_skb egress, device, connect4 rewriting,
//! attach modes (exclusive, override, multi, replace), links, queries, and every hook.

mod common;

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use bpfkit::cgroup::{self, AttachMode, Cgroup};
use bpfkit::{AttachType, Program, ProgramType};
use common::assert_gone;
use common::net::{load_asm, ChildCgroup};

fn prog(name: &str, at: AttachType, text: &str) -> Program {
    let ty = cgroup::program_type_for(at).expect("a cgroup hook");
    load_asm(name, ty, Some(at), text)
}

#[test]
fn cgroup_skb_egress_stops_only_processes_inside() {
    let child = ChildCgroup::new();
    let cg = Cgroup::open(child.path()).unwrap();
    let deny = prog("skb_deny", AttachType::CgroupInetEgress, "r0 = 0\nexit\n");
    let pid = deny.id().unwrap();
    let ping = "exec ping -n -q -c 1 -W 1 127.0.0.1";
    assert!(child.sh(ping).status.success(), "ping inside works before");
    let link = cg
        .attach(&deny, AttachType::CgroupInetEgress, AttachMode::Exclusive)
        .unwrap();
    let inside = child.sh(ping);
    assert!(!inside.status.success(), "ping inside the cgroup must fail");
    let outside = std::process::Command::new("ping")
        .args(["-n", "-q", "-c", "1", "-W", "1", "127.0.0.1"])
        .output()
        .unwrap();
    assert!(outside.status.success(), "ping outside is unaffected");
    drop(link);
    assert!(cg
        .query(AttachType::CgroupInetEgress, false)
        .unwrap()
        .is_empty());
    assert!(
        child.sh(ping).status.success(),
        "ping inside works after detach"
    );
    drop(deny);
    assert_gone(&[pid], &[], &[]);
}

#[test]
fn cgroup_device_denies_dev_null_inside_only() {
    let child = ChildCgroup::new();
    let cg = Cgroup::open(child.path()).unwrap();
    // access_type low 16 bits: BPF_DEVCG_DEV_CHAR = 2; /dev/null is 1:3.
    let deny_null = prog(
        "dev_deny_null",
        AttachType::CgroupDevice,
        "r2 = *(u32 *)(r1 +0)\n\
         r2 &= 0xffff\n\
         if r2 != 0x2 goto allow\n\
         r2 = *(u32 *)(r1 +4)\n\
         if r2 != 0x1 goto allow\n\
         r2 = *(u32 *)(r1 +8)\n\
         if r2 != 0x3 goto allow\n\
         r0 = 0\n\
         exit\n\
         allow:\n\
         r0 = 1\n\
         exit\n",
    );
    let pid = deny_null.id().unwrap();
    let link = cg.link(&deny_null, AttachType::CgroupDevice).unwrap();
    let link_id = link.id().unwrap();
    let inside = child.sh("exec cat /dev/null");
    assert!(!inside.status.success());
    assert!(
        String::from_utf8_lossy(&inside.stderr).contains("Operation not permitted"),
        "{}",
        String::from_utf8_lossy(&inside.stderr)
    );
    // Other devices stay allowed inside; /dev/null stays allowed outside.
    assert!(child
        .sh("exec cat /dev/zero | head -c 1 >/dev/stderr; exit 0")
        .status
        .success());
    assert!(std::fs::File::open("/dev/null").is_ok());
    drop(link);
    assert!(child.sh("exec cat /dev/null").status.success());
    drop(deny_null);
    assert_gone(&[pid], &[], &[link_id]);
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn connect4_program_rewrites_the_destination_port() {
    let child = ChildCgroup::new();
    let cg = Cgroup::open(child.path()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let real = listener.local_addr().unwrap().port();
    let fake = free_port();
    let p = prog(
        "connect4_port",
        AttachType::CgroupInet4Connect,
        &format!(
            "r2 = *(u32 *)(r1 +24)\n\
             if r2 != {fake} goto out\n\
             r2 = {real}\n\
             *(u32 *)(r1 +24) = r2\n\
             out:\n\
             r0 = 1\n\
             exit\n",
            fake = fake.to_be(),
            real = real.to_be()
        ),
    );
    let pid = p.id().unwrap();
    let link = cg.link(&p, AttachType::CgroupInet4Connect).unwrap();
    let link_id = link.id().unwrap();

    // Outside the cgroup the fake port has no listener.
    assert!(TcpStream::connect(("127.0.0.1", fake)).is_err());

    listener.set_nonblocking(true).unwrap();
    let out = child.sh(&format!(
        "exec 3<>/dev/tcp/127.0.0.1/{fake} && echo connected"
    ));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "connected",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let start = Instant::now();
    let accepted = loop {
        match listener.accept() {
            Ok(_) => break true,
            Err(_) if start.elapsed() < Duration::from_secs(3) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(_) => break false,
        }
    };
    assert!(accepted, "the listener on the real port got the connection");
    drop(link);
    drop(p);
    assert_gone(&[pid], &[], &[link_id]);
}

#[test]
fn attach_modes_exclusive_override_multi_and_replace() {
    let parent = ChildCgroup::new();
    let kid = ChildCgroup::new_in(parent.path());
    let cp = Cgroup::open(parent.path()).unwrap();
    let ck = Cgroup::open(kid.path()).unwrap();
    let at = AttachType::CgroupInetEgress;
    let ps: Vec<Program> = (0..3)
        .map(|i| prog(&format!("skb_ok{i}"), at, "r0 = 1\nexit\n"))
        .collect();
    let ids: Vec<u32> = ps.iter().map(|p| p.id().unwrap()).collect();

    // Exclusive: a second exclusive attach takes the first one's place (kernel semantics);
    // a multi attach is refused with one line and leaves it be.
    cp.attach_persistent(&ps[0], at, AttachMode::Exclusive, None)
        .unwrap();
    cp.attach_persistent(&ps[1], at, AttachMode::Exclusive, None)
        .unwrap();
    let q = cp.query(at, false).unwrap();
    assert_eq!(
        q.iter().map(|p| p.prog_id).collect::<Vec<_>>(),
        vec![ids[1]]
    );
    let err = cp
        .attach_persistent(&ps[0], at, AttachMode::Multi, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("already has a program on cgroup_inet_egress"),
        "{err}"
    );
    assert!(!err.contains('\n'));
    let q = cp.query(at, false).unwrap();
    assert_eq!(
        q.iter().map(|p| p.prog_id).collect::<Vec<_>>(),
        vec![ids[1]]
    );
    // The child of an exclusive parent cannot attach.
    assert!(ck
        .attach_persistent(&ps[2], at, AttachMode::Override, None)
        .is_err());
    cp.detach(ps[1].fd(), at).unwrap();

    // Override: the child may attach its own program, which then runs instead.
    cp.attach_persistent(&ps[0], at, AttachMode::Override, None)
        .unwrap();
    ck.attach_persistent(&ps[1], at, AttachMode::Override, None)
        .unwrap();
    assert_eq!(cp.query(at, false).unwrap()[0].attach_flags, 1);
    let eff: Vec<u32> = ck
        .query(at, true)
        .unwrap()
        .iter()
        .map(|p| p.prog_id)
        .collect();
    assert_eq!(eff, vec![ids[1]]);
    ck.detach(ps[1].fd(), at).unwrap();
    cp.detach(ps[0].fd(), at).unwrap();

    // Multi: both run, and the child's effective list adds the parent's.
    cp.attach_persistent(&ps[0], at, AttachMode::Multi, None)
        .unwrap();
    cp.attach_persistent(&ps[1], at, AttachMode::Multi, None)
        .unwrap();
    let q = cp.query(at, false).unwrap();
    assert_eq!(
        q.iter().map(|p| p.prog_id).collect::<Vec<_>>(),
        vec![ids[0], ids[1]]
    );
    assert!(q
        .iter()
        .all(|p| AttachMode::flag_name(p.attach_flags) == "multi"));
    let link = ck.link(&ps[2], at).unwrap();
    let link_id = link.id().unwrap();
    let eff: Vec<u32> = ck
        .query(at, true)
        .unwrap()
        .iter()
        .map(|p| p.prog_id)
        .collect();
    assert_eq!(eff, vec![ids[2], ids[0], ids[1]]);

    // Replace puts a program in another's place.
    cp.attach_persistent(&ps[2], at, AttachMode::Multi, Some(&ps[0]))
        .unwrap();
    let q = cp.query(at, false).unwrap();
    assert_eq!(
        q.iter().map(|p| p.prog_id).collect::<Vec<_>>(),
        vec![ids[2], ids[1]]
    );

    // Detaching what is not attached is one clear line.
    let err = cp.detach(ps[0].fd(), at).unwrap_err().to_string();
    assert!(err.contains("is not attached"), "{err}");
    // A program of the wrong type is refused before the kernel sees it.
    let xdp = load_asm("not_cg", ProgramType::Xdp, None, "r0 = 2\nexit\n");
    let err = cp
        .attach_persistent(&xdp, at, AttachMode::Multi, None)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "program `not_cg` is of type xdp, but cgroup hook cgroup_inet_egress needs a cgroup_skb program"
    );
    cp.detach(ps[2].fd(), at).unwrap();
    cp.detach(ps[1].fd(), at).unwrap();
    assert!(cp.query_all(false).unwrap().is_empty());
    let xid = xdp.id().unwrap();
    drop((link, ps, xdp));
    assert_gone(&[ids[0], ids[1], ids[2], xid], &[], &[link_id]);
}

#[test]
fn every_listed_cgroup_hook_takes_prog_attach_and_links() {
    let child = ChildCgroup::new();
    let cg = Cgroup::open(child.path()).unwrap();
    let hooks = [
        "ingress",
        "egress",
        "sock_create",
        "sock_release",
        "post_bind4",
        "post_bind6",
        "bind4",
        "bind6",
        "connect4",
        "connect6",
        "sendmsg4",
        "sendmsg6",
        "recvmsg4",
        "recvmsg6",
        "getsockopt",
        "setsockopt",
        "sysctl",
        "device",
        "sock_ops",
    ];
    let mut gone = Vec::new();
    let mut links = Vec::new();
    for name in hooks {
        let at = cgroup::parse_attach_type(name).unwrap();
        let p = prog(&format!("cg_{name}"), at, "r0 = 1\nexit\n");
        let id = p.id().unwrap();
        cg.attach_persistent(&p, at, AttachMode::Multi, None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let q = cg.query(at, false).unwrap();
        assert_eq!(
            q.iter().map(|c| c.prog_id).collect::<Vec<_>>(),
            vec![id],
            "{name}"
        );
        cg.detach(p.fd(), at).unwrap();
        let link = cg.link(&p, at).unwrap_or_else(|e| panic!("{name}: {e}"));
        links.push(link.id().unwrap());
        let all = cg.query_all(false).unwrap();
        assert!(
            all.iter().any(|c| c.prog_id == id && c.attach_type == at),
            "{name}"
        );
        drop(link);
        assert!(cg.query(at, false).unwrap().is_empty(), "{name}");
        gone.push(id);
    }
    assert_gone(&gone, &[], &links);
}
