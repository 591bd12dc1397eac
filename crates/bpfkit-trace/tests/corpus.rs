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

#[test]
fn checker_accepts_the_corpus() {
    use bpfkit_trace::check::{check, CheckOptions};
    use bpfkit_trace::types::NoTypes;
    let opts = CheckOptions {
        allow_unsafe: true,
        ..CheckOptions::default()
    };
    let mut total = 0;
    let mut failures = Vec::new();
    let mut progs: Vec<(String, String)> = Vec::new();
    for c in cases() {
        if c.will_fail {
            continue;
        }
        for p in c.programs() {
            progs.push((format!("{}:{} {}", c.suite, c.line, c.name), p));
        }
    }
    for e in std::fs::read_dir("/usr/sbin").expect("/usr/sbin").flatten() {
        if e.path().extension().is_some_and(|x| x == "bt") {
            progs.push((
                e.path().display().to_string(),
                std::fs::read_to_string(e.path()).unwrap(),
            ));
        }
    }
    for (what, prog) in &progs {
        let Ok(ast) = parse(prog, &LexOptions::with_btf()) else {
            continue;
        };
        total += 1;
        if let Err(d) = check(&ast, &NoTypes, &opts) {
            let src = SourceFile::new("stdin", prog.as_str());
            failures.push(format!("{what}\n{}", src.render_all(&d)));
        }
    }
    eprintln!(
        "checked {} of {total} programs without error",
        total - failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_tracefs_format_parses() {
    use bpfkit_trace::tracepoint::read_format;
    let tracefs = Path::new("/sys/kernel/tracing");
    assert!(
        tracefs.join("events").is_dir(),
        "tracefs is not mounted at /sys/kernel/tracing"
    );
    let mut n = 0;
    let mut bad = Vec::new();
    for cat in std::fs::read_dir(tracefs.join("events")).unwrap().flatten() {
        if !cat.path().is_dir() {
            continue;
        }
        for ev in std::fs::read_dir(cat.path()).unwrap().flatten() {
            if !ev.path().join("format").is_file() {
                continue;
            }
            let (c, e) = (cat.file_name(), ev.file_name());
            n += 1;
            match read_format(tracefs, &c.to_string_lossy(), &e.to_string_lossy()) {
                Ok(f) => {
                    if f.fields.iter().filter(|f| f.common).count() < 4 {
                        bad.push(format!("{c:?}:{e:?}: common fields missing"));
                    }
                }
                Err(err) => bad.push(err.to_string()),
            }
        }
    }
    eprintln!("{n} tracepoint formats parsed");
    assert!(n > 1000, "only {n} tracepoints");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    let f = read_format(tracefs, "syscalls", "sys_enter_execve").unwrap();
    let args: Vec<&str> = f.args().map(|a| a.decl.as_str()).collect();
    assert_eq!(
        args,
        [
            "int __syscall_nr",
            "const char * filename",
            "const char *const * argv",
            "const char *const * envp"
        ]
    );
}

#[test]
fn acceptance_one_liner_checks_against_tracefs() {
    use bpfkit_trace::check::{check, CheckOptions};
    use bpfkit_trace::tracepoint::Tracefs;
    use bpfkit_trace::types::Type;
    let ts = Tracefs::new("/sys/kernel/tracing");
    let prog = "tracepoint:syscalls:sys_enter_execve,tracepoint:syscalls:sys_enter_execveat { printf(\"pid: %d, comm: %s, args: %s\\n\", pid, comm, join(args->argv)); }";
    let ast = parse(prog, &LexOptions::with_btf()).unwrap();
    check(&ast, &ts, &CheckOptions::default()).unwrap();

    let prog = "tracepoint:syscalls:sys_enter_openat { @[str(args.filename)] = count(); $f = args.flags; print(args.nosuch); }";
    let ast = parse(prog, &LexOptions::with_btf()).unwrap();
    let errs = check(&ast, &ts, &CheckOptions::default()).unwrap_err();
    let r = SourceFile::new("stdin", prog).render_all(&errs);
    assert_eq!(
        r,
        "stdin:1:96-107: ERROR: Struct/union of type 'struct _tracepoint_syscalls_sys_enter_openat' does not contain a field named 'nosuch'\n\
         tracepoint:syscalls:sys_enter_openat { @[str(args.filename)] = count(); $f = args.flags; print(args.nosuch); }\n\
         \x20                                                                                              ~~~~~~~~~~~\n"
    );

    let prog = "tracepoint:sched:sched_switch { $p = args.prev_pid; $c = args.prev_comm; }";
    let ast = parse(prog, &LexOptions::with_btf()).unwrap();
    let c = check(&ast, &ts, &CheckOptions::default()).unwrap();
    let ty = |needle: &str| {
        let at = prog.find(needle).unwrap();
        c.expr_types
            .iter()
            .find(|(s, _)| s.start == at && s.end == at + needle.len())
            .map(|(_, t)| t.clone())
    };
    assert_eq!(
        ty("args.prev_pid"),
        Some(Type::Int {
            bits: 32,
            signed: true
        })
    );
    assert_eq!(ty("args.prev_comm"), Some(Type::Str(16)));
}
