//! The BTF in the object model (DATASECs filled in, externs rewritten) is accepted as-is by the
//! running kernel's BPF_BTF_LOAD, for our fixtures and for the objects of libbpf-tools. The
//! unfixed `.BTF` of the same objects is refused, so the test shows the fixups matter.

use std::path::PathBuf;

use bpfkit_elf::{extract_embedded_objects, Object};

fn fixture_bytes(name: &str) -> Vec<u8> {
    let dir = match std::env::var_os("BPFKIT_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/fixtures"),
    };
    let path = dir.join(format!("{name}.bpf.o"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "fixture {} is missing ({e}); run scripts/build-fixtures first",
            path.display()
        )
    })
}

fn raw_btf_section(o: &[u8]) -> Vec<u8> {
    use object::{Object as _, ObjectSection as _};
    let f = object::File::parse(o).unwrap();
    f.section_by_name(".BTF").unwrap().data().unwrap().to_vec()
}

fn check(name: &str, bytes: &[u8]) {
    let o = Object::parse(name, bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    let btf = o.btf.as_ref().unwrap();
    if let Err(e) = bpfkit_sys::btf::btf_load(btf.as_bytes()) {
        panic!("{name}: kernel refused the fixed BTF: {e}");
    }
    assert!(
        bpfkit_sys::btf::btf_load(&raw_btf_section(bytes)).is_err(),
        "{name}: the kernel took clang's unfixed .BTF, so this test shows nothing"
    );
}

#[test]
fn fixed_btf_loads_into_the_kernel() {
    for name in [
        "elf_progs",
        "elf_maps",
        "elf_legacy",
        "elf_externs",
        "elf_naming",
    ] {
        check(name, &fixture_bytes(name));
    }
    for tool in [
        "execsnoop",
        "opensnoop",
        "exitsnoop",
        "syscount",
        "runqlat",
        "biolatency",
        "tcplife",
        "bashreadline",
    ] {
        let bin = std::fs::read(format!("/usr/sbin/{tool}")).unwrap();
        check(tool, extract_embedded_objects(&bin)[0]);
    }
}
