//! String widening on the running kernel: a tuple variable, a map value and a map key whose
//! strings get longer (or shorter) values later keep every element intact, as bpftrace sizes
//! them to the longest value assigned; `let $x;` starts a fresh zero.

mod common;

use common::stdout as run;

#[test]
fn tuple_variable_widens_and_narrows() {
    let s = run("begin { $a = (\"hi\", 1); print($a); $a = (\"hellolongstr\", 2); print($a); $a = (\"by\", 3); print($a); $b = (\"hi\", (\"hellolongstr\", 2)); $b = (\"hellolongstr\", (\"hi\", 5)); print($b); exit(); }");
    assert_eq!(
        s,
        "Attached 1 probe\n(hi, 1)\n(hellolongstr, 2)\n(by, 3)\n(hellolongstr, (hi, 5))\n\n\n"
    );
}

#[test]
fn map_values_and_keys_widen() {
    let s = run("begin { @v[1] = (\"hi\", (\"hellolongstr\", 2)); @v[1] = (\"hellolongstr\", (\"hi\", 5)); exit(); }");
    assert_eq!(s, "Attached 1 probe\n\n\n@v[1]: (hellolongstr, (hi, 5))\n");
    let s = run("begin { @k[\"hi\", (\"hellolongstr\", 2)] = 1; @k[\"hellolongstr\", (\"hi\", 5)] = 2; exit(); }");
    assert_eq!(
        s,
        "Attached 1 probe\n\n\n@k[hi, (hellolongstr, 2)]: 1\n@k[hellolongstr, (hi, 5)]: 2\n"
    );
    let s =
        run("begin { @m[\"hi\", 1] = 1; @m[\"hellolongstr\", 2] = 2; @m[\"by\", 3] = 3; exit(); }");
    assert_eq!(
        s,
        "Attached 1 probe\n\n\n@m[hi, 1]: 1\n@m[hellolongstr, 2]: 2\n@m[by, 3]: 3\n"
    );
}

#[test]
fn let_redeclared_in_a_later_block_is_zero() {
    let s = run("begin { if 1 { $x = 1; } if 1 { let $x; if $x { $x = 5; } print($x); } exit(); }");
    assert_eq!(s, "Attached 1 probe\n0\n\n\n");
}
