//! Point reads: find the offset in the index, then decode the entry from the log.
//!
//! Reads take no lock: they load the current generation (or read view), probe one index shard
//! lock-free, and decode from the map. Expiry is returned, never applied: what "expired"
//! means is the facade's policy.

use std::ops::Bound;

use crate::engine::{Engine, Generation};
use crate::error::{EngineError, Result};
use crate::index::holds;
use crate::log::mmap::Mapping;
use crate::log::reader::ValueBytes;

/// Finds `key` through `map`, a map of `cur`'s file, decoding entries in place where they lie;
/// evaluates to a `Result<MapProbe>`. One lock-free load of the read view serves the whole read,
/// where the general path ([`Engine::lookup`]) loads the generation and then the map. With
/// `$whole_record` (`true` for a read that copies the value), each candidate record is
/// prefetched whole before its header is decoded.
///
/// A macro, expanded in each point read, because as a function (also `#[inline(always)]`) it
/// made owned reads slower for a reason the profile does not show: 1M random `get`s of 150-byte
/// values took 0.61-0.68 s against 0.52-0.55 s expanded (`docs/BENCH.md`).
macro_rules! probe_map {
    ($cur:expr, $map:expr, $ns:expr, $key:expr, $whole_record:literal) => {{
        let (cur, map, ns, key) = ($cur, $map, $ns, $key);
        let h = cur.index.hash(key);
        let mut found = None;
        let probe = cur.index.with_ns(ns, |n| {
            n.find(h, |off| {
                if $whole_record {
                    // The value is read right after the header: its lines are requested with
                    // the header's instead of after it (1M random `get`s: 530-716 -> 479-564
                    // ms; a zero-copy read, which may never read its value, skips this).
                    crate::log::reader::LogReader::touch(Some(map), off);
                }
                let e = map_entry(&cur.reader, map, off)?;
                let hit = holds(ns, key, &e);
                if hit {
                    // In bounds: `e` was decoded from the map at `off`.
                    let start = off as usize + emdb_format::ENTRY_HEADER_LEN + e.key.len();
                    found = Some((off, (start, e.value.len(), e.expires_at)));
                }
                Ok(hit)
            })
        });
        match probe {
            None => Err(EngineError::NamespaceMissing(ns)),
            Some(Ok(at)) => Ok(match accepted(at, found) {
                Some((start, len, expires_at)) => MapProbe::Found {
                    start,
                    len,
                    expires_at,
                },
                None => MapProbe::Absent,
            }),
            Some(Err(MapStop::Corrupt(offset, err))) => Err(EngineError::Corrupted {
                offset,
                reason: crate::error::Corruption::Frame(err),
            }),
            Some(Err(MapStop::Stale)) => Ok(MapProbe::Stale),
        }
    }};
}

impl Engine {
    /// Finds `key` and hands its decoded entry to `f`, decoding (and checksumming) the entry
    /// once: the same decode compares the key and serves the value.
    pub(crate) fn lookup<R>(
        cur: &Generation,
        ns: u32,
        key: &[u8],
        mut f: impl FnMut(u64, emdb_format::EntryRef<'_>) -> R,
    ) -> Result<Option<R>> {
        Self::probe(cur, ns, key, |off| {
            cur.reader
                .with_entry(off, |e| holds(ns, key, &e).then(|| f(off, e)))
        })
    }

    /// [`Engine::lookup`] of a sealed log's value: each candidate entry is decrypted once, and
    /// the buffer of the one that holds `key` becomes the value (a key comparison followed by a
    /// separate value read would decrypt the record twice).
    fn lookup_sealed(cur: &Generation, ns: u32, key: &[u8]) -> Result<Option<(Vec<u8>, u64)>> {
        Self::probe(cur, ns, key, |off| {
            cur.reader.sealed_value_if(off, |e| holds(ns, key, e))
        })
    }

    /// Probes the index for `key`: `read` reads the record at each offset whose hash matches
    /// and returns what it gave if that record holds `key` (`None` passes over it).
    ///
    /// A lookup that overlapped a move of slots is retried (`index/table.rs`), so the probe may
    /// have accepted an entry in an attempt it then discarded: only the result for the offset
    /// the lookup returns counts.
    fn probe<R>(
        cur: &Generation,
        ns: u32,
        key: &[u8],
        mut read: impl FnMut(u64) -> Result<Option<R>>,
    ) -> Result<Option<R>> {
        let h = cur.index.hash(key);
        let mut out = None;
        let at = cur
            .index
            .with_ns(ns, |n| {
                n.find(h, |off| {
                    let found = read(off)?;
                    let hit = found.is_some();
                    if let Some(r) = found {
                        out = Some((off, r));
                    }
                    Ok::<_, EngineError>(hit)
                })
            })
            .ok_or(EngineError::NamespaceMissing(ns))??;
        Ok(accepted(at, out))
    }

    fn get_in(cur: &Generation, ns: u32, key: &[u8]) -> Result<Option<(Vec<u8>, u64)>> {
        if cur.reader.sealer().is_some() {
            return Self::lookup_sealed(cur, ns, key);
        }
        Self::lookup(cur, ns, key, |_, e| (e.value.to_vec(), e.expires_at))
    }

    fn expires_in(cur: &Generation, ns: u32, key: &[u8]) -> Result<Option<u64>> {
        Self::lookup(cur, ns, key, |_, e| e.expires_at)
    }

    /// Value and expiry (unix ms, 0 = none) of `key`, whether or not it has expired.
    pub fn get(&self, ns: u32, key: &[u8]) -> Result<Option<(Vec<u8>, u64)>> {
        let view = self.view.load();
        if let Some(map) = &view.map {
            match probe_map!(&view.cur, map, ns, key, true)? {
                MapProbe::Found {
                    start,
                    len,
                    expires_at,
                } => {
                    // Sliced by index (in bounds: the probe decoded the value from this map):
                    // through `Mapping::span`, which checks, the same reads took 0.61-0.64 s.
                    let value = map.as_slice()[start..start + len].to_vec();
                    return Ok(Some((value, expires_at)));
                }
                MapProbe::Absent => return Ok(None),
                MapProbe::Stale => {}
            }
        }
        Self::get_in(&view.cur, ns, key)
    }

    /// Like [`Engine::get`], but borrows the value from the memory map when it can.
    pub fn get_ref(&self, ns: u32, key: &[u8]) -> Result<Option<(ValueBytes, u64)>> {
        let view = self.view.load();
        if let Some(map) = &view.map {
            match probe_map!(&view.cur, map, ns, key, false)? {
                MapProbe::Found {
                    start,
                    len,
                    expires_at,
                } => {
                    let map = map.clone();
                    return Ok(Some((ValueBytes::Mapped { map, start, len }, expires_at)));
                }
                MapProbe::Absent => return Ok(None),
                MapProbe::Stale => {}
            }
        }
        let cur = &view.cur;
        if cur.reader.sealer().is_some() {
            let found = Self::lookup_sealed(cur, ns, key)?;
            return Ok(found.map(|(value, exp)| (ValueBytes::Owned(value), exp)));
        }
        Self::probe(cur, ns, key, |off| {
            cur.reader.value_if(off, |e| holds(ns, key, e))
        })
    }

    /// Expiry of `key` without reading its value.
    pub fn expires_at(&self, ns: u32, key: &[u8]) -> Result<Option<u64>> {
        let view = self.view.load();
        if let Some(map) = &view.map {
            match probe_map!(&view.cur, map, ns, key, false)? {
                MapProbe::Found { expires_at, .. } => return Ok(Some(expires_at)),
                MapProbe::Absent => return Ok(None),
                MapProbe::Stale => {}
            }
        }
        Self::expires_in(&view.cur, ns, key)
    }

    /// Live records of namespace `ns` (expired-but-present ones included).
    pub fn len(&self, ns: u32) -> Result<u64> {
        self.generation
            .load()
            .index
            .with_ns(ns, |n| n.len())
            .ok_or(EngineError::NamespaceMissing(ns))
    }

    /// Builds the ordered key set of namespace `ns` if a snapshot load deferred it. Runs under
    /// the writer mutex, reading every key of the namespace once.
    pub(crate) fn ensure_ordered(&self, ns: u32) -> Result<()> {
        let pending = self
            .generation
            .load()
            .index
            .with_ns(ns, |n| n.ordered_pending());
        if pending != Some(true) {
            return Ok(());
        }
        let _w = self.writer.lock();
        let cur = self.generation.load();
        let Some(nsi) = cur.index.ns(ns) else {
            return Ok(());
        };
        if !nsi.ordered_pending() {
            return Ok(());
        }
        let mut entries = Vec::with_capacity(usize::try_from(nsi.len()).unwrap_or(0));
        for off in nsi.offsets() {
            let key = cur
                .reader
                .with_indexed(ns, off, |e| Box::<[u8]>::from(e.key))?;
            entries.push((key, off));
        }
        nsi.install_ordered(entries);
        Ok(())
    }

    /// Live records of namespace `ns` whose expiry is unset or after `now_ms()`.
    ///
    /// O(1) when no live record of the namespace has an expiry, and then `now_ms` is not called;
    /// otherwise reads every record's header (never its value).
    #[inline]
    pub fn live_len(&self, ns: u32, now_ms: impl FnOnce() -> u64) -> Result<u64> {
        if ns == 0
            && let Some(len) = self.default_counts.live_if_none_expiring()
        {
            return Ok(len);
        }
        self.live_len_indexed(ns, now_ms)
    }

    /// [`Engine::live_len`] from the namespace's index. Out of line and cold, so that the inlined
    /// two-load path above compiles to a few contiguous instructions: a cold first call pays
    /// for every cache line of code it runs.
    #[cold]
    #[inline(never)]
    fn live_len_indexed(&self, ns: u32, now_ms: impl FnOnce() -> u64) -> Result<u64> {
        let cur = self.generation.load();
        match cur.index.with_ns(ns, |n| (n.len(), n.expiring())) {
            Some((len, 0)) => Ok(len),
            Some(_) => Self::live_len_expiring(&cur, ns, now_ms()),
            None => Err(EngineError::NamespaceMissing(ns)),
        }
    }

    /// [`Engine::live_len`] for a namespace with expiring records: counts those expired by
    /// `now_ms` among the offsets of one index snapshot.
    #[inline(never)]
    fn live_len_expiring(cur: &Generation, ns: u32, now_ms: u64) -> Result<u64> {
        let (len, expiring, offsets) = cur
            .index
            .with_ns(ns, |n| (n.len(), n.expiring(), n.offsets()))
            .ok_or(EngineError::NamespaceMissing(ns))?;
        let mut expired = 0u64;
        for off in offsets {
            cur.reader.with_indexed(ns, off, |e| {
                if e.expires_at != 0 && e.expires_at <= now_ms {
                    expired += 1;
                }
            })?;
        }
        debug_assert!(expiring >= expired);
        Ok(len - expired)
    }

    /// Whether the ordered index is on.
    pub fn has_range_index(&self) -> bool {
        self.generation.load().index.ordered()
    }

    /// Keys of namespace `ns` within the bounds, in order, at most `limit` of them.
    pub fn range_keys(
        &self,
        ns: u32,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Vec<u8>>> {
        self.ensure_ordered(ns)?;
        let cur = self.generation.load();
        if !cur.index.ordered() {
            return Err(EngineError::RangeIndexDisabled);
        }
        cur.index
            .with_ns(ns, |n| n.with_ordered(|o| o.keys(lo, hi, limit, u64::MAX)))
            .ok_or(EngineError::NamespaceMissing(ns))?
            .ok_or(EngineError::RangeIndexDisabled)
    }

    /// Key and expiry of every record of `ns` whose expiry is set and at or before `now_ms`,
    /// without reading any value.
    pub fn expired_keys(&self, ns: u32, now_ms: u64) -> Result<Vec<Vec<u8>>> {
        let cur = self.generation.load();
        let offsets = cur
            .index
            .with_ns(ns, |n| n.offsets())
            .ok_or(EngineError::NamespaceMissing(ns))?;
        let mut out = Vec::new();
        for off in offsets {
            cur.reader.with_indexed(ns, off, |e| {
                if e.expires_at != 0 && e.expires_at <= now_ms {
                    out.push(e.key.to_vec());
                }
            })?;
        }
        Ok(out)
    }
}

/// What a probe accepted, if it accepted the entry at the offset the lookup returned (`at`).
fn accepted<R>(at: Option<u64>, hit: Option<(u64, R)>) -> Option<R> {
    hit.filter(|(off, _)| Some(*off) == at).map(|(_, r)| r)
}

/// What a probe of the read view's map found.
enum MapProbe {
    /// The record: its value is the `len` bytes at `start` of the map.
    Found {
        start: usize,
        len: usize,
        expires_at: u64,
    },
    /// No record of the key.
    Absent,
    /// The probe reached an entry past the map's end (the file grew after the map was taken).
    Stale,
}

/// Why a zero-copy probe stopped before finding its key.
enum MapStop {
    /// The entry at this offset does not decode.
    Corrupt(u64, emdb_format::DecodeError),
    /// The entry lies (partly) beyond the map: the file grew after the map was taken.
    Stale,
}

/// The `Put` entry at `offset`, decoded in place from `map`.
fn map_entry<'m>(
    reader: &crate::log::reader::LogReader,
    map: &'m Mapping,
    offset: u64,
) -> std::result::Result<emdb_format::EntryRef<'m>, MapStop> {
    reader.put_in(map, offset).map_err(|e| {
        if e.is_incomplete() {
            MapStop::Stale
        } else {
            MapStop::Corrupt(offset, e)
        }
    })
}

#[cfg(test)]
mod tests;
