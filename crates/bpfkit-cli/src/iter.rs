//! `bpfkit iter pin OBJ PATH [map MAP]`: bpftool's way to make an iterator a file. The first
//! program of the object (an `iter/<target>` program) is loaded, an iterator link is created
//! for it (over one map's elements with `map MAP`), and the link is pinned at PATH: reading
//! the file runs the program.

use std::os::fd::{AsFd, AsRawFd};

use bpfkit_sys::link::{link_create, LinkCreate, LinkTarget};

use crate::output::{fail, usage};
use crate::target::{self, Args};
use crate::{CliError, Global};

const HELP: &str = "Usage: bpfkit iter pin OBJ PATH [map MAP]
       bpfkit iter help

       MAP := { id MAP_ID | pinned FILE | name MAP_NAME }";

/// `EPERM`.
const EPERM: i32 = 1;

/// Whether the effective user is root (from /proc/self/status: `Uid: real effective …`).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find_map(|l| l.strip_prefix("Uid:"))?.to_string();
            line.split_whitespace().nth(1).map(|u| u == "0")
        })
        .unwrap_or(false)
}

/// Size of `union bpf_iter_link_info`.
const ITER_LINK_INFO_SIZE: usize = 16;

/// Runs `bpfkit iter …`.
pub fn run(g: &Global, words: Vec<String>) -> Result<(), CliError> {
    let mut args = Args::new(words);
    let verb = args.next().unwrap_or_else(|| "help".to_string());
    if target::is_prefix(&verb, "pin") {
        pin(g, &mut args)
    } else if target::is_prefix(&verb, "help") {
        println!("{HELP}");
        Ok(())
    } else {
        Err(usage(format!("unknown iter command '{verb}'\n{HELP}")))
    }
}

/// The first line of a library error (a verifier log follows on the next lines).
fn first_line(e: &bpfkit::Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

fn pin(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let obj_path = args.next();
    let path = args.next();
    let (Some(obj_path), Some(path)) = (obj_path.clone(), path) else {
        let found = usize::from(obj_path.is_some());
        return Err(fail(format!(
            "'pin' needs at least 2 arguments, {found} found"
        )));
    };
    let mut link_info = [0u8; ITER_LINK_INFO_SIZE];
    let mut map = None;
    if args.eat("map") {
        if args.is_empty() {
            return Err(fail("incorrect map spec"));
        }
        let fd = target::parse_one_map(args)?;
        link_info[..4].copy_from_slice(&(fd.as_raw_fd() as u32).to_ne_bytes());
        map = Some(fd);
    }
    args.finish()?;
    let builder = bpfkit::ObjectBuilder::open_file(&obj_path)
        .map_err(|_| fail(format!("can't open objfile {obj_path}")))?;
    let obj = builder
        .load()
        .map_err(|e| {
            // Root gets EPERM from BPF_PROG_LOAD only when a policy forbids the program
            // outright (the verifier has not looked at it): say that, not the empty log.
            if crate::output::errno_of(&e) == Some(EPERM) && is_root() {
                return fail(format!(
                    "can't load objfile {obj_path}: the kernel refuses its iterator program even to root (Operation not permitted: a lockdown or LSM policy forbids this iterator)"
                ));
            }
            fail(format!("can't load objfile {obj_path}: {}", first_line(&e)))
        })?;
    let prog = obj
        .programs()
        .first()
        .ok_or_else(|| fail(format!("can't find bpf program in objfile {obj_path}")))?;
    let extra = if map.is_some() {
        LinkTarget::Iter(&link_info)
    } else {
        LinkTarget::Plain
    };
    let link = link_create(&LinkCreate {
        prog_fd: prog.program.fd().as_raw_fd() as u32,
        target: 0,
        attach_type: bpfkit::AttachType::TraceIter.as_u32(),
        flags: 0,
        extra,
    })
    .map_err(|e| {
        fail(format!(
            "attach_iter failed for program {}: {}",
            prog.name,
            target::sys_err(&e)
        ))
    })?;
    let p = std::path::Path::new(&path);
    if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !matches!(bpfkit_sys::fs::is_bpffs(dir), Ok(true)) {
            bpfkit_sys::fs::ensure_bpffs_for(p).map_err(|e| {
                fail(format!(
                    "can't mount BPF file system to pin the object ({path}): {e}"
                ))
            })?;
        }
    }
    bpfkit_sys::obj::obj_pin(link.as_fd(), p).map_err(|e| {
        fail(format!(
            "pin_iter failed for program {} to path {path}: {}",
            prog.name,
            target::sys_err(&e)
        ))
    })?;
    if g.json() {
        // bpftool's JSON writer ends the (empty) output with its newline.
        crate::emit("\n")?;
    }
    Ok(())
}
