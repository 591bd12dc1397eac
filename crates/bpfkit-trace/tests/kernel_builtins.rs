//! Kernel-side builtins (`ncpus`, `numaid`, `usermode`, `kaddr`) run by our driver against the
//! real kernel; outputs are compared with what this machine's sysfs and /proc/kallsyms say.

mod common;

/// Runs `script`; returns the exit code, stdout without the attach line, and stderr.
fn run(script: &str) -> (Result<i32, String>, String, String) {
    let (r, out, err) = common::run_any(script);
    (r, common::after_first_line(&out), err)
}

fn first_line(script: &str) -> String {
    let (r, out, err) = run(script);
    assert_eq!(r, Ok(0), "script: {script}\nstderr: {err}");
    out.lines().next().unwrap_or_default().to_string()
}

#[test]
fn ncpus_counts_possible_cpus() {
    let possible = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap();
    let n: u64 = possible
        .trim()
        .split(',')
        .map(|p| match p.split_once('-') {
            Some((a, b)) => b.parse::<u64>().unwrap() - a.parse::<u64>().unwrap() + 1,
            None => 1,
        })
        .sum();
    assert_eq!(
        first_line(r#"begin { printf("%d\n", ncpus); }"#),
        n.to_string()
    );
}

#[test]
fn numaid_is_a_node_that_exists() {
    let node = first_line(r#"i:ms:1 { printf("%d\n", numaid); exit(); }"#);
    assert!(
        std::path::Path::new(&format!("/sys/devices/system/node/node{node}")).exists()
            || node == "0",
        "numaid printed {node:?}"
    );
}

#[test]
fn usermode_is_one_in_begin_and_end() {
    assert_eq!(
        first_line(r#"begin { printf("%d ", usermode); } end { print(usermode); }"#),
        "1 1"
    );
}

#[test]
fn kaddr_matches_kallsyms() {
    let text = std::fs::read_to_string("/proc/kallsyms").unwrap();
    let addr = text
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(2) == Some(&"do_nanosleep")).then(|| f[0].trim_start_matches('0').to_string())
        })
        .expect("do_nanosleep in kallsyms");
    assert_eq!(
        first_line(r#"begin { printf("%lx\n", kaddr("do_nanosleep")); }"#),
        addr
    );
}

#[test]
fn kaddr_of_unknown_symbol_is_an_error_with_a_caret() {
    let (r, _, err) = run(r#"begin { print(kaddr("asdfzzzzzzz")) }"#);
    let text = match r {
        Ok(code) => panic!("exit code {code}, stderr: {err}"),
        Err(e) => format!("{err}{e}"),
    };
    assert_eq!(
        text.trim_end(),
        "stdin:1:15-35: ERROR: Failed to resolve kernel symbol: asdfzzzzzzz\n\
         begin { print(kaddr(\"asdfzzzzzzz\")) }\n              ~~~~~~~~~~~~~~~~~~~~"
    );
}

#[test]
fn has_key_and_len_refuse_a_map_without_keys() {
    for (script, want) in [
        (
            r#"begin { @g = 2; if (has_key(@g, 2)) { printf("ok\n"); } }"#,
            "stdin:1:29-31: ERROR: call to has_key() expects a map with explicit keys (non-scalar map)",
        ),
        (
            r#"begin { @ = 0; printf("%d\n", len(@)); }"#,
            "stdin:1:35-36: ERROR: call to len() expects a map with explicit keys (non-scalar map)",
        ),
    ] {
        let (r, _, err) = run(script);
        let text = match r {
            Ok(code) => panic!("exit code {code}, stderr: {err}"),
            Err(e) => format!("{err}{e}"),
        };
        assert_eq!(text.lines().next(), Some(want), "script: {script}");
    }
}
