//! The `bpfkit` command line: bpftool's nouns and verbs (`bpfkit feature probe` …) with its
//! global options, human output by default and bpftool's JSON with `-j`/`-p`.
//!
//! `main` only parses the command line and dispatches: each noun lives in its own module
//! (`feature.rs` …) with a `run` function that prints its output and returns an error for
//! `main` to report. Exit status: 0 success, 1 failure, 2 usage error.
#![forbid(unsafe_code)]

mod feature;
mod json;

use clap::{Parser, Subcommand};

/// Options every command takes, as bpftool spells them.
#[derive(Clone, Copy, Debug, Default, clap::Args)]
pub struct Global {
    /// Print JSON output.
    #[arg(short = 'j', long, global = true)]
    pub json: bool,
    /// Print human-readable (indented) JSON output; implies --json.
    #[arg(short = 'p', long, global = true)]
    pub pretty: bool,
    /// Print debug information (timings, probe details) on stderr.
    #[arg(short = 'd', long, global = true)]
    pub debug: bool,
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
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let global = cli.global;
    let result = match cli.command {
        Command::Feature(args) => feature::run(&global, args),
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
}

impl CliError {
    fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Failed(_) => 1,
        }
    }

    fn message(&self) -> &str {
        match self {
            CliError::Usage(m) | CliError::Failed(m) => m,
        }
    }
}

impl From<bpfkit::Error> for CliError {
    fn from(e: bpfkit::Error) -> Self {
        CliError::Failed(e.to_string())
    }
}

fn report_error(global: &Global, e: &CliError) {
    // A library error may carry a multi-line log; the one-line summary goes first and the
    // rest follows, so the first line alone says what failed.
    if global.json() {
        let mut o = json::Json::obj();
        o.push("error", json::Json::Str(e.message().to_string()));
        println!("{}", o.render(global.pretty));
    } else {
        eprintln!("Error: {}", e.message());
    }
}
