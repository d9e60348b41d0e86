//! Point reads: find the offset in the index, then decode the entry from the log.
//!
//! Reads take no engine-wide lock: they load the current generation, read-lock one index shard
//! for the probe, and decode from the map. Expiry is returned, never applied: what "expired"
//! means is the facade's policy.

use std::ops::Bound;

use crate::engine::{Engine, Generation};
use crate::error::{EngineError, Result};
use crate::log::reader::ValueBytes;

impl Engine {
    pub(crate) fn locate(cur: &Generation, ns: u32, key: &[u8]) -> Result<Option<u64>> {
        let h = cur.index.hash(key);
        cur.index
            .with_ns(ns, |n| n.find(h, |off| cur.reader.key_eq(off, key)))
            .ok_or(EngineError::NamespaceMissing(ns))?
    }

    pub(crate) fn get_in(cur: &Generation, ns: u32, key: &[u8]) -> Result<Option<(Vec<u8>, u64)>> {
        let Some(off) = Self::locate(cur, ns, key)? else {
            return Ok(None);
        };
        cur.reader
            .with_entry(off, |e| Some((e.value.to_vec(), e.expires_at)))
    }

    pub(crate) fn expires_in(cur: &Generation, ns: u32, key: &[u8]) -> Result<Option<u64>> {
        let Some(off) = Self::locate(cur, ns, key)? else {
            return Ok(None);
        };
        cur.reader.with_entry(off, |e| Some(e.expires_at))
    }

    /// Value and expiry (unix ms, 0 = none) of `key`, whether or not it has expired.
    pub fn get(&self, ns: u32, key: &[u8]) -> Result<Option<(Vec<u8>, u64)>> {
        Self::get_in(&self.generation.load(), ns, key)
    }

    /// Like [`Engine::get`], but borrows the value from the memory map when it can.
    pub fn get_ref(&self, ns: u32, key: &[u8]) -> Result<Option<(ValueBytes, u64)>> {
        let cur = self.generation.load();
        let Some(off) = Self::locate(&cur, ns, key)? else {
            return Ok(None);
        };
        cur.reader.value(off).map(Some)
    }

    /// Expiry of `key` without reading its value.
    pub fn expires_at(&self, ns: u32, key: &[u8]) -> Result<Option<u64>> {
        Self::expires_in(&self.generation.load(), ns, key)
    }

    /// Live records of namespace `ns` (expired-but-present ones included).
    pub fn len(&self, ns: u32) -> Result<u64> {
        self.generation
            .load()
            .index
            .with_ns(ns, |n| n.len())
            .ok_or(EngineError::NamespaceMissing(ns))
    }

    /// Live records of namespace `ns` whose expiry is unset or after `now_ms`.
    ///
    /// O(1) when no live record of the namespace has an expiry; otherwise reads every record's
    /// header (never its value).
    pub fn live_len(&self, ns: u32, now_ms: u64) -> Result<u64> {
        let cur = self.generation.load();
        let (len, expiring, offsets) = cur
            .index
            .with_ns(ns, |n| {
                let expiring = n.expiring();
                (n.len(), expiring, (expiring > 0).then(|| n.offsets()))
            })
            .ok_or(EngineError::NamespaceMissing(ns))?;
        let Some(offsets) = offsets else {
            return Ok(len);
        };
        let mut expired = 0u64;
        for off in offsets {
            cur.reader.with_entry(off, |e| {
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
        let cur = self.generation.load();
        if !cur.index.ordered() {
            return Err(EngineError::RangeIndexDisabled);
        }
        cur.index
            .with_ns(ns, |n| n.range_keys(lo, hi, limit, u64::MAX))
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
            cur.reader.with_entry(off, |e| {
                if e.expires_at != 0 && e.expires_at <= now_ms {
                    out.push(e.key.to_vec());
                }
            })?;
        }
        Ok(out)
    }
}
