//! Tracepoints (`SEC("tracepoint/<category>/<name>")`): a perf event of the tracepoint PMU
//! carrying the program.

use bpfkit_sys::perf::{attr_flag, perf_event_open, perf_type, PerfEventAttr, PerfTarget};

use crate::error::Result;
use crate::link::Link;
use crate::program::{Program, ProgramType};

impl Program {
    /// Attaches a tracepoint program to `category:name` (e.g. `syscalls`, `sys_enter_getpid`).
    pub fn attach_tracepoint(&self, category: &str, name: &str) -> Result<Link> {
        self.attach_tracepoint_with_cookie(category, name, 0)
    }

    /// Like [`Program::attach_tracepoint`], with a value for `bpf_get_attach_cookie`.
    pub fn attach_tracepoint_with_cookie(
        &self,
        category: &str,
        name: &str,
        cookie: u64,
    ) -> Result<Link> {
        super::require_type(self, &[ProgramType::Tracepoint], "tracepoint")?;
        let id = bpfkit_sys::tracefs::event_id(category, name)?;
        let attr = PerfEventAttr {
            type_: perf_type::TRACEPOINT,
            config: id,
            sample_period_or_freq: 1,
            wakeup_events_or_watermark: 1,
            flags: attr_flag::DISABLED,
            ..Default::default()
        };
        let what = format!("tracepoint {category}:{name}");
        // One event on CPU 0 suffices: a tracepoint runs its programs on whichever CPU hits it.
        let fd = perf_event_open(&attr, PerfTarget { pid: -1, cpu: 0 }, None, 0, &what)?;
        super::attach_to_perf_event(self, fd, cookie, what)
    }
}

/// The tracepoint's format fields (offsets into the context a tracepoint program receives).
pub fn tracepoint_fields(
    category: &str,
    name: &str,
) -> Result<Vec<bpfkit_sys::tracefs::FormatField>> {
    let text = bpfkit_sys::tracefs::event_format(category, name)?;
    Ok(bpfkit_sys::tracefs::parse_format(&text))
}
