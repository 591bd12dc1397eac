//! Fuzzes `BtfExt::parse`: the input is split into `.BTF` and `.BTF.ext` at a length given by
//! its first two bytes.
//! Run: `cd fuzz && cargo +nightly fuzz run btf_ext -- -max_total_time=600`
#![no_main]

use bpfkit_btf::{Btf, BtfExt};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let split = (u16::from_le_bytes([data[0], data[1]]) as usize).min(data.len() - 2);
    let (btf, ext) = data[2..].split_at(split);
    let Ok(btf) = Btf::parse(btf) else { return };
    if let Ok(ext) = BtfExt::parse(ext, &btf) {
        for s in &ext.line_info {
            for l in &s.records {
                let _ = l.file_name(&btf);
                let _ = l.source(&btf);
            }
        }
    }
});
