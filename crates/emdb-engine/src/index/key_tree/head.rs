//! A key's first 24 bytes as integers (the 8-byte prefix, the 16-byte tail) and its length,
//! which order keys exactly as their bytes do; the nodes keep these inline, so a search
//! compares integers and reads a whole key only when two keys tie through 24 bytes.

use std::cmp::Ordering;

use crate::index::ordered::prefix_of;

/// How many of the ascending `sorted` are `< p`. Not a binary search, whose loads each wait
/// for the one before: a first pass reads one value per cache line (the last of each group of
/// 8), all independent, so a node's misses overlap; a second counts within the one group that
/// straddles `p`.
#[inline]
pub(super) fn count_below(sorted: &[u64], p: u64) -> usize {
    let groups = sorted.len() / 8;
    let below = (0..groups).filter(|g| sorted[g * 8 + 7] < p).count() * 8;
    let rest = &sorted[below..sorted.len().min(below + 8)];
    below + rest.iter().filter(|&&x| x < p).count()
}

/// Bytes 8..24 of a key as a big-endian integer, zero-padded: with [`prefix_of`], the first 24
/// bytes, in the same order-preserving form.
#[expect(
    clippy::big_endian_bytes,
    reason = "big-endian makes integer order equal byte order; never stored on disk"
)]
pub(super) fn tail_of(key: &[u8]) -> u128 {
    let mut t = [0u8; 16];
    let rest = key.get(8..).unwrap_or_default();
    let n = rest.len().min(16);
    t[..n].copy_from_slice(&rest[..n]);
    u128::from_be_bytes(t)
}

/// Keys up to this long are ordered and compared without reading their heap bytes.
pub(super) const INLINE: usize = 24;

/// A key's length as a leaf keeps it: exact up to [`INLINE`], `INLINE + 1` beyond.
pub(super) fn short_len(key: &[u8]) -> u8 {
    key.len().min(INLINE + 1) as u8
}

/// A key to search for: its first 24 bytes in integer form, its length and its bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Probe<'k> {
    pub(super) prefix: u64,
    pub(super) tail: u128,
    pub(super) len: u8,
    pub(super) key: &'k [u8],
}

impl<'k> Probe<'k> {
    pub(crate) fn new(key: &'k [u8]) -> Self {
        Probe {
            prefix: prefix_of(key),
            tail: tail_of(key),
            len: short_len(key),
            key,
        }
    }

    /// How this probe orders against a key whose first 8 bytes match its own, given that
    /// key's tail and short length; its bytes (`key()`) are read only when the first 24 bytes
    /// tie and one of the two keys is longer than that.
    #[inline]
    pub(super) fn cmp_rest<'a>(
        &self,
        tail: u128,
        len: u8,
        key: impl FnOnce() -> &'a [u8],
    ) -> Ordering {
        match self.tail.cmp(&tail) {
            Ordering::Equal if usize::from(self.len.min(len)) > INLINE => self.key.cmp(key()),
            // Equal padded heads and one key of at most 24 bytes: it is a prefix of the other
            // (whose bytes past it, up to byte 24, are zeros), so the lengths decide.
            Ordering::Equal => self.len.cmp(&len),
            other => other,
        }
    }
}

/// The first 24 bytes of a key in integer form plus its short length: the whole key when it is
/// at most [`INLINE`] bytes long.
#[expect(
    clippy::big_endian_bytes,
    reason = "undoes prefix_of and tail_of, which are big-endian for their order"
)]
pub(super) fn head_bytes(prefix: u64, tail: u128, len: u8) -> Vec<u8> {
    let mut key = Vec::with_capacity(INLINE);
    key.extend_from_slice(&prefix.to_be_bytes());
    key.extend_from_slice(&tail.to_be_bytes());
    key.truncate(usize::from(len));
    key
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::index::key_tree::tests::tying_key;

    proptest! {
        #[test]
        fn count_below_is_a_lower_bound(
            mut v in prop::collection::vec(0u64..50, 0..70),
            p in 0u64..55,
        ) {
            v.sort_unstable();
            prop_assert_eq!(count_below(&v, p), v.partition_point(|&x| x < p));
        }

        /// A probe orders against a key's inline head (prefix, tail, length) exactly as the
        /// bytes order, reading the key's bytes only past 24 bytes.
        #[test]
        fn inline_heads_order_as_bytes(a in tying_key(), b in tying_key()) {
            let p = Probe::new(&a);
            let mut read = false;
            let got = p.prefix.cmp(&prefix_of(&b)).then_with(|| {
                p.cmp_rest(tail_of(&b), short_len(&b), || {
                    read = true;
                    &b
                })
            });
            prop_assert_eq!(got, a.cmp(&b));
            prop_assert!(!read || (a.len() > 24 && b.len() > 24));
        }
    }
}
