//! `for ($kv : @map)` (a `bpf_for_each_map_elem` callback subprogram) and `len(@map)`, run
//! by our driver against the real kernel. Outputs are compared byte for byte; scripts whose
//! maps have several elements only print results that do not depend on hash order.

mod common;

use common::body as run;

#[test]
fn the_body_sees_keys_values_and_updates_probe_variables() {
    let out = run(
        r#"begin { @a[1] = 2; @a[3] = 4; @a[5] = 6; $s = 0; $keys = 0;
        for ($kv : @a) { if ($kv.0 == 3) { continue; } $s += $kv.1; $keys += $kv.0; }
        printf("s=%d keys=%d len=%d\n", $s, $keys, len(@a)); clear(@a); exit(); }"#,
    );
    assert_eq!(out, "s=8 keys=6 len=3\n\n\n");
}

#[test]
fn break_stops_the_iteration() {
    let out = run(r#"begin { @a[1] = 1; @a[2] = 2; @a[3] = 3; $n = 0;
        for ($kv : @a) { $n++; break; } printf("n=%d\n", $n); clear(@a); exit(); }"#);
    assert_eq!(out, "n=1\n\n\n");
}

#[test]
fn string_keys_tuple_keys_nested_loops_and_whole_tuples() {
    let out = run(r#"begin { @a["x"] = "hello"; @b[1, 2] = 3;
        for ($kv : @a) { for ($j : @b) { printf("%s %s %d %d %d\n", $kv.0, $kv.1, $j.0.0, $j.0.1, $j.1); } }
        for ($kv : @b) { print($kv); } clear(@a); clear(@b); exit(); }"#);
    assert_eq!(out, "x hello 1 2 3\n((1, 2), 3)\n\n\n");
}

#[test]
fn an_empty_map_runs_no_iteration_and_has_length_zero() {
    let out = run(r#"begin { @a[1] = 1; delete(@a, 1); $n = 0;
        for ($kv : @a) { $n++; } printf("n=%d len=%d\n", $n, len(@a)); exit(); }"#);
    assert_eq!(out, "n=0 len=0\n\n\n");
}
