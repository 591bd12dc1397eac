//! `bpfkit feature probe [kernel] [full] [unprivileged] [macros [prefix PREFIX]]`: what the
//! running kernel supports, in bpftool's section layout, line wording and JSON keys.
//!
//! `unprivileged` reports what a user without capabilities may use. Run by root, the probe
//! runs again in a child process switched to the `nobody` user (65534), which drops every
//! capability; run by anyone else, it probes directly.

use std::time::Instant;

use bpfkit::features::{self, HelperScan, ProbeOptions, Report, SystemConfig};

use crate::output::J;
use crate::{CliError, Global};

/// `bpfkit feature …`
#[derive(Debug, clap::Args)]
pub struct FeatureArgs {
    #[command(subcommand)]
    cmd: FeatureCmd,
}

#[derive(Debug, clap::Subcommand)]
enum FeatureCmd {
    /// Probe the running kernel: `probe [kernel] [full] [unprivileged] [macros [prefix PREFIX]]`.
    Probe {
        /// `kernel` (the default target), `full` (also probe helpers that log warnings),
        /// `unprivileged` (what a user without capabilities may use), `macros` (print C
        /// #define lines), `prefix PREFIX` (after `macros`).
        words: Vec<String>,
    },
    /// List the names bpfkit knows: `list_builtins { prog_types | map_types | attach_types |
    /// link_types | helpers }`.
    #[command(name = "list_builtins")]
    ListBuiltins {
        /// The group to list.
        group: Option<String>,
    },
}

#[derive(Debug, Default)]
struct ProbeArgs {
    full: bool,
    unprivileged: bool,
    macros: bool,
    prefix: String,
}

fn parse_words(words: &[String]) -> Result<ProbeArgs, CliError> {
    let mut a = ProbeArgs::default();
    let mut it = words.iter();
    while let Some(w) = it.next() {
        match w.as_str() {
            "kernel" => {}
            "full" => a.full = true,
            "macros" => a.macros = true,
            "prefix" if a.macros => {
                a.prefix = it
                    .next()
                    .ok_or_else(|| CliError::Usage("`prefix` needs an argument".into()))?
                    .clone();
            }
            "prefix" => return Err(CliError::Usage("`prefix` is only valid after `macros`".into())),
            "dev" => {
                return Err(CliError::Failed(
                    "probing an offload device (`dev IFNAME`) is not supported; probe the kernel instead".into(),
                ))
            }
            "unprivileged" => a.unprivileged = true,
            other => {
                return Err(CliError::Usage(format!(
                    "unknown `feature probe` argument `{other}` (expected kernel, full, macros, prefix PREFIX)"
                )))
            }
        }
    }
    Ok(a)
}

/// Runs a `feature` command.
pub fn run(global: &Global, args: FeatureArgs) -> Result<(), CliError> {
    match args.cmd {
        FeatureCmd::Probe { words } => probe(global, &parse_words(&words)?),
        FeatureCmd::ListBuiltins { group } => {
            crate::feature_builtins::run(global, group.as_deref())
        }
    }
}

/// Set in the environment of the child that does the probing for `unprivileged`.
const UNPRIVILEGED_CHILD: &str = "BPFKIT_FEATURE_PROBE_UNPRIVILEGED_CHILD";
/// The `nobody` user and group.
const NOBODY: u32 = 65534;

/// The effective uid, from /proc/self/status (`Uid: real effective saved fs`).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs this same command as `nobody`, passing its output and exit status through.
fn probe_as_nobody() -> Result<(), CliError> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().map_err(|e| {
        CliError::Failed(format!(
            "cannot find the bpfkit executable to re-run it as nobody: {e}"
        ))
    })?;
    let status = std::process::Command::new(&exe)
        .args(std::env::args_os().skip(1))
        .env(UNPRIVILEGED_CHILD, "1")
        .uid(NOBODY)
        .gid(NOBODY)
        .status()
        .map_err(|e| {
            CliError::Failed(format!("running {} as user {NOBODY}: {e}", exe.display()))
        })?;
    match status.code() {
        Some(0) => Ok(()),
        // The child has reported its own error already.
        Some(code) => std::process::exit(code),
        None => Err(CliError::Failed(format!(
            "the unprivileged probe process died ({status})"
        ))),
    }
}

fn probe(global: &Global, a: &ProbeArgs) -> Result<(), CliError> {
    if a.unprivileged
        && effective_uid() == Some(0)
        && std::env::var_os(UNPRIVILEGED_CHILD).is_none()
    {
        return probe_as_nobody();
    }
    let start = Instant::now();
    let report = features::probe_all(&ProbeOptions {
        helpers: true,
        full: a.full,
        threads: 0,
        unprivileged: a.unprivileged,
    })?;
    if global.debug {
        eprintln!("feature probe: {} ms", start.elapsed().as_millis());
    }
    let out = if global.json() && !a.macros {
        to_json(&report).render(global.pretty) + "\n"
    } else if a.macros {
        macros(&report, &a.prefix)
    } else {
        text(&report)
    };
    crate::emit(&out)
}

fn avail(ok: bool) -> &'static str {
    if ok {
        "is available"
    } else {
        "is NOT available"
    }
}

fn sysctl_lines(s: &SystemConfig, out: &mut String) {
    let line = match s.unprivileged_bpf_disabled {
        Some(0) => "bpf() syscall for unprivileged users is enabled".to_string(),
        Some(1) => "bpf() syscall restricted to privileged users (without recovery)".to_string(),
        Some(2) => "bpf() syscall restricted to privileged users (admin can change)".to_string(),
        Some(v) => format!("bpf() syscall restriction has unknown value {v}"),
        None => "Unable to retrieve required privileges for bpf() syscall".to_string(),
    };
    out.push_str(&line);
    out.push('\n');
    let line = match s.bpf_jit_enable {
        Some(0) => "JIT compiler is disabled".to_string(),
        Some(1) => "JIT compiler is enabled".to_string(),
        Some(2) => "JIT compiler is enabled with debugging traces in kernel logs".to_string(),
        Some(v) => format!("JIT-compiler status has unknown value {v}"),
        None => "Unable to retrieve JIT-compiler status".to_string(),
    };
    out.push_str(&line);
    out.push('\n');
    let line = match s.bpf_jit_harden {
        Some(0) => "JIT compiler hardening is disabled".to_string(),
        Some(1) => "JIT compiler hardening is enabled for unprivileged users".to_string(),
        Some(2) => "JIT compiler hardening is enabled for all users".to_string(),
        Some(v) => format!("JIT hardening status has unknown value {v}"),
        None => "Unable to retrieve JIT hardening status".to_string(),
    };
    out.push_str(&line);
    out.push('\n');
    let line = match s.bpf_jit_kallsyms {
        Some(0) => "JIT compiler kallsyms exports are disabled".to_string(),
        Some(1) => "JIT compiler kallsyms exports are enabled for root".to_string(),
        Some(2) => "JIT compiler kallsyms exports are enabled for all users".to_string(),
        Some(v) => format!("JIT kallsyms exports status has unknown value {v}"),
        None => "Unable to retrieve JIT kallsyms export status".to_string(),
    };
    out.push_str(&line);
    out.push('\n');
    let line = match s.bpf_jit_limit {
        Some(v) => {
            format!("Global memory limit for JIT compiler for unprivileged users is {v} bytes")
        }
        None => "Unable to retrieve global memory limit for JIT compiler for unprivileged users"
            .to_string(),
    };
    out.push_str(&line);
    out.push('\n');
}

fn text(r: &Report) -> String {
    let mut o = String::new();
    o.push_str("Scanning system configuration...\n");
    sysctl_lines(&r.system, &mut o);
    if let Err(why) = &r.system.kernel_config_source {
        o.push_str(&format!("skipping kernel config, {why}\n"));
    } else {
        for (name, value) in &r.system.kernel_config {
            match value {
                Some(v) => o.push_str(&format!("{name} is set to {v}\n")),
                None => o.push_str(&format!("{name} is not set\n")),
            }
        }
    }
    o.push_str("\nScanning system call availability...\n");
    o.push_str(&format!("bpf() syscall {}\n", avail(r.bpf_syscall)));
    o.push_str("\nScanning eBPF program types...\n");
    for (_, name, ok) in &r.prog_types {
        o.push_str(&format!("eBPF program_type {name} {}\n", avail(*ok)));
    }
    o.push_str("\nScanning eBPF map types...\n");
    for (_, name, ok) in &r.map_types {
        o.push_str(&format!("eBPF map_type {name} {}\n", avail(*ok)));
    }
    o.push_str("\nScanning eBPF helper functions...\n");
    for (_, name, scan) in &r.helpers {
        o.push_str(&format!(
            "eBPF helpers supported for program type {name}:\n"
        ));
        match scan {
            HelperScan::ProgTypeUnsupported => o.push_str("\tProgram type not supported\n"),
            HelperScan::Undetermined => {
                o.push_str("\tCould not determine which helpers are available\n")
            }
            HelperScan::Available(list) => {
                for h in list {
                    o.push_str(&format!("\t- {}\n", h.name));
                }
            }
        }
    }
    o.push_str("\nScanning miscellaneous eBPF features...\n");
    for (m, ok) in &r.misc {
        o.push_str(&format!("{} {}\n", m.description(), avail(*ok)));
    }
    o.push('\n');
    o
}

fn int_or_minus_one(v: Option<i64>) -> J {
    J::I(v.unwrap_or(-1))
}

fn to_json(r: &Report) -> J {
    let mut root = J::obj();
    let mut sys = J::obj();
    let s = &r.system;
    sys.push(
        "unprivileged_bpf_disabled",
        int_or_minus_one(s.unprivileged_bpf_disabled),
    );
    sys.push("bpf_jit_enable", int_or_minus_one(s.bpf_jit_enable));
    sys.push("bpf_jit_harden", int_or_minus_one(s.bpf_jit_harden));
    sys.push("bpf_jit_kallsyms", int_or_minus_one(s.bpf_jit_kallsyms));
    sys.push("bpf_jit_limit", int_or_minus_one(s.bpf_jit_limit));
    if s.kernel_config_source.is_ok() {
        for (name, value) in &s.kernel_config {
            sys.push(name, value.clone().map_or(J::Null, J::Str));
        }
    }
    root.push("system_config", sys);
    let mut sc = J::obj();
    sc.push("have_bpf_syscall", J::Bool(r.bpf_syscall));
    root.push("syscall_config", sc);
    let mut pt = J::obj();
    for (_, name, ok) in &r.prog_types {
        pt.push(&format!("have_{name}_prog_type"), J::Bool(*ok));
    }
    root.push("program_types", pt);
    let mut mt = J::obj();
    for (_, name, ok) in &r.map_types {
        mt.push(&format!("have_{name}_map_type"), J::Bool(*ok));
    }
    root.push("map_types", mt);
    let mut hp = J::obj();
    for (_, name, scan) in &r.helpers {
        let list = match scan {
            HelperScan::Available(l) => l.iter().map(|h| J::Str(h.name.to_string())).collect(),
            _ => Vec::new(),
        };
        hp.push(&format!("{name}_available_helpers"), J::Arr(list));
    }
    root.push("helpers", hp);
    let mut misc = J::obj();
    for (m, ok) in &r.misc {
        misc.push(m.json_key(), J::Bool(*ok));
    }
    root.push("misc", misc);
    root
}

fn macros(r: &Report, prefix: &str) -> String {
    let have = |ok: bool| if ok { "HAVE_" } else { "NO_HAVE_" };
    let mut o = String::new();
    o.push_str("/*** Misc kernel config items ***/\n");
    if let Some((_, Some(hz))) = r
        .system
        .kernel_config
        .iter()
        .find(|(n, _)| *n == "CONFIG_HZ")
    {
        o.push_str(&format!("#define {prefix}CONFIG_HZ {hz}\n"));
    }
    o.push_str("\n/*** System call availability ***/\n");
    o.push_str(&format!(
        "#define {prefix}{}BPF_SYSCALL\n",
        have(r.bpf_syscall)
    ));
    o.push_str("\n/*** eBPF program types ***/\n");
    for (_, name, ok) in &r.prog_types {
        o.push_str(&format!(
            "#define {prefix}{}{}_PROG_TYPE\n",
            have(*ok),
            name.to_uppercase()
        ));
    }
    o.push_str("\n/*** eBPF map types ***/\n");
    for (_, name, ok) in &r.map_types {
        o.push_str(&format!(
            "#define {prefix}{}{}_MAP_TYPE\n",
            have(*ok),
            name.to_uppercase()
        ));
    }
    o.push_str("\n/*** eBPF helper functions ***/\n");
    o.push_str(
        "/*\n * Use HAVE_PROG_TYPE_HELPER(prog_type_name, helper_name)\n * to determine if <helper_name> is available for <prog_type_name>,\n * e.g.\n *\t#if HAVE_PROG_TYPE_HELPER(xdp, bpf_redirect)\n *\t\t// do stuff with this helper\n *\t#elif\n *\t\t// use a workaround\n *\t#endif\n */\n",
    );
    o.push_str(&format!(
        "#define {prefix}HAVE_PROG_TYPE_HELPER(prog_type, helper)\t\\\n\t{prefix}BPF__PROG_TYPE_ ## prog_type ## __HELPER_ ## helper\n"
    ));
    let all: Vec<&str> = bpfkit_insn::helpers::HELPERS
        .iter()
        .filter(|h| h.id != 0)
        .map(|h| h.name)
        .collect();
    for (_, name, scan) in &r.helpers {
        let avail: Vec<&str> = match scan {
            HelperScan::Available(l) => l.iter().map(|h| h.name).collect(),
            _ => Vec::new(),
        };
        for h in &all {
            let v = u8::from(avail.contains(h));
            o.push_str(&format!(
                "#define {prefix}BPF__PROG_TYPE_{name}__HELPER_{h} {v}\n"
            ));
        }
    }
    o.push_str("\n/*** eBPF misc features ***/\n");
    for (m, ok) in &r.misc {
        o.push_str(&format!(
            "#define {prefix}{}{}\n",
            have(*ok),
            m.macro_name()
        ));
    }
    o.push('\n');
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        let w = |s: &[&str]| parse_words(&s.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert!(w(&["kernel"]).is_ok_and(|a| !a.macros && !a.full));
        assert!(w(&["macros", "prefix", "FOO_"]).is_ok_and(|a| a.macros && a.prefix == "FOO_"));
        assert!(matches!(w(&["prefix", "X"]), Err(CliError::Usage(_))));
        assert!(matches!(w(&["bogus"]), Err(CliError::Usage(_))));
        assert!(matches!(w(&["macros", "prefix"]), Err(CliError::Usage(_))));
    }
}
