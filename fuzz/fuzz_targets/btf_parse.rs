//! Fuzzes `Btf::parse` and everything that walks the parsed types: decoding, sizes, both dump
//! formats, sanitising, and a CO-RE relocation of each type against itself.
//! Run: `cd fuzz && cargo +nightly fuzz run btf_parse -- -max_total_time=600`
#![no_main]

use bpfkit_btf::{relocate, Btf, CoreRelo, CoreReloKind, Features};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(btf) = Btf::parse(data) else { return };
    let _ = btf.dump_raw(&mut std::io::sink());
    let _ = btf.dump_raw_json(&mut std::io::sink());
    let _ = btf.dump_c(&mut std::io::sink());
    let _ = btf.sanitize(&Features::for_kernel(4, 18));
    for id in 0..=btf.len().min(64) {
        let _ = btf.type_by_id(id);
        let _ = btf.type_size(id);
        let _ = btf.resolve_type(id);
        let relo = CoreRelo {
            insn_off: 0,
            type_id: id,
            access_str_off: 0,
            access: "0:0".into(),
            kind: CoreReloKind::FieldByteOffset as u32,
        };
        let _ = relocate(&btf, &relo, &[&btf]);
    }
    if let Ok(name) = btf.name_of(btf.len()) {
        let _ = btf.find_by_name(name);
        let _ = btf.find_by_name(name);
    }
});
