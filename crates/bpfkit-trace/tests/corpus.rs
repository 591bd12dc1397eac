//! Every bpftrace runtime case's program and every installed `/usr/sbin/*.bt` tool parses.

use bpfkit_trace::diag::SourceFile;
use bpfkit_trace::lexer::LexOptions;
use bpfkit_trace::parser::parse;
use bpfkit_trace::testcases::{load_dir, TestCase};
use std::path::{Path, PathBuf};

fn runtime_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bpftrace-tests/runtime")
}

fn cases() -> Vec<TestCase> {
    let dir = runtime_dir();
    load_dir(&dir)
        .unwrap_or_else(|e| panic!("bpftrace runtime cases missing at {}: {e}", dir.display()))
}

/// A WILL_FAIL case may fail to parse only if it expects an error at a position.
fn expects_error(c: &TestCase) -> bool {
    c.will_fail
}

#[test]
fn runtime_case_programs_parse() {
    let cases = cases();
    assert!(cases.len() > 500, "only {} cases", cases.len());
    let mut total = 0;
    let mut failures = Vec::new();
    for c in &cases {
        for prog in c.programs() {
            total += 1;
            if let Err(d) = parse(&prog, &LexOptions::with_btf()) {
                if expects_error(c) {
                    eprintln!(
                        "expected failure {}:{} {}: {:?}",
                        c.suite, c.line, c.name, d
                    );
                    continue;
                }
                let src = SourceFile::new("stdin", prog.as_str());
                failures.push(format!(
                    "{}:{} {}\n{}",
                    c.suite,
                    c.line,
                    c.name,
                    src.render_all(&d)
                ));
            }
        }
    }
    eprintln!(
        "parsed {} of {total} runtime programs",
        total - failures.len()
    );
    assert!(total > 450, "only {total} programs found");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn usr_sbin_bt_tools_parse() {
    let mut tools: Vec<_> = std::fs::read_dir("/usr/sbin")
        .expect("/usr/sbin")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "bt"))
        .collect();
    tools.sort();
    assert!(
        tools.len() >= 30,
        "only {} .bt tools in /usr/sbin",
        tools.len()
    );
    let mut failures = Vec::new();
    for t in &tools {
        let text = std::fs::read_to_string(t).unwrap();
        if let Err(d) = parse(&text, &LexOptions::with_btf()) {
            let src = SourceFile::new(t.display().to_string(), text.as_str());
            failures.push(src.render_all(&d));
        }
    }
    eprintln!(
        "parsed {} of {} tools",
        tools.len() - failures.len(),
        tools.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
