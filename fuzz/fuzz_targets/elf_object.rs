//! Fuzzes the BPF ELF reader: any bytes give an object or an error, never a panic; a parsed
//! object links every program without panicking either.
//!
//! Run (from fuzz/, nightly toolchain, cargo-fuzz installed), seeding the corpus with
//! debug-stripped fixtures (`llvm-objcopy --strip-debug target/fixtures/elf_*.bpf.o`) and the
//! objects embedded in /usr/sbin/execsnoop & co:
//!
//! ```text
//! cargo +nightly fuzz run elf_object CORPUS_DIR -- -max_total_time=600 -timeout=10
//! ```
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(obj) = bpfkit_elf::Object::parse("fuzz", data) {
        for i in 0..obj.programs.len() {
            let _ = obj.link_program(i);
        }
        let _ = obj.kconfig_data(&bpfkit_elf::KconfigEnv::default());
    }
    let _ = bpfkit_elf::extract_embedded_objects(data);
});
