//! The per-type part of `link show`: the fields current bpftool (7.x) prints for each
//! `bpf_link_info` union member, as JSON fields and as the indented text lines.
//!
//! Offsets are those of the uapi `struct bpf_link_info` union (see `bpfkit_sys::link`).

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::os::fd::AsFd;

use bpfkit::LinkType;
use bpfkit_sys::link::{LinkDetail, F_KPROBE_MULTI_RETURN, F_UPROBE_MULTI_RETURN};
use bpfkit_sys::obj::{get_fd_by_id, ObjKind};

use crate::output::J;

/// Lookups shared by every link of one `link show`, made at most once.
#[derive(Default)]
pub struct Names {
    ifaces: OnceCell<BTreeMap<u32, String>>,
    ksyms: OnceCell<BTreeMap<u64, (String, String)>>,
}

impl Names {
    fn iface(&self, ifindex: u32) -> Option<&str> {
        self.ifaces
            .get_or_init(|| {
                bpfkit::netlink::Interface::all()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|i| (i.index, i.name))
                    .collect()
            })
            .get(&ifindex)
            .map(String::as_str)
    }

    /// Kernel symbol at exactly `addr`: (name, module or "").
    fn ksym(&self, addr: u64) -> Option<&(String, String)> {
        self.ksyms
            .get_or_init(|| {
                let text = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
                let mut m = BTreeMap::new();
                for line in text.lines() {
                    let mut it = line.split_whitespace();
                    let (Some(a), Some(_), Some(name)) = (it.next(), it.next(), it.next()) else {
                        continue;
                    };
                    let Ok(a) = u64::from_str_radix(a, 16) else {
                        continue;
                    };
                    let module = it
                        .next()
                        .map(|m| m.trim_start_matches('[').trim_end_matches(']'))
                        .unwrap_or("");
                    m.entry(a)
                        .or_insert_with(|| (name.to_string(), module.to_string()));
                }
                m
            })
            .get(&addr)
    }
}

fn attach_type_name(n: u32) -> Option<&'static str> {
    bpfkit::AttachType::from_u32(n).map(|a| a.name())
}

fn attach_type_json(o: &mut J, n: u32) {
    match attach_type_name(n) {
        Some(a) => o.push("attach_type", J::s(a)),
        None => o.push("attach_type", J::U(n.into())),
    };
}

fn attach_type_text(n: u32) -> String {
    match attach_type_name(n) {
        Some(a) => format!("attach_type {a}  "),
        None => format!("attach_type {n}  "),
    }
}

fn prog_type_of(prog_id: u32) -> Option<u32> {
    let fd = get_fd_by_id(ObjKind::Prog, prog_id).ok()?;
    bpfkit_sys::prog::prog_info(fd.as_fd())
        .ok()
        .map(|i| i.prog_type)
}

fn prog_type_json(t: u32) -> J {
    match bpfkit::ProgramType::from_u32(t) {
        Some(p) => J::s(p.name()),
        None => J::U(t.into()),
    }
}

fn prog_type_text(t: u32) -> String {
    bpfkit::ProgramType::from_u32(t)
        .map(|p| p.name().to_string())
        .unwrap_or_else(|| t.to_string())
}

/// bpftool's device name for an ifindex: the name, `(unknown)`, or `(detached)` for 0.
fn devname(names: &Names, ifindex: u32) -> String {
    if ifindex == 0 {
        return "(detached)".to_string();
    }
    names
        .iface(ifindex)
        .map(str::to_string)
        .unwrap_or_else(|| "(unknown)".to_string())
}

fn ifindex_json(o: &mut J, names: &Names, ifindex: u32) {
    o.push("devname", J::s(devname(names, ifindex)))
        .push("ifindex", J::U(ifindex.into()));
}

fn ifindex_text(names: &Names, ifindex: u32) -> String {
    match (ifindex, names.iface(ifindex)) {
        (0, _) => "ifindex (detached)  ".to_string(),
        (_, Some(n)) => format!("ifindex {n}({ifindex})  "),
        (_, None) => "ifindex (unknown)  ".to_string(),
    }
}

/// C's `%#x`: `0` for zero, `0x…` otherwise.
fn alt_hex(v: u32) -> String {
    if v == 0 {
        "0".to_string()
    } else {
        format!("{v:#x}")
    }
}

fn iter_is_map(t: &str) -> bool {
    t == "bpf_map_elem" || t == "bpf_sk_storage_map"
}

fn iter_is_task(t: &str) -> bool {
    matches!(t, "task" | "task_file" | "task_vma")
}

fn cgroup_order(o: u32) -> &'static str {
    match o {
        0 => "order_unspec",
        1 => "self_only",
        2 => "descendants_pre",
        3 => "descendants_post",
        4 => "ancestors_up",
        _ => "unknown",
    }
}

/// `enum bpf_perf_event_type`.
mod pe {
    pub const UPROBE: u32 = 1;
    pub const URETPROBE: u32 = 2;
    pub const KPROBE: u32 = 3;
    pub const KRETPROBE: u32 = 4;
    pub const TRACEPOINT: u32 = 5;
    pub const EVENT: u32 = 6;
}

/// perf's names for `perf_event_attr.type`.
fn perf_type_name(t: u32) -> Option<&'static str> {
    const NAMES: [&str; 6] = [
        "hardware",
        "software",
        "tracepoint",
        "hw-cache",
        "raw",
        "breakpoint",
    ];
    NAMES.get(t as usize).copied()
}

/// perf's names for `config` of the hardware, software and hw-cache types.
fn perf_config_name(t: u32, config: u64) -> Option<String> {
    const HW: [&str; 10] = [
        "cpu-cycles",
        "instructions",
        "cache-references",
        "cache-misses",
        "branch-instructions",
        "branch-misses",
        "bus-cycles",
        "stalled-cycles-frontend",
        "stalled-cycles-backend",
        "ref-cycles",
    ];
    const SW: [&str; 12] = [
        "cpu-clock",
        "task-clock",
        "page-faults",
        "context-switches",
        "cpu-migrations",
        "minor-faults",
        "major-faults",
        "alignment-faults",
        "emulation-faults",
        "dummy",
        "bpf-output",
        "cgroup-switches",
    ];
    const CACHE: [&str; 7] = [
        "L1-dcache",
        "L1-icache",
        "LLC",
        "dTLB",
        "iTLB",
        "branch",
        "node",
    ];
    const OP: [&str; 3] = ["load", "store", "prefetch"];
    const RESULT: [&str; 2] = ["refs", "misses"];
    let pick = |table: &[&str], i: u64| -> Option<String> {
        usize::try_from(i)
            .ok()
            .and_then(|i| table.get(i))
            .map(|s| s.to_string())
    };
    match t {
        0 => pick(&HW, config),
        1 => pick(&SW, config),
        3 => {
            let part = |table: &[&str], i: u64| pick(table, i).unwrap_or_else(|| i.to_string());
            Some(format!(
                "{}-{}-{}",
                part(&CACHE, config & 0xff),
                part(&OP, (config >> 8) & 0xff),
                part(&RESULT, config >> 16)
            ))
        }
        _ => None,
    }
}

/// Netfilter family and hook names as `nft` spells them.
fn netfilter_names(pf: u32, hook: u32) -> (Option<&'static str>, Option<&'static str>) {
    let pfname = match pf {
        1 => Some("inet"),
        2 => Some("ip"),
        3 => Some("arp"),
        5 => Some("netdev"),
        7 => Some("bridge"),
        10 => Some("ip6"),
        _ => None,
    };
    const INET: [&str; 5] = ["prerouting", "input", "forward", "output", "postrouting"];
    const ARP: [&str; 2] = ["input", "output"];
    let hookname = match pf {
        1 | 2 | 7 | 10 => INET.get(hook as usize).copied(),
        3 => ARP.get(hook as usize).copied(),
        _ => None,
    };
    (pfname, hookname)
}

/// kprobe_multi addresses with their cookies, by address, each with its kernel symbol.
fn kprobe_multi_funcs<'a>(
    d: &LinkDetail,
    names: &'a Names,
) -> Vec<(u64, u64, &'a (String, String))> {
    let mut pairs: Vec<(u64, u64)> = d
        .addrs
        .iter()
        .enumerate()
        .map(|(i, a)| (*a, d.cookies.get(i).copied().unwrap_or(0)))
        .collect();
    pairs.sort_unstable();
    pairs
        .into_iter()
        .filter_map(|(a, c)| names.ksym(a).map(|s| (a, c, s)))
        .collect()
}

/// The `prog_id` header field in text: struct_ops links name their map instead.
pub fn header_text(d: &LinkDetail) -> String {
    if LinkType::from_u32(d.info.link_type) == LinkType::StructOps {
        format!("map {}  ", d.info.u32_at(0))
    } else {
        format!("prog {}  ", d.info.prog_id)
    }
}

/// Appends the per-type JSON fields of link `d` to `o`.
pub fn json_fields(o: &mut J, d: &LinkDetail, names: &Names) {
    let i = &d.info;
    let name = d.name.as_str();
    match LinkType::from_u32(i.link_type) {
        LinkType::RawTracepoint => {
            o.push("tp_name", J::s(name));
        }
        LinkType::Tracing => {
            if let Some(t) = prog_type_of(i.prog_id) {
                o.push("prog_type", prog_type_json(t));
            }
            attach_type_json(o, i.u32_at(0));
            o.push("target_obj_id", J::U(i.u32_at(4).into()))
                .push("target_btf_id", J::U(i.u32_at(8).into()));
        }
        LinkType::Cgroup => {
            o.push("cgroup_id", J::U(i.u64_at(0)));
            attach_type_json(o, i.u32_at(8));
        }
        LinkType::Iter => {
            o.push("target_name", J::s(name));
            if iter_is_map(name) {
                o.push("map_id", J::U(i.u32_at(12).into()));
            } else if iter_is_task(name) {
                if i.u32_at(16) != 0 {
                    o.push("tid", J::U(i.u32_at(16).into()));
                } else if i.u32_at(20) != 0 {
                    o.push("pid", J::U(i.u32_at(20).into()));
                }
            }
            if name == "cgroup" {
                o.push("cgroup_id", J::U(i.u64_at(16)))
                    .push("order", J::s(cgroup_order(i.u32_at(24))));
            }
        }
        LinkType::Netns => {
            o.push("netns_ino", J::U(i.u32_at(0).into()));
            attach_type_json(o, i.u32_at(4));
        }
        LinkType::Netfilter => {
            o.push("pf", J::U(i.u32_at(0).into()))
                .push("hook", J::U(i.u32_at(4).into()))
                .push("prio", J::I((i.u32_at(8) as i32).into()))
                .push("flags", J::U(i.u32_at(12).into()));
        }
        LinkType::Tcx | LinkType::Netkit => {
            ifindex_json(o, names, i.u32_at(0));
            attach_type_json(o, i.u32_at(4));
        }
        LinkType::Xdp => ifindex_json(o, names, i.u32_at(0)),
        LinkType::StructOps => {
            o.push("map_id", J::U(i.u32_at(0).into()));
        }
        LinkType::Sockmap => {
            o.push("map_id", J::U(i.u32_at(0).into()));
            attach_type_json(o, i.u32_at(4));
        }
        LinkType::KprobeMulti => {
            o.push(
                "retprobe",
                J::Bool(i.u32_at(12) & F_KPROBE_MULTI_RETURN != 0),
            )
            .push("func_cnt", J::U(i.u32_at(8).into()))
            .push("missed", J::U(i.u64_at(16)));
            let funcs = kprobe_multi_funcs(d, names)
                .into_iter()
                .map(|(a, c, (f, m))| {
                    let mut e = J::obj();
                    e.push("addr", J::U(a)).push("func", J::s(f.as_str()));
                    e.push(
                        "module",
                        if m.is_empty() {
                            J::Null
                        } else {
                            J::s(m.as_str())
                        },
                    );
                    e.push("cookie", J::U(c));
                    e
                })
                .collect();
            o.push("funcs", J::Arr(funcs));
        }
        LinkType::UprobeMulti => {
            o.push(
                "retprobe",
                J::Bool(i.u32_at(40) & F_UPROBE_MULTI_RETURN != 0),
            )
            .push("path", J::s(name))
            .push("func_cnt", J::U(i.u32_at(36).into()))
            .push("pid", J::I((i.u32_at(44) as i32).into()));
            let funcs = (0..d.offsets.len())
                .map(|k| {
                    let at = |v: &[u64]| J::U(v.get(k).copied().unwrap_or(0));
                    let mut e = J::obj();
                    e.push("offset", at(&d.offsets))
                        .push("ref_ctr_offset", at(&d.ref_ctr_offsets))
                        .push("cookie", at(&d.cookies));
                    e
                })
                .collect();
            o.push("funcs", J::Arr(funcs));
        }
        LinkType::PerfEvent => perf_event_json(o, d),
        LinkType::Other(_) => {}
    }
}

fn perf_event_json(o: &mut J, d: &LinkDetail) {
    let i = &d.info;
    let name = d.name.as_str();
    match i.u32_at(0) {
        pe::EVENT => {
            let (config, t) = (i.u64_at(8), i.u32_at(16));
            match perf_type_name(t) {
                Some(n) => o.push("event_type", J::s(n)),
                None => o.push("event_type", J::U(t.into())),
            };
            match perf_config_name(t, config) {
                Some(n) => o.push("event_config", J::s(n)),
                None => o.push("event_config", J::U(config)),
            };
            o.push("cookie", J::U(i.u64_at(24)));
        }
        pe::TRACEPOINT => {
            o.push("tracepoint", J::s(name))
                .push("cookie", J::U(i.u64_at(24)));
        }
        t @ (pe::KPROBE | pe::KRETPROBE) => {
            o.push("retprobe", J::Bool(t == pe::KRETPROBE))
                .push("addr", J::U(i.u64_at(24)))
                .push("func", J::s(name))
                .push("offset", J::U(i.u32_at(20).into()))
                .push("missed", J::U(i.u64_at(32)))
                .push("cookie", J::U(i.u64_at(40)));
        }
        t @ (pe::UPROBE | pe::URETPROBE) => {
            o.push("retprobe", J::Bool(t == pe::URETPROBE))
                .push("file", J::s(name))
                .push("offset", J::U(i.u32_at(20).into()))
                .push("cookie", J::U(i.u64_at(24)));
        }
        _ => {}
    }
}

/// The per-type text of link `d`: what follows the header, before pinned paths and pids.
pub fn text_fields(d: &LinkDetail, names: &Names) -> String {
    let i = &d.info;
    let name = d.name.as_str();
    let mut s = String::new();
    match LinkType::from_u32(i.link_type) {
        LinkType::RawTracepoint => s.push_str(&format!("\n\ttp '{name}'  ")),
        LinkType::Tracing => {
            if let Some(t) = prog_type_of(i.prog_id) {
                s.push_str(&format!("\n\tprog_type {}  ", prog_type_text(t)));
            }
            s.push_str(&attach_type_text(i.u32_at(0)));
            let (obj, btf) = (i.u32_at(4), i.u32_at(8));
            if obj != 0 || btf != 0 {
                s.push_str(&format!("\n\ttarget_obj_id {obj}  target_btf_id {btf}  "));
            }
        }
        LinkType::Cgroup => {
            s.push_str(&format!("\n\tcgroup_id {}  ", i.u64_at(0)));
            s.push_str(&attach_type_text(i.u32_at(8)));
        }
        LinkType::Iter => {
            s.push_str(&format!("target_name {name}  "));
            if iter_is_map(name) {
                s.push_str(&format!("map_id {}  ", i.u32_at(12)));
            } else if iter_is_task(name) {
                if i.u32_at(16) != 0 {
                    s.push_str(&format!("tid {} ", i.u32_at(16)));
                } else if i.u32_at(20) != 0 {
                    s.push_str(&format!("pid {} ", i.u32_at(20)));
                }
            }
            if name == "cgroup" {
                s.push_str(&format!(
                    "cgroup_id {}  order {}  ",
                    i.u64_at(16),
                    cgroup_order(i.u32_at(24))
                ));
            }
        }
        LinkType::Netns => {
            s.push_str(&format!("\n\tnetns_ino {}  ", i.u32_at(0)));
            s.push_str(&attach_type_text(i.u32_at(4)));
        }
        LinkType::Netfilter => {
            let (pf, hook) = (i.u32_at(0), i.u32_at(4));
            let (pfname, hookname) = netfilter_names(pf, hook);
            match pfname {
                Some(p) => s.push_str(&format!("\n\t{p}")),
                None => s.push_str(&format!("\n\tpf: {pf}")),
            }
            match hookname {
                Some(h) => s.push_str(&format!(" {h}")),
                None => s.push_str(&format!(", hook {hook},")),
            }
            s.push_str(&format!(" prio {}", i.u32_at(8) as i32));
            if i.u32_at(12) != 0 {
                s.push_str(&format!(" flags {:#x}", i.u32_at(12)));
            }
        }
        LinkType::Tcx | LinkType::Netkit => {
            s.push_str("\n\t");
            s.push_str(&ifindex_text(names, i.u32_at(0)));
            s.push_str(&attach_type_text(i.u32_at(4)));
        }
        LinkType::Xdp => {
            s.push_str("\n\t");
            s.push_str(&ifindex_text(names, i.u32_at(0)));
        }
        LinkType::Sockmap => {
            s.push_str(&format!("\n\tmap_id {}  ", i.u32_at(0)));
            s.push_str(&attach_type_text(i.u32_at(4)));
        }
        LinkType::StructOps => {}
        LinkType::KprobeMulti => {
            let count = i.u32_at(8);
            if count == 0 {
                return s;
            }
            if i.u32_at(12) & F_KPROBE_MULTI_RETURN != 0 {
                s.push_str("\n\tkretprobe.multi  ");
            } else {
                s.push_str("\n\tkprobe.multi  ");
            }
            s.push_str(&format!("func_cnt {count}  "));
            if i.u64_at(16) != 0 {
                s.push_str(&format!("missed {}  ", i.u64_at(16)));
            }
            let funcs = kprobe_multi_funcs(d, names);
            if !funcs.is_empty() {
                s.push_str(&format!(
                    "\n\t{:<16} {:<16} func [module]",
                    "addr", "cookie"
                ));
            }
            for (a, c, (f, m)) in funcs {
                s.push_str(&format!("\n\t{a:016x} {c:<16x} {f}"));
                if m.is_empty() {
                    s.push_str("  ");
                } else {
                    s.push_str(&format!(" [{m}]  "));
                }
            }
        }
        LinkType::UprobeMulti => {
            let count = i.u32_at(36);
            if count == 0 {
                return s;
            }
            if i.u32_at(40) & F_UPROBE_MULTI_RETURN != 0 {
                s.push_str("\n\turetprobe.multi  ");
            } else {
                s.push_str("\n\tuprobe.multi  ");
            }
            s.push_str(&format!("path {name}  func_cnt {count}  "));
            if i.u32_at(44) != 0 {
                s.push_str(&format!("pid {}  ", i.u32_at(44) as i32));
            }
            s.push_str(&format!(
                "\n\t{:<16}   {:<16}   {:<16}",
                "offset", "ref_ctr_offset", "cookies"
            ));
            for k in 0..d.offsets.len() {
                let at = |v: &[u64]| v.get(k).copied().unwrap_or(0);
                s.push_str(&format!(
                    "\n\t0x{:<16x} 0x{:<16x} 0x{:<16x}",
                    at(&d.offsets),
                    at(&d.ref_ctr_offsets),
                    at(&d.cookies)
                ));
            }
        }
        LinkType::PerfEvent => perf_event_text(&mut s, d),
        LinkType::Other(_) => {}
    }
    s
}

fn perf_event_text(s: &mut String, d: &LinkDetail) {
    let i = &d.info;
    let name = d.name.as_str();
    match i.u32_at(0) {
        pe::EVENT => {
            let (config, t) = (i.u64_at(8), i.u32_at(16));
            match perf_type_name(t) {
                Some(n) => s.push_str(&format!("\n\tevent {n}:")),
                None => s.push_str(&format!("\n\tevent {t} :")),
            }
            match perf_config_name(t, config) {
                Some(n) => s.push_str(&format!("{n}  ")),
                None => s.push_str(&format!("{config}  ")),
            }
            if i.u64_at(24) != 0 {
                s.push_str(&format!("cookie {}  ", i.u64_at(24)));
            }
        }
        pe::TRACEPOINT => {
            if name.is_empty() {
                return;
            }
            s.push_str(&format!("\n\ttracepoint {name}  "));
            if i.u64_at(24) != 0 {
                s.push_str(&format!("cookie {}  ", i.u64_at(24)));
            }
        }
        t @ (pe::KPROBE | pe::KRETPROBE) => {
            let addr = i.u64_at(24);
            if name.is_empty() && addr == 0 {
                return;
            }
            s.push_str(if t == pe::KRETPROBE {
                "\n\tkretprobe "
            } else {
                "\n\tkprobe "
            });
            if addr != 0 {
                s.push_str(&format!("{addr:x} "));
            }
            s.push_str(name);
            if i.u32_at(20) != 0 {
                s.push_str(&format!("+{:#x}", i.u32_at(20)));
            }
            if i.u64_at(32) != 0 {
                s.push_str(&format!("  missed {}", i.u64_at(32)));
            }
            if i.u64_at(40) != 0 {
                s.push_str(&format!("  cookie {}", i.u64_at(40)));
            }
            s.push_str("  ");
        }
        t @ (pe::UPROBE | pe::URETPROBE) => {
            if name.is_empty() {
                return;
            }
            s.push_str(if t == pe::URETPROBE {
                "\n\turetprobe "
            } else {
                "\n\tuprobe "
            });
            s.push_str(&format!("{name}+{}  ", alt_hex(i.u32_at(20))));
            if i.u64_at(24) != 0 {
                s.push_str(&format!("cookie {}  ", i.u64_at(24)));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perf_names() {
        assert_eq!(perf_config_name(1, 0).as_deref(), Some("cpu-clock"));
        assert_eq!(
            perf_config_name(3, 0x10002).as_deref(),
            Some("LLC-load-misses")
        );
        assert_eq!(perf_config_name(3, 0x0909).as_deref(), Some("9-9-refs"));
        assert_eq!(perf_config_name(4, 7), None);
        assert_eq!(perf_type_name(6), None);
    }

    #[test]
    fn netfilter_and_hex() {
        assert_eq!(netfilter_names(2, 1), (Some("ip"), Some("input")));
        assert_eq!(netfilter_names(3, 2), (Some("arp"), None));
        assert_eq!(netfilter_names(5, 0), (Some("netdev"), None));
        assert_eq!(alt_hex(0), "0");
        assert_eq!(alt_hex(0x1a), "0x1a");
    }
}
