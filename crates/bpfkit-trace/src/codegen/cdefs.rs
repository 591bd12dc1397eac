//! Checks of the script's C definitions beyond their layout: a script struct that redefines
//! a kernel (BTF) struct replaces it, and bpftrace then takes none of that struct's kernel
//! dependencies from BTF, so a member of it whose type is a struct or union held by value
//! needs that type defined in the script too (unless the script includes headers that may
//! define it).

use crate::ast::{CDef, CRecord, Program, RecordKind, TypeExpr, TypeKind};
use crate::check::Checked;
use crate::diag::Diagnostic;
use crate::types::ScriptTypes;
use bpfkit_btf::Kind;

/// Errors for members of script records redefining kernel records whose struct/union type
/// the script does not define.
fn incomplete_members(
    prog: &Program,
    st: &ScriptTypes,
    kernel: &dyn Fn(&str, bool) -> bool,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if !prog.includes.is_empty() {
        return out;
    }
    for d in &prog.c_defs {
        match d {
            CDef::Record(r) if redefines(r, kernel) => record(r, st, &mut out),
            _ => {}
        }
    }
    out
}

fn redefines(r: &CRecord, kernel: &dyn Fn(&str, bool) -> bool) -> bool {
    r.name
        .as_ref()
        .is_some_and(|n| kernel(&n.name, r.kind == RecordKind::Union))
}

fn record(r: &CRecord, st: &ScriptTypes, out: &mut Vec<Diagnostic>) {
    for f in &r.fields {
        member(&f.ty, st, out);
    }
}

fn member(t: &TypeExpr, st: &ScriptTypes, out: &mut Vec<Diagnostic>) {
    let full = match &t.kind {
        TypeKind::Struct(n) => format!("struct {n}"),
        TypeKind::Union(n) => format!("union {n}"),
        TypeKind::Array(inner, _) => return member(inner, st, out),
        TypeKind::Record(inner) => return record(inner, st, out),
        _ => return,
    };
    if !st.records.contains_key(&full) {
        out.push(Diagnostic::error(
            t.span,
            format!("in the script's C definitions: error: field has incomplete type '{full}'"),
        ));
    }
}

/// Fails on the first member [`incomplete_members`] finds, with the kernel's BTF as the
/// kernel records (no BTF: nothing is a redefinition).
pub(super) fn check_redefinitions(prog: &Program, checked: &Checked) -> Result<(), Diagnostic> {
    // Most scripts define no struct: they need not open the kernel's BTF for this.
    if !prog.c_defs.iter().any(|d| matches!(d, CDef::Record(_))) {
        return Ok(());
    }
    let Ok(btf) = bpfkit::attach::vmlinux_btf() else {
        return Ok(());
    };
    let kernel = |n: &str, union: bool| {
        let k = if union { Kind::Union } else { Kind::Struct };
        btf.find_by_name_kind(n, k).is_some()
    };
    match incomplete_members(prog, &checked.script_types, &kernel)
        .into_iter()
        .next()
    {
        Some(d) => Err(d),
        None => Ok(()),
    }
}
