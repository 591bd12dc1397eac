//! Resolution of a script's `#include` directives against the system header directories.
//!
//! Headers are not parsed; a directive only has to name a file that exists, as a C
//! preprocessor would require. A missing file is a fatal error in the preprocessor's wording.

use crate::ast::Program;
use std::path::Path;

/// The directories searched for `#include <...>`, in order.
pub(crate) const SEARCH_DIRS: &[&str] = &[
    "/usr/local/include",
    "/usr/include/x86_64-linux-gnu",
    "/usr/include/aarch64-linux-gnu",
    "/usr/include",
];

/// Checks that every `#include` of `prog` (whose source is `text`) names an existing file.
///
/// The error reads `definitions.h:LINE:COL: fatal error: 'PATH' file not found`: the script
/// is compiled as the second and following lines of a generated `definitions.h`, so LINE is
/// the script's line plus one and COL the 1-based column of the opening `<` or `"`.
pub fn check_includes(prog: &Program, text: &str) -> Result<(), String> {
    for inc in &prog.includes {
        if header_exists(&inc.path) {
            continue;
        }
        let start = inc.span.start.min(text.len());
        let open = text
            .get(start..)
            .and_then(|rest| rest.find(['<', '"']))
            .map_or(start, |i| start + i);
        let before = text.get(..open).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let col = open - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        return Err(format!(
            "definitions.h:{}:{col}: fatal error: '{}' file not found",
            line + 1,
            inc.path
        ));
    }
    Ok(())
}

/// Whether `path` is an existing absolute or cwd-relative file or exists under a search dir.
pub(crate) fn header_exists(path: &str) -> bool {
    let p = Path::new(path);
    if p.is_absolute() {
        return p.is_file();
    }
    p.is_file() || SEARCH_DIRS.iter().any(|d| Path::new(d).join(p).is_file())
}
