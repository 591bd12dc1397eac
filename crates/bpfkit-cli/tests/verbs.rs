//! bpftool verbs beyond show/dump, on the real kernel and next to Debian's bpftool 7.1:
//! `cgroup attach|detach`, `prog attach|detach` (sockmap verdicts, flow dissector),
//! `map event_pipe`, `prog profile` and the others that this kernel refuses, whose refusal
//! must be one clear line.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::process::Output;
use std::time::Duration;

use bpfkit::{socket, AttachType, Map, MapSpec, MapType, Program, ProgramSpec, ProgramType};
use bpfkit_testsupport::{run, ChildCgroup, VethPair};
use serde_json::Value;

fn bpfkit(args: &[&str]) -> Output {
    run(env!("CARGO_BIN_EXE_bpfkit"), args)
}

fn ok(args: &[&str]) -> String {
    let o = bpfkit(args);
    assert!(
        o.status.success(),
        "bpfkit {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The one stderr line of a failed command.
fn one_line(o: &Output, what: &str) -> String {
    assert_eq!(o.status.code(), Some(1), "{what} should fail with status 1");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "{what}: one line: {err}");
    err.trim_end().to_string()
}

fn bpfkit_err(args: &[&str]) -> String {
    one_line(&bpfkit(args), &format!("bpfkit {args:?}"))
}

fn bpftool_err(args: &[&str]) -> String {
    let o = run("bpftool", args);
    assert!(!o.status.success(), "bpftool {args:?} should fail");
    String::from_utf8_lossy(&o.stderr).trim_end().to_string()
}

fn bpftool(args: &[&str]) -> String {
    let o = run("bpftool", args);
    assert!(
        o.status.success(),
        "bpftool {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

fn load_asm(name: &str, ty: ProgramType, attach: Option<AttachType>, text: &str) -> Program {
    let insns = bpfkit_insn::asm::assemble(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut spec = ProgramSpec::new(name, ty, &insns).license("GPL");
    if let Some(a) = attach {
        spec = spec.expected_attach_type(a);
    }
    Program::load(&spec).unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

/// Whether `server` receives what `client` sends within half a second.
fn delivered(client: &mut TcpStream, server: &mut TcpStream) -> bool {
    client.write_all(b"payload").unwrap();
    server
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 16];
    matches!(server.read(&mut buf), Ok(n) if n > 0)
}

#[test]
fn cgroup_attach_egress_drops_inside_is_shown_like_bpftool_and_detaches() {
    let cg = ChildCgroup::new();
    let prog = load_asm(
        "verbs_egress",
        ProgramType::CgroupSkb,
        Some(AttachType::CgroupInetEgress),
        "r0 = 0\nexit\n",
    );
    let id = prog.id().unwrap().to_string();
    let ping = "ping -n -q -c 1 -W 1 127.0.0.1 >/dev/null 2>&1 && echo up || echo down";
    assert_eq!(String::from_utf8_lossy(&cg.sh(ping).stdout).trim(), "up");

    assert_eq!(
        ok(&["cgroup", "attach", cg.path_str(), "egress", "id", &id]),
        ""
    );
    assert_eq!(String::from_utf8_lossy(&cg.sh(ping).stdout).trim(), "down");
    let mine = ok(&["cgroup", "show", cg.path_str()]);
    assert_eq!(mine, bpftool(&["cgroup", "show", cg.path_str()]));
    assert!(mine.contains("verbs_egress"), "{mine}");
    let shown = json(&ok(&["-j", "cgroup", "show", cg.path_str()]));
    assert_eq!(
        shown,
        json(&bpftool(&["-j", "cgroup", "show", cg.path_str()]))
    );
    assert_eq!(shown[0]["attach_type"], "cgroup_inet_egress");
    assert_eq!(shown[0]["name"], "verbs_egress");

    // A second program where one is attached without flags: both tools refuse it alike.
    let other = load_asm(
        "verbs_egress2",
        ProgramType::CgroupSkb,
        Some(AttachType::CgroupInetEgress),
        "r0 = 1\nexit\n",
    );
    let oid = other.id().unwrap().to_string();
    let args = [
        "cgroup",
        "attach",
        cg.path_str(),
        "egress",
        "id",
        &oid,
        "multi",
    ];
    let err = bpfkit_err(&args);
    assert!(err.starts_with("Error: failed to attach program"), "{err}");
    assert_eq!(ok(&["cgroup", "show", cg.path_str()]), mine);

    assert_eq!(
        ok(&["-j", "cgroup", "detach", cg.path_str(), "egress", "id", &id]),
        "null\n"
    );
    assert_eq!(ok(&["cgroup", "show", cg.path_str()]), "");
    assert_eq!(String::from_utf8_lossy(&cg.sh(ping).stdout).trim(), "up");
}

#[test]
fn prog_attach_sk_skb_verdict_to_a_sockmap_drops_until_detached() {
    let map = Map::create(&MapSpec::new(MapType::Sockmap, 4, 4, 4).name("verbs_sockmap")).unwrap();
    let prog = load_asm(
        "verbs_skb_drop",
        ProgramType::SkSkb,
        Some(AttachType::SkSkbVerdict),
        "r0 = 0\nexit\n",
    );
    let pid = prog.id().unwrap().to_string();
    let mid = map.info().unwrap().id.to_string();

    assert_eq!(
        ok(&["prog", "attach", "id", &pid, "sk_skb_verdict", "id", &mid]),
        ""
    );
    let (mut client, mut server) = tcp_pair();
    socket::sockmap_insert(&map, &0u32.to_ne_bytes(), server.as_fd()).unwrap();
    assert!(
        !delivered(&mut client, &mut server),
        "the verdict attached by the CLI drops the data"
    );

    assert_eq!(
        ok(&[
            "-j",
            "prog",
            "detach",
            "id",
            &pid,
            "sk_skb_verdict",
            "id",
            &mid
        ]),
        "null\n"
    );
    let (mut c2, mut s2) = tcp_pair();
    socket::sockmap_insert(&map, &1u32.to_ne_bytes(), s2.as_fd()).unwrap();
    assert!(delivered(&mut c2, &mut s2), "detached: data flows again");

    // Detaching what is not attached, and bad words: bpftool's lines.
    let args = ["prog", "detach", "id", &pid, "sk_skb_verdict", "id", &mid];
    let err = bpfkit_err(&args);
    assert_eq!(err, "Error: failed prog detach from map");
    assert_eq!(err, bpftool_err(&args));
    let args = ["prog", "attach", "id", &pid, "sideways", "id", &mid];
    assert_eq!(bpfkit_err(&args), "Error: invalid attach/detach type");
    assert_eq!(bpfkit_err(&args), bpftool_err(&args));
    let counter = Map::create(&MapSpec::new(MapType::Array, 4, 8, 1).name("verbs_arr")).unwrap();
    let aid = counter.info().unwrap().id.to_string();
    let args = ["prog", "attach", "id", &pid, "sk_skb_verdict", "id", &aid];
    assert_eq!(bpfkit_err(&args), "Error: failed prog attach to map");
    assert_eq!(bpfkit_err(&args), bpftool_err(&args));
}

#[test]
fn prog_attach_sk_msg_verdict_refuses_sends_until_detached() {
    let map =
        Map::create(&MapSpec::new(MapType::Sockhash, 4, 4, 4).name("verbs_sockhash")).unwrap();
    let prog = load_asm(
        "verbs_msg_drop",
        ProgramType::SkMsg,
        Some(AttachType::SkMsgVerdict),
        "r0 = 0\nexit\n",
    );
    let pid = prog.id().unwrap().to_string();
    let mid = map.info().unwrap().id.to_string();
    ok(&["prog", "attach", "id", &pid, "sk_msg", "id", &mid]);
    let (mut client, _server) = tcp_pair();
    socket::sockmap_insert(&map, &3u32.to_ne_bytes(), client.as_fd()).unwrap();
    let sent = client.write(b"refused");
    assert!(sent.is_err(), "SK_DROP refuses the send: {sent:?}");
    ok(&["prog", "detach", "id", &pid, "sk_msg_verdict", "id", &mid]);
    let (mut c2, mut s2) = tcp_pair();
    socket::sockmap_insert(&map, &4u32.to_ne_bytes(), c2.as_fd()).unwrap();
    assert!(delivered(&mut c2, &mut s2), "detached: sends go through");
}

#[test]
fn prog_attach_flow_dissector_in_a_netns_shows_in_bpftool_net_show() {
    let pair = VethPair::new();
    let prog = load_asm(
        "verbs_flow",
        ProgramType::FlowDissector,
        None,
        "r0 = 0\nexit\n",
    );
    let id = prog.id().unwrap().to_string();
    let cli = env!("CARGO_BIN_EXE_bpfkit");
    // bpftool 7.1's `net show -j` prints invalid JSON for flow dissectors, so the text is
    // compared.
    let in_ns = |pair: &VethPair, tool: &str| {
        let o = pair.ns_exec(&[tool, "net", "show"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let o = pair.ns_exec(&[cli, "prog", "attach", "id", &id, "flow_dissector"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let shown = in_ns(&pair, "bpftool");
    assert!(
        shown.contains(&format!("flow_dissector:\nid {id}\n")),
        "{shown}"
    );
    assert_eq!(in_ns(&pair, cli), shown);
    // Only that namespace has it.
    assert!(!bpftool(&["net", "show"]).contains(&format!("id {id}\n")));
    // A second flow dissector in the namespace is refused.
    let o = pair.ns_exec(&[cli, "prog", "attach", "id", &id, "flow_dissector"]);
    assert!(!o.status.success() || in_ns(&pair, "bpftool") == shown);

    let o = pair.ns_exec(&[cli, "-j", "prog", "detach", "id", &id, "flow_dissector"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "null\n");
    assert!(in_ns(&pair, "bpftool").contains("flow_dissector:\n\n"));
    let o = pair.ns_exec(&[cli, "prog", "detach", "id", &id, "flow_dissector"]);
    assert_eq!(
        one_line(&o, "detaching twice"),
        "Error: failed prog detach from map"
    );
}

/// A perf event array with a slot per possible CPU.
fn perf_map(name: &str) -> Map {
    let cpus = bpfkit_sys::mmap::possible_cpus().unwrap() as u32;
    Map::create(&MapSpec::new(MapType::PerfEventArray, 4, 4, cpus).name(name)).unwrap()
}

/// The id of the calling thread, from /proc/thread-self (`PID/task/TID`).
fn this_thread() -> u32 {
    let link = std::fs::read_link("/proc/thread-self").unwrap();
    link.file_name().unwrap().to_str().unwrap().parse().unwrap()
}

/// A tracepoint program on `syscalls:sys_enter_getpid` that sends this process's pid (as a
/// u64) to the current CPU's perf event whenever the calling thread calls getpid() (other
/// tests run in other threads of the process).
fn getpid_sender(map: &Map) -> (Program, bpfkit::Link) {
    use bpfkit_insn::{helpers, AluOp, Builder, JmpOp, Reg, Size};
    use std::os::fd::AsRawFd;
    let mut b = Builder::new();
    b.mov64_reg(Reg::R6, Reg::R1)
        .call_helper(helpers::GET_CURRENT_PID_TGID)
        .mov64_reg(Reg::R1, Reg::R0)
        .alu64_imm(AluOp::Lsh, Reg::R1, 32)
        .alu64_imm(AluOp::Rsh, Reg::R1, 32)
        .jmp_imm(JmpOp::Ne, Reg::R1, this_thread() as i32, "out")
        .alu64_imm(AluOp::Rsh, Reg::R0, 32)
        .store_reg(Size::DW, Reg::R10, -8, Reg::R0)
        .mov64_reg(Reg::R1, Reg::R6)
        .ld_map_fd(Reg::R2, map.fd().as_raw_fd())
        .mov32_imm(Reg::R3, -1)
        .mov64_reg(Reg::R4, Reg::R10)
        .alu64_imm(AluOp::Add, Reg::R4, -8)
        .mov64_imm(Reg::R5, 8)
        .call_helper(helpers::PERF_EVENT_OUTPUT)
        .label("out")
        .mov64_imm(Reg::R0, 0)
        .exit();
    let insns = b.build().unwrap();
    let prog = Program::load(
        &ProgramSpec::new("verbs_getpid", ProgramType::Tracepoint, &insns).license("GPL"),
    )
    .unwrap();
    let link = prog
        .attach_tracepoint("syscalls", "sys_enter_getpid")
        .unwrap();
    (prog, link)
}

/// Runs `tool map event_pipe ARGS…`, calls getpid() `n` times once it is reading, stops it
/// with SIGINT and returns its stdout (its stderr must be bpftool's `Stopping...`).
fn event_pipe(tool: &str, args: &[&str], n: usize) -> String {
    let child = std::process::Command::new(tool)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    for _ in 0..n {
        // Each call is a getpid() system call (glibc does not cache it).
        let _ = std::process::id();
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(400));
    let pid = child.id().to_string();
    assert!(run("kill", &["-INT", &pid]).status.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Stopping...\n",
        "{tool}"
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The bytes bpftool prints for one sample of this process's pid: the u64 and the kernel's
/// 4 bytes of padding.
fn pid_hex() -> String {
    let mut bytes = (std::process::id() as u64).to_ne_bytes().to_vec();
    bytes.extend_from_slice(&[0; 4]);
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}  {}", hex[..8].join(" "), hex[8..].join(" "))
}

#[test]
fn map_event_pipe_prints_tracepoint_samples_as_bpftool_does() {
    let map = perf_map("verbs_events");
    let (_prog, _link) = getpid_sender(&map);
    let id = map.info().unwrap().id.to_string();
    let cli = env!("CARGO_BIN_EXE_bpfkit");
    let header = regex::Regex::new(r"^== @\d+\.\d{9} CPU: (\d+) index: (\d+) =====$").unwrap();
    let check = |text: &str, tool: &str| {
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "{tool}: three samples:\n{text}");
        for pair in lines.chunks(2) {
            let caps = header
                .captures(pair[0])
                .unwrap_or_else(|| panic!("{tool}: {text}"));
            assert_eq!(&caps[1], &caps[2], "{tool}: the index is the CPU");
            assert_eq!(pair[1], pid_hex(), "{tool}");
        }
    };
    check(
        &event_pipe(cli, &["map", "event_pipe", "id", &id], 3),
        "bpfkit",
    );
    check(
        &event_pipe("bpftool", &["map", "event_pipe", "id", &id], 3),
        "bpftool",
    );

    let j = json(&event_pipe(cli, &["-j", "map", "event_pipe", "id", &id], 2));
    let mut data: Vec<u64> = (std::process::id() as u64)
        .to_ne_bytes()
        .iter()
        .map(|&b| b as u64)
        .collect();
    data.extend([0; 4]);
    let arr = j.as_array().unwrap();
    assert_eq!(arr.len(), 2, "{j}");
    for rec in arr {
        assert_eq!(rec["type"], 9);
        assert_eq!(rec["cpu"], rec["index"]);
        assert_eq!(rec["data"], serde_json::json!(data));
    }
    // One CPU and slot, the sending thread pinned there: both tools print the same records
    // under -p and -j.
    let tid = this_thread().to_string();
    assert!(run("taskset", &["-p", "-c", "0", &tid]).status.success());
    let stamp = regex::Regex::new(r#""timestamp": ?\d+"#).unwrap();
    for flag in ["-p", "-j"] {
        let args = [
            flag,
            "map",
            "event_pipe",
            "id",
            &id,
            "cpu",
            "0",
            "index",
            "0",
        ];
        let mine = event_pipe(cli, &args, 2);
        let theirs = event_pipe("bpftool", &args, 2);
        // Only the timestamps differ.
        assert_eq!(stamp.find_iter(&mine).count(), 2, "{mine}");
        assert_eq!(
            stamp.replace_all(&mine, "T"),
            stamp.replace_all(&theirs, "T"),
            "{flag}"
        );
        assert_eq!(json(&mine).as_array().map(Vec::len), Some(2), "{mine}");
    }
    // Nothing sent: an empty array, and the slots are cleared on exit.
    assert_eq!(
        event_pipe(cli, &["-j", "map", "event_pipe", "id", &id], 0),
        "[]\n"
    );
}

#[test]
fn map_event_pipe_bad_input_is_bpftool_one_line() {
    let map = perf_map("verbs_events2");
    let id = map.info().unwrap().id.to_string();
    let arr = Map::create(&MapSpec::new(MapType::Array, 4, 4, 1).name("verbs_notperf")).unwrap();
    let aid = arr.info().unwrap().id.to_string();
    for args in [
        vec!["map", "event_pipe", "id", &aid],
        vec!["map", "event_pipe", "id", &id, "cpu", "0"],
        vec!["map", "event_pipe", "id", &id, "cpu", "zero", "index", "0"],
        vec!["map", "event_pipe", "id", &id, "index", "x", "cpu", "0"],
        vec!["map", "event_pipe", "id", &id, "sideways", "1"],
    ] {
        assert_eq!(bpfkit_err(&args), bpftool_err(&args), "{args:?}");
    }
}

#[test]
fn feature_list_builtins_extends_bpftool_lists_in_order() {
    for group in [
        "prog_types",
        "map_types",
        "attach_types",
        "link_types",
        "helpers",
    ] {
        let theirs = bpftool(&["feature", "list_builtins", group]);
        let mine = ok(&["feature", "list_builtins", group]);
        assert!(
            mine.starts_with(&theirs),
            "{group}: bpftool's list is a prefix of bpfkit's:\n{mine}"
        );
        let mine_j = json(&ok(&["-j", "feature", "list_builtins", group]));
        let theirs_j = json(&bpftool(&["-j", "feature", "list_builtins", group]));
        let (m, t) = (mine_j.as_array().unwrap(), theirs_j.as_array().unwrap());
        assert_eq!(&m[..t.len()], &t[..], "{group}");
        assert_eq!(m.len(), mine.lines().count(), "{group}");
    }
    // What this kernel has and bpftool 7.1 does not know yet.
    let links = ok(&["feature", "list_builtins", "link_types"]);
    assert!(links.lines().any(|l| l == "tcx"), "{links}");
    // Prefixes, as bpftool takes them, and a bad group.
    assert_eq!(
        ok(&["feature", "list_builtins", "a"]),
        ok(&["feature", "list_builtins", "attach_types"])
    );
    let args = ["feature", "list_builtins", "sideways"];
    assert_eq!(bpfkit_err(&args), bpftool_err(&args));
}

fn fixture(name: &str) -> String {
    let dir = std::env::var_os("BPFKIT_FIXTURES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/fixtures")
        });
    let p = dir.join(name);
    assert!(
        p.exists(),
        "fixture {} is missing: run scripts/build-fixtures",
        p.display()
    );
    p.display().to_string()
}

/// A bpffs path that is removed when dropped.
struct Pin(String);

impl Pin {
    fn new(tag: &str) -> Pin {
        let p = format!("/sys/fs/bpf/bpfkit_verbs_{tag}_{}", std::process::id());
        let _ = std::fs::remove_file(&p);
        Pin(p)
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn iter_pin_makes_a_task_iterator_file_like_bpftool() {
    let obj = fixture("verbs_iter.bpf.o");
    let (mine, theirs) = (Pin::new("iter_mine"), Pin::new("iter_theirs"));
    assert_eq!(ok(&["iter", "pin", &obj, &mine.0]), "");
    bpftool(&["iter", "pin", &obj, &theirs.0]);
    let read = |p: &str| std::fs::read_to_string(p).unwrap();
    // Every task: pid 1 and this test process are listed, in the same form as bpftool's.
    let text = read(&mine.0);
    let me = format!("{} ", std::process::id());
    assert!(text.lines().any(|l| l.starts_with(&me)), "{text}");
    let pids = |t: &str| -> Vec<String> {
        t.lines()
            .filter_map(|l| l.split(' ').next().map(str::to_string))
            .filter(|p| p == "1" || *p == std::process::id().to_string())
            .collect()
    };
    assert_eq!(pids(&text), pids(&read(&theirs.0)));
    // The pin is an iterator link, as bpftool shows it.
    let shown = json(&bpftool(&["-j", "link", "show", "pinned", &mine.0]));
    assert_eq!(shown["type"], "iter");
    assert_eq!(shown["target_name"], "task");
    drop(mine);

    let again = Pin::new("iter_json");
    assert_eq!(ok(&["-j", "iter", "pin", &obj, &again.0]), "\n");

    // Bad input: bpftool's one line.
    let demo = fixture("cli_demo.bpf.o");
    let bad = Pin::new("iter_bad");
    let err = bpfkit_err(&["iter", "pin", &demo, &bad.0]);
    let theirs_err = bpftool_err(&["iter", "pin", &demo, &bad.0]);
    let theirs_last = theirs_err.lines().last().unwrap_or_default().to_string();
    assert!(err.starts_with(&theirs_last), "{err} vs {theirs_last}");
    for args in [
        vec!["iter", "pin", "/nonexistent.o", &bad.0],
        vec!["iter", "pin", &obj, &bad.0, "map", "id", "4294967295"],
        vec!["iter", "pin", &obj, &bad.0, "map"],
    ] {
        let theirs = bpftool_err(&args);
        assert_eq!(
            bpfkit_err(&args),
            theirs.lines().last().unwrap_or_default(),
            "{args:?}"
        );
    }
    let o = bpfkit(&["iter", "pin", &obj]);
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).trim_end(),
        "Error: 'pin' needs at least 2 arguments, 1 found"
    );
    assert!(!std::path::Path::new(&bad.0).exists());
}

/// A struct_ops map registered by bpftool (bpfkit's loader does not build struct_ops maps),
/// unregistered when dropped if it still is.
struct Registered;

impl Registered {
    fn new() -> Registered {
        let _ = run("bpftool", &["struct_ops", "unregister", "name", "verbs_cc"]);
        let obj = fixture("verbs_struct_ops.bpf.o");
        bpftool(&["struct_ops", "register", &obj]);
        Registered
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        let _ = run("bpftool", &["struct_ops", "unregister", "name", "verbs_cc"]);
    }
}

#[test]
fn struct_ops_show_and_unregister_match_bpftool() {
    let _reg = Registered::new();
    for args in [
        vec!["struct_ops", "show", "name", "verbs_cc"],
        vec!["-j", "struct_ops", "show", "name", "verbs_cc"],
        vec!["-j", "struct_ops", "list"],
    ] {
        assert_eq!(ok(&args), bpftool(&args), "{args:?}");
    }
    // The dump: map info and the kernel value, function pointers named by program.
    for args in [
        vec!["struct_ops", "dump", "name", "verbs_cc"],
        vec!["-j", "struct_ops", "dump", "name", "verbs_cc"],
        vec!["-p", "struct_ops", "dump"],
    ] {
        assert_eq!(ok(&args), bpftool(&args), "{args:?}");
    }
    let dumped = json(&ok(&["-j", "struct_ops", "dump", "name", "verbs_cc"]));
    let ops = &dumped[1]["bpf_struct_ops_tcp_congestion_ops"]["data"];
    assert_eq!(ops["name"], "bpfkit_verbs");
    let ssthresh = ops["ssthresh"].as_str().unwrap_or_default();
    assert!(
        ssthresh.starts_with("u32 (struct sock *) verbs_ssthresh/prog_id:"),
        "{ssthresh}"
    );
    assert_eq!(ops["init"], "void (struct sock *) 0");
    let shown = json(&ok(&["-j", "struct_ops", "show", "name", "verbs_cc"]));
    assert_eq!(shown[0]["kernel_struct_ops"], "tcp_congestion_ops");
    let id = shown[0]["id"].to_string();
    let text = ok(&["struct_ops", "show", "id", &id]);
    assert_eq!(text, bpftool(&["struct_ops", "show", "id", &id]));
    assert!(text.starts_with(&format!("{id}: verbs_cc ")), "{text}");
    // The congestion control is usable while registered.
    let avail =
        std::fs::read_to_string("/proc/sys/net/ipv4/tcp_available_congestion_control").unwrap();
    assert!(
        avail.split_whitespace().any(|c| c == "bpfkit_verbs"),
        "{avail}"
    );

    // Bad handles: bpftool's lines.
    let arr = Map::create(&MapSpec::new(MapType::Array, 4, 4, 1).name("verbs_notops")).unwrap();
    let aid = arr.info().unwrap().id.to_string();
    for args in [
        vec!["struct_ops", "show", "name", "nosuch_ops"],
        vec!["struct_ops", "show", "id", &aid],
        vec!["struct_ops", "unregister", "id", &aid],
        vec!["struct_ops", "show", "id", "4294967295"],
    ] {
        assert_eq!(bpfkit_err(&args), bpftool_err(&args), "{args:?}");
    }

    let err = bpfkit_err(&["struct_ops", "register", &fixture("verbs_struct_ops.bpf.o")]);
    assert!(err.contains("does not build struct_ops maps"), "{err}");

    let o = bpfkit(&["struct_ops", "unregister", "id", &id]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!("Unregistered tcp_congestion_ops verbs_cc id {id}\n")
    );
    let avail =
        std::fs::read_to_string("/proc/sys/net/ipv4/tcp_available_congestion_control").unwrap();
    assert!(
        !avail.split_whitespace().any(|c| c == "bpfkit_verbs"),
        "{avail}"
    );
    let args = ["struct_ops", "unregister", "name", "verbs_cc"];
    let err = bpfkit_err(&args);
    assert_eq!(err, "Error: no struct_ops found for verbs_cc");
    assert_eq!(err, bpftool_err(&args));
}

#[test]
fn prog_profile_names_the_missing_hardware_pmu_in_one_line() {
    let obj = bpfkit::ObjectBuilder::open_file(fixture("cli_demo.bpf.o"))
        .and_then(|b| b.load())
        .unwrap();
    let id = obj.programs()[0].program.id().unwrap().to_string();
    let has_pmu = std::path::Path::new("/sys/bus/event_source/devices/cpu").exists();
    let err = bpfkit_err(&["prog", "profile", "id", &id, "duration", "1", "cycles"]);
    if has_pmu {
        assert!(err.starts_with("Error: "), "{err}");
    } else {
        assert_eq!(
            err,
            "Error: failed to create event cycles on cpu 0: this machine has no hardware PMU (no cpu event source), which profile needs"
        );
        let err = bpfkit_err(&["prog", "profile", "id", &id, "llc_misses"]);
        assert!(err.contains("event llc_misses on cpu 0: this machine has no hardware PMU"));
    }
    // Argument checks come first, with bpftool's wording.
    for (args, want) in [
        (
            vec!["prog", "profile", "id", &id],
            "Error: 'profile' needs at least 1 arguments, 0 found",
        ),
        (
            vec!["prog", "profile", "id", &id, "cyc"],
            "Error: unknown metric cyc",
        ),
        (
            vec!["prog", "profile", "id", &id, "cycles", "cycles"],
            "Error: duplicated metric: cycles",
        ),
    ] {
        assert_eq!(bpfkit_err(&args), want, "{args:?}");
    }
    // fentry/fexit attach through the target's BTF: a program without it is refused first.
    let bare = load_asm(
        "verbs_nobtf",
        ProgramType::SocketFilter,
        None,
        "r0 = 0\nexit\n",
    );
    let bid = bare.id().unwrap().to_string();
    assert_eq!(
        bpfkit_err(&["prog", "profile", "id", &bid, "cycles"]),
        format!("Error: prog id {bid} has no BTF function info, which fentry/fexit need to attach to it")
    );
}

#[test]
fn iter_pin_with_map_refused_by_this_kernel_is_one_line() {
    // Map element iterators (`iter/bpf_map_elem`, which need `map MAP`) are refused by this
    // kernel before verification, even to root; bpftool fails to load it too.
    let obj = fixture("verbs_iter_map.bpf.o");
    let map = Map::create(&MapSpec::new(MapType::Hash, 4, 4, 8).name("verbs_itmap")).unwrap();
    let id = map.info().unwrap().id.to_string();
    let (mine, theirs) = (Pin::new("itmap_mine"), Pin::new("itmap_theirs"));
    let args = ["iter", "pin", &obj, &theirs.0, "map", "id", &id];
    let o = run("bpftool", &args);
    if o.status.success() {
        // A kernel that allows it: both tools pin a working iterator.
        for (k, v) in [(1u32, 10u32), (2, 20)] {
            map.update(&k.to_ne_bytes(), &v.to_ne_bytes(), 0).unwrap();
        }
        ok(&["iter", "pin", &obj, &mine.0, "map", "id", &id]);
        let mut lines: Vec<String> = std::fs::read_to_string(&mine.0)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        lines.sort();
        assert_eq!(lines, vec!["1=10", "2=20"]);
        return;
    }
    let theirs_err = String::from_utf8_lossy(&o.stderr);
    assert!(
        theirs_err.contains("Operation not permitted"),
        "{theirs_err}"
    );
    let err = bpfkit_err(&["iter", "pin", &obj, &mine.0, "map", "id", &id]);
    assert_eq!(
        err,
        format!(
            "Error: can't load objfile {obj}: the kernel refuses its iterator program even to root (Operation not permitted: a lockdown or LSM policy forbids this iterator)"
        )
    );
    assert!(!std::path::Path::new(&mine.0).exists());
}

#[test]
fn attach_and_detach_with_too_few_words_say_what_bpftool_says() {
    let cg = ChildCgroup::new();
    for args in [
        vec!["cgroup", "attach"],
        vec!["cgroup", "attach", cg.path_str(), "egress"],
        vec!["cgroup", "attach", cg.path_str(), "egress", "id"],
        vec!["cgroup", "detach"],
        vec!["cgroup", "detach", cg.path_str(), "egress", "id"],
        vec!["prog", "attach"],
        vec!["prog", "attach", "id", "1"],
        vec!["prog", "detach", "id"],
        vec!["prog", "detach", "id", "4294967295", "flow_dissector"],
    ] {
        assert_eq!(bpfkit_err(&args), bpftool_err(&args), "{args:?}");
    }
}
