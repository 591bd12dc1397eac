//! `&$var` and `*ptr` on script variables, integer and bool array casts, script structs
//! that redefine kernel structs, and one scratch slot per string/tuple variable whatever
//! path assigns it. Each script runs on the real kernel and its output is compared exactly.

mod common;

use common::run_any;

/// Runs `script`, which must succeed, and returns its output after the attach line, with
/// the blank lines printed at exit cut to one line end.
fn run(script: &str) -> String {
    let (r, out, err) = run_any(script);
    assert_eq!(r, Ok(0), "stderr: {err}");
    let body = out.strip_prefix("Attached 1 probe\n").unwrap_or(&out);
    format!("{}\n", body.trim_end_matches('\n'))
}

#[test]
fn address_of_variables_reads_back_through_the_pointer() {
    // The pointer sees later assignments: the variable lives at that address.
    let s =
        run("begin { $a = 1; $b = &$a; $a = 5; $a += 2; printf(\"%d %d\\n\", *$b, $a); exit(); }");
    assert_eq!(s, "7 7\n");
    let s = run("begin { let $x; $p = &$x; $x = 5; printf(\"%d\\n\", *$p); exit(); }");
    assert_eq!(s, "5\n");
    let s = run("begin { $a = (1, \"hello\", 2); print(*(&$a)); exit(); }");
    assert_eq!(s, "(1, hello, 2)\n");
    let s = run(
        "begin { $a = \"hello\"; $b = (int8 *)&$a; printf(\"%c %c\\n\", *$b, *++$b); exit(); }",
    );
    assert_eq!(s, "h e\n");
    let s = run("begin { $a = 1; $b = &$a; print(($b, *$b)); exit(); }");
    assert!(s.starts_with("(0x") && s.ends_with(", 1)\n"), "{s:?}");
}

#[test]
fn integer_array_casts_reinterpret_bytes() {
    let s = run("begin { printf(\"%x %x\\n\", ((int8[8])12345)[0], ((int8[])12345)[1]); exit(); }");
    assert_eq!(s, "39 30\n");
    let s = run("begin { print((int8[])\"hello\"); exit(); }");
    assert_eq!(s, "[104,101,108,108,111,0]\n");
    let s = run("begin { $i = 4; $a = (int8[])\"hello\"; printf(\"%d %d\\n\", $a[$i], $a[$i + 5]); exit(); }");
    assert_eq!(s, "111 0\n");
    let s = run("begin { @a = (bool[2])(uint16)1; exit(); }");
    assert!(s.ends_with("\n@a: [true,false]\n"), "{s:?}");
}

#[test]
fn script_structs_win_over_kernel_structs() {
    let s = run("struct task_struct { int x; } begin { printf(\"%d\\n\", curtask.x + 1 - 1 == curtask.x); exit() }");
    assert_eq!(s, "1\n");
    // The interval can fire again before exit() takes effect: every line must say 1.
    let s = run("struct x { unsigned long x; } i:ms:1 { printf(\"%d\\n\", ((struct x *)ctx).x == *(uint64 *)ctx); exit(); }");
    assert!(s.starts_with("1\n") && s.lines().all(|l| l == "1"), "{s:?}");
    let (r, _, err) = run_any(
        "struct task_struct { struct thread_info x; } begin { printf(\"%d\\n\", curtask.x.status); }",
    );
    assert!(r.is_err() || r == Ok(1), "{r:?}");
    let all = format!("{err}{}", r.err().unwrap_or_default());
    assert!(
        all.contains("error: field has incomplete type 'struct thread_info'"),
        "{all}"
    );
}

#[test]
fn bitfields_of_a_script_struct_read_through_a_pointer() {
    let s = run("struct foo { unsigned long long x_0:1; unsigned long long x_1:1; unsigned long long x_2:2; } begin { $val = (uint64)0x1e; $f = *(struct foo *)(&$val); printf(\"%d %d %d\\n\", $f.x_0, $f.x_1, $f.x_2); exit(); }");
    assert_eq!(s, "0 1 3\n");
}

#[test]
fn literal_integers_take_their_smallest_type_in_sizeof() {
    let s = run("begin { $x = 1; $y = 300; $t = ((int8)1, 3, \"ab\"); printf(\"%d %d %d %d\\n\", sizeof($x), sizeof($y), sizeof($t), sizeof(-70000)); exit(); }");
    assert_eq!(s, "1 2 5 4\n");
}

#[test]
fn a_variable_keeps_one_slot_across_branches_and_loops() {
    // The longer value assigned in a branch not taken must not move the variable.
    let s = run("begin { $t = (1, \"a\"); if (pid == 1) { $t = (2, \"longer\"); } print($t); $s = \"x\"; if (pid == 1) { $s = \"much longer string\"; } print($s); exit() }");
    assert_eq!(s, "(1, a)\nx\n");
    let s = run("begin { $i = 0; $u = (0, \"\"); while ($i < 3) { if ($i == 1) { $u = (3, \"abcdefghij\"); } else { $u = (4, \"b\"); } print($u); $i++; } exit() }");
    assert_eq!(s, "(4, b)\n(3, abcdefghij)\n(4, b)\n");
    // A shorter string leaves no bytes of the longer one behind: equal keys stay equal.
    let s = run("begin { $s = \"longer\"; @m[$s] = 1; $s = \"x\"; @m[$s] = 2; $s = \"x\"; @m[$s] = 3; exit() }");
    assert!(
        s.contains("@m[x]: 3\n") && s.contains("@m[longer]: 1\n") && !s.contains("@m[x]: 2"),
        "{s:?}"
    );
}

#[test]
fn pointer_indexing_reads_elements_of_the_pointee_type() {
    let s = run("begin { $x = (uint32)0x01020304; $q = (uint8 *)&$x; $i = 2; printf(\"%d %d %d\\n\", $q[0], $q[$i], $q[3]); exit() }");
    assert_eq!(s, "4 2 1\n");
}

#[test]
fn arrays_and_pointers_decode_as_bpftrace_prints_them() {
    use bpfkit_trace::runtime::format::decode;
    use bpfkit_trace::types::Type;
    let i8s = Type::Array(
        Box::new(Type::Int {
            bits: 8,
            signed: true,
        }),
        3,
    );
    assert_eq!(
        decode(&i8s, &[0xff, 1, 2, 0, 0, 0, 0, 0]).display(),
        "[-1,1,2]"
    );
    let u16s = Type::Array(
        Box::new(Type::Int {
            bits: 16,
            signed: false,
        }),
        2,
    );
    assert_eq!(
        decode(&u16s, &[0xff, 0xff, 2, 0, 0, 0, 0, 0]).display(),
        "[65535,2]"
    );
    // A buffer shorter than the array yields only the elements it holds.
    assert_eq!(decode(&u16s, &[7, 0]).display(), "[7]");
    let p = Type::Pointer(Box::new(Type::U64));
    assert_eq!(decode(&p, &0x32u64.to_le_bytes()).display(), "0x32");
}

#[test]
fn script_struct_members_read_through_a_pointer_keep_their_kinds() {
    // Integer arrays stay arrays (and cast back to integers), char arrays read as strings.
    let s = run("struct A { int x[2]; uint8_t y[4]; char s[4]; } begin { $v = (0x0000000200000001, 0x00434241ddccbbaa); $p = (struct A *)&$v; printf(\"y: %x %s\\n\", (int32)$p->y, $p->s); print($p->x); printf(\"%x\\n\", (uint32)pton(\"127.0.0.1\")); exit() }");
    assert_eq!(s, "y: ddccbbaa ABC\n[1,2]\n100007f\n");
}

#[test]
fn nested_script_structs_read_through_pointers_and_values() {
    // (1, 2, 3) lays out three 8-byte integers: O.a = 1, O.i.m = 0 (high half), O.i.n = 2.
    let s = run("struct I { int m; int n; } struct O { int a; struct I i; } begin { $v = (1, 2, 3); $p = (struct O *)&$v; printf(\"%d %d %d %d\\n\", $p->a, $p->i.m, $p->i.n, (*$p).i.n); exit() }");
    assert_eq!(s, "1 0 2 2\n");
}

#[test]
#[cfg(target_arch = "x86_64")]
fn tracepoint_array_fields_are_arrays() {
    // getppid() (110 on x86-64) takes no arguments: its six argument slots are the registers at entry, but
    // the syscall number and the element count are fixed.
    let me = std::process::id();
    let script = format!(
        "tracepoint:raw_syscalls:sys_enter /pid == {me} && args.id == 110/ {{ $a = args.args; $i = 5; printf(\"%d %d\\n\", args.id, $a[$i] == args.args[5]); print(sizeof($a)); exit() }}"
    );
    let t = std::thread::spawn(|| {
        for _ in 0..200 {
            std::thread::sleep(std::time::Duration::from_millis(5));
            let _ = std::os::unix::process::parent_id();
        }
    });
    let s = run(&script);
    assert_eq!(s, "110 1\n48\n");
    drop(t);
}
