//! The type side on the running kernel: pointer arithmetic scaled by the pointee size,
//! pointer-valued maps printed in hex, tuple element access, `sizeof`/`offsetof` of script
//! and kernel types, and `let` without a value.

mod common;

use common::stdout as run;

#[test]
fn pointer_arithmetic_steps_by_pointee_size() {
    let s = run("begin { @a = (int32 *) 0x30; @a += 2; @b = (int16 *) 0x30; @b--; $p = (uint64 *) 0x100; $q = ++$p; printf(\"%lu %lu\\n\", $q, $p + 1); exit(); }");
    assert_eq!(s, "Attached 1 probe\n264 272\n\n\n@a: 0x38\n@b: 0x2e\n");
}

#[test]
fn script_struct_pointer_math_and_sizeof() {
    let s = run("struct A { int32_t a; int32_t b; char c[28] }; begin { $a = (struct A *) 1024; printf(\"%lu %lu %lu\\n\", sizeof(struct A), offsetof(struct A, b), $a - 5); exit(); }");
    assert_eq!(s, "Attached 1 probe\n36 4 844\n\n\n");
}

#[test]
fn sizeof_and_offsetof_of_kernel_types_come_from_btf() {
    let s = run(
        "begin { printf(\"%d %d\\n\", sizeof(struct task_struct) > 1000, offsetof(struct task_struct, pid) > 0); printf(\"%d %d\\n\", sizeof(uint16), sizeof(int64)); exit(); }",
    );
    assert_eq!(s, "Attached 1 probe\n1 1\n2 8\n\n\n");
}

#[test]
fn tuple_elements_by_dot_and_index() {
    let s = run("begin { $t = (1, \"str\", (5, 6), true); printf(\"%d %s %d %d %d\\n\", $t.0, $t.1, $t.2.1, $t[2][0], $t.3); exit(); }");
    assert_eq!(s, "Attached 1 probe\n1 str 6 5 1\n\n\n");
}

#[test]
fn let_without_value_starts_at_zero() {
    let s = run("begin { let $a; if ($a) { $a = 1; } @b = $a + 3; exit(); }");
    assert_eq!(s, "Attached 1 probe\n\n\n@b: 3\n");
}

#[test]
fn bool_casts_and_bool_variables_print_as_bools() {
    let s = run(
        "begin { @a = count(); $b = (bool)3; print(((bool)@a, (bool)0, $b)); @c = $b; exit(); }",
    );
    assert_eq!(
        s,
        "Attached 1 probe\n(true, false, true)\n\n\n@a: 1\n@c: true\n"
    );
}

#[test]
fn sizeof_a_kernel_enumerator() {
    let s = run("begin { printf(\"%d\\n\", sizeof(BTF_VAR_STATIC)); exit(); }");
    assert_eq!(s, "Attached 1 probe\n8\n\n\n");
}
