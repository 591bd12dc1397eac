//! Split BTF of kernel modules: every `/sys/kernel/btf/<module>` parses on top of vmlinux,
//! and the types a module defines resolve by name, with members whose types live in vmlinux.
//!
//! The host has no modules (it skips with the reason); `scripts/kernel-matrix` runs this on
//! Debian's 6.1 and 6.12 kernels, whose guests load veth and the traffic-control modules.

mod common;

use bpfkit_btf::{Btf, Kind};

fn modules() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/sys/kernel/btf")
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "vmlinux")
        .collect();
    v.sort();
    v
}

#[test]
fn every_module_btf_parses_split_on_vmlinux() {
    require_feature!(Btf, ModuleBtf);
    let base = Btf::vmlinux().unwrap();
    for m in modules() {
        let btf = Btf::module(&m, &base).unwrap_or_else(|e| panic!("module {m}: {e}"));
        assert_eq!(btf.start_id(), base.len() + 1, "module {m}");
        // Base types are visible through the module's BTF under their vmlinux ids.
        let int = base.find_by_name_kind("int", Kind::Int).unwrap();
        assert_eq!(btf.find_by_name_kind("int", Kind::Int), Some(int), "{m}");
        // Every type the module defines decodes, and named ones resolve to themselves.
        let mut named = 0;
        for id in btf.start_id()..=btf.len() {
            let t = btf
                .type_by_id(id)
                .unwrap_or_else(|e| panic!("{m} type {id}: {e}"));
            if matches!(t.kind, Kind::Struct | Kind::Union) && !t.name.is_empty() {
                named += 1;
                let found = btf.find_candidates(t.name, Some(t.kind));
                assert!(
                    found.contains(&id),
                    "{m}: {} {id} not found: {found:?}",
                    t.name
                );
                for member in t.members() {
                    btf.type_by_id(member.type_id).unwrap_or_else(|e| {
                        panic!(
                            "{m}: {}.{} type {}: {e}",
                            t.name, member.name, member.type_id
                        )
                    });
                }
            }
        }
        eprintln!(
            "module {m}: {} types, {named} named structs/unions",
            btf.len() + 1 - btf.start_id()
        );
    }
}

#[test]
fn veth_priv_resolves_in_veth_btf() {
    require_feature!(Btf, ModuleBtf);
    if !modules().iter().any(|m| m == "veth") {
        // Guests of the kernel matrix load veth; a host with other modules has nothing to check.
        eprintln!("veth is not loaded; the test above covered the modules present");
        return;
    }
    let base = Btf::vmlinux().unwrap();
    assert_eq!(base.find_by_name_kind("veth_priv", Kind::Struct), None);
    let veth = Btf::module("veth", &base).unwrap();
    let id = veth
        .find_by_name_kind("veth_priv", Kind::Struct)
        .expect("struct veth_priv in veth's BTF");
    assert!(id >= veth.start_id(), "defined by the module: id {id}");
    let t = veth.type_by_id(id).unwrap();
    // `struct net_device __rcu *peer;` points into vmlinux.
    let peer = t
        .members()
        .iter()
        .find(|m| m.name == "peer")
        .expect("veth_priv.peer");
    let pointee = veth.skip_modifiers(peer.type_id).unwrap();
    let ptr = veth.type_by_id(pointee).unwrap();
    assert_eq!(ptr.kind, Kind::Ptr);
    let bpfkit_btf::Detail::Ptr { type_id } = ptr.detail else {
        panic!("{ptr:?}")
    };
    let dev = veth.skip_modifiers(type_id).unwrap();
    assert!(dev < veth.start_id(), "net_device is vmlinux's");
    assert_eq!(veth.name_of(dev).unwrap(), "net_device");
    assert_eq!(
        base.find_by_name_kind("net_device", Kind::Struct),
        Some(dev)
    );
}
