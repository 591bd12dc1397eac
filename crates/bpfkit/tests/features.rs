//! Kernel tests of the feature probes: they agree with bpftool on this machine, helpers are
//! told apart per program type, and the answers are cached.

mod common;

use std::process::Command;

use bpfkit::features::{self, HelperScan, Misc, ProbeOptions};
use bpfkit_insn::helpers;

fn bpftool_json() -> serde_json::Value {
    let out = Command::new("bpftool")
        .args(["-j", "feature", "probe"])
        .output()
        .expect("running bpftool (install it: apt-get install bpftool)");
    assert!(
        out.status.success(),
        "bpftool failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("bpftool JSON")
}

#[test]
fn program_and_map_types_agree_with_bpftool() {
    let bt = bpftool_json();
    let bt_progs = bt["program_types"]
        .as_object()
        .expect("program_types object");
    let bt_maps = bt["map_types"].as_object().expect("map_types object");
    let mut compared = 0;
    for &(id, name) in features::prog_types() {
        let Some(theirs) = bt_progs.get(&format!("have_{name}_prog_type")) else {
            continue;
        };
        let ours = features::prog_type_supported(id).expect("probe");
        assert_eq!(Some(ours), theirs.as_bool(), "program type {name}");
        compared += 1;
    }
    for &(id, name) in features::map_types() {
        let Some(theirs) = bt_maps.get(&format!("have_{name}_map_type")) else {
            continue;
        };
        let ours = features::map_type_supported(id).expect("probe");
        assert_eq!(Some(ours), theirs.as_bool(), "map type {name}");
        compared += 1;
    }
    // Every type bpftool knows must be one we know too.
    assert_eq!(
        compared,
        bt_progs.len() + bt_maps.len(),
        "types bpftool knows that we do not"
    );
    assert!(compared >= 60, "only {compared} types compared");
}

#[test]
fn misc_features_agree_with_bpftool() {
    let bt = bpftool_json();
    let misc = bt["misc"].as_object().expect("misc object");
    for m in Misc::ALL {
        if let Some(theirs) = misc.get(m.json_key()) {
            assert_eq!(
                Some(features::misc_supported(m).expect("probe")),
                theirs.as_bool(),
                "{m:?}"
            );
        }
    }
    // bpftool 7.1 does not probe v4, so the kernel's version stands in for it: the v4
    // instructions (sign-extending moves and loads, signed division, bswap, gotol) arrived
    // together in 6.6. Every kernel bpfkit supports has the rest.
    let version = common::features::kernel_version().expect("kernel version");
    for m in Misc::ALL {
        let expected = m != Misc::IsaV4 || version >= (6, 6);
        assert_eq!(
            features::misc_supported(m).expect("probe"),
            expected,
            "{m:?} on {}.{}",
            version.0,
            version.1
        );
    }
}

#[test]
fn helpers_are_told_apart_per_program_type() {
    const SOCKET_FILTER: u32 = 1;
    const XDP: u32 = 6;
    const KPROBE: u32 = 2;
    // Generic helpers everywhere.
    assert!(features::helper_supported(SOCKET_FILTER, helpers::MAP_LOOKUP_ELEM).expect("probe"));
    assert!(features::helper_supported(KPROBE, helpers::RINGBUF_OUTPUT).expect("probe"));
    // XDP-only and tracing-only helpers only where they belong.
    let xdp_adjust_head = bpfkit_insn::helper_by_name("bpf_xdp_adjust_head")
        .expect("known helper")
        .id;
    assert!(features::helper_supported(XDP, xdp_adjust_head).expect("probe"));
    assert!(!features::helper_supported(SOCKET_FILTER, xdp_adjust_head).expect("probe"));
    let get_stackid = bpfkit_insn::helper_by_name("bpf_get_stackid")
        .expect("known helper")
        .id;
    assert!(features::helper_supported(KPROBE, get_stackid).expect("probe"));
    assert!(!features::helper_supported(XDP, get_stackid).expect("probe"));
    // An id past the kernel's last helper does not exist for anyone.
    assert!(!features::helper_supported(SOCKET_FILTER, 100_000).expect("probe"));
    // A missing program type has no helpers.
    assert!(!features::helper_supported(20, helpers::MAP_LOOKUP_ELEM).expect("probe lirc_mode2"));
}

#[test]
fn probe_all_report_is_complete_and_cached() {
    let start = std::time::Instant::now();
    let r = features::probe_all(&ProbeOptions::default()).expect("probe_all");
    let first = start.elapsed();
    assert!(r.bpf_syscall);
    assert_eq!(r.prog_types.len(), features::prog_types().len());
    assert_eq!(r.map_types.len(), features::map_types().len());
    assert_eq!(r.helpers.len(), features::prog_types().len());
    let xdp = r
        .helpers
        .iter()
        .find(|(id, _, _)| *id == 6)
        .expect("xdp helpers");
    let HelperScan::Available(list) = &xdp.2 else {
        panic!("xdp helpers: {:?}", xdp.2)
    };
    assert!(
        list.iter().any(|h| h.name == "bpf_redirect"),
        "xdp may call bpf_redirect"
    );
    assert!(
        !list.iter().any(|h| h.name == "bpf_trace_printk"),
        "noisy helpers only with `full`"
    );
    let lirc = r
        .helpers
        .iter()
        .find(|(id, _, _)| *id == 20)
        .expect("lirc helpers");
    assert_eq!(lirc.2, HelperScan::ProgTypeUnsupported);
    let sops = r
        .helpers
        .iter()
        .find(|(id, _, _)| *id == 27)
        .expect("struct_ops helpers");
    assert_eq!(sops.2, HelperScan::Undetermined);
    assert!(r
        .system
        .kernel_config
        .iter()
        .any(|(k, v)| *k == "CONFIG_BPF_SYSCALL" && v.as_deref() == Some("y")));

    // A second report comes from the cache: same answers, no new loads.
    let start = std::time::Instant::now();
    let again = features::probe_all(&ProbeOptions::default()).expect("probe_all again");
    let second = start.elapsed();
    assert_eq!(format!("{:?}", again.helpers), format!("{:?}", r.helpers));
    assert!(
        second < first,
        "cached run {second:?} not faster than first {first:?}"
    );
}

#[test]
fn missing_feature_is_a_typed_error_naming_it() {
    let err =
        features::require_prog_type(20).expect_err("lirc_mode2 is not built into this kernel");
    assert!(matches!(err, bpfkit::Error::NotSupported { .. }), "{err:?}");
    assert!(err.to_string().contains("lirc_mode2"), "{err}");
    features::require_prog_type(1).expect("socket_filter exists");
    features::require_map_type(27).expect("ringbuf exists");
    let err = features::require_helper(
        6,
        bpfkit_insn::helper_by_name("bpf_get_stackid")
            .expect("helper")
            .id,
    )
    .expect_err("xdp may not call bpf_get_stackid");
    assert!(err.to_string().contains("bpf_get_stackid"), "{err}");
}
