//! The `bpfkit` command line: bpftool's nouns and verbs (`bpfkit feature probe` …) with its
//! global options, human output by default and bpftool's JSON with `-j`/`-p`.
//!
//! `main` only parses the command line and dispatches: each noun lives in its own module
//! (`feature.rs` …) with a `run` function that prints its output and returns an error for
//! `main` to report. Exit status: 0 success, 1 failure, 2 usage error.
#![forbid(unsafe_code)]

mod btf;
mod btf_value;
mod cgroup;
mod feature;
mod feature_builtins;
mod gen;
mod iter;
mod jited;
mod link;
mod link_fmt;
mod map;
mod map_event_pipe;
mod net;
mod output;
mod perf;
mod prog;
mod prog_attach;
mod prog_load;
mod prog_profile;
mod struct_ops;
mod target;
mod trace;

use clap::{Parser, Subcommand};

/// Options every command takes, as bpftool spells them.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Global {
    /// Print JSON output.
    #[arg(short = 'j', long, global = true)]
    pub json: bool,
    /// Print human-readable (indented) JSON output; implies --json.
    #[arg(short = 'p', long, global = true)]
    pub pretty: bool,
    /// Print on stderr every bpf() call made (command, result or errno) and the verifier log
    /// of every program loaded.
    #[arg(short = 'd', long, global = true)]
    pub debug: bool,
    /// Show the bpffs paths where objects are pinned (`show`/`list`).
    #[arg(short = 'f', long, global = true)]
    pub bpffs: bool,
    /// Accept legacy (non-BTF) map definitions; bpfkit reads both kinds, so it changes nothing.
    #[arg(short = 'm', long, global = true)]
    pub mapcompat: bool,
    /// Base BTF for `btf dump` of split BTF (a module's /sys/kernel/btf/<module>); without it
    /// kernel module BTF is read on top of /sys/kernel/btf/vmlinux.
    #[arg(short = 'B', long = "base-btf", value_name = "FILE", global = true)]
    pub base_btf: Option<std::path::PathBuf>,
}

impl Global {
    /// Whether output is JSON.
    pub fn json(&self) -> bool {
        self.json || self.pretty
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "bpfkit",
    version,
    about = "Load, inspect and trace eBPF programs and maps"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect the eBPF features of the running kernel.
    Feature(feature::FeatureArgs),
    /// Generate code from object files (`gen skeleton`).
    Gen(gen::GenArgs),
    /// Load programs from object files (`prog load`, `prog loadall`).
    Prog(ProgWords),
    /// Show, dump, look up and change maps.
    Map(NounWords),
    /// Show, pin and detach links.
    Link(NounWords),
    /// Show BTF objects and dump them as raw text or C.
    Btf(NounWords),
    /// Show which processes hold programs on tracepoints and probes.
    Perf(NounWords),
    /// Attach, detach and show XDP and TC programs of network devices.
    Net(NounWords),
    /// Attach, detach and show cgroup programs.
    Cgroup(NounWords),
    /// Pin BPF iterators as files.
    Iter(NounWords),
    /// Show and unregister struct_ops maps.
    #[command(name = "struct_ops")]
    StructOps(NounWords),
}

/// The words after a bpftool noun, parsed bpftool-style by its module.
#[derive(Debug, clap::Args)]
struct NounWords {
    /// Verb and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    words: Vec<String>,
}

/// The words after `prog`, parsed bpftool-style by the verb's module.
#[derive(Debug, clap::Args)]
struct ProgWords {
    /// Verb and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    words: Vec<String>,
}

fn prog(global: &Global, mut words: Vec<String>) -> Result<(), CliError> {
    let verb = if words.is_empty() {
        String::new()
    } else {
        words.remove(0)
    };
    match verb.as_str() {
        "load" => noun(global, |g, w| prog_load::run(g, false, w), words),
        "loadall" => noun(global, |g, w| prog_load::run(g, true, w), words),
        _ => noun(
            global,
            prog::run,
            std::iter::once(verb).chain(words).collect(),
        ),
    }
}

/// Runs a bpftool-style noun whose words may still hold global options (bpftool takes them
/// anywhere); errors are reported with the options found there.
fn noun(
    global: &Global,
    run: fn(&Global, Vec<String>) -> Result<(), CliError>,
    words: Vec<String>,
) -> Result<(), CliError> {
    let mut g = global.clone();
    let mut rest = Vec::with_capacity(words.len());
    let mut words = words.into_iter();
    while let Some(w) = words.next() {
        match w.as_str() {
            "-j" | "--json" => g.json = true,
            "-p" | "--pretty" => g.pretty = true,
            "-f" | "--bpffs" => g.bpffs = true,
            "-d" | "--debug" => g.debug = true,
            "-m" | "--mapcompat" => g.mapcompat = true,
            "-B" | "--base-btf" => match words.next() {
                Some(path) => g.base_btf = Some(path.into()),
                None => {
                    let e = output::usage(format!("option '{w}' requires an argument"));
                    report_error(&g, &e);
                    return Err(CliError::Reported(e.exit_code()));
                }
            },
            _ => match w.strip_prefix("--base-btf=") {
                Some(path) => g.base_btf = Some(path.into()),
                None => rest.push(w),
            },
        }
    }
    if g.debug {
        bpfkit_sys::set_debug(true);
    }
    match run(&g, rest) {
        Err(e) if !matches!(e, CliError::Reported(_) | CliError::Silent) => {
            report_error(&g, &e);
            Err(CliError::Reported(e.exit_code()))
        }
        other => other,
    }
}

fn main() {
    // `trace` takes bpftrace's flags, which clash with the global bpftool-style ones.
    if std::env::args().nth(1).as_deref() == Some("trace") {
        let words: Vec<String> = std::env::args().skip(2).collect();
        if let Err(e) = trace::run(words) {
            report_error(&Global::default(), &e);
            std::process::exit(e.exit_code());
        }
        return;
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let global = cli.global;
    if global.debug {
        bpfkit_sys::set_debug(true);
    }
    let result = match cli.command {
        Command::Feature(args) => feature::run(&global, args),
        Command::Prog(p) => prog(&global, p.words),
        Command::Gen(args) => gen::run(&global, args),
        Command::Map(w) => noun(&global, map::run, w.words),
        Command::Link(w) => noun(&global, link::run, w.words),
        Command::Btf(w) => noun(&global, btf::run, w.words),
        Command::Perf(w) => noun(&global, perf::run, w.words),
        Command::Net(w) => noun(&global, net::run, w.words),
        Command::Cgroup(w) => noun(&global, cgroup::run, w.words),
        Command::Iter(w) => noun(&global, iter::run, w.words),
        Command::StructOps(w) => noun(&global, struct_ops::run, w.words),
    };
    if let Err(e) = result {
        report_error(&global, &e);
        std::process::exit(e.exit_code());
    }
}

/// A command failure, reported by `main` as one line (or a JSON `error` object).
#[derive(Debug)]
pub enum CliError {
    /// The command line is wrong (exit status 2).
    Usage(String),
    /// The command failed (exit status 1).
    Failed(String),
    /// The command failed and has already said so (exit status 1).
    Silent,
    /// The command failed and has already said so; the exit status to use.
    Reported(i32),
}

impl CliError {
    fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Failed(_) => 1,
            CliError::Reported(code) => *code,
            CliError::Silent => 1,
        }
    }

    fn message(&self) -> &str {
        match self {
            CliError::Usage(m) | CliError::Failed(m) => m,
            CliError::Reported(_) | CliError::Silent => "",
        }
    }
}

impl From<bpfkit::Error> for CliError {
    fn from(e: bpfkit::Error) -> Self {
        CliError::Failed(e.to_string())
    }
}

/// Writes a command's output to stdout. A reader that went away (`bpfkit … | head`) ends the
/// command quietly instead of panicking the way `print!` does on a broken pipe.
pub fn emit(text: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(CliError::Failed(format!("writing the output: {e}"))),
    }
}

fn report_error(global: &Global, e: &CliError) {
    if matches!(e, CliError::Reported(_) | CliError::Silent) {
        return;
    }
    // A library error may carry a multi-line log; the one-line summary goes first and the
    // rest follows, so the first line alone says what failed.
    if global.json() {
        let mut o = output::J::obj();
        o.push("error", output::J::s(e.message()));
        // Failing to print the failure leaves only the exit status to tell it.
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), "{}", o.render(global.pretty));
    } else {
        eprintln!("Error: {}", e.message());
    }
}
