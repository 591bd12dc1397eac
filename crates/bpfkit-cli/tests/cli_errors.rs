//! Errors as bpftool prints them: one `Error: …` line on stderr (or one `{"error":…}` line on
//! stdout under `-j`) and a non-zero exit, never a panic. Where bpftool 7.1 words the error
//! the same way, the text is compared with its output. bpftool exits 255 (or 254); bpfkit
//! exits 1 for a failure and 2 for a usage error, as the project's CLI convention says.

use std::path::PathBuf;
use std::process::{Command, Output};

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin).args(args).output().expect("run")
}

fn ours(args: &[&str]) -> Output {
    run(env!("CARGO_BIN_EXE_bpfkit"), args)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Checks bpfkit's failure shape in text and JSON mode; returns (stderr line, JSON line).
fn failure(args: &[&str]) -> (String, String) {
    let o = ours(args);
    let err = text(&o.stderr);
    assert!(!o.status.success(), "{args:?} succeeded");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: one line, got {err:?}");
    assert!(err.starts_with("Error: "), "{args:?}: {err}");
    let mut j = vec!["-j"];
    j.extend_from_slice(args);
    let oj = ours(&j);
    assert!(!oj.status.success());
    let out = text(&oj.stdout);
    assert_eq!(out.lines().count(), 1, "{j:?}: {out:?}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON error object");
    assert_eq!(
        v["error"].as_str(),
        err.trim_end().strip_prefix("Error: "),
        "same message in both modes"
    );
    assert!(
        oj.stderr.is_empty(),
        "nothing on stderr under -j: {}",
        text(&oj.stderr)
    );
    (err, out)
}

/// bpfkit's error equals bpftool's, in text and JSON.
fn same_as_bpftool(args: &[&str]) {
    let (err, json) = failure(args);
    let t = run("bpftool", args);
    assert!(!t.status.success());
    assert_eq!(err, text(&t.stderr), "{args:?}");
    let mut j = vec!["-j"];
    j.extend_from_slice(args);
    let tj = run("bpftool", &j);
    assert_eq!(json, text(&tj.stdout), "{j:?}");
}

fn scratch(tag: &str) -> PathBuf {
    let p = PathBuf::from(format!(
        "/sys/fs/bpf/bpfkit_cli_err_{tag}_{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&p).expect("pin dir");
    p
}

#[test]
fn bad_ids_and_specs() {
    same_as_bpftool(&["prog", "show", "id", "4294967295"]);
    same_as_bpftool(&["prog", "dump", "xlated", "id", "4294967295"]);
    same_as_bpftool(&["map", "show", "id", "4294967295"]);
    same_as_bpftool(&["map", "dump", "id", "4294967295"]);
    same_as_bpftool(&["link", "show", "id", "99999999"]);
    same_as_bpftool(&["prog", "show", "id", "abc"]);
    same_as_bpftool(&["prog", "show", "id"]);
    same_as_bpftool(&["prog", "show", "tag", "zz"]);
    same_as_bpftool(&["prog", "show", "foo", "1"]);
    same_as_bpftool(&["map", "show", "foo", "1"]);
    // bpftool prints this one twice; bpfkit once, with the same first line.
    let (err, _) = failure(&["btf", "dump", "id", "4294967295"]);
    let t = run("bpftool", &["btf", "dump", "id", "4294967295"]);
    assert_eq!(Some(err.trim_end()), text(&t.stderr).lines().next());
    failure(&["prog", "show", "name", "bpfkit_no_such_program_name"]);
}

#[test]
fn stale_and_foreign_pins() {
    let dir = scratch("pins");
    let missing = dir.join("gone").display().to_string();
    same_as_bpftool(&["prog", "show", "pinned", &missing]);
    same_as_bpftool(&["map", "dump", "pinned", &missing]);
    same_as_bpftool(&["prog", "show", "pinned", "/etc/passwd"]);
    same_as_bpftool(&["map", "show", "pinned", "/etc/passwd"]);
    // A pin of the wrong kind.
    let m = dir.join("m").display().to_string();
    let c = ours(&[
        "map", "create", &m, "type", "array", "key", "4", "value", "4", "entries", "1", "name",
        "errmap",
    ]);
    assert!(c.status.success(), "{}", text(&c.stderr));
    same_as_bpftool(&["prog", "show", "pinned", &m]);
    same_as_bpftool(&["link", "show", "pinned", &m]);
    // The pin removed: stale path.
    std::fs::remove_file(&m).unwrap();
    same_as_bpftool(&["map", "show", "pinned", &m]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn wrong_key_and_value_sizes() {
    let dir = scratch("keys");
    let m = dir.join("h").display().to_string();
    let c = ours(&[
        "map", "create", &m, "type", "hash", "key", "8", "value", "4", "entries", "4", "name",
        "errhash",
    ]);
    assert!(c.status.success(), "{}", text(&c.stderr));
    same_as_bpftool(&["map", "lookup", "pinned", &m, "key", "1", "2"]);
    same_as_bpftool(&[
        "map", "lookup", "pinned", &m, "key", "1", "2", "3", "4", "5", "6", "7", "8", "9",
    ]);
    same_as_bpftool(&["map", "lookup", "pinned", &m, "key", "zz"]);
    same_as_bpftool(&["map", "lookup", "pinned", &m, "key", "hex", "0g"]);
    same_as_bpftool(&["map", "lookup", "pinned", &m]);
    same_as_bpftool(&[
        "map", "update", "pinned", &m, "key", "1", "2", "3", "4", "5", "6", "7", "8", "value", "1",
    ]);
    same_as_bpftool(&[
        "map", "update", "pinned", &m, "key", "1", "2", "3", "4", "5", "6", "7", "8",
    ]);
    same_as_bpftool(&[
        "map", "delete", "pinned", &m, "key", "1", "2", "3", "4", "5", "6", "7", "8",
    ]);
    same_as_bpftool(&["map", "getnext", "pinned", &m]);
    same_as_bpftool(&[
        "map", "update", "pinned", &m, "key", "1", "2", "3", "4", "5", "6", "7", "8", "value", "1",
        "0", "0", "0", "exist",
    ]);
    // A value of 256 is not a byte.
    failure(&[
        "map", "update", "pinned", &m, "key", "256", "0", "0", "0", "0", "0", "0", "0", "value",
        "1", "0", "0", "0",
    ]);
    // Lookup of a missing key: bpftool's "Not found" text, non-zero exit.
    let o = ours(&[
        "map", "lookup", "pinned", &m, "key", "1", "0", "0", "0", "0", "0", "0", "0",
    ]);
    let t = run(
        "bpftool",
        &[
            "map", "lookup", "pinned", &m, "key", "1", "0", "0", "0", "0", "0", "0", "0",
        ],
    );
    assert!(!o.status.success() && !t.status.success());
    assert_eq!(text(&o.stdout), text(&t.stdout));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec!["prog", "frobnicate"],
        vec!["map", "frobnicate"],
        vec!["btf", "frob"],
    ] {
        let o = ours(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = text(&o.stderr);
        assert!(err.starts_with("Error: unknown "), "{err}");
        assert!(!err.contains("panicked"));
    }
}
