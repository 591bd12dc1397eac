//! User names for `username`: the uid recorded in BPF, looked up in `/etc/passwd`.

use std::collections::HashMap;
use std::sync::OnceLock;

/// uid -> name, read once from `/etc/passwd`.
fn table() -> &'static HashMap<u64, String> {
    static TABLE: OnceLock<HashMap<u64, String>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let text = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        parse_passwd(&text)
    })
}

/// The `name:password:uid:...` lines of a passwd file (the first entry for a uid wins).
fn parse_passwd(text: &str) -> HashMap<u64, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let mut fields = line.split(':');
        let (Some(name), Some(_), Some(uid)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if let Ok(uid) = uid.trim().parse::<u64>() {
            out.entry(uid).or_insert_with(|| name.to_string());
        }
    }
    out
}

/// The name of user `uid`, or the number itself when no entry names it.
pub(super) fn name_of(uid: u64) -> String {
    table()
        .get(&uid)
        .cloned()
        .unwrap_or_else(|| uid.to_string())
}

#[cfg(test)]
mod tests {
    use super::parse_passwd;

    #[test]
    fn parses_passwd_lines() {
        let t = parse_passwd(
            "root:x:0:0:root:/root:/bin/sh\n#bad\nbin:x:1:1::/:/bin/false\ndup:x:0:0::/:/\n",
        );
        assert_eq!(t.get(&0).map(String::as_str), Some("root"));
        assert_eq!(t.get(&1).map(String::as_str), Some("bin"));
        assert_eq!(t.len(), 2);
    }
}
