//! Record values (`(a = 1, b = "x")`) as bpftrace prints them: `{ .a = 1, .b = x }` in text,
//! a JSON object in `-f json`.

use super::format::{decode_in, DecodeCx, Value};
use crate::codegen::layout::size_of;
use crate::types::Type;

/// Reads a record of fields `fs` laid out one after another at the start of `b`.
pub fn decode_record(cx: DecodeCx<'_>, fs: &[(String, Type)], b: &[u8]) -> Value {
    let mut off = 0usize;
    let mut out = Vec::new();
    for (n, t) in fs {
        out.push((n.clone(), decode_in(cx, t, b.get(off..).unwrap_or(&[]))));
        off += size_of(t) as usize;
    }
    Value::Record(out)
}

/// The text form: `{ .a = 1, .b = (2, hi) }`.
pub fn display(fs: &[(String, Value)]) -> String {
    let inner: Vec<String> = fs
        .iter()
        .map(|(n, v)| format!(".{n} = {}", v.display()))
        .collect();
    format!("{{ {} }}", inner.join(", "))
}

/// The JSON form: `{"a": 1, "b": [2,"hi"]}`, with `key` and `value` writing names and
/// field values.
pub fn json(
    fs: &[(String, Value)],
    key: &dyn Fn(&str) -> String,
    value: &dyn Fn(&Value) -> String,
) -> String {
    let inner: Vec<String> = fs
        .iter()
        .map(|(n, v)| format!("{}: {}", key(n), value(v)))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::format::decode;

    #[test]
    fn records_print_with_field_names() {
        let t = vec![
            ("a".to_string(), Type::U64),
            ("b".to_string(), Type::Tuple(vec![Type::U64, Type::Str(3)])),
        ];
        let mut b = 1u64.to_ne_bytes().to_vec();
        b.extend_from_slice(&2u64.to_ne_bytes());
        b.extend_from_slice(b"hi\0\0\0\0\0\0");
        let v = decode(&Type::Named(t.clone()), &b);
        assert_eq!(v.display(), "{ .a = 1, .b = (2, hi) }");
        assert_eq!(
            decode(&Type::Named(t), &[0u8; 24]).display(),
            "{ .a = 0, .b = (0, ) }"
        );
    }
}
