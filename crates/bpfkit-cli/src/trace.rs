//! `bpfkit trace`: bpftrace's command line (`-e PROGRAM | FILE | -`, `-l`, `-lv`, `-p`, `-c`,
//! `-v`, `-d`, `-f`, `-o`, `-q`, `--unsafe`, `--dry-run`, `--emit-elf`, `--info`, `--version`) over
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
    -l [PATTERN]   list probes (tracepoints, software events, uprobe:BINARY:*,
                   usdt:BINARY:*; with -p PID, usdt:*:* of that process)
    -lv PATTERN    list probes with their arguments
    -p PID         only trace this process
    -c CMD         run CMD once probes are attached, exit when it ends
    -v             print verifier logs and instructions
    -d STAGE       dump a compiler stage: tokens, ast, typed, insns, all
    -f FORMAT      output format: text (default) or json
    -o FILE        write output to FILE
    -q             do not print the `Attached N probes` line
    --unsafe       allow system(), signal() and other unsafe functions
    --include FILE use the integer #defines of header FILE
    --dry-run      compile the program but do not load it
    --emit-elf FILE  write the compiled program as a BPF object file (.maps, BTF) and exit
    --no-warnings  do not print warnings (compile-time ones, warnf, full maps)
    --mode MODE    run (default) or bench: time each bench:NAME probe
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
                a.opts.pid = Some(parse_pid(&p)?);
            }
            "-c" => a.opts.cmd = Some(need(&mut it, "-c")?),
            "-d" => a.opts.debug.push(need(&mut it, "-d")?),
            "-f" => {
                a.opts.format = match need(&mut it, "-f")?.as_str() {
                    "text" => OutputFormat::Text,
                    "json" => OutputFormat::Json,
                    o => return Err(error(&format!("Invalid output format \"{o}\""))),
                }
            }
            "-o" => a.out = Some(need(&mut it, "-o")?),
            "-q" => a.opts.quiet = true,
            "--unsafe" => a.opts.allow_unsafe = true,
            "--include" => a.opts.includes.push(need(&mut it, "--include")?),
            "--dry-run" => a.opts.dry_run = true,
            "--emit-elf" => a.opts.emit_elf = Some(need(&mut it, "--emit-elf")?.into()),
            "--no-warnings" => a.opts.no_warnings = true,
            "--mode" => match need(&mut it, "--mode")?.as_str() {
                "run" => a.opts.bench = false,
                "bench" => a.opts.bench = true,
                m => {
                    return Err(error(&format!(
                        "Invalid mode \"{m}\": expected run or bench"
                    )))
                }
            },
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
                .map_err(|e| error(&format!("failed to open file '{file}': {}", io_reason(&e))))?;
            (file, s)
        };
        a.program = Some(text);
    }
    a.opts.params = rest.collect();
    Ok(a)
}

/// Prints `ERROR: MESSAGE` on stderr, bpftrace's wording for command-line mistakes.
fn error(message: &str) -> CliError {
    eprintln!("ERROR: {message}");
    CliError::Reported(1)
}

/// An I/O error's reason without Rust's ` (os error N)` suffix, as strerror words it.
fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// `-p PID`: a decimal process id within the kernel's pid range, with bpftrace's messages.
fn parse_pid(p: &str) -> Result<u32, CliError> {
    let digits = p.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(error(&format!("Failed to parse pid: invalid integer: {p}")));
    }
    if digits < p.len() {
        return Err(error(&format!(
            "Failed to parse pid: invalid trailing bytes: {p}"
        )));
    }
    // The kernel's hard limit (PID_MAX_LIMIT on 64-bit) when /proc does not say.
    let max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4_194_304);
    match p.parse::<u64>() {
        Ok(n) if n <= max => u32::try_from(n).map_err(|_| error(&format!("Pid out of range: {p}"))),
        _ => Err(error(&format!("Pid out of range: {p}"))),
    }
}

/// `-l FILE.bt`: the probes a script's attach points name, each listed as `-l` would list it.
fn list_script(file: &str, text: &str, verbose: bool) -> Result<String, CliError> {
    use bpfkit_trace::attach::AttachTarget;
    let prog = bpfkit_trace::parser::parse(text, &bpfkit_trace::lexer::LexOptions::with_btf())
        .map_err(|d| {
            eprint!(
                "{}",
                bpfkit_trace::diag::SourceFile::new(file, text).render_all(&d)
            );
            CliError::Reported(1)
        })?;
    let mut out = String::new();
    for ap in prog.probes.iter().flat_map(|p| &p.attach_points) {
        let rest = ap.raw.split_once(':').map_or("", |r| r.1);
        // A timer's period and a perf event's count are not part of the listed name.
        let rest = match &ap.target {
            AttachTarget::Timer { .. } | AttachTarget::PerfEvent { count: Some(_), .. } => {
                rest.rsplit_once(':').map_or(rest, |r| r.0)
            }
            AttachTarget::None => continue,
            _ => rest,
        };
        out.push_str(&list(Some(&format!("{}:{rest}", ap.kind.name())), verbose)?);
    }
    Ok(out)
}

/// A C spelling of BTF type `id` for `-lv 'struct NAME'` (arrays and function pointers kept
/// short: the listing is for reading, not for compiling).
fn c_type(btf: &bpfkit_btf::Btf, id: u32, depth: usize) -> String {
    use bpfkit_btf::{Detail, Kind};
    let Ok(t) = btf.type_by_id(id) else {
        return "?".into();
    };
    if depth > 16 {
        return "?".into();
    }
    let named = |kw: &str| {
        if t.name.is_empty() {
            format!("{kw} {{...}}")
        } else {
            format!("{kw} {}", t.name)
        }
    };
    match (&t.kind, &t.detail) {
        (Kind::Void, _) => "void".into(),
        (Kind::Struct, _) => named("struct"),
        (Kind::Union, _) => named("union"),
        (Kind::Enum | Kind::Enum64, _) => named("enum"),
        (Kind::Fwd, Detail::Fwd { is_union }) => named(if *is_union { "union" } else { "struct" }),
        (Kind::Ptr, Detail::Ptr { type_id }) => {
            let inner = c_type(btf, *type_id, depth + 1);
            if inner.ends_with('*') {
                format!("{inner}*")
            } else {
                format!("{inner} *")
            }
        }
        (Kind::Array, Detail::Array(a)) => {
            format!("{}[{}]", c_type(btf, a.elem_type, depth + 1), a.nelems)
        }
        (Kind::Const, _) => format!("const {}", c_type(btf, t.size_or_type, depth + 1)),
        (Kind::Volatile, _) => format!("volatile {}", c_type(btf, t.size_or_type, depth + 1)),
        (Kind::Restrict | Kind::TypeTag, _) => c_type(btf, t.size_or_type, depth + 1),
        (Kind::FuncProto, _) => "void (*)()".into(),
        _ => t.name.to_string(),
    }
}

/// `-lv 'struct NAME'` (also `union`, `enum`): the definition as bpftrace lists it, prefixed
/// with the BTF it came from.
fn list_type(spec: &str) -> Result<String, CliError> {
    use bpfkit_btf::{Detail, Kind};
    let (kw, name) = spec.split_once(' ').unwrap_or(("struct", spec));
    let name = name.trim();
    let kind = match kw {
        "union" => Kind::Union,
        "enum" => Kind::Enum,
        _ => Kind::Struct,
    };
    let btf = bpfkit_btf::Btf::vmlinux().map_err(|e| CliError::Failed(e.to_string()))?;
    let Some(id) = btf.find_by_name_kind(name, kind) else {
        return Ok(String::new());
    };
    let t = btf
        .type_by_id(id)
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let mut out = format!("vmlinux: {kw} {name} {{\n");
    match &t.detail {
        Detail::Composite { members, .. } => {
            for m in members {
                let ty = c_type(&btf, m.type_id, 0);
                let line = match ty.split_once('[') {
                    Some((elem, dims)) => format!("{elem} {}[{dims}", m.name),
                    None => format!("{ty} {}", m.name),
                };
                out.push_str(&format!("\t{};\n", line.trim_end()));
            }
        }
        Detail::Enum(e) => {
            for v in &e.values {
                out.push_str(&format!("\t{} = {},\n", v.name, v.value));
            }
        }
        _ => {}
    }
    out.push_str("};\n");
    Ok(out)
}

fn list(pattern: Option<&str>, verbose: bool) -> Result<String, CliError> {
    if let Some(p) = pattern.filter(|p| p.contains(',')) {
        let mut out = String::new();
        for part in p.split(',') {
            out.push_str(&list(Some(part.trim()), verbose)?);
        }
        return Ok(out);
    }
    if let Some(spec) = pattern.filter(|p| {
        ["struct ", "union ", "enum "]
            .iter()
            .any(|k| p.trim_start().starts_with(k))
    }) {
        return list_type(spec.trim_start());
    }
    let pat = pattern.unwrap_or("*");
    let mut out = String::new();
    let (prov, rest) = pat.split_once(':').unwrap_or((pat, "*"));
    let glob = bpfkit::attach::kprobe::glob_match;
    let kind = bpfkit_trace::attach::ProbeKind::from_provider(prov);
    use bpfkit_trace::attach::ProbeKind as K;
    let any = !pat.contains(':');
    if let Some(K::Usdt) = kind {
        return bpfkit_trace::usdt::list(rest, None).map_err(CliError::Failed);
    }
    if let Some(r) = kind
        .filter(|_| !any)
        .and_then(|k| bpfkit_trace::kernel_probes::list(k, rest))
    {
        let text = r.map_err(CliError::Failed)?;
        if !verbose || !matches!(kind, Some(K::Fentry | K::Fexit)) {
            return Ok(text);
        }
        return Ok(function_params_listing(&text, kind == Some(K::Fexit)));
    }
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
    if prov_ok("rawtracepoint") {
        let mut btf: Option<Option<bpfkit_btf::Btf>> = None;
        let mut seen = std::collections::BTreeSet::new();
        for (_, e) in bpfkit_trace::probes::tracepoints().map_err(CliError::Failed)? {
            let hit = if any {
                glob(pat, &format!("rawtracepoint:{e}"))
            } else {
                glob(leaf, &e)
            };
            if hit && seen.insert(e.clone()) {
                out.push_str(&format!("rawtracepoint:{e}\n"));
                if verbose {
                    if btf.is_none() {
                        btf = Some(bpfkit_btf::Btf::vmlinux().ok());
                    }
                    if let Some(Some(b)) = &btf {
                        out.push_str(&raw_tracepoint_params(b, &e));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// `-lv` of fentry/fexit lines (`fentry:vmlinux:NAME`): each followed by the function's
/// parameters from BTF, one `    TYPE NAME` line each, and for fexit `    TYPE retval`.
fn function_params_listing(lines: &str, ret: bool) -> String {
    use bpfkit_btf::{Detail, Kind};
    let Ok(btf) = bpfkit_btf::Btf::vmlinux() else {
        return lines.to_string();
    };
    // One pass over the types: `-lv 'fentry:*'` lists tens of thousands of functions.
    let protos: std::collections::HashMap<&str, u32> = btf
        .types()
        .filter_map(Result::ok)
        .filter(|t| t.kind == Kind::Func)
        .filter_map(|t| t.referenced().map(|p| (t.name, p)))
        .collect();
    let mut out = String::new();
    for line in lines.lines() {
        out.push_str(line);
        out.push('\n');
        let name = line.rsplit(':').next().unwrap_or_default();
        let proto = protos.get(name).and_then(|&p| btf.type_by_id(p).ok());
        let Some(Detail::FuncProto(fp)) = proto.as_ref().map(|t| &t.detail) else {
            continue;
        };
        for p in &fp.params {
            out.push_str(&format!("    {} {}\n", c_type(&btf, p.type_id, 0), p.name));
        }
        if ret && fp.ret_type != 0 {
            out.push_str(&format!("    {} retval\n", c_type(&btf, fp.ret_type, 0)));
        }
    }
    out
}

/// A raw tracepoint's arguments from the BTF of its kernel wrapper `__bpf_trace_EVENT`,
/// without the leading context pointer the wrapper takes, one `    TYPE NAME` line each.
fn raw_tracepoint_params(btf: &bpfkit_btf::Btf, event: &str) -> String {
    use bpfkit_btf::{Detail, Kind};
    let proto = btf
        .find_by_name_kind(&format!("__bpf_trace_{event}"), Kind::Func)
        .and_then(|f| btf.type_by_id(f).ok())
        .and_then(|f| btf.type_by_id(f.size_or_type).ok())
        // Events of a class share the class's wrapper; their typedef still has the types.
        .or_else(|| {
            let td = btf.find_by_name_kind(&format!("btf_trace_{event}"), Kind::Typedef)?;
            let ptr = btf.type_by_id(btf.type_by_id(td).ok()?.size_or_type).ok()?;
            btf.type_by_id(ptr.size_or_type).ok()
        });
    let mut out = String::new();
    if let Some(Detail::FuncProto(p)) = proto.as_ref().map(|t| &t.detail) {
        for param in p.params.iter().skip(1) {
            let ty = c_type(btf, param.type_id, 0);
            out.push_str(&format!("    {ty} {}\n", param.name).replace(" \n", "\n"));
        }
    }
    out
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
    let kprobes = bpfkit::attach::kprobe::kprobes_available();
    // BPF_PROG_TYPE_TRACING (fentry, fexit, iter) from the kernel's uapi enum.
    let fentry = bpfkit::features::prog_type_supported(26).unwrap_or(false);
    let hardware = std::path::Path::new("/sys/bus/event_source/devices/cpu").exists();
    // Probe kinds the kernel decides; bpfkit's multi and session kprobes need kprobes too.
    let probes = format!(
        "\nProbe types\n  kprobe: {k}\n  kprobe_multi: {k}\n  kprobe_session: {k}\n  fentry: {}\n  hardware: {}\n",
        yes(fentry),
        yes(hardware),
        k = yes(kprobes),
    );
    format!(
        "System\n  OS: Linux {}\n\nKernel features\n  kprobes: {}\n  tracefs: {}\n  ring buffer: yes\n{probes}\nBuild\n  version: v{}\n  LLVM: none (own code generator)\n",
        std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        yes(kprobes),
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
            if let Some(file) = pat.as_deref().filter(|p| p.ends_with(".bt")) {
                match std::fs::read_to_string(file) {
                    Ok(text) => return crate::emit(&list_script(file, &text, a.list_verbose)?),
                    Err(_) => eprintln!(
                        "WARNING: It appears that '{file}' is a filename but the file does not \
                         exist. Treating '{file}' as a search pattern."
                    ),
                }
            }
            // `-l 'usdt:…' -p PID` searches the process's files.
            let usdt = pat
                .as_deref()
                .and_then(|p| p.split_once(':'))
                .filter(|(prov, _)| {
                    bpfkit_trace::attach::ProbeKind::from_provider(prov)
                        == Some(bpfkit_trace::attach::ProbeKind::Usdt)
                });
            if let Some((_, rest)) = usdt {
                let l = bpfkit_trace::usdt::list(rest, a.opts.pid).map_err(CliError::Failed)?;
                return crate::emit(&l);
            }
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
