//! Attach kinds that only some kernels offer: kprobes, kretprobes, fentry/fexit through BTF,
//! kprobe.multi by wildcard and ksyscall by name. The host (no kprobes, fentry refused under
//! lockdown) skips them with the missing feature; `scripts/kernel-matrix` runs them on
//! Debian's 6.1 and 6.12 kernels, where they must pass.
//!
//! Each test counts or records only what one task of its own makes (this test's thread, or a
//! child it starts), so that the tests running beside it cannot change the numbers.

mod common;

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};

use bpfkit::attach::kprobe::{matching_kernel_functions, syscall_function};
use bpfkit::attach::TracingKind;
use bpfkit::{AttachType, Link, Map, MapSpec, MapType, Program, ProgramSpec, ProgramType};
use bpfkit_insn::{helpers, AluOp, Builder, Insn, JmpOp, Reg, Size};

/// The kernel function behind open(2), openat(2) and openat2(2) on every kernel since 5.6.
const OPEN_FUNC: &str = "do_sys_openat2";

/// Offsets in x86-64 `struct pt_regs`.
const PT_REGS_RAX: i16 = 10 * 8;

/// The slots of the `slots` array: how often the program ran, then the values it recorded.
const COUNT: i32 = 0;
const FIRST: i32 = 1;
const SECOND: i32 = 2;

/// What `bpf_get_current_pid_tgid` returns on this thread: tgid in the high half, thread id
/// in the low half (from /proc/thread-self, which links to `<tgid>/task/<tid>`).
fn this_thread() -> u64 {
    let link = std::fs::read_link("/proc/thread-self").expect("reading /proc/thread-self");
    let text = link.to_string_lossy();
    let mut parts = text.split('/');
    let tgid: u64 = parts.next().and_then(|p| p.parse().ok()).expect("tgid");
    let tid: u64 = parts.nth(1).and_then(|p| p.parse().ok()).expect("tid");
    (tgid << 32) | tid
}

fn slots_map() -> Map {
    Map::create(&MapSpec::new(MapType::Array, 4, 8, 4).name("slots")).unwrap()
}

fn u64_at(map: &Map, key: u32) -> u64 {
    let v = map
        .lookup(&key.to_ne_bytes())
        .unwrap()
        .expect("key present");
    u64::from_ne_bytes(v[..8].try_into().unwrap())
}

/// Saves the context in r6 and jumps to `out` unless the current task is `thread`.
fn only_thread(b: &mut Builder, thread: u64) {
    b.mov64_reg(Reg::R6, Reg::R1)
        .call_helper(helpers::GET_CURRENT_PID_TGID)
        .ld_imm64(Reg::R1, thread)
        .jmp_reg(JmpOp::Ne, Reg::R0, Reg::R1, "out");
}

/// Sets r0 to `&map[slot]`, or jumps to `out` if the lookup fails.
fn slot_ptr(b: &mut Builder, map: &Map, slot: i32) {
    b.store_imm(Size::W, Reg::R10, -4, slot)
        .mov64_reg(Reg::R2, Reg::R10)
        .alu64_imm(AluOp::Add, Reg::R2, -4)
        .ld_map_fd(Reg::R1, map.fd().as_raw_fd())
        .call_helper(helpers::MAP_LOOKUP_ELEM)
        .jmp_imm(JmpOp::Eq, Reg::R0, 0, "out");
}

/// Adds one to `slots[COUNT]`, then returns 0.
fn count_and_exit(b: &mut Builder, slots: &Map) -> Vec<Insn> {
    slot_ptr(b, slots, COUNT);
    b.mov64_imm(Reg::R1, 1)
        .atomic_add(Size::DW, Reg::R0, 0, Reg::R1)
        .label("out")
        .mov64_imm(Reg::R0, 0)
        .exit();
    b.build().expect("valid program")
}

/// Counts the runs on `thread` in `slots[COUNT]`.
fn count_thread(slots: &Map, thread: u64) -> Vec<Insn> {
    let mut b = Builder::new();
    only_thread(&mut b, thread);
    count_and_exit(&mut b, slots)
}

/// On `thread`: stores the u64 at each `(ctx offset, slot)` pair into `slots`, and counts.
fn record_ctx(slots: &Map, thread: u64, fields: &[(i16, i32)]) -> Vec<Insn> {
    let mut b = Builder::new();
    only_thread(&mut b, thread);
    for &(off, slot) in fields {
        b.load(Size::DW, Reg::R7, Reg::R6, off);
        slot_ptr(&mut b, slots, slot);
        b.store_reg(Size::DW, Reg::R0, 0, Reg::R7);
    }
    count_and_exit(&mut b, slots)
}

/// A hash map from `bpf_get_current_pid_tgid` values to u64 counters or values.
fn tasks_map() -> Map {
    Map::create(&MapSpec::new(MapType::Hash, 8, 8, 16).name("tasks")).unwrap()
}

/// Adds one to `tasks[pid_tgid]` for the tasks that have a key there.
fn count_tasks(tasks: &Map) -> Vec<Insn> {
    let mut b = Builder::new();
    task_slot(&mut b, tasks);
    b.mov64_imm(Reg::R1, 1)
        .atomic_add(Size::DW, Reg::R0, 0, Reg::R1)
        .label("out")
        .mov64_imm(Reg::R0, 0)
        .exit();
    b.build().expect("valid program")
}

/// Stores the kretprobe's return value (rax) in `tasks[pid_tgid]` for the tasks with a key.
fn store_return_by_task(tasks: &Map) -> Vec<Insn> {
    let mut b = Builder::new();
    b.mov64_reg(Reg::R6, Reg::R1);
    task_slot(&mut b, tasks);
    b.load(Size::DW, Reg::R1, Reg::R6, PT_REGS_RAX)
        .store_reg(Size::DW, Reg::R0, 0, Reg::R1)
        .label("out")
        .mov64_imm(Reg::R0, 0)
        .exit();
    b.build().expect("valid program")
}

/// Sets r0 to `&tasks[pid_tgid]`, or jumps to `out` for a task without a key.
fn task_slot(b: &mut Builder, tasks: &Map) {
    b.call_helper(helpers::GET_CURRENT_PID_TGID)
        .store_reg(Size::DW, Reg::R10, -8, Reg::R0)
        .mov64_reg(Reg::R2, Reg::R10)
        .alu64_imm(AluOp::Add, Reg::R2, -8)
        .ld_map_fd(Reg::R1, tasks.fd().as_raw_fd())
        .call_helper(helpers::MAP_LOOKUP_ELEM)
        .jmp_imm(JmpOp::Eq, Reg::R0, 0, "out");
}

fn task_value(tasks: &Map, pid_tgid: u64) -> u64 {
    let v = tasks
        .lookup(&pid_tgid.to_ne_bytes())
        .unwrap()
        .expect("task registered");
    u64::from_ne_bytes(v[..8].try_into().unwrap())
}

/// Runs the getpid_loop fixture (it makes exactly `n` getpid calls once released) with a
/// zeroed `tasks` entry for its main thread, and returns its pid.
fn run_getpid_child(tasks: &Map, n: u32) -> u32 {
    let mut child = Command::new(common::fixture("getpid_loop"))
        .arg(n.to_string())
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawning the getpid_loop fixture");
    let pid = child.id();
    tasks
        .update(&task_key(pid).to_ne_bytes(), &0u64.to_ne_bytes(), 0)
        .unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "getpid_loop failed: {status}");
    pid
}

/// The pid_tgid of a single-threaded process's main thread.
fn task_key(pid: u32) -> u64 {
    (u64::from(pid) << 32) | u64::from(pid)
}

/// A path that does not exist, unique to this process and `tag`.
fn missing_path(tag: &str) -> String {
    format!("/nonexistent-{}", common::unique(tag))
}

/// Opens `path`, expecting ENOENT.
fn open_missing(path: &str) {
    let err = File::open(path).expect_err("the path does not exist");
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err}");
}

fn finish(progs: &[&Program], maps: &[&Map], links: Vec<Link>) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
    let link_ids = links.iter().map(|l| l.id().unwrap()).collect();
    drop(links);
    (
        progs.iter().map(|p| p.id().unwrap()).collect(),
        maps.iter().map(|m| m.id()).collect(),
        link_ids,
    )
}

#[test]
fn kprobe_counts_the_opens_of_this_thread() {
    require_feature!(Kprobes);
    let slots = slots_map();
    let insns = count_thread(&slots, this_thread());
    let prog = Program::load(&ProgramSpec::new("kp_open", ProgramType::Kprobe, &insns)).unwrap();
    let link = prog.attach_kprobe(OPEN_FUNC, 0, false).unwrap();
    let path = missing_path("kprobe");
    const N: u64 = 37;
    for _ in 0..N {
        open_missing(&path);
    }
    assert_eq!(
        u64_at(&slots, COUNT as u32),
        N,
        "{OPEN_FUNC} ran once per open"
    );
    let ids = finish(&[&prog], &[&slots], vec![link]);
    open_missing(&path);
    assert_eq!(u64_at(&slots, COUNT as u32), N, "detached on drop");
    drop((prog, slots));
    common::assert_gone(&ids.0, &ids.1, &ids.2);
}

#[test]
fn kretprobe_sees_the_return_value_of_open() {
    require_feature!(Kprobes);
    let slots = slots_map();
    let insns = record_ctx(&slots, this_thread(), &[(PT_REGS_RAX, FIRST)]);
    let prog = Program::load(&ProgramSpec::new("krp_open", ProgramType::Kprobe, &insns)).unwrap();
    let link = prog.attach_kprobe(OPEN_FUNC, 0, true).unwrap();

    open_missing(&missing_path("kretprobe"));
    assert_eq!(u64_at(&slots, COUNT as u32), 1);
    assert_eq!(
        u64_at(&slots, FIRST as u32) as i64,
        -i64::from(libc::ENOENT),
        "the kretprobe saw -ENOENT"
    );
    let file = File::open("/proc/self/stat").unwrap();
    assert_eq!(u64_at(&slots, COUNT as u32), 2);
    assert_eq!(
        u64_at(&slots, FIRST as u32) as i64,
        i64::from(file.as_raw_fd()),
        "the kretprobe saw the new descriptor"
    );
    drop(file);
    let ids = finish(&[&prog], &[&slots], vec![link]);
    drop((prog, slots));
    common::assert_gone(&ids.0, &ids.1, &ids.2);
}

/// `AT_FDCWD`: the dfd that open(2) and a relative-free openat(2) pass.
const AT_FDCWD: i32 = -100;
/// The filename buffer of the fentry test.
const NAME_LEN: u32 = 96;

#[test]
fn fentry_reads_the_arguments_through_btf() {
    require_feature!(Fentry);
    let slots = slots_map();
    let names = Map::create(&MapSpec::new(MapType::Array, 4, NAME_LEN, 1).name("names")).unwrap();
    // do_sys_openat2(int dfd, const char __user *filename, struct open_how *how): arguments
    // are u64 slots of the context.
    let mut b = Builder::new();
    only_thread(&mut b, this_thread());
    b.load(Size::DW, Reg::R7, Reg::R6, 0)
        .load(Size::DW, Reg::R8, Reg::R6, 8);
    slot_ptr(&mut b, &slots, FIRST);
    b.store_reg(Size::DW, Reg::R0, 0, Reg::R7)
        .store_imm(Size::W, Reg::R10, -4, 0)
        .mov64_reg(Reg::R2, Reg::R10)
        .alu64_imm(AluOp::Add, Reg::R2, -4)
        .ld_map_fd(Reg::R1, names.fd().as_raw_fd())
        .call_helper(helpers::MAP_LOOKUP_ELEM)
        .jmp_imm(JmpOp::Eq, Reg::R0, 0, "out")
        .mov64_reg(Reg::R1, Reg::R0)
        .mov64_imm(Reg::R2, NAME_LEN as i32)
        .mov64_reg(Reg::R3, Reg::R8)
        .call_helper(helpers::PROBE_READ_USER_STR)
        // The helper's length (with the NUL) or error goes beside dfd.
        .mov64_reg(Reg::R7, Reg::R0);
    slot_ptr(&mut b, &slots, SECOND);
    b.store_reg(Size::DW, Reg::R0, 0, Reg::R7);
    let insns = count_and_exit(&mut b, &slots);
    let spec = ProgramSpec::new("fe_open", ProgramType::Tracing, &insns)
        .for_tracing(TracingKind::Fentry, OPEN_FUNC)
        .unwrap();
    let prog = Program::load(&spec).unwrap();
    let link = prog.attach_tracing().unwrap();

    let path = missing_path("fentry");
    open_missing(&path);
    assert_eq!(u64_at(&slots, COUNT as u32), 1);
    assert_eq!(u64_at(&slots, FIRST as u32) as u32 as i32, AT_FDCWD, "dfd");
    assert_eq!(
        u64_at(&slots, SECOND as u32),
        path.len() as u64 + 1,
        "bpf_probe_read_user_str copied the name and its NUL"
    );
    let got = names.lookup(&0u32.to_ne_bytes()).unwrap().unwrap();
    let end = got.iter().position(|&c| c == 0).expect("NUL-terminated");
    assert_eq!(
        std::str::from_utf8(&got[..end]).unwrap(),
        path,
        "filename argument"
    );
    let ids = finish(&[&prog], &[&slots, &names], vec![link]);
    drop((prog, slots, names));
    common::assert_gone(&ids.0, &ids.1, &ids.2);
}

#[test]
fn fexit_sees_an_argument_and_the_return_value() {
    require_feature!(Fexit);
    let slots = slots_map();
    // Three arguments, so the return value is the fourth u64 of the context.
    let insns = record_ctx(&slots, this_thread(), &[(0, FIRST), (24, SECOND)]);
    let spec = ProgramSpec::new("fx_open", ProgramType::Tracing, &insns)
        .for_tracing(TracingKind::Fexit, OPEN_FUNC)
        .unwrap();
    let prog = Program::load(&spec).unwrap();
    let link = prog.attach_tracing().unwrap();

    open_missing(&missing_path("fexit"));
    assert_eq!(u64_at(&slots, COUNT as u32), 1);
    assert_eq!(u64_at(&slots, FIRST as u32) as u32 as i32, AT_FDCWD, "dfd");
    assert_eq!(
        u64_at(&slots, SECOND as u32) as i64,
        -i64::from(libc::ENOENT),
        "return value"
    );
    let file = File::open("/proc/self/stat").unwrap();
    assert_eq!(u64_at(&slots, COUNT as u32), 2);
    assert_eq!(
        u64_at(&slots, SECOND as u32) as i64,
        i64::from(file.as_raw_fd()),
        "the new descriptor"
    );
    drop(file);
    let ids = finish(&[&prog], &[&slots], vec![link]);
    drop((prog, slots));
    common::assert_gone(&ids.0, &ids.1, &ids.2);
}

#[test]
fn kprobe_multi_attaches_by_wildcard() {
    require_feature!(KprobeMulti);
    // `__x64_sys_getp*id`: getpgid, getpid and getppid. Debian's ftrace list names the
    // bodies (`__do_sys_getpid`), not the wrappers at the same address: they match anyway.
    let getpid = syscall_function("getpid");
    let arch_prefix = getpid.strip_suffix("getpid").expect("a getpid function");
    let pattern = format!("{arch_prefix}getp*id");
    let expected: Vec<String> = ["getpgid", "getpid", "getppid"]
        .iter()
        .map(|s| syscall_function(s))
        .collect();
    assert_eq!(
        matching_kernel_functions(&pattern).unwrap(),
        expected,
        "functions matching {pattern}"
    );
    let tasks = tasks_map();
    let insns = count_tasks(&tasks);
    let spec = ProgramSpec::new("kpm_getp", ProgramType::Kprobe, &insns)
        .expected_attach_type(AttachType::TraceKprobeMulti);
    let prog = Program::load(&spec).unwrap();
    let link = prog.attach_kprobe_multi(&pattern, false).unwrap();
    let me = this_thread();
    tasks
        .update(&me.to_ne_bytes(), &0u64.to_ne_bytes(), 0)
        .unwrap();
    const M: u64 = 9;
    for _ in 0..M {
        std::hint::black_box(std::os::unix::process::parent_id());
    }
    const N: u32 = 55;
    let child = run_getpid_child(&tasks, N);
    assert_eq!(
        task_value(&tasks, task_key(child)),
        u64::from(N),
        "the child's getpid calls"
    );
    assert_eq!(task_value(&tasks, me), M, "this thread's getppid calls");
    let ids = finish(&[&prog], &[&tasks], vec![link]);
    drop((prog, tasks));
    common::assert_gone(&ids.0, &ids.1, &ids.2);
}

#[test]
fn ksyscall_counts_getpid_by_name() {
    require_feature!(Kprobes);
    let tasks = tasks_map();
    let insns = count_tasks(&tasks);
    let prog = Program::load(&ProgramSpec::new(
        "ksys_getpid",
        ProgramType::Kprobe,
        &insns,
    ))
    .unwrap();
    let link = prog.attach_ksyscall("getpid", false).unwrap();
    const N: u32 = 123;
    let child = run_getpid_child(&tasks, N);
    assert_eq!(task_value(&tasks, task_key(child)), u64::from(N));
    let ids = finish(&[&prog], &[&tasks], vec![link]);
    drop((prog, tasks));
    common::assert_gone(&ids.0, &ids.1, &ids.2);
}

#[test]
fn kretsyscall_sees_getpids_return_value() {
    require_feature!(Kprobes);
    let tasks = tasks_map();
    let insns = store_return_by_task(&tasks);
    let prog = Program::load(&ProgramSpec::new(
        "kret_getpid",
        ProgramType::Kprobe,
        &insns,
    ))
    .unwrap();
    let link = prog.attach_ksyscall("getpid", true).unwrap();
    let child = run_getpid_child(&tasks, 3);
    assert_eq!(
        task_value(&tasks, task_key(child)),
        u64::from(child),
        "getpid returned the child's pid"
    );
    let ids = finish(&[&prog], &[&tasks], vec![link]);
    drop((prog, tasks));
    common::assert_gone(&ids.0, &ids.1, &ids.2);
}

/// libbpf-tools whose embedded objects are loaded: tracepoint, tp_btf, raw_tp, kprobe and
/// fentry programs among them, each tool picking fallbacks for the kernel it starts on. Not
/// `capable` and the other stack-collecting tools: they size their stack map at run time, so
/// their object as embedded (max_entries 0) cannot load, with libbpf either.
const LIBBPF_TOOLS: &[&str] = &[
    "execsnoop",
    "opensnoop",
    "exitsnoop",
    "syscount",
    "runqlat",
    "biolatency",
    "tcplife",
    "filelife",
    "vfsstat",
    "tcpconnect",
    "sigsnoop",
];

/// How long a tool may take to attach: parsing the kernel BTF and verifying its programs
/// takes seconds in an emulated guest.
const TOOL_START: std::time::Duration = std::time::Duration::from_secs(90);

/// Whether process `pid` holds a BPF link (libbpf-tools attach every program through one).
fn holds_a_link(pid: u32) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .any(|target| target.as_os_str() == "anon_inode:bpf_link")
}

/// Starts `/usr/sbin/<tool>`: it started when it attached (holds a BPF link and is still
/// running a moment later, since a skeleton attaches its programs in one go and gives up at
/// the first failure) or exited 0; otherwise the last line of its complaint. Stopped with
/// SIGINT, as a user stops these tools, so that they detach cleanly.
fn original_starts(tool: &str) -> Result<(), String> {
    use std::io::Read;
    use std::time::{Duration, Instant};
    let mut child = Command::new(format!("/usr/sbin/{tool}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting /usr/sbin/{tool}: {e}"));
    let start = Instant::now();
    let mut attached_at = None;
    let exited = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if attached_at.is_none() && holds_a_link(child.id()) {
            attached_at = Some(Instant::now());
        }
        if attached_at.is_some_and(|t| t.elapsed() > Duration::from_secs(2))
            || start.elapsed() > TOOL_START
        {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let status = match exited {
        Some(s) => Some(s),
        None => {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Some(s) = child.try_wait().unwrap() {
                    break Some(s);
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let attached = exited.is_none() && attached_at.is_some();
    if attached || exited.is_some_and(|s| s.success()) {
        Ok(())
    } else if exited.is_none() {
        Err(format!("no BPF link after {TOOL_START:?}"))
    } else {
        let last = err.lines().last().unwrap_or("(no output)");
        let code = status.and_then(|s| s.code()).unwrap_or(-1);
        Err(format!("exit {code}: {last}"))
    }
}

#[test]
fn libbpf_tools_objects_load_wherever_the_tool_starts() {
    let mut report = Vec::new();
    let mut failures = Vec::new();
    let mut loaded = 0;
    for tool in LIBBPF_TOOLS {
        let path = format!("/usr/sbin/{tool}");
        let bin = std::fs::read(&path).unwrap_or_else(|e| {
            panic!("{path}: {e} (apt-get install libbpf-tools; scripts/kernel-matrix copies it into the guests)")
        });
        let objects = bpfkit_elf::extract_embedded_objects(&bin);
        assert!(!objects.is_empty(), "{tool}: no embedded BPF object");
        let starts = original_starts(tool);
        for (i, bytes) in objects.iter().enumerate() {
            let name = format!("{tool}{i}");
            let mut b = bpfkit::ObjectBuilder::open_bytes(&name, bytes)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            b.skip_unsupported(true);
            let res = b.load();
            let ours = match &res {
                Ok(obj) => format!(
                    "loads {} programs ({} left out)",
                    obj.programs().len(),
                    obj.skipped().len()
                ),
                Err(e) => format!("fails: {e}"),
            };
            match (&starts, res) {
                (Ok(()), Ok(obj)) if !obj.programs().is_empty() => loaded += 1,
                (Ok(()), _) => failures.push(format!("{name}: the tool starts, bpfkit {ours}")),
                (Err(_), _) => {}
            }
            let theirs = match &starts {
                Ok(()) => "starts".to_string(),
                Err(why) => format!("does not start ({why})"),
            };
            report.push(format!("{name}: tool {theirs}; bpfkit {ours}"));
        }
    }
    let report = report.join("\n");
    // Shown by `--nocapture` and in the matrix logs of failing runs.
    println!("{report}");
    assert!(failures.is_empty(), "{}\n\n{report}", failures.join("\n"));
    assert!(loaded > 0, "no tool started on this kernel:\n{report}");
}
