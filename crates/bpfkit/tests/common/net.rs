//! Network and cgroup fixtures of the kernel tests: the veth pair and child cgroup of
//! `bpfkit-testsupport` (shared with the command line's and the examples' tests), and small
//! programs and counter maps built on them.

use bpfkit::{Program, ProgramSpec, ProgramType};

// Each test binary uses some of them.
#[allow(unused_imports)]
pub use bpfkit_testsupport::{cgroup2_root, ChildCgroup, VethPair};

/// Assembles and loads a program from bpftool-style assembly text.
pub fn load_asm(
    name: &str,
    ty: ProgramType,
    attach: Option<bpfkit::AttachType>,
    text: &str,
) -> Program {
    let insns = bpfkit_insn::asm::assemble(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut spec = ProgramSpec::new(name, ty, &insns).license("GPL");
    if let Some(a) = attach {
        spec = spec.expected_attach_type(a);
    }
    Program::load(&spec).unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

/// A one-slot u64 array used as a counter.
pub fn counter_map(name: &str) -> bpfkit::Map {
    bpfkit::Map::create(&bpfkit::MapSpec::new(bpfkit::MapType::Array, 4, 8, 1).name(name))
        .expect("creating a counter map")
}

/// Reads the counter of [`counter_map`].
pub fn read_counter(map: &bpfkit::Map) -> u64 {
    let v = map
        .lookup(&0u32.to_ne_bytes())
        .expect("reading the counter")
        .expect("slot 0 exists");
    u64::from_ne_bytes(v[..8].try_into().expect("8-byte value"))
}

/// Instructions that add 1 to slot 0 of the counter map with fd `fd`; uses r1–r5, r0 and
/// the stack slot at fp-4. Labels get `tag` so several can sit in one program.
pub fn count_asm(fd: i32, tag: &str) -> String {
    format!(
        "*(u32 *)(r10 -4) = 0\n\
         r1 = map[fd:{fd}]\n\
         r2 = r10\n\
         r2 += -4\n\
         call map_lookup_elem\n\
         if r0 == 0x0 goto skip_{tag}\n\
         r1 = 1\n\
         lock *(u64 *)(r0 +0) += r1\n\
         skip_{tag}:\n"
    )
}

/// A map's raw fd, for `map[fd:N]` in assembly text.
pub fn fd_of(map: &bpfkit::Map) -> i32 {
    use std::os::fd::AsRawFd;
    map.fd().as_raw_fd()
}
