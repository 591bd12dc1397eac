//! `username` (a uid in BPF, named from /etc/passwd when printed), `delete()`'s bool result,
//! `ppid()` and `config()`, run by our driver against the real kernel.

mod common;

use common::body as run;

/// The name /etc/passwd gives the uid this test runs as.
fn my_name() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.get(2) == Some(&uid.as_str())).then(|| f[0].to_string())
        })
        .unwrap_or(uid)
}

#[test]
fn username_prints_the_name_everywhere() {
    let me = my_name();
    let out = run(r#"begin {
        printf("%s|", username); $u = username; print($u); print((username, 1));
        @[username] = count(); @x = username; exit(); }"#);
    assert_eq!(
        out,
        format!("{me}|{me}\n({me}, 1)\n\n\n@[{me}]: 1\n@x: {me}\n")
    );
}

#[test]
fn delete_says_whether_an_element_was_there() {
    let out = run(r#"begin { @a[1] = 1; @ = 2;
        printf("%d %d %d %d\n", delete(@a, 2), delete(@a, 1), delete(@a, 1), delete(@));
        if (!delete(@a, 7)) { print("absent"); } exit(); }"#);
    assert_eq!(out, "0 1 0 1\nabsent\n\n\n");
}

/// The parent's pid from /proc/self/stat (the fourth field, after the parenthesised comm).
fn parent_pid() -> String {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rest = stat.rsplit_once(')').unwrap().1;
    rest.split_whitespace().nth(1).unwrap().to_string()
}

#[test]
fn ppid_is_the_parent_of_the_tracer() {
    let p = parent_pid();
    assert_eq!(
        run(r#"begin { printf("%d %d\n", ppid(curtask), ppid()); exit(); }"#),
        format!("{p} {p}\n\n\n")
    );
}

#[test]
fn config_reads_defaults_and_the_config_block() {
    assert_eq!(
        run(
            r#"begin { printf("%d %s %d\n", config().max_strlen, config().stack_mode, config().cpp_demangle); exit(); }"#
        ),
        "1024 bpftrace 1\n\n\n"
    );
    assert_eq!(
        run(
            r#"config = { stack_mode = perf; BPFTRACE_MAX_STRLEN = 64; cpp_demangle = false }
            begin { printf("%d %s %d\n", config().max_strlen, config().stack_mode, config().cpp_demangle); exit(); }"#
        ),
        "64 perf 0\n\n\n"
    );
}

#[test]
fn config_rejects_unknown_variables() {
    let (r, _, err) = common::run_any("begin { print(config().nope); }");
    let all = format!("{r:?} {err}");
    assert!(r != Ok(0), "{all}");
    assert!(
        all.contains("ERROR: Unrecognized config variable: nope"),
        "{all}"
    );
}
