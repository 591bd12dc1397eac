//! XDP on veth pairs across network namespaces: drop ICMP (generic and native, link and
//! netlink), attach semantics (if-noexist, replace, wrong type, missing interface), XDP_TX
//! and XDP_REDIRECT through a devmap.

mod common;

use bpfkit::xdp::{self, NetlinkAttach, XdpMode};
use bpfkit::{Map, MapSpec, MapType, Program, ProgramType};
use common::assert_gone;
use common::net::{count_asm, counter_map, fd_of, load_asm, read_counter, VethPair};

/// Drops IPv4 ICMP and counts each drop; passes everything else.
fn drop_icmp(map: &Map) -> Program {
    let count = count_asm(fd_of(map), "c");
    load_asm(
        "xdp_drop_icmp",
        ProgramType::Xdp,
        None,
        &format!(
            "r6 = r1\n\
             r2 = *(u32 *)(r6 +0)\n\
             r3 = *(u32 *)(r6 +4)\n\
             r4 = r2\n\
             r4 += 34\n\
             if r4 > r3 goto pass\n\
             r5 = *(u16 *)(r2 +12)\n\
             if r5 != 0x8 goto pass\n\
             r5 = *(u8 *)(r2 +23)\n\
             if r5 != 0x1 goto pass\n\
             {count}\
             r0 = 1\n\
             exit\n\
             pass:\n\
             r0 = 2\n\
             exit\n"
        ),
    )
}

/// The prologue shared by the UDP programs: jumps to `pass` unless the packet is IPv4
/// (no options) UDP to `port`; leaves the packet start in r2.
fn match_udp(port: u16) -> String {
    format!(
        "r6 = r1\n\
         r2 = *(u32 *)(r6 +0)\n\
         r3 = *(u32 *)(r6 +4)\n\
         r4 = r2\n\
         r4 += 42\n\
         if r4 > r3 goto pass\n\
         r5 = *(u16 *)(r2 +12)\n\
         if r5 != 0x8 goto pass\n\
         r5 = *(u8 *)(r2 +14)\n\
         if r5 != 0x45 goto pass\n\
         r5 = *(u8 *)(r2 +23)\n\
         if r5 != 0x11 goto pass\n\
         r5 = *(u16 *)(r2 +36)\n\
         if r5 != {} goto pass\n",
        u16::from_ne_bytes(port.to_be_bytes())
    )
}

fn ids(p: &Program, maps: &[&Map]) -> (u32, Vec<u32>) {
    (
        p.id().unwrap(),
        maps.iter().map(|m| m.info().unwrap().id).collect(),
    )
}

/// Waits until nothing is attached to `ifindex`. Closing our link fd detaches at once unless
/// another process (a parallel test listing links by id, bpftool) holds a reference to the
/// link for a moment, so allow it a short while.
fn assert_detached(ifindex: u32) {
    let start = std::time::Instant::now();
    while !xdp::query(ifindex).unwrap().attached().is_empty() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(3),
            "XDP program still attached 3 s after its link was dropped"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

fn drop_test(mode: XdpMode) {
    let pair = VethPair::new();
    assert!(
        pair.ping_from_peer(1),
        "ping must work before XDP is attached"
    );
    let map = counter_map("xdp_cnt");
    let prog = drop_icmp(&map);
    let (pid, mids) = ids(&prog, &[&map]);

    let link = xdp::attach(&prog, pair.ifindex, Some(mode)).unwrap();
    let link_id = link.id().unwrap();
    let q = xdp::query(pair.ifindex).unwrap();
    assert_eq!(
        q.attached(),
        vec![(mode, pid)],
        "query must report the program"
    );

    assert!(
        !pair.ping_from_peer(3),
        "ping must fail while XDP drops ICMP"
    );
    assert_eq!(read_counter(&map), 3, "three echo requests were dropped");

    drop(link);
    assert_detached(pair.ifindex);
    assert!(pair.ping_from_peer(1), "ping must work again after detach");
    drop(prog);
    drop(map);
    assert_gone(&[pid], &mids, &[link_id]);
}

#[test]
fn generic_xdp_link_drops_icmp_from_peer() {
    drop_test(XdpMode::Generic);
}

/// veth runs native XDP on receive without anything on the peer; only XDP_TX/REDIRECT *into*
/// a veth need the peer to have an XDP program (or GRO) so its NAPI is running.
#[test]
fn native_xdp_link_drops_icmp_from_peer() {
    drop_test(XdpMode::Driver);
}

#[test]
fn netlink_attach_if_noexist_replace_and_detach() {
    let pair = VethPair::new();
    let map = counter_map("xdp_cnt_nl");
    let first = drop_icmp(&map);
    let second = drop_icmp(&map);
    let (id1, mids) = ids(&first, &[&map]);
    let id2 = second.id().unwrap();
    let native = NetlinkAttach {
        mode: Some(XdpMode::Driver),
        ..Default::default()
    };
    xdp::attach_netlink(&first, pair.ifindex, &native).unwrap();
    assert_eq!(xdp::query(pair.ifindex).unwrap().driver, id1);

    // if-noexist refuses, and the first program stays.
    let err = xdp::attach_netlink(
        &second,
        pair.ifindex,
        &NetlinkAttach {
            if_noexist: true,
            ..native
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("already has an XDP program"), "{err}");
    assert!(!err.contains('\n'), "one line: {err}");
    assert_eq!(xdp::query(pair.ifindex).unwrap().driver, id1);

    // A link cannot take the hook while netlink holds it.
    assert!(xdp::attach(&second, pair.ifindex, Some(XdpMode::Driver)).is_err());
    assert_eq!(xdp::query(pair.ifindex).unwrap().driver, id1);

    // Replace with the wrong expected program fails; with the right one it works.
    assert!(xdp::attach_netlink(
        &second,
        pair.ifindex,
        &NetlinkAttach {
            expected: Some(second.fd()),
            ..native
        },
    )
    .is_err());
    assert_eq!(xdp::query(pair.ifindex).unwrap().driver, id1);
    xdp::attach_netlink(
        &second,
        pair.ifindex,
        &NetlinkAttach {
            expected: Some(first.fd()),
            ..native
        },
    )
    .unwrap();
    assert_eq!(xdp::query(pair.ifindex).unwrap().driver, id2);

    assert!(!pair.ping_from_peer(2));
    assert_eq!(read_counter(&map), 2);

    // The netlink attachment holds the program after our fds close.
    drop(first);
    drop(second);
    assert_eq!(xdp::query(pair.ifindex).unwrap().driver, id2);
    xdp::detach_netlink(pair.ifindex, Some(XdpMode::Driver), None).unwrap();
    assert!(xdp::query(pair.ifindex).unwrap().attached().is_empty());
    assert!(pair.ping_from_peer(1));
    drop(map);
    assert_gone(&[id1, id2], &mids, &[]);
}

#[test]
fn generic_netlink_attach_is_reported_per_mode() {
    let pair = VethPair::new();
    let map = counter_map("xdp_cnt_g");
    let prog = drop_icmp(&map);
    let (pid, mids) = ids(&prog, &[&map]);
    xdp::attach_netlink(
        &prog,
        pair.ifindex,
        &NetlinkAttach {
            mode: Some(XdpMode::Generic),
            ..Default::default()
        },
    )
    .unwrap();
    let q = xdp::query(pair.ifindex).unwrap();
    assert_eq!((q.generic, q.driver, q.offload), (pid, 0, 0));
    assert!(xdp::query_all()
        .unwrap()
        .iter()
        .any(|q| q.ifindex == pair.ifindex && q.ifname == pair.host));
    assert!(!pair.ping_from_peer(1));
    xdp::detach_netlink(pair.ifindex, Some(XdpMode::Generic), None).unwrap();
    assert!(pair.ping_from_peer(1));
    drop(prog);
    drop(map);
    assert_gone(&[pid], &mids, &[]);
}

#[test]
fn bad_input_is_one_clear_line_and_leaves_the_hook_alone() {
    let pair = VethPair::new();
    let map = counter_map("xdp_cnt_bad");
    let prog = drop_icmp(&map);
    let (pid, mids) = ids(&prog, &[&map]);

    let err = xdp::ifindex("bkno_such_if0").unwrap_err().to_string();
    assert_eq!(
        err,
        "interface `bkno_such_if0` does not exist (see `ip link show`)"
    );
    let err = xdp::attach(&prog, 0x7fff_fff0, Some(XdpMode::Generic))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no interface with index"), "{err}");

    let skf = load_asm("not_xdp", ProgramType::SocketFilter, None, "r0 = 0\nexit\n");
    let err = xdp::attach(&skf, pair.ifindex, None)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "program `not_xdp` is of type socket_filter, but an XDP hook needs a xdp program"
    );

    let err = xdp::attach_netlink(
        &prog,
        pair.ifindex,
        &NetlinkAttach {
            mode: Some(XdpMode::Offload),
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("cannot run XDP in offload mode"), "{err}");

    let link = xdp::attach(&prog, pair.ifindex, Some(XdpMode::Generic)).unwrap();
    let link_id = link.id().unwrap();
    let err = xdp::attach(&prog, pair.ifindex, Some(XdpMode::Generic))
        .unwrap_err()
        .to_string();
    assert!(err.contains("already has an XDP program"), "{err}");
    assert!(!err.contains('\n'));
    assert_eq!(xdp::query(pair.ifindex).unwrap().generic, pid);
    let skf_id = skf.id().unwrap();
    drop((link, prog, map, skf));
    assert_gone(&[pid, skf_id], &mids, &[link_id]);
}

#[test]
fn xdp_tx_reflects_udp_back_to_the_sender() {
    let pair = VethPair::new();
    let map = counter_map("xdp_cnt_tx");
    let port = 40_123u16;
    let count = count_asm(fd_of(&map), "c");
    let prog = load_asm(
        "xdp_reflect",
        ProgramType::Xdp,
        None,
        &format!(
            "{}\
             r4 = *(u32 *)(r2 +0)\n\
             r5 = *(u32 *)(r2 +6)\n\
             *(u32 *)(r2 +0) = r5\n\
             *(u32 *)(r2 +6) = r4\n\
             r4 = *(u16 *)(r2 +4)\n\
             r5 = *(u16 *)(r2 +10)\n\
             *(u16 *)(r2 +4) = r5\n\
             *(u16 *)(r2 +10) = r4\n\
             r4 = *(u32 *)(r2 +26)\n\
             r5 = *(u32 *)(r2 +30)\n\
             *(u32 *)(r2 +26) = r5\n\
             *(u32 *)(r2 +30) = r4\n\
             r4 = *(u16 *)(r2 +34)\n\
             r5 = *(u16 *)(r2 +36)\n\
             *(u16 *)(r2 +34) = r5\n\
             *(u16 *)(r2 +36) = r4\n\
             {count}\
             r0 = 3\n\
             exit\n\
             pass:\n\
             r0 = 2\n\
             exit\n",
            match_udp(port)
        ),
    );
    let (pid, mids) = ids(&prog, &[&map]);
    let link = xdp::attach(&prog, pair.ifindex, Some(XdpMode::Generic)).unwrap();
    let link_id = link.id().unwrap();
    // Nothing listens on the host: only XDP_TX can bring the datagrams back.
    let got = pair.ns_python(&format!(
        "import socket\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         s.bind(('{peer}', 0))\n\
         s.settimeout(2)\n\
         n = 0\n\
         for i in range(3):\n\
         \x20   s.sendto(b'bounce%d' % i, ('{host}', {port}))\n\
         \x20   data, addr = s.recvfrom(100)\n\
         \x20   assert data == b'bounce%d' % i, data\n\
         \x20   assert addr == ('{host}', {port}), addr\n\
         \x20   n += 1\n\
         print(n)\n",
        peer = pair.peer_ip,
        host = pair.host_ip
    ));
    assert_eq!(got.trim(), "3");
    assert_eq!(read_counter(&map), 3);
    drop((link, prog, map));
    assert_gone(&[pid], &mids, &[link_id]);
}

#[test]
fn xdp_redirect_through_a_devmap_moves_packets_to_another_veth() {
    redirect(XdpMode::Generic);
}

/// Native redirect into a veth hands frames to its peer's NAPI, which runs only while the
/// peer has an XDP program (or GRO): the test gives b's peer a passing one.
#[test]
fn native_xdp_redirect_reaches_a_veth_whose_peer_runs_xdp() {
    redirect(XdpMode::Driver);
}

fn redirect(mode: XdpMode) {
    let a = VethPair::new();
    let b = VethPair::new();
    if mode == XdpMode::Driver {
        let obj = common::fixture("xdp_drop_icmp.bpf.o");
        let out = b.ns_exec(&[
            "ip",
            "link",
            "set",
            "dev",
            &b.peer,
            "xdpdrv",
            "obj",
            obj.to_str().unwrap(),
            "sec",
            "xdp",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let map = counter_map("xdp_cnt_rd");
    let devmap = Map::create(&MapSpec::new(MapType::Devmap, 4, 4, 1).name("xdp_devmap")).unwrap();
    devmap
        .update(&0u32.to_ne_bytes(), &b.ifindex.to_ne_bytes(), 0)
        .unwrap();
    let port = 40_124u16;
    let count = count_asm(fd_of(&map), "c");
    let prog = load_asm(
        "xdp_redirect",
        ProgramType::Xdp,
        None,
        &format!(
            "{}\
             {count}\
             r1 = map[fd:{dm}]\n\
             r2 = 0\n\
             r3 = 0\n\
             call redirect_map\n\
             exit\n\
             pass:\n\
             r0 = 2\n\
             exit\n",
            match_udp(port),
            dm = fd_of(&devmap)
        ),
    );
    let (pid, mids) = ids(&prog, &[&map, &devmap]);
    let link = xdp::attach(&prog, a.ifindex, Some(mode)).unwrap();
    let link_id = link.id().unwrap();

    // Capture on b's peer (in b's namespace) while a's peer sends to a's host end.
    let capture = std::thread::scope(|s| {
        let cap = s.spawn(|| {
            b.ns_python(&format!(
                "import socket, time\n\
                 s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))\n\
                 s.bind(('{dev}', 0))\n\
                 s.settimeout(0.5)\n\
                 seen = 0\n\
                 end = time.time() + 4\n\
                 while time.time() < end and seen < 3:\n\
                 \x20   try:\n\
                 \x20       f = s.recv(2048)\n\
                 \x20   except socket.timeout:\n\
                 \x20       continue\n\
                 \x20   if b'moved-by-devmap' in f:\n\
                 \x20       seen += 1\n\
                 print(seen)\n",
                dev = b.peer
            ))
        });
        std::thread::sleep(std::time::Duration::from_millis(800));
        a.ns_python(&format!(
            "import socket, time\n\
             s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
             for i in range(3):\n\
             \x20   s.sendto(b'moved-by-devmap', ('{host}', {port}))\n\
             \x20   time.sleep(0.05)\n",
            host = a.host_ip
        ));
        cap.join().expect("capture thread")
    });
    assert_eq!(
        capture.trim(),
        "3",
        "all three datagrams must come out of b"
    );
    assert_eq!(read_counter(&map), 3);
    drop((link, prog, map, devmap));
    assert_gone(&[pid], &mids, &[link_id]);
}

#[test]
fn pinned_xdp_link_survives_its_owner_until_unpinned() {
    let pair = VethPair::new();
    let dir = common::PinDir::new("xdp");
    let map = counter_map("xdp_cnt_pin");
    let prog = drop_icmp(&map);
    let (pid, mids) = ids(&prog, &[&map]);
    let link = xdp::attach(&prog, pair.ifindex, Some(XdpMode::Generic)).unwrap();
    let link_id = link.id().unwrap();
    link.pin(dir.join("xdp_link")).unwrap();
    drop((link, prog));
    assert_eq!(xdp::query(pair.ifindex).unwrap().generic, pid);
    assert!(!pair.ping_from_peer(1));
    let again = bpfkit::Link::from_pin(dir.join("xdp_link")).unwrap();
    again.detach().unwrap();
    assert!(pair.ping_from_peer(1));
    bpfkit::unpin(dir.join("xdp_link")).unwrap();
    drop((again, map));
    assert_gone(&[pid], &mids, &[link_id]);
}
