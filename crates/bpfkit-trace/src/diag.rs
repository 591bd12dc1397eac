//! Spans and diagnostics: byte offsets into the script, mapped to line and column only when a
//! message is rendered, in bpftrace's layout (`FILE:LINE:COL-COL: ERROR: message`, the source
//! line, and a `~` line under the offending text).

use std::fmt;

/// A half-open byte range `[start, end)` into the script text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end` (swapped if given in the wrong order).
    pub fn new(start: usize, end: usize) -> Span {
        if end < start {
            Span {
                start: end,
                end: start,
            }
        } else {
            Span { start, end }
        }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// True for an empty span (a position, e.g. end of file).
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Stops compilation.
    Error,
    /// Reported, compilation goes on.
    Warning,
}

/// One message about a place in the script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where.
    pub span: Span,
    /// What, in one line.
    pub message: String,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            span,
            message: message.into(),
        }
    }

    /// A warning at `span`.
    pub fn warning(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            span,
            message: message.into(),
        }
    }
}

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineCol {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub col: usize,
}

impl fmt::Display for LineCol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A script with its name (`stdin` for `-e` and `-`), able to map byte offsets to lines.
#[derive(Clone, Debug)]
pub struct SourceFile {
    name: String,
    text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// Wraps `text` under `name`.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> SourceFile {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            name: name.into(),
            text,
            line_starts,
        }
    }

    /// The name shown in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The script text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Clamps `offset` into the text and back onto a character boundary.
    fn clamp(&self, offset: usize) -> usize {
        let mut o = offset.min(self.text.len());
        while o > 0 && !self.text.is_char_boundary(o) {
            o -= 1;
        }
        o
    }

    /// 0-based line index holding `offset`.
    fn line_index(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }

    /// Line and column of a byte offset (offsets past the end map to the end).
    pub fn line_col(&self, offset: usize) -> LineCol {
        let o = self.clamp(offset);
        let li = self.line_index(o);
        let start = self.line_starts.get(li).copied().unwrap_or(0);
        let col = self.text.get(start..o).map_or(0, |s| s.chars().count()) + 1;
        LineCol { line: li + 1, col }
    }

    /// The text of 1-based line `line`, without its newline.
    pub fn line_text(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.wrapping_sub(1)) else {
            return "";
        };
        let end = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |&e| e.saturating_sub(1));
        self.text.get(start..end.max(start)).unwrap_or("")
    }

    /// Renders one diagnostic the way bpftrace does:
    ///
    /// ```text
    /// stdin:1:55-57: ERROR: Undefined or undeclared variable: $x
    /// tracepoint:syscalls:sys_enter_execve { printf("%d\n", $x); }
    ///                                                       ~~
    /// ```
    ///
    /// The end column is exclusive; a span reaching past its first line is underlined to that
    /// line's end.
    pub fn render(&self, d: &Diagnostic) -> String {
        let start = self.line_col(d.span.start);
        let end_off = self.clamp(d.span.end.max(d.span.start));
        let end = self.line_col(end_off);
        let line = self.line_text(start.line);
        let end_col = if end.line == start.line {
            end.col
        } else {
            line.chars().count() + 1
        };
        let level = match d.severity {
            Severity::Error => "ERROR",
            Severity::Warning => "WARNING",
        };
        let mut out = format!(
            "{}:{}:{}-{}: {}: {}\n{}\n",
            self.name, start.line, start.col, end_col, level, d.message, line
        );
        // Tabs before the mark are copied so the mark lines up in any tab width.
        for ch in line.chars().take(start.col - 1) {
            out.push(if ch == '\t' { '\t' } else { ' ' });
        }
        for _ in start.col..end_col {
            out.push('~');
        }
        out.push('\n');
        out
    }

    /// `FILE:LINE:COL-COL` of a span, as the first line of [`SourceFile::render`] gives it.
    pub fn place(&self, span: Span) -> String {
        let r = self.render(&Diagnostic::error(span, ""));
        let first = r.lines().next().unwrap_or("");
        first.split(": ").next().unwrap_or(first).to_string()
    }

    /// Renders a list of diagnostics, one after another.
    pub fn render_all(&self, ds: &[Diagnostic]) -> String {
        ds.iter().map(|d| self.render(d)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_bpftrace() {
        let src = SourceFile::new(
            "stdin",
            "tracepoint:syscalls:sys_enter_execve { printf(\"%d\\n\", $x); }",
        );
        let at = src.text().find("$x").unwrap();
        let d = Diagnostic::error(
            Span::new(at, at + 2),
            "Undefined or undeclared variable: $x",
        );
        assert_eq!(
            src.render(&d),
            "stdin:1:55-57: ERROR: Undefined or undeclared variable: $x\n\
             tracepoint:syscalls:sys_enter_execve { printf(\"%d\\n\", $x); }\n\
             \x20                                                     ~~\n"
        );
    }

    #[test]
    fn second_line_and_eof() {
        let src = SourceFile::new("stdin", "BEGIN { $x = \"a\";\n  $x = 1; }");
        let at = src.text().rfind('=').unwrap();
        let r = src.render(&Diagnostic::error(Span::new(at, at + 1), "m"));
        assert!(
            r.starts_with("stdin:2:6-7: ERROR: m\n  $x = 1; }\n     ~\n"),
            "{r}"
        );
        let r = src.render(&Diagnostic::error(Span::new(999, 999), "eof"));
        assert!(r.starts_with("stdin:2:12-12: ERROR: eof\n"), "{r}");
    }

    #[test]
    fn utf8_columns_never_panic() {
        let src = SourceFile::new("f", "é€\n😀x");
        for o in 0..20 {
            let _ = src.render(&Diagnostic::error(Span::new(o, o + 3), "x"));
        }
        assert_eq!(src.line_col(src.text().len()).col, 3);
    }
}
