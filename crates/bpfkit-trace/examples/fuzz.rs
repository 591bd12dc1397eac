//! A mutation fuzzer for the front end (lexer, parser, checker, dumps):
//! `cargo run --release --example fuzz -- SECONDS [CORPUS_DIR]`. Seeds are the bpftrace
//! runtime cases and `/usr/sbin/*.bt`; each round mutates a seed (byte edits, snippet
//! insertions, splices of two seeds) and runs it through every stage. A panic stops the run
//! and leaves the input in `fuzz-crash.bt`.

use bpfkit_trace::check::{check, CheckOptions};
use bpfkit_trace::diag::SourceFile;
use bpfkit_trace::lexer::LexOptions;
use bpfkit_trace::parser::parse;
use bpfkit_trace::testcases::load_dir;
use bpfkit_trace::types::NoTypes;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SNIPPETS: &[&[u8]] = &[
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
    b"\xff",
    b"\0",
    b"struct ",
    b"if ",
    b"(int8[])",
    b"$1",
    b"@m[1,2]",
    b"count()",
    b"printf(\"%d %s\", ",
    b"for ($k : @m) ",
    b"let $x: ",
    b"typeof(",
    b"macro m(x) { x } ",
    b"config = { a = 1 } ",
    b"unroll(3) ",
    b"(a=1, b=2)",
    b"kprobe:f,",
    b"/ 1 /",
    b"++",
    b"--",
    b"<<=",
    b"?:",
    b"sizeof(",
    b"offsetof(struct a, b)",
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(60);
    let dir = args.get(1).cloned().unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/bpftrace-tests/runtime"
        )
        .to_string()
    });
    let mut seeds: Vec<Vec<u8>> = match load_dir(std::path::Path::new(&dir)) {
        Ok(cases) => cases
            .iter()
            .flat_map(|c| c.programs())
            .map(String::into_bytes)
            .collect(),
        Err(e) => {
            eprintln!("ERROR: {e}");
            std::process::exit(1);
        }
    };
    if let Ok(rd) = std::fs::read_dir("/usr/sbin") {
        for e in rd.flatten() {
            if e.path().extension().is_some_and(|x| x == "bt") {
                if let Ok(b) = std::fs::read(e.path()) {
                    seeds.push(b);
                }
            }
        }
    }
    let mut rng = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0x9e37_79b9, |d| d.as_nanos() as u64)
        | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let deadline = Instant::now() + Duration::from_secs(secs);
    let (mut runs, mut parsed, mut checked) = (0u64, 0u64, 0u64);
    while Instant::now() < deadline {
        for _ in 0..1000 {
            let mut m = seeds[(next() % seeds.len() as u64) as usize].clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() % (m.len() as u64 + 1)) as usize;
                match next() % 5 {
                    0 if at < m.len() => m[at] = next() as u8,
                    1 if at < m.len() => {
                        let end = (at + 1 + (next() % 8) as usize).min(m.len());
                        m.drain(at..end);
                    }
                    2 => {
                        let other = &seeds[(next() % seeds.len() as u64) as usize];
                        let from = (next() % (other.len() as u64 + 1)) as usize;
                        let to = (from + (next() % 40) as usize).min(other.len());
                        m.splice(at..at, other[from..to].iter().copied());
                    }
                    _ => {
                        let s = SNIPPETS[(next() % SNIPPETS.len() as u64) as usize];
                        m.splice(at..at, s.iter().copied());
                    }
                }
            }
            let text = String::from_utf8_lossy(&m).into_owned();
            let result = std::panic::catch_unwind(|| {
                let src = SourceFile::new("stdin", text.as_str());
                match parse(&text, &LexOptions::with_btf()) {
                    Err(d) => {
                        let _ = src.render_all(&d);
                        (false, false)
                    }
                    Ok(p) => {
                        let _ = bpfkit_trace::dump::dump_ast(&p);
                        match check(&p, &NoTypes, &CheckOptions::default()) {
                            Ok(c) => {
                                let _ = bpfkit_trace::dump::dump_typed_ast(&p, &c);
                                (true, true)
                            }
                            Err(d) => {
                                let _ = src.render_all(&d);
                                (true, false)
                            }
                        }
                    }
                }
            });
            runs += 1;
            match result {
                Ok((p, c)) => {
                    parsed += u64::from(p);
                    checked += u64::from(c);
                }
                Err(_) => {
                    let _ = std::fs::write("fuzz-crash.bt", &m);
                    eprintln!("PANIC after {runs} inputs; input saved to fuzz-crash.bt");
                    std::process::exit(1);
                }
            }
        }
    }
    println!(
        "{runs} inputs in {secs} s without a panic ({parsed} parsed, {checked} checked clean)"
    );
}
