//! perf event samplers (`SEC("perf_event")`): one software or hardware event per online CPU,
//! each running the program on overflow.

use std::fmt;

use bpfkit_sys::perf::{attr_flag, hw, perf_event_open, perf_type, sw, PerfEventAttr, PerfTarget};

use crate::error::{Error, Result};
use crate::link::{Link, PerfEventLinks};
use crate::program::{Program, ProgramType};

/// Software events (`PERF_TYPE_SOFTWARE`), named as perf(1) names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SoftwareEvent {
    /// `cpu-clock`: a per-CPU hrtimer; the usual sampler.
    CpuClock,
    /// `task-clock`.
    TaskClock,
    /// `page-faults`.
    PageFaults,
    /// `context-switches`.
    ContextSwitches,
    /// `cpu-migrations`.
    CpuMigrations,
    /// `minor-faults`.
    MinorFaults,
    /// `major-faults`.
    MajorFaults,
    /// `alignment-faults`.
    AlignmentFaults,
    /// `emulation-faults`.
    EmulationFaults,
    /// `dummy`.
    Dummy,
    /// `bpf-output`.
    BpfOutput,
    /// `cgroup-switches`.
    CgroupSwitches,
}

impl SoftwareEvent {
    const TABLE: &'static [(SoftwareEvent, &'static str, u64)] = &[
        (SoftwareEvent::CpuClock, "cpu-clock", sw::CPU_CLOCK),
        (SoftwareEvent::TaskClock, "task-clock", sw::TASK_CLOCK),
        (SoftwareEvent::PageFaults, "page-faults", sw::PAGE_FAULTS),
        (
            SoftwareEvent::ContextSwitches,
            "context-switches",
            sw::CONTEXT_SWITCHES,
        ),
        (
            SoftwareEvent::CpuMigrations,
            "cpu-migrations",
            sw::CPU_MIGRATIONS,
        ),
        (
            SoftwareEvent::MinorFaults,
            "minor-faults",
            sw::PAGE_FAULTS_MIN,
        ),
        (
            SoftwareEvent::MajorFaults,
            "major-faults",
            sw::PAGE_FAULTS_MAJ,
        ),
        (
            SoftwareEvent::AlignmentFaults,
            "alignment-faults",
            sw::ALIGNMENT_FAULTS,
        ),
        (
            SoftwareEvent::EmulationFaults,
            "emulation-faults",
            sw::EMULATION_FAULTS,
        ),
        (SoftwareEvent::Dummy, "dummy", sw::DUMMY),
        (SoftwareEvent::BpfOutput, "bpf-output", sw::BPF_OUTPUT),
        (
            SoftwareEvent::CgroupSwitches,
            "cgroup-switches",
            sw::CGROUP_SWITCHES,
        ),
    ];

    /// perf's name.
    pub fn name(self) -> &'static str {
        Self::TABLE
            .iter()
            .find(|e| e.0 == self)
            .map_or("?", |e| e.1)
    }

    /// `PERF_COUNT_SW_*`.
    pub fn config(self) -> u64 {
        Self::TABLE.iter().find(|e| e.0 == self).map_or(0, |e| e.2)
    }

    /// From perf's name (also the aliases `cpu_clock`, `faults`, `cs`, `migrations`).
    pub fn from_name(s: &str) -> Option<SoftwareEvent> {
        let s = s.replace('_', "-");
        match s.as_str() {
            "faults" => Some(SoftwareEvent::PageFaults),
            "cs" => Some(SoftwareEvent::ContextSwitches),
            "migrations" => Some(SoftwareEvent::CpuMigrations),
            _ => Self::TABLE.iter().find(|e| e.1 == s).map(|e| e.0),
        }
    }
}

/// Hardware events (`PERF_TYPE_HARDWARE`); they need a PMU, which VMs often lack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HardwareEvent {
    /// `cpu-cycles`.
    CpuCycles,
    /// `instructions`.
    Instructions,
    /// `cache-references`.
    CacheReferences,
    /// `cache-misses`.
    CacheMisses,
    /// `branch-instructions`.
    BranchInstructions,
    /// `branch-misses`.
    BranchMisses,
    /// `bus-cycles`.
    BusCycles,
    /// `ref-cycles`.
    RefCycles,
}

impl HardwareEvent {
    const TABLE: &'static [(HardwareEvent, &'static str, u64)] = &[
        (HardwareEvent::CpuCycles, "cpu-cycles", hw::CPU_CYCLES),
        (
            HardwareEvent::Instructions,
            "instructions",
            hw::INSTRUCTIONS,
        ),
        (
            HardwareEvent::CacheReferences,
            "cache-references",
            hw::CACHE_REFERENCES,
        ),
        (HardwareEvent::CacheMisses, "cache-misses", hw::CACHE_MISSES),
        (
            HardwareEvent::BranchInstructions,
            "branch-instructions",
            hw::BRANCH_INSTRUCTIONS,
        ),
        (
            HardwareEvent::BranchMisses,
            "branch-misses",
            hw::BRANCH_MISSES,
        ),
        (HardwareEvent::BusCycles, "bus-cycles", hw::BUS_CYCLES),
        (HardwareEvent::RefCycles, "ref-cycles", hw::REF_CPU_CYCLES),
    ];

    /// perf's name.
    pub fn name(self) -> &'static str {
        Self::TABLE
            .iter()
            .find(|e| e.0 == self)
            .map_or("?", |e| e.1)
    }

    /// `PERF_COUNT_HW_*`.
    pub fn config(self) -> u64 {
        Self::TABLE.iter().find(|e| e.0 == self).map_or(0, |e| e.2)
    }

    /// From perf's name (also `cycles`, `branches`).
    pub fn from_name(s: &str) -> Option<HardwareEvent> {
        let s = s.replace('_', "-");
        match s.as_str() {
            "cycles" => Some(HardwareEvent::CpuCycles),
            "branches" => Some(HardwareEvent::BranchInstructions),
            _ => Self::TABLE.iter().find(|e| e.1 == s).map(|e| e.0),
        }
    }
}

/// Which event to sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PerfEventConfig {
    /// A software event.
    Software(SoftwareEvent),
    /// A hardware event.
    Hardware(HardwareEvent),
    /// Any PMU type and config (raw events, dynamic PMUs).
    Raw {
        /// PMU type.
        pmu_type: u32,
        /// Config.
        config: u64,
    },
}

impl fmt::Display for PerfEventConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PerfEventConfig::Software(e) => f.write_str(e.name()),
            PerfEventConfig::Hardware(e) => f.write_str(e.name()),
            PerfEventConfig::Raw { pmu_type, config } => {
                write!(f, "pmu {pmu_type} config {config:#x}")
            }
        }
    }
}

impl PerfEventConfig {
    /// Parses perf's event names (`cpu-clock`, `cycles`…).
    pub fn from_name(s: &str) -> Option<PerfEventConfig> {
        SoftwareEvent::from_name(s)
            .map(PerfEventConfig::Software)
            .or_else(|| HardwareEvent::from_name(s).map(PerfEventConfig::Hardware))
    }

    fn type_config(self) -> (u32, u64) {
        match self {
            PerfEventConfig::Software(e) => (perf_type::SOFTWARE, e.config()),
            PerfEventConfig::Hardware(e) => (perf_type::HARDWARE, e.config()),
            PerfEventConfig::Raw { pmu_type, config } => (pmu_type, config),
        }
    }
}

/// How often the sampler fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleRate {
    /// Every `n` events (ns for the clocks).
    Period(u64),
    /// About `n` times per second.
    Frequency(u64),
}

fn has_hardware_pmu() -> bool {
    std::path::Path::new("/sys/bus/event_source/devices/cpu").exists()
        || std::path::Path::new("/sys/bus/event_source/devices/cpu_core").exists()
        || std::path::Path::new("/sys/bus/event_source/devices/armv8_pmuv3_0").exists()
}

impl Program {
    /// Attaches a perf_event program to `event` on every online CPU (all tasks), firing at `rate`.
    pub fn attach_perf_event(
        &self,
        event: PerfEventConfig,
        rate: SampleRate,
    ) -> Result<PerfEventLinks> {
        super::require_type(self, &[ProgramType::PerfEvent], "perf event")?;
        let cpus = bpfkit_sys::mmap::online_cpus()?;
        let mut links = PerfEventLinks::default();
        for cpu in cpus {
            let link = self.attach_perf_event_on(
                event,
                rate,
                PerfTarget {
                    pid: -1,
                    cpu: cpu as i32,
                },
            )?;
            links.push(cpu as u32, link);
        }
        Ok(links)
    }

    /// Attaches a perf_event program to one event on one target (a task, a CPU, or both).
    pub fn attach_perf_event_on(
        &self,
        event: PerfEventConfig,
        rate: SampleRate,
        target: PerfTarget,
    ) -> Result<Link> {
        super::require_type(self, &[ProgramType::PerfEvent], "perf event")?;
        let (type_, config) = event.type_config();
        let (period, freq_flag) = match rate {
            SampleRate::Period(n) => (n.max(1), 0),
            SampleRate::Frequency(n) => (n.max(1), attr_flag::FREQ),
        };
        let attr = PerfEventAttr {
            type_,
            config,
            sample_period_or_freq: period,
            flags: attr_flag::DISABLED | freq_flag,
            ..Default::default()
        };
        let what = format!("perf event {event} on cpu {}", target.cpu);
        let fd = match perf_event_open(&attr, target, None, 0, &what) {
            Ok(fd) => fd,
            Err(e)
                if type_ == perf_type::HARDWARE
                    && matches!(
                        e.errno(),
                        Some(libc::ENOENT) | Some(libc::EOPNOTSUPP) | Some(libc::ENODEV)
                    )
                    && !has_hardware_pmu() =>
            {
                return Err(Error::NotSupported {
                    feature: format!("hardware perf events ({event})"),
                    hint: "no hardware PMU: /sys/bus/event_source/devices has no cpu PMU; use a software event such as cpu-clock".into(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        super::attach_to_perf_event(self, fd, 0, what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names() {
        assert_eq!(
            PerfEventConfig::from_name("cpu-clock"),
            Some(PerfEventConfig::Software(SoftwareEvent::CpuClock))
        );
        assert_eq!(
            SoftwareEvent::from_name("cs"),
            Some(SoftwareEvent::ContextSwitches)
        );
        assert_eq!(SoftwareEvent::BpfOutput.config(), 10);
        assert_eq!(
            PerfEventConfig::from_name("cycles"),
            Some(PerfEventConfig::Hardware(HardwareEvent::CpuCycles))
        );
        assert_eq!(PerfEventConfig::from_name("nope"), None);
    }
}
