//! Prints the token, AST and typed-AST dumps of a script (types from this machine's tracefs): `cargo run --example dump -- 'begin { … }'`
//! or `-- -f FILE`.

use bpfkit_trace::check::CheckOptions;
use bpfkit_trace::diag::SourceFile;
use bpfkit_trace::dump::{dump_ast, dump_tokens, dump_typed_ast};
use bpfkit_trace::lexer::{lex, LexOptions};
use bpfkit_trace::tracepoint::Tracefs;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (name, text) = match args.as_slice() {
        [f, path] if f == "-f" => match std::fs::read_to_string(path) {
            Ok(t) => (path.clone(), t),
            Err(e) => {
                eprintln!("ERROR: failed to open file '{path}': {e}");
                std::process::exit(1);
            }
        },
        [prog] => ("stdin".to_string(), prog.clone()),
        _ => {
            eprintln!("usage: dump PROGRAM | dump -f FILE");
            std::process::exit(2);
        }
    };
    let src = SourceFile::new(name.as_str(), text.as_str());
    let (tokens, _) = lex(&text, &LexOptions::with_btf());
    print!("{}", dump_tokens(&src, &tokens));
    match bpfkit_trace::parse_program(&name, &text) {
        Ok(p) => print!("{}", dump_ast(&p)),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
    let types = Tracefs::new("/sys/kernel/tracing");
    match bpfkit_trace::check_program(&name, &text, &types, &CheckOptions::default()) {
        Ok((p, checked, warnings)) => {
            eprint!("{warnings}");
            print!("{}", dump_typed_ast(&p, &checked));
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
