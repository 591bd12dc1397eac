//! Runs the example on a fresh child cgroup: /dev/null is denied inside while it runs and
//! allowed again once it exits; outside the cgroup nothing changes.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use bpfkit_testsupport::ChildCgroup;

fn cat_null_inside(cg: &ChildCgroup) -> bool {
    cg.sh("exec cat /dev/null").status.success()
}

#[test]
fn denies_dev_null_inside_while_running() {
    let cg = ChildCgroup::new();
    assert!(cat_null_inside(&cg));
    let mut ex = Command::new(env!("CARGO_BIN_EXE_cgroup-dev-deny"))
        .args([cg.path_str(), "--duration", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(ex.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    if !first.starts_with("denying 1:3") {
        let mut err = String::new();
        let _ = ex.stderr.take().unwrap().read_to_string(&mut err);
        panic!("example did not attach: {first}{err}");
    }
    assert!(!cat_null_inside(&cg), "/dev/null is denied inside");
    assert!(!cat_null_inside(&cg));
    assert!(
        std::fs::File::open("/dev/null").is_ok(),
        "outside is unaffected"
    );
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(ex.wait().unwrap().success(), "{rest}");
    assert_eq!(rest, "denied 2\n");
    assert!(
        cat_null_inside(&cg),
        "allowed again after the example exits"
    );
}
