//! `bpfkit net`: attach, detach and show XDP and TC programs of network devices, in bpftool's
//! syntax and layout, plus the classic clsact path (`tc_ingress`/`tc_egress`) and
//! `PROG := object FILE [sec NAME]`.
//!
//! What keeps a CLI attachment alive after the command exits: XDP and classic TC go through
//! netlink, where the kernel holds the program until detached; tcx attachments are bpf_links,
//! which the CLI pins under [`PIN_DIR`] (the path is printed) and `net detach` unpins.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use bpfkit::netlink::Interface;
use bpfkit::tc::{self, Direction, FilterId, TcxOptions};
use bpfkit::xdp::{self, NetlinkAttach, XdpMode};
use bpfkit::{Link, LinkType, Program};
use bpfkit_sys::obj::ObjKind;

use crate::output::{fail, print_json, J};
use crate::target::{self, Args};
use crate::{CliError, Global};

/// Where `net attach tcx_*` pins its links.
pub const PIN_DIR: &str = "/sys/fs/bpf/bpfkit/net";

/// The priority and handle `net attach tc_*` gives its cls_bpf filter.
const CLI_FILTER: FilterId = FilterId {
    priority: 1,
    handle: 1,
};

const HELP: &str = "Usage: bpfkit net { show | list } [dev <devname>]
       bpfkit net attach ATTACH_TYPE PROG dev <devname> [ overwrite ]
       bpfkit net detach ATTACH_TYPE dev <devname>
       bpfkit net help

       PROG := { id PROG_ID | pinned FILE | tag PROG_TAG | name PROG_NAME |
                 object FILE [sec SECTION] }
       ATTACH_TYPE := { xdp | xdpgeneric | xdpdrv | xdpoffload | tcx_ingress
                        | tcx_egress | tc_ingress | tc_egress }
       OPTIONS := { {-j|--json} [{-p|--pretty}] | {-d|--debug} }

Note: xdp and tc_* attachments are held by the kernel (netlink); tcx links are
      pinned under /sys/fs/bpf/bpfkit/net until `net detach`.";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NetAttach {
    Xdp(Option<XdpMode>),
    Tcx(Direction),
    Tc(Direction),
}

impl NetAttach {
    fn parse(s: &str) -> Option<NetAttach> {
        Some(match s {
            "xdp" => NetAttach::Xdp(None),
            "xdpgeneric" => NetAttach::Xdp(Some(XdpMode::Generic)),
            "xdpdrv" => NetAttach::Xdp(Some(XdpMode::Driver)),
            "xdpoffload" => NetAttach::Xdp(Some(XdpMode::Offload)),
            "tcx_ingress" => NetAttach::Tcx(Direction::Ingress),
            "tcx_egress" => NetAttach::Tcx(Direction::Egress),
            "tc_ingress" => NetAttach::Tc(Direction::Ingress),
            "tc_egress" => NetAttach::Tc(Direction::Egress),
            _ => return None,
        })
    }
}

/// Runs `bpfkit net …`.
pub fn run(g: &Global, words: Vec<String>) -> Result<(), CliError> {
    let mut args = Args::new(words);
    let verb = args.next().unwrap_or_else(|| "show".to_string());
    let is = |kw: &str| target::is_prefix(&verb, kw);
    if is("show") || is("list") {
        show(g, &mut args)
    } else if is("attach") {
        attach(g, &mut args)
    } else if is("detach") {
        detach(g, &mut args)
    } else if is("help") {
        println!("{HELP}");
        Ok(())
    } else {
        Err(fail(format!(
            "unknown command '{verb}' (try `bpfkit net help`)"
        )))
    }
}

fn lib(e: bpfkit::Error) -> CliError {
    fail(e.to_string())
}

/// Reads `PROG`, including bpfkit's `object FILE [sec NAME]`, into one program.
pub fn parse_prog(args: &mut Args) -> Result<Program, CliError> {
    if args.peek() == Some("object") {
        args.next();
        let file = args.value_of("object")?;
        let sec = if args.eat("sec") {
            Some(args.value_of("sec")?)
        } else {
            None
        };
        return load_from_object(&file, sec.as_deref());
    }
    let fd: OwnedFd = target::parse_one_prog(args)?;
    Program::from_fd(fd).map_err(lib)
}

fn load_from_object(file: &str, sec: Option<&str>) -> Result<Program, CliError> {
    let obj = bpfkit::ObjectBuilder::open_file(file)
        .and_then(|b| b.load())
        .map_err(|e| fail(format!("loading {file}: {e}")))?;
    let chosen = match sec {
        Some(s) => obj
            .programs()
            .iter()
            .find(|p| p.section == s)
            .or_else(|| obj.programs().iter().find(|p| p.name == s)),
        None => obj.programs().first(),
    }
    .ok_or_else(|| match sec {
        Some(s) => fail(format!("{file} has no program in section `{s}`")),
        None => fail(format!("{file} has no programs")),
    })?;
    // The program outlives the object: its maps stay alive through the program.
    let fd = chosen
        .program
        .fd()
        .try_clone_to_owned()
        .map_err(|e| fail(format!("dup of a program fd: {e}")))?;
    Program::from_fd(fd).map_err(lib)
}

fn parse_dev(args: &mut Args) -> Result<Interface, CliError> {
    match args.next() {
        Some(w) if target::is_prefix(&w, "dev") => {
            let name = args.value_of("dev")?;
            Interface::by_name(&name).map_err(lib)
        }
        Some(w) => Err(fail(format!("expected 'dev', got: '{w}'?"))),
        None => Err(fail("expected 'dev', got: ''?")),
    }
}

fn parse_type(args: &mut Args) -> Result<(String, NetAttach), CliError> {
    let word = args
        .next()
        .ok_or_else(|| fail("expected an attach type (xdp, xdpgeneric, xdpdrv, xdpoffload, tcx_ingress, tcx_egress, tc_ingress, tc_egress)"))?;
    let t = NetAttach::parse(&word)
        .ok_or_else(|| fail(format!("invalid net attach/detach type: {word}")))?;
    Ok((word, t))
}

fn pin_name(dev: &Interface, dir: Direction, link_id: u32) -> PathBuf {
    let safe: String = dev
        .name
        .chars()
        .map(|c| if c == '.' { '_' } else { c })
        .collect();
    Path::new(PIN_DIR).join(format!("{safe}_tcx_{}_{link_id}", dir.name()))
}

fn attach(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let (word, kind) = parse_type(args)?;
    let prog = parse_prog(args)?;
    let dev = parse_dev(args)?;
    let overwrite = match args.next() {
        None => false,
        Some(w) if target::is_prefix(&w, "overwrite") => true,
        Some(w) => return Err(fail(format!("expected 'overwrite', got: '{w}'?"))),
    };
    args.finish()?;
    let failed = |e: bpfkit::Error| {
        fail(format!(
            "interface {word} attach failed on {}: {e}",
            dev.name
        ))
    };
    match kind {
        NetAttach::Xdp(mode) => {
            xdp::attach_netlink(
                &prog,
                dev.index,
                &NetlinkAttach {
                    mode,
                    if_noexist: !overwrite,
                    expected: None,
                },
            )
            .map_err(failed)?;
            if g.json() {
                print_json(g, &J::Null);
            }
        }
        NetAttach::Tc(dir) => {
            let existing = tc::list_filters(dev.index, dir).map_err(failed)?;
            let at_place = existing.iter().any(|f| f.id == CLI_FILTER);
            if !overwrite && !existing.is_empty() {
                return Err(fail(format!(
                    "interface {word} attach failed on {}: a tc {} filter is already attached (id {}); add `overwrite` to replace it",
                    dev.name,
                    dir.name(),
                    existing.first().map_or(0, |f| f.prog_id)
                )));
            }
            tc::attach_filter(&prog, dev.index, dir, CLI_FILTER, at_place).map_err(failed)?;
            if g.json() {
                print_json(g, &J::Null);
            }
        }
        NetAttach::Tcx(dir) => {
            if overwrite {
                return Err(fail(format!(
                    "interface {word} attach failed on {}: tcx runs several programs in order; `overwrite` does not apply (detach first)",
                    dev.name
                )));
            }
            let link =
                tc::attach_tcx(&prog, dev.index, dir, &TcxOptions::default()).map_err(failed)?;
            let id = link.id().map_err(lib)?;
            bpfkit::create_pin_dir(PIN_DIR).map_err(lib)?;
            let path = pin_name(&dev, dir, id);
            link.pin(&path).map_err(lib)?;
            if g.json() {
                let mut o = J::obj();
                o.push("link_id", J::U(id as u64));
                o.push("pinned", J::s(path.display().to_string()));
                print_json(g, &o);
            } else {
                println!("tcx link {id} pinned at {}", path.display());
            }
        }
    }
    Ok(())
}

/// The tcx links pinned by `net attach` for this device and direction.
fn pinned_tcx(dev: &Interface, dir: Direction) -> Vec<(PathBuf, Link, bool)> {
    let Ok(rd) = std::fs::read_dir(PIN_DIR) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let path = e.path();
        let Ok(link) = Link::from_pin(&path) else {
            continue;
        };
        let Ok(info) = link.info() else { continue };
        // tcx link info: ifindex at offset 0, attach type at 4. A link detached elsewhere
        // (`bpfkit link detach`) reports neither any more: its stale pin goes too.
        let ours =
            info.raw.u32_at(0) == dev.index && info.attach_type == Some(dir.tcx_attach_type());
        let stale = info.prog_id == 0 || info.raw.u32_at(0) == 0;
        if info.link_type == LinkType::Tcx && (ours || stale) {
            out.push((path, link, ours));
        }
    }
    out
}

fn detach(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let (word, kind) = parse_type(args)?;
    let dev = parse_dev(args)?;
    args.finish()?;
    let failed = |e: bpfkit::Error| {
        fail(format!(
            "interface {word} detach failed on {}: {e}",
            dev.name
        ))
    };
    match kind {
        NetAttach::Xdp(mode) => {
            let q = xdp::query(dev.index).map_err(failed)?;
            let attached = match mode {
                Some(m) => q.attached().iter().any(|&(am, _)| am == m),
                None => !q.attached().is_empty(),
            };
            if !attached {
                return Err(fail(format!(
                    "interface {word} detach failed on {}: no XDP program is attached{}",
                    dev.name,
                    mode.map_or(String::new(), |m| format!(" in {} mode", m.name()))
                )));
            }
            xdp::detach_netlink(dev.index, mode, None).map_err(failed)?;
        }
        NetAttach::Tc(dir) => {
            let filters = tc::list_filters(dev.index, dir).map_err(failed)?;
            let ours: Vec<_> = filters.iter().filter(|f| f.kind == "bpf").collect();
            if ours.is_empty() {
                return Err(fail(format!(
                    "interface {word} detach failed on {}: no tc {} bpf filter is attached",
                    dev.name,
                    dir.name()
                )));
            }
            for f in ours {
                tc::detach_filter(dev.index, dir, f.id).map_err(failed)?;
            }
        }
        NetAttach::Tcx(dir) => {
            let pinned = pinned_tcx(&dev, dir);
            if !pinned.iter().any(|(_, _, ours)| *ours) {
                // Programs attached without a link (e.g. by bpftool) are detached by id.
                let q = tc::query_tcx(dev.index, dir).map_err(failed)?;
                let plain: Vec<u32> = q
                    .prog_ids
                    .iter()
                    .zip(&q.link_ids)
                    .filter(|(_, &l)| l == 0)
                    .map(|(&p, _)| p)
                    .collect();
                if plain.is_empty() {
                    return Err(fail(format!(
                        "interface {word} detach failed on {}: no tcx {} program attached by bpfkit net attach or without a link{}",
                        dev.name,
                        dir.name(),
                        if q.prog_ids.is_empty() { String::new() } else { " (detach links with `bpfkit link detach`)".into() }
                    )));
                }
                for id in plain {
                    let fd = target::open_id(ObjKind::Prog, id)?;
                    bpfkit_sys::prog::prog_detach(&bpfkit_sys::prog::ProgAttach {
                        target: dev.index,
                        prog_fd: std::os::fd::AsRawFd::as_raw_fd(&fd.as_fd()) as u32,
                        attach_type: dir.tcx_attach_type().as_u32(),
                        ..Default::default()
                    })
                    .map_err(|e| failed(e.into()))?;
                }
            }
            for (path, link, ours) in pinned {
                if ours {
                    link.detach().map_err(failed)?;
                }
                bpfkit::unpin(&path).map_err(failed)?;
            }
        }
    }
    if g.json() {
        print_json(g, &J::Null);
    }
    Ok(())
}

/// One line of `net show` and its JSON object.
struct Entry {
    text: String,
    json: J,
}

fn dev_obj(dev: &Interface) -> J {
    let mut o = J::obj();
    o.push("devname", J::s(dev.name.clone()));
    o.push("ifindex", J::U(dev.index as u64));
    o
}

fn xdp_entries(dev: &Interface, q: &xdp::XdpQuery) -> Vec<Entry> {
    let modes = q.attached();
    let Some(&(first_mode, first_id)) = modes.first() else {
        return Vec::new();
    };
    let mut o = dev_obj(dev);
    let mut text = format!("{}({})", dev.name, dev.index);
    if modes.len() == 1 {
        o.push("mode", J::s(first_mode.name()));
        o.push("id", J::U(first_id as u64));
        text.push_str(&format!(" {} id {first_id}", first_mode.name()));
    } else {
        let mut multi = Vec::new();
        for (m, id) in &modes {
            let mut e = J::obj();
            e.push("mode", J::s(m.name()));
            e.push("id", J::U(*id as u64));
            multi.push(e);
            text.push_str(&format!(" {} id {id}", m.name()));
        }
        o.push("multi_attachments", J::Arr(multi));
    }
    vec![Entry { text, json: o }]
}

fn prog_name(id: u32) -> Option<String> {
    let fd = bpfkit_sys::obj::get_fd_by_id(ObjKind::Prog, id).ok()?;
    let info = bpfkit_sys::prog::prog_info(fd.as_fd()).ok()?;
    if info.name().is_empty() {
        return None;
    }
    Some(crate::prog::full_name(&info, fd.as_fd()))
}

fn tcx_entries(dev: &Interface, dir: Direction) -> Vec<Entry> {
    let Ok(q) = tc::query_tcx(dev.index, dir) else {
        return Vec::new();
    };
    let kind = format!("tcx/{}", dir.name());
    q.prog_ids
        .iter()
        .zip(&q.link_ids)
        .map(|(&pid, &lid)| {
            let mut o = dev_obj(dev);
            o.push("kind", J::s(kind.clone()));
            let mut text = format!("{}({}) {kind}", dev.name, dev.index);
            if let Some(n) = prog_name(pid) {
                text.push_str(&format!(" {n}"));
                o.push("name", J::s(n));
            }
            o.push("prog_id", J::U(pid as u64));
            o.push("prog_flags", J::Arr(Vec::new()));
            o.push("link_id", J::U(lid as u64));
            o.push("link_flags", J::Arr(Vec::new()));
            text.push_str(&format!(" prog_id {pid} "));
            if lid != 0 {
                text.push_str(&format!("link_id {lid} "));
            }
            Entry { text, json: o }
        })
        .collect()
}

fn classic_entries(dev: &Interface, dir: Direction) -> Result<Vec<Entry>, CliError> {
    let kind = format!("clsact/{}", dir.name());
    let filters = tc::list_filters(dev.index, dir).map_err(lib)?;
    Ok(filters
        .iter()
        .filter(|f| f.kind == "bpf")
        .map(|f| {
            let mut o = dev_obj(dev);
            o.push("kind", J::s(kind.clone()));
            let mut text = format!("{}({}) {kind}", dev.name, dev.index);
            if !f.name.is_empty() {
                o.push("name", J::s(f.name.clone()));
                text.push_str(&format!(" {}", f.name));
            }
            o.push("id", J::U(f.prog_id as u64));
            text.push_str(&format!(" id {}", f.prog_id));
            Entry { text, json: o }
        })
        .collect())
}

fn show(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let filter = if args.is_empty() {
        None
    } else {
        let dev = parse_dev(args)?;
        args.finish()?;
        Some(dev)
    };
    let devs: Vec<Interface> = match &filter {
        Some(d) => vec![d.clone()],
        None => Interface::all().map_err(lib)?,
    };
    let mut xdp_list = Vec::new();
    for q in xdp::query_all().map_err(lib)? {
        if let Some(d) = devs.iter().find(|d| d.index == q.ifindex) {
            xdp_list.extend(xdp_entries(d, &q));
        }
    }
    let mut tc_list = Vec::new();
    for d in &devs {
        tc_list.extend(tcx_entries(d, Direction::Ingress));
        tc_list.extend(tcx_entries(d, Direction::Egress));
        tc_list.extend(classic_entries(d, Direction::Ingress)?);
        tc_list.extend(classic_entries(d, Direction::Egress)?);
    }
    let flow = bpfkit::sk_lookup::NetNs::current()
        .and_then(|ns| ns.query(bpfkit::AttachType::FlowDissector))
        .unwrap_or_default();
    if g.json() {
        let mut o = J::obj();
        o.push(
            "xdp",
            J::Arr(xdp_list.into_iter().map(|e| e.json).collect()),
        );
        o.push("tc", J::Arr(tc_list.into_iter().map(|e| e.json).collect()));
        let fd: Vec<J> = flow
            .iter()
            .map(|&id| {
                let mut e = J::obj();
                e.push("id", J::U(id as u64));
                e
            })
            .collect();
        o.push("flow_dissector", J::Arr(fd));
        print_json(g, &J::Arr(vec![o]));
        return Ok(());
    }
    let mut out = String::from("xdp:\n");
    for e in &xdp_list {
        out.push_str(&e.text);
        out.push('\n');
    }
    out.push_str("\ntc:\n");
    for e in &tc_list {
        out.push_str(&e.text);
        out.push('\n');
    }
    out.push_str("\nflow_dissector:\n");
    // bpftool prints the (single) id without its own newline, then ends the section with one.
    for id in &flow {
        out.push_str(&format!("id {id}"));
    }
    out.push('\n');
    crate::emit(&out)
}
