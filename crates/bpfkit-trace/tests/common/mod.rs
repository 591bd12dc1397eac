//! Helpers shared by the tracer's integration tests: a script run in this process by the
//! driver (output captured), and the built `bpfkit` binary run as `bpfkit trace ARGS`.
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bpfkit_trace::driver::{self, Options};

/// Runs `script` to completion with `opts`; returns the driver's result, stdout and stderr.
pub fn run_opts(script: &str, opts: &Options) -> (Result<i32, String>, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let r = driver::run("stdin", script, opts, &mut out, &mut err);
    (
        r,
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

/// [`run_opts`] with the default options.
pub fn run_any(script: &str) -> (Result<i32, String>, String, String) {
    run_opts(script, &Options::default())
}

/// Runs `script` with `opts`, which must exit 0, and returns its standard output.
pub fn stdout_opts(script: &str, opts: &Options) -> String {
    let (r, out, err) = run_opts(script, opts);
    assert_eq!(r, Ok(0), "script: {script}\nstderr: {err}");
    out
}

/// [`stdout_opts`] with the default options.
pub fn stdout(script: &str) -> String {
    stdout_opts(script, &Options::default())
}

/// [`stdout`] without its first line (the attach line); empty when there is no line end.
pub fn body(script: &str) -> String {
    after_first_line(&stdout(script))
}

/// `s` after its first line end; empty when it has none.
pub fn after_first_line(s: &str) -> String {
    s.split_once('\n')
        .map(|x| x.1.to_string())
        .unwrap_or_default()
}

/// The `bpfkit` binary: `BPFKIT_BIN`, else the one beside this test's `deps/` folder
/// (`cargo build -p bpfkit-cli` builds it).
pub fn bpfkit_bin() -> PathBuf {
    if let Ok(b) = std::env::var("BPFKIT_BIN") {
        return PathBuf::from(b);
    }
    let exe = std::env::current_exe().expect("path of the test binary");
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary lives in <target>/<profile>/deps")
        .join("bpfkit")
}

/// Runs `bpfkit trace ARGS` to completion and returns what it printed and its status.
pub fn trace(args: &[&str]) -> Output {
    Command::new(bpfkit_bin())
        .arg("trace")
        .args(args)
        .output()
        .expect("run bpfkit")
}

/// Bytes as text, with invalid UTF-8 replaced.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
