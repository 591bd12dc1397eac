//! Socket programs: a socket filter on a raw socket, sockmap with sk_msg and sk_skb
//! verdicts, sock_ops in a cgroup, sk_lookup and flow_dissector netns links, netfilter.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use bpfkit::cgroup::{AttachMode, Cgroup};
use bpfkit::netfilter::{self, Hook, NetfilterOptions};
use bpfkit::sk_lookup::NetNs;
use bpfkit::{socket, AttachType, Map, MapSpec, MapType, Program, ProgramSpec, ProgramType};
use bpfkit_insn::{AluOp, Builder, JmpOp, Reg, Size};
use common::assert_gone;
use common::net::{count_asm, counter_map, fd_of, load_asm, read_counter, ChildCgroup, VethPair};

/// Keeps IPv4 UDP datagrams to `port`, drops everything else (classic packet loads).
fn udp_port_filter(port: u16) -> Program {
    let mut b = Builder::new();
    b.mov64_reg(Reg::R6, Reg::R1)
        .ld_abs(Size::B, 9)
        .jmp_imm(JmpOp::Ne, Reg::R0, 17, "drop")
        .ld_abs(Size::B, 0)
        .alu64_imm(AluOp::And, Reg::R0, 0xf)
        .alu64_imm(AluOp::Lsh, Reg::R0, 2)
        .mov64_reg(Reg::R7, Reg::R0)
        .ld_ind(Size::H, Reg::R7, 2)
        .jmp_imm(JmpOp::Ne, Reg::R0, port as i32, "drop")
        .mov64_imm(Reg::R0, 0xffff)
        .exit()
        .label("drop")
        .mov64_imm(Reg::R0, 0)
        .exit();
    let insns = b.build().unwrap();
    Program::load(&ProgramSpec::new(
        "udp_port_only",
        ProgramType::SocketFilter,
        &insns,
    ))
    .unwrap()
}

fn raw_udp_socket() -> File {
    let fd = bpfkit_sys::sockopt::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_UDP).unwrap();
    bpfkit_sys::sockopt::set_recv_timeout(fd.as_fd(), Duration::from_millis(300)).unwrap();
    File::from(fd)
}

/// Every datagram payload carrying `marker` that reaches the raw socket before it is quiet.
fn payloads_with(sock: &mut File, marker: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let end = Instant::now() + Duration::from_secs(2);
    let mut buf = vec![0u8; 65536];
    while Instant::now() < end {
        match sock.read(&mut buf) {
            Ok(n) => {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                if let Some(at) = text.find(marker) {
                    seen.push(text[at..].to_string());
                }
            }
            Err(_) => break,
        }
    }
    seen
}

#[test]
fn socket_filter_lets_only_udp_to_one_port_through_a_raw_socket() {
    let allowed_sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let other_sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let allowed = allowed_sock.local_addr().unwrap().port();
    let other = other_sock.local_addr().unwrap().port();
    let prog = udp_port_filter(allowed);
    let pid = prog.id().unwrap();
    let mut filtered = raw_udp_socket();
    let mut control = raw_udp_socket();
    socket::attach_filter(&filtered, &prog).unwrap();
    drop(prog); // the socket holds it

    let marker = format!("bpfkit-{}-", std::process::id());
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.send_to(format!("{marker}other").as_bytes(), ("127.0.0.1", other))
        .unwrap();
    tx.send_to(
        format!("{marker}allowed").as_bytes(),
        ("127.0.0.1", allowed),
    )
    .unwrap();

    assert_eq!(
        payloads_with(&mut filtered, &marker),
        vec![format!("{marker}allowed")]
    );
    let mut all = payloads_with(&mut control, &marker);
    all.sort();
    assert_eq!(
        all,
        vec![format!("{marker}allowed"), format!("{marker}other")]
    );

    // Wrong type: one clear line.
    let xdp = load_asm("not_skf", ProgramType::Xdp, None, "r0 = 2\nexit\n");
    let err = socket::attach_filter(&control, &xdp)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "program `not_skf` is of type xdp, but SO_ATTACH_BPF needs a socket_filter program"
    );
    socket::detach_filter(&filtered).unwrap();
    let xid = xdp.id().unwrap();
    drop((filtered, control, xdp));
    assert_gone(&[pid, xid], &[], &[]);
}

fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

fn sockmap(name: &str) -> Map {
    Map::create(&MapSpec::new(MapType::Sockmap, 4, 4, 2).name(name)).unwrap()
}

#[test]
fn sockmap_sk_msg_verdict_sees_each_send() {
    // sk_msg verdicts attach to a sockmap through a link since Linux 6.10.
    require_feature!(KernelVersion(6, 10));
    let map = sockmap("msg_map");
    let cnt = counter_map("msg_cnt");
    let count = count_asm(fd_of(&cnt), "c");
    let prog = load_asm(
        "msg_pass",
        ProgramType::SkMsg,
        Some(AttachType::SkMsgVerdict),
        &format!("{count}r0 = 1\nexit\n"),
    );
    let ids = (
        prog.id().unwrap(),
        map.info().unwrap().id,
        cnt.info().unwrap().id,
    );
    let link = socket::link_sockmap(&map, &prog, AttachType::SkMsgVerdict).unwrap();
    let link_id = link.id().unwrap();
    let (mut client, mut server) = tcp_pair();
    socket::sockmap_insert(&map, &0u32.to_ne_bytes(), client.as_fd()).unwrap();
    for i in 0..3 {
        client.write_all(format!("m{i}").as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    server
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut got = [0u8; 6];
    server.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"m0m1m2");
    assert_eq!(read_counter(&cnt), 3);

    let xdp = load_asm("not_msg", ProgramType::Xdp, None, "r0 = 2\nexit\n");
    assert!(socket::link_sockmap(&map, &xdp, AttachType::SkMsgVerdict).is_err());
    assert!(socket::link_sockmap(&cnt, &prog, AttachType::SkMsgVerdict)
        .unwrap_err()
        .to_string()
        .contains("is not a sockmap or sockhash"));
    let xid = xdp.id().unwrap();
    drop((link, prog, xdp, client, server, map, cnt));
    assert_gone(&[ids.0, xid], &[ids.1, ids.2], &[link_id]);
}

#[test]
fn sockmap_sk_skb_verdict_drops_received_data() {
    let map = Map::create(&MapSpec::new(MapType::Sockhash, 4, 4, 2).name("skb_hash")).unwrap();
    let cnt = counter_map("skb_cnt");
    let count = count_asm(fd_of(&cnt), "c");
    let prog = load_asm(
        "skb_drop",
        ProgramType::SkSkb,
        Some(AttachType::SkSkbVerdict),
        &format!("{count}r0 = 0\nexit\n"),
    );
    let ids = (
        prog.id().unwrap(),
        map.info().unwrap().id,
        cnt.info().unwrap().id,
    );
    let link = socket::attach_sockmap(&map, &prog, AttachType::SkSkbVerdict).unwrap();
    let (mut client, mut server) = tcp_pair();
    socket::sockmap_insert(&map, &7u32.to_ne_bytes(), server.as_fd()).unwrap();
    client.write_all(b"dropped").unwrap();
    server
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert!(
        server.read(&mut buf).is_err(),
        "the verdict dropped the data"
    );
    assert!(read_counter(&cnt) >= 1);
    drop((link, prog, client, server, map, cnt));
    assert_gone(&[ids.0], &[ids.1, ids.2], &[]);
}

#[test]
fn sock_ops_in_a_cgroup_sees_only_connections_from_inside() {
    let child = ChildCgroup::new();
    let cg = Cgroup::open(child.path()).unwrap();
    let cnt = counter_map("sockops_cnt");
    let count = count_asm(fd_of(&cnt), "c");
    let prog = load_asm(
        "sockops_count",
        ProgramType::SockOps,
        None,
        &format!("{count}r0 = 1\nexit\n"),
    );
    let ids = (prog.id().unwrap(), cnt.info().unwrap().id);
    let link = cg
        .attach(&prog, AttachType::CgroupSockOps, AttachMode::Multi)
        .unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(TcpStream::connect(("127.0.0.1", port)).unwrap());
    let _ = l.accept().unwrap();
    assert_eq!(
        read_counter(&cnt),
        0,
        "a connection from outside is not seen"
    );
    let out = child.sh(&format!("exec 3<>/dev/tcp/127.0.0.1/{port} && echo ok"));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    let _ = l.accept().unwrap();
    assert!(
        read_counter(&cnt) >= 1,
        "sock_ops ran for the connection from inside"
    );
    drop((link, prog, cnt));
    assert_gone(&[ids.0], &[ids.1], &[]);
}

#[test]
fn sk_lookup_steers_a_port_to_a_listener_on_another() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let fake = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let map = sockmap("lookup_map");
    socket::sockmap_insert(&map, &0u32.to_ne_bytes(), listener.as_fd()).unwrap();
    let prog = load_asm(
        "steer_port",
        ProgramType::SkLookup,
        Some(AttachType::SkLookup),
        &format!(
            "r6 = r1\n\
             r2 = *(u32 *)(r6 +12)\n\
             if r2 != 0x6 goto out\n\
             r2 = *(u32 *)(r6 +60)\n\
             if r2 != {fake} goto out\n\
             *(u32 *)(r10 -4) = 0\n\
             r1 = map[fd:{m}]\n\
             r2 = r10\n\
             r2 += -4\n\
             call map_lookup_elem\n\
             if r0 == 0x0 goto out\n\
             r7 = r0\n\
             r1 = r6\n\
             r2 = r7\n\
             r3 = 0\n\
             call sk_assign\n\
             r1 = r7\n\
             call sk_release\n\
             out:\n\
             r0 = 1\n\
             exit\n",
            m = fd_of(&map)
        ),
    );
    let ids = (prog.id().unwrap(), map.info().unwrap().id);
    assert!(TcpStream::connect(("127.0.0.1", fake)).is_err());
    let ns = NetNs::current().unwrap();
    let link = ns.attach_sk_lookup(&prog).unwrap();
    let link_id = link.id().unwrap();
    assert!(ns.query(AttachType::SkLookup).unwrap().contains(&ids.0));
    let c = TcpStream::connect(("127.0.0.1", fake)).unwrap();
    let (_s, peer) = listener.accept().unwrap();
    assert_eq!(peer, c.local_addr().unwrap());
    drop(link);
    assert!(TcpStream::connect(("127.0.0.1", fake)).is_err());
    drop((prog, map, c));
    assert_gone(&[ids.0], &[ids.1], &[link_id]);
}

#[test]
fn flow_dissector_netns_link_is_one_per_namespace() {
    let pair = VethPair::new();
    let ns = NetNs::named(&pair.ns).unwrap();
    let p1 = load_asm("fd_ok", ProgramType::FlowDissector, None, "r0 = 0\nexit\n");
    let p2 = load_asm("fd_ok2", ProgramType::FlowDissector, None, "r0 = 0\nexit\n");
    let ids = [p1.id().unwrap(), p2.id().unwrap()];
    let link = ns.attach_flow_dissector(&p1).unwrap();
    let link_id = link.id().unwrap();
    assert_eq!(ns.query(AttachType::FlowDissector).unwrap(), vec![ids[0]]);
    assert!(ns.attach_flow_dissector(&p2).is_err());
    assert_eq!(ns.query(AttachType::FlowDissector).unwrap(), vec![ids[0]]);
    drop(link);
    assert!(ns.query(AttachType::FlowDissector).unwrap().is_empty());
    drop((p1, p2));
    assert_gone(&ids, &[], &[link_id]);
}

#[test]
fn netfilter_link_runs_at_local_in() {
    // netfilter programs and links arrived in Linux 6.4.
    require_feature!(KernelVersion(6, 4));
    let cnt = counter_map("nf_cnt");
    let count = count_asm(fd_of(&cnt), "c");
    let prog = load_asm(
        "nf_count",
        ProgramType::Netfilter,
        Some(AttachType::Netfilter),
        &format!("{count}r0 = 1\nexit\n"),
    );
    let ids = (prog.id().unwrap(), cnt.info().unwrap().id);
    let opts = NetfilterOptions {
        pf: netfilter::NFPROTO_IPV4,
        hook: Hook::LocalIn,
        priority: -77,
        flags: 0,
    };
    let link = netfilter::attach(&prog, &opts).unwrap();
    let link_id = link.id().unwrap();
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(b"x", rx.local_addr().unwrap())
        .unwrap();
    let mut b = [0u8; 4];
    rx.recv(&mut b).unwrap();
    assert!(
        read_counter(&cnt) >= 1,
        "the hook saw the datagram and accepted it"
    );
    let err = netfilter::attach(&prog, &NetfilterOptions { pf: 99, ..opts })
        .unwrap_err()
        .to_string();
    assert!(err.contains("NFPROTO_IPV4"), "{err}");
    drop(link);
    let before = read_counter(&cnt);
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(b"y", rx.local_addr().unwrap())
        .unwrap();
    rx.recv(&mut b).unwrap();
    // Other traffic on the host cannot reach a detached hook either.
    assert_eq!(read_counter(&cnt), before);
    drop((prog, cnt));
    assert_gone(&[ids.0], &[ids.1], &[link_id]);
}

#[test]
fn sockmap_stream_parser_and_verdict_pass_data_through() {
    let map = sockmap("strp_map");
    let cnt = counter_map("strp_cnt");
    let count = count_asm(fd_of(&cnt), "c");
    // The parser says each message is the whole skb (`len` is the first __sk_buff field).
    let parser = load_asm(
        "strp_parse",
        ProgramType::SkSkb,
        Some(AttachType::SkSkbStreamParser),
        "r0 = *(u32 *)(r1 +0)\nexit\n",
    );
    let verdict = load_asm(
        "strp_pass",
        ProgramType::SkSkb,
        Some(AttachType::SkSkbStreamVerdict),
        &format!("{count}r0 = 1\nexit\n"),
    );
    let ids = [parser.id().unwrap(), verdict.id().unwrap()];
    let maps = [map.info().unwrap().id, cnt.info().unwrap().id];
    let l1 = socket::attach_sockmap(&map, &parser, AttachType::SkSkbStreamParser).unwrap();
    let l2 = socket::attach_sockmap(&map, &verdict, AttachType::SkSkbStreamVerdict).unwrap();
    let (mut client, mut server) = tcp_pair();
    socket::sockmap_insert(&map, &1u32.to_ne_bytes(), server.as_fd()).unwrap();
    client.write_all(b"through the parser").unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut got = [0u8; 18];
    server.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"through the parser");
    assert!(read_counter(&cnt) >= 1, "the verdict ran");
    drop((l1, l2, parser, verdict, client, server, map, cnt));
    assert_gone(&ids, &maps, &[]);
}
