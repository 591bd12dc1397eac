//! `#include` directives: a header found under the system include directories compiles, a
//! missing one fails with the preprocessor's `fatal error: 'PATH' file not found` wording.

use bpfkit_trace::driver::{compile, Options};

/// Compiles `text` as an `-e` script and returns the error text, if any.
fn compile_err(text: &str) -> Option<String> {
    compile("stdin", text, &Options::default(), &mut Vec::new()).err()
}

#[test]
fn missing_header_is_a_fatal_error_with_its_position() {
    assert_eq!(
        compile_err("#include <lol/no.h>\nbegin { }").as_deref(),
        Some("definitions.h:2:10: fatal error: 'lol/no.h' file not found")
    );
    assert_eq!(
        compile_err("#define X 1\n#include \"bpfkit/none_such.h\"\nbegin { }").as_deref(),
        Some("definitions.h:3:10: fatal error: 'bpfkit/none_such.h' file not found")
    );
}

#[test]
fn existing_headers_compile() {
    assert_eq!(compile_err("#include <linux/types.h>\nbegin { }"), None);
    assert_eq!(compile_err("#include </etc/hostname>\nbegin { }"), None);
}
