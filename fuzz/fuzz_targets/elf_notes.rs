//! Fuzzes the USDT note reader of `bpfkit-elf`: any bytes give the probe list or an error,
//! never a panic; every probe's argument string parses or fails cleanly, and the symbols its
//! specs name are looked up in the same file. The input, read as text, also goes straight to
//! the argument-spec parser.
//!
//! Run (from fuzz/, nightly toolchain, cargo-fuzz installed), seeding the corpus with
//! executables and libraries that carry `.note.stapsdt` (e.g. libc, libstdc++, python):
//!
//! ```text
//! cargo +nightly fuzz run elf_notes CORPUS_DIR -- -max_total_time=600 -timeout=10
//! ```
#![no_main]

use bpfkit_elf::notes::{parse_usdt_args, symbol_address, usdt_probes, UsdtArgLoc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(probes) = usdt_probes(data) {
        for p in &probes {
            if let Ok(args) = parse_usdt_args(&p.args) {
                for a in &args {
                    if let UsdtArgLoc::Mem {
                        symbol: Some(s), ..
                    } = &a.loc
                    {
                        let _ = symbol_address(data, s);
                    }
                }
            }
        }
    }
    let _ = parse_usdt_args(&String::from_utf8_lossy(data));
});
