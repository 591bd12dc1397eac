//! Generates the skeleton of `execsnoop.bpf.o` into OUT_DIR. This build never runs clang:
//! scripts/build-fixtures compiles `execsnoop.bpf.c` into `$BPFKIT_FIXTURES` (default
//! `<workspace>/target/fixtures`). Without the object the crate still builds, and the binary
//! says how to build the object (so `cargo build --workspace` works on a machine without
//! clang).

use std::path::PathBuf;

use bpfkit::skeleton::{generate, Embed, SkeletonOptions};

fn main() {
    println!("cargo::rustc-check-cfg=cfg(execsnoop_no_object)");
    println!("cargo::rerun-if-env-changed=BPFKIT_FIXTURES");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let fixtures = std::env::var_os("BPFKIT_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../target/fixtures"));
    let obj = fixtures.join("execsnoop.bpf.o");
    println!("cargo::rerun-if-changed={}", obj.display());
    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("execsnoop.skel.rs");
    let src = std::fs::read(&obj).ok().and_then(|bytes| {
        let opts = SkeletonOptions {
            name: "execsnoop".into(),
            embed: Embed::IncludeBytes(obj.display().to_string()),
        };
        match generate(&bytes, "execsnoop.bpf.o", &opts) {
            Ok(s) => Some(s),
            Err(e) => {
                println!("cargo::warning=skeleton of {}: {e}", obj.display());
                None
            }
        }
    });
    match src {
        Some(s) => {
            if let Err(e) = std::fs::write(&out, s) {
                println!("cargo::warning=writing {}: {e}", out.display());
            }
        }
        None => {
            println!("cargo::rustc-cfg=execsnoop_no_object");
            println!("cargo::rustc-env=EXECSNOOP_OBJECT={}", obj.display());
        }
    }
}
