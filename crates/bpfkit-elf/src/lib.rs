//! bpfkit-elf (being written; see DESIGN.md for this crate's job).
#![forbid(unsafe_code)]
