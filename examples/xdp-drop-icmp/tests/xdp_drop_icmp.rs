//! Runs the example on a veth: ICMP from the peer is dropped and counted while it runs, and
//! passes again once the example (and with it its link) is gone.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

fn drops_icmp(mode: &str) {
    let v = bpfkit_testsupport::VethPair::new();
    assert!(v.ping_from_peer(1));
    let mut ex = Command::new(env!("CARGO_BIN_EXE_xdp-drop-icmp"))
        .args([v.host.as_str(), mode, "--duration", "4"])
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
    assert!(
        !v.ping_from_peer(3),
        "ICMP must be dropped while the example runs"
    );
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(ex.wait().unwrap().success(), "{rest}");
    let icmp: Vec<&str> = rest.lines().filter(|l| l.starts_with("icmp ")).collect();
    assert_eq!(icmp, vec!["icmp     3"], "{rest}");
    assert!(rest.lines().any(|l| l == "dropped 3"), "{rest}");
    assert!(v.ping_from_peer(1), "the link went away with the example");
}

#[test]
fn generic_mode_drops_and_counts_icmp() {
    drops_icmp("--generic");
}

#[test]
fn native_mode_drops_and_counts_icmp() {
    drops_icmp("--native");
}

#[test]
fn a_missing_interface_is_one_line() {
    let o = Command::new(env!("CARGO_BIN_EXE_xdp-drop-icmp"))
        .arg("bxnosuch0")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "xdp-drop-icmp: interface `bxnosuch0` does not exist (see `ip link show`)\n"
    );
}
