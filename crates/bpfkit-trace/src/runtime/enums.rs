//! Enum symbolisation, as bpftrace does it: `%s` of an enum-typed value (in `printf`,
//! `errorf`/`warnf`, `system`, `cat`) prints its enumerator's name, and so do enum map keys in
//! the text output (JSON keeps numbers). Names come from the script's `enum` definitions and,
//! for kernel enums (a tracepoint field of type `enum skb_drop_reason`), from the kernel's
//! BTF. A value no enumerator has prints as its number.

use super::format::Value;
use crate::ast::Expr;
use crate::diag::Span;
use crate::format::{parse_format, Piece};
use crate::types::Type;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// The script's enums: enum name (empty for `enum { … }`) → value → enumerator name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnumNames(BTreeMap<String, BTreeMap<u64, String>>);

impl EnumNames {
    /// The table of the script's enumerators (`name → (enum name, value)`), as the checker
    /// keeps them. Of several enumerators with one value, the alphabetically first names it.
    pub fn from_enumerators(enumerators: &HashMap<String, (String, i64)>) -> Self {
        let mut t: BTreeMap<String, BTreeMap<u64, String>> = BTreeMap::new();
        let mut sorted: Vec<(&String, &(String, i64))> = enumerators.iter().collect();
        sorted.sort();
        for (name, (en, v)) in sorted {
            t.entry(en.clone())
                .or_default()
                .entry(*v as u64)
                .or_insert_with(|| name.clone());
        }
        EnumNames(t)
    }

    /// The enumerator of `value` in enum `en`: the script's first, then the kernel's.
    pub fn name(&self, en: &str, value: u64) -> Option<String> {
        if let Some(vals) = self.0.get(en) {
            return vals.get(&value).cloned();
        }
        // An anonymous enum can only be the script's own.
        if en.is_empty() {
            return None;
        }
        kernel_name(en, value)
    }
}

/// Kernel enums read from BTF so far, by name (`None`: BTF has no such enum).
type KernelEnums = HashMap<String, Option<BTreeMap<u64, String>>>;

fn kernel_name(en: &str, value: u64) -> Option<String> {
    static CACHE: Mutex<Option<KernelEnums>> = Mutex::new(None);
    let mut guard = CACHE.lock().ok()?;
    let cache = guard.get_or_insert_with(HashMap::new);
    let vals = cache
        .entry(en.to_string())
        .or_insert_with(|| kernel_enum(en));
    vals.as_ref()?.get(&value).cloned()
}

/// The enumerators of kernel enum `en` from vmlinux BTF.
fn kernel_enum(en: &str) -> Option<BTreeMap<u64, String>> {
    let btf = bpfkit::attach::vmlinux_btf().ok()?;
    let id = btf
        .find_by_name_kind(en, bpfkit_btf::Kind::Enum)
        .or_else(|| btf.find_by_name_kind(en, bpfkit_btf::Kind::Enum64))?;
    let t = btf.type_by_id(id).ok()?;
    let bpfkit_btf::Detail::Enum(e) = &t.detail else {
        return None;
    };
    // Kernel enum values are as wide as the enum; a value read into 64 bits is compared
    // in that width.
    let mask = if e.size >= 8 {
        u64::MAX
    } else {
        (1u64 << (e.size * 8)) - 1
    };
    let mut out = BTreeMap::new();
    for v in &e.values {
        out.entry(v.value & mask)
            .or_insert_with(|| v.name.to_string());
    }
    Some(out)
}

/// The event types of `printf` arguments `args` (`types`, as packed) with enum types put
/// back where the checker typed an integer argument as an enum, so that `%s` can name it.
pub fn enum_arg_types(
    mut types: Vec<Type>,
    args: &[Expr],
    expr_types: &HashMap<Span, Type>,
) -> Vec<Type> {
    if types.len() != args.len() {
        return types;
    }
    for (t, a) in types.iter_mut().zip(args) {
        if let (Type::Int { .. }, Some(e @ Type::Enum(_))) = (&*t, expr_types.get(&a.span)) {
            *t = e.clone();
        }
    }
    types
}

/// Replaces the arguments of `%s` conversions whose type is an enum by their enumerator
/// names (values no enumerator has stay numbers).
pub fn symbolize(fmt: &str, types: &[Type], vals: &mut [Value], names: &EnumNames) {
    let Ok(pieces) = parse_format(fmt) else {
        return;
    };
    let specs = pieces.iter().filter_map(|p| match p {
        Piece::Spec(s) => Some(s),
        Piece::Text(_) => None,
    });
    for ((spec, t), v) in specs.zip(types).zip(vals.iter_mut()) {
        let Type::Enum(en) = t else {
            continue;
        };
        if spec.conversion != "s" {
            continue;
        }
        let bits = v.as_u64();
        // A 32-bit enum value may have been sign-extended to 64 bits.
        let found = names
            .name(en, bits)
            .or_else(|| names.name(en, bits & 0xffff_ffff));
        if let Some(n) = found {
            *v = Value::Str(n.into_bytes());
        }
    }
}

/// A map key of type `t` as the text output shows it: enum values (alone or in a tuple)
/// by their enumerator names, as bpftrace prints them.
pub fn symbolize_key(t: Option<&Type>, v: &Value, names: &EnumNames) -> Value {
    match (t, v) {
        (Some(Type::Enum(en)), Value::Uint(_) | Value::Int(_)) => {
            let bits = v.as_u64();
            names
                .name(en, bits)
                .or_else(|| names.name(en, bits & 0xffff_ffff))
                .map_or_else(|| v.clone(), |n| Value::Str(n.into_bytes()))
        }
        (Some(Type::Tuple(ts)), Value::Tuple(vs)) if ts.len() == vs.len() => Value::Tuple(
            ts.iter()
                .zip(vs)
                .map(|(t, v)| symbolize_key(Some(t), v, names))
                .collect(),
        ),
        _ => v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_enums_symbolise_only_percent_s() {
        let mut e = HashMap::new();
        e.insert("ONE".to_string(), ("Foo".to_string(), 1));
        e.insert("TWO".to_string(), ("Foo".to_string(), 2));
        let names = EnumNames::from_enumerators(&e);
        let types = vec![Type::Enum("Foo".into()); 3];
        let mut vals = vec![Value::Uint(1), Value::Uint(2), Value::Uint(7)];
        symbolize("%d %s %s", &types, &mut vals, &names);
        assert_eq!(
            vals,
            vec![Value::Uint(1), Value::Str(b"TWO".to_vec()), Value::Uint(7)]
        );
    }
}
