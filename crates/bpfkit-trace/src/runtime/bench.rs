//! `--mode bench`: each `bench:NAME` program runs many times through `BPF_PROG_TEST_RUN`
//! and its average run time is printed (text: one line a benchmark; JSON: bpftrace's
//! `benchmark_result` records). Raw-tracepoint test runs take no `repeat`, so the runs are
//! issued one by one; the kernel's run-time statistics (`BPF_ENABLE_STATS`) time the
//! program itself, and where they are unavailable the wall clock times the whole loop
//! (then the average includes the syscall's cost).

use super::{OutputFormat, Runtime};
use bpfkit::{Program, TestRun};
use std::time::{Duration, Instant};

/// Time spent on one benchmark.
const BUDGET: Duration = Duration::from_millis(200);
/// Most runs of one benchmark.
const MAX_ITERS: u64 = 1_000_000;

/// What one benchmark measured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BenchResult {
    /// The `bench:` probe's name.
    pub name: String,
    /// Mean nanoseconds per run.
    pub average_ns: u64,
    /// Runs.
    pub iters: u64,
}

/// Runs `prog` until the time budget or the run limit is spent.
pub fn measure(name: &str, prog: &Program) -> Result<BenchResult, String> {
    let ctx = [0u8; 8];
    let t = TestRun {
        ctx_in: &ctx,
        ..Default::default()
    };
    let stats = bpfkit::enable_run_time_stats().ok();
    let kernel_time = || {
        prog.info()
            .ok()
            .map(|i| (i.run_time_ns, i.run_cnt))
            .filter(|_| stats.is_some())
    };
    let before = kernel_time();
    let start = Instant::now();
    let mut iters = 0u64;
    while iters < MAX_ITERS && (iters == 0 || start.elapsed() < BUDGET) {
        prog.test_run(&t)
            .map_err(|e| format!("bench:{name}: {e}"))?;
        iters += 1;
    }
    let wall = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let average_ns = match (before, kernel_time()) {
        (Some((t0, c0)), Some((t1, c1))) if c1 > c0 => t1.saturating_sub(t0) / (c1 - c0),
        _ => wall / iters.max(1),
    };
    Ok(BenchResult {
        name: name.to_string(),
        average_ns,
        iters,
    })
}

impl Runtime<'_> {
    /// Prints one benchmark's result.
    pub fn bench_result(&mut self, r: &BenchResult) {
        let line = match self.format {
            OutputFormat::Text => format!(
                "{}: average {} ns over {} iterations\n",
                r.name, r.average_ns, r.iters
            ),
            OutputFormat::Json => format!(
                "{{\"type\": \"benchmark_result\", \"data\": {{{}: {{\"average\": {}, \"iters\": {}}}}}}}\n",
                super::json_str(&r.name),
                r.average_ns,
                r.iters
            ),
        };
        self.write(&line);
        self.flush();
    }
}
