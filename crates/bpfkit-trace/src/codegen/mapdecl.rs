//! `let @name = kind(max_entries);` map declarations: the kernel map type and capacity of a
//! declared map (undeclared maps are hashes, per-CPU for aggregations, of the default size).

use crate::ast::Program;
use crate::check::const_eval;
use bpfkit::MapType;

/// The type and capacity `prog` declares for `@name`, if it declares them. `percpuarray`
/// is left to the defaults (its keys would have to be array indexes).
pub(super) fn declared(prog: &Program, name: &str) -> Option<(MapType, u32)> {
    let d = prog.map_decls.iter().find(|d| d.name.name == name)?;
    let t = match d.kind.name.as_str() {
        "hash" => MapType::Hash,
        "lruhash" => MapType::LruHash,
        "percpuhash" => MapType::PercpuHash,
        "percpulruhash" => MapType::LruPercpuHash,
        _ => return None,
    };
    let n = u32::try_from(const_eval(d.args.first()?)?).ok()?;
    (n > 0).then_some((t, n))
}
