//! bpftrace's runtime test files (`tests/runtime/*` of its repository): one suite per file,
//! cases separated by blank lines, `DIRECTIVE value` lines, continuation lines indented to the
//! value's column, `#` comments. This module only reads them; running them is the harness's
//! job.

use crate::TraceError;

/// One expectation on a case's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Some output line equals the text (surrounding blanks ignored).
    Line(String),
    /// No output line equals the text.
    NoLine(String),
    /// A multi-line regex matches somewhere.
    Regex(String),
    /// The regex matches nowhere.
    NoRegex(String),
    /// The stripped output equals this file (relative to the folder holding `runtime/`).
    File(String),
    /// The output is JSON equal to this file.
    Json(String),
}

/// One test case.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TestCase {
    /// The suite (file name).
    pub suite: String,
    /// `NAME`.
    pub name: String,
    /// 1-based line of `NAME` in the suite file.
    pub line: usize,
    /// `PROG`: a program run as `-e '<prog>'`.
    pub prog: Option<String>,
    /// `RUN`: a shell command line with `{{BPFTRACE}}` placeholders.
    pub run: Option<String>,
    /// Output checks.
    pub expects: Vec<Expect>,
    /// `TIMEOUT` in seconds (default 5).
    pub timeout: f64,
    /// `WILL_FAIL`: must exit non-zero.
    pub will_fail: bool,
    /// `RETURN_CODE`.
    pub return_code: Option<i32>,
    /// `BEFORE` commands (background).
    pub before: Vec<String>,
    /// `AFTER` command.
    pub after: Option<String>,
    /// `SETUP` command.
    pub setup: Option<String>,
    /// `CLEANUP` command.
    pub cleanup: Option<String>,
    /// `REQUIRES` shell commands that must succeed.
    pub requires: Vec<String>,
    /// `REQUIRES_FEATURE` names (`!` prefix negates).
    pub requires_feature: Vec<String>,
    /// `MIN_KERNEL`.
    pub min_kernel: Option<String>,
    /// `MAX_KERNEL`.
    pub max_kernel: Option<String>,
    /// `ARCH` values allowed.
    pub arch: Vec<String>,
    /// `ENV K=V` pairs.
    pub env: Vec<(String, String)>,
    /// `NEW_PIDNS`.
    pub new_pidns: bool,
    /// `SKIP_IF_ENV_HAS` (`K=V`).
    pub skip_if_env_has: Vec<String>,
    /// `LOCALIZE_TIMESTAMPS`.
    pub localize_timestamps: bool,
}

impl TestCase {
    /// The programs this case hands to the tracer: its `PROG`, or each `-e` argument of its
    /// `RUN` line that is a plain quoted word (not built by a `$(…)` substitution).
    pub fn programs(&self) -> Vec<String> {
        if let Some(p) = &self.prog {
            return vec![p.clone()];
        }
        let Some(run) = &self.run else {
            return Vec::new();
        };
        let Some(words) = shell_words(run) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut it = words.iter().peekable();
        while let Some(w) = it.next() {
            let takes = w.text == "-e"
                || (w.text.starts_with('-')
                    && !w.text.starts_with("--")
                    && w.text.ends_with('e')
                    && w.text.len() > 2);
            if takes {
                if let Some(next) = it.next() {
                    if !next.substituted {
                        out.push(next.text.clone());
                    }
                }
            }
        }
        out
    }
}

/// A word of a shell command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShellWord {
    /// The word with quotes removed.
    pub text: String,
    /// It held a `$(…)`, `` `…` `` or `$VAR` inside double quotes or unquoted, so its real
    /// value is only known to a shell.
    pub substituted: bool,
}

/// Splits a command line into words as `sh` would for quoting (no expansion is performed).
/// Stops at the first unquoted `|`, `;`, `&`, `<` or `>` (the rest is not the tracer's
/// arguments). None when a quote is left open.
pub fn shell_words(s: &str) -> Option<Vec<ShellWord>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut have = false;
    let mut subst = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                have = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => return None,
                    }
                }
            }
            '"' => {
                have = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(x @ ('"' | '\\' | '$' | '`')) => cur.push(x),
                            Some(x) => {
                                cur.push('\\');
                                cur.push(x);
                            }
                            None => return None,
                        },
                        Some(x) => {
                            if x == '$' || x == '`' {
                                subst = true;
                            }
                            cur.push(x);
                        }
                        None => return None,
                    }
                }
            }
            '\\' => {
                have = true;
                if let Some(x) = chars.next() {
                    cur.push(x);
                }
            }
            ' ' | '\t' | '\n' => {
                if have {
                    words.push(ShellWord {
                        text: std::mem::take(&mut cur),
                        substituted: subst,
                    });
                    have = false;
                    subst = false;
                }
            }
            '|' | ';' | '&' | '<' | '>' => break,
            _ => {
                if c == '$' || c == '`' {
                    subst = true;
                }
                have = true;
                cur.push(c);
            }
        }
    }
    if have {
        words.push(ShellWord {
            text: cur,
            substituted: subst,
        });
    }
    Some(words)
}

/// Parses one suite file's text. `suite` names it in errors and in each case.
pub fn parse_suite(suite: &str, text: &str) -> Result<Vec<TestCase>, TraceError> {
    let err = |line: usize, message: String| TraceError::TestFile {
        path: suite.to_string(),
        line,
        message,
    };
    // Group lines into cases: (line number, directive, value) with continuations joined.
    let mut cases: Vec<Vec<(usize, String, String)>> = Vec::new();
    let mut cur: Vec<(usize, String, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let lno = i + 1;
        if line.trim().is_empty() {
            if !cur.is_empty() {
                cases.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            let Some(last) = cur.last_mut() else {
                return Err(err(lno, "continuation line without a directive".into()));
            };
            let col = last.1.len() + 1;
            let indent = line.len() - line.trim_start().len();
            let cut = indent.min(col);
            last.2.push('\n');
            last.2.push_str(line.get(cut..).unwrap_or(""));
            continue;
        }
        let (d, v) = line.split_once(' ').unwrap_or((line, ""));
        cur.push((lno, d.to_string(), v.to_string()));
    }
    if !cur.is_empty() {
        cases.push(cur);
    }
    let mut out = Vec::new();
    for lines in cases {
        let mut c = TestCase {
            suite: suite.to_string(),
            timeout: 5.0,
            ..TestCase::default()
        };
        for (lno, d, v) in lines {
            match d.as_str() {
                "NAME" => {
                    c.name = v;
                    c.line = lno;
                }
                "PROG" => c.prog = Some(v),
                "RUN" => c.run = Some(v),
                "EXPECT" => c.expects.push(Expect::Line(v)),
                "EXPECT_NONE" => c.expects.push(Expect::NoLine(v)),
                "EXPECT_REGEX" => c.expects.push(Expect::Regex(v)),
                "EXPECT_REGEX_NONE" => c.expects.push(Expect::NoRegex(v)),
                "EXPECT_FILE" => c.expects.push(Expect::File(v)),
                "EXPECT_JSON" => c.expects.push(Expect::Json(v)),
                "TIMEOUT" => {
                    c.timeout = v
                        .trim()
                        .parse()
                        .map_err(|_| err(lno, format!("bad TIMEOUT '{v}'")))?
                }
                "WILL_FAIL" => c.will_fail = true,
                "RETURN_CODE" => {
                    c.return_code = Some(
                        v.trim()
                            .parse()
                            .map_err(|_| err(lno, format!("bad RETURN_CODE '{v}'")))?,
                    )
                }
                "BEFORE" => c.before.push(v),
                "AFTER" => c.after = Some(v),
                "SETUP" => c.setup = Some(v),
                "CLEANUP" => c.cleanup = Some(v),
                "REQUIRES" => c.requires.push(v),
                "REQUIRES_FEATURE" => c.requires_feature.push(v.trim().to_string()),
                "MIN_KERNEL" => c.min_kernel = Some(v.trim().to_string()),
                "MAX_KERNEL" => c.max_kernel = Some(v.trim().to_string()),
                "ARCH" => c.arch.extend(v.split_whitespace().map(str::to_string)),
                "ENV" => {
                    for kv in v.split_whitespace() {
                        let (k, val) = kv.split_once('=').unwrap_or((kv, ""));
                        c.env.push((k.to_string(), val.to_string()));
                    }
                }
                "NEW_PIDNS" => c.new_pidns = true,
                "SKIP_IF_ENV_HAS" => c.skip_if_env_has.push(v.trim().to_string()),
                "LOCALIZE_TIMESTAMPS" => c.localize_timestamps = true,
                other => return Err(err(lno, format!("unknown directive '{other}'"))),
            }
        }
        if c.name.is_empty() {
            return Err(err(c.line, "case without NAME".into()));
        }
        if c.prog.is_some() == c.run.is_some() {
            return Err(err(
                c.line,
                format!("case '{}' needs exactly one of PROG or RUN", c.name),
            ));
        }
        out.push(c);
    }
    Ok(out)
}

/// Reads every suite file directly in `dir` (e.g. `…/bpftrace-tests/runtime`), sorted by name.
pub fn load_dir(dir: &std::path::Path) -> Result<Vec<TestCase>, TraceError> {
    let io = |e| TraceError::Io {
        path: dir.display().to_string(),
        source: e,
    };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| TraceError::Io {
            path: f.display().to_string(),
            source: e,
        })?;
        let suite = f
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned());
        out.extend(parse_suite(&suite, &text)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cases_and_continuations() {
        let t = "# c\nNAME a\nPROG begin { x }\nEXPECT stdin:1:1-2: ERROR: x\n       begin\n       ~\nTIMEOUT 1\nWILL_FAIL\n\nNAME b\nRUN {{BPFTRACE}} -e 'i:s:1 { exit(); }' | grep x\nEXPECT_REGEX ^a\n";
        let c = parse_suite("s", t).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(
            c[0].expects,
            vec![Expect::Line("stdin:1:1-2: ERROR: x\nbegin\n~".into())]
        );
        assert!(c[0].will_fail);
        assert_eq!(c[0].timeout, 1.0);
        assert_eq!(c[1].programs(), vec!["i:s:1 { exit(); }".to_string()]);
        assert_eq!(c[1].line, 10);
        assert!(parse_suite("s", "NAME x\nBOGUS 1\n").is_err());
        assert!(parse_suite("s", "NAME x\n").is_err());
    }

    #[test]
    fn shell_quoting() {
        let w = shell_words(r#"a 'b c' "d\"e" "$(x)" f\ g | h"#).unwrap();
        let texts: Vec<_> = w.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["a", "b c", "d\"e", "$(x)", "f g"]);
        assert!(w[3].substituted && !w[1].substituted);
        assert!(shell_words("'open").is_none());
    }
}
