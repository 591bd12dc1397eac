//! bpfkit-vm: the userspace eBPF verifier, interpreter and JIT (mission item 5 of README.md).
//!
//! Not written yet: no open issue asks for it. The crate exists so the workspace has the shape
//! of DESIGN.md; it exports nothing.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
