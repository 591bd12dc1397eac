//! Parsing and lookups on this machine's kernel BTF.

use bpfkit_btf::{Btf, Detail, Kind};

#[test]
fn vmlinux_task_struct_lookup_and_decode() {
    let btf = Btf::vmlinux().expect("parse /sys/kernel/btf/vmlinux");
    assert!(btf.len() > 10_000, "vmlinux has {} types", btf.len());
    let id = btf
        .find_by_name_kind("task_struct", Kind::Struct)
        .expect("task_struct");
    let t = btf.type_by_id(id).unwrap();
    assert_eq!(t.name, "task_struct");
    assert_eq!(t.kind, Kind::Struct);
    let pid = t
        .members()
        .iter()
        .find(|m| m.name == "pid")
        .expect("task_struct.pid");
    assert_eq!(btf.type_size(pid.type_id).unwrap(), 4);
    assert_eq!(btf.type_size(id).unwrap(), t.size().unwrap() as u64);
    // The second lookup goes through the hash index and must agree with the scan.
    assert_eq!(btf.find_by_name_kind("task_struct", Kind::Struct), Some(id));
    assert_eq!(btf.find_by_name_kind("task_struct", Kind::Union), None);
    let fwd_or_none = btf.find_by_name_kind("no_such_type_at_all", Kind::Struct);
    assert_eq!(fwd_or_none, None);
    // Every type decodes.
    let mut n = 0;
    for t in btf.types() {
        t.unwrap();
        n += 1;
    }
    assert_eq!(n, btf.len());
    let f = btf.find_by_name_kind("bpf_trace_printk", Kind::Func);
    if let Some(f) = f {
        let t = btf.type_by_id(f).unwrap();
        assert!(matches!(t.detail, Detail::Func { .. }));
    }
    let pid_t = btf.find_by_name_kind("pid_t", Kind::Typedef).unwrap();
    let int = btf.resolve_type(pid_t).unwrap();
    assert_eq!(btf.name_of(int).unwrap(), "int");
}

/// The first few distinct names are found by scanning (and remembered), later ones through
/// the full name index: both paths, and a repeated lookup, give the same ids.
#[test]
fn scanned_and_indexed_lookups_agree() {
    let names = [
        ("task_struct", Kind::Struct),
        ("list_head", Kind::Struct),
        ("pid_t", Kind::Typedef),
        ("bpf_map_type", Kind::Enum),
        ("trace_event_raw_sys_enter", Kind::Struct),
        ("mm_struct", Kind::Struct),
        ("file", Kind::Struct),
        ("inode", Kind::Struct),
        ("sock", Kind::Struct),
        ("bpf_trace_printk", Kind::Func),
        ("no_such_type_at_all", Kind::Struct),
    ];
    let scanned = Btf::from_file("/sys/kernel/btf/vmlinux").unwrap();
    let indexed = Btf::from_file("/sys/kernel/btf/vmlinux").unwrap();
    // More distinct names than are scanned, so `indexed` answers the checked lookups from
    // its index while `scanned` answers the first ones by scanning.
    for (n, _) in &names {
        indexed.find_candidates(n, None);
    }
    for (n, k) in names {
        let first = scanned.find_candidates(n, None);
        assert_eq!(scanned.find_candidates(n, None), first, "repeat {n}");
        assert_eq!(indexed.find_candidates(n, None), first, "{n}");
        assert_eq!(
            scanned.find_by_name_kind(n, k),
            indexed.find_by_name_kind(n, k),
            "{n}"
        );
        assert_eq!(
            first.is_empty(),
            n == "no_such_type_at_all",
            "{n}: {first:?}"
        );
    }
}
