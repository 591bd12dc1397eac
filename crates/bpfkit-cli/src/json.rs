//! Ordered JSON output in bpftool's two shapes: compact (`-j`) and indented by four spaces
//! (`-p`). Objects keep insertion order because bpftool's consumers (and people diffing the
//! output) expect its key order, which `serde_json::Map` would sort away.

use std::fmt::Write;

/// A JSON value whose objects keep their key order.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object, keys in output order.
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// An empty object.
    pub fn obj() -> Json {
        Json::Obj(Vec::new())
    }

    /// Appends `key: value` to an object (no-op on other values).
    pub fn push(&mut self, key: impl Into<String>, value: Json) {
        if let Json::Obj(v) = self {
            v.push((key.into(), value));
        }
    }

    /// Renders compactly, or indented when `pretty`.
    pub fn render(&self, pretty: bool) -> String {
        let mut out = String::new();
        self.write(&mut out, pretty, 0);
        out
    }

    fn write(&self, out: &mut String, pretty: bool, depth: usize) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Json::Str(s) => out.push_str(&quote(s)),
            Json::Arr(items) => {
                if items.is_empty() {
                    out.push_str("[]");
                    return;
                }
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, pretty, depth + 1);
                    item.write(out, pretty, depth + 1);
                }
                newline(out, pretty, depth);
                out.push(']');
            }
            Json::Obj(fields) => {
                if fields.is_empty() {
                    out.push_str("{}");
                    return;
                }
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, pretty, depth + 1);
                    out.push_str(&quote(k));
                    out.push(':');
                    if pretty {
                        out.push(' ');
                    }
                    v.write(out, pretty, depth + 1);
                }
                newline(out, pretty, depth);
                out.push('}');
            }
        }
    }
}

fn newline(out: &mut String, pretty: bool, depth: usize) {
    if pretty {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("    ");
        }
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_indents() {
        let mut o = Json::obj();
        o.push("z", Json::Int(1));
        o.push("a", Json::Arr(vec![Json::Str("x\"y".into()), Json::Null]));
        o.push("e", Json::Arr(vec![]));
        assert_eq!(o.render(false), r#"{"z":1,"a":["x\"y",null],"e":[]}"#);
        assert_eq!(
            o.render(true),
            "{\n    \"z\": 1,\n    \"a\": [\n        \"x\\\"y\",\n        null\n    ],\n    \"e\": []\n}"
        );
        let parsed: serde_json::Value = serde_json::from_str(&o.render(true)).unwrap();
        assert_eq!(parsed["z"], 1);
    }
}
