//! Runs the example on a veth's egress: datagrams to the drop port are dropped and counted,
//! those to the mark port are marked and counted, with tcx and with clsact.

use std::io::{BufRead, BufReader, Read};
use std::net::UdpSocket;
use std::process::{Command, Stdio};

fn drops_and_marks(extra: &[&str]) {
    let v = bpfkit_testsupport::VethPair::new();
    // Resolve the peer's MAC first so every datagram below leaves at once.
    assert!(v.ping_from_peer(1));
    let mut args = vec![
        v.host.as_str(),
        "--drop",
        "7001",
        "--mark",
        "7002",
        "--duration",
        "3",
    ];
    args.extend_from_slice(extra);
    let mut ex = Command::new(env!("CARGO_BIN_EXE_tc-egress-port"))
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(ex.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    if !first.starts_with("attached to ") {
        let mut err = String::new();
        let _ = ex.stderr.take().unwrap().read_to_string(&mut err);
        panic!("example did not attach: {first}{err}");
    }
    let tx = UdpSocket::bind((v.host_ip.as_str(), 0)).unwrap();
    for _ in 0..3 {
        tx.send_to(b"drop me", (v.peer_ip.as_str(), 7001)).unwrap();
    }
    for _ in 0..2 {
        tx.send_to(b"mark me", (v.peer_ip.as_str(), 7002)).unwrap();
    }
    tx.send_to(b"leave me", (v.peer_ip.as_str(), 7003)).unwrap();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(ex.wait().unwrap().success(), "{rest}");
    assert_eq!(rest, "dropped 3\nmarked 2\n");
    let show = bpfkit_testsupport::run("bpftool", &["-j", "net", "show", "dev", &v.host]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        !text.contains("tc_egress_port"),
        "nothing left attached: {text}"
    );
}

#[test]
fn tcx_egress_drops_and_marks_by_port() {
    drops_and_marks(&[]);
}

#[test]
fn clsact_egress_drops_and_marks_by_port() {
    drops_and_marks(&["--clsact"]);
}
