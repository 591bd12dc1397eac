//! Integer constants of C headers (`--include errno.h`, a script's `#include <errno.h>`):
//! the headers and the headers they include are scanned for object-like `#define NAME VALUE`
//! lines whose value is an integer (literal, another such name, or a simple expression of
//! those), so a script can say `EPERM` or `O_RDONLY`. Conditionals are not evaluated: the
//! first definition of a name wins, as in the common single-definition case.

use crate::includes::SEARCH_DIRS;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Most header files followed from one set of includes (a guard against huge trees).
const MAX_FILES: usize = 256;

/// The integer `#define`s reachable from `paths` (header names as `#include` spells them).
pub fn constants<'a>(paths: impl IntoIterator<Item = &'a str>) -> HashMap<String, i64> {
    let mut raw: HashMap<String, String> = HashMap::new();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut queue: Vec<PathBuf> = paths.into_iter().filter_map(|p| locate(p, None)).collect();
    queue.reverse();
    while let Some(file) = queue.pop() {
        if seen.len() >= MAX_FILES || !seen.insert(file.clone()) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let mut nested = Vec::new();
        for line in logical_lines(&text) {
            let Some(d) = line.trim_start().strip_prefix('#') else {
                continue;
            };
            let d = d.trim_start();
            if let Some(rest) = d.strip_prefix("include") {
                let name = rest.trim().trim_start_matches(['<', '"']);
                let name = name.split(['>', '"']).next().unwrap_or("");
                if let Some(p) = locate(name, file.parent()) {
                    nested.push(p);
                }
            } else if let Some(rest) = d.strip_prefix("define") {
                if !rest.starts_with([' ', '\t']) {
                    continue;
                }
                let rest = rest.trim_start();
                let n = rest
                    .bytes()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    .count();
                let (name, body) = rest.split_at(n);
                // Function-like macros and empty names are not constants.
                if name.is_empty() || body.starts_with('(') {
                    continue;
                }
                raw.entry(name.to_string())
                    .or_insert_with(|| strip_comments(body).trim().to_string());
            }
        }
        // Depth-first, in the order the includes appear.
        queue.extend(nested.into_iter().rev());
    }
    let mut out = HashMap::new();
    for name in raw.keys() {
        if let Some(v) = eval(name, &raw, 0) {
            out.insert(name.clone(), v);
        }
    }
    out
}

/// The file `#include` would open for `name`: absolute, next to the including file, under
/// the current directory, then the system directories.
fn locate(name: &str, dir: Option<&Path>) -> Option<PathBuf> {
    if name.is_empty() {
        return None;
    }
    let p = Path::new(name);
    if p.is_absolute() {
        return p.is_file().then(|| p.to_path_buf());
    }
    dir.map(|d| d.join(p))
        .into_iter()
        .chain(std::iter::once(p.to_path_buf()))
        .chain(SEARCH_DIRS.iter().map(|d| Path::new(d).join(p)))
        .find(|c| c.is_file())
}

/// Lines with backslash continuations joined.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for l in text.lines() {
        match l.strip_suffix('\\') {
            Some(head) => cur.push_str(head),
            None => {
                cur.push_str(l);
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `body` without `/* … */` and `// …` comments.
fn strip_comments(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    loop {
        let block = rest.find("/*");
        let line = rest.find("//");
        match (block, line) {
            (Some(b), l) if l.is_none_or(|l| b < l) => {
                out.push_str(&rest[..b]);
                match rest[b + 2..].find("*/") {
                    Some(e) => {
                        out.push(' ');
                        rest = &rest[b + 2 + e + 2..];
                    }
                    None => return out,
                }
            }
            (_, Some(l)) => {
                out.push_str(&rest[..l]);
                return out;
            }
            _ => {
                out.push_str(rest);
                return out;
            }
        }
    }
}

/// The value of macro `name`, following other macros up to a small depth.
fn eval(name: &str, raw: &HashMap<String, String>, depth: u32) -> Option<i64> {
    if depth > 16 {
        return None;
    }
    let body = raw.get(name)?;
    let mut p = ExprParser {
        s: body.as_bytes(),
        i: 0,
        raw,
        depth,
        nest: 0,
    };
    let v = p.or()?;
    p.ws();
    (p.i == p.s.len()).then_some(v)
}

/// A recursive-descent evaluator of the integer expressions headers write: literals with
/// `U`/`L` suffixes, names of other constants, parentheses, unary `-`/`~`/`!`, and the binary
/// operators `* / % + - << >> & ^ |`.
struct ExprParser<'a> {
    s: &'a [u8],
    i: usize,
    raw: &'a HashMap<String, String>,
    depth: u32,
    /// Open unary operators and parentheses: bounded, so a pathological line cannot
    /// exhaust the stack.
    nest: u32,
}

impl ExprParser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn eat(&mut self, op: &str) -> bool {
        self.ws();
        let b = op.as_bytes();
        if self.s.get(self.i..self.i + b.len()) == Some(b) {
            // `<` must not be read as the start of `<<` and so on.
            let next = self.s.get(self.i + b.len()).copied();
            if b.len() == 1 && next == Some(b[0]) && matches!(b[0], b'<' | b'>' | b'&' | b'|') {
                return false;
            }
            self.i += b.len();
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Option<i64> {
        let mut v = self.xor()?;
        while self.eat("|") {
            v |= self.xor()?;
        }
        Some(v)
    }

    fn xor(&mut self) -> Option<i64> {
        let mut v = self.and()?;
        while self.eat("^") {
            v ^= self.and()?;
        }
        Some(v)
    }

    fn and(&mut self) -> Option<i64> {
        let mut v = self.shift()?;
        while self.eat("&") {
            v &= self.shift()?;
        }
        Some(v)
    }

    fn shift(&mut self) -> Option<i64> {
        let mut v = self.sum()?;
        loop {
            if self.eat("<<") {
                v = v.checked_shl(u32::try_from(self.sum()?).ok()?)?;
            } else if self.eat(">>") {
                v = v.checked_shr(u32::try_from(self.sum()?).ok()?)?;
            } else {
                return Some(v);
            }
        }
    }

    fn sum(&mut self) -> Option<i64> {
        let mut v = self.product()?;
        loop {
            if self.eat("+") {
                v = v.checked_add(self.product()?)?;
            } else if self.eat("-") {
                v = v.checked_sub(self.product()?)?;
            } else {
                return Some(v);
            }
        }
    }

    fn product(&mut self) -> Option<i64> {
        let mut v = self.unary()?;
        loop {
            if self.eat("*") {
                v = v.checked_mul(self.unary()?)?;
            } else if self.eat("/") {
                v = v.checked_div(self.unary()?)?;
            } else if self.eat("%") {
                v = v.checked_rem(self.unary()?)?;
            } else {
                return Some(v);
            }
        }
    }

    fn unary(&mut self) -> Option<i64> {
        if self.nest >= 64 {
            return None;
        }
        self.nest += 1;
        let v = self.unary_inner();
        self.nest -= 1;
        v
    }

    fn unary_inner(&mut self) -> Option<i64> {
        if self.eat("-") {
            return self.unary()?.checked_neg();
        }
        if self.eat("~") {
            return Some(!self.unary()?);
        }
        if self.eat("!") {
            return Some(i64::from(self.unary()? == 0));
        }
        if self.eat("(") {
            let v = self.or()?;
            return self.eat(")").then_some(v);
        }
        self.atom()
    }

    fn atom(&mut self) -> Option<i64> {
        self.ws();
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            self.i += 1;
        }
        let word = std::str::from_utf8(self.s.get(start..self.i)?).ok()?;
        let first = *word.as_bytes().first()?;
        if first.is_ascii_digit() {
            literal(word)
        } else {
            eval(word, self.raw, self.depth + 1)
        }
    }
}

/// A C integer literal (decimal, `0x` hex, `0` octal) with any `u`/`l` suffix.
fn literal(word: &str) -> Option<i64> {
    let w = word.trim_end_matches(['u', 'U', 'l', 'L']);
    let v = if let Some(h) = w.strip_prefix("0x").or_else(|| w.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()?
    } else if w.len() > 1 && w.starts_with('0') {
        u64::from_str_radix(&w[1..], 8).ok()?
    } else {
        w.parse::<u64>().ok()?
    };
    Some(v as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(defs: &[(&str, &str)]) -> HashMap<String, String> {
        defs.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn evaluates_header_expressions() {
        let r = raw(&[
            ("A", "1"),
            ("B", "(A << 4)"),
            ("C", "0x10UL | B"),
            ("D", "-C"),
            ("E", "010"),
            ("F", "foo(1)"),
        ]);
        assert_eq!(eval("A", &r, 0), Some(1));
        assert_eq!(eval("B", &r, 0), Some(16));
        assert_eq!(eval("C", &r, 0), Some(16));
        assert_eq!(eval("D", &r, 0), Some(-16));
        assert_eq!(eval("E", &r, 0), Some(8));
        assert_eq!(eval("F", &r, 0), None);
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = format!("{}1{}", "(-".repeat(100_000), ")".repeat(100_000));
        let r = raw(&[("X", &deep), ("Y", "((((1))))")]);
        assert_eq!(eval("X", &r, 0), None);
        assert_eq!(eval("Y", &r, 0), Some(1));
    }

    #[test]
    fn comments_are_dropped() {
        assert_eq!(strip_comments("1 /* Operation */").trim(), "1");
        assert_eq!(strip_comments("2 // x").trim(), "2");
    }
}
