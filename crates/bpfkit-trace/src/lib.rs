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
//! [`check`] types the program ([`types::Type`], kernel types through the
//! [`types::TypeSource`] trait: [`tracepoint::Tracefs`] here, BTF later), [`format`] parses
//! printf formats.
//!
//! Entry points: [`parse_program`] (text → [`ast::Program`] or a [`TraceError`] whose message
//! is already rendered) and [`check_program`] (parse and check).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ast;
pub mod attach;
pub mod check;
pub mod diag;
pub mod dump;
mod error;
pub mod format;
pub mod lexer;
pub mod parser;
pub mod testcases;
pub mod tracepoint;
pub mod types;

pub use error::TraceError;

use diag::SourceFile;
use lexer::LexOptions;

/// Parses `text` (named `name` in messages, `stdin` for `-e`) with BTF assumed present.
pub fn parse_program(name: &str, text: &str) -> Result<ast::Program, TraceError> {
    let src = SourceFile::new(name, text);
    parser::parse(text, &LexOptions::with_btf()).map_err(|d| TraceError::script(&src, d))
}

/// Parses and checks `text` with kernel types from `types`; warnings come back rendered.
pub fn check_program(
    name: &str,
    text: &str,
    types: &dyn types::TypeSource,
    opts: &check::CheckOptions,
) -> Result<(ast::Program, check::Checked, String), TraceError> {
    let src = SourceFile::new(name, text);
    let prog =
        parser::parse(text, &LexOptions::with_btf()).map_err(|d| TraceError::script(&src, d))?;
    let checked = check::check(&prog, types, opts).map_err(|d| TraceError::script(&src, d))?;
    let warnings = src.render_all(&checked.warnings);
    Ok((prog, checked, warnings))
}
