//! Prints the token and AST dumps of a script: `cargo run --example dump -- 'begin { … }'`
//! or `-- -f FILE`.

use bpfkit_trace::diag::SourceFile;
use bpfkit_trace::dump::{dump_ast, dump_tokens};
use bpfkit_trace::lexer::{lex, LexOptions};

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
}
