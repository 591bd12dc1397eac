//! Runs the example on a fresh child cgroup: /dev/null is denied inside while it runs and
//! allowed again once it exits; outside the cgroup nothing changes.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn cgroup2_root() -> PathBuf {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    mounts
        .lines()
        .find_map(|l| {
            let mut f = l.split_whitespace();
            let (_, dir, ty) = (f.next()?, f.next()?, f.next()?);
            (ty == "cgroup2").then(|| PathBuf::from(dir))
        })
        .expect("a cgroup2 mount")
}

struct Child(PathBuf);

impl Drop for Child {
    fn drop(&mut self) {
        for _ in 0..50 {
            if std::fs::remove_dir(&self.0).is_ok() || !self.0.exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

fn cat_null_inside(cg: &Child) -> bool {
    Command::new("bash")
        .args([
            "-c",
            &format!(
                "echo $$ > {}/cgroup.procs && exec cat /dev/null",
                cg.0.display()
            ),
        ])
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn denies_dev_null_inside_while_running() {
    let cg = Child(cgroup2_root().join(format!("bpfkit_ex_dev_{}", std::process::id())));
    std::fs::create_dir(&cg.0).unwrap();
    assert!(cat_null_inside(&cg));
    let mut ex = Command::new(env!("CARGO_BIN_EXE_cgroup-dev-deny"))
        .args([cg.0.to_str().unwrap(), "--duration", "2"])
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
