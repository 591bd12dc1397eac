//! `bpfkit cgroup`: attach, detach, show and tree, in bpftool's syntax, layout and JSON.
//! Attachments use `BPF_PROG_ATTACH`, which the kernel keeps on the cgroup after the
//! command exits, until `cgroup detach`.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use bpfkit::cgroup::{self, AttachMode, Cgroup, CgroupProgram};
use bpfkit_sys::obj::ObjKind;

use crate::output::{fail, print_json, J};
use crate::target::{self, Args};
use crate::{CliError, Global};

const HELP: &str = "Usage: bpfkit cgroup { show | list } CGROUP [effective]
       bpfkit cgroup tree [CGROUP_ROOT] [effective]
       bpfkit cgroup attach CGROUP ATTACH_TYPE PROG [ATTACH_FLAGS]
       bpfkit cgroup detach CGROUP ATTACH_TYPE PROG
       bpfkit cgroup help

       PROG := { id PROG_ID | pinned FILE | tag PROG_TAG | name PROG_NAME |
                 object FILE [sec SECTION] }
       ATTACH_TYPE := { ingress | egress | sock_create | sock_ops | device |
                        bind4 | bind6 | post_bind4 | post_bind6 | connect4 |
                        connect6 | getpeername4 | getpeername6 | getsockname4 |
                        getsockname6 | sendmsg4 | sendmsg6 | recvmsg4 | recvmsg6 |
                        sysctl | getsockopt | setsockopt | sock_release }
       ATTACH_FLAGS := { multi | override }";

/// Runs `bpfkit cgroup …`.
pub fn run(g: &Global, words: Vec<String>) -> Result<(), CliError> {
    let mut args = Args::new(words);
    let verb = args.next().unwrap_or_else(|| "help".to_string());
    let is = |kw: &str| target::is_prefix(&verb, kw);
    if is("show") || is("list") {
        show(g, &mut args)
    } else if is("tree") {
        tree(g, &mut args)
    } else if is("attach") {
        attach(g, &mut args)
    } else if is("detach") {
        detach(g, &mut args)
    } else if is("help") {
        println!("{HELP}");
        Ok(())
    } else {
        Err(fail(format!(
            "unknown command '{verb}' (try `bpfkit cgroup help`)"
        )))
    }
}

fn open(path: &str) -> Result<Cgroup, CliError> {
    Cgroup::open(path).map_err(|_| fail(format!("can't open cgroup {path}")))
}

fn parse_at(args: &mut Args) -> Result<bpfkit::AttachType, CliError> {
    let w = args.next().ok_or_else(|| fail("expected an attach type"))?;
    cgroup::parse_attach_type(&w).ok_or_else(|| fail(format!("invalid attach type: {w}")))
}

fn attach(g: &Global, args: &mut Args) -> Result<(), CliError> {
    // bpftool's count: the cgroup, the attach type and a two-word PROG.
    if args.remaining() < 4 {
        return Err(fail("too few parameters for cgroup attach"));
    }
    let path = args.value_of("attach")?;
    let cg = open(&path)?;
    let at = parse_at(args)?;
    let prog = crate::net::parse_prog(args)?;
    let mut mode = AttachMode::Exclusive;
    while let Some(w) = args.next() {
        if target::is_prefix(&w, "multi") {
            mode = AttachMode::Multi;
        } else if target::is_prefix(&w, "override") {
            mode = AttachMode::Override;
        } else {
            return Err(fail(format!("unknown option: {w}")));
        }
    }
    cg.attach_persistent(&prog, at, mode, None)
        .map_err(|e| fail(format!("failed to attach program to {path}: {e}")))?;
    if g.json() {
        print_json(g, &J::Null);
    }
    Ok(())
}

fn detach(g: &Global, args: &mut Args) -> Result<(), CliError> {
    if args.remaining() < 4 {
        return Err(fail("too few parameters for cgroup detach"));
    }
    let path = args.value_of("detach")?;
    let cg = open(&path)?;
    let at = parse_at(args)?;
    let prog = crate::net::parse_prog(args)?;
    args.finish()?;
    cg.detach(prog.fd(), at)
        .map_err(|e| fail(format!("failed to detach program from {path}: {e}")))?;
    if g.json() {
        print_json(g, &J::Null);
    }
    Ok(())
}

fn effective_word(args: &mut Args) -> Result<bool, CliError> {
    let eff = args.eat("effective");
    args.finish()?;
    Ok(eff)
}

fn name_of(id: u32) -> String {
    let Ok(fd) = bpfkit_sys::obj::get_fd_by_id(ObjKind::Prog, id) else {
        return String::new();
    };
    match bpfkit_sys::prog::prog_info(fd.as_fd()) {
        Ok(info) => crate::prog::full_name(&info, fd.as_fd()),
        Err(_) => String::new(),
    }
}

fn prog_json(p: &CgroupProgram, effective: bool) -> J {
    let mut o = J::obj();
    o.push("id", J::U(p.prog_id as u64));
    o.push("attach_type", J::s(p.attach_type.name()));
    if !effective {
        o.push("attach_flags", J::s(AttachMode::flag_name(p.attach_flags)));
    }
    o.push("name", J::s(name_of(p.prog_id)));
    o.push("attach_btf_name", J::s(""));
    o.push("attach_btf_obj_id", J::U(0));
    o.push("attach_btf_id", J::U(0));
    o
}

fn prog_line(p: &CgroupProgram, effective: bool) -> String {
    let mut s = format!("{:<8} {:<15}", p.prog_id, p.attach_type.name());
    if effective {
        s.push_str(&format!(" {:<15}", name_of(p.prog_id)));
    } else {
        s.push_str(&format!(
            " {:<15} {:<15}",
            AttachMode::flag_name(p.attach_flags),
            name_of(p.prog_id)
        ));
    }
    // bpftool's column for the BTF name of lsm_cgroup targets, empty for the others.
    s.push_str(&format!(" {:<15}", ""));
    s
}

fn header(effective: bool) -> String {
    if effective {
        format!("{:<8} {:<15} {:<15}", "ID", "AttachType", "Name")
    } else {
        format!(
            "{:<8} {:<15} {:<15} {:<15}",
            "ID", "AttachType", "AttachFlags", "Name"
        )
    }
}

fn show(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let path = args.next().ok_or_else(|| fail("expected a cgroup path"))?;
    let effective = effective_word(args)?;
    let cg = open(&path)?;
    let progs = cg.query_all(effective).map_err(|e| fail(e.to_string()))?;
    if g.json() {
        // bpftool prints nothing but the newline for a cgroup without programs.
        if progs.is_empty() {
            println!();
        } else {
            print_json(
                g,
                &J::Arr(progs.iter().map(|p| prog_json(p, effective)).collect()),
            );
        }
        return Ok(());
    }
    if progs.is_empty() {
        return Ok(());
    }
    let mut out = header(effective);
    out.push('\n');
    for p in &progs {
        out.push_str(&prog_line(p, effective));
        out.push('\n');
    }
    crate::emit(&out)
}

/// Depth-first, parents before children, directories in name order, with their depth.
fn walk(dir: &Path, depth: usize, out: &mut Vec<(PathBuf, usize)>) {
    out.push((dir.to_path_buf(), depth));
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut kids: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| {
            e.file_type()
                .map(|t| t.is_dir() && !t.is_symlink())
                .unwrap_or(false)
        })
        .map(|e| e.path())
        .collect();
    kids.sort();
    for k in kids {
        walk(&k, depth + 1, out);
    }
}

fn cgroup2_mount() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let (_, dir, ty) = (f.next()?, f.next()?, f.next()?);
        (ty == "cgroup2").then(|| PathBuf::from(dir))
    })
}

fn tree(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let root = match args.peek() {
        Some(w) if !target::is_prefix(w, "effective") => {
            PathBuf::from(args.next().unwrap_or_default())
        }
        _ => cgroup2_mount().ok_or_else(|| fail("can't find the cgroup v2 mount"))?,
    };
    let effective = effective_word(args)?;
    if !root.is_dir() {
        return Err(fail(format!("can't open cgroup {}", root.display())));
    }
    let mut dirs = Vec::new();
    walk(&root, 0, &mut dirs);
    let mut found: Vec<(PathBuf, usize, Vec<CgroupProgram>)> = Vec::new();
    for (d, depth) in dirs {
        let Ok(cg) = Cgroup::open(&d) else { continue };
        if let Ok(progs) = cg.query_all(effective) {
            if !progs.is_empty() {
                found.push((d, depth, progs));
            }
        }
    }
    if g.json() {
        let arr = found
            .iter()
            .map(|(d, _, progs)| {
                let mut o = J::obj();
                o.push("cgroup", J::s(d.display().to_string()));
                o.push(
                    "programs",
                    J::Arr(progs.iter().map(|p| prog_json(p, effective)).collect()),
                );
                o
            })
            .collect();
        print_json(g, &J::Arr(arr));
        return Ok(());
    }
    let mut out = format!("CgroupPath\n{}\n", header(effective));
    for (d, depth, progs) in &found {
        out.push_str(&format!("{}\n", d.display()));
        // bpftool indents the programs of every cgroup below the root it was given.
        let indent = if *depth > 0 { "    " } else { "" };
        for p in progs {
            out.push_str(&format!("{indent}{}\n", prog_line(p, effective)));
        }
    }
    crate::emit(&out)
}
