//! Reading an `avg()` map in a probe divides the signed total: negative averages truncate
//! toward zero instead of wrapping. Runs on the real kernel.

mod common;

use common::stdout as run;

#[test]
fn negative_average_compares_and_prints_signed() {
    let s = run("begin { @ = avg(-1); @ = avg(-1); @ = avg(-10); printf(\"%d %d\\n\", @, @ == -4); exit(); }");
    assert_eq!(s, "Attached 1 probe\n-4 1\n\n\n@: -4\n\n");
    let s = run("begin { @ = avg(-7); @ = avg(2); printf(\"%d\\n\", @); @ = avg(9); printf(\"%d\\n\", @); exit(); }");
    assert_eq!(s, "Attached 1 probe\n-2\n1\n\n\n@: 1\n\n");
}
