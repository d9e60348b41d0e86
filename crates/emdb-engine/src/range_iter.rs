//! Range scans: records of a key range in order, paged out of the ordered index.
//!
//! A scan of a few records is dominated by what making the iterator costs, not by the records,
//! so the iterator holds as little as it can: besides the engine, one counted reference for the
//! generation and its map together (the engine's read view), none for the default namespace's
//! index (it lives as long as the generation's index), and fields small enough that moving the
//! iterator (into `take()`, out of a `Result`) is a few register moves rather than a `memcpy`
//! call.

use std::ops::Bound;
use std::sync::Arc;

use crate::engine::{Engine, Generation, ReadView};
use crate::error::{EngineError, Result};
use crate::index::NsIndex;
use crate::index::ordered::Probe;
use crate::iter::{Record, TOUCH_AHEAD, look_up};
use crate::log::mmap::Mapping;
use crate::log::reader::LogReader;

/// Records fetched from the ordered index by a [`RangeIter`]'s first step; each later step
/// fetches twice as many, up to [`RANGE_PAGE_MAX`]. Short scans (the common "next 10 keys")
/// fetch little they never yield; long scans soon take the ordered index's lock rarely.
const RANGE_PAGE_FIRST: u32 = 16;
const RANGE_PAGE_MAX: u32 = 1024;

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
    /// The read view the iterator was made from: its generation is the one paged, and for a
    /// plaintext file its map reads each page whose records it covers (see `map`).
    view: Arc<ReadView>,
    /// The namespace's index in the view's generation: pages come from it, and its version
    /// (see [`NsIndex::version`]) says whether they still hold.
    ns_index: NsRef,
    /// That version just before the page was fetched.
    page_version: u64,
    hi: Bound<Box<[u8]>>,
    max_seq: u64,
    /// Offsets of the current page's records; `next()` is at `page[at]`.
    page: Vec<u64>,
    /// The reader's current map, loaded after the page's offsets were read (so it covers them)
    /// when the view's map does not serve the page: a record of it was written after the view
    /// was published, or the file is encrypted (its view has no map). `None` with the view's
    /// map serving; with neither map, records are read with `pread`.
    map: Option<Arc<Mapping>>,
    ns: u32,
    at: u32,
    page_size: u32,
    exhausted: bool,
}

/// A namespace's index as a scan holds it: the default namespace's lives as long as its
/// generation's index, so it is reached through the view instead of through a reference count.
#[derive(Debug)]
enum NsRef {
    Default,
    Named(Arc<NsIndex>),
}

impl NsRef {
    fn get<'a>(&'a self, view: &'a ReadView) -> &'a NsIndex {
        match self {
            NsRef::Default => view.cur.index.default_ns(),
            NsRef::Named(n) => n,
        }
    }
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

    /// A range iterator over the current read view, its first page not fetched yet.
    fn range_iter_unfetched(self: &Arc<Self>, ns: u32, hi: Bound<&[u8]>) -> Result<RangeIter> {
        let view = self.view.load_full();
        let index = &view.cur.index;
        if !index.ordered() {
            return Err(EngineError::RangeIndexDisabled);
        }
        let (ns_index, max_seq) = if ns == 0 {
            (NsRef::Default, index.default_ns().current_seq())
        } else {
            let n = index.ns(ns).ok_or(EngineError::NamespaceMissing(ns))?;
            let max_seq = n.current_seq();
            (NsRef::Named(n), max_seq)
        };
        Ok(RangeIter {
            engine: self.clone(),
            view,
            ns_index,
            page_version: 0,
            hi: hi.map(Box::from),
            max_seq,
            page: Vec::new(),
            map: None,
            ns,
            at: 0,
            page_size: RANGE_PAGE_FIRST,
            exhausted: false,
        })
    }
}

impl RangeIter {
    fn cur(&self) -> &Generation {
        &self.view.cur
    }

    /// The map the page's records are read through, if any.
    fn reading_map(&self) -> Option<&Mapping> {
        self.map.as_deref().or(self.view.map.as_deref())
    }

    /// Fetches the next page. It starts after the previous page's last key, read here from that
    /// record (a scan that stops within its first page never pays for it).
    fn refill(&mut self) -> Result<()> {
        let Some(&last) = self.page.last() else {
            self.exhausted = true;
            return Ok(());
        };
        let key = self
            .cur()
            .reader
            .with_entry_in(self.reading_map(), last, |e| e.key.to_vec())?;
        // Always fetched: the first page was, so the ordered set is built.
        self.fetch(Bound::Excluded(Probe::new(&key)));
        Ok(())
    }

    /// Whether the current page's records can be read at their offsets: the namespace index has
    /// not changed since the page was fetched, and was not retired before it (then the view's
    /// generation is no longer current, or the namespace was dropped, and the index no longer
    /// sees writes).
    fn page_holds(&self) -> bool {
        self.ns_index
            .get(&self.view)
            .unchanged_since(self.page_version)
    }

    /// Replaces the page with the next one, starting at `lo`. `false` (and an empty page) when
    /// the ordered set is not built yet; it never reverts to that once built.
    fn fetch(&mut self, lo: Bound<Probe<'_>>) -> bool {
        let ns_index = self.ns_index.get(&self.view);
        // Read before the page: a change that lands while it is fetched moves it again.
        self.page_version = ns_index.version();
        let hi = self.hi.as_ref().map(|k| Probe::new(k));
        let (limit, max_seq, page) = (self.page_size as usize, self.max_seq, &mut self.page);
        // A dropped namespace's index still answers; it is retired, so `next()` then looks its
        // keys up and finds the namespace gone.
        let found = ns_index
            .with_ordered(|o| o.page(lo, hi, limit, max_seq, page))
            .is_some();
        self.at = 0;
        if !found {
            self.page.clear();
            self.exhausted = true;
            return false;
        }
        self.exhausted = self.page.len() < limit;
        self.page_size = (self.page_size * 2).min(RANGE_PAGE_MAX);
        self.map = if self.view.map.is_some() && self.engine.view_is_current(&self.view) {
            None
        } else {
            // Loaded after the page's offsets were read, so it covers them.
            self.cur().reader.mapping()
        };
        let map = self.reading_map();
        for &off in self.page.iter().take(TOUCH_AHEAD) {
            LogReader::touch(map, off);
        }
        true
    }
}

impl Iterator for RangeIter {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let at = self.at as usize;
            let off = match self.page.get(at) {
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
            self.at += 1;
            let map = self.reading_map();
            if let Some(&ahead) = self.page.get(at + TOUCH_AHEAD) {
                LogReader::touch(map, ahead);
            }
            if self.page_holds() {
                return Some(self.cur().reader.record_in(map, self.ns, off, true));
            }
            match look_up(&self.engine, self.cur(), map, self.ns, off, true) {
                Ok(Some(record)) => return Some(Ok(record)),
                Ok(None) => {}
                Err(EngineError::NamespaceMissing(_)) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EngineConfig;

    /// Moving an iterator (into `take()`, out of a `Result`) stays a handful of register moves:
    /// at 128 bytes or less, with the facade's fields around it, the compiler copies it inline
    /// rather than calling `memcpy`.
    #[test]
    fn a_range_iterator_is_small() {
        assert!(size_of::<RangeIter>() <= 112, "{}", size_of::<RangeIter>());
    }

    /// Keys that sort as their numbers do.
    fn key(i: u32) -> String {
        format!("{i:06}")
    }

    /// A scan made from a view older than some of its records, one of them running past the
    /// end of the view's map, reads them all through the current map.
    #[test]
    fn a_scan_through_a_view_older_than_its_records_reads_them_all() {
        let dir = tempfile::tempdir().unwrap();
        let config = EngineConfig::default()
            .with_range_index(true)
            .with_prealloc_min(64 << 10);
        let e = Engine::open(dir.path().join("db"), config).unwrap();
        e.put(0, b"first", b"1", 0).unwrap();
        let old = e.view.load_full();
        let old_len = old.map.as_ref().map(|m| m.as_slice().len()).unwrap() as u64;
        let value = vec![7u8; 3000];
        let mut i = 0u32;
        while e.logical_size() <= old_len + 8192 {
            e.put(0, key(i).as_bytes(), &value, 0).unwrap();
            i += 1;
        }
        let cur = e.generation.load_full();
        let straddles = (0..i).any(|k| {
            let span = Engine::lookup(&cur, 0, key(k).as_bytes(), |off, rec| {
                (off, rec.key.len() + rec.value.len())
            });
            let (off, len) = span.unwrap().unwrap();
            off < old_len && off + (emdb_format::ENTRY_HEADER_LEN + len) as u64 > old_len
        });
        assert!(straddles, "a record runs past the old map's end");

        let current = e.view.swap(old);
        let it = e.range_iter(0, Bound::Unbounded, Bound::Unbounded).unwrap();
        let records: Vec<Record> = it.collect::<Result<_>>().unwrap();
        e.view.store(current);
        assert_eq!(records.len(), i as usize + 1);
        for (k, (got, v, _)) in (0..i).zip(&records) {
            assert_eq!(got, key(k).as_bytes());
            assert_eq!(v, &value);
        }
        assert_eq!(records.last().unwrap().0, b"first");
    }
}
