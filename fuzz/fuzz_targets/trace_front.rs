//! Fuzzes the `bpfkit trace` front end: lexer, parser, checker (without kernel types), the
//! `-d` dumps and the caret diagnostics, on any input, valid UTF-8 or not.
//! Run: `cd fuzz && cargo +nightly fuzz run trace_front -- -max_total_time=600`
//! (seed corpus: `mkdir -p corpus/trace_front && cp /usr/sbin/*.bt corpus/trace_front/`).
#![no_main]

use bpfkit_trace::check::{check, CheckOptions};
use bpfkit_trace::diag::SourceFile;
use bpfkit_trace::lexer::LexOptions;
use bpfkit_trace::parser::parse;
use bpfkit_trace::types::NoTypes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let src = SourceFile::new("stdin", text.as_ref());
    match parse(&text, &LexOptions::with_btf()) {
        Err(d) => {
            let _ = src.render_all(&d);
        }
        Ok(p) => {
            let _ = bpfkit_trace::dump::dump_ast(&p);
            match check(&p, &NoTypes, &CheckOptions::default()) {
                Ok(c) => {
                    let _ = bpfkit_trace::dump::dump_typed_ast(&p, &c);
                }
                Err(d) => {
                    let _ = src.render_all(&d);
                }
            }
        }
    }
});
