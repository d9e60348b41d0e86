//! The ordered key set of one namespace, for range scans: key -> (insertion sequence, offset).
//!
//! Each key carries its first 8 bytes inline, so a search compares integers inside the B-tree
//! node and follows a key's heap pointer only when two keys share those 8 bytes. With random
//! keys that is rare, which keeps a seek to about one cache miss per tree level.

use std::collections::BTreeMap;
use std::ops::Bound;

/// A key ordered exactly as its bytes are.
///
/// `prefix` is the first 8 bytes, big-endian, zero-padded. When two prefixes differ, their first
/// differing byte is a byte where the keys differ or where the shorter key ends (padded with 0
/// against a non-zero byte), so the prefix order is the byte order; equal prefixes fall back to
/// the whole key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct OrdKey {
    prefix: u64,
    key: Box<[u8]>,
}

impl OrdKey {
    pub(crate) fn new(key: &[u8]) -> Self {
        OrdKey {
            prefix: prefix_of(key),
            key: key.into(),
        }
    }

    /// Takes `key` without copying it (when its capacity is its length).
    pub(crate) fn from_vec(key: Vec<u8>) -> Self {
        OrdKey {
            prefix: prefix_of(&key),
            key: key.into_boxed_slice(),
        }
    }
}

#[expect(
    clippy::big_endian_bytes,
    reason = "big-endian makes integer order equal byte order; never stored on disk"
)]
/// The first 8 bytes of `key` as a big-endian integer, zero-padded: where two prefixes differ,
/// their integer order is the keys' byte order.
pub(crate) fn prefix_of(key: &[u8]) -> u64 {
    let mut p = [0u8; 8];
    let n = key.len().min(8);
    p[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(p)
}

/// Where a key's current record is, and when the key entered the set.
#[derive(Debug, Clone, Copy)]
struct Slot {
    seq: u64,
    offset: u64,
}

/// The ordered set; only the engine's writer mutates it.
#[derive(Debug, Default)]
pub(crate) struct Ordered(BTreeMap<OrdKey, Slot>);

impl Ordered {
    /// A set of `(key, offset)` pairs, all counted as inserted at sequence 0.
    pub(crate) fn from_entries(entries: impl IntoIterator<Item = (Box<[u8]>, u64)>) -> Self {
        Ordered(
            entries
                .into_iter()
                .map(|(key, offset)| {
                    let k = OrdKey {
                        prefix: prefix_of(&key),
                        key,
                    };
                    (k, Slot { seq: 0, offset })
                })
                .collect(),
        )
    }

    /// Adds a new key.
    pub(crate) fn insert(&mut self, key: &[u8], seq: u64, offset: u64) {
        self.0.insert(OrdKey::new(key), Slot { seq, offset });
    }

    /// A present key's record moved to `offset` (it was overwritten).
    pub(crate) fn moved(&mut self, key: &[u8], offset: u64) {
        if let Some(slot) = self.0.get_mut(&OrdKey::new(key)) {
            slot.offset = offset;
        }
    }

    pub(crate) fn remove(&mut self, key: &[u8]) {
        self.0.remove(&OrdKey::new(key));
    }

    /// Records within the bounds that entered the set at or before `max_seq`, in key order;
    /// `None` when the bounds select nothing. (An `Option` rather than a flattened iterator:
    /// flattening costs a branch per step of a range page.)
    fn matching<'s>(
        &'s self,
        lo: Bound<&OrdKey>,
        hi: Bound<&OrdKey>,
        max_seq: u64,
    ) -> Option<impl Iterator<Item = (&'s OrdKey, &'s Slot)> + use<'s>> {
        let b = bounds(lo, hi)?;
        Some(self.0.range(b).filter(move |(_, s)| s.seq <= max_seq))
    }

    /// The next page of a range scan: replaces `offsets` with those of up to `limit` matching
    /// records in key order. The next page starts after the key of the last one, which the
    /// caller reads from the log only if it needs that page.
    pub(crate) fn page(
        &self,
        lo: Bound<&OrdKey>,
        hi: Bound<&OrdKey>,
        limit: usize,
        max_seq: u64,
        offsets: &mut Vec<u64>,
    ) {
        offsets.clear();
        if let Some(records) = self.matching(lo, hi, max_seq) {
            offsets.reserve(limit.min(self.0.len()));
            offsets.extend(records.take(limit).map(|(_, s)| s.offset));
        }
    }

    /// Keys within the bounds, in order, at most `limit`.
    pub(crate) fn keys(
        &self,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        limit: usize,
        max_seq: u64,
    ) -> Vec<Vec<u8>> {
        let (lo, hi) = (lo.map(OrdKey::new), hi.map(OrdKey::new));
        self.matching(lo.as_ref(), hi.as_ref(), max_seq)
            .into_iter()
            .flatten()
            .take(limit)
            .map(|(k, _)| k.key.to_vec())
            .collect()
    }
}

/// The bounds as set keys; `None` when they select nothing (`BTreeMap::range` would panic on
/// a start after the end, or on equal excluded bounds).
fn bounds<'k>(
    lo: Bound<&'k OrdKey>,
    hi: Bound<&'k OrdKey>,
) -> Option<(Bound<&'k OrdKey>, Bound<&'k OrdKey>)> {
    if let (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) =
        (lo, hi)
    {
        let both_included = matches!(lo, Bound::Included(_)) && matches!(hi, Bound::Included(_));
        if a > b || (a == b && !both_included) {
            return None;
        }
    }
    Some((lo, hi))
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
            let mut by_set: Vec<OrdKey> = keys.iter().map(|k| OrdKey::new(k)).collect();
            by_set.sort();
            keys.sort();
            let by_set: Vec<Vec<u8>> = by_set.into_iter().map(|k| k.key.to_vec()).collect();
            prop_assert_eq!(by_set, keys);
        }
    }

    #[test]
    fn pages_follow_bounds_sequence_and_moves() {
        let mut set = Ordered::from_entries((0u8..10).map(|i| (vec![b'k', i].into(), 100)));
        set.insert(b"k\x0a", 5, 200);
        set.moved(b"k\x03", 300);
        set.remove(b"k\x04");
        let mut page = vec![7];
        set.page(
            Bound::Excluded(&OrdKey::new(b"k\x01")),
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
        let k = OrdKey::new(b"k");
        set.page(Bound::Excluded(&k), Bound::Excluded(&k), 9, 9, &mut page);
        assert!(page.is_empty());
        assert!(
            set.keys(Bound::Included(b"z"), Bound::Included(b"a"), 9, 9)
                .is_empty()
        );
    }
}
