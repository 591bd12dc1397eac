//! Map commands: `BPF_MAP_CREATE`, the element commands, `BPF_MAP_FREEZE`, the four batch
//! commands and `bpf_map_info`.
//!
//! The element commands make the kernel copy `key_size` bytes from the key pointer and
//! `value_size` bytes (times the possible CPUs for per-CPU maps) to or from the value pointer.
//! A safe wrapper therefore has to know those sizes for certain: [`MapFd`] reads them from the
//! kernel (`BPF_OBJ_GET_INFO_BY_FD`) when it is made and checks every buffer against them before
//! the call, so no slice is ever overrun whatever the caller passes.
//!
//! It also makes the objects some maps are keyed by or store, which std cannot make: pidfds
//! (task storage), `SO_REUSEPORT` sockets, bound AF_XDP sockets, and socket cookies (what
//! sockmap lookups return).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use crate::cmd::{bpf, bpf_fd, Cmd};
use crate::error::{Error, Result};
use crate::mmap::possible_cpus;
use crate::obj::obj_get_info_by_fd;

/// `BPF_OBJ_NAME_LEN`: map and program names hold at most 15 bytes plus a NUL.
pub const OBJ_NAME_LEN: usize = 16;

/// Element flags for update: create or overwrite.
pub const BPF_ANY: u64 = 0;
/// Element flags for update: create only; `EEXIST` if the key is present.
pub const BPF_NOEXIST: u64 = 1;
/// Element flags for update: overwrite only; `ENOENT` if the key is absent.
pub const BPF_EXIST: u64 = 2;
/// Element flags for lookup/update: take the value's `bpf_spin_lock` while copying.
pub const BPF_F_LOCK: u64 = 4;

/// `BPF_MAP_TYPE_*` numbers whose lookups copy one value slot per possible CPU.
const PERCPU_TYPES: [u32; 4] = [
    5,  // percpu_hash
    6,  // percpu_array
    10, // lru_percpu_hash
    21, // percpu_cgroup_storage
];

/// Whether lookups on a map of type `map_type` return one value per possible CPU.
pub fn is_percpu_type(map_type: u32) -> bool {
    PERCPU_TYPES.contains(&map_type)
}

/// The `BPF_MAP_CREATE` part of `union bpf_attr`, through `map_token_fd` (Linux 6.9).
///
/// Fields a kernel does not know must stay zero; an older kernel then accepts the larger
/// attribute. All fields are laid out without implicit padding.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MapCreateAttr {
    /// `enum bpf_map_type`.
    pub map_type: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum number of entries (bytes of the ring for ring buffers, pages for arenas).
    pub max_entries: u32,
    /// `BPF_F_*` creation flags.
    pub map_flags: u32,
    /// Fd of the template inner map for map-in-map types.
    pub inner_map_fd: u32,
    /// NUMA node, used when `BPF_F_NUMA_NODE` is set.
    pub numa_node: u32,
    /// NUL-padded name, at most 15 bytes.
    pub map_name: [u8; OBJ_NAME_LEN],
    /// Network device to offload the map to, or 0.
    pub map_ifindex: u32,
    /// Fd of the BTF object describing key and value, or 0.
    pub btf_fd: u32,
    /// BTF type id of the key.
    pub btf_key_type_id: u32,
    /// BTF type id of the value.
    pub btf_value_type_id: u32,
    /// vmlinux BTF type id of a kernel struct stored as the value (struct_ops).
    pub btf_vmlinux_value_type_id: u32,
    /// Per-type extra: bloom filter hash count, arena start address.
    pub map_extra: u64,
    /// Fd of the BTF object holding `btf_vmlinux_value_type_id` when `BPF_F_VTYPE_BTF_OBJ_FD`.
    pub value_type_btf_obj_fd: i32,
    /// BPF token fd when `BPF_F_TOKEN_FD` is set.
    pub map_token_fd: i32,
}

/// Creates a map (`BPF_MAP_CREATE`) and returns its fd.
pub fn map_create(attr: &MapCreateAttr) -> Result<OwnedFd> {
    let mut a = *attr;
    bpf_fd(Cmd::MapCreate, &mut a)
}

/// `struct bpf_map_info` as filled by `BPF_OBJ_GET_INFO_BY_FD`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MapInfoRaw {
    /// `enum bpf_map_type`.
    pub map_type: u32,
    /// Kernel id.
    pub id: u32,
    /// Key size.
    pub key_size: u32,
    /// Value size.
    pub value_size: u32,
    /// Maximum entries.
    pub max_entries: u32,
    /// Creation flags.
    pub map_flags: u32,
    /// NUL-padded name.
    pub name: [u8; OBJ_NAME_LEN],
    /// Offload device, or 0.
    pub ifindex: u32,
    /// vmlinux value type id (struct_ops).
    pub btf_vmlinux_value_type_id: u32,
    /// Device of the network namespace of an offloaded map.
    pub netns_dev: u64,
    /// Inode of the network namespace of an offloaded map.
    pub netns_ino: u64,
    /// Id of the map's BTF object, or 0.
    pub btf_id: u32,
    /// BTF type id of the key.
    pub btf_key_type_id: u32,
    /// BTF type id of the value.
    pub btf_value_type_id: u32,
    /// Id of the vmlinux (or module) BTF the value type lives in.
    pub btf_vmlinux_id: u32,
    /// Per-type extra.
    pub map_extra: u64,
}

/// Reads `bpf_map_info` for the map behind `fd`.
pub fn map_info(fd: BorrowedFd<'_>) -> Result<MapInfoRaw> {
    let mut info = MapInfoRaw::default();
    obj_get_info_by_fd(fd, &mut info)?;
    Ok(info)
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct ElemAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct BatchAttr {
    in_batch: u64,
    out_batch: u64,
    keys: u64,
    values: u64,
    count: u32,
    map_fd: u32,
    elem_flags: u64,
    flags: u64,
}

fn size_error(cmd: Cmd, what: &str, expected: usize, given: usize) -> Error {
    Error::Bpf {
        cmd,
        source: io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} is {given} bytes, the map expects {expected}"),
        ),
    }
}

/// The result of one batch call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchResult {
    /// Elements the kernel processed.
    pub count: u32,
    /// Whether the kernel reported the end of the map (`ENOENT`); no further call is needed.
    pub done: bool,
}

/// A map fd together with the sizes the kernel copies for it, read from the kernel.
///
/// Every element operation checks the caller's buffers against these sizes first, which is
/// what makes the operations safe.
#[derive(Debug)]
pub struct MapFd {
    fd: OwnedFd,
    info: MapInfoRaw,
    value_buf: usize,
}

impl MapFd {
    /// Creates a map and wraps it.
    pub fn create(attr: &MapCreateAttr) -> Result<MapFd> {
        MapFd::from_fd(map_create(attr)?)
    }

    /// Wraps an existing map fd, reading its sizes and type from the kernel.
    pub fn from_fd(fd: OwnedFd) -> Result<MapFd> {
        let info = map_info(fd.as_fd())?;
        let value_buf = if is_percpu_type(info.map_type) {
            (info.value_size as usize).div_ceil(8) * 8 * possible_cpus()?
        } else {
            info.value_size as usize
        };
        Ok(MapFd {
            fd,
            info,
            value_buf,
        })
    }

    /// The map's fd.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Consumes the wrapper, returning the fd.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// The info read when the wrapper was made (counts and names that never change).
    pub fn info(&self) -> &MapInfoRaw {
        &self.info
    }

    /// Key size in bytes.
    pub fn key_size(&self) -> usize {
        self.info.key_size as usize
    }

    /// Bytes one lookup copies: the value size, or for per-CPU maps the value size rounded
    /// up to 8 times the number of possible CPUs.
    pub fn value_buf_size(&self) -> usize {
        self.value_buf
    }

    fn check_key(&self, cmd: Cmd, key: Option<&[u8]>) -> Result<u64> {
        match key {
            Some(k) if k.len() == self.key_size() => Ok(k.as_ptr() as u64),
            Some(k) => Err(size_error(cmd, "key", self.key_size(), k.len())),
            None => Ok(0),
        }
    }

    fn check_value(&self, cmd: Cmd, len: usize) -> Result<()> {
        if len == self.value_buf {
            Ok(())
        } else {
            Err(size_error(cmd, "value", self.value_buf, len))
        }
    }

    fn elem(&self, cmd: Cmd, key: u64, value: u64, flags: u64) -> Result<()> {
        let mut attr = ElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            _pad: 0,
            key,
            value,
            flags,
        };
        bpf(cmd, &mut attr).map(|_| ())
    }

    /// `BPF_MAP_LOOKUP_ELEM`: copies the value of `key` (or, with no key, the head of a
    /// queue/stack or a bloom filter probe) into `value`. `Ok(false)` when the kernel says
    /// `ENOENT`.
    pub fn lookup(&self, key: Option<&[u8]>, value: &mut [u8], flags: u64) -> Result<bool> {
        let cmd = Cmd::MapLookupElem;
        let k = self.check_key(cmd, key)?;
        self.check_value(cmd, value.len())?;
        not_found_is_false(self.elem(cmd, k, value.as_mut_ptr() as u64, flags))
    }

    /// Like [`MapFd::lookup`] for bloom filters, whose "value" is the probed element and
    /// which the kernel only reads.
    pub fn lookup_ro(&self, key: Option<&[u8]>, value: &[u8], flags: u64) -> Result<bool> {
        let cmd = Cmd::MapLookupElem;
        if self.info.map_type != 30 {
            return Err(Error::Bpf {
                cmd,
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a read-only value buffer is only valid for bloom filters",
                ),
            });
        }
        let k = self.check_key(cmd, key)?;
        self.check_value(cmd, value.len())?;
        not_found_is_false(self.elem(cmd, k, value.as_ptr() as u64, flags))
    }

    /// `BPF_MAP_UPDATE_ELEM` with `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`, optionally or'ed
    /// with `BPF_F_LOCK`. With no key: push onto a queue, stack or bloom filter.
    pub fn update(&self, key: Option<&[u8]>, value: &[u8], flags: u64) -> Result<()> {
        let cmd = Cmd::MapUpdateElem;
        let k = self.check_key(cmd, key)?;
        self.check_value(cmd, value.len())?;
        self.elem(cmd, k, value.as_ptr() as u64, flags)
    }

    /// `BPF_MAP_DELETE_ELEM`. `Ok(false)` when the key was absent.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        let cmd = Cmd::MapDeleteElem;
        let k = self.check_key(cmd, Some(key))?;
        not_found_is_false(self.elem(cmd, k, 0, 0))
    }

    /// `BPF_MAP_GET_NEXT_KEY`: writes the key after `key` (the first key when `None`) into
    /// `next`. `Ok(false)` at the end.
    pub fn get_next_key(&self, key: Option<&[u8]>, next: &mut [u8]) -> Result<bool> {
        let cmd = Cmd::MapGetNextKey;
        let k = self.check_key(cmd, key)?;
        if next.len() != self.key_size() {
            return Err(size_error(cmd, "next key", self.key_size(), next.len()));
        }
        not_found_is_false(self.elem(cmd, k, next.as_mut_ptr() as u64, 0))
    }

    /// `BPF_MAP_LOOKUP_AND_DELETE_ELEM`: with a key for hash maps, with none to pop a
    /// queue or stack. `Ok(false)` when there was nothing.
    pub fn lookup_and_delete(
        &self,
        key: Option<&[u8]>,
        value: &mut [u8],
        flags: u64,
    ) -> Result<bool> {
        let cmd = Cmd::MapLookupAndDeleteElem;
        let k = self.check_key(cmd, key)?;
        self.check_value(cmd, value.len())?;
        not_found_is_false(self.elem(cmd, k, value.as_mut_ptr() as u64, flags))
    }

    /// `BPF_MAP_FREEZE`: the map becomes read-only for user space.
    pub fn freeze(&self) -> Result<()> {
        self.elem(Cmd::MapFreeze, 0, 0, 0)
    }

    /// Size of the opaque batch position token: the kernel copies `key_size` bytes for
    /// array-like maps and a `u32` bucket index for hash maps.
    pub fn batch_token_size(&self) -> usize {
        self.key_size().max(4)
    }

    fn check_batch(
        &self,
        cmd: Cmd,
        count: usize,
        keys: usize,
        values: Option<usize>,
    ) -> Result<u32> {
        let n = u32::try_from(count)
            .map_err(|_| size_error(cmd, "batch count", u32::MAX as usize, count))?;
        // Overflowing products count as "too small": the kernel would copy that much.
        let need_keys = count.saturating_mul(self.key_size());
        if keys < need_keys {
            return Err(size_error(cmd, "keys buffer", need_keys, keys));
        }
        if let Some(v) = values {
            let need = count.saturating_mul(self.value_buf);
            if v < need {
                return Err(size_error(cmd, "values buffer", need, v));
            }
        }
        Ok(n)
    }

    fn check_token(&self, cmd: Cmd, token: &[u8]) -> Result<()> {
        if token.len() < self.batch_token_size() {
            return Err(size_error(
                cmd,
                "batch token",
                self.batch_token_size(),
                token.len(),
            ));
        }
        Ok(())
    }

    /// `BPF_MAP_LOOKUP_BATCH` (or `..._AND_DELETE_BATCH` when `delete`): reads up to `count`
    /// elements starting after `in_batch` (from the start when `None`) into `keys` and
    /// `values`; `out_batch` receives the position to continue from.
    #[allow(clippy::too_many_arguments)]
    pub fn lookup_batch(
        &self,
        delete: bool,
        in_batch: Option<&[u8]>,
        out_batch: &mut [u8],
        keys: &mut [u8],
        values: &mut [u8],
        count: usize,
        elem_flags: u64,
    ) -> Result<BatchResult> {
        let cmd = if delete {
            Cmd::MapLookupAndDeleteBatch
        } else {
            Cmd::MapLookupBatch
        };
        let n = self.check_batch(cmd, count, keys.len(), Some(values.len()))?;
        self.check_token(cmd, out_batch)?;
        let in_ptr = match in_batch {
            Some(t) => {
                self.check_token(cmd, t)?;
                t.as_ptr() as u64
            }
            None => 0,
        };
        let mut attr = BatchAttr {
            in_batch: in_ptr,
            out_batch: out_batch.as_mut_ptr() as u64,
            keys: keys.as_mut_ptr() as u64,
            values: values.as_mut_ptr() as u64,
            count: n,
            map_fd: self.fd.as_raw_fd() as u32,
            elem_flags,
            flags: 0,
        };
        batch_call(cmd, &mut attr)
    }

    /// `BPF_MAP_UPDATE_BATCH`: writes `count` key/value pairs laid out back to back.
    pub fn update_batch(
        &self,
        keys: &[u8],
        values: &[u8],
        count: usize,
        elem_flags: u64,
    ) -> Result<BatchResult> {
        let cmd = Cmd::MapUpdateBatch;
        let n = self.check_batch(cmd, count, keys.len(), Some(values.len()))?;
        let mut attr = BatchAttr {
            keys: keys.as_ptr() as u64,
            values: values.as_ptr() as u64,
            count: n,
            map_fd: self.fd.as_raw_fd() as u32,
            elem_flags,
            ..Default::default()
        };
        batch_call(cmd, &mut attr)
    }

    /// `BPF_MAP_DELETE_BATCH`: deletes `count` keys laid out back to back.
    pub fn delete_batch(&self, keys: &[u8], count: usize, elem_flags: u64) -> Result<BatchResult> {
        let cmd = Cmd::MapDeleteBatch;
        let n = self.check_batch(cmd, count, keys.len(), None)?;
        let mut attr = BatchAttr {
            keys: keys.as_ptr() as u64,
            count: n,
            map_fd: self.fd.as_raw_fd() as u32,
            elem_flags,
            ..Default::default()
        };
        batch_call(cmd, &mut attr)
    }
}

impl AsFd for MapFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn batch_call(cmd: Cmd, attr: &mut BatchAttr) -> Result<BatchResult> {
    match bpf(cmd, attr) {
        Ok(_) => Ok(BatchResult {
            count: attr.count,
            done: false,
        }),
        // The kernel writes back the count of what it did before reaching the end.
        Err(e) if e.errno() == Some(libc::ENOENT) => Ok(BatchResult {
            count: attr.count,
            done: true,
        }),
        Err(e) => Err(e),
    }
}

fn not_found_is_false(r: Result<()>) -> Result<bool> {
    match r {
        Ok(()) => Ok(true),
        Err(e) if e.errno() == Some(libc::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

/// A shared mapping of a `BPF_F_MMAPABLE` array or an arena, read and written by copying.
///
/// Programs may write the memory at any time, so no Rust reference to it is ever handed out;
/// bytes are copied in and out, bounds-checked, and writes are refused on a read-only mapping
/// (which would otherwise fault).
#[derive(Debug)]
pub struct MappedRegion {
    map: crate::mmap::Mmap,
    writable: bool,
}

impl MappedRegion {
    /// Maps `len` bytes of the map behind `fd` from offset 0.
    pub fn map(fd: BorrowedFd<'_>, len: usize, writable: bool) -> Result<MappedRegion> {
        let prot = if writable {
            crate::mmap::Protection::ReadWrite
        } else {
            crate::mmap::Protection::Read
        };
        Ok(MappedRegion {
            map: crate::mmap::Mmap::map(fd, len, 0, prot)?,
            writable,
        })
    }

    /// Length of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the mapping is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Whether writes are allowed.
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// Start address of the mapping in this process (arenas translate pointers with it).
    pub fn address(&self) -> usize {
        self.map.as_ptr() as usize
    }

    /// Copies `out.len()` bytes from `offset`; `false` if that range is outside the mapping.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> bool {
        if offset
            .checked_add(out.len())
            .is_none_or(|end| end > self.map.len())
        {
            return false;
        }
        // SAFETY: the range [offset, offset + len) lies inside the live mapping, checked above;
        // `out` is a distinct Rust buffer, so the regions cannot overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.map.as_ptr().add(offset),
                out.as_mut_ptr(),
                out.len(),
            );
        }
        true
    }

    /// Copies `data` to `offset`; `false` if the range is outside the mapping or the mapping
    /// is read-only.
    pub fn write(&self, offset: usize, data: &[u8]) -> bool {
        if !self.writable
            || offset
                .checked_add(data.len())
                .is_none_or(|end| end > self.map.len())
        {
            return false;
        }
        // SAFETY: in bounds of a writable mapping (checked above); `data` is a distinct buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.map.as_ptr().add(offset), data.len());
        }
        true
    }
}

/// Opens a pidfd for process `pid` (`pidfd_open(2)`): the key of a `task_storage` map.
pub fn pidfd_open(pid: i32) -> Result<OwnedFd> {
    // SAFETY: pidfd_open takes two integers and returns a new fd or -1.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::c_long, 0 as libc::c_long) };
    if r < 0 {
        return Err(Error::os(format!("pidfd_open({pid})")));
    }
    // SAFETY: a successful pidfd_open returns a new fd nothing else owns.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(r as i32) })
}

/// An IPv4 socket with `SO_REUSEPORT` set before it is bound to 127.0.0.1 on an ephemeral
/// port (and, for TCP, listening): what a `reuseport_sockarray` accepts. The option must
/// precede `bind`, which is why std's sockets cannot be used.
pub fn reuseport_socket(tcp: bool) -> Result<OwnedFd> {
    let ty = if tcp {
        libc::SOCK_STREAM
    } else {
        libc::SOCK_DGRAM
    };
    // SAFETY: socket takes integers and returns a new fd or -1.
    let fd = unsafe { libc::socket(libc::AF_INET, ty | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(Error::os("socket(AF_INET)"));
    }
    // SAFETY: a new fd that nothing else owns.
    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    // SAFETY: `one` is a live c_int and its size is passed.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_REUSEPORT,
            &one as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(Error::os("setsockopt(SO_REUSEPORT)"));
    }
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: `addr` is a live sockaddr_in and its size is passed.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &addr as *const libc::sockaddr_in as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(Error::os("bind(127.0.0.1:0)"));
    }
    // SAFETY: listen takes integers.
    if tcp && unsafe { libc::listen(fd.as_raw_fd(), 16) } != 0 {
        return Err(Error::os("listen"));
    }
    Ok(fd)
}

/// The socket cookie (`SO_COOKIE`) of `fd`, what sockmap and sockhash lookups return.
pub fn socket_cookie(fd: BorrowedFd<'_>) -> Result<u64> {
    let mut cookie: u64 = 0;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: `cookie` and `len` are live and `len` holds the buffer size.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_COOKIE,
            &mut cookie as *mut u64 as *mut libc::c_void,
            &mut len,
        )
    };
    if r != 0 {
        return Err(Error::os("getsockopt(SO_COOKIE)"));
    }
    Ok(cookie)
}

/// An AF_XDP socket bound in copy mode to one queue of a device: what an `xskmap` holds.
///
/// The socket owns its packet buffer (UMEM), which must outlive it; both go on drop. Only
/// the setup needed to make the socket insertable is done (UMEM, fill, completion and RX
/// rings sized, bind); reading packets needs the rings mapped, which is a job for an AF_XDP
/// library, not for map plumbing.
#[derive(Debug)]
pub struct XskSocket {
    fd: OwnedFd,
    _umem: crate::mmap::Mmap,
}

const XDP_RX_RING: libc::c_int = 2;
const XDP_UMEM_REG: libc::c_int = 4;
const XDP_UMEM_FILL_RING: libc::c_int = 5;
const XDP_UMEM_COMPLETION_RING: libc::c_int = 6;
const XDP_COPY: u16 = 1 << 1;

/// `struct xdp_umem_reg` (with `tx_metadata_len`, Linux 6.8; older kernels take this size too).
#[repr(C)]
#[derive(Clone, Copy)]
struct UmemReg {
    addr: u64,
    len: u64,
    chunk_size: u32,
    headroom: u32,
    flags: u32,
    tx_metadata_len: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct SockaddrXdp {
    family: u16,
    flags: u16,
    ifindex: u32,
    queue_id: u32,
    shared_umem_fd: u32,
}

fn setsockopt_xdp<T: Copy>(
    fd: BorrowedFd<'_>,
    opt: libc::c_int,
    val: &T,
    what: &str,
) -> Result<()> {
    // SAFETY: `val` is a live, fully initialised `T` and its exact size is passed.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_XDP,
            opt,
            val as *const T as *const libc::c_void,
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(Error::os(format!("setsockopt(SOL_XDP, {what})")));
    }
    Ok(())
}

impl XskSocket {
    /// Creates an AF_XDP socket bound in copy mode to queue `queue` of device `ifindex`.
    pub fn bind(ifindex: u32, queue: u32) -> Result<XskSocket> {
        // SAFETY: socket takes integers and returns a new fd or -1.
        let raw = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(Error::os("socket(AF_XDP) (needs CONFIG_XDP_SOCKETS)"));
        }
        // SAFETY: a new fd that nothing else owns.
        let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
        let frames: usize = 16;
        let frame = crate::mmap::page_size();
        let umem = anonymous_mapping(frames * frame)?;
        let reg = UmemReg {
            addr: umem.as_ptr() as u64,
            len: (frames * frame) as u64,
            chunk_size: frame as u32,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        };
        setsockopt_xdp(fd.as_fd(), XDP_UMEM_REG, &reg, "XDP_UMEM_REG")?;
        let entries: libc::c_int = frames as libc::c_int;
        setsockopt_xdp(
            fd.as_fd(),
            XDP_UMEM_FILL_RING,
            &entries,
            "XDP_UMEM_FILL_RING",
        )?;
        setsockopt_xdp(
            fd.as_fd(),
            XDP_UMEM_COMPLETION_RING,
            &entries,
            "XDP_UMEM_COMPLETION_RING",
        )?;
        setsockopt_xdp(fd.as_fd(), XDP_RX_RING, &entries, "XDP_RX_RING")?;
        let addr = SockaddrXdp {
            family: libc::AF_XDP as u16,
            flags: XDP_COPY,
            ifindex,
            queue_id: queue,
            shared_umem_fd: 0,
        };
        // SAFETY: `addr` is a live sockaddr_xdp and its size is passed.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &addr as *const SockaddrXdp as *const libc::sockaddr,
                std::mem::size_of::<SockaddrXdp>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(Error::os(format!(
                "bind(AF_XDP, ifindex {ifindex}, queue {queue})"
            )));
        }
        Ok(XskSocket { fd, _umem: umem })
    }

    /// The socket.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A private anonymous read-write mapping, page-aligned as AF_XDP wants its UMEM.
fn anonymous_mapping(len: usize) -> Result<crate::mmap::Mmap> {
    // memfd gives an fd that `Mmap::map` (a MAP_SHARED mapping of an fd) accepts.
    // SAFETY: the name is a NUL-terminated string; memfd_create returns a new fd or -1.
    let raw = unsafe { libc::memfd_create(c"bpfkit-umem".as_ptr(), libc::MFD_CLOEXEC) };
    if raw < 0 {
        return Err(Error::os("memfd_create"));
    }
    // SAFETY: a new fd that nothing else owns.
    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
    // SAFETY: ftruncate on our own fd.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) } != 0 {
        return Err(Error::os("ftruncate(memfd)"));
    }
    crate::mmap::Mmap::map(fd.as_fd(), len, 0, crate::mmap::Protection::ReadWrite)
}
