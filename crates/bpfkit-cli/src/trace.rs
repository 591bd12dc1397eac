//! `bpfkit trace`: bpftrace's command line (`-e PROGRAM | FILE | -`, `-l`, `-lv`, `-p`, `-c`,
//! `-v`, `-d`, `-f`, `-o`, `-q`, `--unsafe`, `--dry-run`, `--info`, `--version`) over
//! `bpfkit_trace::driver`. Parsed by hand because bpftrace's flags (`-lv`, `-p`, `-d`, `-f`)
//! clash with the bpftool-style global flags clap handles for the other nouns.

use crate::CliError;
use bpfkit_trace::driver::{self, Options};
use bpfkit_trace::runtime::OutputFormat;
use std::io::{Read, Write};

const USAGE: &str = "USAGE:
    bpfkit trace [OPTIONS] (-e PROGRAM | FILE | -) [ARGS...]
    bpfkit trace -l [PATTERN]

OPTIONS:
    -e PROGRAM     program text
    -l [PATTERN]   list probes (tracepoints, software events, uprobe:BINARY:*)
    -lv PATTERN    list probes with their arguments
    -p PID         only trace this process
    -c CMD         run CMD once probes are attached, exit when it ends
    -v             print verifier logs and instructions
    -d STAGE       dump a compiler stage: tokens, ast, typed, insns, all
    -f FORMAT      output format: text (default) or json
    -o FILE        write output to FILE
    -q             do not print the `Attached N probes` line
    --unsafe       allow system(), signal() and other unsafe functions
    --dry-run      compile the program but do not load it
    --info         print the kernel features bpfkit trace uses
    --version      print the version
";

struct Args {
    program: Option<(String, String)>,
    list: Option<Option<String>>,
    list_verbose: bool,
    out: Option<String>,
    info: bool,
    opts: Options,
}

fn need(it: &mut std::vec::IntoIter<String>, flag: &str) -> Result<String, CliError> {
    it.next()
        .ok_or_else(|| CliError::Usage(format!("{flag} needs an argument\n{USAGE}")))
}

fn parse(words: Vec<String>) -> Result<Args, CliError> {
    let mut a = Args {
        program: None,
        list: None,
        list_verbose: false,
        out: None,
        info: false,
        opts: Options::default(),
    };
    let mut it = words.into_iter();
    let mut rest = Vec::new();
    while let Some(w) = it.next() {
        match w.as_str() {
            "-e" => a.program = Some(("stdin".into(), need(&mut it, "-e")?)),
            "-l" | "-lv" | "-vl" => {
                a.list_verbose |= w != "-l";
                let pat = it
                    .as_slice()
                    .first()
                    .filter(|p| !p.starts_with('-'))
                    .cloned();
                if pat.is_some() {
                    it.next();
                }
                a.list = Some(pat);
            }
            "-v" => {
                if a.list.is_some() {
                    a.list_verbose = true;
                } else {
                    a.opts.verbose = true;
                }
            }
            "-p" => {
                let p = need(&mut it, "-p")?;
                a.opts.pid = Some(
                    p.parse()
                        .map_err(|_| CliError::Usage(format!("-p: '{p}' is not a process id")))?,
                );
            }
            "-c" => a.opts.cmd = Some(need(&mut it, "-c")?),
            "-d" => a.opts.debug.push(need(&mut it, "-d")?),
            "-f" => {
                a.opts.format = match need(&mut it, "-f")?.as_str() {
                    "text" => OutputFormat::Text,
                    "json" => OutputFormat::Json,
                    o => {
                        return Err(CliError::Usage(format!(
                            "-f: unknown format '{o}' (text or json)"
                        )))
                    }
                }
            }
            "-o" => a.out = Some(need(&mut it, "-o")?),
            "-q" => a.opts.quiet = true,
            "--unsafe" => a.opts.allow_unsafe = true,
            "--dry-run" => a.opts.dry_run = true,
            "--info" => a.info = true,
            "--version" | "-V" => {
                crate::emit(&format!("bpfkit trace v{}\n", env!("CARGO_PKG_VERSION")))?;
                std::process::exit(0);
            }
            "-h" | "--help" => {
                crate::emit(USAGE)?;
                std::process::exit(0);
            }
            _ if w.starts_with('-') && w != "-" && a.program.is_none() && rest.is_empty() => {
                return Err(CliError::Usage(format!("unknown option {w}\n{USAGE}")))
            }
            _ => rest.push(w),
        }
    }
    let mut rest = rest.into_iter();
    if a.program.is_none() && a.list.is_none() && !a.info {
        let file = rest
            .next()
            .ok_or_else(|| CliError::Usage(format!("no program given\n{USAGE}")))?;
        let text = if file == "-" {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| CliError::Failed(format!("reading the program from stdin: {e}")))?;
            ("stdin".to_string(), s)
        } else {
            let s = std::fs::read_to_string(&file)
                .map_err(|e| CliError::Failed(format!("failed to open file '{file}': {e}")))?;
            (file, s)
        };
        a.program = Some(text);
    }
    a.opts.params = rest.collect();
    Ok(a)
}

fn list(pattern: Option<&str>, verbose: bool) -> Result<String, CliError> {
    let pat = pattern.unwrap_or("*");
    let mut out = String::new();
    let (prov, rest) = pat.split_once(':').unwrap_or((pat, "*"));
    let glob = bpfkit::attach::kprobe::glob_match;
    let kind = bpfkit_trace::attach::ProbeKind::from_provider(prov);
    use bpfkit_trace::attach::ProbeKind as K;
    let any = !pat.contains(':');
    if let Some(K::Uprobe | K::Uretprobe) = kind {
        let (bin, sym) = rest.split_once(':').unwrap_or((rest, "*"));
        let path = bpfkit::attach::uprobe::resolve_binary(bin)
            .map_err(|e| CliError::Failed(e.to_string()))?;
        let mut syms = bpfkit::attach::uprobe::matching_symbols(&path, sym)
            .map_err(|e| CliError::Failed(e.to_string()))?;
        syms.sort();
        syms.dedup_by(|a, b| a.0 == b.0);
        for (s, _) in syms {
            out.push_str(&format!("uprobe:{}:{s}\n", path.display()));
        }
        return Ok(out);
    }
    let tp = any || matches!(kind, Some(K::Tracepoint));
    if tp {
        let (cat, ev) = if any {
            ("*", "*")
        } else {
            rest.split_once(':').unwrap_or((rest, "*"))
        };
        let events = bpfkit_trace::probes::tracepoints().map_err(CliError::Failed)?;
        for (c, e) in events {
            let name = format!("tracepoint:{c}:{e}");
            if (any && glob(pat, &name)) || (!any && glob(cat, &c) && glob(ev, &e)) {
                if verbose {
                    if let Ok(f) = bpfkit_trace::probes::tracepoint_format(&c, &e) {
                        out.push_str(&f.listing(&c, &e));
                        continue;
                    }
                }
                out.push_str(&name);
                out.push('\n');
            }
        }
    }
    // Providers named by a pattern (`*ware`) match by glob; a bare pattern matches full names.
    let prov_ok =
        |p: &str| any || kind.is_none() && glob(prov, p) || kind.map(|k| k.name()) == Some(p);
    let leaf = rest.trim_end_matches(':');
    let fixed = |provider: &str, names: &[&str], out: &mut String| {
        if !prov_ok(provider) {
            return;
        }
        for ev in names {
            let name = format!("{provider}:{ev}:");
            if any && glob(pat, &name) || !any && glob(leaf, ev) {
                out.push_str(&name);
                out.push('\n');
            }
        }
    };
    fixed("software", SOFTWARE, &mut out);
    fixed("hardware", HARDWARE, &mut out);
    fixed("interval", TIMER_UNITS, &mut out);
    fixed("profile", TIMER_UNITS, &mut out);
    if !any && prov_ok("rawtracepoint") {
        let mut seen = std::collections::BTreeSet::new();
        for (_, e) in bpfkit_trace::probes::tracepoints().map_err(CliError::Failed)? {
            if glob(leaf, &e) && seen.insert(e.clone()) {
                out.push_str(&format!("rawtracepoint:{e}\n"));
            }
        }
    }
    Ok(out)
}

const TIMER_UNITS: &[&str] = &["hz", "us", "ms", "s"];

/// Software events with the short aliases bpftrace also accepts.
const SOFTWARE: &[&str] = &[
    "alignment-faults",
    "bpf-output",
    "context-switches",
    "cs",
    "cpu-clock",
    "cpu",
    "cpu-migrations",
    "migrations",
    "dummy",
    "emulation-faults",
    "major-faults",
    "majflt",
    "minor-faults",
    "minflt",
    "page-faults",
    "faults",
    "task-clock",
];

const HARDWARE: &[&str] = &[
    "backend-stalls",
    "branch-instructions",
    "branch-misses",
    "bus-cycles",
    "cache-misses",
    "cache-references",
    "cpu-cycles",
    "frontend-stalls",
    "instructions",
    "ref-cycles",
];

fn info() -> String {
    let yes = |b: bool| if b { "yes" } else { "no" };
    let tracefs = bpfkit_sys::tracefs::root().is_ok();
    format!(
        "System\n  OS: Linux {}\n\nKernel features\n  kprobes: {}\n  tracefs: {}\n  ring buffer: yes\n\nBuild\n  version: v{}\n  LLVM: none (own code generator)\n",
        std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        yes(bpfkit::attach::kprobe::kprobes_available()),
        yes(tracefs),
        env!("CARGO_PKG_VERSION"),
    )
}

/// Runs `bpfkit trace` with the words after `trace`.
pub fn run(words: Vec<String>) -> Result<(), CliError> {
    let a = parse(words)?;
    if a.info {
        return crate::emit(&info());
    }
    if let Some(pat) = &a.list {
        if a.program.is_none() {
            return crate::emit(&list(pat.as_deref(), a.list_verbose)?);
        }
    }
    let Some((name, text)) = a.program else {
        return Err(CliError::Usage(USAGE.to_string()));
    };
    let mut stdout = std::io::stdout();
    let mut file;
    let out: &mut dyn Write = match &a.out {
        Some(p) => {
            file = std::fs::File::create(p)
                .map_err(|e| CliError::Failed(format!("creating {p}: {e}")))?;
            &mut file
        }
        None => &mut stdout,
    };
    let mut stderr = std::io::stderr();
    match driver::run(&name, &text, &a.opts, out, &mut stderr) {
        Ok(0) => Ok(()),
        Ok(code) => std::process::exit(code),
        Err(m) => {
            let _ = writeln!(stderr, "{m}");
            Err(CliError::Reported(1))
        }
    }
}
