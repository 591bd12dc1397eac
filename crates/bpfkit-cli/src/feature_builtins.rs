//! `bpfkit feature list_builtins GROUP`: the names bpfkit knows for each kernel enum (program,
//! map, attach and link types, helpers), one a line in kernel order, or a JSON array: bpftool's
//! output, with the entries newer than its libbpf added at the end.

use bpfkit::{AttachType, LinkType, MapType, ProgramType};

use crate::output::{fail, print_json, J};
use crate::{CliError, Global};

/// Highest enum value tried for the groups numbered densely from 0.
const MAX_ENUM: u32 = 256;

/// The groups, in bpftool's order.
const GROUPS: [&str; 5] = [
    "prog_types",
    "map_types",
    "attach_types",
    "link_types",
    "helpers",
];

/// The names of one group, in kernel order.
fn names(group: &str) -> Option<Vec<String>> {
    let list = match group {
        "prog_types" => (0..MAX_ENUM)
            .map_while(ProgramType::from_u32)
            .map(|t| t.name().to_string())
            .collect(),
        "map_types" => MapType::ALL.iter().map(|t| t.name().to_string()).collect(),
        "attach_types" => (0..MAX_ENUM)
            .map_while(AttachType::from_u32)
            .map(|t| t.name().to_string())
            .collect(),
        "link_types" => std::iter::once("unspec".to_string())
            .chain(
                (1..MAX_ENUM)
                    .map(LinkType::from_u32)
                    .take_while(|t| !matches!(t, LinkType::Other(_)))
                    .map(|t| t.name().to_string()),
            )
            .collect(),
        "helpers" => std::iter::once("bpf_unspec".to_string())
            .chain(
                bpfkit_insn::helpers::HELPERS
                    .iter()
                    .map(|h| h.name.to_string()),
            )
            .collect(),
        _ => return None,
    };
    Some(list)
}

/// `feature list_builtins GROUP`.
pub fn run(g: &Global, group: Option<&str>) -> Result<(), CliError> {
    let group = group.unwrap_or_default();
    // bpftool takes any prefix of a group name, the first group in this order that fits.
    let full = GROUPS
        .iter()
        .find(|g| crate::target::is_prefix(group, g))
        .copied()
        .unwrap_or_default();
    let list = names(full).ok_or_else(|| {
        fail(format!(
            "expected 'prog_types', 'map_types', 'attach_types', 'link_types' or 'helpers', got: {group}"
        ))
    })?;
    if g.json() {
        print_json(g, &J::Arr(list.into_iter().map(J::s).collect()));
        return Ok(());
    }
    let mut out = String::new();
    for n in list {
        out.push_str(&n);
        out.push('\n');
    }
    crate::emit(&out)
}
