//! The ordered key set of one namespace, for range scans: key -> (insertion sequence, offset),
//! kept in a [`KeyTree`].

use std::ops::Bound;

pub(crate) use super::key_tree::Probe;
use super::key_tree::{KeyTree, Slot};

/// A key ordered exactly as its bytes are, carrying its 8-byte prefix (see [`prefix_of`]) so
/// that searches compare integers first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct OrdKey {
    prefix: u64,
    key: Box<[u8]>,
}

#[expect(
    clippy::big_endian_bytes,
    reason = "big-endian makes integer order equal byte order; never stored on disk"
)]
/// The first 8 bytes of `key` as a big-endian integer, zero-padded. When two prefixes differ,
/// their first differing byte is a byte where the keys differ or where the shorter key ends
/// (padded with 0 against a non-zero byte), so their integer order is the keys' byte order;
/// equal prefixes fall back to the whole key.
pub(crate) fn prefix_of(key: &[u8]) -> u64 {
    let mut p = [0u8; 8];
    let n = key.len().min(8);
    p[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(p)
}

/// The ordered set; only the engine's writer mutates it.
#[derive(Debug, Default)]
pub(crate) struct Ordered(KeyTree);

impl Ordered {
    /// A set of `(key, offset)` pairs, all counted as inserted at sequence 0 (of several pairs
    /// for one key, the last wins).
    pub(crate) fn from_entries(entries: impl IntoIterator<Item = (Box<[u8]>, u64)>) -> Self {
        let mut all: Vec<(OrdKey, u64)> = entries
            .into_iter()
            .map(|(key, offset)| {
                let prefix = prefix_of(&key);
                (OrdKey { prefix, key }, offset)
            })
            .collect();
        // Stable, so equal keys keep their order; of each run the first stays, with the last
        // one's offset (in place: no second copy of a whole namespace's keys).
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 = later.1;
            }
            same
        });
        Ordered(KeyTree::from_sorted(
            all.into_iter()
                .map(|(k, offset)| (k.key, Slot { seq: 0, offset })),
        ))
    }

    /// Adds a new key.
    pub(crate) fn insert(&mut self, key: &[u8], seq: u64, offset: u64) {
        self.0.insert(key, Slot { seq, offset });
    }

    /// A present key's record moved to `offset` (it was overwritten).
    pub(crate) fn moved(&mut self, key: &[u8], offset: u64) {
        if let Some(slot) = self.0.get_mut(Probe::new(key)) {
            slot.offset = offset;
        }
    }

    /// Starts loading the leaf `key` belongs in (see [`KeyTree::prefetch`]).
    pub(crate) fn prefetch(&self, key: &[u8]) {
        self.0.prefetch(Probe::new(key));
    }

    pub(crate) fn remove(&mut self, key: &[u8]) {
        self.0.remove(Probe::new(key));
    }

    /// The next page of a range scan: replaces `offsets` with those of up to `limit` matching
    /// records in key order. The next page starts after the key of the last one, which the
    /// caller reads from the log only if it needs that page.
    pub(crate) fn page(
        &self,
        lo: Bound<Probe<'_>>,
        hi: Bound<Probe<'_>>,
        limit: usize,
        max_seq: u64,
        offsets: &mut Vec<u64>,
    ) {
        offsets.clear();
        offsets.reserve(limit.min(self.0.len()));
        let entries = self.0.iter_from(lo);
        entries.warm(limit);
        entries.collect_into(hi, limit, max_seq, offsets, |e| e.slot().offset);
    }

    /// Keys within the bounds, in order, at most `limit`.
    pub(crate) fn keys(
        &self,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        limit: usize,
        max_seq: u64,
    ) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        self.0.iter_from(lo.map(Probe::new)).collect_into(
            hi.map(Probe::new),
            limit,
            max_seq,
            &mut out,
            |e| e.key(),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The inline prefix never changes the order: sorting by set key is sorting by bytes.
        #[test]
        fn set_order_is_byte_order(mut keys in prop::collection::vec(
            prop::collection::vec(prop_oneof![Just(0u8), Just(1u8), Just(0xff), any::<u8>()], 0..12),
            0..40,
        )) {
            let mut by_set: Vec<OrdKey> = keys
                .iter()
                .map(|k| OrdKey { prefix: prefix_of(k), key: k.as_slice().into() })
                .collect();
            by_set.sort();
            keys.sort();
            let by_set: Vec<Vec<u8>> = by_set.into_iter().map(|k| k.key.to_vec()).collect();
            prop_assert_eq!(by_set, keys);
        }
    }

    #[test]
    fn of_several_entries_for_one_key_the_last_is_kept() {
        let set = Ordered::from_entries([
            (b"b".to_vec().into(), 1),
            (b"a".to_vec().into(), 2),
            (b"b".to_vec().into(), 3),
            (b"b".to_vec().into(), 4),
            (b"c".to_vec().into(), 5),
        ]);
        let mut page = Vec::new();
        set.page(Bound::Unbounded, Bound::Unbounded, 9, 0, &mut page);
        assert_eq!(page, [2, 4, 5]);
        assert_eq!(
            set.keys(Bound::Unbounded, Bound::Unbounded, 9, 0),
            [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
        );
    }

    #[test]
    fn pages_follow_bounds_sequence_and_moves() {
        let mut set = Ordered::from_entries((0u8..10).map(|i| (vec![b'k', i].into(), 100)));
        set.insert(b"k\x0a", 5, 200);
        set.moved(b"k\x03", 300);
        set.remove(b"k\x04");
        let mut page = vec![7];
        set.page(
            Bound::Excluded(Probe::new(b"k\x01")),
            Bound::Unbounded,
            3,
            0,
            &mut page,
        );
        assert_eq!(page, [100, 300, 100]);
        // Keys that entered after sequence 4 are invisible to a scan made at 4.
        assert_eq!(
            set.keys(Bound::Included(b"k\x09"), Bound::Unbounded, 9, 4),
            [b"k\x09".to_vec()]
        );
        assert_eq!(
            set.keys(Bound::Included(b"k\x09"), Bound::Unbounded, 9, 5)
                .len(),
            2
        );
        let k = Probe::new(b"k");
        set.page(Bound::Excluded(k), Bound::Excluded(k), 9, 9, &mut page);
        assert!(page.is_empty());
        assert!(
            set.keys(Bound::Included(b"z"), Bound::Included(b"a"), 9, 9)
                .is_empty()
        );
    }
}
