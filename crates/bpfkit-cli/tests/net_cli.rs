//! `bpfkit net` on veth pairs whose peer sits in a fresh network namespace: attachments
//! made by the CLI outlive it (netlink, or a pinned tcx link), work on traffic, are listed
//! exactly as Debian's bpftool 7.1 lists them, and go away with `net detach`.
//!
//! bpftool 7.1 predates tcx: it lists no tcx entries, so for tcx the comparison drops ours
//! (laid out as newer bpftool prints them: `prog_id`, `prog_flags`, `link_id`, `link_flags`).

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use bpfkit_testsupport::{run, VethPair};
use serde_json::Value;

fn bpfkit(args: &[&str]) -> Output {
    run(env!("CARGO_BIN_EXE_bpfkit"), args)
}

fn ok(args: &[&str]) -> String {
    let o = bpfkit(args);
    assert!(
        o.status.success(),
        "bpfkit {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The single stderr line of a failing command.
fn one_line_error(args: &[&str]) -> String {
    let o = bpfkit(args);
    assert_eq!(o.status.code(), Some(1), "bpfkit {args:?} should fail");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err.trim_end().to_string()
}

fn bpftool(args: &[&str]) -> String {
    let o = run("bpftool", args);
    assert!(
        o.status.success(),
        "bpftool {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fixture(name: &str) -> String {
    let dir = std::env::var_os("BPFKIT_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/fixtures"));
    let p = dir.join(name);
    assert!(
        p.exists(),
        "fixture {} is missing: run scripts/build-fixtures",
        p.display()
    );
    p.display().to_string()
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

fn prog_gone(id: u64) {
    let start = Instant::now();
    while bpfkit_sys::obj::get_fd_by_id(bpfkit_sys::obj::ObjKind::Prog, id as u32).is_ok() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "program {id} is still loaded"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ids(show: &Value, section: &str, field: &str) -> Vec<u64> {
    show[0][section]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e[field].as_u64()).collect())
        .unwrap_or_default()
}

#[test]
fn xdp_and_clsact_attachments_outlive_the_cli_and_match_bpftool() {
    let v = VethPair::new();
    let dev = v.host.as_str();
    let xdp_obj = fixture("xdp_drop_icmp.bpf.o");
    let tc_obj = fixture("tc_egress_port.bpf.o");
    assert!(v.ping_from_peer(1));
    ok(&[
        "net",
        "attach",
        "xdpgeneric",
        "object",
        &xdp_obj,
        "dev",
        dev,
    ]);
    ok(&[
        "net",
        "attach",
        "tc_ingress",
        "object",
        &tc_obj,
        "sec",
        "tc",
        "dev",
        dev,
    ]);
    ok(&["net", "attach", "tc_egress", "object", &tc_obj, "dev", dev]);
    // The CLI has exited: the kernel still runs the XDP program.
    assert!(
        !v.ping_from_peer(1),
        "XDP must drop the ping after `net attach` exited"
    );

    let show = ["net", "show", "dev", dev];
    assert_eq!(ok(&show), bpftool(&show));
    let j = ["-j", "net", "show", "dev", dev];
    assert_eq!(json(&ok(&j)), json(&bpftool(&j)));
    let p = ["-p", "net", "show", "dev", dev];
    assert_eq!(ok(&p), bpftool(&p));
    let listed = json(&ok(&j));
    let xdp_ids = ids(&listed, "xdp", "id");
    let tc_ids = ids(&listed, "tc", "id");
    assert_eq!((xdp_ids.len(), tc_ids.len()), (1, 2), "{listed}");
    assert_eq!(listed[0]["xdp"][0]["mode"], "generic");
    assert_eq!(listed[0]["tc"][0]["kind"], "clsact/ingress");
    assert_eq!(listed[0]["tc"][1]["kind"], "clsact/egress");

    // Occupied hooks: one line, and what was attached stays.
    let err = one_line_error(&[
        "net",
        "attach",
        "xdpgeneric",
        "object",
        &xdp_obj,
        "dev",
        dev,
    ]);
    assert!(err.contains("already has an XDP program"), "{err}");
    let err = one_line_error(&["net", "attach", "tc_egress", "object", &tc_obj, "dev", dev]);
    assert!(err.contains("add `overwrite` to replace it"), "{err}");
    assert_eq!(json(&ok(&j)), listed);
    // With overwrite, new programs take the hooks.
    ok(&[
        "net",
        "attach",
        "xdpgeneric",
        "object",
        &xdp_obj,
        "dev",
        dev,
        "overwrite",
    ]);
    ok(&[
        "net",
        "attach",
        "tc_egress",
        "object",
        &tc_obj,
        "dev",
        dev,
        "overwrite",
    ]);
    let after = json(&ok(&j));
    assert_ne!(ids(&after, "xdp", "id"), xdp_ids);
    assert_eq!(ids(&after, "tc", "id")[0], tc_ids[0]);
    assert_ne!(ids(&after, "tc", "id")[1], tc_ids[1]);
    assert_eq!(after, json(&bpftool(&j)));
    for id in xdp_ids.iter().chain(&tc_ids[1..]) {
        prog_gone(*id);
    }

    ok(&["net", "detach", "xdpgeneric", "dev", dev]);
    ok(&["net", "detach", "tc_ingress", "dev", dev]);
    ok(&["net", "detach", "tc_egress", "dev", dev]);
    assert!(v.ping_from_peer(1), "ping works after `net detach`");
    assert_eq!(ok(&show), bpftool(&show));
    let empty = json(&ok(&j));
    assert_eq!(empty, json(&bpftool(&j)));
    assert!(ids(&empty, "xdp", "id").is_empty() && ids(&empty, "tc", "id").is_empty());
    for id in ids(&after, "xdp", "id")
        .iter()
        .chain(&ids(&after, "tc", "id"))
    {
        prog_gone(*id);
    }
}

#[test]
fn native_xdp_from_the_cli_drops_icmp() {
    let v = VethPair::new();
    let dev = v.host.as_str();
    ok(&[
        "net",
        "attach",
        "xdpdrv",
        "object",
        &fixture("xdp_drop_icmp.bpf.o"),
        "dev",
        dev,
    ]);
    assert!(!v.ping_from_peer(1));
    let j = ["-j", "net", "show", "dev", dev];
    let listed = json(&ok(&j));
    assert_eq!(listed[0]["xdp"][0]["mode"], "driver");
    assert_eq!(listed, json(&bpftool(&j)));
    // Generic next to native is refused, and native stays.
    let err = one_line_error(&[
        "net",
        "attach",
        "xdpgeneric",
        "object",
        &fixture("xdp_drop_icmp.bpf.o"),
        "dev",
        dev,
    ]);
    assert!(err.contains("already has an XDP program"), "{err}");
    assert_eq!(json(&ok(&j)), listed);
    ok(&["net", "detach", "xdpdrv", "dev", dev]);
    assert!(v.ping_from_peer(1));
    prog_gone(ids(&listed, "xdp", "id")[0]);
}

#[test]
fn tcx_attachments_are_pinned_links_that_net_and_link_detach_remove() {
    let v = VethPair::new();
    let dev = v.host.as_str();
    let obj = fixture("tc_egress_port.bpf.o");
    let out1 = ok(&["net", "attach", "tcx_egress", "object", &obj, "dev", dev]);
    let out2 = ok(&["net", "attach", "tcx_egress", "object", &obj, "dev", dev]);
    let pin = |out: &str| -> String {
        out.trim()
            .rsplit_once(" pinned at ")
            .map(|(_, p)| p.to_string())
            .unwrap_or_else(|| panic!("no pin path in `{out}`"))
    };
    let (p1, p2) = (pin(&out1), pin(&out2));
    assert!(p1.starts_with("/sys/fs/bpf/bpfkit/net/") && std::path::Path::new(&p1).exists());

    let j = ["-j", "net", "show", "dev", dev];
    let ours = json(&ok(&j));
    let tcx: Vec<&Value> = ours[0]["tc"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "tcx/egress")
        .collect();
    assert_eq!(tcx.len(), 2, "{ours}");
    for e in &tcx {
        assert_eq!(e["name"], "tc_egress_port");
        assert!(e["prog_id"].as_u64().unwrap() > 0 && e["link_id"].as_u64().unwrap() > 0);
    }
    // Without the tcx entries bpftool 7.1 cannot list, both agree.
    let mut stripped = ours.clone();
    stripped[0]["tc"]
        .as_array_mut()
        .unwrap()
        .retain(|e| !e["kind"].as_str().unwrap_or("").starts_with("tcx/"));
    assert_eq!(stripped, json(&bpftool(&j)));
    let text = ok(&["net", "show", "dev", dev]);
    assert!(
        text.contains(&format!(
            "{dev}({}) tcx/egress tc_egress_port prog_id ",
            tcx[0]["ifindex"]
        )),
        "{text}"
    );

    // `link detach` on the first pin detaches it; `net detach` takes the rest and the pins.
    ok(&["link", "detach", "pinned", &p1]);
    assert_eq!(
        json(&ok(&j))[0]["tc"].as_array().unwrap().len(),
        1,
        "one tcx program left"
    );
    ok(&["net", "detach", "tcx_egress", "dev", dev]);
    assert!(json(&ok(&j))[0]["tc"].as_array().unwrap().is_empty());
    assert!(!std::path::Path::new(&p1).exists() && !std::path::Path::new(&p2).exists());
    for e in &tcx {
        prog_gone(e["prog_id"].as_u64().unwrap());
    }
    let err = one_line_error(&["net", "detach", "tcx_egress", "dev", dev]);
    assert!(err.contains("no tcx egress program"), "{err}");
}

#[test]
fn bad_input_is_one_clear_line() {
    let v = VethPair::new();
    let xdp_obj = fixture("xdp_drop_icmp.bpf.o");
    let err = one_line_error(&[
        "net",
        "attach",
        "xdp",
        "object",
        &xdp_obj,
        "dev",
        "bknosuch0",
    ]);
    assert_eq!(
        err,
        "Error: interface `bknosuch0` does not exist (see `ip link show`)"
    );
    let err = one_line_error(&[
        "net",
        "attach",
        "tcx_ingress",
        "object",
        &xdp_obj,
        "dev",
        &v.host,
    ]);
    assert!(
        err.contains("is of type xdp, but a tcx hook needs a sched_cls program"),
        "{err}"
    );
    let err = one_line_error(&[
        "net",
        "attach",
        "xdpnative",
        "object",
        &xdp_obj,
        "dev",
        &v.host,
    ]);
    assert_eq!(err, "Error: invalid net attach/detach type: xdpnative");
    let err = one_line_error(&[
        "net",
        "attach",
        "xdp",
        "object",
        "/nonexistent.o",
        "dev",
        &v.host,
    ]);
    assert!(err.contains("/nonexistent.o"), "{err}");
    let err = one_line_error(&["net", "detach", "xdp", "dev", &v.host]);
    assert!(err.contains("no XDP program is attached"), "{err}");
    let j = json(&ok(&["-j", "net", "show", "dev", &v.host]));
    assert!(ids(&j, "xdp", "id").is_empty() && ids(&j, "tc", "id").is_empty());
}

/// An Ethernet + IPv4 frame with the given protocol and 8 payload bytes after the IP header.
fn frame(proto: u8) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 20 + 8];
    f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&(28u16).to_be_bytes());
    f[22] = 64;
    f[23] = proto;
    f[26..30].copy_from_slice(&[10, 0, 0, 1]);
    f[30..34].copy_from_slice(&[10, 0, 0, 2]);
    f
}

/// Removes a pin when the test ends, passed or failed, so a failure does not leave the
/// program loaded.
struct PinGuard(PathBuf);

impl Drop for PinGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn prog_run_reports_the_xdp_example_verdict_for_each_packet() {
    let dir = PathBuf::from("/sys/fs/bpf").join(format!("bpfkit_netrun_{}", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    let guard = PinGuard(dir.clone());
    ok(&[
        "prog",
        "load",
        &fixture("xdp_drop_icmp.bpf.o"),
        dir.to_str().unwrap(),
        "type",
        "xdp",
    ]);
    let pin = dir.display().to_string();
    let tmp = std::env::temp_dir().join(format!("bpfkit_netrun_{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    // ICMP, UDP, TCP, and an ARP frame too short for an IP header.
    let packets: Vec<(Vec<u8>, u32)> = vec![
        (frame(1), 1),
        (frame(17), 2),
        (frame(6), 2),
        ([[0xffu8; 12].as_slice(), &[0x08, 0x06, 0, 1]].concat(), 2),
    ];
    // One raw packet per run, as bpftool takes it…
    let mut verdicts = Vec::new();
    for (i, (pkt, _)) in packets.iter().enumerate() {
        let f = tmp.join(format!("pkt{i}"));
        std::fs::write(&f, pkt).unwrap();
        let out = ok(&[
            "-j",
            "prog",
            "run",
            "pinned",
            &pin,
            "data_in",
            f.to_str().unwrap(),
        ]);
        verdicts.push(json(&out)["retval"].as_u64().unwrap() as u32);
    }
    // …and all of them from one pcap file, one verdict per packet.
    let mut pcap = Vec::new();
    // File header: magic, version 2.4, zone, sigfigs, snaplen, link type Ethernet.
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        pcap.extend_from_slice(&v.to_le_bytes());
    }
    for (pkt, _) in &packets {
        for v in [0u32, 0, pkt.len() as u32, pkt.len() as u32] {
            pcap.extend_from_slice(&v.to_le_bytes());
        }
        pcap.extend_from_slice(pkt);
    }
    let pcap_file = tmp.join("packets.pcap");
    std::fs::write(&pcap_file, &pcap).unwrap();
    let out = ok(&[
        "-j",
        "prog",
        "run",
        "pinned",
        &pin,
        "data_in",
        pcap_file.to_str().unwrap(),
    ]);
    let from_pcap: Vec<u32> = json(&out)
        .as_array()
        .expect("one JSON object per packet")
        .iter()
        .map(|o| o["retval"].as_u64().unwrap() as u32)
        .collect();
    let text = ok(&[
        "prog",
        "run",
        "pinned",
        &pin,
        "data_in",
        pcap_file.to_str().unwrap(),
    ]);
    assert!(
        text.lines()
            .next()
            .unwrap_or("")
            .starts_with("Packet 1: return value: 1,"),
        "{text}"
    );
    let want: Vec<u32> = packets.iter().map(|(_, v)| *v).collect();
    assert_eq!(
        verdicts, want,
        "XDP_DROP (1) for ICMP, XDP_PASS (2) for the rest"
    );
    assert_eq!(from_pcap, want, "the pcap run gives the same verdicts");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::remove_file(&dir).unwrap();
    drop(guard);
}
