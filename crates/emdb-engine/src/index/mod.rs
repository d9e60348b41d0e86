//! The in-memory index: per namespace, 16 hash shards mapping keys to log offsets, plus an
//! optional ordered key set for range scans.
//!
//! Keys are hashed with xxh3 seeded per file (the seed comes from the random file id, so
//! adversarial keys cannot be chosen to collide without knowing it). The low 4 bits pick the
//! shard and the next 24 bits are the slot tag. Only the engine's writer mutates the index, while
//! holding its write mutex, so the index always reflects a prefix of the log.

mod arena;
pub(crate) mod key_hash;
mod key_tree;
pub(crate) mod ordered;
pub(crate) mod table;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use emdb_format::entry::{EntryRef, Op};
use parking_lot::RwLock;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::error::{Corruption, EngineError};
use crate::log::mmap::prefetch_bytes;
use ordered::Ordered;
use table::{TAG_BITS, Table};

/// Shards per namespace.
pub(crate) const SHARDS: usize = 16;
const SHARD_BITS: u32 = 4;

/// How many entries ahead of the one being applied a run of writes prefetches the index nodes
/// of (see [`Index::prefetching`]): far enough for the misses to land before their turn, near
/// enough that the leaves in flight (about 22 cache lines each) do not evict each other.
const PREFETCH_AHEAD: usize = 8;
/// The bit of [`NsIndex`]'s version that marks it retired.
const RETIRED: u64 = 1 << 63;

/// A key's hash split into shard and tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct KeyHash {
    shard: usize,
    tag: u32,
}

/// The index of one namespace.
#[derive(Debug)]
pub(crate) struct NsIndex {
    shards: Box<[Table]>,
    live: AtomicU64,
    /// Live records that carry an expiry (lets callers skip expiry scans when there are none).
    expiring: AtomicU64,
    /// Ordered keys, each with its record's offset and the sequence number of its insertion
    /// (for range iterators that must not yield keys inserted after their creation). After a
    /// snapshot load it is built on first use (`None` inside until then); writes maintain it
    /// only once built.
    ordered: Option<RwLock<Option<Ordered>>>,
    /// Last insertion sequence number handed out.
    seq: AtomicU64,
    /// Moves (after the change) on every put, removal and clear, and takes the [`RETIRED`] bit
    /// when this index is retired (compaction replaced its generation, or the namespace was
    /// dropped). A range scan yields a record straight from the offsets of its page only while
    /// this has not moved since the page was fetched, and never from a page fetched once it
    /// was retired; otherwise it looks each key up again.
    version: AtomicU64,
}

impl NsIndex {
    pub(crate) fn new(ordered: bool) -> Self {
        NsIndex {
            shards: (0..SHARDS).map(|_| Table::default()).collect(),
            live: AtomicU64::new(0),
            expiring: AtomicU64::new(0),
            ordered: ordered.then(|| RwLock::new(Some(Ordered::default()))),
            seq: AtomicU64::new(0),
            version: AtomicU64::new(0),
        }
    }

    pub(crate) fn from_tables(tables: Vec<Table>, expiring: u64, ordered: bool) -> Self {
        let live = tables.iter().map(|t| t.len() as u64).sum();
        NsIndex {
            shards: tables.into_iter().collect(),
            live: AtomicU64::new(live),
            expiring: AtomicU64::new(expiring),
            ordered: ordered.then(|| RwLock::new(None)),
            seq: AtomicU64::new(0),
            version: AtomicU64::new(0),
        }
    }

    /// Live records.
    #[inline]
    pub(crate) fn len(&self) -> u64 {
        self.live.load(Ordering::Relaxed)
    }

    /// See the field: equal values mean no put, removal, clear or retirement came between.
    #[inline]
    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Whether nothing changed in this index since `version` was read from it, and it was not
    /// retired before (the [`RETIRED`] bit was not set in `version`): offsets taken from it
    /// after that read still point at the current records of their keys.
    #[inline]
    pub(crate) fn unchanged_since(&self, version: u64) -> bool {
        version & RETIRED == 0 && self.version() == version
    }

    fn changed(&self) {
        // Never reaches the retired bit: that would take 2^63 changes.
        self.version.fetch_add(1, Ordering::Release);
    }

    /// Marks the index as replaced (by compaction's new generation) or dropped: scans holding
    /// it stop trusting the pages they fetched from it, and pages fetched from it later.
    pub(crate) fn retire(&self) {
        self.version.fetch_or(RETIRED, Ordering::Release);
    }

    /// Live records with an expiry.
    #[inline]
    pub(crate) fn expiring(&self) -> u64 {
        self.expiring.load(Ordering::Relaxed)
    }

    /// Updates the expiring count after a put that replaced `old_expiry` (`None`: new key).
    pub(crate) fn note_put(&self, old_expiry: Option<u64>, new_expiry: u64) {
        if old_expiry.is_some_and(|e| e != 0) {
            self.expiring.fetch_sub(1, Ordering::Relaxed);
        }
        if new_expiry != 0 {
            self.expiring.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Updates the expiring count after removing a record with `old_expiry`.
    pub(crate) fn note_remove(&self, old_expiry: u64) {
        if old_expiry != 0 {
            self.expiring.fetch_sub(1, Ordering::Relaxed);
        }
    }

    #[inline]
    pub(crate) fn find<E>(
        &self,
        h: KeyHash,
        eq: impl FnMut(u64) -> Result<bool, E>,
    ) -> Result<Option<u64>, E> {
        self.shards[h.shard].find(h.tag, eq)
    }

    /// Points `key` at `offset`; returns the replaced offset.
    pub(crate) fn upsert<E>(
        &self,
        h: KeyHash,
        key: &[u8],
        offset: u64,
        eq: impl FnMut(u64) -> Result<bool, E>,
    ) -> Result<Option<u64>, E> {
        let old = self.shards[h.shard].lock().upsert(h.tag, offset, eq)?;
        if old.is_none() {
            self.live.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(o) = &self.ordered
            && let Some(set) = o.write().as_mut()
        {
            if old.is_none() {
                let seq = self.seq.fetch_add(1, Ordering::AcqRel) + 1;
                set.insert(key, seq, offset);
            } else {
                set.moved(key, offset);
            }
        }
        self.changed();
        Ok(old)
    }

    /// Starts loading what an upsert or removal of `key` will touch: its home slot and, with
    /// the ordered index on, its leaf. Only a hint.
    pub(crate) fn prefetch(&self, h: KeyHash, key: &[u8]) {
        self.shards[h.shard].prefetch(h.tag);
        if let Some(o) = &self.ordered
            && let Some(set) = o.read().as_ref()
        {
            set.prefetch(key);
        }
    }

    /// Removes `key`; returns its offset.
    pub(crate) fn remove<E>(
        &self,
        h: KeyHash,
        key: &[u8],
        eq: impl FnMut(u64) -> Result<bool, E>,
    ) -> Result<Option<u64>, E> {
        let old = self.shards[h.shard].lock().remove(h.tag, eq)?;
        if old.is_some() {
            self.live.fetch_sub(1, Ordering::Relaxed);
            if let Some(o) = &self.ordered
                && let Some(set) = o.write().as_mut()
            {
                set.remove(key);
            }
            self.changed();
        }
        Ok(old)
    }

    /// Empties the namespace in place.
    pub(crate) fn clear(&self) {
        for s in &*self.shards {
            s.lock().clear();
        }
        self.live.store(0, Ordering::Relaxed);
        self.expiring.store(0, Ordering::Relaxed);
        if let Some(o) = &self.ordered {
            // Cleared: an empty set is exactly right, built or not.
            *o.write() = Some(Ordered::default());
        }
        self.changed();
    }

    /// Every live offset (a point-in-time copy, shard by shard).
    pub(crate) fn offsets(&self) -> Vec<u64> {
        let mut out = Vec::with_capacity(usize::try_from(self.len()).unwrap_or(0));
        for s in &*self.shards {
            out.extend(s.lock().offsets());
        }
        out
    }

    /// Copies of the shard tables' raw slots, for the snapshot.
    pub(crate) fn tables(&self) -> Vec<Vec<u64>> {
        self.shards
            .iter()
            .map(|s| s.lock().raw_slots().collect())
            .collect()
    }

    /// Whether the ordered set must be built before use (after a snapshot load).
    pub(crate) fn ordered_pending(&self) -> bool {
        self.ordered.as_ref().is_some_and(|o| o.read().is_none())
    }

    /// Installs the ordered set built from `(key, offset)` pairs (all counted as inserted before
    /// any iterator). The caller holds the engine's writer mutex, so no write races with the
    /// build.
    pub(crate) fn install_ordered(&self, entries: impl IntoIterator<Item = (Box<[u8]>, u64)>) {
        if let Some(o) = &self.ordered {
            *o.write() = Some(Ordered::from_entries(entries));
        }
    }

    /// The last insertion sequence number: keys inserted later have a higher one.
    pub(crate) fn current_seq(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// Runs `f` on the ordered key set under its read lock; `None` without an ordered index
    /// (off, or not built yet after a snapshot load).
    pub(crate) fn with_ordered<R>(&self, f: impl FnOnce(&Ordered) -> R) -> Option<R> {
        let guard = self.ordered.as_ref()?.read();
        guard.as_ref().map(f)
    }

    /// Bytes of RAM the hash shards use (slots only).
    pub(crate) fn hash_bytes(&self) -> u64 {
        self.shards.iter().map(|s| (s.capacity() * 8) as u64).sum()
    }
}

/// Namespace id -> index, sorted by id. Read on every point read, so a binary search over a
/// few entries (no hashing) rather than a hash map.
#[derive(Debug, Clone, Default)]
struct NsList(Vec<(u32, Arc<NsIndex>)>);

impl NsList {
    fn get(&self, id: u32) -> Option<&Arc<NsIndex>> {
        self.0
            .binary_search_by_key(&id, |(i, _)| *i)
            .ok()
            .map(|at| &self.0[at].1)
    }

    /// Adds `ns` as `id` unless `id` is present.
    fn add(&mut self, id: u32, ns: NsIndex) {
        if let Err(at) = self.0.binary_search_by_key(&id, |(i, _)| *i) {
            self.0.insert(at, (id, Arc::new(ns)));
        }
    }

    fn remove(&mut self, id: u32) {
        self.0.retain(|(i, _)| *i != id);
    }

    fn values(&self) -> impl Iterator<Item = &Arc<NsIndex>> {
        self.0.iter().map(|(_, n)| n)
    }
}

/// All namespaces' indexes of one log file.
#[derive(Debug)]
pub(crate) struct Index {
    seed: u64,
    ordered: bool,
    /// The default namespace (id 0). It lives as long as the index (it is never created or
    /// dropped, and a clear empties it in place), so its reads skip the namespace list.
    default: Arc<NsIndex>,
    /// Every namespace, the default one included.
    namespaces: ArcSwap<NsList>,
}

impl Index {
    pub(crate) fn new(seed: u64, ordered: bool) -> Self {
        Self::with_default(seed, ordered, NsIndex::new(ordered))
    }

    /// An index whose default namespace is `default` (a snapshot's, for instance).
    pub(crate) fn with_default(seed: u64, ordered: bool, default: NsIndex) -> Self {
        let default = Arc::new(default);
        Index {
            seed,
            ordered,
            namespaces: ArcSwap::from_pointee(NsList(vec![(0, default.clone())])),
            default,
        }
    }

    pub(crate) fn ordered(&self) -> bool {
        self.ordered
    }

    #[inline]
    pub(crate) fn hash(&self, key: &[u8]) -> KeyHash {
        let h = xxh3_64_with_seed(key, self.seed);
        KeyHash {
            shard: (h & (SHARDS as u64 - 1)) as usize,
            tag: ((h >> SHARD_BITS) & ((1 << TAG_BITS) - 1)) as u32,
        }
    }

    /// Live and expiring record counts of the default namespace.
    pub(crate) fn default_counts(&self) -> (u64, u64) {
        (self.default.len(), self.default.expiring())
    }

    /// Starts loading what applying `e` will touch (nothing for entries without a key).
    fn prefetch(&self, e: &EntryRef<'_>) {
        if matches!(e.op, Op::Put | Op::Delete) {
            let h = self.hash(e.key);
            self.with_ns(e.ns, |n| n.prefetch(h, e.key));
        }
    }

    /// Starts loading what applying the first entries of a run will touch (a writer calls it
    /// before its `pwrite`, so the misses overlap the system call).
    pub(crate) fn prefetch_start(&self, entries: &[EntryRef<'_>]) {
        for e in entries.iter().take(PREFETCH_AHEAD) {
            self.prefetch(e);
        }
    }

    /// `entries` in order, each yielded after asking for the nodes of the entry
    /// [`PREFETCH_AHEAD`] places later, for a caller applying them one by one. Finding those
    /// nodes hashes that entry's key, so the key itself is asked for twice as far ahead.
    pub(crate) fn prefetching<'a, 'e>(
        &'a self,
        entries: &'a [EntryRef<'e>],
    ) -> impl Iterator<Item = &'a EntryRef<'e>> + 'a {
        entries.iter().enumerate().map(move |(i, e)| {
            if let Some(far) = entries.get(i + 2 * PREFETCH_AHEAD) {
                prefetch_bytes(far.key);
            }
            if let Some(ahead) = entries.get(i + PREFETCH_AHEAD) {
                self.prefetch(ahead);
            }
            e
        })
    }

    /// Runs `f` on namespace `id`'s index without taking a reference count.
    #[inline]
    pub(crate) fn with_ns<R>(&self, id: u32, f: impl FnOnce(&NsIndex) -> R) -> Option<R> {
        if id == 0 {
            return Some(f(&self.default));
        }
        self.namespaces.load().get(id).map(|n| f(n))
    }

    /// The default namespace's index, which lives as long as this index.
    pub(crate) fn default_ns(&self) -> &NsIndex {
        &self.default
    }

    pub(crate) fn ns(&self, id: u32) -> Option<Arc<NsIndex>> {
        if id == 0 {
            return Some(self.default.clone());
        }
        self.namespaces.load().get(id).cloned()
    }

    /// Adds namespace `id` (no-op if present). Callers hold the engine's writer lock.
    pub(crate) fn create(&self, id: u32) {
        self.insert(id, NsIndex::new(self.ordered));
    }

    /// Adds a named namespace (no-op if present; the default one is fixed at construction).
    pub(crate) fn insert(&self, id: u32, ns: NsIndex) {
        debug_assert_ne!(id, 0, "the default namespace is set at construction");
        let mut map = NsList::clone(&self.namespaces.load());
        map.add(id, ns);
        self.namespaces.store(Arc::new(map));
    }

    /// Removes named namespace `id` (the log format has no drop of the default namespace).
    /// Callers hold the engine's writer lock.
    pub(crate) fn drop_ns(&self, id: u32) {
        debug_assert_ne!(id, 0, "the default namespace is never dropped");
        let mut map = NsList::clone(&self.namespaces.load());
        if let Some(dropped) = map.get(id) {
            dropped.retire();
        }
        map.remove(id);
        self.namespaces.store(Arc::new(map));
    }

    /// Retires every namespace's index (compaction replaced this generation).
    pub(crate) fn retire(&self) {
        self.default.retire();
        for ns in self.namespaces.load().values() {
            ns.retire();
        }
    }

    /// Live records across namespaces.
    pub(crate) fn total_live(&self) -> u64 {
        self.namespaces.load().values().map(|n| n.len()).sum()
    }

    /// Bytes of RAM used by all hash shards.
    pub(crate) fn hash_bytes(&self) -> u64 {
        self.namespaces
            .load()
            .values()
            .map(|n| n.hash_bytes())
            .sum()
    }
}

/// Whether `e` is what a slot of namespace `ns` may point at: one of that namespace's puts.
/// Slots the engine places always are; a slot loaded from an index snapshot that was altered
/// behind a valid checksum may not be, so whatever follows a slot checks this as well as the key.
#[inline]
pub(crate) fn indexes(ns: u32, e: &EntryRef<'_>) -> bool {
    e.op == Op::Put && e.ns == ns
}

/// Whether `e`, found through a slot of namespace `ns`, is that namespace's put of `key`: what
/// a lookup and the write path's key match ask of each candidate slot.
#[inline]
pub(crate) fn holds(ns: u32, key: &[u8], e: &EntryRef<'_>) -> bool {
    e.key == key && indexes(ns, e)
}

/// The error for a slot of namespace `ns` that points at the record at `offset`, which is not
/// one of its puts.
pub(crate) fn misindexed(offset: u64, ns: u32) -> EngineError {
    EngineError::Corrupted {
        offset,
        reason: Corruption::Misindexed(ns),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys that differ in a few trailing digits (a known weakness of FxHash-style hashes) must
    /// spread evenly over shards and tags.
    #[test]
    fn similar_keys_spread_evenly() {
        let index = Index::new(0x1234_5678_9abc_def0, false);
        let n = 64_000;
        let mut shards = [0usize; SHARDS];
        let mut tags = std::collections::HashSet::new();
        for i in 0..n {
            let h = index.hash(format!("stress-key-{i:08}").as_bytes());
            shards[h.shard] += 1;
            tags.insert(h.tag);
        }
        let mean = n / SHARDS;
        for (s, count) in shards.iter().enumerate() {
            assert!(
                count.abs_diff(mean) < mean / 10,
                "shard {s} holds {count}, mean {mean}"
            );
        }
        // 64,000 draws from 2^24 tags: about 120 expected repeats; a weak hash gives thousands.
        assert!(n - tags.len() < 400, "{} repeated tags", n - tags.len());
    }

    #[test]
    fn different_seeds_give_different_hashes() {
        let a = Index::new(1, false).hash(b"key");
        let b = Index::new(2, false).hash(b"key");
        assert!(a.shard != b.shard || a.tag != b.tag);
    }
}
