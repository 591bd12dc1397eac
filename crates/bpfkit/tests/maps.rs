//! Kernel tests of `Map`: one test per map type, each doing the operations that apply to it on
//! the real kernel, and each checking that what it created is gone afterwards.

mod common;

use std::collections::BTreeSet;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bpfkit::map::flags::*;
use bpfkit::map::{BloomFilter, HashMap, PerCpuHashMap, Queue, BPF_ANY, BPF_EXIST, BPF_NOEXIST};
use bpfkit::{AttachType, Program, ProgramSpec, ProgramType, TestRun};
use bpfkit::{Error, Map, MapSpec, MapType};
use bpfkit_insn::{AluOp, Builder, Reg, Size};
use bpfkit_sys::obj::{get_fd_by_id, ObjKind};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A map name unique within this process (≤ 15 bytes).
fn name(tag: &str) -> String {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let mut s = format!("{tag}{n}");
    s.truncate(15);
    s
}

/// Waits until none of the map `ids` is listed by `BPF_MAP_GET_NEXT_ID` any more.
///
/// This walks the id list instead of opening each id (as `common::assert_gone` does): opening
/// a dying `prog_array` by id takes a new user reference, and when that is dropped while the
/// kernel's deferred clearing of the array is still queued, the kernel leaks the map for good
/// (`prog_array_map_clear` takes a reference, and `schedule_work` on pending work drops it on
/// the floor). Walking ids takes no reference.
fn maps_gone(ids: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let live = bpfkit_sys::obj::all_ids(ObjKind::Map).expect("listing map ids");
        let left: Vec<u32> = ids.iter().copied().filter(|id| live.contains(id)).collect();
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "maps {left:?} still exist 5 s after the test dropped them"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn create(spec: MapSpec) -> Map {
    let t = spec.map_type;
    let m = Map::create(&spec).unwrap_or_else(|e| panic!("creating a {t} map: {e}"));
    assert_eq!(m.map_type(), Some(t));
    assert!(m.id() > 0);
    m
}

fn errno_of(r: Result<impl std::fmt::Debug, Error>) -> i32 {
    match r {
        Err(Error::Sys(e)) => e.errno().expect("an errno"),
        other => panic!("expected a kernel error, got {other:?}"),
    }
}

fn u32b(v: u32) -> [u8; 4] {
    v.to_ne_bytes()
}

fn u64b(v: u64) -> [u8; 8] {
    v.to_ne_bytes()
}

fn possible_cpus() -> usize {
    bpfkit_sys::mmap::possible_cpus().expect("possible CPUs")
}

/// ENOTSUPP, the kernel-internal errno (524) that syscall lookups of fd arrays return.
const ENOTSUPP: i32 = 524;

// --- BTF: a hand-built blob with `int`, `long long` and `struct val { long long v; }` ---

const BTF_INT: u32 = 1;
const BTF_LL: u32 = 2;
const BTF_VAL: u32 = 3;

fn btf_blob() -> Vec<u8> {
    let strings = b"\0int\0long long\0val\0v\0";
    let (s_int, s_ll, s_val, s_v) = (1u32, 5u32, 15u32, 19u32);
    let mut types = Vec::new();
    let mut push = |words: &[u32]| {
        for w in words {
            types.extend_from_slice(&w.to_ne_bytes());
        }
    };
    // INT (kind 1): name, info, size, then encoding (signed = 1 << 24) | bits.
    push(&[s_int, 1 << 24, 4, (1 << 24) | 32]);
    push(&[s_ll, 1 << 24, 8, (1 << 24) | 64]);
    // STRUCT (kind 4) with one member: name, type, bit offset.
    push(&[s_val, (4 << 24) | 1, 8, s_v, BTF_LL, 0]);
    let mut blob = Vec::new();
    blob.extend_from_slice(&0xeb9fu16.to_ne_bytes());
    blob.push(1); // version
    blob.push(0); // flags
    for w in [
        24u32,
        0,
        types.len() as u32,
        types.len() as u32,
        strings.len() as u32,
    ] {
        blob.extend_from_slice(&w.to_ne_bytes());
    }
    blob.extend_from_slice(&types);
    blob.extend_from_slice(strings);
    blob
}

fn load_btf() -> OwnedFd {
    bpfkit_sys::btf::btf_load(&btf_blob()).unwrap_or_else(|e| panic!("BTF_LOAD: {e}"))
}

/// A storage map (`int` key, `struct val` value) of `map_type`.
fn storage_map(map_type: MapType, btf: BorrowedFd<'_>) -> Map {
    create(
        MapSpec::new(map_type, 4, 8, 0)
            .name(name("stor"))
            .flags(BPF_F_NO_PREALLOC)
            .btf(btf, BTF_INT, BTF_VAL),
    )
}

/// Exercises update/lookup/delete of a local-storage map keyed by `owner`'s fd.
fn storage_ops(map: &Map, owner: BorrowedFd<'_>) {
    let key = owner.as_raw_fd().to_ne_bytes();
    assert_eq!(map.lookup(&key).unwrap(), None);
    map.update(&key, &u64b(41), BPF_NOEXIST).unwrap();
    assert_eq!(
        errno_of(map.update(&key, &u64b(1), BPF_NOEXIST)),
        libc::EEXIST
    );
    assert_eq!(map.lookup(&key).unwrap(), Some(u64b(41).to_vec()));
    map.update(&key, &u64b(42), BPF_EXIST).unwrap();
    let typed: HashMap<i32, u64> = HashMap::new(Map::from_id(map.id()).unwrap()).unwrap();
    assert_eq!(typed.get(&owner.as_raw_fd()).unwrap(), Some(42));
    assert!(map.delete(&key).unwrap());
    assert!(!map.delete(&key).unwrap());
    assert_eq!(map.lookup(&key).unwrap(), None);
}

// --- programs, for prog_array and cgroup storage ---

/// `r0 = 0; exit`, a socket filter.
fn trivial_prog() -> Program {
    let insns = Builder::new().mov64_imm(Reg::R0, 0).exit().build().unwrap();
    Program::load(&ProgramSpec::new(
        "maps_test",
        ProgramType::SocketFilter,
        &insns,
    ))
    .unwrap()
}

// --- cgroups ---

/// A fresh child cgroup (removed on drop), opened as the maps that hold cgroups need it.
struct TempCgroup(common::net::ChildCgroup);

impl TempCgroup {
    fn new() -> TempCgroup {
        TempCgroup(common::net::ChildCgroup::new())
    }
    fn open(&self) -> std::fs::File {
        std::fs::File::open(self.0.path()).unwrap()
    }
    fn inode(&self) -> u64 {
        std::fs::metadata(self.0.path()).unwrap().ino()
    }
}

fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

// ============================== the tests ==============================

#[test]
fn hash() {
    let ids;
    {
        let m = create(MapSpec::new(MapType::Hash, 4, 8, 64).name(name("hash")));
        ids = vec![m.id()];
        let info = m.info().unwrap();
        assert_eq!(
            (info.key_size, info.value_size, info.max_entries),
            (4, 8, 64)
        );
        assert_eq!(info.map_type(), Some(MapType::Hash));
        assert_eq!(info.id, m.id());
        assert!(info.name.starts_with("hash"));

        assert_eq!(m.lookup(&u32b(1)).unwrap(), None);
        m.update(&u32b(1), &u64b(10), BPF_NOEXIST).unwrap();
        assert_eq!(
            errno_of(m.update(&u32b(1), &u64b(11), BPF_NOEXIST)),
            libc::EEXIST
        );
        assert_eq!(
            errno_of(m.update(&u32b(2), &u64b(11), BPF_EXIST)),
            libc::ENOENT
        );
        m.update(&u32b(1), &u64b(12), BPF_EXIST).unwrap();
        assert_eq!(m.lookup(&u32b(1)).unwrap(), Some(u64b(12).to_vec()));
        let mut buf = [0u8; 8];
        assert!(m.lookup_into(&u32b(1), &mut buf).unwrap());
        assert_eq!(u64::from_ne_bytes(buf), 12);

        for k in 2..=10u32 {
            m.update(&u32b(k), &u64b(k as u64 * 100), BPF_ANY).unwrap();
        }
        let keys: BTreeSet<u32> = m
            .keys()
            .map(|k| u32::from_ne_bytes(k.unwrap().try_into().unwrap()))
            .collect();
        assert_eq!(keys, (1..=10).collect());
        let sum: u64 = m
            .iter()
            .map(|e| u64::from_ne_bytes(e.unwrap().1.try_into().unwrap()))
            .sum();
        assert_eq!(sum, 12 + (2..=10).map(|k| k * 100).sum::<u64>());

        assert!(m.delete(&u32b(1)).unwrap());
        assert!(!m.delete(&u32b(1)).unwrap());
        assert_eq!(
            m.lookup_and_delete(&u32b(2)).unwrap(),
            Some(u64b(200).to_vec())
        );
        assert_eq!(m.lookup_and_delete(&u32b(2)).unwrap(), None);
        assert_eq!(m.keys().count(), 8);

        // Wrong sizes are refused before the kernel sees them.
        match m.update(&[1, 2, 3], &u64b(0), BPF_ANY) {
            Err(Error::InvalidArgument(msg)) => {
                assert!(
                    msg.contains("3 bytes") && msg.contains("expected 4"),
                    "{msg}"
                )
            }
            other => panic!("{other:?}"),
        }
        match m.lookup_into(&u32b(3), &mut [0u8; 4]) {
            Err(Error::InvalidArgument(msg)) => assert!(msg.contains("expected 8"), "{msg}"),
            other => panic!("{other:?}"),
        }

        // Typed view.
        let t: HashMap<u32, u64> = HashMap::new(Map::from_id(m.id()).unwrap()).unwrap();
        assert_eq!(t.get(&3).unwrap(), Some(300));
        t.insert(&77, &7700, BPF_NOEXIST).unwrap();
        assert_eq!(m.lookup(&u32b(77)).unwrap(), Some(u64b(7700).to_vec()));
        assert!(t.remove(&77).unwrap());
        let mut pairs: Vec<(u32, u64)> = t.iter().map(Result::unwrap).collect();
        pairs.sort();
        assert_eq!(pairs.first(), Some(&(3, 300)));
        assert_eq!(pairs.len(), 8);
        assert!(HashMap::<u64, u64>::new(Map::from_id(m.id()).unwrap()).is_err());
        assert_eq!(t.take(&3).unwrap(), Some(300));
        assert_eq!(t.take(&3).unwrap(), None);

        // Full map.
        for k in 100..157u32 {
            m.update(&u32b(k), &u64b(0), BPF_ANY).unwrap();
        }
        assert_eq!(
            errno_of(m.update(&u32b(999), &u64b(0), BPF_ANY)),
            libc::E2BIG
        );
    }
    maps_gone(&ids);
}

#[test]
fn hash_batch_ops() {
    let ids;
    {
        let m = create(MapSpec::new(MapType::Hash, 4, 4, 1000).name(name("hbat")));
        ids = vec![m.id()];
        let keys: Vec<u8> = (0..500u32).flat_map(u32b).collect();
        let vals: Vec<u8> = (0..500u32).flat_map(|k| u32b(k * 3)).collect();
        assert_eq!(m.update_batch(&keys, &vals, BPF_ANY).unwrap(), 500);
        assert_eq!(m.keys().count(), 500);

        // Small chunks force many calls and bucket overflows (ENOSPC) to be handled.
        let b = m.lookup_batch(1).unwrap();
        assert_eq!(b.len(), 500);
        let mut seen = BTreeSet::new();
        for (k, v) in b.iter() {
            let k = u32::from_ne_bytes(k.try_into().unwrap());
            assert_eq!(u32::from_ne_bytes(v.try_into().unwrap()), k * 3);
            seen.insert(k);
        }
        assert_eq!(seen, (0..500).collect());

        let del: Vec<u8> = (0..100u32).flat_map(u32b).collect();
        assert_eq!(m.delete_batch(&del).unwrap(), 100);
        assert_eq!(m.keys().count(), 400);

        let taken = m.lookup_and_delete_batch(64).unwrap();
        assert_eq!(taken.len(), 400);
        assert_eq!(m.keys().count(), 0);
        assert!(m.lookup_batch(16).unwrap().is_empty());

        match m.update_batch(&keys[..7], &vals, BPF_ANY) {
            Err(Error::InvalidArgument(msg)) => assert!(msg.contains("7 bytes"), "{msg}"),
            other => panic!("{other:?}"),
        }
    }
    maps_gone(&ids);
}

#[test]
fn array() {
    let ids;
    {
        let m = create(MapSpec::new(MapType::Array, 4, 12, 8).name(name("arr")));
        ids = vec![m.id()];
        // Arrays are preallocated and zeroed.
        assert_eq!(m.lookup(&u32b(7)).unwrap(), Some(vec![0; 12]));
        assert_eq!(m.lookup(&u32b(8)).unwrap(), None);
        m.update(&u32b(3), b"hello world!", BPF_ANY).unwrap();
        assert_eq!(
            m.lookup(&u32b(3)).unwrap().as_deref(),
            Some(&b"hello world!"[..])
        );
        assert_eq!(
            errno_of(m.update(&u32b(3), &[0; 12], BPF_NOEXIST)),
            libc::EEXIST
        );
        assert_eq!(errno_of(m.update(&u32b(9), &[0; 12], BPF_ANY)), libc::E2BIG);
        assert_eq!(errno_of(m.delete(&u32b(3))), libc::EINVAL);
        let keys: Vec<u32> = m
            .keys()
            .map(|k| u32::from_ne_bytes(k.unwrap().try_into().unwrap()))
            .collect();
        assert_eq!(keys, (0..8).collect::<Vec<_>>());

        let b = m.lookup_batch(3).unwrap();
        assert_eq!(b.len(), 8);
        assert_eq!(b.iter().nth(3).unwrap().1, b"hello world!");
        let keys: Vec<u8> = (0..8u32).flat_map(u32b).collect();
        let vals: Vec<u8> = (0..8u8).flat_map(|i| [i; 12]).collect();
        assert_eq!(m.update_batch(&keys, &vals, BPF_ANY).unwrap(), 8);
        assert_eq!(m.lookup(&u32b(5)).unwrap(), Some(vec![5; 12]));

        assert!(!m.is_frozen().unwrap());
        m.freeze().unwrap();
        assert!(m.is_frozen().unwrap());
        assert_eq!(errno_of(m.update(&u32b(0), &[1; 12], BPF_ANY)), libc::EPERM);
        assert_eq!(m.lookup(&u32b(5)).unwrap(), Some(vec![5; 12]));
    }
    maps_gone(&ids);
}

#[test]
fn array_mmap() {
    let ids;
    {
        let m = create(
            MapSpec::new(MapType::Array, 4, 4, 1024)
                .name(name("marr"))
                .flags(BPF_F_MMAPABLE),
        );
        ids = vec![m.id()];
        let view = m.mmap().unwrap();
        assert_eq!(view.len(), 1024);
        assert!(view.is_writable());
        view.set::<u32>(10, &0xdead_beef).unwrap();
        assert_eq!(
            m.lookup(&u32b(10)).unwrap(),
            Some(u32b(0xdead_beef).to_vec())
        );
        m.update(&u32b(1023), &u32b(99), BPF_ANY).unwrap();
        assert_eq!(view.get::<u32>(1023).unwrap(), 99);
        assert!(view.get::<u32>(1024).is_err());
        assert!(view.get::<u64>(0).is_err());

        // Not mmapable without the flag.
        let plain = create(MapSpec::new(MapType::Array, 4, 4, 4).name(name("parr")));
        assert!(matches!(plain.mmap(), Err(Error::InvalidArgument(_))));
        drop(view);
        let ro = create(
            MapSpec::new(MapType::Array, 4, 8, 16)
                .name(name("froz"))
                .flags(BPF_F_MMAPABLE),
        );
        ro.update(&u32b(2), &u64b(5), BPF_ANY).unwrap();
        ro.freeze().unwrap();
        let view = ro.mmap().unwrap();
        assert!(!view.is_writable());
        assert_eq!(view.get::<u64>(2).unwrap(), 5);
        assert!(view.set::<u64>(2, &6).is_err());
    }
    maps_gone(&ids);
}

#[test]
fn percpu_hash() {
    let ids;
    let cpus = possible_cpus();
    {
        // A 4-byte value occupies an 8-byte slot per CPU.
        let m = create(MapSpec::new(MapType::PercpuHash, 4, 4, 16).name(name("pch")));
        ids = vec![m.id()];
        assert_eq!(m.value_buf_size(), 8 * cpus);
        assert_eq!(m.value_slots(), cpus);
        let vals: Vec<[u8; 4]> = (0..cpus as u32).map(|c| u32b(c + 100)).collect();
        m.update_percpu(&u32b(1), &vals, BPF_ANY).unwrap();
        let got = m.lookup_percpu(&u32b(1)).unwrap().unwrap();
        assert_eq!(got.len(), cpus);
        for (c, v) in got.iter().enumerate() {
            assert_eq!(v, &u32b(c as u32 + 100));
        }
        assert!(m
            .update_percpu(&u32b(2), &vals[..cpus - 1], BPF_ANY)
            .is_err());
        match m.lookup_into(&u32b(1), &mut [0u8; 4]) {
            Err(Error::InvalidArgument(msg)) => assert!(msg.contains("per-CPU"), "{msg}"),
            other => panic!("{other:?}"),
        }
        let t: PerCpuHashMap<u32, u32> = PerCpuHashMap::new(Map::from_id(m.id()).unwrap()).unwrap();
        assert_eq!(t.cpus(), cpus);
        let v: Vec<u32> = (0..cpus as u32).map(|c| c * 7).collect();
        t.insert(&5, &v, BPF_NOEXIST).unwrap();
        assert_eq!(t.get(&5).unwrap(), Some(v.clone()));
        assert!(HashMap::<u32, u32>::new(Map::from_id(m.id()).unwrap()).is_err());

        let b = m.lookup_batch(4).unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(b.value_size, 8 * cpus);
        assert!(t.remove(&5).unwrap());
        assert_eq!(t.keys().count(), 1);
    }
    maps_gone(&ids);
}

#[test]
fn percpu_array() {
    let ids;
    let cpus = possible_cpus();
    {
        let m = create(MapSpec::new(MapType::PercpuArray, 4, 16, 4).name(name("pca")));
        ids = vec![m.id()];
        let t: PerCpuHashMap<u32, [u8; 16]> =
            PerCpuHashMap::new(Map::from_id(m.id()).unwrap()).unwrap();
        assert_eq!(t.get(&3).unwrap(), Some(vec![[0; 16]; cpus]));
        let v: Vec<[u8; 16]> = (0..cpus).map(|c| [c as u8 + 1; 16]).collect();
        t.insert(&3, &v, BPF_ANY).unwrap();
        assert_eq!(t.get(&3).unwrap(), Some(v));
        assert_eq!(t.get(&4).unwrap(), None);
        assert_eq!(t.keys().count(), 4);
        let b = m.lookup_batch(2).unwrap();
        assert_eq!(b.len(), 4);
        // Batch values hold every CPU's slot back to back.
        let (_, v3) = b.iter().nth(3).unwrap();
        assert_eq!(v3.len(), 16 * cpus);
        for c in 0..cpus {
            assert_eq!(&v3[c * 16..(c + 1) * 16], &[c as u8 + 1; 16]);
        }
        assert_eq!(errno_of(m.delete(&u32b(0))), libc::EINVAL);
    }
    maps_gone(&ids);
}

#[test]
fn lru_hash() {
    let ids;
    {
        let m = create(MapSpec::new(MapType::LruHash, 8, 8, 64).name(name("lru")));
        ids = vec![m.id()];
        for k in 0..1000u64 {
            m.update(&u64b(k), &u64b(k * 2), BPF_ANY).unwrap();
        }
        let n = m.keys().count();
        assert!(n > 0 && n <= 64 + 2 * possible_cpus() * 4, "{n} entries");
        // The latest insertion survives eviction.
        assert_eq!(m.lookup(&u64b(999)).unwrap(), Some(u64b(1998).to_vec()));
        assert_eq!(m.lookup(&u64b(0)).unwrap(), None);
        assert!(m.delete(&u64b(999)).unwrap());
        let b = m.lookup_and_delete_batch(8).unwrap();
        assert_eq!(b.len(), n - 1);
        assert_eq!(m.keys().count(), 0);
    }
    maps_gone(&ids);
}

#[test]
fn lru_percpu_hash() {
    let ids;
    let cpus = possible_cpus();
    {
        let m = create(MapSpec::new(MapType::LruPercpuHash, 4, 8, 32).name(name("lrupc")));
        ids = vec![m.id()];
        let t: PerCpuHashMap<u32, u64> = PerCpuHashMap::new(Map::from_id(m.id()).unwrap()).unwrap();
        for k in 0..200u32 {
            let v: Vec<u64> = (0..cpus as u64).map(|c| k as u64 * 10 + c).collect();
            t.insert(&k, &v, BPF_ANY).unwrap();
        }
        assert!(t.keys().count() <= 32 + cpus * 8);
        let v: Vec<u64> = (0..cpus as u64).map(|c| 1990 + c).collect();
        assert_eq!(t.get(&199).unwrap(), Some(v));
        assert!(t.remove(&199).unwrap());
        assert_eq!(t.get(&199).unwrap(), None);
    }
    maps_gone(&ids);
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct LpmKey {
    prefixlen: u32,
    addr: [u8; 4],
}
bpfkit::impl_pod!(LpmKey { prefixlen, addr });

#[test]
fn lpm_trie() {
    let ids;
    {
        let m = create(
            MapSpec::new(MapType::LpmTrie, 8, 4, 16)
                .name(name("lpm"))
                .flags(BPF_F_NO_PREALLOC),
        );
        ids = vec![m.id()];
        let t: HashMap<LpmKey, u32> = HashMap::new(Map::from_id(m.id()).unwrap()).unwrap();
        let k = |len, a: [u8; 4]| LpmKey {
            prefixlen: len,
            addr: a,
        };
        t.insert(&k(8, [10, 0, 0, 0]), &8, BPF_ANY).unwrap();
        t.insert(&k(16, [10, 1, 0, 0]), &16, BPF_ANY).unwrap();
        t.insert(&k(24, [10, 1, 2, 0]), &24, BPF_ANY).unwrap();
        t.insert(&k(32, [10, 1, 2, 3]), &32, BPF_ANY).unwrap();
        t.insert(&k(0, [0, 0, 0, 0]), &0, BPF_ANY).unwrap();
        // Lookups use a full-length key and find the longest matching prefix.
        assert_eq!(t.get(&k(32, [10, 1, 2, 3])).unwrap(), Some(32));
        assert_eq!(t.get(&k(32, [10, 1, 2, 4])).unwrap(), Some(24));
        assert_eq!(t.get(&k(32, [10, 1, 9, 9])).unwrap(), Some(16));
        assert_eq!(t.get(&k(32, [10, 9, 9, 9])).unwrap(), Some(8));
        assert_eq!(t.get(&k(32, [11, 0, 0, 1])).unwrap(), Some(0));
        assert_eq!(t.keys().count(), 5);
        assert!(t.remove(&k(16, [10, 1, 0, 0])).unwrap());
        assert_eq!(t.get(&k(32, [10, 1, 9, 9])).unwrap(), Some(8));
        assert!(t.remove(&k(0, [0, 0, 0, 0])).unwrap());
        assert_eq!(t.get(&k(32, [11, 0, 0, 1])).unwrap(), None);
        assert!(!t.remove(&k(0, [0, 0, 0, 0])).unwrap());
        let mut lens: Vec<u32> = t.keys().map(|k| k.unwrap().prefixlen).collect();
        lens.sort();
        assert_eq!(lens, vec![8, 24, 32]);
    }
    maps_gone(&ids);
}

#[test]
fn queue() {
    let ids;
    {
        let m = create(MapSpec::new(MapType::Queue, 0, 4, 4).name(name("queue")));
        ids = vec![m.id()];
        let q: Queue<u32> = Queue::new(Map::from_id(m.id()).unwrap()).unwrap();
        assert_eq!(q.pop().unwrap(), None);
        for v in 1..=4 {
            q.push(&v, BPF_ANY).unwrap();
        }
        assert_eq!(errno_of(q.push(&5, BPF_ANY)), libc::E2BIG);
        // BPF_EXIST makes room by dropping the oldest.
        q.push(&5, BPF_EXIST).unwrap();
        assert_eq!(q.peek().unwrap(), Some(2));
        let out: Vec<u32> = std::iter::from_fn(|| q.pop().unwrap()).collect();
        assert_eq!(out, vec![2, 3, 4, 5]);
        m.push(&u32b(9), BPF_ANY).unwrap();
        assert_eq!(m.peek().unwrap(), Some(u32b(9).to_vec()));
        assert_eq!(m.pop().unwrap(), Some(u32b(9).to_vec()));
        assert_eq!(m.pop().unwrap(), None);
        assert!(matches!(m.lookup(&u32b(0)), Err(Error::InvalidArgument(_))));
    }
    maps_gone(&ids);
}

#[test]
fn stack() {
    let ids;
    {
        let m = create(MapSpec::new(MapType::Stack, 0, 8, 8).name(name("stack")));
        ids = vec![m.id()];
        let s: Queue<u64> = Queue::new(Map::from_id(m.id()).unwrap()).unwrap();
        for v in 10..15u64 {
            s.push(&v, BPF_ANY).unwrap();
        }
        assert_eq!(s.peek().unwrap(), Some(14));
        let out: Vec<u64> = std::iter::from_fn(|| s.pop().unwrap()).collect();
        assert_eq!(out, vec![14, 13, 12, 11, 10]);
        assert_eq!(s.peek().unwrap(), None);
    }
    maps_gone(&ids);
}

#[test]
fn bloom_filter() {
    let ids;
    {
        let m = create(
            MapSpec::new(MapType::BloomFilter, 0, 8, 1000)
                .name(name("bloom"))
                .map_extra(5),
        );
        ids = vec![m.id()];
        assert_eq!(m.info().unwrap().map_extra, 5);
        let b: BloomFilter<u64> = BloomFilter::new(Map::from_id(m.id()).unwrap()).unwrap();
        for v in (0..50u64).map(|i| i * 1_000_003) {
            b.insert(&v).unwrap();
        }
        for v in (0..50u64).map(|i| i * 1_000_003) {
            assert!(b.contains(&v).unwrap(), "{v} was added");
        }
        // Sized for 1000 elements with 5 hashes, 50 entries give a false-positive rate
        // around 1e-7; a handful of misses out of 10,000 would mean the probe is wrong.
        let false_pos = (0..10_000u64)
            .map(|i| i * 2 + 1)
            .filter(|v| b.contains(v).unwrap())
            .count();
        assert!(false_pos < 5, "{false_pos} false positives");
        assert_eq!(errno_of(m.pop()), ENOTSUPP);
    }
    maps_gone(&ids);
}

#[test]
fn array_of_maps() {
    let ids;
    {
        let tmpl = create(MapSpec::new(MapType::Array, 4, 4, 2).name(name("tmpl")));
        let outer = create(
            MapSpec::new(MapType::ArrayOfMaps, 4, 4, 4)
                .name(name("aom"))
                .inner_map(tmpl.fd()),
        );
        let inner = create(MapSpec::new(MapType::Array, 4, 4, 2).name(name("inner")));
        inner.update(&u32b(1), &u32b(4242), BPF_ANY).unwrap();
        ids = vec![tmpl.id(), outer.id(), inner.id()];
        outer.update_fd(&u32b(2), inner.fd(), BPF_ANY).unwrap();
        // A lookup from user space yields the inner map's id.
        assert_eq!(
            outer.lookup(&u32b(2)).unwrap(),
            Some(u32b(inner.id()).to_vec())
        );
        let got = outer.inner_map(&u32b(2)).unwrap().unwrap();
        assert_eq!(got.id(), inner.id());
        assert_eq!(got.lookup(&u32b(1)).unwrap(), Some(u32b(4242).to_vec()));
        got.update(&u32b(0), &u32b(7), BPF_ANY).unwrap();
        assert_eq!(inner.lookup(&u32b(0)).unwrap(), Some(u32b(7).to_vec()));
        assert!(outer.inner_map(&u32b(1)).unwrap().is_none());
        // Maps of another shape are refused.
        let other = create(MapSpec::new(MapType::Hash, 4, 4, 2).name(name("other")));
        assert_eq!(
            errno_of(outer.update_fd(&u32b(0), other.fd(), BPF_ANY)),
            libc::EINVAL
        );
        assert!(outer.delete(&u32b(2)).unwrap());
        assert!(outer.inner_map(&u32b(2)).unwrap().is_none());
        outer.update_fd(&u32b(3), inner.fd(), BPF_ANY).unwrap();
        assert!(inner.inner_map(&u32b(0)).is_err());
    }
    maps_gone(&ids);
}

#[test]
fn hash_of_maps() {
    let ids;
    {
        let tmpl = create(
            MapSpec::new(MapType::Array, 4, 8, 4)
                .name(name("htmpl"))
                .flags(BPF_F_INNER_MAP),
        );
        let outer = create(
            MapSpec::new(MapType::HashOfMaps, 8, 4, 8)
                .name(name("hom"))
                .inner_map(tmpl.fd()),
        );
        drop(tmpl);
        // BPF_F_INNER_MAP lets inner maps differ in max_entries.
        let a = create(
            MapSpec::new(MapType::Array, 4, 8, 16)
                .name(name("ia"))
                .flags(BPF_F_INNER_MAP),
        );
        let b = create(
            MapSpec::new(MapType::Array, 4, 8, 2)
                .name(name("ib"))
                .flags(BPF_F_INNER_MAP),
        );
        a.update(&u32b(1), &u64b(111), BPF_ANY).unwrap();
        b.update(&u32b(1), &u64b(222), BPF_ANY).unwrap();
        ids = vec![outer.id(), a.id(), b.id()];
        outer.update_fd(&u64b(0xa), a.fd(), BPF_NOEXIST).unwrap();
        outer.update_fd(&u64b(0xb), b.fd(), BPF_NOEXIST).unwrap();
        let ia = outer.inner_map(&u64b(0xa)).unwrap().unwrap();
        let ib = outer.inner_map(&u64b(0xb)).unwrap().unwrap();
        assert_eq!(ia.lookup(&u32b(1)).unwrap(), Some(u64b(111).to_vec()));
        assert_eq!(ib.lookup(&u32b(1)).unwrap(), Some(u64b(222).to_vec()));
        assert_eq!((ia.max_entries(), ib.max_entries()), (16, 2));
        assert_eq!(outer.keys().count(), 2);
        drop((a, b));
        // The outer map keeps its inner maps alive.
        assert_eq!(ia.lookup(&u32b(1)).unwrap(), Some(u64b(111).to_vec()));
        // Without BPF_F_INNER_MAP the inner maps must match the template exactly.
        let c = create(MapSpec::new(MapType::Array, 4, 8, 3).name(name("ic")));
        assert_eq!(
            errno_of(outer.update_fd(&u64b(0xc), c.fd(), BPF_ANY)),
            libc::EINVAL
        );
        assert!(outer.delete(&u64b(0xa)).unwrap());
        assert_eq!(outer.keys().count(), 1);
    }
    maps_gone(&ids);
}

#[test]
fn prog_array() {
    let (ids, pid);
    {
        let m = create(MapSpec::new(MapType::ProgArray, 4, 4, 4).name(name("progs")));
        let prog = trivial_prog();
        pid = prog.id().unwrap();
        ids = vec![m.id()];
        m.update_fd(&u32b(1), prog.fd(), BPF_ANY).unwrap();
        // Lookups from user space return the program's id.
        assert_eq!(m.lookup(&u32b(1)).unwrap(), Some(u32b(pid).to_vec()));
        assert_eq!(m.lookup(&u32b(0)).unwrap(), None);
        let keys: Vec<Vec<u8>> = m.keys().map(Result::unwrap).collect();
        assert_eq!(keys.len(), 4);
        // A map fd is not a program.
        assert_eq!(
            errno_of(m.update_fd(&u32b(2), m.fd(), BPF_ANY)),
            libc::EINVAL
        );
        drop(prog);
        // The array holds the program.
        assert!(get_fd_by_id(ObjKind::Prog, pid).is_ok());
        assert!(m.delete(&u32b(1)).unwrap());
        assert!(!m.delete(&u32b(1)).unwrap());
    }
    maps_gone(&ids);
    common::assert_gone(&[pid], &[], &[]);
}

#[test]
fn perf_event_array() {
    use bpfkit_sys::perf::{perf_event_open, PerfEventAttr, PerfTarget};
    let ids;
    {
        let cpus = bpfkit_sys::mmap::online_cpus().unwrap();
        let m = create(
            MapSpec::new(MapType::PerfEventArray, 4, 4, possible_cpus() as u32).name(name("perf")),
        );
        ids = vec![m.id()];
        let attr = PerfEventAttr {
            type_: 1,             // PERF_TYPE_SOFTWARE
            config: 10,           // PERF_COUNT_SW_BPF_OUTPUT
            sample_type: 1 << 10, // PERF_SAMPLE_RAW
            sample_period_or_freq: 1,
            ..Default::default()
        };
        let mut events = Vec::new();
        for &cpu in &cpus {
            let fd = perf_event_open(
                &attr,
                PerfTarget {
                    pid: -1,
                    cpu: cpu as i32,
                },
                None,
                0,
                "bpf-output",
            )
            .unwrap();
            m.update_fd(&u32b(cpu as u32), fd.as_fd(), BPF_ANY).unwrap();
            events.push(fd);
        }
        // Perf event arrays cannot be read from user space.
        assert_eq!(errno_of(m.lookup(&u32b(0))), ENOTSUPP);
        assert_eq!(m.keys().count(), possible_cpus());
        // A non-perf fd is refused.
        let f = std::fs::File::open("/dev/null").unwrap();
        assert_eq!(
            errno_of(m.update_fd(&u32b(0), f.as_fd(), BPF_ANY)),
            libc::EBADF
        );
        assert!(m.delete(&u32b(cpus[0] as u32)).unwrap());
        assert!(!m.delete(&u32b(cpus[0] as u32)).unwrap());
    }
    maps_gone(&ids);
}

#[test]
fn stack_trace() {
    let ids;
    {
        let m = create(MapSpec::new(MapType::StackTrace, 4, 8 * 127, 128).name(name("stk")));
        ids = vec![m.id()];
        assert_eq!(m.lookup(&u32b(0)).unwrap(), None);
        assert_eq!(m.lookup(&u32b(5)).unwrap(), None);
        assert_eq!(m.next_key(None).unwrap(), None);
        assert!(!m.delete(&u32b(5)).unwrap());
        // Only programs add stacks.
        assert_eq!(
            errno_of(m.update(&u32b(0), &[0; 8 * 127], BPF_ANY)),
            libc::EINVAL
        );
        // The value must hold whole u64 frames.
        assert!(Map::create(&MapSpec::new(MapType::StackTrace, 4, 12, 8)).is_err());
    }
    maps_gone(&ids);
}

#[test]
fn cgroup_array() {
    let ids;
    {
        let cg = TempCgroup::new();
        let m = create(MapSpec::new(MapType::CgroupArray, 4, 4, 2).name(name("cga")));
        ids = vec![m.id()];
        let root = std::fs::File::open(common::net::cgroup2_root()).unwrap();
        let child = cg.open();
        m.update_fd(&u32b(0), root.as_fd(), BPF_ANY).unwrap();
        m.update_fd(&u32b(1), child.as_fd(), BPF_ANY).unwrap();
        assert_eq!(errno_of(m.lookup(&u32b(0))), ENOTSUPP);
        assert!(m.delete(&u32b(1)).unwrap());
        assert!(!m.delete(&u32b(1)).unwrap());
        // A regular file is not a cgroup.
        let f = std::fs::File::open("/proc/self/status").unwrap();
        assert!(m.update_fd(&u32b(1), f.as_fd(), BPF_ANY).is_err());
    }
    maps_gone(&ids);
}

/// `struct bpf_cgroup_storage_key`: cgroup inode id and attach type, padded to 16 bytes.
fn cgroup_storage_key(inode: u64, attach_type: u32) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&inode.to_ne_bytes());
    k[8..12].copy_from_slice(&attach_type.to_ne_bytes());
    k
}

/// Creates a cgroup storage map, attaches a cgroup_skb program using it to a fresh cgroup
/// (which is what creates the storage), then reads and writes that storage from user space.
fn cgroup_storage_test(map_type: MapType) {
    use bpfkit_sys::prog::{prog_attach, prog_detach, ProgAttach};
    const INET_INGRESS: u32 = 0;
    let cpus = possible_cpus();
    let (ids, pid);
    {
        let m = create(MapSpec::new(map_type, 16, 8, 0).name(name("cgst")));
        ids = vec![m.id()];
        assert_eq!(m.next_key(None).unwrap(), None);
        let cg = TempCgroup::new();
        let key = cgroup_storage_key(cg.inode(), INET_INGRESS);
        assert_eq!(m.lookup(&key).unwrap(), None);
        assert_eq!(
            errno_of(m.update(&key, &vec![0; m.value_buf_size()], BPF_ANY)),
            libc::ENOENT
        );

        // r1 = map; r2 = 0; call bpf_get_local_storage; r0 = 1; exit
        let insns = Builder::new()
            .ld_map_fd(Reg::R1, m.fd().as_raw_fd())
            .mov64_imm(Reg::R2, 0)
            .call_helper(81)
            .mov64_imm(Reg::R0, 1)
            .exit()
            .build()
            .unwrap();
        let prog = Program::load(
            &ProgramSpec::new("maps_cgst", ProgramType::CgroupSkb, &insns)
                .expected_attach_type(AttachType::CgroupInetIngress),
        )
        .unwrap();
        pid = prog.id().unwrap();
        let cgf = cg.open();
        let attach = ProgAttach {
            target: cgf.as_raw_fd() as u32,
            prog_fd: prog.fd().as_raw_fd() as u32,
            attach_type: INET_INGRESS,
            ..Default::default()
        };
        prog_attach(&attach).unwrap();

        let keys: Vec<Vec<u8>> = m.keys().map(Result::unwrap).collect();
        assert_eq!(keys, vec![key.to_vec()]);
        if map_type.is_percpu() {
            assert_eq!(m.lookup_percpu(&key).unwrap(), Some(vec![vec![0; 8]; cpus]));
            let vals: Vec<[u8; 8]> = (0..cpus as u64).map(|c| u64b(c + 1)).collect();
            m.update_percpu(&key, &vals, BPF_ANY).unwrap();
            let got = m.lookup_percpu(&key).unwrap().unwrap();
            assert_eq!(got, vals.iter().map(|v| v.to_vec()).collect::<Vec<_>>());
        } else {
            assert_eq!(m.lookup(&key).unwrap(), Some(vec![0; 8]));
            m.update(&key, &u64b(0x1234), BPF_ANY).unwrap();
            assert_eq!(m.lookup(&key).unwrap(), Some(u64b(0x1234).to_vec()));
        }
        // Only the kernel removes storage.
        assert_eq!(errno_of(m.delete(&key)), libc::EINVAL);
        prog_detach(&attach).unwrap();
        // Storage belongs to the cgroup: it outlives the detach and dies with the cgroup.
        assert_eq!(m.next_key(None).unwrap(), Some(key.to_vec()));
        drop(cgf);
        drop(cg);
        let deadline = Instant::now() + Duration::from_secs(2);
        while m.next_key(None).unwrap().is_some() {
            assert!(
                Instant::now() < deadline,
                "storage of a removed cgroup still present"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    maps_gone(&ids);
    common::assert_gone(&[pid], &[], &[]);
}

#[test]
fn cgroup_storage() {
    cgroup_storage_test(MapType::CgroupStorage);
}

#[test]
fn percpu_cgroup_storage() {
    cgroup_storage_test(MapType::PercpuCgroupStorage);
}

#[test]
fn sk_storage() {
    let ids;
    {
        let btf = load_btf();
        let m = storage_map(MapType::SkStorage, btf.as_fd());
        ids = vec![m.id()];
        let info = m.info().unwrap();
        assert!(info.btf_id > 0);
        assert_eq!(
            (info.btf_key_type_id, info.btf_value_type_id),
            (BTF_INT, BTF_VAL)
        );
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        storage_ops(&m, sock.as_fd());
        // A non-socket fd has no socket storage.
        let f = std::fs::File::open("/dev/null").unwrap();
        assert!(m
            .update(&f.as_raw_fd().to_ne_bytes(), &u64b(1), BPF_ANY)
            .is_err());
        // Keys are fds: there is nothing to iterate.
        assert_eq!(errno_of(m.next_key(None)), ENOTSUPP);
    }
    maps_gone(&ids);
}

#[test]
fn inode_storage() {
    let ids;
    {
        let btf = load_btf();
        let m = storage_map(MapType::InodeStorage, btf.as_fd());
        ids = vec![m.id()];
        let f = std::fs::File::open("/proc/self/exe").unwrap();
        storage_ops(&m, f.as_fd());
    }
    maps_gone(&ids);
}

#[test]
fn task_storage() {
    let ids;
    {
        let btf = load_btf();
        let m = storage_map(MapType::TaskStorage, btf.as_fd());
        ids = vec![m.id()];
        let me = bpfkit_sys::map::pidfd_open(std::process::id() as i32).unwrap();
        storage_ops(&m, me.as_fd());
        // Storage belongs to the task, not to the fd: another pidfd sees the same value.
        m.update(&me.as_raw_fd().to_ne_bytes(), &u64b(5), BPF_ANY)
            .unwrap();
        let again = bpfkit_sys::map::pidfd_open(std::process::id() as i32).unwrap();
        assert_eq!(
            m.lookup(&again.as_raw_fd().to_ne_bytes()).unwrap(),
            Some(u64b(5).to_vec())
        );
    }
    maps_gone(&ids);
}

#[test]
fn cgrp_storage() {
    // A storage map needs BTF for its value, so a bare create cannot probe the type.
    require_feature!(KernelVersion(6, 2));
    let ids;
    {
        let btf = load_btf();
        let m = storage_map(MapType::CgrpStorage, btf.as_fd());
        ids = vec![m.id()];
        let cg = TempCgroup::new();
        let f = cg.open();
        storage_ops(&m, f.as_fd());
        m.update(&f.as_raw_fd().to_ne_bytes(), &u64b(9), BPF_ANY)
            .unwrap();
        let f2 = cg.open();
        assert_eq!(
            m.lookup(&f2.as_raw_fd().to_ne_bytes()).unwrap(),
            Some(u64b(9).to_vec())
        );
    }
    maps_gone(&ids);
}

#[test]
fn devmap() {
    let ids;
    {
        let m = create(MapSpec::new(MapType::Devmap, 4, 4, 8).name(name("devm")));
        ids = vec![m.id()];
        let lo = 1u32; // the loopback device is always ifindex 1
        m.update(&u32b(3), &u32b(lo), BPF_ANY).unwrap();
        assert_eq!(m.lookup(&u32b(3)).unwrap(), Some(u32b(lo).to_vec()));
        assert_eq!(m.lookup(&u32b(2)).unwrap(), None);
        // No such device.
        assert_eq!(
            errno_of(m.update(&u32b(4), &u32b(999_999), BPF_ANY)),
            libc::EINVAL
        );
        let keys: Vec<Vec<u8>> = m.keys().map(Result::unwrap).collect();
        assert_eq!(keys.len(), 8);
        assert!(m.delete(&u32b(3)).unwrap());
        assert_eq!(m.lookup(&u32b(3)).unwrap(), None);
    }
    maps_gone(&ids);
}

#[test]
fn devmap_hash() {
    let ids;
    {
        let m = create(MapSpec::new(MapType::DevmapHash, 4, 4, 8).name(name("devh")));
        ids = vec![m.id()];
        m.update(&u32b(1000), &u32b(1), BPF_ANY).unwrap();
        m.update(&u32b(2000), &u32b(1), BPF_NOEXIST).unwrap();
        assert_eq!(m.lookup(&u32b(1000)).unwrap(), Some(u32b(1).to_vec()));
        let mut keys: Vec<u32> = m
            .keys()
            .map(|k| u32::from_ne_bytes(k.unwrap().try_into().unwrap()))
            .collect();
        keys.sort();
        assert_eq!(keys, vec![1000, 2000]);
        assert!(m.delete(&u32b(1000)).unwrap());
        assert!(!m.delete(&u32b(1000)).unwrap());
        assert_eq!(m.keys().count(), 1);
    }
    maps_gone(&ids);
}

#[test]
fn cpumap() {
    let ids;
    {
        let cpus = bpfkit_sys::mmap::online_cpus().unwrap();
        let m =
            create(MapSpec::new(MapType::Cpumap, 4, 4, possible_cpus() as u32).name(name("cpum")));
        ids = vec![m.id()];
        // The value is the queue size of the CPU's redirect ring.
        m.update(&u32b(cpus[0] as u32), &u32b(192), BPF_ANY)
            .unwrap();
        assert_eq!(
            m.lookup(&u32b(cpus[0] as u32)).unwrap(),
            Some(u32b(192).to_vec())
        );
        assert_eq!(
            errno_of(m.update(&u32b(possible_cpus() as u32), &u32b(192), BPF_ANY)),
            libc::E2BIG
        );
        assert!(m.delete(&u32b(cpus[0] as u32)).unwrap());
        assert_eq!(m.lookup(&u32b(cpus[0] as u32)).unwrap(), None);
    }
    maps_gone(&ids);
}

#[test]
fn xskmap() {
    let ids;
    {
        let m = create(MapSpec::new(MapType::Xskmap, 4, 4, 4).name(name("xsk")));
        ids = vec![m.id()];
        assert_eq!(m.keys().count(), 4);
        // An AF_XDP socket bound (copy mode) to queue 0 of the loopback device goes in.
        let xsk = bpfkit_sys::map::XskSocket::bind(1, 0).unwrap();
        m.update_fd(&u32b(1), xsk.fd(), BPF_NOEXIST).unwrap();
        // Storing the same socket again is a no-op; BPF_EXIST needs an occupied slot.
        m.update_fd(&u32b(1), xsk.fd(), BPF_NOEXIST).unwrap();
        assert_eq!(
            errno_of(m.update_fd(&u32b(2), xsk.fd(), BPF_EXIST)),
            libc::ENOENT
        );
        // User space cannot read sockets back.
        assert_eq!(errno_of(m.lookup(&u32b(1))), libc::EOPNOTSUPP);
        // Other sockets are refused.
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(
            errno_of(m.update_fd(&u32b(0), udp.as_fd(), BPF_ANY)),
            libc::EOPNOTSUPP
        );
        assert!(m.delete(&u32b(1)).unwrap());
        m.update_fd(&u32b(1), xsk.fd(), BPF_NOEXIST).unwrap();
        // Deleting an empty slot succeeds; beyond max_entries it is refused.
        assert!(m.delete(&u32b(0)).unwrap());
        assert_eq!(errno_of(m.delete(&u32b(4))), libc::EINVAL);
    }
    maps_gone(&ids);
}

fn sock_map_ops(m: &Map, keys: [&[u8]; 2], listed: usize) {
    let (c, s) = tcp_pair();
    m.update_fd(keys[0], c.as_fd(), BPF_NOEXIST).unwrap();
    m.update_fd(keys[1], s.as_fd(), BPF_NOEXIST).unwrap();
    assert_eq!(
        errno_of(m.update_fd(keys[0], s.as_fd(), BPF_NOEXIST)),
        libc::EEXIST
    );
    // With 8-byte values a lookup returns the socket's cookie.
    let cookie = bpfkit_sys::map::socket_cookie(c.as_fd()).unwrap();
    assert_eq!(m.lookup(keys[0]).unwrap(), Some(u64b(cookie).to_vec()));
    let cookie_s = bpfkit_sys::map::socket_cookie(s.as_fd()).unwrap();
    assert_eq!(m.lookup(keys[1]).unwrap(), Some(u64b(cookie_s).to_vec()));
    assert_ne!(cookie, cookie_s);
    assert_eq!(m.keys().count(), listed);
    // Only sockets go in.
    let f = std::fs::File::open("/dev/null").unwrap();
    assert!(m.update_fd(keys[0], f.as_fd(), BPF_ANY).is_err());
    assert!(m.delete(keys[0]).unwrap());
    if listed == 2 {
        assert!(!m.delete(keys[0]).unwrap());
    } else {
        // A sockmap refuses to delete an empty slot.
        assert_eq!(errno_of(m.delete(keys[0])), libc::EINVAL);
    }
    // Closing a socket removes it from the map.
    drop(s);
    let deadline = Instant::now() + Duration::from_secs(2);
    while m.lookup(keys[1]).unwrap().is_some() {
        assert!(Instant::now() < deadline, "closed socket still in the map");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sockmap() {
    let ids;
    {
        let m = create(MapSpec::new(MapType::Sockmap, 4, 8, 4).name(name("sockm")));
        ids = vec![m.id()];
        // A sockmap is an array: every index is a key.
        sock_map_ops(&m, [&u32b(0), &u32b(3)], 4);
    }
    maps_gone(&ids);
}

#[test]
fn sockhash() {
    let ids;
    {
        let m = create(MapSpec::new(MapType::Sockhash, 12, 8, 4).name(name("sockh")));
        ids = vec![m.id()];
        sock_map_ops(&m, [b"client-key-1", b"server-key-2"], 2);
    }
    maps_gone(&ids);
}

#[test]
fn reuseport_sockarray() {
    let ids;
    {
        let m = create(MapSpec::new(MapType::ReuseportSockarray, 4, 8, 4).name(name("reuse")));
        ids = vec![m.id()];
        let udp = bpfkit_sys::map::reuseport_socket(false).unwrap();
        let tcp = bpfkit_sys::map::reuseport_socket(true).unwrap();
        m.update_fd(&u32b(0), udp.as_fd(), BPF_NOEXIST).unwrap();
        m.update_fd(&u32b(1), tcp.as_fd(), BPF_NOEXIST).unwrap();
        let cookie = bpfkit_sys::map::socket_cookie(udp.as_fd()).unwrap();
        assert_eq!(m.lookup(&u32b(0)).unwrap(), Some(u64b(cookie).to_vec()));
        assert_eq!(m.lookup(&u32b(2)).unwrap(), None);
        // Without SO_REUSEPORT a socket is refused.
        let plain = UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(
            errno_of(m.update_fd(&u32b(2), plain.as_fd(), BPF_ANY)),
            libc::EINVAL
        );
        assert!(m.delete(&u32b(0)).unwrap());
        assert_eq!(m.lookup(&u32b(0)).unwrap(), None);
    }
    maps_gone(&ids);
}

/// A ring map of 16 pages; sizes that are not a power-of-two number of pages are refused.
fn ring_map(map_type: MapType) -> Map {
    let page = bpfkit_sys::mmap::page_size() as u32;
    let m = create(MapSpec::new(map_type, 0, 0, 16 * page).name(name("ring")));
    assert_eq!(m.max_entries(), 16 * page);
    assert_eq!(m.info().unwrap().map_type(), Some(map_type));
    for bad in [3 * page, page / 2] {
        match Map::create(&MapSpec::new(map_type, 0, 0, bad)) {
            Err(Error::InvalidArgument(msg)) => assert!(msg.contains("max_entries"), "{msg}"),
            other => panic!("{other:?}"),
        }
    }
    // Rings have no elements to look up.
    assert!(m.next_key(None).is_err());
    m
}

#[test]
fn ringbuf() {
    let (ids, pid);
    {
        let m = ring_map(MapType::Ringbuf);
        ids = vec![m.id()];
        // *(u64 *)(r10 - 8) = 0x1234; bpf_ringbuf_output(map, r10 - 8, 8, 0); return 0
        let insns = Builder::new()
            .store_imm(Size::DW, Reg::R10, -8, 0x1234)
            .ld_map_fd(Reg::R1, m.fd().as_raw_fd())
            .mov64_reg(Reg::R2, Reg::R10)
            .alu64_imm(AluOp::Add, Reg::R2, -8)
            .mov64_imm(Reg::R3, 8)
            .mov64_imm(Reg::R4, 0)
            .call_helper(130)
            .mov64_imm(Reg::R0, 0)
            .exit()
            .build()
            .unwrap();
        let prog = Program::load(&ProgramSpec::new(
            "maps_ring",
            ProgramType::SocketFilter,
            &insns,
        ))
        .unwrap();
        pid = prog.id().unwrap();
        let packet = [0u8; 64];
        prog.test_run(&TestRun {
            data_in: &packet,
            repeat: 3,
            ..Default::default()
        })
        .unwrap();
        let mut ring = bpfkit::RingBuf::new(&m).unwrap();
        let mut got = Vec::new();
        ring.consume(|r| got.push(r.to_vec())).unwrap();
        assert_eq!(got, vec![0x1234u64.to_ne_bytes().to_vec(); 3]);
    }
    maps_gone(&ids);
    common::assert_gone(&[pid], &[], &[]);
}

#[test]
fn user_ringbuf() {
    let ids;
    {
        let m = ring_map(MapType::UserRingbuf);
        ids = vec![m.id()];
        let mut ring = bpfkit::UserRingBuf::new(&m).unwrap();
        let free = ring.free();
        assert!(ring.write(b"from user space").unwrap());
        assert_eq!(ring.written(), 1);
        assert!(ring.free() < free);
    }
    maps_gone(&ids);
}

#[test]
fn arena() {
    require_feature!(Map(common::features::MapKind::Arena));
    let page = bpfkit_sys::mmap::page_size();
    let ids;
    {
        let m = create(
            MapSpec::new(MapType::Arena, 0, 0, 4)
                .name(name("arena"))
                .flags(BPF_F_MMAPABLE),
        );
        ids = vec![m.id()];
        let view = m.mmap().unwrap();
        assert_eq!(view.len(), 4 * page);
        // Touching a page from user space allocates it.
        view.write_bytes(page + 10, b"arena bytes").unwrap();
        let mut buf = [0u8; 11];
        view.read_bytes(page + 10, &mut buf).unwrap();
        assert_eq!(&buf, b"arena bytes");
        assert!(view.read_bytes(4 * page - 2, &mut buf).is_err());
        // Arenas have no elements.
        assert!(view.get::<u32>(0).is_err());
        assert!(m.next_key(None).is_err());
    }
    maps_gone(&ids);
}

#[test]
fn pin_open_by_pin_and_id() {
    let ids;
    let dir = common::PinDir::new("maps");
    {
        let m = create(MapSpec::new(MapType::Hash, 4, 4, 4).name(name("pin")));
        ids = vec![m.id()];
        m.update(&u32b(1), &u32b(2), BPF_ANY).unwrap();
        let path = dir.join("m");
        m.pin(&path).unwrap();
        assert!(bpfkit_sys::fs::is_bpffs(&path).unwrap());
        let again = Map::from_pin(&path).unwrap();
        assert_eq!(again.id(), m.id());
        assert_eq!(again.lookup(&u32b(1)).unwrap(), Some(u32b(2).to_vec()));
        let ro = Map::from_pin_with_flags(&path, BPF_F_RDONLY).unwrap();
        assert_eq!(
            errno_of(ro.update(&u32b(1), &u32b(3), BPF_ANY)),
            libc::EPERM
        );
        let by_id = Map::from_id(m.id()).unwrap();
        assert_eq!(by_id.name(), m.name());
        assert_eq!(by_id.key_size(), 4);
        drop((m, again, ro, by_id));
        // The pin keeps the map alive.
        let reopened = Map::from_pin(&path).unwrap();
        assert_eq!(reopened.lookup(&u32b(1)).unwrap(), Some(u32b(2).to_vec()));
        Map::unpin(&path).unwrap();
        assert!(Map::from_pin(&path).is_err());
        assert!(Map::unpin(&path).is_err());
    }
    maps_gone(&ids);
}

#[test]
fn bad_specs_are_clear_errors() {
    match Map::create(&MapSpec::new(MapType::Hash, 4, 4, 4).name("a_name_of_16_chr")) {
        Err(Error::InvalidArgument(msg)) => assert!(msg.contains("at most 15"), "{msg}"),
        other => panic!("{other:?}"),
    }
    match Map::create(&MapSpec::new(MapType::Hash, 4, 4, 4).name("bad-name")) {
        Err(Error::InvalidArgument(msg)) => assert!(msg.contains("'-'"), "{msg}"),
        other => panic!("{other:?}"),
    }
    match Map::create(&MapSpec::new(MapType::Hash, 0, 4, 4)) {
        Err(Error::InvalidArgument(msg)) => {
            assert!(msg.contains("hash map") && msg.contains("key 0 B"), "{msg}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_map_type_has_bpftool_name() {
    for &t in MapType::ALL {
        assert_eq!(MapType::from_name(t.name()), Some(t));
        assert_eq!(MapType::from_raw(t as u32), Some(t));
    }
    assert_eq!(MapType::LruPercpuHash.name(), "lru_percpu_hash");
    assert_eq!(MapType::CgrpStorage as u32, 32);
    assert_eq!(MapType::Arena as u32, 33);
    assert_eq!(MapType::from_raw(MapType::ALL.len() as u32), None);
}

#[test]
fn bpftool_map_types_are_known_and_available() {
    // Every map type bpftool probes on this machine must be one we name the same way.
    let out = std::process::Command::new("bpftool")
        .args(["feature", "probe", "kernel"])
        .output()
        .expect("bpftool (install it: apt-get install bpftool)");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut n = 0;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("eBPF map_type ") {
            let name = rest.split_whitespace().next().unwrap();
            assert!(
                MapType::from_name(name).is_some(),
                "unknown map type {name}"
            );
            assert!(line.ends_with("is available"), "{line}");
            n += 1;
        }
    }
    assert!(n >= 31, "bpftool listed {n} map types");
}

#[test]
fn btf_load_info_and_log() {
    let blob = btf_blob();
    let btf = load_btf();
    let info = bpfkit_sys::btf::btf_info(btf.as_fd()).unwrap();
    assert!(info.id > 0);
    assert_eq!(info.size as usize, blob.len());
    assert!(!info.kernel_btf);
    assert_eq!(bpfkit_sys::btf::btf_raw(btf.as_fd()).unwrap(), blob);
    // A member pointing at a type that does not exist: refused, with the kernel's reason.
    let mut bad = blob.clone();
    let member_type_at = 24 + 16 + 16 + 12 + 4;
    bad[member_type_at..member_type_at + 4].copy_from_slice(&99u32.to_ne_bytes());
    let err = bpfkit_sys::btf::btf_load(&bad).unwrap_err();
    assert_eq!(err.error.errno(), Some(libc::EINVAL));
    assert!(err.log.contains("Invalid member"), "log: {}", err.log);
    assert!(err.to_string().contains(&err.log.trim_end()[..10]));
}
