//! Memory-mapped arrays and arenas.

use bpfkit_sys::map::MappedRegion;

use super::pod::{ByteArray, Pod};
use super::{flags, Map, MapType};
use crate::error::{Error, Result};

/// A `BPF_F_MMAPABLE` array or an arena mapped into this process, from [`Map::mmap`].
///
/// Array elements sit `value_size` rounded up to 8 bytes apart; reads and writes go straight
/// to the memory the programs see, with no system call.
#[derive(Debug)]
pub struct MappedMap {
    region: MappedRegion,
    stride: usize,
    value_size: usize,
    entries: usize,
    is_arena: bool,
}

impl MappedMap {
    pub(super) fn new(map: &Map) -> Result<MappedMap> {
        let page = bpfkit_sys::mmap::page_size();
        let is_arena = map.map_type() == Some(MapType::Arena);
        let mmapable = map.flags() & flags::BPF_F_MMAPABLE != 0;
        if !mmapable || !(is_arena || map.map_type() == Some(MapType::Array)) {
            return Err(Error::InvalidArgument(format!(
                "map `{}` cannot be memory-mapped: only array maps created with BPF_F_MMAPABLE and arenas can",
                map.name()
            )));
        }
        let (stride, entries, len) = if is_arena {
            let len = map.max_entries() as usize * page;
            (1, len, len)
        } else {
            let stride = map.value_size().div_ceil(8) * 8;
            let entries = map.max_entries() as usize;
            (stride, entries, (stride * entries).div_ceil(page) * page)
        };
        let read_only = map.flags() & flags::BPF_F_RDONLY != 0;
        let region = match MappedRegion::map(map.fd(), len, !read_only) {
            // A frozen map refuses writable mappings with EPERM; read-only still works.
            Err(e) if !read_only && e.errno() == Some(libc::EPERM) => {
                MappedRegion::map(map.fd(), len, false)?
            }
            r => r?,
        };
        Ok(MappedMap {
            region,
            stride,
            value_size: if is_arena { 1 } else { map.value_size() },
            entries,
            is_arena,
        })
    }

    /// Number of array elements (bytes for an arena).
    pub fn len(&self) -> usize {
        self.entries
    }

    /// Whether the mapping holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Whether writes are allowed (false for frozen or read-only maps).
    pub fn is_writable(&self) -> bool {
        self.region.is_writable()
    }

    /// Address of the mapping in this process.
    pub fn address(&self) -> usize {
        self.region.address()
    }

    /// Copies bytes from `offset` of the mapping.
    pub fn read_bytes(&self, offset: usize, out: &mut [u8]) -> Result<()> {
        if self.region.read(offset, out) {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "reading {} bytes at offset {offset} is outside the {}-byte mapping",
                out.len(),
                self.region.len()
            )))
        }
    }

    /// Copies `data` to `offset` of the mapping.
    pub fn write_bytes(&self, offset: usize, data: &[u8]) -> Result<()> {
        if self.region.write(offset, data) {
            Ok(())
        } else if !self.region.is_writable() {
            Err(Error::InvalidArgument(
                "the mapping is read-only (the map is frozen or BPF_F_RDONLY)".into(),
            ))
        } else {
            Err(Error::InvalidArgument(format!(
                "writing {} bytes at offset {offset} is outside the {}-byte mapping",
                data.len(),
                self.region.len()
            )))
        }
    }

    fn element_offset<V: Pod>(&self, index: usize) -> Result<usize> {
        if self.is_arena {
            return Err(Error::InvalidArgument(
                "an arena has no elements; use read_bytes/write_bytes".into(),
            ));
        }
        if V::size() != self.value_size {
            return Err(Error::InvalidArgument(format!(
                "element type is {} bytes, the array's values are {}",
                V::size(),
                self.value_size
            )));
        }
        if index >= self.entries {
            return Err(Error::InvalidArgument(format!(
                "index {index} is outside the array of {} elements",
                self.entries
            )));
        }
        Ok(index * self.stride)
    }

    /// Element `index` of a mapped array.
    pub fn get<V: Pod>(&self, index: usize) -> Result<V> {
        let off = self.element_offset::<V>(index)?;
        let mut b = V::Bytes::zeroed();
        self.read_bytes(off, b.as_mut())?;
        Ok(V::from_bytes(&b))
    }

    /// Sets element `index` of a mapped array.
    pub fn set<V: Pod>(&self, index: usize, value: &V) -> Result<()> {
        let off = self.element_offset::<V>(index)?;
        self.write_bytes(off, value.to_bytes().as_ref())
    }
}
