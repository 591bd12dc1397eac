//! `bpfkit link`: bpftool's `link show|list [LINK]`, `link pin LINK FILE` and
//! `link detach LINK`, where `LINK := id N | pinned PATH`.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use bpfkit::LinkType;
use bpfkit_sys::link::LinkDetail;
use bpfkit_sys::obj::{get_fd_by_id, get_next_id, ObjKind};

use crate::link_fmt::{self, Names};
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
    let names = Names::default();
    let mut items = Vec::new();
    let mut text = String::new();
    for fd in &fds {
        let d = bpfkit_sys::link::link_detail(fd.as_fd())
            .map_err(|e| fail(format!("can't get link info: {}", target::sys_err(&e))))?;
        let o = owners.get(&d.info.id).map(Vec::as_slice).unwrap_or(&[]);
        let p = pinned.get(&d.info.id).map(Vec::as_slice).unwrap_or(&[]);
        if g.json() {
            items.push(link_json(&d, &names, p, o));
        } else {
            text.push_str(&link_text(&d, &names, p, o));
        }
    }
    if g.json() {
        print_json(g, &output::list_or_one(items, !all));
    } else {
        crate::emit(&text)?;
    }
    Ok(())
}

fn link_json(d: &LinkDetail, names: &Names, pinned: &[PathBuf], owners: &[Owner]) -> J {
    let lt = LinkType::from_u32(d.info.link_type);
    let mut o = J::obj();
    o.push("id", J::U(d.info.id.into()));
    match lt {
        LinkType::Other(n) => o.push("type", J::U(n.into())),
        t => o.push("type", J::s(t.name())),
    };
    o.push("prog_id", J::U(d.info.prog_id.into()));
    link_fmt::json_fields(&mut o, d, names);
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

fn link_text(d: &LinkDetail, names: &Names, pinned: &[PathBuf], owners: &[Owner]) -> String {
    let lt = LinkType::from_u32(d.info.link_type);
    let mut s = format!("{}: ", d.info.id);
    match lt {
        LinkType::Other(n) => s.push_str(&format!("type {n}  ")),
        t => s.push_str(&format!("{}  ", t.name())),
    }
    s.push_str(&link_fmt::header_text(d));
    s.push_str(&link_fmt::text_fields(d, names));
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
