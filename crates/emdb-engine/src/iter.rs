//! Snapshot iteration: the set of keys is fixed when the iterator is made; each value is read
//! when `next()` reaches its key.
//!
//! The iterator keeps the generation (map and index) it was made from, so it can read the keys
//! even after a compaction replaced the file. While the namespace's index has not changed since
//! the iterator took its offsets, the records there are the current ones and are read in place;
//! after a change, each key is looked up in the current generation, so a key removed since is
//! skipped and an overwritten key shows its new value.

use std::sync::Arc;

use crate::engine::{Engine, Generation};
use crate::error::{EngineError, Result};
use crate::index::NsIndex;
use crate::log::mmap::Mapping;
use crate::log::reader::LogReader;

/// A record as iterators yield it: key, value (empty for a keys-only iterator) and expiry
/// (unix ms, 0 for none).
pub(crate) type Record = (Vec<u8>, Vec<u8>, u64);

/// How many records ahead of `next()` a scan brings into cache: enough to overlap their misses,
/// few enough that a scan stopped early has not paid for many it never reads.
pub(crate) const TOUCH_AHEAD: usize = 4;

/// Iterator over `(key, value, expires_at)` of one namespace; see the module docs.
///
/// While the namespace's index has not changed since the offsets were taken, `next()` decodes
/// the record at its offset (prefetching a few ahead, as a range scan does); once it has, each
/// remaining key is looked up in the current generation instead. Over 1M records, `iter()`
/// took 81-135 ms that way against 272-461 when it looked every key up (`docs/BENCH.md`).
#[derive(Debug)]
pub struct EngineIter {
    engine: Arc<Engine>,
    cur: Arc<Generation>,
    ns: u32,
    /// The namespace's index in `cur`, and its version read just before the offsets were taken.
    ns_index: Arc<NsIndex>,
    version: u64,
    /// The map the records are read through (loaded after the offsets, so it covers them);
    /// `None` reads with `pread`.
    map: Option<Arc<Mapping>>,
    offsets: Vec<u64>,
    /// `next()` is at `offsets[at]`.
    at: usize,
    values: bool,
}

impl Engine {
    /// Iterates namespace `ns` in no particular order.
    pub fn iter(self: &Arc<Self>, ns: u32) -> Result<EngineIter> {
        let cur = self.generation.load_full();
        let ns_index = cur.index.ns(ns).ok_or(EngineError::NamespaceMissing(ns))?;
        // Read before the offsets: a change that lands while they are taken moves it again.
        let version = ns_index.version();
        let offsets = ns_index.offsets();
        let map = cur.reader.mapping();
        for &off in offsets.iter().take(TOUCH_AHEAD) {
            LogReader::touch(map.as_deref(), off);
        }
        Ok(EngineIter {
            engine: self.clone(),
            cur,
            ns,
            ns_index,
            version,
            map,
            offsets,
            at: 0,
            values: true,
        })
    }
}

impl EngineIter {
    /// Yields empty values, reading only keys and expiries (never a value).
    #[must_use]
    pub fn keys_only(mut self) -> Self {
        self.values = false;
        self
    }

    /// Keys left to visit (an upper bound on what remains).
    pub fn remaining(&self) -> usize {
        self.offsets.len() - self.at
    }
}

impl Iterator for EngineIter {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let off = *self.offsets.get(self.at)?;
            let map = self.map.as_deref();
            if let Some(&ahead) = self.offsets.get(self.at + TOUCH_AHEAD) {
                LogReader::touch(map, ahead);
            }
            self.at += 1;
            if self.ns_index.unchanged_since(self.version) {
                return Some(self.cur.reader.record_in(map, self.ns, off, self.values));
            }
            match look_up(&self.engine, &self.cur, map, self.ns, off, self.values) {
                Ok(Some(record)) => return Some(Ok(record)),
                Ok(None) => {}
                // The namespace was dropped while iterating: nothing more is visible.
                Err(EngineError::NamespaceMissing(_)) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// The record whose key is stored at `off` (read through `map`, a map of `cur`'s file) as it is
/// now: looked up by that key in the engine's current generation; `Ok(None)` if the key is gone.
/// The value is left empty unless `values`.
pub(crate) fn look_up(
    engine: &Engine,
    cur: &Generation,
    map: Option<&Mapping>,
    ns: u32,
    off: u64,
    values: bool,
) -> Result<Option<Record>> {
    let key = cur
        .reader
        .with_indexed_in(map, ns, off, |e| e.key.to_vec())?;
    let current = if values {
        engine.get(ns, &key)?
    } else {
        engine.expires_at(ns, &key)?.map(|exp| (Vec::new(), exp))
    };
    Ok(current.map(|(value, exp)| (key, value, exp)))
}
