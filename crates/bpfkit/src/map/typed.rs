//! Typed views of a [`Map`] over [`Pod`] keys and values.
//!
//! Each view checks once, when made, that the map's key and value sizes match the Rust types,
//! and then converts through stack arrays, so single-element calls of [`HashMap`], [`Queue`]
//! and [`BloomFilter`] allocate nothing; [`PerCpuHashMap`] needs one buffer for all CPUs.

use std::marker::PhantomData;

use super::pod::{ByteArray, Pod};
use super::{Map, MapType};
use crate::error::{Error, Result};

fn check_sizes(map: &Map, key: Option<usize>, value: usize, what: &str) -> Result<()> {
    if let Some(k) = key {
        if map.key_size() != k {
            return Err(Error::InvalidArgument(format!(
                "{what} over map `{}`: key type is {k} bytes, the map's keys are {}",
                map.name(),
                map.key_size()
            )));
        }
    }
    if map.value_size() != value {
        return Err(Error::InvalidArgument(format!(
            "{what} over map `{}`: value type is {value} bytes, the map's values are {}",
            map.name(),
            map.value_size()
        )));
    }
    Ok(())
}

/// A keyed map (hash, array, LRU, LPM trie, storage…) with typed keys and values.
#[derive(Debug)]
pub struct HashMap<K: Pod, V: Pod> {
    map: Map,
    _types: PhantomData<(K, V)>,
}

impl<K: Pod, V: Pod> HashMap<K, V> {
    /// Wraps `map`; fails when its sizes do not match `K` and `V` or it is per-CPU.
    pub fn new(map: Map) -> Result<Self> {
        if map.map_type().is_some_and(MapType::is_percpu) {
            return Err(Error::InvalidArgument(format!(
                "map `{}` is per-CPU; use PerCpuHashMap",
                map.name()
            )));
        }
        check_sizes(&map, Some(K::size()), V::size(), "HashMap")?;
        Ok(HashMap {
            map,
            _types: PhantomData,
        })
    }

    /// The untyped map.
    pub fn map(&self) -> &Map {
        &self.map
    }

    /// Gives the untyped map back.
    pub fn into_inner(self) -> Map {
        self.map
    }

    /// The value of `key`.
    pub fn get(&self, key: &K) -> Result<Option<V>> {
        self.get_with_flags(key, 0)
    }

    /// The value of `key`, with element flags (`BPF_F_LOCK`).
    pub fn get_with_flags(&self, key: &K, flags: u64) -> Result<Option<V>> {
        let mut v = V::Bytes::zeroed();
        let found = self
            .map
            .lookup_into_with_flags(key.to_bytes().as_ref(), v.as_mut(), flags)?;
        Ok(found.then(|| V::from_bytes(&v)))
    }

    /// Sets `key` to `value` (`flags`: `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`, `| BPF_F_LOCK`).
    pub fn insert(&self, key: &K, value: &V, flags: u64) -> Result<()> {
        self.map
            .update(key.to_bytes().as_ref(), value.to_bytes().as_ref(), flags)
    }

    /// Deletes `key`; `Ok(false)` if it was absent.
    pub fn remove(&self, key: &K) -> Result<bool> {
        self.map.delete(key.to_bytes().as_ref())
    }

    /// Looks up and deletes `key` in one call.
    pub fn take(&self, key: &K) -> Result<Option<V>> {
        let mut v = V::Bytes::zeroed();
        let found = self
            .map
            .lookup_and_delete_into(key.to_bytes().as_ref(), v.as_mut())?;
        Ok(found.then(|| V::from_bytes(&v)))
    }

    /// The keys, in the kernel's order.
    pub fn keys(&self) -> impl Iterator<Item = Result<K>> + '_ {
        self.map.keys().map(|k| k.map(|k| from_slice::<K>(&k)))
    }

    /// The `(key, value)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = Result<(K, V)>> + '_ {
        self.map
            .iter()
            .map(|r| r.map(|(k, v)| (from_slice::<K>(&k), from_slice::<V>(&v))))
    }
}

/// Converts bytes already checked to be `T::size()` long.
fn from_slice<T: Pod>(b: &[u8]) -> T {
    let mut a = T::Bytes::zeroed();
    let n = a.as_ref().len().min(b.len());
    a.as_mut()[..n].copy_from_slice(&b[..n]);
    T::from_bytes(&a)
}

/// One value per possible CPU, indexed by CPU number.
pub type PerCpuValues<V> = Vec<V>;

/// A per-CPU hash or array with typed keys and values.
#[derive(Debug)]
pub struct PerCpuHashMap<K: Pod, V: Pod> {
    map: Map,
    _types: PhantomData<(K, V)>,
}

impl<K: Pod, V: Pod> PerCpuHashMap<K, V> {
    /// Wraps a per-CPU `map` whose sizes match `K` and `V`.
    pub fn new(map: Map) -> Result<Self> {
        if !map.map_type().is_some_and(MapType::is_percpu) {
            return Err(Error::InvalidArgument(format!(
                "map `{}` is not per-CPU; use HashMap",
                map.name()
            )));
        }
        check_sizes(&map, Some(K::size()), V::size(), "PerCpuHashMap")?;
        Ok(PerCpuHashMap {
            map,
            _types: PhantomData,
        })
    }

    /// The untyped map.
    pub fn map(&self) -> &Map {
        &self.map
    }

    /// Number of possible CPUs, the length of every [`PerCpuValues`].
    pub fn cpus(&self) -> usize {
        self.map.value_slots()
    }

    /// The values of `key`, one per possible CPU.
    pub fn get(&self, key: &K) -> Result<Option<PerCpuValues<V>>> {
        Ok(self
            .map
            .lookup_percpu(key.to_bytes().as_ref())?
            .map(|vs| vs.iter().map(|v| from_slice::<V>(v)).collect()))
    }

    /// Sets the values of `key`, one per possible CPU.
    pub fn insert(&self, key: &K, values: &[V], flags: u64) -> Result<()> {
        let bytes: Vec<V::Bytes> = values.iter().map(Pod::to_bytes).collect();
        self.map
            .update_percpu(key.to_bytes().as_ref(), &bytes, flags)
    }

    /// Deletes `key` (per-CPU arrays cannot delete and report `EINVAL`).
    pub fn remove(&self, key: &K) -> Result<bool> {
        self.map.delete(key.to_bytes().as_ref())
    }

    /// The keys.
    pub fn keys(&self) -> impl Iterator<Item = Result<K>> + '_ {
        self.map.keys().map(|k| k.map(|k| from_slice::<K>(&k)))
    }
}

/// A queue or stack of typed values.
#[derive(Debug)]
pub struct Queue<V: Pod> {
    map: Map,
    _types: PhantomData<V>,
}

impl<V: Pod> Queue<V> {
    /// Wraps a `queue` or `stack` map whose values are `V`.
    pub fn new(map: Map) -> Result<Self> {
        if !matches!(map.map_type(), Some(MapType::Queue | MapType::Stack)) {
            return Err(Error::InvalidArgument(format!(
                "map `{}` is not a queue or stack",
                map.name()
            )));
        }
        check_sizes(&map, None, V::size(), "Queue")?;
        Ok(Queue {
            map,
            _types: PhantomData,
        })
    }

    /// The untyped map.
    pub fn map(&self) -> &Map {
        &self.map
    }

    /// Pushes `value`; with `BPF_EXIST` a full map drops its oldest element.
    pub fn push(&self, value: &V, flags: u64) -> Result<()> {
        self.map.push(value.to_bytes().as_ref(), flags)
    }

    /// Removes and returns the next value (FIFO for a queue, LIFO for a stack).
    pub fn pop(&self) -> Result<Option<V>> {
        let mut v = V::Bytes::zeroed();
        Ok(self.map.pop_into(v.as_mut())?.then(|| V::from_bytes(&v)))
    }

    /// The next value without removing it.
    pub fn peek(&self) -> Result<Option<V>> {
        let mut v = V::Bytes::zeroed();
        Ok(self.map.peek_into(v.as_mut())?.then(|| V::from_bytes(&v)))
    }
}

/// A bloom filter of typed values.
#[derive(Debug)]
pub struct BloomFilter<V: Pod> {
    map: Map,
    _types: PhantomData<V>,
}

impl<V: Pod> BloomFilter<V> {
    /// Wraps a `bloom_filter` map whose values are `V`.
    pub fn new(map: Map) -> Result<Self> {
        if map.map_type() != Some(MapType::BloomFilter) {
            return Err(Error::InvalidArgument(format!(
                "map `{}` is not a bloom filter",
                map.name()
            )));
        }
        check_sizes(&map, None, V::size(), "BloomFilter")?;
        Ok(BloomFilter {
            map,
            _types: PhantomData,
        })
    }

    /// The untyped map.
    pub fn map(&self) -> &Map {
        &self.map
    }

    /// Adds `value`.
    pub fn insert(&self, value: &V) -> Result<()> {
        self.map.push(value.to_bytes().as_ref(), 0)
    }

    /// Whether `value` may have been added (no false negatives).
    pub fn contains(&self, value: &V) -> Result<bool> {
        self.map.bloom_contains(value.to_bytes().as_ref())
    }
}
