//! No input makes the front end panic: truncations and byte mutations of every corpus program,
//! pathological nesting, and rendering of every diagnostic produced.

use bpfkit_trace::diag::SourceFile;
use bpfkit_trace::lexer::LexOptions;
use bpfkit_trace::parser::parse;
use bpfkit_trace::testcases::load_dir;
use std::path::Path;

fn corpus() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bpftrace-tests/runtime");
    let mut out: Vec<String> = load_dir(&dir)
        .expect("bpftrace runtime cases")
        .iter()
        .flat_map(|c| c.programs())
        .collect();
    for e in std::fs::read_dir("/usr/sbin").expect("/usr/sbin").flatten() {
        if e.path().extension().is_some_and(|x| x == "bt") {
            out.push(std::fs::read_to_string(e.path()).expect("read .bt"));
        }
    }
    assert!(out.len() > 500, "corpus too small: {}", out.len());
    out
}

/// Parses and renders; returns whether it parsed (the caller only cares that it returned).
fn check(text: &str) -> bool {
    match parse(text, &LexOptions::with_btf()) {
        Ok(p) => {
            let _ = bpfkit_trace::dump::dump_ast(&p);
            let opts = bpfkit_trace::check::CheckOptions::default();
            if let Err(ds) = bpfkit_trace::check::check(&p, &bpfkit_trace::types::NoTypes, &opts) {
                let src = SourceFile::new("stdin", text);
                for d in &ds {
                    assert!(src.render(d).contains("ERROR"));
                }
            }
            true
        }
        Err(ds) => {
            assert!(!ds.is_empty(), "error without diagnostics for {text:?}");
            let src = SourceFile::new("stdin", text);
            for d in &ds {
                assert!(d.span.start <= d.span.end);
                assert!(src.render(d).contains("ERROR"));
            }
            false
        }
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[&[u8]] = &[
    b"{",
    b"}",
    b"(",
    b")",
    b"[",
    b"]",
    b"\"",
    b"/",
    b"/*",
    b"//",
    b"*",
    b"$",
    b"@",
    b"#",
    b"\n#if 1\n",
    b"\n#endif\n",
    b"\\",
    b":",
    b",",
    b";",
    b"..",
    b"->",
    b"'",
    b"0x",
    b"1e99",
    b"\xc3\xa9",
    b"\xf0\x9f\x98\x80",
    b"\xff",
    b"\0",
    b"struct ",
    b"if ",
    b"(int8[])",
];

#[test]
fn mutated_corpus_never_panics() {
    // Run with the default test-thread stack: the depth limit must hold even in debug builds.
    let corpus = corpus();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut runs = 0usize;
    let mut parsed = 0usize;
    for prog in &corpus {
        let bytes = prog.as_bytes();
        // Truncations at up to 24 points, including every char boundary for short programs.
        let step = (bytes.len() / 24).max(1);
        for cut in (0..=bytes.len()).step_by(step) {
            parsed += usize::from(check(&String::from_utf8_lossy(&bytes[..cut])));
            runs += 1;
        }
        // Random edits: replace, delete or insert bytes and snippets.
        for _ in 0..24 {
            let mut m = bytes.to_vec();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(m.len() + 1);
                match rng.below(4) {
                    0 if at < m.len() => m[at] = rng.next() as u8,
                    1 if at < m.len() => {
                        m.remove(at);
                    }
                    _ => {
                        let s = INTERESTING[rng.below(INTERESTING.len())];
                        m.splice(at..at, s.iter().copied());
                    }
                }
            }
            parsed += usize::from(check(&String::from_utf8_lossy(&m)));
            runs += 1;
        }
    }
    eprintln!("{runs} mutated inputs, {parsed} still parsed");
    assert!(runs > 20_000, "only {runs} inputs tried");
}

#[test]
fn pathological_nesting_is_an_error_not_a_crash() {
    for (open, close) in [
        ("(", ")"),
        ("{", "}"),
        ("[", "]"),
        ("-", ""),
        ("!", ""),
        ("*", ""),
        ("(uint8)", ""),
        ("if (1) {", "}"),
        ("$x ? 1 : ", "1"),
        ("f(", ")"),
        ("@m[", "]"),
        ("(1, ", ")"),
        ("struct a { struct b {", "} x; }"),
    ] {
        for n in [10, 100, 10_000] {
            let body = format!("{}1{}", open.repeat(n), close.repeat(n));
            let prog = format!("begin {{ $y = {body}; }}");
            let ok = check(&prog);
            if n == 10_000 {
                assert!(!ok, "{open}…{close} x{n} should hit the depth limit");
            }
            let _ = check(&body);
        }
    }
    let _ = check(&"#if 1\n".repeat(5000));
    let _ = check("#define A B\n#define B A\nbegin { A }");
}
