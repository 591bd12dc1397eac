//! Malformed input gives an error naming what is wrong, never a panic.

use std::path::PathBuf;

use bpfkit_elf::{Error, Object};

fn fixture_bytes(name: &str) -> Vec<u8> {
    let dir = match std::env::var_os("BPFKIT_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/fixtures"),
    };
    let path = dir.join(format!("{name}.bpf.o"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "fixture {} is missing ({e}); run scripts/build-fixtures first",
            path.display()
        )
    })
}

/// xorshift64*: a fixed-seed generator so a failure names a reproducible case.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

const FIXTURES: [&str; 5] = [
    "elf_progs",
    "elf_maps",
    "elf_legacy",
    "elf_externs",
    "elf_naming",
];

#[test]
fn truncations_never_panic() {
    for name in FIXTURES {
        let bytes = fixture_bytes(name);
        let step = (bytes.len() / 1500).max(1);
        let mut cuts: Vec<usize> = (0..bytes.len()).step_by(step).collect();
        cuts.extend(0..bytes.len().min(256));
        for cut in cuts {
            let r = Object::parse(name, &bytes[..cut]);
            assert!(r.is_err(), "{name} cut at {cut} of {} parsed", bytes.len());
        }
    }
}

#[test]
fn byte_flips_never_panic() {
    for (seed, name) in FIXTURES.iter().enumerate() {
        let orig = fixture_bytes(name);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ seed as u64);
        for case in 0..2500 {
            let mut bytes = orig.clone();
            // Headers, section table and symbols are where damage matters: aim there half the time.
            let hot = orig.len().min(4096);
            for _ in 0..(1 + rng.next() % 4) {
                let at = if rng.next() % 2 == 0 {
                    (rng.next() as usize) % hot
                } else {
                    (rng.next() as usize) % orig.len()
                };
                bytes[at] ^= 1 << (rng.next() % 8);
            }
            let end = orig.len();
            // Section headers sit at the end of clang's output.
            let tail = end - (rng.next() as usize % end.min(2048)) - 1;
            if case % 3 == 0 {
                bytes[tail] = rng.next() as u8;
            }
            let _ = Object::parse(name, &bytes);
        }
    }
}

#[test]
fn random_bytes_are_rejected() {
    let mut rng = Rng(42);
    for len in [0usize, 3, 4, 63, 64, 65, 1000, 70000] {
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        assert!(Object::parse("r", &bytes).is_err());
        if len >= 64 {
            // A valid-looking ELF ident with garbage behind it.
            bytes[..6].copy_from_slice(b"\x7fELF\x02\x01");
            bytes[18..20].copy_from_slice(&247u16.to_le_bytes());
            let e = Object::parse("r", &bytes).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::Elf { .. } | Error::BadSection { .. } | Error::NoSymbols
                ),
                "{e:?}"
            );
        }
    }
    let e = Object::parse("r", b"hello world, not an ELF at all").unwrap_err();
    assert!(e.to_string().contains("ELF magic"), "{e}");
}

#[test]
fn non_bpf_elf_names_its_machine() {
    let bytes = std::fs::read("/bin/true").unwrap();
    let e = Object::parse("true", &bytes).unwrap_err();
    assert!(matches!(e, Error::NotBpf { machine: 62 }), "{e:?}");
    assert!(e.to_string().contains("EM_BPF"), "{e}");
}

#[test]
fn unknown_program_section_is_an_error_naming_it() {
    let e = Object::parse("u", &fixture_bytes("elf_unknown")).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::UnknownSection { .. }), "{e:?}");
    assert!(
        msg.contains("bogus_kind/whatever") && msg.contains("lost_program"),
        "{msg}"
    );
}

#[test]
fn undefined_non_extern_symbol_is_an_error_naming_it() {
    let e = Object::parse("b", &fixture_bytes("elf_badext")).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::BadRelocation { .. }), "{e:?}");
    assert!(
        msg.contains("bpfkit_nowhere") && msg.contains("socket"),
        "{msg}"
    );
}

/// Offsets of an ELF64 file's pieces, read by hand so the tests can damage them precisely.
struct Layout {
    shoff: usize,
    shnum: usize,
}

fn layout(b: &[u8]) -> Layout {
    let shoff = u64::from_le_bytes(b[0x28..0x30].try_into().unwrap()) as usize;
    let shnum = u16::from_le_bytes(b[0x3c..0x3e].try_into().unwrap()) as usize;
    Layout { shoff, shnum }
}

fn section(b: &[u8], l: &Layout, i: usize) -> (u32, usize, usize, u32) {
    let h = l.shoff + i * 64;
    let sh_type = u32::from_le_bytes(b[h + 4..h + 8].try_into().unwrap());
    let off = u64::from_le_bytes(b[h + 0x18..h + 0x20].try_into().unwrap()) as usize;
    let size = u64::from_le_bytes(b[h + 0x20..h + 0x28].try_into().unwrap()) as usize;
    let info = u32::from_le_bytes(b[h + 0x2c..h + 0x30].try_into().unwrap());
    (sh_type, off, size, info)
}

#[test]
fn relocation_against_a_missing_symbol() {
    let mut b = fixture_bytes("elf_maps");
    let l = layout(&b);
    // The first SHT_REL of a code section: point its first entry at symbol 0xffffff.
    let (_, off, _, _) = (0..l.shnum)
        .map(|i| section(&b, &l, i))
        .find(|s| s.0 == 9 && s.3 == 3)
        .expect("a .rel section for section 3 (the tp/ programs)");
    b[off + 8 + 4..off + 16].copy_from_slice(&0xff_ffffu32.to_le_bytes());
    let e = Object::parse("m", &b).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::BadRelocation { .. }), "{e:?}");
    assert!(
        msg.contains("#16777215") && msg.contains("tp/syscalls/sys_enter_getpid"),
        "{msg}"
    );
}

#[test]
fn bad_section_indices() {
    let orig = fixture_bytes("elf_progs");
    let l = layout(&orig);
    // e_shstrndx past the table.
    let mut b = orig.clone();
    b[0x3e..0x40].copy_from_slice(&0x7fffu16.to_le_bytes());
    assert!(Object::parse("p", &b).is_err());
    // A relocation table applying to a section that does not exist.
    let mut b = orig.clone();
    let rel = (0..l.shnum).find(|&i| section(&b, &l, i).0 == 9).unwrap();
    let h = l.shoff + rel * 64;
    b[h + 0x2c..h + 0x30].copy_from_slice(&5000u32.to_le_bytes());
    let e = Object::parse("p", &b).unwrap_err();
    assert!(e.to_string().contains("section index 5000"), "{e}");
    // Symbols pointing at a section index past the table.
    let mut b = orig.clone();
    let (_, symoff, symsize, _) = (0..l.shnum)
        .map(|i| section(&orig, &l, i))
        .find(|s| s.0 == 2)
        .unwrap();
    for s in (symoff + 24..symoff + symsize).step_by(24) {
        b[s + 6..s + 8].copy_from_slice(&0xfe00u16.to_le_bytes());
    }
    let e = Object::parse("p", &b).unwrap_err();
    assert!(!e.to_string().is_empty());
    // A section whose contents lie past the end of the file.
    let mut b = orig;
    let text = (0..l.shnum).find(|&i| section(&b, &l, i).0 == 1).unwrap();
    let h = l.shoff + text * 64;
    b[h + 0x18..h + 0x20].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    let e = Object::parse("p", &b).unwrap_err();
    assert!(e.to_string().contains("outside"), "{e}");
}

#[test]
fn huge_symbol_values_are_errors() {
    // Found by the fuzzer: a data symbol with an enormous value (and no type, so no variable
    // list checks it) overflowed the offset arithmetic of an ld_imm64 relocation.
    let mut b = fixture_bytes("elf_progs");
    let l = layout(&b);
    let shstrndx = u16::from_le_bytes([b[0x3e], b[0x3f]]) as usize;
    let (_, stroff, _, _) = section(&b, &l, shstrndx);
    let name_of = |b: &[u8], i: usize| {
        let h = l.shoff + i * 64;
        let off = stroff + u32::from_le_bytes(b[h..h + 4].try_into().unwrap()) as usize;
        let end = off + b[off..].iter().position(|&c| c == 0).unwrap();
        String::from_utf8_lossy(&b[off..end]).into_owned()
    };
    let data = (0..l.shnum).find(|&i| name_of(&b, i) == ".data").unwrap();
    let (_, symoff, symsize, _) = (0..l.shnum)
        .map(|i| section(&b, &l, i))
        .find(|s| s.0 == 2)
        .unwrap();
    let mut patched = Vec::new();
    for (k, s) in (symoff..symoff + symsize).step_by(24).enumerate() {
        let shndx = u16::from_le_bytes([b[s + 6], b[s + 7]]) as usize;
        if shndx == data && b[s + 4] & 0xf == 1 {
            b[s + 4] &= 0xf0; // STT_OBJECT -> STT_NOTYPE
            b[s + 8..s + 16].copy_from_slice(&(i64::MAX as u64).to_le_bytes());
            patched.push(k as u32);
        }
    }
    assert_eq!(
        patched.len(),
        1,
        "data_counter is the one variable of .data"
    );
    // A positive addend in the instructions that load its address.
    let mut sites = 0;
    for i in 0..l.shnum {
        let (ty, off, size, info) = section(&b, &l, i);
        if ty != 9 {
            continue;
        }
        let (_, code_off, _, _) = section(&b, &l, info as usize);
        for r in (off..off + size).step_by(16) {
            let r_offset = u64::from_le_bytes(b[r..r + 8].try_into().unwrap()) as usize;
            let sym = u32::from_le_bytes(b[r + 12..r + 16].try_into().unwrap());
            if sym == patched[0] {
                let imm = code_off + r_offset + 4;
                b[imm..imm + 4].copy_from_slice(&8i32.to_le_bytes());
                sites += 1;
            }
        }
    }
    assert!(sites > 0);
    let e = Object::parse("p", &b).map(|_| ()).unwrap_err();
    assert!(matches!(e, Error::BadRelocation { .. }), "{e}");
    assert!(e.to_string().contains("outside"), "{e}");
}

/// The `usdt_demo` test program (tests/fixtures/usdt_demo.user.c) built by scripts/build-fixtures.
fn usdt_demo_bytes() -> Vec<u8> {
    let dir = match std::env::var_os("BPFKIT_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/fixtures"),
    };
    let path = dir.join("usdt_demo");
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}); run scripts/build-fixtures first",
            path.display()
        )
    })
}

/// Found by the `elf_notes` fuzz target: a program header whose `p_offset` is near
/// `u64::MAX` made the pc-to-file-offset conversion overflow (a panic with overflow checks).
/// Now the probe's pc is in no usable segment, an error naming the probe.
#[test]
fn usdt_segment_offset_overflow_is_an_error() {
    let mut b = usdt_demo_bytes();
    let probes = bpfkit_elf::notes::usdt_probes(&b).expect("usdt_demo probes");
    let first = probes.first().expect("usdt_demo has probes");
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let phoff = u64_at(&b, 0x20) as usize;
    let phentsize = u16::from_le_bytes([b[0x36], b[0x37]]) as usize;
    let phnum = u16::from_le_bytes([b[0x38], b[0x39]]) as usize;
    let mut patched = 0;
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let (vaddr, filesz) = (u64_at(&b, ph + 16), u64_at(&b, ph + 32));
        if u32::from_le_bytes(b[ph..ph + 4].try_into().unwrap()) == 1
            && (vaddr..vaddr + filesz).contains(&first.pc)
        {
            b[ph + 8..ph + 16].copy_from_slice(&u64::MAX.to_le_bytes());
            patched += 1;
        }
    }
    assert_eq!(patched, 1, "one PT_LOAD holds the first probe");
    let err = bpfkit_elf::notes::usdt_probes(&b).expect_err("corrupt p_offset");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("{}:{}", first.provider, first.name))
            && msg.contains("no loadable segment"),
        "{msg}"
    );
}
