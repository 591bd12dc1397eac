//! Checks of the feature probes that hold on every kernel, plus one line per feature so that
//! the matrix log records what each kernel offers.

mod common;

use std::io::Write;

use common::features::{has, kernel_version, require, Feature, MapKind, ProgKind};

const ALL: [Feature; 13] = [
    Feature::Kprobes,
    Feature::Uprobes,
    Feature::KprobeMulti,
    Feature::UprobeMulti,
    Feature::Fentry,
    Feature::Fexit,
    Feature::HardwarePmu,
    Feature::Btf,
    Feature::ModuleBtf,
    Feature::Map(MapKind::RingBuf),
    Feature::Map(MapKind::UserRingBuf),
    Feature::Map(MapKind::Arena),
    Feature::Prog(ProgKind::Syscall),
];

#[test]
fn report_features() {
    let mut out = String::new();
    for f in ALL {
        match require(f) {
            Ok(()) => out.push_str(&format!("@@matrix feature {f}: yes\n")),
            Err(skip) => out.push_str(&format!("@@matrix feature {f}: no ({})\n", skip.reason)),
        }
    }
    std::io::stderr().write_all(out.as_bytes()).unwrap();
    // The array map exists since 3.19: a probe that says otherwise is broken.
    assert!(has(Feature::Map(MapKind::Array)));
}

#[test]
fn kprobe_pmu_agrees_with_tracefs() {
    let tracefs = std::path::Path::new("/sys/kernel/tracing/kprobe_events").exists();
    assert_eq!(has(Feature::Kprobes), tracefs);
}

#[test]
fn kprobe_pmu_type_is_dynamic() {
    require_feature!(Kprobes);
    let text = std::fs::read_to_string("/sys/bus/event_source/devices/kprobe/type").unwrap();
    let ty: u32 = text.trim().parse().unwrap();
    // Dynamic PMUs are numbered after the fixed PERF_TYPE_* (0..=5).
    assert!(ty > 5, "kprobe PMU type {ty}");
}

#[test]
fn fentry_and_fexit_agree() {
    require_feature!(Btf);
    assert_eq!(has(Feature::Fentry), has(Feature::Fexit));
}

#[test]
fn fentry_needs_btf() {
    require_feature!(Fentry);
    assert!(has(Feature::Btf));
}

#[test]
fn version_gate_follows_uname() {
    let (major, minor) = kernel_version().unwrap();
    assert!(has(Feature::KernelVersion(major, minor)));
    assert!(!has(Feature::KernelVersion(major, minor + 1)));
    assert!(!has(Feature::KernelVersion(major + 1, 0)));
    require_feature!(KernelVersion(5, 8));
    // Ring buffers arrived in 5.8.
    assert!(has(Feature::Map(MapKind::RingBuf)));
}

#[test]
fn uprobe_multi_needs_uprobes() {
    require_feature!(UprobeMulti);
    assert!(has(Feature::Uprobes));
    assert!(has(Feature::KernelVersion(6, 6)));
}

#[test]
fn kprobe_multi_needs_kprobes() {
    require_feature!(KprobeMulti);
    assert!(has(Feature::Kprobes));
    assert!(has(Feature::KernelVersion(5, 18)));
}
