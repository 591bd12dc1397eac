//! `bpfkit feature probe` on the built binary: bpftool's layout and JSON keys, and a one-line
//! error naming the missing capability when run without privileges.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_bpfkit");

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("spawn")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}, stderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

fn bpftool(args: &[&str]) -> String {
    stdout(&run(Command::new("bpftool").args(args)))
}

/// Lines other than helper names (`\t- bpf_…`), which differ by design: bpftool 7.1 does not
/// recognise the verifier message newer kernels give for a helper a program type may not
/// call, and lists every helper for every type.
fn skeleton(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with("\t- "))
        .map(str::to_string)
        .collect()
}

#[test]
fn text_output_has_bpftool_sections_and_lines() {
    for args in [
        &["feature", "probe"][..],
        &["feature", "probe", "kernel"][..],
    ] {
        let ours = skeleton(&stdout(&run(Command::new(BIN).args(args))));
        let theirs = skeleton(&bpftool(args));
        // Every bpftool line appears in our output, in the same order; we may add lines for
        // types bpftool does not know (netfilter, cgrp_storage, arena, ISA v4).
        let mut it = ours.iter();
        for line in &theirs {
            assert!(
                it.any(|l| l == line),
                "bpftool line {line:?} missing (or out of order) in bpfkit's output"
            );
        }
        if args.contains(&"unprivileged") {
            // As nobody, with unprivileged_bpf_disabled set here, nothing is available.
            assert!(ours
                .iter()
                .any(|l| l == "eBPF program_type socket_filter is NOT available"));
        }
        for section in [
            "Scanning system configuration...",
            "Scanning system call availability...",
            "Scanning eBPF program types...",
            "Scanning eBPF map types...",
            "Scanning eBPF helper functions...",
            "Scanning miscellaneous eBPF features...",
        ] {
            assert!(ours.iter().any(|l| l == section), "section {section}");
        }
    }
}

#[test]
fn json_has_bpftool_keys() {
    let ours: serde_json::Value = serde_json::from_str(&stdout(&run(
        Command::new(BIN).args(["-j", "feature", "probe"])
    )))
    .expect("our JSON");
    let theirs: serde_json::Value =
        serde_json::from_str(&bpftool(&["-j", "feature", "probe"])).expect("bpftool JSON");
    let t = theirs.as_object().expect("object");
    let o = ours.as_object().expect("object");
    assert_eq!(
        o.keys().collect::<Vec<_>>(),
        t.keys().collect::<Vec<_>>(),
        "top-level keys in order"
    );
    for (section, tv) in t {
        let ov = o[section]
            .as_object()
            .unwrap_or_else(|| panic!("{section} is not an object"));
        for (k, v) in tv.as_object().expect("section object") {
            let ours_v = ov.get(k).unwrap_or_else(|| panic!("{section}.{k} missing"));
            // Same JSON type for every key; same value outside the helper lists.
            assert_eq!(
                std::mem::discriminant(ours_v),
                std::mem::discriminant(v),
                "{section}.{k}: {ours_v} vs {v}"
            );
            if section != "helpers" {
                assert_eq!(ours_v, v, "{section}.{k}");
            }
        }
    }
    // -p gives the same document, indented.
    let pretty = stdout(&run(Command::new(BIN).args(["-p", "feature", "probe"])));
    assert!(
        pretty.starts_with("{\n    \"system_config\": {\n"),
        "{}",
        &pretty[..40.min(pretty.len())]
    );
    let pv: serde_json::Value = serde_json::from_str(&pretty).expect("pretty JSON");
    assert_eq!(pv["program_types"], ours["program_types"]);
}

#[test]
fn options_after_the_words_and_a_closed_pipe() {
    // bpftool takes its options anywhere on the line.
    let v: serde_json::Value = serde_json::from_str(&stdout(&run(
        Command::new(BIN).args(["feature", "probe", "kernel", "-j"])
    )))
    .expect("JSON");
    assert!(v["program_types"]["have_xdp_prog_type"]
        .as_bool()
        .expect("bool"));

    // A reader that stops early (`| head`) ends the command quietly, without a panic.
    let mut child = Command::new(BIN)
        .args(["feature", "probe"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let o = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(o.status.code(), Some(0), "{err}");
}

#[test]
fn macros_output() {
    let out = stdout(&run(
        Command::new(BIN).args(["feature", "probe", "macros", "prefix", "X_"])
    ));
    assert!(out.contains("#define X_HAVE_BPF_SYSCALL\n"));
    assert!(out.contains("#define X_HAVE_XDP_PROG_TYPE\n"));
    assert!(out.contains("#define X_NO_HAVE_LIRC_MODE2_PROG_TYPE\n"));
    assert!(out.contains("#define X_HAVE_RINGBUF_MAP_TYPE\n"));
    assert!(out.contains("#define X_BPF__PROG_TYPE_xdp__HELPER_bpf_redirect 1\n"));
    assert!(out.contains("#define X_BPF__PROG_TYPE_xdp__HELPER_bpf_get_stackid 0\n"));
    assert!(out.contains("#define X_HAVE_BOUNDED_LOOPS\n"));
}

#[test]
fn bad_arguments_are_usage_errors() {
    let o = run(Command::new(BIN).args(["feature", "probe", "bogus"]));
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bogus"), "{err}");
    let o = run(Command::new(BIN).args(["feature", "nonsense"]));
    assert_eq!(o.status.code(), Some(2));
}

fn unprivileged(args: &[&str]) -> Output {
    // The binary lives under the build directory; nobody must be able to execute it.
    run(Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            BIN,
        ])
        .args(args))
}

#[test]
fn unprivileged_probe_fails_with_one_line_naming_the_capability() {
    let o = unprivileged(&["feature", "probe"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert!(
        o.stdout.is_empty(),
        "no partial report: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("CAP_BPF") || err.contains("CAP_SYS_ADMIN"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    let o = unprivileged(&["-j", "feature", "probe"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON error object");
    assert!(
        v["error"].as_str().is_some_and(|e| e.contains("CAP_BPF")),
        "{v}"
    );
}
