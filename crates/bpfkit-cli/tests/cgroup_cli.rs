//! `bpfkit cgroup` on fresh child cgroups: attachments outlive the CLI and act on processes
//! inside, `show` and `tree` print what Debian's bpftool 7.1 prints (text and JSON), flags
//! and bad input behave, and `detach` removes the program.

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use bpfkit_testsupport::{run, ChildCgroup};
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

fn one_line_error(args: &[&str]) -> String {
    let o = bpfkit(args);
    assert_eq!(o.status.code(), Some(1), "bpfkit {args:?} should fail");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
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

#[test]
fn device_filter_from_the_cli_denies_dev_null_inside_and_matches_bpftool() {
    let cg = ChildCgroup::new();
    let obj = fixture("cgroup_dev_deny.bpf.o");
    assert!(cg.sh("exec cat /dev/null").status.success());
    ok(&["cgroup", "attach", cg.path_str(), "device", "object", &obj]);
    // The CLI exited; the program still guards the cgroup.
    let inside = cg.sh("exec cat /dev/null");
    assert!(!inside.status.success());
    assert!(String::from_utf8_lossy(&inside.stderr).contains("Operation not permitted"));
    assert!(
        std::fs::File::open("/dev/null").is_ok(),
        "outside is unaffected"
    );

    for args in [
        vec!["cgroup", "show", cg.path_str()],
        vec!["cgroup", "show", cg.path_str(), "effective"],
        vec!["cgroup", "tree", cg.path_str()],
        vec!["-p", "cgroup", "tree", cg.path_str()],
    ] {
        assert_eq!(ok(&args), bpftool(&args), "{args:?}");
    }
    let j = ["-j", "cgroup", "show", cg.path_str()];
    let shown = json(&ok(&j));
    assert_eq!(shown, json(&bpftool(&j)));
    assert_eq!(shown[0]["attach_type"], "cgroup_device");
    assert_eq!(shown[0]["name"], "cgroup_dev_deny");
    let id = shown[0]["id"].as_u64().unwrap();

    let ids = id.to_string();
    ok(&["cgroup", "detach", cg.path_str(), "device", "id", &ids]);
    assert!(cg.sh("exec cat /dev/null").status.success());
    assert_eq!(
        ok(&["cgroup", "show", cg.path_str()]),
        bpftool(&["cgroup", "show", cg.path_str()])
    );
    assert_eq!(ok(&j), bpftool(&j));
    prog_gone(id);
}

#[test]
fn multi_and_override_flags_are_shown_as_bpftool_shows_them() {
    let parent = ChildCgroup::new();
    let kid = ChildCgroup::new_in(parent.path());
    let obj = fixture("cgroup_dev_deny.bpf.o");
    ok(&[
        "cgroup",
        "attach",
        parent.path_str(),
        "device",
        "object",
        &obj,
        "multi",
    ]);
    ok(&[
        "cgroup",
        "attach",
        parent.path_str(),
        "device",
        "object",
        &obj,
        "multi",
    ]);
    ok(&[
        "cgroup",
        "attach",
        kid.path_str(),
        "device",
        "object",
        &obj,
        "multi",
    ]);
    let j = ["-j", "cgroup", "show", parent.path_str()];
    let shown = json(&ok(&j));
    assert_eq!(shown, json(&bpftool(&j)));
    assert_eq!(shown.as_array().unwrap().len(), 2);
    assert!(shown
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["attach_flags"] == "multi"));
    let eff = ["-j", "cgroup", "show", kid.path_str(), "effective"];
    assert_eq!(json(&ok(&eff)).as_array().unwrap().len(), 3);
    assert_eq!(json(&ok(&eff)), json(&bpftool(&eff)));
    for args in [
        vec!["cgroup", "tree", parent.path_str()],
        vec!["-j", "cgroup", "tree", parent.path_str()],
    ] {
        assert_eq!(ok(&args), bpftool(&args), "{args:?}");
    }

    // An exclusive attach where multi programs run is refused, and they stay.
    let err = one_line_error(&[
        "cgroup",
        "attach",
        parent.path_str(),
        "device",
        "object",
        &obj,
    ]);
    assert!(
        err.contains("already has a program on cgroup_device"),
        "{err}"
    );
    assert_eq!(json(&ok(&j)), shown);

    let mut all: Vec<u64> = shown
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_u64().unwrap())
        .collect();
    for p in json(&ok(&["-j", "cgroup", "show", kid.path_str()]))
        .as_array()
        .unwrap()
    {
        let id = p["id"].as_u64().unwrap();
        ok(&[
            "cgroup",
            "detach",
            kid.path_str(),
            "device",
            "id",
            &id.to_string(),
        ]);
        all.push(id);
    }
    for id in &all[..2] {
        ok(&[
            "cgroup",
            "detach",
            parent.path_str(),
            "device",
            "id",
            &id.to_string(),
        ]);
    }
    // Override: the child may then replace the parent's program for itself.
    ok(&[
        "cgroup",
        "attach",
        parent.path_str(),
        "device",
        "object",
        &obj,
        "override",
    ]);
    let shown = json(&ok(&j));
    assert_eq!(shown[0]["attach_flags"], "override");
    assert_eq!(shown, json(&bpftool(&j)));
    let id = shown[0]["id"].as_u64().unwrap();
    ok(&[
        "cgroup",
        "detach",
        parent.path_str(),
        "device",
        "id",
        &id.to_string(),
    ]);
    all.push(id);
    drop(kid);
    for id in all {
        prog_gone(id);
    }
}

#[test]
fn bad_cgroup_input_is_one_clear_line() {
    let cg = ChildCgroup::new();
    let obj = fixture("cgroup_dev_deny.bpf.o");
    let err = one_line_error(&["cgroup", "show", "/nonexistent/cgroup"]);
    assert_eq!(err, "Error: can't open cgroup /nonexistent/cgroup");
    let err = one_line_error(&["cgroup", "attach", cg.path_str(), "egress", "object", &obj]);
    assert!(
        err.contains("is of type cgroup_device, but cgroup hook cgroup_inet_egress needs a cgroup_skb program"),
        "{err}"
    );
    let err = one_line_error(&[
        "cgroup",
        "attach",
        cg.path_str(),
        "sideways",
        "object",
        &obj,
    ]);
    assert_eq!(err, "Error: invalid attach type: sideways");
    ok(&["cgroup", "attach", cg.path_str(), "device", "object", &obj]);
    let j = json(&ok(&["-j", "cgroup", "show", cg.path_str()]));
    let id = j[0]["id"].as_u64().unwrap();
    let other = ok(&["-j", "prog", "show", "id", &id.to_string()]);
    assert!(other.contains("cgroup_dev_deny"));
    let err = one_line_error(&[
        "cgroup",
        "detach",
        cg.path_str(),
        "egress",
        "id",
        &id.to_string(),
    ]);
    assert!(err.contains("is not attached"), "{err}");
    ok(&[
        "cgroup",
        "detach",
        cg.path_str(),
        "device",
        "id",
        &id.to_string(),
    ]);
    prog_gone(id);
    assert!(cg.path().exists());
}
