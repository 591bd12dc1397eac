//! The crate's error type.

use crate::diag::{Diagnostic, SourceFile};

/// What can go wrong in the bpftrace front end.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The script has errors; `rendered` holds them in bpftrace's layout.
    #[error("{rendered}")]
    Script {
        /// The diagnostics, in order.
        diagnostics: Vec<Diagnostic>,
        /// All of them rendered against the source.
        rendered: String,
    },
    /// A file could not be read.
    #[error("failed to open file '{path}': {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A tracepoint `format` file did not parse.
    #[error("tracepoint format {path}: line {line}: {message}")]
    TracepointFormat {
        /// The file (or `<text>`).
        path: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A bpftrace runtime test file did not parse.
    #[error("test file {path}: line {line}: {message}")]
    TestFile {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

impl TraceError {
    /// Wraps diagnostics about `src`.
    pub fn script(src: &SourceFile, diagnostics: Vec<Diagnostic>) -> TraceError {
        let rendered = src.render_all(&diagnostics);
        TraceError::Script {
            diagnostics,
            rendered: rendered.trim_end().to_string(),
        }
    }
}
