//! Feature probes: what the running kernel supports, found by asking it.
//!
//! Every answer comes from a real probe: a program type is supported when a minimal program
//! of it loads, a map type when a minimal map of it can be created, a helper when the verifier
//! accepts a call to it from a program of the type (or rejects it for a reason other than
//! the helper itself), and the miscellaneous features when a program using them loads. The
//! probes run once per process; answers are cached. [`require_prog_type`] and friends turn a
//! missing feature into [`Error::NotSupported`] naming it.
//!
//! [`probe_all`] gathers everything `bpfkit feature probe` prints, in bpftool's order; the
//! helper scan (about 200 helpers for each of 30 program types) is spread over threads.

mod probe;
mod system;
mod tables;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use bpfkit_insn::helpers::HELPERS;
use bpfkit_insn::HelperInfo;

use crate::error::{Error, Result};

pub use system::{system_config, SystemConfig};
pub use tables::{map_type_name, prog_type_name};

/// Program types this crate can probe, as `(enum bpf_prog_type number, bpftool name)`.
pub fn prog_types() -> &'static [(u32, &'static str)] {
    tables::PROG_TYPES
}

/// Map types this crate can probe, as `(enum bpf_map_type number, bpftool name)`.
pub fn map_types() -> &'static [(u32, &'static str)] {
    tables::MAP_TYPES
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key {
    Prog(u32),
    Map(u32),
    Helper(u32, u32),
    Misc(Misc),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    Bool(bool),
    Prog(probe::ProgStatus),
}

fn cache() -> &'static Mutex<HashMap<Key, Answer>> {
    static CACHE: OnceLock<Mutex<HashMap<Key, Answer>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn cached(key: Key, run: impl FnOnce() -> Result<Answer>) -> Result<Answer> {
    if let Some(a) = cache().lock().ok().and_then(|c| c.get(&key).copied()) {
        return Ok(a);
    }
    let a = run()?;
    if let Ok(mut c) = cache().lock() {
        c.insert(key, a);
    }
    Ok(a)
}

fn prog_status(prog_type: u32) -> Result<probe::ProgStatus> {
    match cached(Key::Prog(prog_type), || {
        probe::prog_type(prog_type).map(Answer::Prog)
    })? {
        Answer::Prog(s) => Ok(s),
        Answer::Bool(b) => Ok(if b {
            probe::ProgStatus::Loads
        } else {
            probe::ProgStatus::Unsupported
        }),
    }
}

fn cached_bool(key: Key, run: impl FnOnce() -> Result<bool>) -> Result<bool> {
    match cached(key, || run().map(Answer::Bool))? {
        Answer::Bool(b) => Ok(b),
        Answer::Prog(s) => Ok(s != probe::ProgStatus::Unsupported),
    }
}

/// Whether the kernel supports program type `prog_type` (`enum bpf_prog_type` number).
///
/// A type the kernel knows but that cannot load without in-kernel BTF (struct_ops) counts
/// as supported, as bpftool counts it.
pub fn prog_type_supported(prog_type: u32) -> Result<bool> {
    Ok(prog_status(prog_type)? != probe::ProgStatus::Unsupported)
}

/// Whether the kernel supports map type `map_type` (`enum bpf_map_type` number).
pub fn map_type_supported(map_type: u32) -> Result<bool> {
    cached_bool(Key::Map(map_type), || probe::map_type(map_type))
}

/// Whether a program of type `prog_type` may call helper `helper_id` (`BPF_FUNC_*`).
/// `false` as well when the program type itself is missing.
pub fn helper_supported(prog_type: u32, helper_id: u32) -> Result<bool> {
    if prog_status(prog_type)? != probe::ProgStatus::Loads {
        return Ok(false);
    }
    cached_bool(Key::Helper(prog_type, helper_id), || {
        probe::helper(prog_type, helper_id)
    })
}

/// A miscellaneous capability of the verifier and the instruction set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Misc {
    /// Programs of up to a million instructions (5.2); before, 4096.
    LargeInsnLimit,
    /// Loops the verifier can prove bounded (5.3).
    BoundedLoops,
    /// ISA v2: `<`/`<=` conditional jumps (4.14).
    IsaV2,
    /// ISA v3: 32-bit conditional jumps (5.1).
    IsaV3,
    /// ISA v4: sign extension, signed division, byte swaps, long jumps (6.6).
    IsaV4,
}

impl Misc {
    /// Every miscellaneous feature, in bpftool's order.
    pub const ALL: [Misc; 5] = [
        Misc::LargeInsnLimit,
        Misc::BoundedLoops,
        Misc::IsaV2,
        Misc::IsaV3,
        Misc::IsaV4,
    ];

    /// bpftool's wording (`"<description> is available"`).
    pub fn description(self) -> &'static str {
        match self {
            Misc::LargeInsnLimit => "Large program size limit",
            Misc::BoundedLoops => "Bounded loop support",
            Misc::IsaV2 => "ISA extension v2",
            Misc::IsaV3 => "ISA extension v3",
            Misc::IsaV4 => "ISA extension v4",
        }
    }

    /// bpftool's JSON key.
    pub fn json_key(self) -> &'static str {
        match self {
            Misc::LargeInsnLimit => "have_large_insn_limit",
            Misc::BoundedLoops => "have_bounded_loops",
            Misc::IsaV2 => "have_v2_isa_extension",
            Misc::IsaV3 => "have_v3_isa_extension",
            Misc::IsaV4 => "have_v4_isa_extension",
        }
    }

    /// bpftool's C macro name (`HAVE_...`).
    pub fn macro_name(self) -> &'static str {
        match self {
            Misc::LargeInsnLimit => "LARGE_INSN_LIMIT",
            Misc::BoundedLoops => "BOUNDED_LOOPS",
            Misc::IsaV2 => "V2_ISA_EXTENSION",
            Misc::IsaV3 => "V3_ISA_EXTENSION",
            Misc::IsaV4 => "V4_ISA_EXTENSION",
        }
    }
}

/// Whether the kernel has the miscellaneous feature `m`.
pub fn misc_supported(m: Misc) -> Result<bool> {
    cached_bool(Key::Misc(m), || match m {
        Misc::LargeInsnLimit => probe::large_insn_limit(),
        Misc::BoundedLoops => probe::bounded_loops(),
        Misc::IsaV2 => probe::isa_v2(),
        Misc::IsaV3 => probe::isa_v3(),
        Misc::IsaV4 => probe::isa_v4(),
    })
}

/// Whether the `bpf()` system call exists at all.
pub fn bpf_syscall_available() -> bool {
    probe::bpf_syscall()
}

fn not_supported(what: String) -> Error {
    Error::NotSupported {
        feature: what,
        hint: "see `bpfkit feature probe`".into(),
    }
}

/// `Ok` when program type `prog_type` is supported, else [`Error::NotSupported`] naming it.
pub fn require_prog_type(prog_type: u32) -> Result<()> {
    if prog_type_supported(prog_type)? {
        return Ok(());
    }
    let name = prog_type_name(prog_type).unwrap_or("unknown");
    Err(not_supported(format!(
        "the {name} program type (BPF_PROG_TYPE #{prog_type})"
    )))
}

/// `Ok` when map type `map_type` is supported, else [`Error::NotSupported`] naming it.
pub fn require_map_type(map_type: u32) -> Result<()> {
    if map_type_supported(map_type)? {
        return Ok(());
    }
    let name = map_type_name(map_type).unwrap_or("unknown");
    Err(not_supported(format!(
        "the {name} map type (BPF_MAP_TYPE #{map_type})"
    )))
}

/// `Ok` when helper `helper_id` may be called from `prog_type`, else [`Error::NotSupported`].
pub fn require_helper(prog_type: u32, helper_id: u32) -> Result<()> {
    if helper_supported(prog_type, helper_id)? {
        return Ok(());
    }
    let helper = bpfkit_insn::helper_by_id(helper_id).map_or("unknown helper", |h| h.name);
    let prog = prog_type_name(prog_type).unwrap_or("unknown");
    Err(not_supported(format!(
        "helper {helper} (#{helper_id}) for {prog} programs"
    )))
}

/// `Ok` when the miscellaneous feature is present, else [`Error::NotSupported`].
pub fn require_misc(m: Misc) -> Result<()> {
    if misc_supported(m)? {
        return Ok(());
    }
    Err(not_supported(m.description().to_string()))
}

/// The helpers one program type may call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HelperScan {
    /// The program type is missing.
    ProgTypeUnsupported,
    /// The type exists but no probe program of it loads, so its helpers cannot be probed.
    Undetermined,
    /// The helpers a program of the type may call, by id.
    Available(Vec<&'static HelperInfo>),
}

/// What [`probe_all`] found, section by section in bpftool's order.
#[derive(Clone, Debug)]
pub struct Report {
    /// Sysctls and kernel configuration.
    pub system: SystemConfig,
    /// Whether `bpf()` exists.
    pub bpf_syscall: bool,
    /// `(number, name, supported)` per program type.
    pub prog_types: Vec<(u32, &'static str, bool)>,
    /// `(number, name, supported)` per map type.
    pub map_types: Vec<(u32, &'static str, bool)>,
    /// `(program type number, name, helpers)`; empty when helpers were not asked for.
    pub helpers: Vec<(u32, &'static str, HelperScan)>,
    /// Each miscellaneous feature and whether it is present.
    pub misc: Vec<(Misc, bool)>,
}

/// What [`probe_all`] probes.
#[derive(Clone, Copy, Debug)]
pub struct ProbeOptions {
    /// Scan the helpers of every program type.
    pub helpers: bool,
    /// Include helpers whose probe writes a warning to the kernel log (`bpf_trace_printk` …).
    pub full: bool,
    /// Threads for the helper scan (0: one per CPU).
    pub threads: usize,
    /// Report what the caller may use instead of failing when it lacks privileges: a probe
    /// refused for want of a capability counts as "not available" (bpftool's `unprivileged`).
    pub unprivileged: bool,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            helpers: true,
            full: false,
            threads: 0,
            unprivileged: false,
        }
    }
}

/// Probes everything `bpfkit feature probe` reports.
///
/// Fails (with the permission error naming the capability) when the caller may not use
/// `bpf()` at all, rather than reporting every feature as missing, unless
/// [`ProbeOptions::unprivileged`] asks for exactly that report.
pub fn probe_all(opts: &ProbeOptions) -> Result<Report> {
    let system = system_config();
    let bpf_syscall = bpf_syscall_available();
    let mut prog_types = Vec::new();
    for &(id, name) in tables::PROG_TYPES {
        prog_types.push((id, name, soften(opts, prog_type_supported(id))?));
    }
    let mut map_types = Vec::new();
    for &(id, name) in tables::MAP_TYPES {
        map_types.push((id, name, soften(opts, map_type_supported(id))?));
    }
    let helpers = if opts.helpers {
        scan_helpers(opts)?
    } else {
        Vec::new()
    };
    let mut misc = Vec::new();
    for m in Misc::ALL {
        misc.push((m, soften(opts, misc_supported(m))?));
    }
    Ok(Report {
        system,
        bpf_syscall,
        prog_types,
        map_types,
        helpers,
        misc,
    })
}

fn is_permission(e: &Error) -> bool {
    matches!(e, Error::Sys(bpfkit_sys::Error::Permission { .. }))
}

/// In unprivileged mode a refusal for want of a capability is the answer "no".
fn soften(opts: &ProbeOptions, r: Result<bool>) -> Result<bool> {
    match r {
        Err(e) if opts.unprivileged && is_permission(&e) => Ok(false),
        r => r,
    }
}

fn scan_helpers(opts: &ProbeOptions) -> Result<Vec<(u32, &'static str, HelperScan)>> {
    let wanted: Vec<&'static HelperInfo> = HELPERS
        .iter()
        .filter(|h| h.id != 0 && (opts.full || !tables::NOISY_HELPERS.contains(&h.name)))
        .collect();
    let mut jobs: Vec<(u32, &'static HelperInfo)> = Vec::new();
    let mut out = Vec::new();
    for &(id, name) in tables::PROG_TYPES {
        let status = match prog_status(id) {
            Err(e) if opts.unprivileged && is_permission(&e) => probe::ProgStatus::Unsupported,
            r => r?,
        };
        let scan = match status {
            probe::ProgStatus::Unsupported => HelperScan::ProgTypeUnsupported,
            probe::ProgStatus::KnownOnly => HelperScan::Undetermined,
            probe::ProgStatus::Loads => {
                jobs.extend(wanted.iter().map(|h| (id, *h)));
                HelperScan::Available(Vec::new())
            }
        };
        out.push((id, name, scan));
    }

    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        opts.threads
    };
    let next = AtomicUsize::new(0);
    let results: Vec<Result<Vec<(usize, bool)>>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads.min(jobs.len()).max(1))
            .map(|_| {
                s.spawn(|| {
                    let mut found = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&(prog, h)) = jobs.get(i) else { break };
                        found.push((i, helper_supported(prog, h.id)?));
                    }
                    Ok(found)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join().unwrap_or_else(|_| {
                    Err(Error::InvalidArgument(
                        "a helper probe thread panicked".into(),
                    ))
                })
            })
            .collect()
    });
    let mut ok = vec![false; jobs.len()];
    for r in results {
        for (i, yes) in r? {
            if let Some(slot) = ok.get_mut(i) {
                *slot = yes;
            }
        }
    }
    for (i, &(prog, h)) in jobs.iter().enumerate() {
        if !ok.get(i).copied().unwrap_or(false) {
            continue;
        }
        if let Some((_, _, HelperScan::Available(list))) =
            out.iter_mut().find(|(id, _, _)| *id == prog)
        {
            list.push(h);
        }
    }
    Ok(out)
}
