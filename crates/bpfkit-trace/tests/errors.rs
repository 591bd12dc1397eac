//! Syntax errors point at the right line and columns, rendered as bpftrace renders them.

use bpfkit_trace::parse_program;

/// (program, first line of the rendered error).
const CASES: &[(&str, &str)] = &[
    (
        "BEGIN { @x = 1 +; }",
        "stdin:1:17-18: ERROR: syntax error, unexpected ;",
    ),
    (
        "BEGIN { @x = \"abc }",
        "stdin:1:14-20: ERROR: unterminated string",
    ),
    (
        "BEGIN { @x = 1 ",
        "stdin:1:16-16: ERROR: syntax error, unexpected end of file, expecting ; or }",
    ),
    (
        "BEGIN { $x = 1 $y = 2; }",
        "stdin:1:16-18: ERROR: syntax error, unexpected variable $y, expecting ; or }",
    ),
    (
        "BEGIN { if ($x { } }",
        "stdin:1:16-17: ERROR: syntax error, unexpected {, expecting , or )",
    ),
    (
        "BEGIN { @x[1 = 2; }",
        "stdin:1:14-15: ERROR: syntax error, unexpected =, expecting , or ]",
    ),
    (
        "kprobe:f { (1, 2).0 = 3; }",
        "stdin:1:12-22: ERROR: Tuples are immutable once created.",
    ),
    (
        "BEGIN { printf(\"%d\\n\", 08); }",
        "stdin:1:24-26: ERROR: invalid octal literal '08'",
    ),
    (
        "BEGIN { $x = 'a'; }",
        "stdin:1:14-17: ERROR: character literals are not supported",
    ),
    (
        "BEGIN { @x = 1; } }",
        "stdin:1:19-20: ERROR: syntax error, unexpected }, expecting probe",
    ),
    ("BEGIN /* x", "stdin:1:7-9: ERROR: unterminated comment"),
    (
        "BEGIN { $x = 1 ++ ; }",
        "stdin:1:16-18: ERROR: The ++ operator must be applied to a map or variable",
    ),
    (
        "BEGIN { print(1,); }",
        "stdin:1:17-18: ERROR: syntax error, unexpected )",
    ),
    (
        "blah:foo { }",
        "stdin:1:1-9: ERROR: Invalid probe type: blah",
    ),
    (
        "tracepoint:a { }",
        "stdin:1:1-13: ERROR: tracepoint probe type requires 2 arguments",
    ),
    (
        "BEGIN { print(1) print(2) }",
        "stdin:1:18-23: ERROR: syntax error, unexpected identifier 'print', expecting ; or }",
    ),
    (
        "BEGIN { $x = \"\\q\"; }",
        "stdin:1:15-17: ERROR: invalid escape character '\\q'",
    ),
    (
        "BEGIN { @x = 99999999999999999999999; }",
        "stdin:1:14-37: ERROR: integer literal",
    ),
    (
        "i:s:1 { @x = 1ks; }",
        "stdin:1:14-17: ERROR: invalid integer suffix 'ks'",
    ),
    (
        "interval:s:0 { }",
        "stdin:1:1-13: ERROR: interval rate must be greater than 0",
    ),
    (
        "BEGIN {\n  @x = 1;\n  $y = ;\n}",
        "stdin:3:8-9: ERROR: syntax error, unexpected ;",
    ),
    (
        "// c\n\tBEGIN { for ($i : 0..) {} }",
        "stdin:2:23-24: ERROR: syntax error, unexpected )",
    ),
    (
        "#if FOO(\nBEGIN {}",
        "stdin:1:1-9: ERROR: cannot evaluate this #if condition",
    ),
    (
        "#ifdef X\nBEGIN {}",
        "stdin:2:9-9: ERROR: unterminated #if/#ifdef/#ifndef: missing #endif",
    ),
    (
        "BEGIN { $é = 1; }",
        "stdin:1:9-10: ERROR: '$' must be followed by a variable name",
    ),
    (
        "BEGIN { @x = 1 € }",
        "stdin:1:16-17: ERROR: invalid character",
    ),
    (
        "begin { 1 } config = { a = 1 }",
        "stdin:1:13-19: ERROR: the config block must come once, before any probe",
    ),
];

#[test]
fn syntax_errors_have_bpftrace_positions() {
    let mut bad = Vec::new();
    for (prog, want) in CASES {
        match parse_program("stdin", prog) {
            Ok(_) => bad.push(format!("{prog:?}: parsed, expected {want}")),
            Err(e) => {
                let got = e.to_string();
                let first = got.lines().next().unwrap_or("");
                if !first.starts_with(want) {
                    bad.push(format!("{prog:?}:\n  got  {first}\n  want {want}"));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn rendering_has_source_line_and_marks() {
    let e = parse_program("stdin", "BEGIN {\n\t@x = 1 +;\n}")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "stdin:2:10-11: ERROR: syntax error, unexpected ;\n\t@x = 1 +;\n\t        ~"
    );
}
