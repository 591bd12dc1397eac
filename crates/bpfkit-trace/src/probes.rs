//! Attach points made concrete: wildcards expanded over tracefs events and ELF symbols, each
//! result one [`Point`] that gets its own program, and the library call attaching it. Probe
//! kinds this kernel cannot run fail here with one line naming the missing feature.

use crate::attach::{AttachPoint, AttachTarget, NumArg, ProbeKind, TimeUnit, UprobeTarget};
use crate::tracepoint::{parse_format, TracepointFormat};
use bpfkit::attach::kprobe::glob_match;
use bpfkit::attach::perf_event::{PerfEventConfig, SampleRate, SoftwareEvent};
use bpfkit::attach::uprobe::{matching_symbols, resolve_binary, UprobeOptions};
use bpfkit::{Link, Program, ProgramType};
use std::path::PathBuf;

/// One concrete place a program goes.
#[derive(Clone, Debug)]
pub enum Point {
    /// `begin`: run once before the others print.
    Begin,
    /// `end`: run once at exit.
    End,
    /// A tracepoint with its format.
    Tracepoint {
        /// Category.
        category: String,
        /// Event.
        event: String,
        /// Its fields.
        format: TracepointFormat,
    },
    /// A raw tracepoint.
    RawTracepoint {
        /// Event name.
        name: String,
    },
    /// A uprobe or uretprobe on a resolved binary.
    Uprobe {
        /// The binary.
        path: PathBuf,
        /// Symbol (empty for an address).
        symbol: String,
        /// Offset inside the symbol, or an address when `symbol` is empty.
        offset: u64,
        /// uretprobe.
        ret: bool,
    },
    /// A timer or software event.
    Perf {
        /// The event.
        event: SoftwareEvent,
        /// Period or frequency.
        rate: SampleRate,
        /// Only CPU 0 (`interval`) rather than every CPU (`profile`, `software`).
        one_cpu: bool,
    },
    /// kprobe/kretprobe (refused on kernels without kprobes).
    Kprobe {
        /// Function.
        function: String,
        /// `+offset` into it (kprobe only).
        offset: u64,
        /// kretprobe.
        ret: bool,
    },
    /// fentry/fexit.
    Fentry {
        /// Kernel module whose BTF describes the function (`None`: vmlinux).
        module: Option<String>,
        /// Function.
        function: String,
        /// fexit.
        ret: bool,
    },
    /// A USDT probe site (a uprobe with the probe's semaphore and argument specs).
    Usdt(crate::usdt::UsdtPoint),
    /// `bench:name`: run many times from user space under `--mode bench`.
    Bench {
        /// The benchmark's name.
        name: String,
    },
    /// An iterator (`iter:task`): run over the kernel's objects by reading its link.
    Iter {
        /// Target (`task`, `task_file`, …).
        name: String,
    },
}

/// A point with the name `probe` yields for it.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The point.
    pub point: Point,
    /// Full name, e.g. `tracepoint:syscalls:sys_enter_execve`.
    pub name: String,
    /// The probe kind.
    pub kind: ProbeKind,
}

impl Point {
    /// The program type its program is loaded as.
    pub fn program_type(&self) -> ProgramType {
        match self {
            Point::Begin | Point::End | Point::Bench { .. } | Point::RawTracepoint { .. } => {
                ProgramType::RawTracepoint
            }
            Point::Tracepoint { .. } => ProgramType::Tracepoint,
            Point::Uprobe { .. } | Point::Kprobe { .. } | Point::Usdt(_) => ProgramType::Kprobe,
            Point::Perf { .. } => ProgramType::PerfEvent,
            Point::Fentry { .. } | Point::Iter { .. } => ProgramType::Tracing,
        }
    }
}

fn tracefs_root() -> Result<PathBuf, String> {
    bpfkit_sys::tracefs::root().map_err(|e| format!("tracefs is not available: {e}"))
}

/// Every `category:event` tracefs has, sorted.
pub fn tracepoints() -> Result<Vec<(String, String)>, String> {
    let mut v = bpfkit_sys::tracefs::list_events().map_err(|e| e.to_string())?;
    v.sort();
    Ok(v)
}

/// Reads the format of one tracepoint.
pub fn tracepoint_format(category: &str, event: &str) -> Result<TracepointFormat, String> {
    let root = tracefs_root()?;
    let path = root
        .join("events")
        .join(category)
        .join(event)
        .join("format");
    let text = std::fs::read_to_string(&path)
        .map_err(|_| format!("tracepoint not found: {category}:{event}"))?;
    parse_format(&path.display().to_string(), &text).map_err(|e| e.to_string())
}

fn no_match(ap: &AttachPoint) -> String {
    format!("No probes matched the attach point '{}'", ap.raw)
}

fn period_ns(unit: TimeUnit, v: u64) -> u64 {
    match unit {
        TimeUnit::Ns => v,
        TimeUnit::Us => v * 1_000,
        TimeUnit::Ms => v * 1_000_000,
        TimeUnit::S => v * 1_000_000_000,
        TimeUnit::Hz => 1_000_000_000 / v.max(1),
    }
}

fn num(n: &NumArg, params: &[String]) -> Result<u64, String> {
    match n {
        NumArg::Num(v) => Ok(*v),
        NumArg::Param(i) => params
            .get((*i as usize).wrapping_sub(1))
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| format!("positional parameter ${i} is not a number")),
    }
}

/// Expands one attach point into concrete points.
pub fn resolve(ap: &AttachPoint, params: &[String]) -> Result<Vec<Resolved>, String> {
    let one = |point: Point, name: String| {
        Ok(vec![Resolved {
            point,
            name,
            kind: ap.kind,
        }])
    };
    if let Some(r) = crate::kernel_probes::resolve(ap) {
        return r;
    }
    match (&ap.kind, &ap.target) {
        (ProbeKind::Begin, _) => one(Point::Begin, "begin".into()),
        (ProbeKind::End, _) => one(Point::End, "end".into()),
        (ProbeKind::Bench, AttachTarget::Named(n)) => {
            one(Point::Bench { name: n.clone() }, format!("bench:{n}"))
        }
        (ProbeKind::Tracepoint, AttachTarget::Tracepoint { category, event }) => {
            let mut out = Vec::new();
            if !ap.has_wildcard() {
                let format = tracepoint_format(category, event)?;
                return one(
                    Point::Tracepoint {
                        category: category.clone(),
                        event: event.clone(),
                        format,
                    },
                    format!("tracepoint:{category}:{event}"),
                );
            }
            for (c, e) in tracepoints()? {
                if glob_match(category, &c) && glob_match(event, &e) {
                    let format = tracepoint_format(&c, &e)?;
                    out.push(Resolved {
                        name: format!("tracepoint:{c}:{e}"),
                        point: Point::Tracepoint {
                            category: c,
                            event: e,
                            format,
                        },
                        kind: ap.kind,
                    });
                }
            }
            if out.is_empty() {
                return Err(no_match(ap));
            }
            Ok(out)
        }
        (ProbeKind::RawTracepoint, AttachTarget::Kernel { function, .. }) => {
            if ap.has_wildcard() {
                let mut out = Vec::new();
                let mut seen = std::collections::BTreeSet::new();
                for (_, e) in tracepoints()? {
                    if glob_match(function, &e) && seen.insert(e.clone()) {
                        out.push(Resolved {
                            name: format!("rawtracepoint:{e}"),
                            point: Point::RawTracepoint { name: e },
                            kind: ap.kind,
                        });
                    }
                }
                if out.is_empty() {
                    return Err(no_match(ap));
                }
                return Ok(out);
            }
            one(
                Point::RawTracepoint {
                    name: function.clone(),
                },
                format!("rawtracepoint:{function}"),
            )
        }
        (ProbeKind::Uprobe | ProbeKind::Uretprobe, AttachTarget::User { binary, target, .. }) => {
            let ret = ap.kind == ProbeKind::Uretprobe;
            let path = resolve_binary(binary).map_err(|e| e.to_string())?;
            let prov = ap.kind.name();
            match target {
                UprobeTarget::Address(a) => one(
                    Point::Uprobe {
                        path: path.clone(),
                        symbol: String::new(),
                        offset: *a,
                        ret,
                    },
                    format!("{prov}:{}:{a:#x}", path.display()),
                ),
                UprobeTarget::Symbol { name, offset } if !name.contains('*') => one(
                    Point::Uprobe {
                        path: path.clone(),
                        symbol: name.clone(),
                        offset: offset.unwrap_or(0),
                        ret,
                    },
                    format!("{prov}:{}:{name}", path.display()),
                ),
                UprobeTarget::Symbol { name, .. } => {
                    let mut syms = matching_symbols(&path, name).map_err(|e| e.to_string())?;
                    syms.sort();
                    syms.dedup_by(|a, b| a.0 == b.0);
                    if syms.is_empty() {
                        return Err(no_match(ap));
                    }
                    Ok(syms
                        .into_iter()
                        .map(|(s, _)| Resolved {
                            name: format!("{prov}:{}:{s}", path.display()),
                            point: Point::Uprobe {
                                path: path.clone(),
                                symbol: s,
                                offset: 0,
                                ret,
                            },
                            kind: ap.kind,
                        })
                        .collect())
                }
            }
        }
        (ProbeKind::Profile | ProbeKind::Interval, AttachTarget::Timer { unit, value }) => {
            let v = num(value, params)?;
            if v == 0 {
                return Err(format!("{}: the period must not be 0", ap.raw));
            }
            let rate = match (ap.kind, unit) {
                (ProbeKind::Profile, TimeUnit::Hz) => SampleRate::Frequency(v),
                _ => SampleRate::Period(period_ns(*unit, v)),
            };
            one(
                Point::Perf {
                    event: SoftwareEvent::CpuClock,
                    rate,
                    one_cpu: ap.kind == ProbeKind::Interval,
                },
                ap.canonical(),
            )
        }
        (ProbeKind::Software, AttachTarget::PerfEvent { event, count }) => {
            let ev = SoftwareEvent::from_name(event)
                .or_else(|| software_alias(event))
                .ok_or_else(|| format!("{}: unknown software event '{event}'", ap.raw))?;
            let period = match count {
                Some(c) => num(c, params)?,
                None => default_period(ev),
            };
            one(
                Point::Perf {
                    event: ev,
                    rate: SampleRate::Period(period),
                    one_cpu: false,
                },
                ap.canonical(),
            )
        }
        (ProbeKind::Hardware, _) => Err(format!(
            "{}: this kernel has no hardware PMU (hardware events are unavailable)",
            ap.raw
        )),
        _ => Err(format!(
            "{}: {} probes are not supported by bpfkit trace",
            ap.raw,
            ap.kind.name()
        )),
    }
}

fn software_alias(name: &str) -> Option<SoftwareEvent> {
    SoftwareEvent::from_name(match name {
        "cpu" => "cpu-clock",
        "faults" => "page-faults",
        "cs" => "context-switches",
        "migrations" => "cpu-migrations",
        "minflt" => "minor-faults",
        "majflt" => "major-faults",
        _ => return None,
    })
}

fn default_period(ev: SoftwareEvent) -> u64 {
    match ev {
        SoftwareEvent::CpuClock | SoftwareEvent::TaskClock => 1_000_000,
        _ => 1000,
    }
}

/// Attaches a loaded program to its point; the links detach when dropped.
pub fn attach(prog: &Program, point: &Point, pid: Option<i32>) -> Result<Vec<Link>, String> {
    let err = |e: bpfkit::Error| e.to_string();
    match point {
        Point::Begin | Point::End | Point::Bench { .. } => Ok(Vec::new()),
        Point::Tracepoint {
            category, event, ..
        } => Ok(vec![prog
            .attach_tracepoint(category, event)
            .map_err(err)?]),
        // A raw tracepoint compiled as tp_btf was tied to its tracepoint at load.
        Point::RawTracepoint { .. } if prog.prog_type() == ProgramType::Tracing => {
            Ok(vec![prog.attach_btf_target().map_err(err)?])
        }
        Point::RawTracepoint { name } => Ok(vec![prog.attach_raw_tracepoint(name).map_err(err)?]),
        Point::Uprobe {
            path,
            symbol,
            offset,
            ret,
        } => {
            let opts = UprobeOptions {
                pid,
                retprobe: *ret,
                ..Default::default()
            };
            let target = if symbol.is_empty() {
                bpfkit::attach::uprobe::UprobeTarget::Address(*offset)
            } else if *offset != 0 {
                bpfkit::attach::uprobe::UprobeTarget::SymbolOffset(symbol, *offset)
            } else {
                bpfkit::attach::uprobe::UprobeTarget::Symbol(symbol)
            };
            Ok(vec![prog
                .attach_uprobe(path, target, &opts)
                .map_err(err)?])
        }
        Point::Perf {
            event,
            rate,
            one_cpu,
        } => {
            let cfg = PerfEventConfig::Software(*event);
            if *one_cpu {
                let t = bpfkit_sys::perf::PerfTarget { pid: -1, cpu: 0 };
                return Ok(vec![prog
                    .attach_perf_event_on(cfg, *rate, t)
                    .map_err(err)?]);
            }
            let links = prog.attach_perf_event(cfg, *rate).map_err(err)?;
            Ok(links.into_links().into_iter().map(|(_, l)| l).collect())
        }
        Point::Kprobe {
            function,
            offset,
            ret,
        } => Ok(vec![prog
            .attach_kprobe(function, *offset, *ret)
            .map_err(err)?]),
        Point::Fentry { .. } => Ok(vec![prog.attach_tracing().map_err(err)?]),
        Point::Iter { .. } => Ok(vec![prog.attach_iter().map_err(err)?]),
        Point::Usdt(u) => Ok(vec![crate::usdt::attach(prog, u, pid)?]),
    }
}
