//! The driver on the running kernel: scripts compiled, loaded, run through `begin`/`end`
//! and their output captured; register pressure that forces spills; strings, tuples and
//! string comparison; the event path from a real tracepoint.

mod common;

use bpfkit_trace::driver::{self, Options};
use common::stdout as run;

#[test]
fn twelve_live_variables_spill_and_stay_correct() {
    // More values live across helper calls than r6-r9 hold: several must spill.
    let s = run("begin { $a = 1; $b = 2; $c = 3; $d = 4; $e = 5; $f = 6; $g = 7; $h = 8; $i = 9; $j = 10; $k = 11; $l = 12; $n = nsecs; printf(\"%d %d %d %d\\n\", $a + $b + $c + $d, $e * $f, $g + $h + $i, $j + $k + $l + ($n > 0 ? 1 : 0)); exit(); }");
    assert_eq!(s, "Attached 1 probe\n10 30 24 34\n\n\n");
}

#[test]
fn strings_tuples_and_comparison() {
    let s = run(
        r#"begin { $s = "hello"; $t = (1, "two", 3); if ($s == "hello") { printf("eq\n"); } if ($s != "help") { printf("ne\n"); } @m[$s] = 5; @m["x"] = 1; @t = $t; printf("%s|%-7s|%7s|\n", $s, $s, $s); exit(); }"#,
    );
    assert_eq!(
        s,
        "Attached 1 probe\neq\nne\nhello|hello  |  hello|\n\n\n@m[x]: 1\n@m[hello]: 5\n@t: (1, two, 3)\n"
    );
}

#[test]
fn end_runs_after_exit_and_sees_maps() {
    let s = run("begin { @n = 41; exit(); } end { @n++; printf(\"end %d\\n\", @n); }");
    assert_eq!(s, "Attached 2 probes\nend 42\n\n\n@n: 42\n");
}

#[test]
fn for_range_and_break() {
    let s = run("begin { $t = 0; for ($i : 0..100) { if ($i == 5) { break; } $t += $i; } printf(\"%d\\n\", $t); exit(); }");
    assert_eq!(s, "Attached 1 probe\n10\n\n\n");
}

#[test]
fn tracepoint_fields_reach_the_program() {
    // openat's filename (a user pointer) read with str(); the path is unique to this test.
    let path = format!("/tmp/bpfkit_rt_{}_{}", std::process::id(), line!());
    let script = format!(
        "tracepoint:syscalls:sys_enter_openat /str(args.filename) == \"{path}\"/ {{ printf(\"%s %d\\n\", str(args.filename), pid == {me}); exit(); }}",
        me = std::process::id()
    );
    let p2 = path.clone();
    let opener = std::thread::spawn(move || {
        for _ in 0..200 {
            let _ = std::fs::File::open(&p2);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    });
    let s = run(&script);
    assert_eq!(s, format!("Attached 1 probe\n{path} 1\n\n\n"));
    drop(opener);
}

#[test]
fn kernel_structs_through_btf() {
    // begin runs in the calling thread: its task's tgid is our pid, its parent our parent.
    let s = run("begin { printf(\"%d %d %d\\n\", curtask->tgid, curtask->real_parent->tgid, curtask->tgid == pid); exit(); }");
    let want = format!(
        "Attached 1 probe\n{} {} 1\n\n\n",
        std::process::id(),
        std::os::unix::process::parent_id()
    );
    assert_eq!(s, want);
}

#[test]
fn script_errors_are_rendered_not_panics() {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let r = driver::run(
        "t.bt",
        "begin {\n  printf(\"%d\\n\", curtask->nosuch);\n}",
        &Options::default(),
        &mut out,
        &mut err,
    );
    let e = r.expect_err("unknown member");
    assert!(e.starts_with("t.bt:2:27"), "{e}");
    assert!(e.contains("does not contain a field named 'nosuch'"), "{e}");
    assert!(
        e.contains("\n  printf(\"%d\\n\", curtask->nosuch);\n"),
        "{e}"
    );
}
