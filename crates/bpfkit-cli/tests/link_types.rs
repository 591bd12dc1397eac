//! `bpfkit link show` on every link type this kernel can create from a test: tcx, xdp,
//! netfilter, sockmap, uprobe_multi, iter and perf_event (tracepoint, uprobe, software event).
//!
//! Where the host cannot (kprobes, kprobe_multi, fentry) the tests skip; `scripts/kernel-matrix`
//! runs them on Debian's 6.12, and skips on 6.1 what arrived later.
//!
//! Each test creates the link with the library, then checks the per-type fields our JSON and
//! text print against what it created (the fields current bpftool prints), and compares with
//! Debian's bpftool 7.1 on every JSON field both print (7.1 predates most of these types:
//! it often prints only the header).

use std::process::{Command, Output};

use bpfkit::attach::{PerfEventConfig, SampleRate, SoftwareEvent, UprobeOptions, UprobeTarget};
use bpfkit::{AttachType, Link, Map, MapSpec, MapType, Program, ProgramSpec, ProgramType};
use bpfkit_insn::{Builder, Insn, Reg};
use serde_json::{json, Value};

/// The kernel features the tests need, declared with `require_feature!` as in the library's
/// kernel tests (a kernel that lacks one prints the skip line `scripts/kernel-matrix` counts).
#[path = "../../bpfkit/tests/common/features.rs"]
pub mod features;
mod common {
    pub use super::features;
}

fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {cmd}: {e}"))
}

fn ok(cmd: &str, args: &[&str]) -> String {
    let o = run(cmd, args);
    assert!(
        o.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn bpfkit(args: &[&str]) -> String {
    ok(env!("CARGO_BIN_EXE_bpfkit"), args)
}

fn ret(v: i32) -> Vec<Insn> {
    Builder::new().mov64_imm(Reg::R0, v).exit().build().unwrap()
}

fn load(name: &str, t: ProgramType, at: Option<AttachType>, insns: &[Insn]) -> Program {
    let mut spec = ProgramSpec::new(name, t, insns);
    if let Some(at) = at {
        spec = spec.expected_attach_type(at);
    }
    Program::load(&spec).unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

/// Checks `link show id N` of `link`: our JSON holds `expect` field for field, bpftool 7.1's
/// JSON agrees with ours on every field both print, and our text holds `text`. Returns our
/// JSON object.
fn check(link: &Link, expect: Value, text: &str) -> Value {
    let id = link.id().expect("link id").to_string();
    let ours: Value = serde_json::from_str(&bpfkit(&["link", "show", "id", &id, "-j"])).unwrap();
    for (k, v) in expect.as_object().unwrap() {
        assert_eq!(&ours[k], v, "field {k} of {ours}");
    }
    let theirs: Value =
        serde_json::from_str(&ok("bpftool", &["link", "show", "id", &id, "-j"])).unwrap();
    for (k, v) in theirs.as_object().unwrap() {
        // 7.1's libbpf names fewer link types: it prints the number of the ones it lacks.
        if k == "type" && v.is_u64() {
            continue;
        }
        assert_eq!(
            Some(v),
            ours.get(k),
            "bpftool's {k} in {theirs} vs ours {ours}"
        );
    }
    let plain = bpfkit(&["link", "show", "id", &id]);
    let want_head = format!("{id}: {}  ", ours["type"].as_str().unwrap());
    assert!(plain.starts_with(&want_head), "{plain:?}");
    assert!(
        plain.contains(text),
        "text of link {id}: {plain:?} lacks {text:?}"
    );
    ours
}

#[test]
fn tcx_link_names_device_and_direction() {
    // tcx links: 6.6.
    require_feature!(KernelVersion(6, 6));
    // bpftool names devices of its own namespace: the host end.
    let dev = bpfkit_testsupport::VethPair::new();
    let prog = load("lt_tcx", ProgramType::SchedCls, None, &ret(-1));
    let link = bpfkit::tc::attach_tcx(
        &prog,
        dev.ifindex,
        bpfkit::tc::Direction::Egress,
        &Default::default(),
    )
    .unwrap();
    check(
        &link,
        json!({"type": "tcx", "prog_id": prog.id().unwrap(), "devname": dev.host,
               "ifindex": dev.ifindex, "attach_type": "tcx_egress"}),
        &format!(
            "  \n\tifindex {}({})  attach_type tcx_egress  \n",
            dev.host, dev.ifindex
        ),
    );
}

#[test]
fn xdp_link_names_device() {
    // bpftool names devices of its own namespace: the host end.
    let dev = bpfkit_testsupport::VethPair::new();
    let prog = load("lt_xdp", ProgramType::Xdp, None, &ret(2));
    let link = bpfkit::xdp::attach(&prog, dev.ifindex, None).unwrap();
    check(
        &link,
        json!({"type": "xdp", "devname": dev.host, "ifindex": dev.ifindex}),
        &format!("  \n\tifindex {}({})  \n", dev.host, dev.ifindex),
    );
}

#[test]
fn netfilter_link_shows_family_hook_and_priority() {
    // netfilter links: 6.4.
    require_feature!(KernelVersion(6, 4));
    let prog = load(
        "lt_nf",
        ProgramType::Netfilter,
        Some(AttachType::Netfilter),
        &ret(1),
    );
    let link = bpfkit::netfilter::attach(
        &prog,
        &bpfkit::netfilter::NetfilterOptions {
            pf: bpfkit::netfilter::NFPROTO_IPV6,
            hook: bpfkit::netfilter::Hook::LocalOut,
            priority: -77,
            flags: 0,
        },
    )
    .unwrap();
    check(
        &link,
        json!({"type": "netfilter", "pf": 10, "hook": 3, "prio": -77, "flags": 0}),
        "  \n\tip6 output prio -77\n",
    );
}

#[test]
fn sockmap_link_names_map_and_attach_type() {
    // sockmap links: 6.10.
    require_feature!(KernelVersion(6, 10));
    let map = Map::create(&MapSpec::new(MapType::Sockmap, 4, 4, 2).name("lt_sockmap")).unwrap();
    let prog = load(
        "lt_verdict",
        ProgramType::SkSkb,
        Some(AttachType::SkSkbVerdict),
        &ret(1),
    );
    let link = bpfkit::socket::link_sockmap(&map, &prog, AttachType::SkSkbVerdict).unwrap();
    check(
        &link,
        json!({"type": "sockmap", "map_id": map.id(), "attach_type": "sk_skb_verdict"}),
        &format!("  \n\tmap_id {}  attach_type sk_skb_verdict  \n", map.id()),
    );
}

#[test]
fn iter_link_names_target_and_map() {
    let insns = ret(0);
    let spec = ProgramSpec::new("lt_iter", ProgramType::Tracing, &insns)
        .for_iter("bpf_map")
        .unwrap();
    let prog = Program::load(&spec).unwrap();
    let link = prog.attach_iter().unwrap();
    let o = check(
        &link,
        json!({"type": "iter", "prog_id": prog.id().unwrap(), "target_name": "bpf_map"}),
        &format!("prog {}  target_name bpf_map  \n", prog.id().unwrap()),
    );
    assert!(o.get("map_id").is_none(), "{o}");
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn bpfkit_lt_uprobe_target(x: u64) -> u64 {
    std::hint::black_box(x.wrapping_mul(3))
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn bpfkit_lt_multi_a(x: u64) -> u64 {
    std::hint::black_box(x.wrapping_add(1))
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn bpfkit_lt_multi_b(x: u64) -> u64 {
    std::hint::black_box(x.wrapping_add(2))
}

#[test]
fn uprobe_multi_link_lists_path_offsets_and_pid() {
    require_feature!(UprobeMulti);
    let prog = load(
        "lt_upm",
        ProgramType::Kprobe,
        Some(AttachType::TraceUprobeMulti),
        &ret(0),
    );
    let exe = std::fs::canonicalize(std::env::current_exe().unwrap()).unwrap();
    let pid = std::process::id() as i32;
    let link = prog
        .attach_uprobe_multi(
            &exe,
            "bpfkit_lt_multi_*",
            &UprobeOptions {
                pid: Some(pid),
                ..Default::default()
            },
        )
        .unwrap();
    let found = bpfkit::attach::uprobe::matching_symbols(&exe, "bpfkit_lt_multi_*").unwrap();
    assert_eq!(found.len(), 2);
    let mut offsets: Vec<u64> = found.iter().map(|s| s.1).collect();
    let path = exe.display().to_string();
    let o = check(
        &link,
        json!({"type": "uprobe_multi", "retprobe": false, "path": path, "func_cnt": 2,
               "pid": pid}),
        &format!("  \n\tuprobe.multi  path {path}  func_cnt 2  pid {pid}  \n\toffset  "),
    );
    let mut got: Vec<u64> = o["funcs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f["cookie"], 0);
            assert_eq!(f["ref_ctr_offset"], 0);
            f["offset"].as_u64().unwrap()
        })
        .collect();
    got.sort_unstable();
    offsets.sort_unstable();
    assert_eq!(got, offsets);
    let plain = bpfkit(&["link", "show", "id", &link.id().unwrap().to_string()]);
    for off in &offsets {
        assert!(plain.contains(&format!("\n\t0x{off:<16x} 0x0")), "{plain}");
    }
    bpfkit_lt_multi_a(1);
    bpfkit_lt_multi_b(1);
}

#[test]
fn perf_event_tracepoint_link_names_the_tracepoint_and_cookie() {
    // perf_event link info: 6.6; its cookies: 6.9.
    require_feature!(KernelVersion(6, 9));
    let prog = load("lt_tp", ProgramType::Tracepoint, None, &ret(0));
    let link = prog
        .attach_tracepoint_with_cookie("syscalls", "sys_enter_getppid", 4242)
        .unwrap();
    check(
        &link,
        json!({"type": "perf_event", "tracepoint": "sys_enter_getppid", "cookie": 4242}),
        "  \n\ttracepoint sys_enter_getppid  cookie 4242  \n",
    );
}

#[test]
fn perf_event_uprobe_link_names_file_and_offset() {
    // perf_event link info: 6.6; its cookies: 6.9.
    require_feature!(KernelVersion(6, 9));
    let prog = load("lt_up", ProgramType::Kprobe, None, &ret(0));
    let exe = std::fs::canonicalize(std::env::current_exe().unwrap()).unwrap();
    let link = prog
        .attach_uprobe(
            &exe,
            UprobeTarget::Symbol("bpfkit_lt_uprobe_target"),
            &UprobeOptions {
                pid: Some(std::process::id() as i32),
                retprobe: true,
                cookie: 5,
                ..Default::default()
            },
        )
        .unwrap();
    let found = bpfkit::attach::uprobe::matching_symbols(&exe, "bpfkit_lt_uprobe_target").unwrap();
    let off = found[0].1;
    let path = exe.display().to_string();
    check(
        &link,
        json!({"type": "perf_event", "retprobe": true, "file": path, "offset": off,
               "cookie": 5}),
        &format!("  \n\turetprobe {path}+{off:#x}  cookie 5  \n"),
    );
    bpfkit_lt_uprobe_target(2);
}

#[test]
fn perf_event_software_link_names_event() {
    // perf_event link info: 6.6; its cookies: 6.9.
    require_feature!(KernelVersion(6, 9));
    let prog = load("lt_clock", ProgramType::PerfEvent, None, &ret(0));
    let links = prog
        .attach_perf_event(
            // Not cpu-clock: 6.16+ moved the clocks to PMUs of their own, with dynamic types.
            PerfEventConfig::Software(SoftwareEvent::ContextSwitches),
            SampleRate::Period(1_000_000_000),
        )
        .unwrap();
    let (_, link) = links.iter().next().expect("one CPU at least");
    check(
        link,
        json!({"type": "perf_event", "event_type": "software", "event_config": "context-switches",
               "cookie": 0}),
        "  \n\tevent software:context-switches  \n",
    );
}

#[test]
fn perf_event_kprobe_link_names_the_function() {
    // perf_event link info: 6.6; its cookies: 6.9.
    require_feature!(Kprobes, KernelVersion(6, 9));
    let prog = load("lt_kp", ProgramType::Kprobe, None, &ret(0));
    let func = bpfkit::attach::kprobe::syscall_function("getppid");
    let link = prog.attach_kprobe_with_cookie(&func, 0, false, 11).unwrap();
    let o = check(
        &link,
        json!({"type": "perf_event", "retprobe": false, "func": func, "offset": 0,
               "missed": 0, "cookie": 11}),
        "  cookie 11  \n",
    );
    let addr = o["addr"].as_u64().unwrap();
    let plain = bpfkit(&["link", "show", "id", &link.id().unwrap().to_string()]);
    let want = if addr != 0 {
        format!("\n\tkprobe {addr:x} {func}  cookie 11  \n")
    } else {
        format!("\n\tkprobe {func}  cookie 11  \n")
    };
    assert!(plain.contains(&want), "{plain:?} lacks {want:?}");
}

#[test]
fn kprobe_multi_link_lists_its_functions() {
    require_feature!(KprobeMulti);
    let prog = load(
        "lt_kpm",
        ProgramType::Kprobe,
        Some(AttachType::TraceKprobeMulti),
        &ret(0),
    );
    let funcs = [
        bpfkit::attach::kprobe::syscall_function("getppid"),
        bpfkit::attach::kprobe::syscall_function("getpgid"),
    ];
    let link = prog.attach_kprobe_multi_symbols(&funcs, true).unwrap();
    let o = check(
        &link,
        json!({"type": "kprobe_multi", "retprobe": true, "func_cnt": 2}),
        "  \n\tkretprobe.multi  func_cnt 2  ",
    );
    // Aliases share an address (__x64_sys_getppid and __do_sys_getppid): bpftool names each
    // address by its first kallsyms line, so compare addresses.
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap();
    let addr_of = |name: &str| {
        kallsyms
            .lines()
            .find(|l| l.split_whitespace().nth(2) == Some(name))
            .and_then(|l| u64::from_str_radix(l.split_whitespace().next()?, 16).ok())
            .unwrap_or_else(|| panic!("{name} is not in /proc/kallsyms"))
    };
    let mut want: Vec<u64> = funcs.iter().map(|f| addr_of(f)).collect();
    want.sort_unstable();
    let got: Vec<u64> = o["funcs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f["module"], Value::Null, "{f}");
            assert_eq!(f["cookie"], 0, "{f}");
            let a = f["addr"].as_u64().unwrap();
            assert_eq!(addr_of(f["func"].as_str().unwrap()), a, "{f}");
            a
        })
        .collect();
    assert_eq!(got, want, "{o}");
    let plain = bpfkit(&["link", "show", "id", &link.id().unwrap().to_string()]);
    assert!(
        plain.contains("\n\taddr             cookie           func [module]"),
        "{plain}"
    );
}

#[test]
fn tracing_link_names_its_target() {
    require_feature!(Fentry);
    const FUNC: &str = "do_sys_openat2";
    let insns = ret(0);
    let spec = ProgramSpec::new("lt_fentry", ProgramType::Tracing, &insns)
        .for_tracing(bpfkit::attach::TracingKind::Fentry, FUNC)
        .unwrap();
    let prog = Program::load(&spec).unwrap();
    let link = prog.attach_tracing().unwrap();
    let vmlinux = bpfkit_btf::Btf::vmlinux().unwrap();
    let btf_id = vmlinux
        .find_by_name_kind(FUNC, bpfkit_btf::Kind::Func)
        .unwrap();
    let objs: Value = serde_json::from_str(&bpfkit(&["btf", "show", "-j"])).unwrap();
    let obj_id = objs
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "vmlinux")
        .and_then(|b| b["id"].as_u64())
        .expect("the vmlinux BTF object");
    check(
        &link,
        json!({"type": "tracing", "prog_type": "tracing", "attach_type": "trace_fentry",
               "target_obj_id": obj_id, "target_btf_id": btf_id}),
        &format!(
            "  \n\tprog_type tracing  attach_type trace_fentry  \n\ttarget_obj_id {obj_id}  \
             target_btf_id {btf_id}  \n"
        ),
    );
}
