//! `config()`: the script's config variables (its `config = { … }` block over bpftrace's
//! defaults), read as `config().name` and turned into constants when the script compiles.

use std::collections::BTreeMap;

use super::CheckOptions;
use crate::ast::{ExprKind, Program};

/// A config variable's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigValue {
    /// An integer (booleans are 0 / 1).
    Int(i64),
    /// A string or bare word (`stack_mode = perf`).
    Str(String),
}

/// The config variables with their values: defaults, then the script's block.
pub(super) fn values(prog: &Program, opts: &CheckOptions) -> BTreeMap<String, ConfigValue> {
    let mut out = BTreeMap::new();
    let int = |v: i64| ConfigValue::Int(v);
    let s = |v: &str| ConfigValue::Str(v.to_string());
    for (k, v) in [
        ("cpp_demangle", int(1)),
        ("license", s("GPL")),
        ("max_map_keys", int(4096)),
        (
            "max_strlen",
            int(i64::try_from(opts.max_strlen).unwrap_or(i64::MAX)),
        ),
        ("missing_probes", s("error")),
        ("print_maps_on_exit", int(1)),
        ("stack_mode", s("bpftrace")),
    ] {
        out.insert(k.to_string(), v);
    }
    if let Some(cfg) = &prog.config {
        for it in &cfg.items {
            let k = it.key.name.to_ascii_lowercase();
            let k = k.strip_prefix("bpftrace_").unwrap_or(&k).to_string();
            let v = match &it.value.kind {
                ExprKind::Int(v) => int(*v as i64),
                ExprKind::Bool(b) => int(i64::from(*b)),
                ExprKind::Str(b) => ConfigValue::Str(String::from_utf8_lossy(b).into_owned()),
                ExprKind::Ident(w) => ConfigValue::Str(w.clone()),
                _ => continue,
            };
            out.insert(k, v);
        }
    }
    out
}
