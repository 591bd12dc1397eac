//! Runs bpftrace's runtime test cases ([`crate::testcases`]) against a tracer binary, following
//! the procedure of the cases' README ("How one case runs"): skip rules, `SETUP`, `BEFORE`, the
//! command through `sh -c` in a new session, the wait for `__BPFTRACE_NOTIFY_PROBES_ATTACHED`,
//! the `TIMEOUT` clock, `AFTER`, SIGTERM then SIGKILL of the process group, the output checks,
//! the exit code, `CLEANUP`.
//!
//! The tracer is any command line ([`Harness::tracer`]): `bpfkit trace` for the real run, or
//! Debian's `bpftrace` to check the harness itself. [`Machine`] holds what this computer can
//! run (architecture, kernel release, kprobes, fentry, hardware events, the tracer's
//! `--info`); a case it cannot run is [`Outcome::Skip`] with the reason, never a pass.
//! [`Harness::run`] runs cases a few at a time within a global time budget;
//! [`Summary`] counts them per suite.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::attach::ProbeKind;
use crate::testcases::{Expect, TestCase};

/// The line a tracer prints once its probes are attached.
pub const NOTIFY_LINE: &str = "__BPFTRACE_NOTIFY_PROBES_ATTACHED";

/// How long a tracer may take to attach before the `TIMEOUT` clock starts anyway.
const ATTACH_WAIT: Duration = Duration::from_secs(10);

/// How long after SIGTERM the process group gets SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(1);

/// How often running processes and their output are looked at.
const POLL: Duration = Duration::from_millis(10);

/// How a case ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every check held.
    Pass,
    /// A check failed: why, then the lines that differ.
    Fail(String),
    /// The case cannot run on this machine or with this tracer: why.
    Skip(String),
}

/// One case's result.
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// The suite (file name).
    pub suite: String,
    /// The case's `NAME`.
    pub name: String,
    /// What happened.
    pub outcome: Outcome,
    /// Wall time spent on it.
    pub elapsed: Duration,
    /// The tracer was still running at the `TIMEOUT` and was killed (its exit code was not
    /// checked).
    pub timed_out: bool,
}

impl CaseResult {
    /// `suite: name`, the key used by baseline files.
    pub fn key(&self) -> String {
        format!("{}: {}", self.suite, self.name)
    }

    /// One line for a failed or skipped case (`FAIL suite: name: reason`, details indented
    /// below), nothing for a pass.
    pub fn describe(&self) -> Option<String> {
        match &self.outcome {
            Outcome::Pass => None,
            Outcome::Fail(why) => {
                let mut lines = why.lines();
                let mut s = format!("FAIL {}: {}", self.key(), lines.next().unwrap_or(""));
                for l in lines {
                    let _ = write!(s, "\n    {l}");
                }
                Some(s)
            }
            Outcome::Skip(why) => Some(format!("SKIP {}: {why}", self.key())),
        }
    }
}

/// What this machine and tracer can run.
#[derive(Clone, Debug)]
pub struct Machine {
    /// `uname -m`.
    pub arch: String,
    /// Byte order.
    pub little_endian: bool,
    /// The kernel release as numbers (`6.18.44` → `[6, 18, 44]`).
    pub kernel: Vec<u64>,
    /// kprobe/kretprobe (the `kprobe` perf PMU exists).
    pub kprobes: bool,
    /// fentry/fexit and other BPF_PROG_TYPE_TRACING programs load.
    pub fentry: bool,
    /// `iter/task` programs load (a kernel may allow them while refusing fentry).
    pub iter: bool,
    /// Hardware perf events (a `cpu` PMU exists).
    pub hardware: bool,
    /// The tracer's `--info` output (may be empty).
    pub info: String,
}

impl Machine {
    /// Looks at this computer, and runs `tracer --info` for the tracer's own features.
    pub fn probe(tracer: &[String]) -> Machine {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        Machine {
            arch: std::env::consts::ARCH.to_string(),
            little_endian: cfg!(target_endian = "little"),
            kernel: parse_version(release.trim()),
            kprobes: Path::new("/sys/bus/event_source/devices/kprobe").exists(),
            fentry: bpfkit::features::prog_type_supported(BPF_PROG_TYPE_TRACING).unwrap_or(false),
            iter: iter_loads(),
            hardware: Path::new("/sys/bus/event_source/devices/cpu").exists(),
            info: tracer_info(tracer),
        }
    }

    /// A `yes`/`no` line of `--info` whose label is `label` (or ends in `(label)`, as in
    /// `libdw (DWARF support): yes`), case-insensitively.
    fn info_says(&self, label: &str) -> Option<bool> {
        let label = label.to_ascii_lowercase();
        self.info.lines().find_map(|l| {
            let (k, v) = l.trim().rsplit_once(':')?;
            let k = k.trim().to_ascii_lowercase();
            let matches =
                k == label || k.contains(&format!("({label}")) || k == format!("{label} support");
            if !matches {
                return None;
            }
            match v.trim() {
                "yes" => Some(true),
                "no" => Some(false),
                _ => None,
            }
        })
    }

    fn kernel_at_least(&self, v: &[u64]) -> bool {
        cmp_versions(&self.kernel, v) != std::cmp::Ordering::Less
    }

    /// Whether a `REQUIRES_FEATURE` name holds here: kernel facts first, then what the
    /// tracer's `--info` says about its own build. Err names a feature no rule knows.
    pub fn feature(&self, name: &str) -> Result<bool, String> {
        let info = |label: &str, default: bool| self.info_says(label).unwrap_or(default);
        Ok(match name {
            "btf" => Path::new("/sys/kernel/btf/vmlinux").exists() && info("btf", true),
            "dwarf" => info("dwarf", false),
            "blazesym" => info("blazesym", false),
            "loop" => self.kernel_at_least(&[5, 3]) && info("loop", true),
            "lookup_percpu_elem" => self.kernel_at_least(&[5, 19]) && info(name, true),
            "get_tai_ns" => self.kernel_at_least(&[6, 1]) && info(name, true),
            // Both helpers are only callable from kprobe or tracing programs.
            "get_func_ip" => (self.kprobes || self.fentry) && info(name, true),
            "dpath" => self.fentry && info(name, true),
            "fentry" | "kfunc" => self.fentry,
            "kprobe" | "kprobe_multi" | "kprobe_session" => self.kprobes,
            "iter" | "iter:task" | "iter:task_file" => self.iter && info(name, true),
            "hardware" => self.hardware,
            "signal" => info("send_signal", true),
            "uprobe_multi" => self.kernel_at_least(&[6, 6]) && info(name, true),
            _ => match self.info_says(name) {
                Some(b) => b,
                None => return Err(format!("unknown feature '{name}'")),
            },
        })
    }

    /// Why `case` cannot run here, or None when it can.
    pub fn skip_reason(&self, case: &TestCase, root: &Path, path_env: &str) -> Option<String> {
        if !case.arch.is_empty() && !self.arch_allows(&case.arch) {
            return Some(format!(
                "ARCH {} excludes {}",
                case.arch.join(" "),
                self.arch
            ));
        }
        if let Some(min) = &case.min_kernel {
            if !self.kernel_at_least(&parse_version(min)) {
                return Some(format!("needs kernel >= {min}"));
            }
        }
        if let Some(max) = &case.max_kernel {
            if cmp_versions(&self.kernel, &parse_version(max)) == std::cmp::Ordering::Greater {
                return Some(format!("needs kernel <= {max}"));
            }
        }
        for kv in &case.skip_if_env_has {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            if std::env::var(k).is_ok_and(|have| have == v) {
                return Some(format!("SKIP_IF_ENV_HAS {kv}"));
            }
        }
        if let Some(w) = needs_testprogs(case) {
            return Some(format!("needs bpftrace's {w} (not shipped with the cases)"));
        }
        if needs_version_string(case) {
            return Some("expects bpftrace's own version string".into());
        }
        for f in &case.requires_feature {
            let (want, name) = match f.strip_prefix('!') {
                Some(n) => (false, n),
                None => (true, f.as_str()),
            };
            match self.feature(name) {
                Ok(have) if have == want => {}
                Ok(have) => {
                    let state = if have { "present" } else { "absent" };
                    return Some(format!("REQUIRES_FEATURE {f}: feature {state}"));
                }
                Err(e) => return Some(format!("REQUIRES_FEATURE {f}: {e}")),
            }
        }
        if let Some(why) = self.probe_kinds_missing(case, root) {
            return Some(why);
        }
        if let Some(why) = self.listing_missing(case) {
            return Some(why);
        }
        if needs_bpftrace_comm(case, root) {
            return Some("expects the tracer's process name (comm) to be 'bpftrace'".into());
        }
        for cmd in &case.requires {
            let ok = Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .current_dir(root)
                .env_clear()
                .env("PATH", path_env)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return Some(format!("REQUIRES `{cmd}` failed"));
            }
        }
        None
    }

    fn arch_allows(&self, arch: &[String]) -> bool {
        let is = |a: &str| match a {
            "le" => self.little_endian,
            "be" => !self.little_endian,
            _ => a == self.arch,
        };
        let (neg, pos): (Vec<&String>, Vec<&String>) =
            arch.iter().partition(|a| a.starts_with('!'));
        if neg.iter().any(|a| a.get(1..).is_some_and(is)) {
            return false;
        }
        pos.is_empty() || pos.iter().any(|a| a.split('|').any(is))
    }

    /// A `-l`/`-lv` case about probe types this kernel lacks: listing kprobes needs them
    /// (and ftrace's function list, unreadable here), and tracers list fentry, fexit and
    /// iterators only where tracing programs load.
    fn listing_missing(&self, case: &TestCase) -> Option<String> {
        let run = case.run.as_deref()?;
        let lists = run
            .split_whitespace()
            .any(|w| w == "--list" || (w.starts_with("-l") && !w.starts_with("--")));
        if !lists {
            return None;
        }
        let re = regex::Regex::new(r"\b(kprobes?|kretprobes?|fentry|fexit|kfunc|kretfunc|iter)\b")
            .ok()?;
        let texts = std::iter::once(run).chain(case.expects.iter().map(|e| match e {
            Expect::Line(t) | Expect::NoLine(t) | Expect::Regex(t) | Expect::NoRegex(t) => {
                t.as_str()
            }
            Expect::File(_) | Expect::Json(_) => "",
        }));
        for t in texts {
            for m in re.find_iter(t) {
                let word = m.as_str();
                let missing = if word.starts_with('k') && word.contains("probe") {
                    (!self.kprobes).then_some("kprobes (CONFIG_KPROBES is not set)")
                } else if word == "iter" {
                    (!self.iter).then_some("iterators (iter programs are refused)")
                } else {
                    (!self.fentry).then_some("fentry/fexit (tracing programs are refused)")
                };
                if let Some(missing) = missing {
                    return Some(format!("lists {word} probes: this kernel lacks {missing}"));
                }
            }
        }
        None
    }

    /// The kernel feature a probe of the case's programs needs and this kernel lacks. A
    /// program that does not parse is left to the tracer (the case may expect that error).
    fn probe_kinds_missing(&self, case: &TestCase, root: &Path) -> Option<String> {
        for text in case_programs(case, root) {
            let Ok(prog) = crate::parse_program("stdin", &text) else {
                continue;
            };
            for ap in prog.probes.iter().flat_map(|p| &p.attach_points) {
                let missing = match ap.kind {
                    ProbeKind::Kprobe | ProbeKind::Kretprobe if !self.kprobes => {
                        "kprobes (CONFIG_KPROBES is not set)"
                    }
                    ProbeKind::Fentry | ProbeKind::Fexit if !self.fentry => {
                        "fentry/fexit (tracing programs are refused)"
                    }
                    ProbeKind::Iter if !self.iter => "iterators (iter programs are refused)",
                    ProbeKind::Hardware if !self.hardware => "hardware perf events (no PMU)",
                    _ => continue,
                };
                return Some(format!("probe {}: this kernel lacks {missing}", ap.raw));
            }
        }
        None
    }
}

/// `enum bpf_prog_type` value of fentry/fexit/iter programs.
const BPF_PROG_TYPE_TRACING: u32 = 26;

/// Whether an `iter/task` program (`r0 = 0; exit`) loads here.
fn iter_loads() -> bool {
    let mut b = bpfkit_insn::Builder::new();
    b.mov64_imm(bpfkit_insn::Reg::R0, 0).exit();
    let Ok(insns) = b.build() else {
        return false;
    };
    bpfkit::ProgramSpec::new("iter_probe", bpfkit::ProgramType::Tracing, &insns)
        .for_iter("task")
        .and_then(|spec| bpfkit::Program::load(&spec))
        .is_ok()
}

fn tracer_info(tracer: &[String]) -> String {
    let Some((prog, args)) = tracer.split_first() else {
        return String::new();
    };
    Command::new(prog)
        .args(args)
        .arg("--info")
        .stdin(Stdio::null())
        .output()
        .map(|o| {
            let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
            s.push_str(&String::from_utf8_lossy(&o.stderr));
            s
        })
        .unwrap_or_default()
}

/// `6.18.44-fc` → `[6, 18, 44]`.
fn parse_version(s: &str) -> Vec<u64> {
    s.split(['.', '-', '+'])
        .map_while(|p| p.parse().ok())
        .collect()
}

fn cmp_versions(a: &[u64], b: &[u64]) -> std::cmp::Ordering {
    let n = a.len().max(b.len());
    let at = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
    (0..n)
        .map(|i| at(a, i).cmp(&at(b, i)))
        .find(|o| o.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

/// `testprogs/` or `testlibs/` when any command of the case uses bpftrace's test programs.
fn needs_testprogs(case: &TestCase) -> Option<&'static str> {
    let texts = case
        .run
        .iter()
        .chain(&case.prog)
        .chain(&case.before)
        .chain(&case.after)
        .chain(&case.setup);
    for t in texts {
        if t.contains("testprogs/") {
            return Some("testprogs/");
        }
        if t.contains("testlibs/") {
            return Some("testlibs/");
        }
    }
    None
}

fn needs_version_string(case: &TestCase) -> bool {
    case.expects.iter().any(|e| match e {
        Expect::Line(t) | Expect::Regex(t) => t.contains("bpftrace v"),
        _ => false,
    })
}

/// The case prints `comm` in a probe that runs in the tracer itself, and expects it to read
/// `bpftrace`.
fn needs_bpftrace_comm(case: &TestCase, root: &Path) -> bool {
    let uses_comm = case_programs(case, root).iter().any(|p| {
        p.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|w| w == "comm")
    });
    uses_comm
        && case.expects.iter().any(|e| match e {
            Expect::Line(t) | Expect::Regex(t) => t.contains("bpftrace"),
            Expect::File(f) | Expect::Json(f) => {
                std::fs::read_to_string(root.join(f.trim())).is_ok_and(|t| t.contains("bpftrace"))
            }
            Expect::NoLine(_) | Expect::NoRegex(_) => false,
        })
}

/// The program texts a case hands the tracer: `-e` arguments and `runtime/scripts/*.bt`
/// files its `RUN` line names.
fn case_programs(case: &TestCase, root: &Path) -> Vec<String> {
    let mut out = case.programs();
    if let Some(run) = &case.run {
        for word in run.split_whitespace() {
            let w = word.trim_matches(|c| c == '\'' || c == '"');
            if w.ends_with(".bt") {
                if let Ok(t) = std::fs::read_to_string(root.join(w)) {
                    out.push(t);
                }
            }
        }
    }
    out
}

/// Whether `case` must run with no other case beside it: its probes fire on every exec of
/// the machine (`execve` tracepoints, `sched_process_exec`), so an exec of a neighbouring
/// case (the two `join` cases run the same command) could end it before its own.
/// (Cases skipped for bpftrace's test programs need not wait.)
fn runs_alone(case: &TestCase) -> bool {
    let text = [case.prog.as_deref(), case.run.as_deref()];
    needs_testprogs(case).is_none()
        && text
            .iter()
            .flatten()
            .any(|t| t.contains("sys_enter_exec") || t.contains("sched_process_exec"))
}

/// Runs cases against one tracer.
#[derive(Clone, Debug)]
pub struct Harness {
    /// The command line `{{BPFTRACE}}` stands for, e.g. `["/…/bpfkit", "trace"]`.
    pub tracer: Vec<String>,
    /// The folder holding `runtime/` (the commands' working directory).
    pub root: PathBuf,
    /// Cases run at the same time.
    pub jobs: usize,
    /// Cases not started within this time from the start of [`Harness::run`] fail.
    pub budget: Duration,
    /// What this machine can run.
    pub machine: Machine,
    /// `PATH` handed to the commands.
    pub path_env: String,
}

impl Harness {
    /// A harness for `tracer` over the cases below `root`, probing this machine.
    pub fn new(tracer: Vec<String>, root: PathBuf) -> Harness {
        let machine = Machine::probe(&tracer);
        Harness {
            tracer,
            root,
            jobs: 2,
            budget: Duration::from_secs(300),
            machine,
            path_env: std::env::var("PATH")
                .unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into()),
        }
    }

    /// Runs `cases`, [`Harness::jobs`] at a time, calling `each` as each one ends; returns
    /// the results in the cases' order.
    pub fn run(&self, cases: &[TestCase], each: &(dyn Fn(&CaseResult) + Sync)) -> Vec<CaseResult> {
        let start = Instant::now();
        let queue: Mutex<VecDeque<usize>> = Mutex::new((0..cases.len()).collect());
        let results: Mutex<Vec<Option<CaseResult>>> = Mutex::new(vec![None; cases.len()]);
        // Held shared by each running case, exclusively by one that must run alone.
        let alone = std::sync::RwLock::new(());
        std::thread::scope(|s| {
            for _ in 0..self.jobs.max(1) {
                s.spawn(|| loop {
                    let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                    let Some(i) = next else { break };
                    let Some(case) = cases.get(i) else { break };
                    let r = if start.elapsed() >= self.budget {
                        CaseResult {
                            suite: case.suite.clone(),
                            name: case.name.clone(),
                            outcome: Outcome::Fail(format!(
                                "not run: the global budget of {} s was used up",
                                self.budget.as_secs()
                            )),
                            elapsed: Duration::ZERO,
                            timed_out: false,
                        }
                    } else if runs_alone(case) {
                        let _only = alone.write();
                        self.run_case(case)
                    } else {
                        let _shared = alone.read();
                        self.run_case(case)
                    };
                    each(&r);
                    if let Ok(mut all) = results.lock() {
                        if let Some(slot) = all.get_mut(i) {
                            *slot = Some(r);
                        }
                    }
                });
            }
        });
        results
            .into_inner()
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .collect()
    }

    /// Runs one case (or skips it).
    pub fn run_case(&self, case: &TestCase) -> CaseResult {
        let t0 = Instant::now();
        let (outcome, timed_out) = match self.machine.skip_reason(case, &self.root, &self.path_env)
        {
            Some(why) => (Outcome::Skip(why), false),
            None => match self.execute(case) {
                Ok(o) => o,
                Err(e) => (Outcome::Fail(e), false),
            },
        };
        CaseResult {
            suite: case.suite.clone(),
            name: case.name.clone(),
            outcome,
            elapsed: t0.elapsed(),
            timed_out,
        }
    }

    /// The tracer command line as shell text.
    pub fn tracer_text(&self) -> String {
        self.tracer
            .iter()
            .map(|w| shell_quote(w))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The shell command a case runs (`before_pid` fills `{{BEFORE_PID}}`).
    pub fn command(&self, case: &TestCase, before_pid: Option<u32>) -> String {
        let tracer = self.tracer_text();
        let cmd = match (&case.run, &case.prog) {
            (Some(run), _) => run.replace("{{BPFTRACE}}", &tracer),
            (None, Some(prog)) => {
                let json = case.expects.iter().any(|e| matches!(e, Expect::Json(_)));
                let flags = if json { " -q -f json" } else { "" };
                format!("{tracer}{flags} -e {}", shell_quote(prog))
            }
            (None, None) => String::new(),
        };
        let cmd = match before_pid {
            Some(p) => cmd.replace("{{BEFORE_PID}}", &p.to_string()),
            None => cmd,
        };
        if case.new_pidns {
            format!(
                "unshare --fork --pid --mount-proc sh -c {}",
                shell_quote(&cmd)
            )
        } else {
            cmd
        }
    }

    fn shell(&self, cmd: &str, env: &[(String, String)]) -> Command {
        // setsid(1) makes the shell a session (and process group) leader without forking,
        // since a freshly spawned child never leads a group: its pid names the group to kill.
        let mut c = Command::new("setsid");
        c.arg("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(&self.root)
            .env_clear()
            .env("PATH", &self.path_env)
            .stdin(Stdio::null());
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }

    fn execute(&self, case: &TestCase) -> Result<(Outcome, bool), String> {
        let scratch = Scratch::new()?;
        if let Some(setup) = &case.setup {
            let st = self
                .shell(setup, &[])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_err(|e| format!("SETUP `{setup}` did not start: {e}"))?;
            if !st.success() {
                self.cleanup(case);
                return Ok((
                    Outcome::Fail(format!("SETUP `{setup}` failed: {st}")),
                    false,
                ));
            }
        }
        let mut helpers: Vec<Child> = Vec::new();
        let result = self.execute_inner(case, &scratch, &mut helpers);
        for h in &mut helpers {
            kill_group(h.id(), "KILL");
            let _ = h.wait();
        }
        self.cleanup(case);
        result
    }

    fn cleanup(&self, case: &TestCase) {
        if let Some(c) = &case.cleanup {
            let _ = self
                .shell(c, &[])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }

    fn execute_inner(
        &self,
        case: &TestCase,
        scratch: &Scratch,
        helpers: &mut Vec<Child>,
    ) -> Result<(Outcome, bool), String> {
        let timeout = Duration::from_secs_f64(case.timeout.max(0.0));
        let mut before_pid = None;
        for b in &case.before {
            let child = self
                .shell(b, &[])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("BEFORE `{b}` did not start: {e}"))?;
            let pid = child.id();
            helpers.push(child);
            let name = b
                .split_whitespace()
                .next_back()
                .and_then(|w| w.rsplit('/').next())
                .unwrap_or("");
            match wait_for_process(pid, name, timeout.max(Duration::from_secs(1))) {
                Some(p) => {
                    before_pid.get_or_insert(p);
                }
                None => {
                    return Ok((
                        Outcome::Fail(format!("BEFORE `{b}`: no process '{name}' appeared")),
                        false,
                    ))
                }
            }
        }
        let cmd = self.command(case, before_pid);
        let out_path = scratch.dir.join("output");
        let out = File::create(&out_path).map_err(|e| format!("{}: {e}", out_path.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("{}: {e}", out_path.display()))?;
        let mut env = vec![(NOTIFY_LINE.to_string(), "1".to_string())];
        env.extend(case.env.iter().cloned());
        let mut child = self
            .shell(&cmd, &env)
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("`{cmd}` did not start: {e}"))?;
        let pgid = child.id();

        // Phase 1: until the notify line (or exit, or the attach wait runs out).
        let t0 = Instant::now();
        let mut status = None;
        while t0.elapsed() < ATTACH_WAIT {
            if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
                status = Some(st);
                break;
            }
            if output_has_notify(&out_path) {
                break;
            }
            std::thread::sleep(POLL);
        }
        let attached = output_has_notify(&out_path);
        // Phase 2: the TIMEOUT clock, AFTER once attached.
        let clock = Instant::now();
        if status.is_none() || attached {
            if let Some(a) = &case.after {
                if attached || status.is_none() {
                    match self
                        .shell(a, &[])
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()
                    {
                        Ok(c) => helpers.push(c),
                        Err(e) => return Err(format!("AFTER `{a}` did not start: {e}")),
                    }
                }
            }
        }
        let mut timed_out = false;
        while status.is_none() {
            if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
                status = Some(st);
                break;
            }
            if clock.elapsed() >= timeout {
                timed_out = true;
                status = Some(terminate(&mut child, pgid)?);
                break;
            }
            std::thread::sleep(POLL);
        }
        // Whatever the command left in its session goes too.
        kill_group(pgid, "KILL");
        let bytes = std::fs::read(&out_path).map_err(|e| format!("{}: {e}", out_path.display()))?;
        let output = String::from_utf8_lossy(&bytes).into_owned();
        let code = status.map(exit_code);
        Ok((self.judge(case, &cmd, &output, code, timed_out), timed_out))
    }

    fn judge(
        &self,
        case: &TestCase,
        cmd: &str,
        output: &str,
        code: Option<i32>,
        timed_out: bool,
    ) -> Outcome {
        let mut problems = Vec::new();
        for e in &case.expects {
            if let Err(p) = check_expect(e, output, &self.root) {
                problems.push(p);
            }
        }
        if !timed_out {
            let code = code.unwrap_or(-1);
            if case.will_fail {
                if code == 0 {
                    problems.push("exit code 0, expected a failure (WILL_FAIL)".to_string());
                }
            } else {
                let want = case.return_code.unwrap_or(0);
                if code != want {
                    problems.push(format!("exit code {code}, expected {want}"));
                }
            }
        }
        if problems.is_empty() {
            return Outcome::Pass;
        }
        let mut why = problems.join("; ");
        if timed_out {
            let _ = write!(why, " (killed after TIMEOUT {} s)", case.timeout);
        }
        let _ = write!(why, "\ncommand: {cmd}\noutput:");
        let lines: Vec<&str> = output.lines().filter(|l| l.trim() != NOTIFY_LINE).collect();
        for l in lines.iter().take(8) {
            let _ = write!(why, "\n| {l}");
        }
        if lines.len() > 8 {
            let _ = write!(why, "\n| … {} more lines", lines.len() - 8);
        }
        if lines.is_empty() {
            why.push_str(" (none)");
        }
        Outcome::Fail(why)
    }
}

/// Output lines without the notify line and the `Attached N probes` banner, for the
/// whole-output comparisons (expected files hold neither).
fn payload_lines(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter(|l| {
            let t = l.trim();
            t != NOTIFY_LINE && !is_attached_banner(t)
        })
        .collect()
}

fn is_attached_banner(t: &str) -> bool {
    // bpftrace 0.2x says `Attached N probes`, 0.17 `Attaching N probes...`.
    let Some(rest) = t
        .strip_prefix("Attached ")
        .or_else(|| t.strip_prefix("Attaching "))
    else {
        return false;
    };
    let rest = rest.strip_suffix("...").unwrap_or(rest);
    let mut words = rest.split(' ');
    let num = words
        .next()
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    num && matches!(words.next(), Some("probe" | "probes")) && words.next().is_none()
}

/// One expectation against the merged output; Err says what was expected. `EXPECT_FILE`
/// compares without the notify line, the `Attached N probes` banner and trailing blanks;
/// `EXPECT_JSON` reads the output lines that start a JSON value.
pub fn check_expect(e: &Expect, output: &str, root: &Path) -> Result<(), String> {
    match e {
        Expect::Line(t) => {
            if has_block(output, t) {
                Ok(())
            } else {
                Err(format!("no output line equals {t:?}"))
            }
        }
        Expect::NoLine(t) => {
            if has_block(output, t) {
                Err(format!("an output line equals {t:?} (EXPECT_NONE)"))
            } else {
                Ok(())
            }
        }
        Expect::Regex(r) => match compile_python_regex(r) {
            Ok(re) if re.is_match(output) => Ok(()),
            Ok(_) => Err(format!("no match for regex {r:?}")),
            Err(err) => Err(format!("regex {r:?} does not compile: {err}")),
        },
        Expect::NoRegex(r) => match compile_python_regex(r) {
            Ok(re) if re.is_match(output) => {
                Err(format!("regex {r:?} matched (EXPECT_REGEX_NONE)"))
            }
            Ok(_) => Ok(()),
            Err(err) => Err(format!("regex {r:?} does not compile: {err}")),
        },
        Expect::File(f) => {
            let path = root.join(f.trim());
            let want =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            // Trailing blanks are not compared: bpftrace itself ends a map's name line with
            // one (`@: `) where the files have none.
            let norm = |lines: &mut dyn Iterator<Item = &str>| {
                lines
                    .map(str::trim_end)
                    .collect::<Vec<_>>()
                    .join("\n")
                    .trim()
                    .to_string()
            };
            // `LOCALIZE_TIMESTAMPS` files (only they hold `%H`) show the hour of clock 0;
            // bpfkit prints interval starts in UTC, where that hour is 00.
            let want = want.replace("%H", "00");
            let want = norm(&mut want.lines());
            let got = norm(&mut payload_lines(output).into_iter());
            let (want, got) = (want.as_str(), got.as_str());
            if want == got {
                return Ok(());
            }
            let (n, w, g) = first_difference(want, got);
            Err(format!(
                "output differs from {} at line {n}:\n  expected: {w:?}\n  found:    {g:?}",
                f.trim()
            ))
        }
        Expect::Json(f) => {
            let path = root.join(f.trim());
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let want: Vec<serde_json::Value> = if f.trim().ends_with(".ndjson") {
                text.lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(serde_json::from_str)
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("{}: {e}", path.display()))?
            } else {
                vec![serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?]
            };
            // The tracer prints one JSON value a line; merged stderr (warnings) is not JSON.
            let got: Result<Vec<serde_json::Value>, _> = payload_lines(output)
                .into_iter()
                .map(str::trim)
                .filter(|l| l.starts_with(['{', '[']))
                .map(serde_json::from_str)
                .collect();
            match got {
                Err(e) => Err(format!("output is not JSON ({e}), expected {}", f.trim())),
                Ok(got) if got == want => Ok(()),
                Ok(got) => {
                    let idx = want
                        .iter()
                        .zip(&got)
                        .position(|(a, b)| a != b)
                        .unwrap_or(want.len().min(got.len()));
                    let show = |v: Option<&serde_json::Value>| {
                        v.map_or("(nothing)".to_string(), |v| v.to_string())
                    };
                    Err(format!(
                        "JSON differs from {} at value {}:\n  expected: {}\n  found:    {}",
                        f.trim(),
                        idx + 1,
                        show(want.get(idx)),
                        show(got.get(idx))
                    ))
                }
            }
        }
    }
}

/// Compiles a pattern written for Python's `re` (as the cases are) with multi-line anchors.
/// Python reads a `{` that starts no `{m}`, `{m,}`, `{m,n}` repetition (and a stray `}`) as
/// itself, and `[` inside a class as itself; the `regex` crate needs those escaped.
pub fn compile_python_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    let mut out = String::with_capacity(pattern.len() + 8);
    out.push_str("(?m)");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut in_class = false;
    while let Some(&c) = chars.get(i) {
        match c {
            '\\' => {
                out.push(c);
                if let Some(&n) = chars.get(i + 1) {
                    out.push(n);
                    i += 1;
                }
            }
            '[' if in_class => out.push_str("\\["),
            '[' => {
                in_class = true;
                out.push(c);
                // `[]…]` and `[^]…]`: a leading `]` is a member.
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i + 1) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '&' | '-' | '~' if in_class && chars.get(i + 1) == Some(&c) => {
                // Doubled, these are set operations to the regex crate.
                out.push('\\');
                out.push(c);
            }
            '{' if !in_class => {
                let rest: String = chars.get(i..).unwrap_or(&[]).iter().collect();
                let rep = rest.find('}').map(|end| &rest[1..end]).filter(|body| {
                    let (a, b) = body.split_once(',').unwrap_or((body, "0"));
                    !a.is_empty()
                        && a.bytes().all(|x| x.is_ascii_digit())
                        && b.bytes().all(|x| x.is_ascii_digit())
                });
                match rep {
                    Some(body) => {
                        out.push('{');
                        out.push_str(body);
                        out.push('}');
                        i += body.chars().count() + 1;
                    }
                    None => out.push_str("\\{"),
                }
            }
            '}' if !in_class => out.push_str("\\}"),
            _ => out.push(c),
        }
        i += 1;
    }
    regex::Regex::new(&out)
}

/// Whether consecutive output lines equal the (maybe multi-line) text, surrounding blanks
/// ignored.
fn has_block(output: &str, text: &str) -> bool {
    let want = text.trim();
    let n = want.lines().count().max(1);
    let lines: Vec<&str> = output.lines().collect();
    if lines.len() < n {
        return false;
    }
    lines.windows(n).any(|w| w.join("\n").trim() == want)
}

fn first_difference<'a>(want: &'a str, got: &'a str) -> (usize, &'a str, &'a str) {
    let (mut w, mut g) = (want.lines(), got.lines());
    let mut n = 1;
    loop {
        match (w.next(), g.next()) {
            (Some(a), Some(b)) if a == b => n += 1,
            (a, b) => return (n, a.unwrap_or("(end)"), b.unwrap_or("(end)")),
        }
    }
}

fn output_has_notify(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| {
        String::from_utf8_lossy(&b)
            .lines()
            .any(|l| l.trim() == NOTIFY_LINE)
    })
}

/// SIGTERM to the group, SIGKILL one second later; the exit status.
fn terminate(child: &mut Child, pgid: u32) -> Result<ExitStatus, String> {
    kill_group(pgid, "TERM");
    let t = Instant::now();
    while t.elapsed() < KILL_GRACE {
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(st);
        }
        std::thread::sleep(POLL);
    }
    kill_group(pgid, "KILL");
    child.wait().map_err(|e| e.to_string())
}

/// Signals a process group through kill(1): this crate has no unsafe code for kill(2).
fn kill_group(pgid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args(["-s", signal, "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn exit_code(st: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

/// Waits until `pid` or one of its children runs a program called `name`; its pid.
fn wait_for_process(pid: u32, name: &str, limit: Duration) -> Option<u32> {
    let comm = |p: u32| {
        std::fs::read_to_string(format!("/proc/{p}/comm"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    // comm holds at most 15 bytes of the name.
    let short: String = name.chars().take(15).collect();
    let t = Instant::now();
    while t.elapsed() < limit {
        if comm(pid) == short {
            return Some(pid);
        }
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        if let Some(c) = children
            .split_whitespace()
            .filter_map(|c| c.parse().ok())
            .find(|&c| comm(c) == short)
        {
            return Some(c);
        }
        std::thread::sleep(POLL);
    }
    None
}

/// Quotes a word for `sh` (single quotes, `'` written as `'\''`).
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A private temporary folder, removed on drop.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new() -> Result<Scratch, String> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "bpfkit-cases-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Scratch { dir })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Pass/fail/skip counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Passed.
    pub passed: usize,
    /// Failed.
    pub failed: usize,
    /// Skipped.
    pub skipped: usize,
}

impl Counts {
    fn add(&mut self, o: &Outcome) {
        match o {
            Outcome::Pass => self.passed += 1,
            Outcome::Fail(_) => self.failed += 1,
            Outcome::Skip(_) => self.skipped += 1,
        }
    }

    /// Passed over runnable (passed + failed), in percent; 0 when nothing ran.
    pub fn pass_rate(&self) -> f64 {
        let run = self.passed + self.failed;
        if run == 0 {
            0.0
        } else {
            100.0 * self.passed as f64 / run as f64
        }
    }
}

/// Results counted per suite.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Per suite, by name.
    pub suites: BTreeMap<String, Counts>,
    /// All suites.
    pub total: Counts,
}

impl Summary {
    /// Counts `results`.
    pub fn of(results: &[CaseResult]) -> Summary {
        let mut s = Summary::default();
        for r in results {
            s.suites.entry(r.suite.clone()).or_default().add(&r.outcome);
            s.total.add(&r.outcome);
        }
        s
    }

    /// `SUITE: N passed, N failed, N skipped` lines, then the total with the pass rate over
    /// runnable cases against `target` percent.
    pub fn render(&self, target: f64) -> String {
        let mut s = String::new();
        let line = |s: &mut String, name: &str, c: &Counts| {
            let _ = writeln!(
                s,
                "{name}: {} passed, {} failed, {} skipped",
                c.passed, c.failed, c.skipped
            );
        };
        for (name, c) in &self.suites {
            line(&mut s, name, c);
        }
        line(&mut s, "total", &self.total);
        let _ = writeln!(
            s,
            "pass rate over runnable cases: {:.1}% ({} of {}), target {target}%",
            self.total.pass_rate(),
            self.total.passed,
            self.total.passed + self.total.failed
        );
        s
    }
}

/// Reads a baseline file: one `suite: name` a line, `#` comments and blank lines ignored.
pub fn read_baseline(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// The baseline entries that did not pass this time (a key with several cases needs all
/// its runnable ones to pass; one that no longer exists counts as not passing).
pub fn regressions(baseline: &[String], results: &[CaseResult]) -> Vec<String> {
    // (some case passed, no case failed) per key.
    let mut by_key: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    for r in results {
        let e = by_key.entry(r.key()).or_insert((false, true));
        match r.outcome {
            Outcome::Pass => e.0 = true,
            Outcome::Fail(_) => e.1 = false,
            Outcome::Skip(_) => {}
        }
    }
    baseline
        .iter()
        .filter(|k| by_key.get(*k) != Some(&(true, true)))
        .cloned()
        .collect()
}

/// Rewrites the stats lines of the installed bpftrace (0.17), `@s: count 2, average 4, total
/// 8`, as current bpftrace prints them and `bpfkit trace` follows, `@s: { .count = 2, .average
/// = 4, .total = 8 }`; every other line is kept as it is. For comparing the two tracers' output.
pub fn stats_as_current_bpftrace(s: &str) -> String {
    let mut out = String::new();
    for line in s.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        let parts = body.split_once(": count ").and_then(|(name, rest)| {
            let (c, rest) = rest.split_once(", average ")?;
            let (a, t) = rest.split_once(", total ")?;
            Some((name, c, a, t))
        });
        match parts {
            Some((name, c, a, t)) => {
                out.push_str(&format!(
                    "{name}: {{ .count = {c}, .average = {a}, .total = {t} }}"
                ));
                out.push_str(&line[body.len()..]);
            }
            None => out.push_str(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(parse_version("6.18.44-fc-v1147"), vec![6, 18, 44]);
        assert!(cmp_versions(&[6, 18, 44], &[6, 12]).is_gt());
        assert!(cmp_versions(&[5, 4], &[5, 10]).is_lt());
        assert!(cmp_versions(&[6, 1], &[6, 1, 0]).is_eq());
    }

    #[test]
    fn expectations() {
        let out = "Attached 1 probe\n  hello world  \nstdin:1:1: ERROR: x\nbegin\n~~~\n";
        let root = Path::new("/");
        assert!(check_expect(&Expect::Line("hello world".into()), out, root).is_ok());
        assert!(check_expect(&Expect::Line("hello".into()), out, root).is_err());
        assert!(check_expect(
            &Expect::Line("stdin:1:1: ERROR: x\nbegin\n~~~".into()),
            out,
            root
        )
        .is_ok());
        assert!(check_expect(
            &Expect::Line("stdin:1:1: ERROR: x\nbegin\n ~~".into()),
            out,
            root
        )
        .is_err());
        assert!(check_expect(&Expect::NoLine("hello".into()), out, root).is_ok());
        assert!(check_expect(&Expect::Regex("^begin$".into()), out, root).is_ok());
        assert!(check_expect(&Expect::NoRegex(r"^\d+$".into()), out, root).is_ok());
        assert!(check_expect(&Expect::Regex("(".into()), out, root).is_err());
        assert!(is_attached_banner("Attached 12 probes"));
        assert!(!is_attached_banner("Attached x probes"));
        assert!(is_attached_banner("Attaching 1 probe..."));
        let re = compile_python_regex(r#"^{"a": \d{1,3}, "b": [x[]}$"#).unwrap();
        assert!(re.is_match("z\n{\"a\": 12, \"b\": [}\n"));
        assert!(compile_python_regex("a{2,}b").unwrap().is_match("aab"));
        assert!(!compile_python_regex("a{2,}b").unwrap().is_match("ab"));
        assert!(compile_python_regex("[]a]+$").unwrap().is_match("]a]"));
    }

    #[test]
    fn quoting_and_baseline() {
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
        assert_eq!(shell_quote("/usr/bin/x"), "/usr/bin/x");
        let res = |name: &str, outcome: Outcome| CaseResult {
            suite: "s".into(),
            name: name.into(),
            outcome,
            elapsed: Duration::ZERO,
            timed_out: false,
        };
        let results = vec![
            res("a", Outcome::Pass),
            res("b", Outcome::Fail("x".into())),
            res("c", Outcome::Pass),
            res("c", Outcome::Fail("x".into())),
            res("d", Outcome::Skip("x".into())),
        ];
        let base = read_baseline("# c\ns: a\n\ns: b\ns: c\ns: d\ns: gone\n");
        assert_eq!(
            regressions(&base, &results),
            vec!["s: b", "s: c", "s: d", "s: gone"]
        );
        let sum = Summary::of(&results);
        assert_eq!(
            sum.total,
            Counts {
                passed: 2,
                failed: 2,
                skipped: 1
            }
        );
        assert!(sum
            .render(90.0)
            .contains("s: 2 passed, 2 failed, 1 skipped\n"));
    }

    #[test]
    fn stats_lines_take_the_current_form() {
        assert_eq!(
            stats_as_current_bpftrace("@s[1]: count 2, average 4, total 8\n@c: 3\n@t: count 1"),
            "@s[1]: { .count = 2, .average = 4, .total = 8 }\n@c: 3\n@t: count 1"
        );
    }
}
