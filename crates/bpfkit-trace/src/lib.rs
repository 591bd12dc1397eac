//! bpfkit-trace: the bpftrace language, compiled to eBPF by our own compiler.
//!
//! This crate holds the pure front end (no kernel access, so it tests and fuzzes anywhere):
//! [`lexer`] turns text into [`lexer::Token`]s with byte spans, [`parser`] builds the
//! [`ast::Program`] (current bpftrace syntax and the 0.17 spellings), [`attach`] parses attach
//! points, [`diag`] renders errors as bpftrace does (`stdin:1:5-8: ERROR: …`, source line,
//! `~~~` marks), [`dump`] prints the `-d tokens` / `-d ast` stages, [`tracepoint`] reads
//! tracefs `format` files into typed field lists, and [`testcases`] reads bpftrace's runtime
//! test files. The checker, code generator (through `bpfkit-insn`) and runtime (through
//! `bpfkit`) build on these types.
//!
//! Entry point: [`parse_program`] (text → [`ast::Program`] or a [`TraceError`] whose message
//! is already rendered).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ast;
pub mod attach;
pub mod diag;
pub mod dump;
mod error;
pub mod lexer;
pub mod parser;
pub mod testcases;
pub mod tracepoint;

pub use error::TraceError;

use diag::SourceFile;
use lexer::LexOptions;

/// Parses `text` (named `name` in messages, `stdin` for `-e`) with BTF assumed present.
pub fn parse_program(name: &str, text: &str) -> Result<ast::Program, TraceError> {
    let src = SourceFile::new(name, text);
    parser::parse(text, &LexOptions::with_btf()).map_err(|d| TraceError::script(&src, d))
}
