//! bpfkit-trace: the bpftrace language, compiled to eBPF by our own compiler.
//!
//! This crate holds the pure front end (no kernel access but reading tracefs format files, so
//! it tests and fuzzes anywhere):
//! - [`lexer`]: text to [`lexer::Token`]s with byte spans (attach points as single tokens, a
//!   small C preprocessor for `#include`/`#define`/`#if`);
//! - [`parser`]: tokens to the [`ast::Program`] (current bpftrace syntax and the 0.17
//!   spellings), [`attach`] for attach points; [`macros`] expands macro calls (the script's
//!   and the standard `assert`) before checking;
//! - [`check`]: scopes, map and expression [`types::Type`]s, builtins, printf formats
//!   ([`mod@format`]); kernel types arrive through the [`types::TypeSource`] trait
//!   ([`tracepoint::Tracefs`] here, BTF later);
//! - [`diag`]: errors rendered as bpftrace renders them (`stdin:1:5-8: ERROR: …`, the source
//!   line, `~~~` under the text); [`dump`]: the `-d tokens` / `-d ast` / typed-AST stages;
//! - [`tracepoint`]: tracefs `format` files as typed field lists; [`testcases`]: bpftrace's
//!   runtime test files, for the harness.
//!
//! The code generator (through `bpfkit-insn`) and the runtime (through `bpfkit`) build on
//! these types. Entry points: [`parse_program`] (text → [`ast::Program`] or a [`TraceError`]
//! whose message is already rendered) and [`check_program`] (parse and check).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ast;
pub mod attach;
pub mod check;
pub mod codegen;
pub mod diag;
pub mod driver;
pub mod dump;
pub mod emit_elf;
mod error;
pub mod format;
pub mod harness;
pub mod headers;
pub mod includes;
pub mod kernel_probes;
pub mod lexer;
pub mod macros;
pub mod parser;
pub mod probes;
pub mod regalloc;
pub mod runtime;
pub mod testcases;
pub mod tracepoint;
pub mod types;
pub mod usdt;

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
    let mut prog =
        parser::parse(text, &LexOptions::with_btf()).map_err(|d| TraceError::script(&src, d))?;
    macros::expand(&mut prog).map_err(|d| TraceError::script(&src, vec![d]))?;
    let checked = check::check(&prog, types, opts)
        .map_err(|d| TraceError::script(&src, macros::plain_names(d)))?;
    let warnings = src.render_all(&macros::plain_names(checked.warnings.clone()));
    Ok((prog, checked, warnings))
}
