//! BPF maps: every kernel map type, created from a [`MapSpec`] or opened by pin or id, with
//! byte-level element operations, per-CPU values, batches, freezing, memory mapping, and
//! typed views over [`Pod`] keys and values.
//!
//! [`Map`] works on byte slices and checks their sizes against the map before every call, so a
//! wrong size is an [`Error::InvalidArgument`] naming both sizes, never a kernel overrun. The
//! hot paths ([`Map::lookup_into`], [`Map::update`], [`Map::delete`]) allocate nothing: the
//! attribute lives on the stack and the caller owns the buffers. The typed wrappers in
//! [`typed`] ([`HashMap`], [`Queue`], [`BloomFilter`]) convert through stack arrays and
//! allocate nothing either, except when iterating; [`PerCpuHashMap`] builds one buffer per
//! call.

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use bpfkit_sys::map::{MapCreateAttr, MapFd, MapInfoRaw, OBJ_NAME_LEN};
use bpfkit_sys::obj::ObjKind;

use crate::error::{Error, Result};

mod mmap;
pub mod pod;
pub mod typed;

pub use self::mmap::MappedMap;
pub use self::pod::Pod;
pub use self::typed::{BloomFilter, HashMap, PerCpuHashMap, PerCpuValues, Queue};
pub use bpfkit_sys::map::{BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST};

/// Creation flags (`map_flags`), the kernel's `BPF_F_*` values.
pub mod flags {
    /// Hash maps: allocate elements on demand instead of up front.
    pub const BPF_F_NO_PREALLOC: u32 = 1 << 0;
    /// LRU maps: one LRU list per CPU.
    pub const BPF_F_NO_COMMON_LRU: u32 = 1 << 1;
    /// Honour `numa_node`.
    pub const BPF_F_NUMA_NODE: u32 = 1 << 2;
    /// Read-only from user space (also an open flag for pins and ids).
    pub const BPF_F_RDONLY: u32 = 1 << 3;
    /// Write-only from user space (also an open flag for pins and ids).
    pub const BPF_F_WRONLY: u32 = 1 << 4;
    /// Stack trace maps: store build id and offset instead of addresses.
    pub const BPF_F_STACK_BUILD_ID: u32 = 1 << 5;
    /// Hash maps: zero hash seed (tests only).
    pub const BPF_F_ZERO_SEED: u32 = 1 << 6;
    /// Read-only for programs.
    pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
    /// Write-only for programs.
    pub const BPF_F_WRONLY_PROG: u32 = 1 << 8;
    /// Socket storage: clone into accepted children.
    pub const BPF_F_CLONE: u32 = 1 << 9;
    /// Arrays and arenas: allow `mmap(2)`.
    pub const BPF_F_MMAPABLE: u32 = 1 << 10;
    /// Perf event arrays: keep events when the map's creator closes it.
    pub const BPF_F_PRESERVE_ELEMS: u32 = 1 << 11;
    /// A template inner map whose `max_entries` may differ from the maps stored later.
    pub const BPF_F_INNER_MAP: u32 = 1 << 12;
    /// Arenas: fault instead of reading zero on unallocated pages.
    pub const BPF_F_SEGV_ON_FAULT: u32 = 1 << 13;
    /// Arenas: do not convert pointers between user and kernel address.
    pub const BPF_F_NO_USER_CONV: u32 = 1 << 14;
    /// `btf_vmlinux_value_type_id` is in the BTF object `value_type_btf_obj_fd` (a module).
    pub const BPF_F_VTYPE_BTF_OBJ_FD: u32 = 1 << 15;
    /// `map_token_fd` holds a BPF token.
    pub const BPF_F_TOKEN_FD: u32 = 1 << 16;
}

macro_rules! map_types {
    ($($variant:ident = $num:literal, $name:literal, $doc:literal;)*) => {
        /// A kernel map type (`enum bpf_map_type`), numbered as the kernel numbers it.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u32)]
        pub enum MapType {
            $(#[doc = $doc] $variant = $num,)*
        }

        impl MapType {
            /// Every map type, in kernel order.
            pub const ALL: &'static [MapType] = &[$(MapType::$variant,)*];

            /// The type with kernel number `n`, if this library knows it.
            pub fn from_raw(n: u32) -> Option<MapType> {
                match n {
                    $($num => Some(MapType::$variant),)*
                    _ => None,
                }
            }

            /// bpftool's name (`hash`, `lru_percpu_hash`, `cgrp_storage`…).
            pub fn name(self) -> &'static str {
                match self {
                    $(MapType::$variant => $name,)*
                }
            }

            /// The type bpftool calls `name`.
            pub fn from_name(name: &str) -> Option<MapType> {
                match name {
                    $($name => Some(MapType::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

map_types! {
    Unspec = 0, "unspec", "No type; refused by the kernel.";
    Hash = 1, "hash", "Hash table.";
    Array = 2, "array", "Array indexed by `u32`.";
    ProgArray = 3, "prog_array", "Program fds for tail calls.";
    PerfEventArray = 4, "perf_event_array", "Perf event fds, one per CPU, for `bpf_perf_event_output`.";
    PercpuHash = 5, "percpu_hash", "Hash table with a value per CPU.";
    PercpuArray = 6, "percpu_array", "Array with a value per CPU.";
    StackTrace = 7, "stack_trace", "Stack traces by id.";
    CgroupArray = 8, "cgroup_array", "Cgroup fds.";
    LruHash = 9, "lru_hash", "Hash table evicting least recently used elements.";
    LruPercpuHash = 10, "lru_percpu_hash", "LRU hash table with a value per CPU.";
    LpmTrie = 11, "lpm_trie", "Longest-prefix-match trie.";
    ArrayOfMaps = 12, "array_of_maps", "Array of inner maps.";
    HashOfMaps = 13, "hash_of_maps", "Hash of inner maps.";
    Devmap = 14, "devmap", "Network devices for XDP redirect, by index.";
    Sockmap = 15, "sockmap", "Sockets by index.";
    Cpumap = 16, "cpumap", "CPUs for XDP redirect.";
    Xskmap = 17, "xskmap", "AF_XDP sockets.";
    Sockhash = 18, "sockhash", "Sockets by key.";
    CgroupStorage = 19, "cgroup_storage", "Per-cgroup storage of attached programs (deprecated form).";
    ReuseportSockarray = 20, "reuseport_sockarray", "`SO_REUSEPORT` sockets.";
    PercpuCgroupStorage = 21, "percpu_cgroup_storage", "Per-cgroup, per-CPU storage of attached programs.";
    Queue = 22, "queue", "FIFO of values.";
    Stack = 23, "stack", "LIFO of values.";
    SkStorage = 24, "sk_storage", "Storage attached to sockets.";
    DevmapHash = 25, "devmap_hash", "Network devices for XDP redirect, by key.";
    StructOps = 26, "struct_ops", "A kernel struct of BPF callbacks.";
    Ringbuf = 27, "ringbuf", "Ring buffer from programs to user space.";
    InodeStorage = 28, "inode_storage", "Storage attached to inodes.";
    TaskStorage = 29, "task_storage", "Storage attached to tasks.";
    BloomFilter = 30, "bloom_filter", "Bloom filter.";
    UserRingbuf = 31, "user_ringbuf", "Ring buffer from user space to programs.";
    CgrpStorage = 32, "cgrp_storage", "Storage attached to cgroups.";
    Arena = 33, "arena", "Memory shared between programs and user space.";
}

impl fmt::Display for MapType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl MapType {
    /// Whether lookups return one value per possible CPU.
    pub fn is_percpu(self) -> bool {
        bpfkit_sys::map::is_percpu_type(self as u32)
    }
}

/// What to create: the `BPF_MAP_CREATE` attributes.
#[derive(Clone, Debug)]
pub struct MapSpec {
    /// Name shown by `bpftool map`, at most 15 bytes of `[A-Za-z0-9_.]`.
    pub name: String,
    /// The map type.
    pub map_type: MapType,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes (per CPU for per-CPU maps).
    pub value_size: u32,
    /// Maximum entries (bytes for ring buffers, pages for arenas).
    pub max_entries: u32,
    /// `BPF_F_*` flags, see [`flags`].
    pub flags: u32,
    /// Template inner map for `array_of_maps` / `hash_of_maps`.
    pub inner_map_fd: Option<i32>,
    /// Per-type extra: bloom filter hash count (low 4 bits), arena start address.
    pub map_extra: u64,
    /// NUMA node (sets `BPF_F_NUMA_NODE`).
    pub numa_node: Option<u32>,
    /// Network device to offload to.
    pub ifindex: u32,
    /// BTF object describing key and value.
    pub btf_fd: Option<i32>,
    /// BTF type id of the key.
    pub btf_key_type_id: u32,
    /// BTF type id of the value.
    pub btf_value_type_id: u32,
    /// vmlinux BTF type id of the value (struct_ops).
    pub btf_vmlinux_value_type_id: u32,
}

impl MapSpec {
    /// A spec with no name, no flags and no BTF.
    pub fn new(map_type: MapType, key_size: u32, value_size: u32, max_entries: u32) -> MapSpec {
        MapSpec {
            name: String::new(),
            map_type,
            key_size,
            value_size,
            max_entries,
            flags: 0,
            inner_map_fd: None,
            map_extra: 0,
            numa_node: None,
            ifindex: 0,
            btf_fd: None,
            btf_key_type_id: 0,
            btf_value_type_id: 0,
            btf_vmlinux_value_type_id: 0,
        }
    }

    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the `BPF_F_*` flags.
    pub fn flags(mut self, flags: u32) -> Self {
        self.flags = flags;
        self
    }

    /// Sets the template inner map of a map-in-map.
    pub fn inner_map(mut self, inner: BorrowedFd<'_>) -> Self {
        self.inner_map_fd = Some(inner.as_raw_fd());
        self
    }

    /// Sets `map_extra`.
    pub fn map_extra(mut self, extra: u64) -> Self {
        self.map_extra = extra;
        self
    }

    /// Places the map on a NUMA node.
    pub fn numa_node(mut self, node: u32) -> Self {
        self.numa_node = Some(node);
        self
    }

    /// Describes key and value by BTF type ids in `btf`.
    pub fn btf(mut self, btf: BorrowedFd<'_>, key_type_id: u32, value_type_id: u32) -> Self {
        self.btf_fd = Some(btf.as_raw_fd());
        self.btf_key_type_id = key_type_id;
        self.btf_value_type_id = value_type_id;
        self
    }

    fn to_attr(&self) -> Result<MapCreateAttr> {
        let name = self.name.as_bytes();
        if name.len() >= OBJ_NAME_LEN {
            return Err(Error::InvalidArgument(format!(
                "map name `{}` is {} bytes; the kernel allows at most {}",
                self.name,
                name.len(),
                OBJ_NAME_LEN - 1
            )));
        }
        if let Some(c) = self
            .name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '.'))
        {
            return Err(Error::InvalidArgument(format!(
                "map name `{}` contains {c:?}; the kernel allows only letters, digits, `_` and `.`",
                self.name
            )));
        }
        let mut map_name = [0u8; OBJ_NAME_LEN];
        map_name[..name.len()].copy_from_slice(name);
        let fd_u32 = |fd: Option<i32>| fd.map_or(0, |f| f as u32);
        Ok(MapCreateAttr {
            map_type: self.map_type as u32,
            key_size: self.key_size,
            value_size: self.value_size,
            max_entries: self.max_entries,
            map_flags: self.flags
                | if self.numa_node.is_some() {
                    flags::BPF_F_NUMA_NODE
                } else {
                    0
                },
            inner_map_fd: fd_u32(self.inner_map_fd),
            numa_node: self.numa_node.unwrap_or(0),
            map_name,
            map_ifindex: self.ifindex,
            btf_fd: fd_u32(self.btf_fd),
            btf_key_type_id: self.btf_key_type_id,
            btf_value_type_id: self.btf_value_type_id,
            btf_vmlinux_value_type_id: self.btf_vmlinux_value_type_id,
            map_extra: self.map_extra,
            ..Default::default()
        })
    }
}

/// What the kernel reports about a map (`struct bpf_map_info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapInfo {
    /// The kernel's type number (see [`MapInfo::map_type`]).
    pub map_type_raw: u32,
    /// Kernel id.
    pub id: u32,
    /// Key size.
    pub key_size: u32,
    /// Value size (per CPU for per-CPU maps).
    pub value_size: u32,
    /// Maximum entries.
    pub max_entries: u32,
    /// `BPF_F_*` creation flags.
    pub flags: u32,
    /// Name.
    pub name: String,
    /// Offload device, or 0.
    pub ifindex: u32,
    /// Id of the map's BTF object, or 0.
    pub btf_id: u32,
    /// BTF type id of the key.
    pub btf_key_type_id: u32,
    /// BTF type id of the value.
    pub btf_value_type_id: u32,
    /// vmlinux BTF type id of the value (struct_ops).
    pub btf_vmlinux_value_type_id: u32,
    /// Id of the kernel BTF holding that type.
    pub btf_vmlinux_id: u32,
    /// Per-type extra.
    pub map_extra: u64,
    /// Device number of the offload netns.
    pub netns_dev: u64,
    /// Inode of the offload netns.
    pub netns_ino: u64,
}

impl MapInfo {
    /// The map type, when this library knows the kernel's number.
    pub fn map_type(&self) -> Option<MapType> {
        MapType::from_raw(self.map_type_raw)
    }
}

impl From<&MapInfoRaw> for MapInfo {
    fn from(r: &MapInfoRaw) -> MapInfo {
        let end = r.name.iter().position(|&b| b == 0).unwrap_or(r.name.len());
        MapInfo {
            map_type_raw: r.map_type,
            id: r.id,
            key_size: r.key_size,
            value_size: r.value_size,
            max_entries: r.max_entries,
            flags: r.map_flags,
            name: String::from_utf8_lossy(&r.name[..end]).into_owned(),
            ifindex: r.ifindex,
            btf_id: r.btf_id,
            btf_key_type_id: r.btf_key_type_id,
            btf_value_type_id: r.btf_value_type_id,
            btf_vmlinux_value_type_id: r.btf_vmlinux_value_type_id,
            btf_vmlinux_id: r.btf_vmlinux_id,
            map_extra: r.map_extra,
            netns_dev: r.netns_dev,
            netns_ino: r.netns_ino,
        }
    }
}

/// A map in the kernel, owned through its fd: dropping the last fd (and pin, and program
/// reference) frees it.
#[derive(Debug)]
pub struct Map {
    inner: MapFd,
}

fn size_mismatch(map: &Map, what: &str, expected: usize, given: usize) -> Error {
    Error::InvalidArgument(format!(
        "{what} for map `{}` (id {}) is {given} bytes, expected {expected}",
        map.name(),
        map.id()
    ))
}

impl Map {
    /// Creates a map (`BPF_MAP_CREATE`).
    pub fn create(spec: &MapSpec) -> Result<Map> {
        let attr = spec.to_attr()?;
        let inner = MapFd::create(&attr).map_err(|e| create_error(spec, e))?;
        Ok(Map { inner })
    }

    /// Wraps a map fd (for example one a program loader created).
    pub fn from_fd(fd: OwnedFd) -> Result<Map> {
        Ok(Map {
            inner: MapFd::from_fd(fd)?,
        })
    }

    /// Opens the map pinned at `path`.
    pub fn from_pin(path: impl AsRef<Path>) -> Result<Map> {
        Map::from_fd(crate::pin::open_pinned(path.as_ref(), "map")?)
    }

    /// Opens the map pinned at `path` read-only ([`flags::BPF_F_RDONLY`]) or write-only
    /// ([`flags::BPF_F_WRONLY`]).
    pub fn from_pin_with_flags(path: impl AsRef<Path>, open_flags: u32) -> Result<Map> {
        let path = path.as_ref();
        let fd = bpfkit_sys::obj::obj_get(path, open_flags).map_err(|e| match e.errno() {
            Some(libc::ENOENT) => {
                Error::InvalidArgument(format!("no map is pinned at {}", path.display()))
            }
            _ => Error::Sys(e),
        })?;
        Map::from_fd(fd)
    }

    /// Opens the map with kernel id `id`.
    pub fn from_id(id: u32) -> Result<Map> {
        Map::from_fd(bpfkit_sys::obj::get_fd_by_id(ObjKind::Map, id)?)
    }

    /// The map's fd.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inner.fd()
    }

    /// Gives up the wrapper, keeping the fd.
    pub fn into_fd(self) -> OwnedFd {
        self.inner.into_fd()
    }

    /// Kernel id.
    pub fn id(&self) -> u32 {
        self.inner.info().id
    }

    /// Map type, when this library knows the kernel's number.
    pub fn map_type(&self) -> Option<MapType> {
        MapType::from_raw(self.inner.info().map_type)
    }

    /// Name the map was created with.
    pub fn name(&self) -> String {
        MapInfo::from(self.inner.info()).name
    }

    /// Key size in bytes.
    pub fn key_size(&self) -> usize {
        self.inner.key_size()
    }

    /// Value size in bytes (per CPU for per-CPU maps).
    pub fn value_size(&self) -> usize {
        self.inner.info().value_size as usize
    }

    /// Maximum entries.
    pub fn max_entries(&self) -> u32 {
        self.inner.info().max_entries
    }

    /// `BPF_F_*` creation flags.
    pub fn flags(&self) -> u32 {
        self.inner.info().map_flags
    }

    /// Bytes one lookup fills: [`Map::value_size`], or for per-CPU maps the value size
    /// rounded up to 8 times the number of possible CPUs.
    pub fn value_buf_size(&self) -> usize {
        self.inner.value_buf_size()
    }

    /// Fresh info from the kernel.
    pub fn info(&self) -> Result<MapInfo> {
        Ok(MapInfo::from(&bpfkit_sys::map::map_info(self.fd())?))
    }

    /// Whether the map has been frozen ([`Map::freeze`]); `bpf_map_info` does not say, the
    /// fd's `/proc/self/fdinfo` entry does.
    pub fn is_frozen(&self) -> Result<bool> {
        let path = format!("/proc/self/fdinfo/{}", self.fd().as_raw_fd());
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        Ok(text
            .lines()
            .filter_map(|l| l.strip_prefix("frozen:"))
            .any(|v| v.trim() == "1"))
    }

    /// Pins the map at `path` (a bpffs path; bpffs is mounted at `/sys/fs/bpf` when absent).
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::pin::pin_fd(self.fd(), path.as_ref(), "map")
    }

    /// Removes a pin (the map lives on while other references remain).
    pub fn unpin(path: impl AsRef<Path>) -> Result<()> {
        crate::pin::unpin(path)
    }

    fn check_key(&self, key: &[u8]) -> Result<()> {
        if key.len() == self.key_size() {
            Ok(())
        } else {
            Err(size_mismatch(self, "key", self.key_size(), key.len()))
        }
    }

    fn check_value(&self, len: usize) -> Result<()> {
        if len == self.value_buf_size() {
            Ok(())
        } else {
            let what = if self.inner.value_buf_size() != self.value_size() {
                "per-CPU value buffer"
            } else {
                "value"
            };
            Err(size_mismatch(self, what, self.value_buf_size(), len))
        }
    }

    /// Copies the value of `key` into `value` without allocating; `Ok(false)` if absent.
    pub fn lookup_into(&self, key: &[u8], value: &mut [u8]) -> Result<bool> {
        self.lookup_into_with_flags(key, value, 0)
    }

    /// Like [`Map::lookup_into`] with element flags (`BPF_F_LOCK`).
    pub fn lookup_into_with_flags(&self, key: &[u8], value: &mut [u8], flags: u64) -> Result<bool> {
        self.check_key(key)?;
        self.check_value(value.len())?;
        Ok(self.inner.lookup(Some(key), value, flags)?)
    }

    /// The value of `key`, or `None` if absent.
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut v = vec![0u8; self.value_buf_size()];
        Ok(self.lookup_into(key, &mut v)?.then_some(v))
    }

    /// Sets the value of `key`; `flags` is [`BPF_ANY`], [`BPF_NOEXIST`] or [`BPF_EXIST`],
    /// optionally or'ed with [`BPF_F_LOCK`].
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<()> {
        self.check_key(key)?;
        self.check_value(value.len())?;
        Ok(self.inner.update(Some(key), value, flags)?)
    }

    /// Deletes `key`; `Ok(false)` if it was absent.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        self.check_key(key)?;
        Ok(self.inner.delete(key)?)
    }

    /// Writes the key after `key` (the first key for `None`) into `next`; `Ok(false)` at
    /// the end.
    pub fn next_key_into(&self, key: Option<&[u8]>, next: &mut [u8]) -> Result<bool> {
        if let Some(k) = key {
            self.check_key(k)?;
        }
        if next.len() != self.key_size() {
            return Err(size_mismatch(
                self,
                "next key buffer",
                self.key_size(),
                next.len(),
            ));
        }
        Ok(self.inner.get_next_key(key, next)?)
    }

    /// The key after `key` (the first key for `None`), or `None` at the end.
    pub fn next_key(&self, key: Option<&[u8]>) -> Result<Option<Vec<u8>>> {
        let mut next = vec![0u8; self.key_size()];
        Ok(self.next_key_into(key, &mut next)?.then_some(next))
    }

    /// Iterates over the keys (in the kernel's order).
    pub fn keys(&self) -> Keys<'_> {
        Keys {
            map: self,
            prev: None,
            done: false,
        }
    }

    /// Iterates over `(key, value)` pairs; keys deleted between the two calls are skipped.
    pub fn iter(&self) -> Entries<'_> {
        Entries { keys: self.keys() }
    }

    /// Looks up and deletes `key` in one call (hash maps); `None` if absent.
    pub fn lookup_and_delete(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut v = vec![0u8; self.value_buf_size()];
        Ok(self.lookup_and_delete_into(key, &mut v)?.then_some(v))
    }

    /// Like [`Map::lookup_and_delete`], into the caller's buffer; `Ok(false)` if absent.
    pub fn lookup_and_delete_into(&self, key: &[u8], value: &mut [u8]) -> Result<bool> {
        self.check_key(key)?;
        self.check_value(value.len())?;
        Ok(self.inner.lookup_and_delete(Some(key), value, 0)?)
    }

    fn check_keyless(&self, what: &str) -> Result<()> {
        if self.key_size() == 0 {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "{what} needs a keyless map (queue, stack, bloom_filter); map `{}` is {} with {}-byte keys",
                self.name(),
                self.type_name(),
                self.key_size()
            )))
        }
    }

    fn type_name(&self) -> String {
        match self.map_type() {
            Some(t) => t.name().to_string(),
            None => format!("type {}", self.inner.info().map_type),
        }
    }

    /// Pushes `value` onto a queue or stack, or adds it to a bloom filter. With
    /// `BPF_EXIST` a full queue or stack drops its oldest element instead of failing.
    pub fn push(&self, value: &[u8], flags: u64) -> Result<()> {
        self.check_keyless("push")?;
        self.check_value(value.len())?;
        Ok(self.inner.update(None, value, flags)?)
    }

    /// Removes and returns the head of a queue or the top of a stack into `value`;
    /// `Ok(false)` when empty.
    pub fn pop_into(&self, value: &mut [u8]) -> Result<bool> {
        self.check_keyless("pop")?;
        self.check_value(value.len())?;
        Ok(self.inner.lookup_and_delete(None, value, 0)?)
    }

    /// Removes and returns the head of a queue or top of a stack.
    pub fn pop(&self) -> Result<Option<Vec<u8>>> {
        let mut v = vec![0u8; self.value_buf_size()];
        Ok(self.pop_into(&mut v)?.then_some(v))
    }

    /// Returns the head of a queue or top of a stack without removing it.
    pub fn peek(&self) -> Result<Option<Vec<u8>>> {
        let mut v = vec![0u8; self.value_buf_size()];
        Ok(self.peek_into(&mut v)?.then_some(v))
    }

    /// Like [`Map::peek`], into the caller's buffer; `Ok(false)` when empty.
    pub fn peek_into(&self, value: &mut [u8]) -> Result<bool> {
        self.check_keyless("peek")?;
        self.check_value(value.len())?;
        Ok(self.inner.lookup(None, value, 0)?)
    }

    /// Whether a bloom filter may contain `value` (false positives possible, no false
    /// negatives).
    pub fn bloom_contains(&self, value: &[u8]) -> Result<bool> {
        self.check_keyless("bloom_contains")?;
        self.check_value(value.len())?;
        Ok(self.inner.lookup_ro(None, value, 0)?)
    }

    /// Makes the map read-only for user space (programs may still write).
    pub fn freeze(&self) -> Result<()> {
        Ok(self.inner.freeze()?)
    }

    /// Stores a file descriptor as the value of `key`: a program in a `prog_array`, an inner
    /// map in a map-in-map, a perf event, cgroup, socket or AF_XDP socket in the matching
    /// array. The kernel keeps its own reference; lookups return an id or cookie, not the fd.
    pub fn update_fd(&self, key: &[u8], fd: BorrowedFd<'_>, flags: u64) -> Result<()> {
        let raw = fd.as_raw_fd();
        match self.value_size() {
            4 => self.update(key, &(raw as u32).to_ne_bytes(), flags),
            8 => self.update(key, &(raw as u64).to_ne_bytes(), flags),
            n => Err(Error::InvalidArgument(format!(
                "map `{}` has {n}-byte values; storing an fd needs 4 or 8",
                self.name()
            ))),
        }
    }

    /// The inner map stored at `key` of an `array_of_maps`/`hash_of_maps`, opened by the id
    /// the kernel returns.
    pub fn inner_map(&self, key: &[u8]) -> Result<Option<Map>> {
        match self.map_type() {
            Some(MapType::ArrayOfMaps | MapType::HashOfMaps) => {}
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "map `{}` is {}, not a map-in-map",
                    self.name(),
                    self.type_name()
                )))
            }
        }
        let mut id = [0u8; 4];
        if !self.lookup_into(key, &mut id)? {
            return Ok(None);
        }
        Map::from_id(u32::from_ne_bytes(id)).map(Some)
    }

    /// The values of `key` in a per-CPU map, one per possible CPU, each `value_size` bytes.
    pub fn lookup_percpu(&self, key: &[u8]) -> Result<Option<Vec<Vec<u8>>>> {
        self.check_percpu("lookup_percpu")?;
        let Some(buf) = self.lookup(key)? else {
            return Ok(None);
        };
        let stride = self.percpu_stride();
        Ok(Some(
            buf.chunks_exact(stride)
                .map(|c| c[..self.value_size()].to_vec())
                .collect(),
        ))
    }

    /// Sets the values of `key` in a per-CPU map; `values` holds one `value_size`-byte value
    /// per possible CPU.
    pub fn update_percpu<V: AsRef<[u8]>>(
        &self,
        key: &[u8],
        values: &[V],
        flags: u64,
    ) -> Result<()> {
        self.check_percpu("update_percpu")?;
        let cpus = self.value_buf_size() / self.percpu_stride();
        if values.len() != cpus {
            return Err(Error::InvalidArgument(format!(
                "per-CPU update of map `{}` got {} values; there is one per possible CPU: {cpus}",
                self.name(),
                values.len()
            )));
        }
        let mut buf = vec![0u8; self.value_buf_size()];
        for (slot, v) in buf.chunks_exact_mut(self.percpu_stride()).zip(values) {
            let v = v.as_ref();
            if v.len() != self.value_size() {
                return Err(size_mismatch(
                    self,
                    "per-CPU value",
                    self.value_size(),
                    v.len(),
                ));
            }
            slot[..v.len()].copy_from_slice(v);
        }
        self.update(key, &buf, flags)
    }

    fn percpu_stride(&self) -> usize {
        self.value_size().div_ceil(8) * 8
    }

    fn check_percpu(&self, what: &str) -> Result<()> {
        if self.map_type().is_some_and(MapType::is_percpu) {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "{what} needs a per-CPU map; map `{}` is {}",
                self.name(),
                self.type_name()
            )))
        }
    }

    /// Number of values a per-CPU lookup returns (possible CPUs); 1 for other maps.
    pub fn value_slots(&self) -> usize {
        if self.map_type().is_some_and(MapType::is_percpu) {
            self.value_buf_size() / self.percpu_stride().max(1)
        } else {
            1
        }
    }

    /// Reads every element with `BPF_MAP_LOOKUP_BATCH`, `chunk` elements per call.
    ///
    /// A hash bucket larger than `chunk` makes the kernel answer `ENOSPC`; the chunk is then
    /// doubled and the call repeated from the same position.
    pub fn lookup_batch(&self, chunk: usize) -> Result<Batch> {
        self.batch_read(false, chunk)
    }

    /// Reads and deletes every element with `BPF_MAP_LOOKUP_AND_DELETE_BATCH`.
    pub fn lookup_and_delete_batch(&self, chunk: usize) -> Result<Batch> {
        self.batch_read(true, chunk)
    }

    fn batch_read(&self, delete: bool, chunk: usize) -> Result<Batch> {
        let ks = self.key_size();
        let vs = self.value_buf_size();
        let mut out = Batch {
            key_size: ks,
            value_size: vs,
            keys: Vec::new(),
            values: Vec::new(),
        };
        // The kernel never returns more than max_entries, so a bigger chunk only wastes memory.
        let limit = (self.max_entries() as usize).max(1);
        let mut chunk = chunk.clamp(1, limit);
        let mut token_in = vec![0u8; self.inner.batch_token_size()];
        let mut token_out = token_in.clone();
        let mut first = true;
        loop {
            let (kstart, vstart) = (out.keys.len(), out.values.len());
            out.keys.resize(kstart + chunk * ks, 0);
            out.values.resize(vstart + chunk * vs, 0);
            let r = self.inner.lookup_batch(
                delete,
                if first { None } else { Some(&token_in) },
                &mut token_out,
                &mut out.keys[kstart..],
                &mut out.values[vstart..],
                chunk,
                0,
            );
            match r {
                Ok(r) => {
                    let n = r.count as usize;
                    out.keys.truncate(kstart + n * ks);
                    out.values.truncate(vstart + n * vs);
                    if r.done {
                        return Ok(out);
                    }
                    std::mem::swap(&mut token_in, &mut token_out);
                    first = false;
                }
                Err(e) if e.errno() == Some(libc::ENOSPC) && chunk < limit => {
                    out.keys.truncate(kstart);
                    out.values.truncate(vstart);
                    chunk = (chunk * 2).min(limit);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Writes many elements with `BPF_MAP_UPDATE_BATCH`: `keys` and `values` hold the keys
    /// and values back to back (values of [`Map::value_buf_size`] bytes). Returns how many
    /// were written.
    pub fn update_batch(&self, keys: &[u8], values: &[u8], flags: u64) -> Result<usize> {
        let n = self.batch_count(keys.len())?;
        let need = n.saturating_mul(self.value_buf_size());
        if values.len() != need {
            return Err(size_mismatch(self, "batch values", need, values.len()));
        }
        let mut done = 0;
        while done < n {
            let (Some(k), Some(v)) = (
                keys.get(done * self.key_size()..),
                values.get(done * self.value_buf_size()..),
            ) else {
                break;
            };
            let r = self.inner.update_batch(k, v, n - done, flags)?;
            if r.count == 0 {
                break;
            }
            done += r.count as usize;
        }
        Ok(done)
    }

    /// Deletes many keys (back to back in `keys`) with `BPF_MAP_DELETE_BATCH`. A missing key
    /// ends the batch early; returns how many were deleted.
    pub fn delete_batch(&self, keys: &[u8]) -> Result<usize> {
        let n = self.batch_count(keys.len())?;
        if n == 0 {
            return Ok(0);
        }
        Ok(self.inner.delete_batch(keys, n, 0)?.count as usize)
    }

    fn batch_count(&self, keys_len: usize) -> Result<usize> {
        let ks = self.key_size();
        if ks == 0 || keys_len % ks != 0 {
            return Err(Error::InvalidArgument(format!(
                "batch keys for map `{}` are {keys_len} bytes, not a whole number of {ks}-byte keys",
                self.name()
            )));
        }
        Ok(keys_len / ks)
    }

    /// Maps a `BPF_F_MMAPABLE` array or an arena into memory, writable unless the map is
    /// frozen or read-only.
    pub fn mmap(&self) -> Result<MappedMap> {
        MappedMap::new(self)
    }
}

impl AsFd for Map {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd()
    }
}

fn create_error(spec: &MapSpec, e: bpfkit_sys::Error) -> Error {
    // EPERM although privileged (the sys layer only says `Permission` when a capability is
    // missing): kernel lockdown or a security module forbids this map type.
    if matches!(e, bpfkit_sys::Error::Bpf { .. }) && e.errno() == Some(libc::EPERM) {
        return Error::NotSupported {
            feature: format!("{} maps", spec.map_type),
            hint: "BPF_MAP_CREATE answers EPERM even with full privileges: kernel lockdown or a \
                   security module forbids this map type"
                .into(),
        };
    }
    let hint = match e.errno() {
        Some(libc::EINVAL) => "; check key/value sizes, max_entries and flags for this map type",
        Some(libc::E2BIG) => "; the kernel does not know a field this map needs (too old)",
        Some(libc::ENOMEM) => "; max_entries too large for available memory",
        _ => "",
    };
    if hint.is_empty() {
        return Error::Sys(e);
    }
    Error::InvalidArgument(format!(
        "creating {} map `{}` (key {} B, value {} B, max_entries {}, flags {:#x}): {e}{hint}",
        spec.map_type, spec.name, spec.key_size, spec.value_size, spec.max_entries, spec.flags
    ))
}

/// Elements read in one batch: keys and values back to back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// Size of one key.
    pub key_size: usize,
    /// Size of one value (all CPUs' values for per-CPU maps).
    pub value_size: usize,
    /// The keys, back to back.
    pub keys: Vec<u8>,
    /// The values, back to back.
    pub values: Vec<u8>,
}

impl Batch {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.keys.len().checked_div(self.key_size).unwrap_or(0)
    }

    /// Whether no element was read.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `(key, value)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.keys
            .chunks_exact(self.key_size.max(1))
            .zip(self.values.chunks_exact(self.value_size.max(1)))
    }
}

/// Iterator over a map's keys, from [`Map::keys`].
pub struct Keys<'a> {
    map: &'a Map,
    prev: Option<Vec<u8>>,
    done: bool,
}

impl Iterator for Keys<'_> {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.map.next_key(self.prev.as_deref()) {
            Ok(Some(k)) => {
                self.prev = Some(k.clone());
                Some(Ok(k))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Iterator over a map's `(key, value)` pairs, from [`Map::iter`].
pub struct Entries<'a> {
    keys: Keys<'a>,
}

impl Iterator for Entries<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let key = match self.keys.next()? {
                Ok(k) => k,
                Err(e) => return Some(Err(e)),
            };
            match self.keys.map.lookup(&key) {
                Ok(Some(v)) => return Some(Ok((key, v))),
                Ok(None) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}
