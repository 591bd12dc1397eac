//! Loading clang-built objects (tests/fixtures/obj_*.bpf.c, core_*.bpf.c) through
//! `ObjectBuilder`: global data, subprograms, map-in-map, tail calls, pinning by name,
//! `.kconfig`, `.ksyms`, kfuncs, every CO-RE kind and the error of a failed relocation.

mod common;

use bpfkit::{Error, Object, ObjectBuilder};
use bpfkit_btf::{Btf, Detail, Kind};
use common::{assert_gone, fixture, PinDir};

fn my_tgid() -> i32 {
    std::process::id() as i32
}

/// The calling thread's id (from /proc/thread-self, which links to `TGID/task/TID`). Fixtures
/// filter on it because the tests of this file run in parallel threads of one process.
fn my_tid() -> i32 {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name()?.to_str()?.parse().ok())
        .expect("/proc/thread-self names the thread")
}

/// getppid(2) goes to the kernel every time (glibc does not cache it).
fn fire_getppid(n: usize) {
    for _ in 0..n {
        std::hint::black_box(std::os::unix::process::parent_id());
    }
}

fn u64_of(b: &[u8]) -> u64 {
    u64::from_ne_bytes(b[..8].try_into().unwrap())
}

/// Ids of every program and map of a loaded object, for the leak check.
fn ids(obj: &Object) -> (Vec<u32>, Vec<u32>) {
    let progs = obj
        .programs()
        .iter()
        .map(|p| p.program.id().unwrap())
        .collect();
    let maps = obj.maps().iter().map(|m| m.map.id()).collect();
    (progs, maps)
}

#[test]
fn globals_set_before_load_and_read_back_after_the_program_ran() {
    let mut b = ObjectBuilder::open_file(fixture("obj_globals.bpf.o")).unwrap();
    b.set_var("target_tid", &my_tid().to_ne_bytes()).unwrap();
    b.set_var("step", &5u64.to_ne_bytes()).unwrap();
    b.set_var("multiplier", &7u64.to_ne_bytes()).unwrap();
    let err = b.set_var("step", &[1, 2]).unwrap_err().to_string();
    assert!(err.contains("8 bytes"), "{err}");
    assert!(b.set_var("no_such_var", &[0]).is_err());
    let obj = b.load().unwrap();
    let names: Vec<&str> = obj.maps().iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["obj_glob.rodata", "obj_glob.data", "obj_glob.bss"]);
    let rodata = obj.section_map(".rodata").unwrap();
    assert!(rodata.is_frozen().unwrap(), ".rodata is frozen after load");

    let links = obj.attach().unwrap();
    assert_eq!(links.len(), 1);
    fire_getppid(4);
    assert_eq!(u64_of(&obj.read_var("calls").unwrap()), 4);
    // add_total → scaled (a static subprogram of a global subprogram): 4 × 5 × 7.
    assert_eq!(u64_of(&obj.read_var("total").unwrap()), 140);
    let comm = obj.read_var("last_comm").unwrap();
    let exe = std::fs::read_to_string("/proc/thread-self/comm").unwrap();
    let want = exe.trim().as_bytes();
    assert_eq!(&comm[..want.len()], want, "bpf_get_current_comm into .bss");

    // .data written after load changes what the program computes from then on.
    obj.write_var("multiplier", &10u64.to_ne_bytes()).unwrap();
    fire_getppid(1);
    assert_eq!(u64_of(&obj.read_var("total").unwrap()), 190);
    assert!(
        obj.write_var("step", &1u64.to_ne_bytes()).is_err(),
        ".rodata is frozen"
    );

    let link_ids: Vec<u32> = links.iter().map(|l| l.id().unwrap()).collect();
    let (p, m) = ids(&obj);
    drop(links);
    drop(obj);
    assert_gone(&p, &m, &link_ids);
}

#[test]
fn map_in_map_tail_calls_and_pinning_by_name_with_reuse() {
    let pins = PinDir::new("objmaps");
    let open = || {
        let mut b = ObjectBuilder::open_file(fixture("obj_maps.bpf.o")).unwrap();
        b.set_var("target_tid", &my_tid().to_ne_bytes()).unwrap();
        b.pin_root(pins.path());
        // tail_second only runs through the prog_array; leave out its own attachment by
        // attaching on_getppid alone below.
        b
    };
    let first = open().load().unwrap();
    let pinned = first
        .maps()
        .iter()
        .find(|m| m.name == "shared_counts")
        .unwrap();
    assert_eq!(
        pinned.pinned_at.as_deref(),
        Some(pins.join("shared_counts").as_path())
    );
    assert!(!pinned.reused);
    assert!(pins.join("shared_counts").exists());

    let link = match first.attach_program("on_getppid").unwrap() {
        bpfkit::object::AttachOutcome::Attached(l) => l,
        other => panic!("on_getppid should auto-attach, got {other:?}"),
    };
    fire_getppid(3);
    let outer = first.map("outer").unwrap();
    let read_inner = |slot: u32| {
        let inner = outer
            .inner_map(&slot.to_ne_bytes())
            .unwrap()
            .expect("values initialised the slot");
        u64_of(&inner.lookup(&0u32.to_ne_bytes()).unwrap().unwrap())
    };
    assert_eq!(read_inner(0), 3, "on_getppid bumped inner_a");
    assert_eq!(
        read_inner(1),
        3,
        "tail_second (through the prog_array) bumped inner_b"
    );
    let counts = first.map("shared_counts").unwrap();
    let count = |k: u32| counts.lookup(&k.to_ne_bytes()).unwrap().map(|v| u64_of(&v));
    assert_eq!(count(1), Some(3));
    assert_eq!(count(2), Some(3));

    // A second load finds the pin and shares the map.
    let second = open().load().unwrap();
    let again = second
        .maps()
        .iter()
        .find(|m| m.name == "shared_counts")
        .unwrap();
    assert!(again.reused);
    assert_eq!(again.map.id(), counts.id());
    assert_eq!(
        second
            .map("shared_counts")
            .unwrap()
            .lookup(&1u32.to_ne_bytes())
            .unwrap()
            .map(|v| u64_of(&v)),
        Some(3)
    );

    let link_id = link.id().unwrap();
    let (p1, m1) = ids(&first);
    let (p2, m2) = ids(&second);
    drop(link);
    drop(first);
    drop(second);
    std::fs::remove_file(pins.join("shared_counts")).unwrap();
    let maps: Vec<u32> = m1.iter().chain(&m2).copied().collect();
    let progs: Vec<u32> = p1.iter().chain(&p2).copied().collect();
    assert_gone(&progs, &maps, &[link_id]);
}

#[test]
fn an_incompatible_pin_is_refused() {
    let pins = PinDir::new("objpinbad");
    let other =
        bpfkit::Map::create(&bpfkit::MapSpec::new(bpfkit::MapType::Hash, 4, 4, 16)).unwrap();
    other.pin(pins.join("shared_counts")).unwrap();
    let mut b = ObjectBuilder::open_file(fixture("obj_maps.bpf.o")).unwrap();
    b.pin_root(pins.path());
    let err = b.load().unwrap_err().to_string();
    assert!(
        err.contains("shared_counts") && err.contains("value size is 4"),
        "{err}"
    );
    let id = other.id();
    drop(other);
    std::fs::remove_file(pins.join("shared_counts")).unwrap();
    assert_gone(&[], &[id], &[]);
}

fn kernel_config() -> String {
    use std::io::Read;
    let f = std::fs::File::open("/proc/config.gz");
    match f {
        Ok(f) => {
            let mut s = String::new();
            flate2::read::GzDecoder::new(f)
                .read_to_string(&mut s)
                .unwrap();
            s
        }
        Err(_) => {
            let rel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
            std::fs::read_to_string(format!("/boot/config-{}", rel.trim())).unwrap()
        }
    }
}

fn kallsyms_addr(name: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/kallsyms").unwrap();
    text.lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(2) == Some(&name)).then(|| u64::from_str_radix(f[0], 16).unwrap())
        })
        .unwrap()
}

#[test]
fn kconfig_ksyms_and_kfuncs_resolve_on_this_kernel() {
    // The fixture calls the kfunc bpf_task_acquire, which Linux 6.2 added.
    require_feature!(KernelVersion(6, 2));
    let mut b = ObjectBuilder::open_file(fixture("obj_externs.bpf.o")).unwrap();
    b.set_var("target_tid", &my_tid().to_ne_bytes()).unwrap();
    let obj = b.load().unwrap();
    let links = obj.attach().unwrap();
    fire_getppid(1);
    let var = |n: &str| u64_of(&obj.read_var(n).unwrap());
    assert!(var("hits") >= 1);
    let rel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let nums: Vec<u64> = rel
        .split(|c: char| !c.is_ascii_digit())
        .take(3)
        .map(|n| n.parse().unwrap_or(0))
        .collect();
    assert_eq!(
        var("kernel_version"),
        (nums[0] << 16) | (nums[1] << 8) | nums[2].min(255)
    );
    let config = kernel_config();
    let hz: u64 = config
        .lines()
        .find_map(|l| l.strip_prefix("CONFIG_HZ="))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(var("hz"), hz);
    assert_eq!(var("bpf_syscall"), 1);
    let jit = if config.contains("CONFIG_BPF_JIT=y\n") {
        1
    } else {
        0
    };
    assert_eq!(var("bpf_jit"), jit);
    assert_eq!(
        var("not_there"),
        0,
        "a weak kconfig extern the kernel lacks is 0"
    );
    assert_eq!(var("stext_addr"), kallsyms_addr("_stext"));
    assert_eq!(var("missing_addr"), 0, "a weak ksym the kernel lacks is 0");
    assert_eq!(
        var("missing_typed"),
        0,
        "a weak typed ksym the kernel lacks is 0"
    );
    assert_eq!(
        var("acquired_pid"),
        my_tgid() as u64,
        "kfunc bpf_task_acquire"
    );
    let link_ids: Vec<u32> = links.iter().map(|l| l.id().unwrap()).collect();
    let (p, m) = ids(&obj);
    drop(links);
    drop(obj);
    assert_gone(&p, &m, &link_ids);
}

/// A typed ksym becomes `BPF_PSEUDO_BTF_ID` with the variable's vmlinux BTF id. This kernel
/// lacks CONFIG_KALLSYMS_ALL, so the kernel itself cannot find the variable's address: the
/// load fails with the kernel naming the variable it found under that id, which shows the id
/// was right. On a kernel with CONFIG_KALLSYMS_ALL the load succeeds and rq->cpu reads 0.
#[test]
fn a_typed_ksym_is_passed_by_its_vmlinux_btf_id() {
    let kallsyms_all = std::fs::read_to_string("/proc/kallsyms")
        .unwrap()
        .lines()
        .any(|l| l.ends_with(" runqueues"));
    let result = ObjectBuilder::open_file(fixture("obj_ksym_typed.bpf.o"))
        .unwrap()
        .load();
    if kallsyms_all {
        let obj = result.unwrap();
        let links = obj.attach().unwrap();
        fire_getppid(1);
        assert_eq!(u64_of(&obj.read_var("rq_cpu").unwrap()), 0);
        drop(links);
    } else {
        let err = result.unwrap_err().to_string();
        assert!(
            err.contains("failed to find the address for kernel symbol 'runqueues'"),
            "{err}"
        );
    }
}

/// libbpf's bitfield shifts for a little-endian target: load `byte_size` bytes at the
/// naturally aligned offset holding the field, shift left then right.
fn bitfield_shifts(btf: &Btf, st: u32, field: &str) -> (u64, u64) {
    let t = btf.type_by_id(st).unwrap();
    let m = *t.members().iter().find(|m| m.name == field).unwrap();
    let bit_off = u64::from(m.bit_offset);
    let bit_size = u64::from(m.bitfield_size);
    let byte_size = btf.type_size(m.type_id).unwrap();
    let byte_off = bit_off / 8 / byte_size * byte_size;
    (64 - (bit_off + bit_size - byte_off * 8), 64 - bit_size)
}

#[test]
fn every_core_kind_relocates_against_the_running_kernel() {
    let path = fixture("core_kinds.bpf.o");
    let mut b = ObjectBuilder::open_file(&path).unwrap();
    b.set_var("target_tid", &my_tid().to_ne_bytes()).unwrap();
    let local_v1 = b
        .object()
        .btf
        .as_ref()
        .unwrap()
        .find_by_name_kind("task_struct___v1", Kind::Struct)
        .unwrap();
    let obj = b.load().unwrap();
    let links = obj.attach().unwrap();
    fire_getppid(1);
    assert_eq!(u64_of(&obj.read_var("done").unwrap()), 1);
    let raw = obj.read_var("out").unwrap();
    let out: Vec<u64> = raw.chunks(8).map(u64_of).collect();

    let vm = Btf::vmlinux().unwrap();
    let task = vm.find_by_name_kind("task_struct", Kind::Struct).unwrap();
    let t = vm.type_by_id(task).unwrap();
    let member = |n: &str| *t.members().iter().find(|m| m.name == n).unwrap();
    let tgid_off = u64::from(member("tgid").bit_offset / 8);
    let comm_size = vm.type_size(member("comm").type_id).unwrap();
    let (lshift, rshift) = bitfield_shifts(&vm, task, "sched_migrated");
    let ringbuf_value = match vm
        .type_by_id(vm.find_by_name_kind("bpf_map_type", Kind::Enum).unwrap())
        .unwrap()
        .detail
    {
        Detail::Enum(e) => {
            e.values
                .iter()
                .find(|v| v.name == "BPF_MAP_TYPE_RINGBUF")
                .unwrap()
                .value
        }
        other => panic!("bpf_map_type is {other:?}"),
    };
    let ppid = u64::from(std::os::unix::process::parent_id());
    let expected = [
        ("FIELD_BYTE_OFFSET tgid", tgid_off),
        ("FIELD_BYTE_SIZE comm", comm_size),
        ("FIELD_EXISTS pid (flavour)", 1),
        ("FIELD_EXISTS missing field", 0),
        ("FIELD_SIGNED pid", 1),
        ("FIELD_SIGNED flags", 0),
        ("FIELD_LSHIFT_U64", lshift),
        ("FIELD_RSHIFT_U64", rshift),
        ("TYPE_ID_LOCAL", u64::from(local_v1)),
        ("TYPE_ID_TARGET", u64::from(task)),
        ("TYPE_EXISTS", 1),
        ("TYPE_EXISTS missing type", 0),
        ("TYPE_SIZE", vm.type_size(task).unwrap()),
        ("ENUMVAL_EXISTS (flavour)", 1),
        ("ENUMVAL_EXISTS missing value", 0),
        ("ENUMVAL_VALUE (flavour, local 1000)", ringbuf_value),
        (
            "task_struct___v1 tgid read at the kernel's offset",
            my_tgid() as u64,
        ),
        ("BPF_CORE_READ(task, real_parent, tgid)", ppid),
    ];
    for (i, (what, want)) in expected.iter().enumerate() {
        assert_eq!(out[i], *want, "slot {i}: {what}");
    }
    let link_ids: Vec<u32> = links.iter().map(|l| l.id().unwrap()).collect();
    let (p, m) = ids(&obj);
    drop(links);
    drop(obj);
    assert_gone(&p, &m, &link_ids);
}

/// TYPE_MATCHES (tests/fixtures/core_matches.bpf.c, built with clang-15): the kernel's own
/// list_head and a flavour naming two of its int members match; a flavour with a member of
/// the wrong width, one with a member the kernel lacks, and a type the kernel lacks do not.
/// Integer signedness counts: BPF C's `char` is signed, while the kernel's is unsigned from
/// 6.2 on (-funsigned-char) and signed before, as its BTF says; so exactly one of a
/// `char comm[16]` and an `unsigned char comm[16]` flavour matches.
#[test]
fn type_matches_relocates_against_the_running_kernel() {
    let mut b = ObjectBuilder::open_file(fixture("core_matches.bpf.o")).unwrap();
    b.set_var("target_tid", &my_tid().to_ne_bytes()).unwrap();
    let obj = b.load().unwrap();
    let links = obj.attach().unwrap();
    fire_getppid(1);
    assert_eq!(u64_of(&obj.read_var("done").unwrap()), 1);
    let raw = obj.read_var("out").unwrap();
    let out: Vec<u64> = raw.chunks(8).map(u64_of).collect();
    let btf = bpfkit_btf::Btf::vmlinux().unwrap();
    let char_id = btf
        .find_by_name_kind("char", bpfkit_btf::Kind::Int)
        .expect("vmlinux BTF has char");
    let kernel_char_signed = match btf.type_by_id(char_id).unwrap().detail {
        bpfkit_btf::Detail::Int(i) => i.is_signed(),
        _ => unreachable!("char is an INT"),
    };
    let signed = u64::from(kernel_char_signed);
    let expected = [
        ("struct list_head", 1),
        ("task_struct___ok { int pid; int tgid; }", 1),
        ("task_struct___wide { long long pid; }", 0),
        ("task_struct___extra { int bpfkit_no_such_field; }", 0),
        ("struct bpfkit_no_such_type", 0),
        ("task_struct___scomm { char comm[16]; }", signed),
        (
            "task_struct___ucomm { unsigned char comm[16]; }",
            1 - signed,
        ),
    ];
    for (i, (what, want)) in expected.iter().enumerate() {
        assert_eq!(out[i], *want, "slot {i}: {what}");
    }
    let link_ids: Vec<u32> = links.iter().map(|l| l.id().unwrap()).collect();
    let (p, m) = ids(&obj);
    drop(links);
    drop(obj);
    assert_gone(&p, &m, &link_ids);
}

#[test]
fn a_failed_relocation_names_the_relocation_and_the_c_source_line() {
    let err = ObjectBuilder::open_file(fixture("core_fail.bpf.o"))
        .unwrap()
        .load()
        .unwrap_err();
    let Error::Verifier { name, log, .. } = &err else {
        panic!("expected a verifier rejection, got {err}");
    };
    assert_eq!(name, "reads_missing");
    let text = err.to_string();
    assert!(log.contains("bpfkit_no_such_field"), "{log}");
    let tail = log.lines().rev().take(3).collect::<Vec<_>>().join("\n");
    assert!(
        tail.contains("failing instruction 1 at ") && tail.contains("core_fail.bpf.c:18:"),
        "the failing instruction's file and line: {tail}"
    );
    assert!(
        tail.contains("bpf_get_current_task();"),
        "the failing line's source text: {tail}"
    );
    assert!(
        tail.contains("`struct task_struct___v1.bpfkit_no_such_field`"),
        "the failed relocation, by field: {tail}"
    );
    assert!(text.contains("poisoned"), "{text}");
}

#[test]
fn adjusting_programs_and_maps_before_load() {
    let mut b = ObjectBuilder::open_file(fixture("obj_maps.bpf.o")).unwrap();
    let pins = PinDir::new("objadjust");
    b.pin_root(pins.path());
    b.set_autoload("tail_second", false).unwrap();
    b.set_max_entries("shared_counts", 64).unwrap();
    assert!(
        b.set_max_entries("obj_maps.rodata", 2).is_err(),
        "data maps keep their size"
    );
    assert!(b
        .set_autoload("nope", false)
        .unwrap_err()
        .to_string()
        .contains("on_getppid"));
    let obj = b.load().unwrap();
    assert!(obj.program("tail_second").is_none());
    assert!(obj.program("on_getppid").is_some());
    assert_eq!(obj.map("shared_counts").unwrap().max_entries(), 64);
    // the prog_array slot of a program left out stays empty
    let jump = obj.map("jump").unwrap();
    assert!(jump
        .lookup(&1u32.to_ne_bytes())
        .map(|v| v.is_none())
        .unwrap_or(true));
    let (p, m) = ids(&obj);
    drop(obj);
    std::fs::remove_file(pins.join("shared_counts")).unwrap();
    assert_gone(&p, &m, &[]);
}

#[test]
fn programs_carry_the_object_btf_with_func_and_line_info() {
    let obj = ObjectBuilder::open_file(fixture("obj_globals.bpf.o"))
        .unwrap()
        .load()
        .unwrap();
    let info = obj.program("on_getppid").unwrap().info().unwrap();
    assert_ne!(
        info.btf_id, 0,
        "the program was loaded with the object's BTF"
    );
    let btf = bpfkit::loaded_btfs().find_map(|b| b.ok().filter(|b| b.id == info.btf_id));
    assert!(
        btf.is_some_and(|b| !b.kernel_btf),
        "its BTF object is loaded"
    );
    let bss = obj.section_map(".bss").unwrap().info().unwrap();
    assert_eq!(bss.btf_id, info.btf_id);
    assert_ne!(bss.btf_value_type_id, 0, ".bss is typed by its DATASEC");
    let (p, m) = ids(&obj);
    drop(obj);
    assert_gone(&p, &m, &[]);
}

#[test]
fn legacy_maps_and_bad_objects() {
    let obj = ObjectBuilder::open_file(fixture("elf_legacy.bpf.o"))
        .unwrap()
        .load()
        .unwrap();
    let hash = obj.map("old_hash").unwrap();
    assert_eq!(
        (hash.key_size(), hash.value_size(), hash.max_entries()),
        (4, 8, 128)
    );
    assert!(obj.program("legacy_prog").is_some());
    let (p, m) = ids(&obj);
    drop(obj);
    assert_gone(&p, &m, &[]);

    let err = ObjectBuilder::open_file(fixture("elf_unknown.bpf.o"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("bogus_kind/whatever"), "{err}");
    let bytes = std::fs::read(fixture("obj_globals.bpf.o")).unwrap();
    for cut in [0, 10, 64, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            ObjectBuilder::open_bytes("cut", &bytes[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    let missing = ObjectBuilder::open_file("/nonexistent/x.bpf.o")
        .unwrap_err()
        .to_string();
    assert!(missing.contains("/nonexistent/x.bpf.o"), "{missing}");
}

#[test]
fn auto_attach_follows_the_section_name_and_fails_politely() {
    use bpfkit::object::AttachOutcome;
    // fentry loads are refused here (lockdown): without skip_unsupported the load says so.
    let mut b = ObjectBuilder::open_file(fixture("obj_attach.bpf.o")).unwrap();
    b.set_var("target_tid", &my_tid().to_ne_bytes()).unwrap();
    match b.load() {
        Ok(obj) => assert!(
            obj.program("on_fentry").is_some(),
            "a kernel that allows fentry"
        ),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("on_fentry") && msg.contains("fentry"), "{msg}");
            assert_eq!(msg.lines().count(), 1, "one line: {msg}");
        }
    }

    let mut b = ObjectBuilder::open_file(fixture("obj_attach.bpf.o")).unwrap();
    b.set_var("target_tid", &my_tid().to_ne_bytes()).unwrap();
    b.skip_unsupported(true);
    let obj = b.load().unwrap();
    let mut links = Vec::new();
    for name in ["on_raw_tp", "on_tp_btf", "on_getpid"] {
        match obj.attach_program(name).unwrap() {
            AttachOutcome::Attached(l) => links.push(l),
            other => panic!("{name} should auto-attach, got {other:?}"),
        }
    }
    assert!(matches!(
        obj.attach_program("on_sample").unwrap(),
        AttachOutcome::NotAutoAttachable
    ));
    let kprobes = std::path::Path::new("/sys/bus/event_source/devices/kprobe").exists();
    match obj.attach_program("on_kprobe") {
        Ok(AttachOutcome::Attached(l)) => {
            assert!(kprobes, "kprobe attached on a kernel without a kprobe PMU");
            links.push(l);
        }
        Ok(other) => panic!("kprobe/do_nanosleep should auto-attach, got {other:?}"),
        Err(e) => {
            let msg = e.to_string();
            assert!(!kprobes, "{msg}");
            assert!(msg.contains("kprobe"), "{msg}");
            assert_eq!(msg.lines().count(), 1, "one line: {msg}");
        }
    }
    if obj.program("on_fentry").is_none() {
        assert!(obj
            .skipped()
            .iter()
            .any(|(p, why)| p == "on_fentry" && why.contains("fentry")));
    }
    fire_getppid(3);
    for _ in 0..5 {
        std::hint::black_box(std::process::id());
    }
    let hits: Vec<u64> = obj
        .read_var("hits")
        .unwrap()
        .chunks(8)
        .map(u64_of)
        .collect();
    assert!(hits[0] >= 3, "raw_tp/sys_enter: {hits:?}");
    assert!(hits[1] >= 3, "tp_btf/sys_enter: {hits:?}");
    assert!(hits[2] >= 5, "uprobe on libc getpid: {hits:?}");
    let link_ids: Vec<u32> = links.iter().map(|l| l.id().unwrap()).collect();
    let (p, m) = ids(&obj);
    bpfkit::object::detach_all(links);
    drop(obj);
    assert_gone(&p, &m, &link_ids);
}

#[test]
fn a_program_loads_with_the_type_the_user_sets() {
    let mut b = ObjectBuilder::open_file(fixture("obj_globals.bpf.o")).unwrap();
    b.set_var("target_tid", &my_tid().to_ne_bytes()).unwrap();
    b.set_program_type("on_getppid", bpfkit::ProgramType::RawTracepoint, None)
        .unwrap();
    let obj = b.load().unwrap();
    let prog = obj.program("on_getppid").unwrap();
    assert_eq!(prog.prog_type(), bpfkit::ProgramType::RawTracepoint);
    assert_eq!(
        prog.info().unwrap().prog_type,
        bpfkit::ProgramType::RawTracepoint.as_u32()
    );
    // Its section still says tracepoint: auto-attach refuses the mismatch in one line.
    let err = obj.attach().unwrap_err().to_string();
    assert!(err.contains("tracepoint"), "{err}");
    let link = prog.attach_raw_tracepoint("sys_enter").unwrap();
    fire_getppid(2);
    assert!(u64_of(&obj.read_var("calls").unwrap()) >= 2);
    let link_id = link.id().unwrap();
    let (p, m) = ids(&obj);
    drop(link);
    drop(obj);
    assert_gone(&p, &m, &[link_id]);
}

#[test]
fn a_map_given_for_reuse_replaces_the_definition() {
    use bpfkit::{Map, MapSpec, MapType};
    let pins = PinDir::new("objreuse");
    let mine = Map::create(&MapSpec::new(MapType::Hash, 4, 8, 16)).unwrap();
    mine.pin(pins.join("counts")).unwrap();
    mine.update(&1u32.to_ne_bytes(), &41u64.to_ne_bytes(), 0)
        .unwrap();
    let mut b = ObjectBuilder::open_file(fixture("obj_maps.bpf.o")).unwrap();
    b.set_var("target_tid", &my_tid().to_ne_bytes()).unwrap();
    b.reuse_pinned_map("shared_counts", pins.join("counts"))
        .unwrap();
    let obj = b.load().unwrap();
    let m = obj
        .maps()
        .iter()
        .find(|m| m.name == "shared_counts")
        .unwrap();
    assert!(m.reused);
    assert_eq!(
        m.pinned_at, None,
        "a map given for reuse is not pinned by name again"
    );
    assert_eq!(m.map.id(), mine.id());
    let links = match obj.attach_program("on_getppid").unwrap() {
        bpfkit::object::AttachOutcome::Attached(l) => vec![l],
        other => panic!("{other:?}"),
    };
    fire_getppid(1);
    let v = mine.lookup(&1u32.to_ne_bytes()).unwrap().unwrap();
    assert_eq!(u64_of(&v), 42, "the program counted into the reused map");
    let link_ids: Vec<u32> = links.iter().map(|l| l.id().unwrap()).collect();
    let (p, mut maps) = ids(&obj);
    drop(links);
    drop(obj);
    maps.retain(|&id| id != mine.id());
    drop(mine);
    assert_gone(&p, &maps, &link_ids);
}
