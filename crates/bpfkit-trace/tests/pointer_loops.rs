//! On the real kernel: `while` loops whose condition reads a script variable through a
//! pointer (`$p = &$a; while (*$p < 3)`) load and end, `*$p` follows later assignments of
//! the variable, and a loop the verifier cannot follow fails with an error naming the cause.

use bpfkit_trace::driver::{self, Options};

/// Runs `script`; the exit status and stdout, or the error text.
fn run(script: &str) -> Result<(i32, String), String> {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = driver::run("stdin", script, &Options::default(), &mut out, &mut err)?;
    Ok((code, String::from_utf8_lossy(&out).into_owned()))
}

fn output(script: &str) -> String {
    match run(script) {
        Ok((0, out)) => out,
        Ok((c, out)) => panic!("exit status {c}: {out}"),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn while_on_a_pointer_to_a_variable_ends() {
    let out = output(
        "begin { $a = 0; $p = &$a; while (*$p < 3) { $a++; } printf(\"%d %d\\n\", $a, *$p); exit(); }",
    );
    assert_eq!(out, "Attached 1 probe\n3 3\n\n\n");
}

#[test]
fn pointer_set_in_a_branch_to_the_same_variable() {
    let out = output(
        "begin { $a = 0; $p = &$a; if (1) { $p = &$a; } while (*$p < 4) { $a += 2; } \
         printf(\"%d\\n\", *$p); exit(); }",
    );
    assert_eq!(out, "Attached 1 probe\n4\n\n\n");
}

#[test]
fn while_on_a_pointer_inside_a_map_loop() {
    let out = output(
        "begin { @m[1] = 1; @m[2] = 2; $a = 0; $p = &$a; \
         for ($kv : @m) { while (*$p < 2) { $a++; } printf(\"in %d\\n\", *$p); } \
         printf(\"%d\\n\", $a); exit(); }",
    );
    assert_eq!(
        out,
        "Attached 1 probe\nin 2\nin 2\n2\n\n\n@m[1]: 1\n@m[2]: 2\n"
    );
}

#[test]
fn deref_sees_later_values_and_narrow_types() {
    let out = output(
        "begin { $a = 0; $p = &$a; $a = 5; $b = (int8)-3; $q = &$b; \
         printf(\"%d %d %d\\n\", *$p, $a, *$q); exit(); }",
    );
    assert_eq!(out, "Attached 1 probe\n5 5 -3\n\n\n");
}

#[test]
fn pointer_to_two_variables_reads_memory() {
    // `$p` points at `$a`, then at `$b`: not one variable, so `*$p` reads the slot.
    let out = output(
        "begin { $a = 1; $b = 7; $p = &$a; printf(\"%d\\n\", *$p); $p = &$b; \
         printf(\"%d\\n\", *$p); exit(); }",
    );
    assert_eq!(out, "Attached 1 probe\n1\n7\n\n\n");
}

#[test]
fn loop_the_verifier_cannot_follow_names_the_cause() {
    let e = run("begin { $a = 0; $b = 0; $p = &$a; $p = &$b; while (*$p < 3) { $b++; } exit(); }")
        .expect_err("the verifier cannot see this loop end");
    assert!(e.starts_with("begin: "), "{e}");
    assert!(
        e.contains("a `while` loop whose condition it cannot track"),
        "{e}"
    );
}

#[test]
fn loop_with_too_many_branches_names_the_cause() {
    // Each printf has a branch (the ring full or not): 9000 of them on the one path.
    let e = run("begin { $i = 0; while ($i < 9000) { printf(\"%d\\n\", $i); $i++; } exit(); }")
        .expect_err("too many branches on one path");
    assert!(e.starts_with("begin: "), "{e}");
    assert!(e.contains("limit of 8192 branches on one path"), "{e}");
}
