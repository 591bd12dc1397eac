//! `bpfkit link`: bpftool's `link show|list [LINK]`, `link pin LINK FILE` and
//! `link detach LINK`, where `LINK := id N | pinned PATH`.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use bpfkit::LinkType;
use bpfkit_sys::link::LinkInfo as RawLinkInfo;
use bpfkit_sys::obj::{get_fd_by_id, get_next_id, ObjKind};

use crate::output::{self, fail, print_json, ObjClass, Owner, J};
use crate::target::{self, Args};
use crate::{CliError, Global};

const HELP: &str = "Usage: bpfkit link { show | list }   [LINK]
       bpfkit link pin        LINK  FILE
       bpfkit link detach     LINK
       bpfkit link help

       LINK := { id LINK_ID | pinned FILE }";

/// `bpfkit link …`.
pub fn run(g: &Global, words: Vec<String>) -> Result<(), CliError> {
    let mut args = Args::new(words);
    let verb = args.next().unwrap_or_else(|| "show".to_string());
    let is = |kw: &str| target::is_prefix(&verb, kw);
    if is("show") || is("list") {
        show(g, &mut args)
    } else if is("pin") {
        let fd = parse_link(&mut args)?;
        let path = args
            .next()
            .ok_or_else(|| fail("please specify the path to pin to"))?;
        args.finish()?;
        crate::prog::pin_fd(fd.as_fd(), &path)?;
        if g.json() {
            print_json(g, &J::Null);
        }
        Ok(())
    } else if is("detach") {
        let fd = parse_link(&mut args)?;
        args.finish()?;
        bpfkit_sys::link::link_detach(fd.as_fd())
            .map_err(|e| fail(format!("failed link detach: {}", target::sys_err(&e))))?;
        if g.json() {
            print_json(g, &J::Null);
        }
        Ok(())
    } else if is("help") {
        println!("{HELP}");
        Ok(())
    } else {
        Err(output::usage(format!(
            "unknown link command '{verb}'\n{HELP}"
        )))
    }
}

fn parse_link(args: &mut Args) -> Result<OwnedFd, CliError> {
    let kw = args
        .next()
        .ok_or_else(|| fail("expected 'id' or 'pinned', got: ''?"))?;
    if target::is_prefix(&kw, "id") {
        let id = target::parse_id(&args.value_of("id")?)?;
        return target::open_id(ObjKind::Link, id);
    }
    if target::is_prefix(&kw, "pinned") {
        let path = args.value_of("pinned")?;
        return target::open_pinned(&path, ObjKind::Link);
    }
    Err(fail(format!("expected 'id' or 'pinned', got: '{kw}'?")))
}

fn show(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let all = args.is_empty();
    let fds = if all {
        let mut v = Vec::new();
        let mut cur = 0;
        loop {
            match get_next_id(ObjKind::Link, cur) {
                Ok(Some(id)) => {
                    cur = id;
                    if let Ok(fd) = get_fd_by_id(ObjKind::Link, id) {
                        v.push(fd);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(fail(format!(
                        "can't get next link: {}",
                        target::sys_err(&e)
                    )))
                }
            }
        }
        v
    } else {
        let fd = parse_link(args)?;
        args.finish()?;
        vec![fd]
    };
    let pinned: BTreeMap<u32, Vec<PathBuf>> = if g.bpffs {
        output::pinned_paths(ObjClass::Link)
    } else {
        BTreeMap::new()
    };
    let owners = output::owners(ObjClass::Link);
    let mut items = Vec::new();
    let mut text = String::new();
    for fd in &fds {
        let (raw, name) = bpfkit_sys::link::link_info(fd.as_fd())
            .map_err(|e| fail(format!("can't get link info: {}", target::sys_err(&e))))?;
        let o = owners.get(&raw.id).map(Vec::as_slice).unwrap_or(&[]);
        let p = pinned.get(&raw.id).map(Vec::as_slice).unwrap_or(&[]);
        if g.json() {
            items.push(link_json(&raw, &name, p, o));
        } else {
            text.push_str(&link_text(&raw, &name, p, o));
        }
    }
    if g.json() {
        print_json(g, &output::list_or_one(items, !all));
    } else {
        crate::emit(&text)?;
    }
    Ok(())
}

fn attach_type_json(n: u32) -> J {
    match bpfkit::AttachType::from_u32(n) {
        Some(a) => J::s(a.name()),
        None => J::U(n.into()),
    }
}

fn attach_type_text(n: u32) -> String {
    match bpfkit::AttachType::from_u32(n) {
        Some(a) => format!("attach_type {}  ", a.name()),
        None => format!("attach_type {n}  "),
    }
}

fn prog_type_of(prog_id: u32) -> Option<u32> {
    let fd = get_fd_by_id(ObjKind::Prog, prog_id).ok()?;
    bpfkit_sys::prog::prog_info(fd.as_fd())
        .ok()
        .map(|i| i.prog_type)
}

fn prog_type_name(t: u32) -> String {
    bpfkit::ProgramType::from_u32(t)
        .map(|p| p.name().to_string())
        .unwrap_or_else(|| t.to_string())
}

fn link_json(raw: &RawLinkInfo, name: &str, pinned: &[PathBuf], owners: &[Owner]) -> J {
    let lt = LinkType::from_u32(raw.link_type);
    let mut o = J::obj();
    o.push("id", J::U(raw.id.into()));
    match lt {
        LinkType::Other(n) => o.push("type", J::U(n.into())),
        t => o.push("type", J::s(t.name())),
    };
    o.push("prog_id", J::U(raw.prog_id.into()));
    match lt {
        LinkType::RawTracepoint => {
            o.push("tp_name", J::s(name));
        }
        LinkType::Tracing => {
            if let Some(t) = prog_type_of(raw.prog_id) {
                o.push("prog_type", J::s(prog_type_name(t)));
            }
            o.push("attach_type", attach_type_json(raw.u32_at(0)));
        }
        LinkType::Cgroup => {
            o.push("cgroup_id", J::U(raw.u64_at(0)))
                .push("attach_type", attach_type_json(raw.u32_at(8)));
        }
        LinkType::Iter => {
            o.push("target_name", J::s(name));
        }
        LinkType::Netns => {
            o.push("netns_ino", J::U(raw.u32_at(0).into()))
                .push("attach_type", attach_type_json(raw.u32_at(4)));
        }
        LinkType::Xdp => {
            o.push("ifindex", J::U(raw.u32_at(0).into()));
        }
        _ => {}
    }
    if !pinned.is_empty() {
        o.push(
            "pinned",
            J::Arr(
                pinned
                    .iter()
                    .map(|p| J::s(p.display().to_string()))
                    .collect(),
            ),
        );
    }
    if !owners.is_empty() {
        o.push("pids", output::owners_json(owners));
    }
    o
}

fn link_text(raw: &RawLinkInfo, name: &str, pinned: &[PathBuf], owners: &[Owner]) -> String {
    let lt = LinkType::from_u32(raw.link_type);
    let mut s = format!("{}: ", raw.id);
    match lt {
        LinkType::Other(n) => s.push_str(&format!("type {n}  ")),
        t => s.push_str(&format!("{}  ", t.name())),
    }
    s.push_str(&format!("prog {}  ", raw.prog_id));
    match lt {
        LinkType::RawTracepoint => s.push_str(&format!("\n\ttp '{name}'  ")),
        LinkType::Tracing => {
            if let Some(t) = prog_type_of(raw.prog_id) {
                s.push_str(&format!("\n\tprog_type {}  ", prog_type_name(t)));
            }
            s.push_str(&attach_type_text(raw.u32_at(0)));
        }
        LinkType::Cgroup => {
            s.push_str(&format!("\n\tcgroup_id {}  ", raw.u64_at(0)));
            s.push_str(&attach_type_text(raw.u32_at(8)));
        }
        LinkType::Iter => s.push_str(&format!("\n\ttarget_name {name}  ")),
        LinkType::Netns => {
            s.push_str(&format!("\n\tnetns_ino {}  ", raw.u32_at(0)));
            s.push_str(&attach_type_text(raw.u32_at(4)));
        }
        LinkType::Xdp => s.push_str(&format!("\n\tifindex {}  ", raw.u32_at(0))),
        _ => {}
    }
    for p in pinned {
        s.push_str(&format!("\n\tpinned {}", p.display()));
    }
    if !owners.is_empty() {
        s.push('\n');
        s.push_str(&output::owners_text(owners));
    }
    s.push('\n');
    s
}
