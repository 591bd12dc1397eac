//! Runs the execsnoop example and checks what it reports for execs this test makes.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn fields(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[test]
fn reports_a_marker_exec_and_a_failed_exec() {
    let mut snoop = Command::new(env!("CARGO_BIN_EXE_execsnoop"))
        .args(["--duration", "30"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = snoop.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let header = rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| {
            let _ = snoop.kill();
            let mut err = String::new();
            use std::io::Read;
            let _ = snoop.stderr.take().unwrap().read_to_string(&mut err);
            panic!("execsnoop printed no header: {err}")
        });
    assert_eq!(fields(&header), ["PCOMM", "PID", "PPID", "RET", "ARGS"]);

    let me = std::process::id().to_string();
    let marker = format!(
        "bpfkit_marker_{}_{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    );
    let child = Command::new("/bin/sh")
        .args(["-c", &format!("exec /bin/true {marker}")])
        .spawn()
        .unwrap();
    let ok_pid = child.id().to_string();
    assert!(child.wait_with_output().unwrap().status.success());
    let missing = format!("/nonexistent/{marker}");
    let err = Command::new(&missing).spawn().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(2));

    let mut ok_line = None;
    let mut fail_line = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    while (ok_line.is_none() || fail_line.is_none()) && Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        let f = fields(&line);
        if f.len() >= 6 && f[4] == "/bin/true" && f[5] == marker {
            ok_line = Some(line.clone());
        }
        if f.len() >= 5 && f[4] == missing {
            fail_line = Some(line.clone());
        }
    }
    let _ = snoop.kill();
    let _ = snoop.wait();
    let ok_line = ok_line.expect("the marker exec was reported");
    let f = fields(&ok_line);
    assert_eq!(f[0], "true", "PCOMM after the exec: {ok_line}");
    assert_eq!(f[1], ok_pid, "PID: {ok_line}");
    assert_eq!(f[2], me, "PPID is this test: {ok_line}");
    assert_eq!(f[3], "0", "RET: {ok_line}");
    assert_eq!(f.len(), 6, "ARGS are exactly /bin/true MARKER: {ok_line}");
    let fail_line = fail_line.expect("the failed exec was reported");
    let f = fields(&fail_line);
    assert_eq!(
        f[2], me,
        "the failed exec's parent is this test: {fail_line}"
    );
    assert_eq!(f[3], "-2", "RET is -ENOENT: {fail_line}");
}
