//! The probes themselves: each loads a minimal program or creates a minimal map and reads the
//! kernel's answer. Nothing here caches; `features.rs` does.

use std::ffi::CStr;
use std::os::fd::{AsFd, OwnedFd};

use bpfkit_insn::{insns_to_bytes, Builder, Insn, JmpOp, Reg};
use bpfkit_sys::map::{map_create, MapCreateAttr};
use bpfkit_sys::prog::{prog_load, ProgLoad, F_SLEEPABLE};

use crate::error::{Error, Result};

const GPL: &CStr = c"GPL";
/// The kernel's `ENOTSUPP` (524): the type exists but this minimal setup cannot be used
/// (struct_ops programs and maps without in-kernel BTF).
const ENOTSUPP: i32 = 524;

/// How a program type answered its probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProgStatus {
    /// A minimal program of the type loads.
    Loads,
    /// The kernel knows the type but a minimal program cannot load (needs in-kernel BTF).
    KnownOnly,
    /// The kernel lacks the type, or refuses it outright.
    Unsupported,
}

/// The load attributes that make a `r0 = 0; exit` program acceptable for each type.
fn base_load(prog_type: u32) -> ProgLoad<'static> {
    let mut p = ProgLoad {
        prog_type,
        license: Some(GPL),
        ..Default::default()
    };
    match prog_type {
        // kprobe: kernels before 5.0 check kern_version against their own.
        2 => p.kern_version = kernel_version_code(),
        // cgroup_sock_addr: BPF_CGROUP_INET4_CONNECT.
        18 => p.expected_attach_type = 10,
        // lirc_mode2: BPF_LIRC_MODE2.
        20 => p.expected_attach_type = 16,
        // cgroup_sockopt: BPF_CGROUP_GETSOCKOPT.
        25 => p.expected_attach_type = 21,
        // tracing (BPF_TRACE_FENTRY), ext and lsm (BPF_LSM_MAC): any BTF id makes the kernel
        // look at the program; a kernel that knows the type answers with a verifier message,
        // one that forbids it (lockdown) with EPERM.
        26 => {
            p.expected_attach_type = 24;
            p.attach_btf_id = 1;
        }
        28 => p.attach_btf_id = 1,
        29 => {
            p.expected_attach_type = 27;
            p.attach_btf_id = 1;
        }
        // sk_lookup: BPF_SK_LOOKUP.
        30 => p.expected_attach_type = 36,
        // syscall programs must be sleepable.
        31 => p.prog_flags = F_SLEEPABLE,
        // netfilter: BPF_NETFILTER.
        32 => p.expected_attach_type = 45,
        _ => {}
    }
    p
}

/// Encodes the program `f` writes.
fn encode(f: impl FnOnce(&mut Builder)) -> Result<Vec<u8>> {
    let mut b = Builder::new();
    f(&mut b);
    Ok(insns_to_bytes(&build(&b)?))
}

fn ret0() -> Result<Vec<u8>> {
    encode(|b| {
        b.mov64_imm(Reg::R0, 0).exit();
    })
}

/// A refusal that means "not permitted to this caller", as opposed to "not supported".
fn permission(e: &bpfkit_sys::Error) -> bool {
    matches!(e, bpfkit_sys::Error::Permission { .. })
}

pub(crate) fn prog_type(prog_type: u32) -> Result<ProgStatus> {
    let insns = ret0()?;
    let mut p = base_load(prog_type);
    p.insns = &insns;
    match prog_load(&p) {
        Ok(_) => Ok(ProgStatus::Loads),
        Err(f) if permission(&f.error) => Err(Error::Sys(f.error)),
        Err(f) => Ok(match f.error.errno() {
            Some(libc::EPERM) => ProgStatus::Unsupported,
            Some(ENOTSUPP) => ProgStatus::KnownOnly,
            // The verifier ran (so the type exists) and rejected the minimal setup.
            _ if !f.log.is_empty() => ProgStatus::KnownOnly,
            _ => ProgStatus::Unsupported,
        }),
    }
}

/// Whether `helper` may be called from `prog_type` (which must load, see [`prog_type`]).
///
/// The probe calls the helper with whatever the registers hold. The verifier checks the
/// helper id against the program type before it checks any argument, so only its "no such
/// helper here" messages mean the helper is missing; any other outcome (a load, or a complaint
/// about an argument) means the helper exists for this type.
pub(crate) fn helper(prog_type: u32, helper: u32) -> Result<bool> {
    let insns = encode(|b| {
        b.call_helper(helper).exit();
    })?;
    let mut p = base_load(prog_type);
    p.insns = &insns;
    p.log_level = 1;
    match prog_load(&p) {
        Ok(_) => Ok(true),
        Err(f) if permission(&f.error) => Err(Error::Sys(f.error)),
        Err(f) => Ok(!helper_missing(&f.log)),
    }
}

/// The verifier's wordings for a helper that does not exist (`invalid func`), that the program
/// type may not call (`unknown func` before 6.2, `program of this type cannot use helper` since).
pub(crate) fn helper_missing(log: &str) -> bool {
    log.contains("invalid func ")
        || log.contains("unknown func ")
        || log.contains("cannot use helper ")
}

fn load_socket_filter(insns: &[Insn]) -> Result<bool> {
    let bytes = insns_to_bytes(insns);
    load_socket_filter_bytes(&bytes)
}

fn load_socket_filter_bytes(bytes: &[u8]) -> Result<bool> {
    let p = ProgLoad {
        prog_type: 1,
        insns: bytes,
        license: Some(GPL),
        ..Default::default()
    };
    match prog_load(&p) {
        Ok(_) => Ok(true),
        Err(f) if permission(&f.error) => Err(Error::Sys(f.error)),
        Err(_) => Ok(false),
    }
}

fn build(b: &Builder) -> Result<Vec<Insn>> {
    b.build()
        .map_err(|e| Error::InvalidArgument(format!("feature probe program: {e}")))
}

/// Programs over 4096 instructions (the limit before 5.2) load.
pub(crate) fn large_insn_limit() -> Result<bool> {
    let insns = encode(|b| {
        for _ in 0..4096 {
            b.mov64_imm(Reg::R0, 0);
        }
        b.exit();
    })?;
    load_socket_filter_bytes(&insns)
}

/// A loop with a back edge the verifier can bound (5.3) loads.
pub(crate) fn bounded_loops() -> Result<bool> {
    let mut b = Builder::new();
    b.mov64_imm(Reg::R0, 10)
        .label("again")
        .alu64_imm(bpfkit_insn::AluOp::Sub, Reg::R0, 1)
        .jmp_imm(JmpOp::Ne, Reg::R0, 0, "again")
        .exit();
    load_socket_filter(&build(&b)?)
}

/// ISA v2: the `<`, `<=` (signed and unsigned) jumps (4.14).
pub(crate) fn isa_v2() -> Result<bool> {
    let mut b = Builder::new();
    b.mov64_imm(Reg::R0, 0)
        .jmp_imm(JmpOp::Lt, Reg::R0, 1, "out")
        .mov64_imm(Reg::R0, 1)
        .label("out")
        .exit();
    load_socket_filter(&build(&b)?)
}

/// ISA v3: 32-bit jumps (5.1).
pub(crate) fn isa_v3() -> Result<bool> {
    let mut b = Builder::new();
    b.mov64_imm(Reg::R0, 0)
        .jmp32_imm(JmpOp::Lt, Reg::R0, 1, "out")
        .mov64_imm(Reg::R0, 1)
        .label("out")
        .exit();
    load_socket_filter(&build(&b)?)
}

/// ISA v4: sign-extending moves, signed division, byte swaps, 32-bit-offset jumps (6.6).
pub(crate) fn isa_v4() -> Result<bool> {
    let mut b = Builder::new();
    b.mov64_imm(Reg::R0, -1)
        .movsx64(Reg::R0, Reg::R0, 8)
        .bswap(Reg::R0, 16)
        .jmp_long("out")
        .label("out")
        .mov64_imm(Reg::R0, 0)
        .exit();
    load_socket_filter(&build(&b)?)
}

/// A minimal BTF blob for local-storage maps: `int` (id 1) as key, `struct { int a; int b; }`
/// (id 2) as the 8-byte value.
fn storage_btf() -> Vec<u8> {
    let strings: &[u8] = b"\0int\0val\0a\0b\0";
    let mut types: Vec<u32> = Vec::new();
    // [1] INT "int" size 4, signed, 32 bits.
    types.extend([1, 1 << 24, 4, (1 << 24) | 32]);
    // [2] STRUCT "val" size 8, two members.
    types.extend([5, (4 << 24) | 2, 8]);
    types.extend([9, 1, 0]);
    types.extend([11, 1, 32]);
    let type_len = (types.len() * 4) as u32;
    let mut out = Vec::new();
    out.extend_from_slice(&0xeb9fu16.to_ne_bytes());
    out.push(1); // version
    out.push(0); // flags
    for v in [24u32, 0, type_len, type_len, strings.len() as u32] {
        out.extend_from_slice(&v.to_ne_bytes());
    }
    for t in types {
        out.extend_from_slice(&t.to_ne_bytes());
    }
    out.extend_from_slice(strings);
    out
}

fn create(attr: &MapCreateAttr) -> Result<Option<OwnedFd>> {
    match map_create(attr) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if permission(&e) => Err(Error::Sys(e)),
        Err(e) if e.errno() == Some(ENOTSUPP) => Err(Error::Sys(e)),
        Err(_) => Ok(None),
    }
}

pub(crate) fn map_type(map_type: u32) -> Result<bool> {
    let page = bpfkit_sys::mmap::page_size() as u32;
    let mut a = MapCreateAttr {
        map_type,
        key_size: 4,
        value_size: 4,
        max_entries: 1,
        ..Default::default()
    };
    // Keeps the inner map or BTF object alive for the duration of the create.
    let mut _keep: Option<OwnedFd> = None;
    match map_type {
        // stack_trace: values are arrays of u64 frames.
        7 => a.value_size = 8,
        // lpm_trie: key = u32 prefix length + data; must not preallocate.
        11 => {
            a.key_size = 8;
            a.value_size = 8;
            a.map_flags = 1;
        }
        // array_of_maps, hash_of_maps: need an inner map as template.
        12 | 13 => {
            let inner = MapCreateAttr {
                map_type: 1,
                key_size: 4,
                value_size: 4,
                max_entries: 1,
                ..Default::default()
            };
            let Some(fd) = create(&inner)? else {
                return Ok(false);
            };
            a.inner_map_fd = std::os::fd::AsRawFd::as_raw_fd(&fd) as u32;
            _keep = Some(fd);
        }
        // cgroup_storage, percpu_cgroup_storage: key is struct bpf_cgroup_storage_key, no entries.
        19 | 21 => {
            a.key_size = 16;
            a.value_size = 8;
            a.max_entries = 0;
        }
        // queue, stack, bloom_filter: no key.
        22 | 23 | 30 => a.key_size = 0,
        // sk, inode, task and cgroup storage: BTF-described key and value, no entries.
        24 | 28 | 29 | 32 => {
            let btf = match bpfkit_sys::btf::btf_load(&storage_btf()) {
                Ok(fd) => fd,
                Err(e) if permission(&e.error) => return Err(Error::Sys(e.error)),
                Err(_) => return Ok(false),
            };
            a.value_size = 8;
            a.max_entries = 0;
            a.map_flags = 1;
            a.btf_fd = std::os::fd::AsRawFd::as_raw_fd(&btf.as_fd()) as u32;
            a.btf_key_type_id = 1;
            a.btf_value_type_id = 2;
            _keep = Some(btf);
        }
        // struct_ops: needs a vmlinux value type; any id shows whether the type exists.
        26 => a.btf_vmlinux_value_type_id = 1,
        // ringbuf, user_ringbuf: no key or value, a page-multiple power-of-two size.
        27 | 31 => {
            a.key_size = 0;
            a.value_size = 0;
            a.max_entries = page;
        }
        // arena: pages, must be mmapable.
        33 => {
            a.key_size = 0;
            a.value_size = 0;
            a.max_entries = 1;
            a.map_flags = 1 << 10;
        }
        _ => {}
    }
    match create(&a) {
        Ok(found) => Ok(found.is_some()),
        Err(Error::Sys(e)) if e.errno() == Some(ENOTSUPP) => Ok(true),
        Err(e) => Err(e),
    }
}

/// Whether the `bpf()` system call exists: a call with no attributes fails with something
/// other than `ENOSYS` when it does.
pub(crate) fn bpf_syscall() -> bool {
    #[derive(Clone, Copy)]
    #[repr(C)]
    struct Empty {
        _pad: u32,
    }
    let mut a = Empty { _pad: 0 };
    !matches!(
        bpfkit_sys::bpf(bpfkit_sys::Cmd::MapCreate, &mut a),
        Err(e) if e.errno() == Some(libc::ENOSYS)
    )
}

/// `KERNEL_VERSION(major, minor, patch)` of the running kernel (patch capped at 255).
pub(crate) fn kernel_version_code() -> u32 {
    static CODE: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *CODE.get_or_init(read_kernel_version_code)
}

fn read_kernel_version_code() -> u32 {
    let rel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = rel
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    let patch = parts.next().unwrap_or(0).min(255);
    (major << 16) | (minor << 8) | patch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_messages() {
        assert!(helper_missing(
            "0: (85) call unknown#250\ninvalid func unknown#250\n"
        ));
        assert!(helper_missing("unknown func bpf_sys_bpf#166\n"));
        assert!(helper_missing(
            "program of this type cannot use helper bpf_xdp_load_bytes#189\n"
        ));
        assert!(!helper_missing("R1 type=ctx expected=map_ptr\n"));
    }

    #[test]
    fn btf_blob_header() {
        let b = storage_btf();
        let word = |i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        assert_eq!(&b[..2], &0xeb9fu16.to_ne_bytes());
        // INT: 4 words; STRUCT: 3 words plus 3 per member, two members.
        let type_len = (4 + 3 + 2 * 3) * 4;
        assert_eq!((word(4), word(8), word(12)), (24, 0, type_len));
        assert_eq!((word(16), word(20)), (type_len, 13));
        assert_eq!(b.len(), 24 + type_len as usize + 13);
    }
}
