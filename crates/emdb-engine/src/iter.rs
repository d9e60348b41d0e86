//! Snapshot iteration: the set of keys is fixed when the iterator is made; each value is read
//! when `next()` reaches its key.
//!
//! The iterator keeps the generation (map and index) it was made from, so it can read the keys
//! even after a compaction replaced the file. While the namespace's index has not changed since
//! the iterator took its offsets, the records there are the current ones and are read in place;
//! after a change, each key is looked up in the current generation, so a key removed since is
//! skipped and an overwritten key shows its new value.

use std::ops::Bound;
use std::sync::Arc;

use crate::engine::{Engine, Generation};
use crate::error::{EngineError, Result};
use crate::index::NsIndex;
use crate::index::ordered::{OrdKey, Probe};
use crate::log::mmap::Mapping;
use crate::log::reader::LogReader;

/// A record as iterators yield it: key, value (empty for a keys-only iterator) and expiry
/// (unix ms, 0 for none).
pub(crate) type Record = (Vec<u8>, Vec<u8>, u64);

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
                let values = self.values;
                return Some(self.cur.reader.with_indexed_in(map, self.ns, off, |e| {
                    let value = if values { e.value.to_vec() } else { Vec::new() };
                    (e.key.to_vec(), value, e.expires_at)
                }));
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

/// Records fetched from the ordered index by a [`RangeIter`]'s first step; each later step
/// fetches twice as many, up to [`RANGE_PAGE_MAX`]. Short scans (the common "next 10 keys")
/// fetch little they never yield; long scans soon take the ordered index's lock rarely.
const RANGE_PAGE_FIRST: usize = 16;
const RANGE_PAGE_MAX: usize = 1024;
/// How many records ahead of `next()` a scan brings into cache: enough to overlap their misses,
/// few enough that a scan stopped early has not paid for many it never reads.
const TOUCH_AHEAD: usize = 4;

/// Iterator over a key range in order.
///
/// The set of keys is the range's keys when the iterator was made: it pages through the ordered
/// index of the generation it was made from (the first page as it is made), skipping keys
/// inserted later (by their insertion sequence number). A page takes the offsets of up to 16
/// records from the ordered index, doubling up to 1024 for later pages. While the namespace's
/// index has not changed since the page was fetched, `next()` decodes the record at its offset;
/// once it has (a put, removal or clear, or a compaction or drop that retired the index), the
/// rest of the page looks each key up in the current generation instead, so a key removed since
/// is skipped and an overwritten one shows its value at that moment.
#[derive(Debug)]
pub struct RangeIter {
    engine: Arc<Engine>,
    cur: Arc<Generation>,
    ns: u32,
    /// The namespace's index in `cur`: pages come from it, and its version (see
    /// [`NsIndex::version`]) says whether they still hold.
    ns_index: Arc<NsIndex>,
    /// Its version just before the page was fetched.
    page_version: u64,
    hi: Bound<OrdKey>,
    max_seq: u64,
    /// Offsets of the current page's records; `next()` is at `page[at]`.
    page: Vec<u64>,
    at: usize,
    /// The map the page's records are read through (loaded once per page); `None` reads with
    /// `pread`.
    map: Option<Arc<Mapping>>,
    page_size: usize,
    exhausted: bool,
}

impl Engine {
    /// Iterates the keys of namespace `ns` within the bounds, in order (needs the ordered index).
    /// The first page is fetched here, from the caller's bounds, so the lower bound is never
    /// copied; the upper one is kept for later pages.
    pub fn range_iter(
        self: &Arc<Self>,
        ns: u32,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
    ) -> Result<RangeIter> {
        let lo = lo.map(Probe::new);
        let mut it = self.range_iter_unfetched(ns, hi)?;
        if !it.fetch(lo) {
            // The ordered set was deferred by a snapshot load: build it and start again, from
            // the generation current then (one a compaction swapped in has its set built).
            self.ensure_ordered(ns)?;
            it = self.range_iter_unfetched(ns, hi)?;
            it.fetch(lo);
        }
        Ok(it)
    }

    /// A range iterator over the current generation, its first page not fetched yet.
    fn range_iter_unfetched(self: &Arc<Self>, ns: u32, hi: Bound<&[u8]>) -> Result<RangeIter> {
        let cur = self.generation.load_full();
        if !cur.index.ordered() {
            return Err(EngineError::RangeIndexDisabled);
        }
        let ns_index = cur.index.ns(ns).ok_or(EngineError::NamespaceMissing(ns))?;
        let max_seq = ns_index.current_seq();
        Ok(RangeIter {
            engine: self.clone(),
            cur,
            ns,
            ns_index,
            page_version: 0,
            hi: hi.map(OrdKey::new),
            max_seq,
            page: Vec::new(),
            at: 0,
            map: None,
            page_size: RANGE_PAGE_FIRST,
            exhausted: false,
        })
    }
}

impl RangeIter {
    /// Fetches the next page. It starts after the previous page's last key, read here from that
    /// record (a scan that stops within its first page never pays for it).
    fn refill(&mut self) -> Result<()> {
        let Some(&last) = self.page.last() else {
            self.exhausted = true;
            return Ok(());
        };
        let key = self
            .cur
            .reader
            .with_entry_in(self.map.as_deref(), last, |e| e.key.to_vec())?;
        // Always fetched: the first page was, so the ordered set is built.
        self.fetch(Bound::Excluded(Probe::new(&key)));
        Ok(())
    }

    /// Whether the current page's records can be read at their offsets: the namespace index has
    /// not changed since the page was fetched, and was not retired before it (then `cur` is no
    /// longer current, or the namespace was dropped, and the index no longer sees writes).
    fn page_holds(&self) -> bool {
        self.ns_index.unchanged_since(self.page_version)
    }

    /// Replaces the page with the next one, starting at `lo`. `false` (and an empty page) when
    /// the ordered set is not built yet; it never reverts to that once built.
    fn fetch(&mut self, lo: Bound<Probe<'_>>) -> bool {
        // Read before the page: a change that lands while it is fetched moves it again.
        self.page_version = self.ns_index.version();
        let hi = self.hi.as_ref().map(OrdKey::probe);
        let (limit, max_seq, page) = (self.page_size, self.max_seq, &mut self.page);
        // A dropped namespace's index still answers; it is retired, so `next()` then looks its
        // keys up and finds the namespace gone.
        let found = self
            .ns_index
            .with_ordered(|o| o.page(lo, hi, limit, max_seq, page))
            .is_some();
        self.at = 0;
        if !found {
            self.page.clear();
            self.exhausted = true;
            return false;
        }
        self.exhausted = self.page.len() < self.page_size;
        self.page_size = (self.page_size * 2).min(RANGE_PAGE_MAX);
        // Loaded after the page's offsets were read, so it covers them.
        self.map = self.cur.reader.mapping();
        for &off in self.page.iter().take(TOUCH_AHEAD) {
            LogReader::touch(self.map.as_deref(), off);
        }
        true
    }
}

impl Iterator for RangeIter {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let off = match self.page.get(self.at) {
                Some(&off) => off,
                None if self.exhausted => return None,
                None => {
                    if let Err(e) = self.refill() {
                        self.exhausted = true;
                        self.page.clear();
                        return Some(Err(e));
                    }
                    continue;
                }
            };
            let map = self.map.as_deref();
            if let Some(&ahead) = self.page.get(self.at + TOUCH_AHEAD) {
                LogReader::touch(map, ahead);
            }
            self.at += 1;
            if self.page_holds() {
                return Some(self.cur.reader.with_indexed_in(map, self.ns, off, |e| {
                    (e.key.to_vec(), e.value.to_vec(), e.expires_at)
                }));
            }
            match look_up(&self.engine, &self.cur, map, self.ns, off, true) {
                Ok(Some(record)) => return Some(Ok(record)),
                Ok(None) => {}
                Err(EngineError::NamespaceMissing(_)) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// The record whose key is stored at `off` (read through `map`, a map of `cur`'s file) as it is
/// now: looked up by that key in the engine's current generation; `Ok(None)` if the key is gone.
/// The value is left empty unless `values`.
fn look_up(
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
