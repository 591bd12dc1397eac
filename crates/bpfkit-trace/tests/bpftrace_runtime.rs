//! bpftrace's runtime test cases (../shared/bpftrace-tests) run against `bpfkit trace` by
//! `bpfkit_trace::harness`, as a regression gate: every case listed in
//! `tests/bpftrace_baseline.txt` must still pass, and over all suites at least the 90 %
//! of the runnable cases must pass (docs/bpftrace-cases.md explains the gate).
//!
//! Environment:
//! - `BPFKIT_TRACER`: the command `{{BPFTRACE}}` stands for (words split on blanks), e.g.
//!   `/usr/bin/bpftrace` to check the harness against Debian's tracer; default: the `bpfkit`
//!   binary of this target dir (or `BPFKIT_BIN`) followed by `trace`. With a custom tracer the
//!   gate uses `BPFKIT_CASES_BASELINE` when set and is off otherwise.
//! - `BPFKIT_CASES_DIR`: the folder holding `runtime/`.
//! - `BPFKIT_CASES_SUITES`: comma separated suites to run (default: all).
//! - `BPFKIT_CASES_JOBS`, `BPFKIT_CASES_BUDGET` (seconds): parallelism and global budget.
//! - `BPFKIT_CASES_VERBOSE=1`: also list skipped cases.
//! - `BPFKIT_CASES_WRITE_PASSING=FILE`: write the cases that passed without being killed at
//!   their TIMEOUT there (to refresh the baseline).
//!
//! A second test checks the harness itself with Debian's bpftrace on cases written here.

mod common;

use common::bpfkit_bin;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bpfkit_trace::harness::{self, CaseResult, Harness, Outcome, Summary};
use bpfkit_trace::testcases;

const TARGET_PERCENT: f64 = 90.0;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn env_num(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

fn cases_dir() -> PathBuf {
    std::env::var_os("BPFKIT_CASES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("../shared/bpftrace-tests"))
}

#[test]
fn bpftrace_runtime_cases() {
    let custom = std::env::var("BPFKIT_TRACER").ok();
    let tracer: Vec<String> = match &custom {
        Some(t) => t.split_whitespace().map(str::to_string).collect(),
        None => {
            let bin = bpfkit_bin();
            assert!(
                bin.is_file(),
                "{} is missing: build it first (cargo build -p bpfkit-cli) or set BPFKIT_BIN",
                bin.display()
            );
            vec![bin.display().to_string(), "trace".to_string()]
        }
    };
    let root = cases_dir();
    let mut cases = testcases::load_dir(&root.join("runtime"))
        .unwrap_or_else(|e| panic!("cannot read the cases under {}: {e}", root.display()));
    assert!(
        cases.len() > 100,
        "only {} cases found under {}",
        cases.len(),
        root.display()
    );
    let suites: Option<Vec<String>> = std::env::var("BPFKIT_CASES_SUITES").ok().map(|s| {
        s.split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect()
    });
    if let Some(want) = &suites {
        cases.retain(|c| want.contains(&c.suite));
        assert!(!cases.is_empty(), "no case in suites {want:?}");
    }

    // Cases run from a folder of their own that links `runtime/`: files a case writes into
    // its working directory (`skboutput("receive.pcap", …)`) stay out of the shared folder.
    let work = std::env::temp_dir().join(format!("bpfkit-cases-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("case working folder");
    let runtime = std::fs::canonicalize(root.join("runtime")).expect("runtime folder");
    std::os::unix::fs::symlink(&runtime, work.join("runtime")).expect("link runtime/");
    let _work_gone = RemoveOnDrop(work.clone());
    let mut h = Harness::new(tracer, work);
    h.jobs = env_num("BPFKIT_CASES_JOBS", 2) as usize;
    h.budget = Duration::from_secs(env_num("BPFKIT_CASES_BUDGET", 420));
    let verbose = std::env::var("BPFKIT_CASES_VERBOSE").is_ok_and(|v| v == "1");
    println!("tracer: {}", h.tracer_text());
    println!(
        "machine: {} kernel {:?}, kprobes {}, fentry {}, hardware events {}",
        h.machine.arch, h.machine.kernel, h.machine.kprobes, h.machine.fentry, h.machine.hardware
    );
    let t0 = Instant::now();
    let results = h.run(&cases, &|r: &CaseResult| {
        if let Some(d) = r.describe() {
            if verbose || !matches!(r.outcome, Outcome::Skip(_)) {
                println!("{d}");
            }
        }
    });
    let summary = Summary::of(&results);
    println!("{}", summary.render(TARGET_PERCENT));
    println!("run time: {:.1} s", t0.elapsed().as_secs_f64());

    if let Ok(path) = std::env::var("BPFKIT_CASES_WRITE_PASSING") {
        let mut text = String::new();
        // A pass that needed the TIMEOUT kill depends on how fast the tracer handles SIGTERM
        // on a loaded machine: not a stable gate.
        for r in results
            .iter()
            .filter(|r| r.outcome == Outcome::Pass && !r.timed_out)
        {
            text.push_str(&r.key());
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{path}: {e}"));
    }

    let baseline_path = match (&custom, std::env::var("BPFKIT_CASES_BASELINE")) {
        (_, Ok(p)) => Some(PathBuf::from(p)),
        (None, Err(_)) => {
            Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bpftrace_baseline.txt"))
        }
        (Some(_), Err(_)) => None,
    };
    let Some(baseline_path) = baseline_path else {
        println!("gate off: custom tracer without BPFKIT_CASES_BASELINE");
        return;
    };
    let text = std::fs::read_to_string(&baseline_path)
        .unwrap_or_else(|e| panic!("{}: {e}", baseline_path.display()));
    let mut baseline = harness::read_baseline(&text);
    if let Some(want) = &suites {
        baseline.retain(|k| {
            k.split_once(": ")
                .is_some_and(|(s, _)| want.iter().any(|w| w == s))
        });
    }
    let lost = harness::regressions(&baseline, &results);
    assert!(
        lost.is_empty(),
        "{} of {} baseline cases ({}) no longer pass:\n{}",
        lost.len(),
        baseline.len(),
        baseline_path.display(),
        lost.join("\n")
    );
    // The target, over the whole set (a chosen subset of suites says nothing of it).
    if suites.is_none() {
        assert!(
            summary.total.pass_rate() >= TARGET_PERCENT,
            "{:.1}% of the runnable cases pass, under the {TARGET_PERCENT}% target",
            summary.total.pass_rate()
        );
    }
}

/// Removes a folder when dropped (also when an assertion fails).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes a suite file and an expected JSON file into a fresh folder.
fn scratch_root(suite: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bpfkit-cases-selftest-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("runtime/outputs")).expect("scratch folder");
    std::fs::write(dir.join("runtime/selftest"), suite).expect("suite file");
    std::fs::write(
        dir.join("runtime/outputs/x.json"),
        "{\"type\": \"map\", \"data\": {\"@x\": 1}}\n",
    )
    .expect("json file");
    dir
}

/// The harness's mechanics (notify wait, AFTER, TIMEOUT kill, JSON mode, exit codes, skips)
/// against a real tracer, Debian's bpftrace, on cases its 0.17 dialect understands.
#[test]
fn harness_mechanics_with_debian_bpftrace() {
    let bpftrace =
        std::env::var("BPFKIT_PEER_BPFTRACE").unwrap_or_else(|_| "/usr/bin/bpftrace".into());
    assert!(
        Path::new(&bpftrace).is_file(),
        "{bpftrace} is missing: apt-get install bpftrace"
    );
    let marker = format!("/tmp/bpfkit-selftest-{}", std::process::id());
    let suite = format!(
        "NAME prints\n\
         PROG BEGIN {{ printf(\"hello %d\\n\", 42); exit(); }}\n\
         EXPECT hello 42\n\
         TIMEOUT 5\n\
         \n\
         NAME after runs once attached\n\
         PROG tracepoint:syscalls:sys_enter_openat /str(args->filename) == \"{marker}\"/ {{ printf(\"saw %s\\n\", str(args->filename)); exit(); }}\n\
         AFTER cat {marker}\n\
         EXPECT saw {marker}\n\
         TIMEOUT 5\n\
         \n\
         NAME timeout ends a tracer that never exits\n\
         PROG interval:s:30 {{ exit(); }}\n\
         EXPECT_REGEX ^Attach(ed|ing) 1 probe\n\
         TIMEOUT 1\n\
         \n\
         NAME json mode\n\
         PROG BEGIN {{ @x = 1; exit(); }}\n\
         EXPECT_JSON runtime/outputs/x.json\n\
         TIMEOUT 5\n\
         \n\
         NAME will fail\n\
         PROG BEGIN {{ nosuchfunction(); }}\n\
         EXPECT_REGEX ERROR: Unknown function\n\
         WILL_FAIL\n\
         \n\
         NAME wrong expectation fails\n\
         PROG BEGIN {{ printf(\"a\\n\"); exit(); }}\n\
         EXPECT b\n\
         \n\
         NAME kprobes are skipped\n\
         PROG kprobe:do_nanosleep {{ exit(); }}\n\
         EXPECT x\n\
         \n\
         NAME requires\n\
         PROG BEGIN {{ exit(); }}\n\
         REQUIRES false\n\
         EXPECT x\n"
    );
    let root = scratch_root(&suite);
    let cases = testcases::load_dir(&root.join("runtime")).expect("self-test suite parses");
    let h = Harness::new(vec![bpftrace], root.clone());
    let results = h.run(&cases, &|_| {});
    let _ = std::fs::remove_dir_all(&root);
    for r in &results {
        println!("{:?} {:?} {:?}", r.name, r.outcome, r.elapsed);
    }
    let by = |name: &str| {
        results
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no result for {name}"))
    };
    for name in [
        "prints",
        "after runs once attached",
        "json mode",
        "will fail",
    ] {
        assert_eq!(by(name).outcome, Outcome::Pass, "{name}");
    }
    let t = by("timeout ends a tracer that never exits");
    assert_eq!(t.outcome, Outcome::Pass);
    assert!(
        t.elapsed >= Duration::from_secs(1) && t.elapsed < Duration::from_secs(6),
        "TIMEOUT 1 took {:?}",
        t.elapsed
    );
    assert!(
        matches!(&by("wrong expectation fails").outcome, Outcome::Fail(w) if w.contains("\"b\""))
    );
    assert!(matches!(&by("kprobes are skipped").outcome, Outcome::Skip(w) if w.contains("kprobe")));
    assert!(matches!(&by("requires").outcome, Outcome::Skip(w) if w.contains("REQUIRES `false`")));
}
