//! Running a script: parse and check, resolve attach points, generate code, create maps,
//! load and attach every program, run `begin`, consume events until `exit()`, Ctrl-C or the
//! `-c` command ends, then run `end`, print the maps and detach (links and fds close on
//! drop). Errors come back rendered, script errors as `FILE:LINE:COL` with a caret.

use crate::check::CheckOptions;
use crate::codegen::{self, Compiled, ProgDef};
use crate::diag::{Diagnostic, SourceFile, Span};
use crate::probes::{self, Point};
use crate::runtime::{OutputFormat, Runtime};
use crate::tracepoint::Tracefs;
use bpfkit::{Link, Map, MapSpec, MapType, Program, ProgramSpec};
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd};

/// What to do with a script.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `-p PID`.
    pub pid: Option<u32>,
    /// `-c CMD`: run it once probes are attached; exit when it exits.
    pub cmd: Option<String>,
    /// `-v`: verifier logs and instructions.
    pub verbose: bool,
    /// `-d STAGE` stages to dump (`tokens`, `ast`, `typed`, `insns`, `all`).
    pub debug: Vec<String>,
    /// `--dry-run`: compile, do not load.
    pub dry_run: bool,
    /// `-f`.
    pub format: OutputFormat,
    /// `--unsafe`.
    pub allow_unsafe: bool,
    /// `-q`: no `Attached` line.
    pub quiet: bool,
    /// Positional parameters.
    pub params: Vec<String>,
    /// `--emit-elf FILE`: write the compiled script as a BPF object there instead of running.
    pub emit_elf: Option<std::path::PathBuf>,
    /// `--mode bench`: run the `bench:` probes and print their timings.
    pub bench: bool,
    /// `--no-warnings`: no compile-time warnings, no `warnf` or `Map full` output.
    pub no_warnings: bool,
    /// `--include FILE`: headers whose integer `#define`s the script may use.
    pub includes: Vec<String>,
}

/// Roughly the kernel's `ktime_get_ns` now (std's `Instant` reads the same clock but does
/// not expose its value), for `elapsed`.
fn monotonic_ns() -> u64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|x| x.parse::<f64>().ok())
        })
        .map_or(0, |secs| (secs * 1e9) as u64)
}

fn render(src: &SourceFile, d: Diagnostic) -> String {
    src.render(&d).trim_end().to_string()
}

/// `-d insns` / `-v` text of one program.
fn dump_insns(p: &ProgDef) -> String {
    let o = bpfkit_insn::objdump::Options::default();
    format!(
        "{} ({}):\n{}",
        p.point.name,
        p.prog_type.name(),
        bpfkit_insn::objdump::dump(&p.insns, &[], &o)
    )
}

/// The script line behind the instruction the verifier stopped at (its last `N:` line).
fn verifier_span(log: &str, p: &ProgDef) -> Option<Span> {
    let idx = log.lines().rev().find_map(|l| {
        l.split_once(':')
            .and_then(|(n, _)| n.trim().parse::<usize>().ok())
    })?;
    p.spans
        .iter()
        .rev()
        .find(|(first, _)| *first <= idx)
        .map(|(_, s)| *s)
}

/// A compiled script with its kernel objects.
struct Loaded {
    maps: Vec<Map>,
    progs: Vec<(ProgDef, Program)>,
}

fn create_maps(c: &Compiled) -> Result<Vec<Map>, String> {
    c.maps
        .iter()
        .map(|m| {
            let spec = if m.map_type == MapType::Ringbuf {
                MapSpec::new(MapType::Ringbuf, 0, 0, m.max_entries)
            } else {
                MapSpec::new(m.map_type, m.key_size, m.value_size, m.max_entries)
            };
            let name: String = m
                .name
                .trim_start_matches('@')
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .take(15)
                .collect();
            Map::create(&spec.name(if name.is_empty() { "anon" } else { &name }))
                .map_err(|e| format!("creating map {}: {e}", m.name))
        })
        .collect()
}

fn load(
    c: &Compiled,
    src: &SourceFile,
    verbose: bool,
    err: &mut dyn Write,
) -> Result<Loaded, String> {
    let maps = create_maps(c)?;
    let fds: Vec<i32> = maps.iter().map(|m| m.fd().as_raw_fd()).collect();
    let mut progs = Vec::new();
    // BPFTRACE_LOG_SIZE: a fixed verifier log buffer, as bpftrace takes it.
    let log_size = std::env::var("BPFTRACE_LOG_SIZE")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|n| *n > 0);
    for (pi, p) in c.progs.iter().enumerate() {
        let func_btf = if p.funcs.is_empty() {
            None
        } else {
            let (btf, info) = crate::codegen::func_btf(&p.funcs)?;
            let fd = bpfkit_sys::btf::btf_load(&btf).map_err(|e| format!("{}: {e}", p.name))?;
            Some((fd, info))
        };
        let mut spec = ProgramSpec::new(p.name.clone(), p.prog_type, &p.insns).fd_array(&fds);
        if let Some((fd, info)) = &func_btf {
            spec.prog_btf_fd = Some(fd.as_fd());
            spec.func_info = info;
            spec.func_info_rec_size = 8;
        }
        if verbose {
            spec = spec.log_level(1);
        }
        if let Some(n) = log_size {
            spec = spec.log_size(n);
        }
        if let (Point::RawTracepoint { name }, bpfkit::ProgramType::Tracing) =
            (&p.point.point, p.prog_type)
        {
            spec = spec
                .for_tp_btf(name)
                .map_err(|e| format!("{}: {e}", p.point.name))?;
        }
        // Holds the module's BTF object open while the spec borrows its fd.
        let module_btf;
        if let Point::Fentry {
            module,
            function,
            ret,
        } = &p.point.point
        {
            let kind = if *ret {
                bpfkit::attach::fentry::TracingKind::Fexit
            } else {
                bpfkit::attach::fentry::TracingKind::Fentry
            };
            if let Some(m) = module {
                module_btf = crate::kernel_probes::module_btf(m)?;
                let id = module_btf
                    .function(function)
                    .ok_or_else(|| format!("{}: not in module {m}'s BTF", p.point.name))?;
                spec.prog_type = bpfkit::ProgramType::Tracing;
                spec.expected_attach_type = Some(kind.attach_type());
                spec = spec.attach_btf_id(id, Some(module_btf.fd.as_fd()));
            } else {
                spec = spec
                    .for_tracing(kind, function)
                    .map_err(|e| format!("{}: {e}", p.point.name))?;
            }
        }
        if let Point::Iter { name } = &p.point.point {
            spec = spec
                .for_iter(name)
                .map_err(|e| format!("{}: {e}", p.point.name))?;
        }
        match Program::load(&spec) {
            Ok(prog) => {
                if verbose {
                    let _ = writeln!(err, "{}\n{}", dump_insns(p), prog.verifier_log());
                }
                progs.push((p.clone(), prog));
            }
            Err(e) if log_size.is_some() && load_errno(&e) == Some(ENOSPC) => {
                return Err(log_trimmed(p, pi, log_size.unwrap_or(0)));
            }
            Err(bpfkit::Error::Verifier { log, source, .. }) => {
                let mut msg = format!(
                    "{}: the verifier rejected the program ({source})\n{}",
                    p.point.name,
                    log.trim_end()
                );
                if let Some(span) = verifier_span(&log, p) {
                    let d = Diagnostic::error(
                        span,
                        "the verifier rejected the code generated for this",
                    );
                    msg.push('\n');
                    msg.push_str(&render(src, d));
                }
                return Err(msg);
            }
            Err(e) if e.to_string().contains("EPERM") || e.to_string().contains("ermission") => {
                if matches!(p.point.point, Point::Fentry { .. } | Point::Iter { .. }) {
                    return Err(format!(
                        "{}: this kernel refuses tracing programs (fentry/fexit/iter; lockdown)",
                        p.point.name
                    ));
                }
                return Err(format!("{}: {e}", p.point.name));
            }
            Err(e) => return Err(format!("{}: {e}{}", p.point.name, too_complex_hint(&e))),
        }
    }
    Ok(Loaded { maps, progs })
}

const ENOSPC: i32 = 28;

/// The errno a failed program load reports.
fn load_errno(e: &bpfkit::Error) -> Option<i32> {
    match e {
        bpfkit::Error::Verifier { source, .. } | bpfkit::Error::Sys(source) => source.errno(),
        _ => None,
    }
}

/// bpftrace's words when the verifier log did not fit the `BPFTRACE_LOG_SIZE` buffer; the
/// program is named as bpftrace names it (`begin_1`: the probe, then its 1-based index).
fn log_trimmed(p: &ProgDef, index: usize, size: u32) -> String {
    let probe: String = p
        .point
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!(
        "ERROR: Error loading BPF program for {probe}_{}. Error code: -{ENOSPC} (No space left on device).\n\
         WARNING: Kernel log seems to be trimmed. This may be due to buffer not being big enough, \
         try increasing the BPFTRACE_LOG_SIZE environment variable beyond the current value of {size} bytes",
        index + 1
    )
}

/// What a load refused without a verifier log means: `E2BIG`, the verifier gave up on a
/// program it could not finish checking, most often a `while` loop it never sees ending;
/// `EFAULT`, this kernel's answer when one path has too many branches (a long loop).
fn too_complex_hint(e: &bpfkit::Error) -> &'static str {
    const E2BIG: i32 = 7;
    const EFAULT: i32 = 14;
    match e {
        bpfkit::Error::Sys(s) if s.errno() == Some(EFAULT) => {
            "\nthe verifier refused this probe without saying why (`-v` shows its log); a \
             `while` loop of many iterations can exceed its limit of 8192 branches on one path"
        }
        bpfkit::Error::Sys(s) if s.errno() == Some(E2BIG) => {
            "\nthe verifier gave up checking this probe (too many instructions to follow): a \
             `while` loop whose condition it cannot track never looks bounded to it, such as \
             one that reads a map, or memory through a pointer (other than a pointer only ever \
             set to `&$x` of one variable, which is read as `$x` itself)"
        }
        _ => "",
    }
}

fn run_once(p: &Program) -> Result<(), String> {
    let ctx = [0u8; 8];
    let t = bpfkit::TestRun {
        ctx_in: &ctx,
        ..Default::default()
    };
    p.test_run(&t).map(|_| ()).map_err(|e| e.to_string())
}

/// Parses, checks and compiles `text` (named `name` in messages) without touching the
/// kernel beyond reading tracefs and ELF files; dumps requested stages into `dump`.
pub fn compile(
    name: &str,
    text: &str,
    opts: &Options,
    dump: &mut dyn Write,
) -> Result<Compiled, String> {
    let src = SourceFile::new(name, text);
    let root = bpfkit_sys::tracefs::root().unwrap_or_else(|_| "/sys/kernel/tracing".into());
    let ts = Tracefs::new(root);
    let want = |s: &str| opts.debug.iter().any(|d| d == s || d == "all");
    if want("tokens") {
        let (toks, diags) = crate::lexer::lex(text, &crate::lexer::LexOptions::with_btf());
        if let Some(d) = diags.into_iter().next() {
            return Err(render(&src, d));
        }
        let _ = write!(dump, "{}", crate::dump::dump_tokens(&src, &toks));
    }
    let copts = CheckOptions {
        allow_unsafe: opts.allow_unsafe,
        params: opts.params.clone(),
        ..Default::default()
    };
    let (prog, checked, warnings) =
        crate::check_program(name, text, &ts, &copts).map_err(|e| e.to_string())?;
    crate::includes::check_includes(&prog, text)?;
    if let Some(f) = opts
        .includes
        .iter()
        .find(|f| !crate::includes::header_exists(f))
    {
        return Err(format!("fatal error: '{f}' file not found"));
    }
    if !warnings.is_empty() && !opts.no_warnings {
        let _ = write!(dump, "{warnings}");
    }
    if want("ast") {
        let _ = write!(dump, "{}", crate::dump::dump_ast(&prog));
    }
    if want("typed") {
        let _ = write!(dump, "{}", crate::dump::dump_typed_ast(&prog, &checked));
    }
    let mut points = Vec::new();
    for p in &prog.probes {
        let mut v = Vec::new();
        for ap in &p.attach_points {
            let r = if ap.kind == crate::attach::ProbeKind::Usdt {
                crate::usdt::resolve(ap, opts.pid, opts.cmd.as_deref())
            } else {
                probes::resolve(ap, &opts.params)
            }
            .map_err(|m| render(&src, Diagnostic::error(ap.span, m)))?;
            v.extend(r);
        }
        points.push(v);
    }
    let gopts = codegen::Options {
        start_ns: monotonic_ns(),
        pid: opts.pid,
        max_map_keys: 4096,
        params: opts.params.clone(),
        header_constants: crate::headers::constants(
            prog.includes
                .iter()
                .map(|i| i.path.as_str())
                .chain(opts.includes.iter().map(String::as_str)),
        ),
    };
    let mut c = codegen::compile(&prog, &checked, &points, &gopts).map_err(|d| render(&src, d))?;
    for f in &mut c.formats {
        f.fmt = if opts.no_warnings && codegen::is_warning_format(&f.fmt) {
            String::new()
        } else {
            codegen::resolve_diag_format(&f.fmt, &src)
        };
    }
    if want("insns") {
        for p in &c.progs {
            let _ = writeln!(dump, "{}", dump_insns(p));
        }
    }
    Ok(c)
}

/// Runs a script to completion. Output goes to `out`, diagnostics to `err`; returns the
/// process exit status.
pub fn run(
    name: &str,
    text: &str,
    opts: &Options,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, String> {
    // Signals are blocked before anything else so no thread started later takes them.
    let sigfd = bpfkit_sys::signal::termination_fd(opts.cmd.is_some())
        .map_err(|e| format!("setting up signal handling: {e}"))?;
    let compiled = compile(name, text, opts, err)?;
    if let Some(path) = &opts.emit_elf {
        let bytes = crate::emit_elf::write(&compiled, &SourceFile::new(name, text))?;
        std::fs::write(path, bytes).map_err(|e| format!("writing {}: {e}", path.display()))?;
        return Ok(0);
    }
    if opts.dry_run {
        return Ok(0);
    }
    let src = SourceFile::new(name, text);
    let loaded = load(&compiled, &src, opts.verbose, err)?;
    let mut links: Vec<Link> = Vec::new();
    let mut ends = Vec::new();
    let mut attached = 0usize;
    let mut iter_links = Vec::new();
    // begin runs before anything else is attached, so its output (a tool's header) comes
    // first in the ring; it is printed after the `Attached` line all the same.
    for (def, prog) in &loaded.progs {
        if matches!(def.point.point, Point::Begin) {
            run_once(prog)?;
        }
    }
    for (def, prog) in &loaded.progs {
        match def.point.point {
            Point::Begin => {}
            Point::End => ends.push(prog),
            _ => {
                let l = probes::attach(prog, &def.point.point, opts.pid.map(|p| p as i32))
                    .map_err(|m| format!("{}: {m}", def.point.name))?;
                if matches!(def.point.point, Point::Iter { .. }) {
                    iter_links.extend(links.len()..links.len() + l.len());
                }
                links.extend(l);
            }
        }
        attached += 1;
    }
    let Some(events) = loaded.maps.first() else {
        return Err("internal error: no event ring buffer".into());
    };
    let mut ring = bpfkit::RingBuf::new(events.as_fd()).map_err(|e| e.to_string())?;
    let mut skb_out = SkbOutput::open(&compiled, &loaded.maps)?;
    let mut rt = Runtime::new(&compiled, &loaded.maps, out, opts.format);
    if !opts.quiet {
        rt.attached(attached);
    }
    if std::env::var_os("__BPFTRACE_NOTIFY_PROBES_ATTACHED").is_some() {
        // On stdout, as bpftrace prints it (cases pipe stdout and drop that first line).
        rt.flush();
        let mut so = std::io::stdout();
        let _ = writeln!(so, "__BPFTRACE_NOTIFY_PROBES_ATTACHED");
        let _ = so.flush();
    }
    // `begin` may have called `exit()` with its record lost to a full ring. The flag is read
    // before the ring, as in the loop below: a probe that fires in between must find its
    // records printed. Events behind an `exit()` are dropped, as in the loop below.
    let flagged = rt.exit_flagged();
    let _ = ring.consume(|rec| {
        if !rt.exit {
            rt.handle(rec)
        }
    });
    rt.exit_on_flag(flagged);
    // Iterators run once, now, and the script ends after them, as in bpftrace.
    if !iter_links.is_empty() {
        let iters: Vec<&Link> = iter_links.iter().filter_map(|&i| links.get(i)).collect();
        crate::kernel_probes::run_iterators(&iters, &mut ring, &mut rt)?;
        rt.exit = true;
    }
    if opts.bench {
        for (def, prog) in &loaded.progs {
            if let Point::Bench { name } = &def.point.point {
                let r = crate::runtime::bench::measure(name, prog)?;
                let _ = ring.consume(|rec| rt.handle(rec));
                rt.bench_result(&r);
            }
        }
        rt.exit = true;
    }
    // As current bpftrace does: a script whose only probes are begin/end has nothing left to
    // wait for once begin ran, so it ends at once (running end and printing maps) unless a
    // `-c` command is to be traced.
    let only_begin_end = loaded.progs.iter().all(|(def, _)| {
        matches!(
            def.point.point,
            Point::Begin | Point::End | Point::Bench { .. }
        )
    });
    if only_begin_end && opts.cmd.is_none() {
        rt.exit = true;
    }
    let mut child = match &opts.cmd {
        Some(cmd) if !rt.exit => {
            let words: Vec<&str> = cmd.split_whitespace().collect();
            let (first, rest) = words.split_first().ok_or("-c needs a command")?;
            Some(
                std::process::Command::new(first)
                    .args(rest)
                    .spawn()
                    .map_err(|e| format!("running {cmd}: {e}"))?,
            )
        }
        _ => None,
    };
    while !rt.exit {
        let mut fds = vec![ring.epoll_fd(), sigfd.as_fd()];
        if let Some(s) = &skb_out {
            fds.push(s.perf.epoll_fd());
        }
        // A short timeout: an `exit()` whose record a full ring dropped is seen only by
        // reading the exit flag, which wakes nothing.
        let ready =
            bpfkit_sys::signal::wait_readable(&fds, EXIT_POLL_MS).map_err(|e| e.to_string())?;
        if let Some(s) = skb_out.as_mut() {
            s.drain(err);
        }
        // The flag is read before the ring: every record queued before the `exit()` that set
        // it is in the ring by then, and is printed below.
        let flagged = rt.exit_flagged();
        // Records queued behind an `exit()` are dropped, as bpftrace drops them: running
        // them could go on for long (a `system()` per record whose exec traces another).
        let _ = ring.consume(|rec| {
            if !rt.exit {
                rt.handle(rec)
            }
        });
        rt.report_lost();
        rt.exit_on_flag(flagged);
        if ready.get(1).copied().unwrap_or(false) {
            while let Ok(Some(sig)) = bpfkit_sys::signal::read_signal(sigfd.as_fd()) {
                // SIGCHLD only wakes the loop to look at the child below.
                if sig != SIGCHLD {
                    rt.exit = true;
                }
            }
        }
        if let Some(c) = child.as_mut() {
            if let Ok(Some(_)) = c.try_wait() {
                break;
            }
        }
    }
    drop(links);
    let _ = ring.consume(|rec| {
        if !rt.exit {
            rt.handle(rec)
        }
    });
    for e in &ends {
        run_once(e)?;
    }
    if let Some(s) = skb_out.as_mut() {
        s.drain(err);
    }
    let _ = ring.consume(|rec| rt.handle(rec));
    rt.report_lost();
    rt.print_all_maps();
    Ok(rt.exit_code)
}

const SIGCHLD: i32 = 17;

/// The perf rings of `skboutput()` and the pcap files they fill.
struct SkbOutput {
    perf: bpfkit::PerfBuf,
    files: crate::runtime::pcap::PcapFiles,
}

impl SkbOutput {
    /// The rings of the script's `skboutput()` map, if it has one.
    fn open(c: &Compiled, maps: &[Map]) -> Result<Option<SkbOutput>, String> {
        let Some(i) = c
            .maps
            .iter()
            .position(|m| m.name == codegen::SKB_OUTPUT_MAP)
        else {
            return Ok(None);
        };
        let map = maps.get(i).ok_or("internal error: no skboutput map")?;
        let perf = bpfkit::PerfBuf::new(map.fd(), &bpfkit::PerfBufOptions::default())
            .map_err(|e| format!("skboutput: opening the perf rings: {e}"))?;
        let files = crate::runtime::pcap::PcapFiles::new(c.pcap_files.clone(), monotonic_ns());
        Ok(Some(SkbOutput { perf, files }))
    }

    /// Writes the waiting packets; a file that cannot be written is reported once per batch.
    fn drain(&mut self, err: &mut dyn Write) {
        let mut failure = None;
        let files = &mut self.files;
        let _ = self.perf.consume(|ev| {
            if let bpfkit::PerfEvent::Sample { data, .. } = ev {
                if let Err(m) = files.sample(data) {
                    failure = Some(m);
                }
            }
        });
        if let Some(m) = failure {
            let _ = writeln!(err, "ERROR: {m}");
        }
    }
}
/// How long (ms) the event loop sleeps at most before it looks at the exit flag again.
const EXIT_POLL_MS: i32 = 5;
