//! `bpfkit prog attach|detach PROG ATTACH_TYPE [MAP]`: bpftool's `BPF_PROG_ATTACH` of sockmap
//! verdict/parser programs to a sockmap or sockhash, and of a flow dissector to the network
//! namespace the command runs in. The attachment stays after the command exits.

use std::os::fd::{AsRawFd, OwnedFd};

use bpfkit::AttachType;
use bpfkit_sys::prog::{prog_attach, prog_detach, ProgAttach};

use crate::output::{fail, print_json, J};
use crate::target::{self, Args};
use crate::{CliError, Global};

/// The attach types bpftool names for `prog attach`, in the kernel's numeric order (bpftool
/// takes the first one a word is a prefix of).
const SHORT: [AttachType; 5] = [
    AttachType::SkSkbStreamParser,
    AttachType::SkSkbStreamVerdict,
    AttachType::SkMsgVerdict,
    AttachType::FlowDissector,
    AttachType::SkSkbVerdict,
];

/// bpftool's reading of an attach type: any kernel name exactly, or a prefix of one of the five.
fn parse_attach_type(w: &str) -> Option<AttachType> {
    AttachType::from_name(w).or_else(|| {
        SHORT
            .iter()
            .copied()
            .find(|at| target::is_prefix(w, at.name()))
    })
}

/// The program, the attach type and the target fd (none for a flow dissector).
fn parse(args: &mut Args, verb: &str) -> Result<(OwnedFd, AttachType, Option<OwnedFd>), CliError> {
    if args.remaining() < 3 {
        return Err(fail(format!(
            "'{verb}' needs at least 3 arguments, {} found",
            args.remaining()
        )));
    }
    let prog = target::parse_one_prog(args)?;
    let at = args
        .next()
        .and_then(|w| parse_attach_type(&w))
        .ok_or_else(|| fail("invalid attach/detach type"))?;
    if at == AttachType::FlowDissector {
        args.finish()?;
        return Ok((prog, at, None));
    }
    if args.is_empty() {
        return Err(fail("expected 'id', 'name' or 'pinned', got: ''?"));
    }
    let map = target::parse_one_map(args)?;
    args.finish()?;
    Ok((prog, at, Some(map)))
}

fn request(prog: &OwnedFd, at: AttachType, map: &Option<OwnedFd>) -> ProgAttach {
    ProgAttach {
        // The kernel attaches a flow dissector to the caller's network namespace.
        target: map.as_ref().map_or(0, |m| m.as_raw_fd() as u32),
        prog_fd: prog.as_raw_fd() as u32,
        attach_type: at.as_u32(),
        ..Default::default()
    }
}

/// `prog attach PROG ATTACH_TYPE [MAP]`.
pub fn attach(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let (prog, at, map) = parse(args, "attach")?;
    prog_attach(&request(&prog, at, &map)).map_err(|_| fail("failed prog attach to map"))?;
    if g.json() {
        print_json(g, &J::Null);
    }
    Ok(())
}

/// `prog detach PROG ATTACH_TYPE [MAP]`.
pub fn detach(g: &Global, args: &mut Args) -> Result<(), CliError> {
    let (prog, at, map) = parse(args, "detach")?;
    prog_detach(&request(&prog, at, &map)).map_err(|_| fail("failed prog detach from map"))?;
    if g.json() {
        print_json(g, &J::Null);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attach_type_words_follow_bpftool() {
        assert_eq!(
            parse_attach_type("sk_skb"),
            Some(AttachType::SkSkbStreamParser)
        );
        assert_eq!(parse_attach_type("sk_m"), Some(AttachType::SkMsgVerdict));
        assert_eq!(parse_attach_type("flow"), Some(AttachType::FlowDissector));
        assert_eq!(
            parse_attach_type("sk_skb_verdict"),
            Some(AttachType::SkSkbVerdict)
        );
        assert_eq!(parse_attach_type("sideways"), None);
    }
}
