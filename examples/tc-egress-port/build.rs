//! Generates the skeleton of `tc_egress_port.bpf.o` into OUT_DIR. cargo never runs clang:
//! scripts/build-fixtures compiles `tc_egress_port.bpf.c` into `$BPFKIT_FIXTURES` (default
//! `<workspace>/target/fixtures`). Without the object the crate still builds and the binary
//! says how to build it.

use std::path::PathBuf;

use bpfkit::skeleton::{generate, Embed, SkeletonOptions};

fn main() {
    println!("cargo::rustc-check-cfg=cfg(no_object)");
    println!("cargo::rerun-if-env-changed=BPFKIT_FIXTURES");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let obj = std::env::var_os("BPFKIT_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../target/fixtures"))
        .join("tc_egress_port.bpf.o");
    println!("cargo::rerun-if-changed={}", obj.display());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("skel.rs");
    let opts = SkeletonOptions {
        name: "tc_egress_port".into(),
        embed: Embed::IncludeBytes(obj.display().to_string()),
    };
    let skel = std::fs::read(&obj).ok().and_then(|bytes| {
        match generate(&bytes, "tc_egress_port.bpf.o", &opts) {
            Ok(s) => Some(s),
            Err(e) => {
                println!("cargo::warning=skeleton of {}: {e}", obj.display());
                None
            }
        }
    });
    match skel.map(|s| std::fs::write(&out, s)) {
        Some(Ok(())) => {}
        _ => {
            println!("cargo::rustc-cfg=no_object");
            println!("cargo::rustc-env=BPF_OBJECT={}", obj.display());
        }
    }
}
