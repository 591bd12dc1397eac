//! `bpfkit prog profile PROG [duration N] METRICs`: bpftool's hardware-counter profile of a
//! program. The counting needs a hardware PMU event per metric on every CPU, read by fentry
//! and fexit programs attached to the target; this implements bpftool's argument checks and
//! the opening of the counters, and reports in one line which kernel feature is missing.

use std::os::fd::AsFd;

use bpfkit_sys::perf::{self, attr_flag, PerfEventAttr, PerfTarget};

use crate::output::fail;
use crate::target::{self, Args};
use crate::{CliError, Global};

/// One metric: bpftool's name, the perf event type and config.
struct Metric {
    name: &'static str,
    type_: u32,
    config: u64,
}

/// `PERF_COUNT_HW_CACHE_*` config: cache id, operation read (0), result.
const fn cache(id: u64, miss: bool) -> u64 {
    id | ((miss as u64) << 16)
}

/// bpftool's metrics.
const METRICS: [Metric; 6] = [
    Metric {
        name: "cycles",
        type_: perf::perf_type::HARDWARE,
        config: perf::hw::CPU_CYCLES,
    },
    Metric {
        name: "instructions",
        type_: perf::perf_type::HARDWARE,
        config: perf::hw::INSTRUCTIONS,
    },
    Metric {
        name: "l1d_loads",
        type_: perf::perf_type::HW_CACHE,
        config: cache(0, false),
    },
    Metric {
        name: "llc_misses",
        type_: perf::perf_type::HW_CACHE,
        config: cache(2, true),
    },
    Metric {
        name: "itlb_misses",
        type_: perf::perf_type::HW_CACHE,
        config: cache(4, true),
    },
    Metric {
        name: "dtlb_misses",
        type_: perf::perf_type::HW_CACHE,
        config: cache(3, true),
    },
];

/// At most this many metrics at a time, as bpftool allows.
const MAX_METRICS: usize = 4;

/// The parsed command: the metrics, in the order given, and the duration in seconds (`None`:
/// until Ctrl-C).
fn parse_metrics(args: &mut Args) -> Result<(Option<u64>, Vec<&'static Metric>), CliError> {
    let mut duration = None;
    if args
        .peek()
        .is_some_and(|w| target::is_prefix(w, "duration"))
    {
        args.next();
        let v = args.value_of("duration")?;
        duration =
            Some(target::parse_u64(&v).ok_or_else(|| fail(format!("invalid duration: {v}")))?);
    }
    if args.is_empty() {
        return Err(fail("'profile' needs at least 1 arguments, 0 found"));
    }
    let mut chosen: Vec<&'static Metric> = Vec::new();
    while let Some(w) = args.next() {
        let m = METRICS
            .iter()
            .find(|m| m.name == w)
            .ok_or_else(|| fail(format!("unknown metric {w}")))?;
        if chosen.iter().any(|c| c.name == m.name) {
            return Err(fail(format!("duplicated metric: {w}")));
        }
        chosen.push(m);
    }
    if chosen.len() > MAX_METRICS {
        return Err(fail(format!(
            "too many ({}) metrics, please specify no more than {MAX_METRICS} metrics at a time",
            chosen.len()
        )));
    }
    Ok((duration, chosen))
}

/// `prog profile PROG [duration N] METRICs`.
pub fn run(_g: &Global, args: &mut Args) -> Result<(), CliError> {
    let prog = target::parse_one_prog(args)?;
    let (_duration, metrics) = parse_metrics(args)?;
    let info = bpfkit_sys::prog::prog_info(prog.as_fd())
        .map_err(|e| fail(format!("can't get prog info: {}", target::sys_err(&e))))?;
    if info.btf_id == 0 || info.nr_func_info == 0 {
        return Err(fail(format!(
            "prog id {} has no BTF function info, which fentry/fexit need to attach to it",
            info.id
        )));
    }
    let cpus = bpfkit_sys::mmap::online_cpus()
        .map_err(|e| fail(format!("can't get the online CPUs: {e}")))?;
    let mut events = Vec::with_capacity(cpus.len() * metrics.len());
    for m in &metrics {
        let attr = PerfEventAttr {
            type_: m.type_,
            config: m.config,
            flags: attr_flag::EXCLUDE_USER,
            ..Default::default()
        };
        for &cpu in &cpus {
            let t = PerfTarget {
                pid: -1,
                cpu: cpu as i32,
            };
            match perf::perf_event_open(&attr, t, None, 0, m.name) {
                Ok(fd) => events.push(fd),
                Err(e) => {
                    let no_pmu = !std::path::Path::new("/sys/bus/event_source/devices/cpu")
                        .exists()
                        && e.errno().is_some_and(|n| n == ENOENT || n == ENODEV);
                    let why = if no_pmu {
                        "this machine has no hardware PMU (no cpu event source), which profile needs"
                            .to_string()
                    } else {
                        target::sys_err(&e)
                    };
                    return Err(fail(format!(
                        "failed to create event {} on cpu {cpu}: {why}",
                        m.name
                    )));
                }
            }
        }
    }
    Err(fail(format!(
        "{} counters opened, but reading them from fentry/fexit programs is not implemented in bpfkit",
        events.len()
    )))
}

/// `ENOENT` and `ENODEV`: what perf_event_open returns for an event no PMU provides.
const ENOENT: i32 = 2;
const ENODEV: i32 = 19;

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Args {
        Args::new(w.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn metrics_are_checked_as_bpftool_checks_them() {
        let (d, m) = parse_metrics(&mut words(&["duration", "3", "cycles", "llc_misses"]))
            .ok()
            .unwrap_or_default();
        assert_eq!(d, Some(3));
        assert_eq!(m.len(), 2);
        assert!(parse_metrics(&mut words(&["cycles", "cycles"])).is_err());
        assert!(parse_metrics(&mut words(&["cyc"])).is_err());
        assert!(parse_metrics(&mut words(&[])).is_err());
        assert!(parse_metrics(&mut words(&["duration", "x", "cycles"])).is_err());
        assert!(parse_metrics(&mut words(&[
            "cycles",
            "instructions",
            "l1d_loads",
            "llc_misses",
            "itlb_misses"
        ]))
        .is_err());
    }
}
