//! Leaf nodes: up to `L` keys with their slots, in key order, chained to their neighbours.

use std::cmp::Ordering;

use super::head::{INLINE, Probe, count_below, head_bytes, short_len, tail_of};
use super::{NONE, Slot};
use crate::index::ordered::prefix_of;

/// The whole keys of a leaf's entries longer than [`INLINE`] bytes, by position (`None` for the
/// others).
type LongKeys<const L: usize> = [Option<Box<[u8]>>; L];

/// `repr(C)` and line-aligned so that the first cache line holds the length and the first
/// prefixes: a search's loads all start from it.
#[derive(Debug)]
#[repr(C, align(64))]
pub(super) struct Leaf<const L: usize> {
    pub(super) len: usize,
    pub(super) next: usize,
    pub(super) prev: usize,
    pub(super) prefixes: [u64; L],
    /// [`tail_of`] and [`short_len`] of each key: a tie of prefixes (a seek to a present key,
    /// say) is decided here, one cache line, with no heap read; with the prefix they are the
    /// whole key when it is at most [`INLINE`] bytes long.
    pub(super) tails: [u128; L],
    pub(super) lens: [u8; L],
    pub(super) slots: [Slot; L],
    /// The whole key, for keys longer than [`INLINE`] bytes only; allocated when the leaf first
    /// holds such a key (a leaf of short keys does not carry `L` empty pointers).
    pub(super) long: Option<Box<LongKeys<L>>>,
}

impl<const L: usize> Leaf<L> {
    pub(super) fn empty() -> Self {
        Leaf {
            len: 0,
            prefixes: [0; L],
            tails: [0; L],
            lens: [0; L],
            slots: [Slot::default(); L],
            long: None,
            next: NONE,
            prev: NONE,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The bytes of a long key (empty for a short one, which never needs them).
    pub(super) fn long_key(&self, i: usize) -> &[u8] {
        self.long_at(i).unwrap_or_default()
    }

    fn long_at(&self, i: usize) -> Option<&[u8]> {
        self.long.as_ref().and_then(|long| long[i].as_deref())
    }

    /// The long-key array, allocated on first use.
    fn long_mut(&mut self) -> &mut LongKeys<L> {
        self.long
            .get_or_insert_with(|| Box::new([const { None }; L]))
    }

    /// A copy of the key at `i`.
    pub(super) fn key(&self, i: usize) -> Vec<u8> {
        match self.long_at(i) {
            Some(key) => key.to_vec(),
            None => head_bytes(self.prefixes[i], self.tails[i], self.lens[i]),
        }
    }

    /// How `p` orders against the key at `i`.
    #[inline]
    pub(super) fn cmp_at(&self, i: usize, p: Probe<'_>) -> Ordering {
        p.prefix
            .cmp(&self.prefixes[i])
            .then_with(|| p.cmp_rest(self.tails[i], self.lens[i], || self.long_key(i)))
    }

    /// The first position whose key is `>= p` (`> p` when `after`).
    #[inline]
    pub(super) fn position(&self, p: Probe<'_>, after: bool) -> usize {
        let len = self.len();
        let prefixes = &self.prefixes[..len];
        let mut i = count_below(prefixes, p.prefix);
        while i < len && prefixes[i] == p.prefix {
            match p.cmp_rest(self.tails[i], self.lens[i], || self.long_key(i)) {
                Ordering::Less => break,
                Ordering::Equal => return i + usize::from(after),
                Ordering::Greater => i += 1,
            }
        }
        i
    }

    /// The position holding exactly `p`'s key.
    pub(super) fn find(&self, p: Probe<'_>) -> Option<usize> {
        let i = self.position(p, false);
        (i < self.len() && self.cmp_at(i, p) == Ordering::Equal).then_some(i)
    }

    /// Moves entries `from..to` to start at `dest` (within the leaf; `long` entries are swapped
    /// along, leaving the vacated ones `None`).
    pub(super) fn shift(&mut self, from: usize, to: usize, dest: usize) {
        self.prefixes.copy_within(from..to, dest);
        self.tails.copy_within(from..to, dest);
        self.lens.copy_within(from..to, dest);
        self.slots.copy_within(from..to, dest);
        if dest > from {
            if let Some(long) = &mut self.long {
                long[from..dest + (to - from)].rotate_right(dest - from);
            }
        } else if let Some(long) = &mut self.long {
            long[dest..to].rotate_left(from - dest);
        }
    }

    /// Moves `n` entries of `src` from `from` to this leaf's `dest`.
    pub(super) fn take_from(&mut self, dest: usize, src: &mut Self, from: usize, n: usize) {
        self.prefixes[dest..dest + n].copy_from_slice(&src.prefixes[from..from + n]);
        self.tails[dest..dest + n].copy_from_slice(&src.tails[from..from + n]);
        self.lens[dest..dest + n].copy_from_slice(&src.lens[from..from + n]);
        self.slots[dest..dest + n].copy_from_slice(&src.slots[from..from + n]);
        if let Some(theirs) = &mut src.long {
            let ours = self
                .long
                .get_or_insert_with(|| Box::new([const { None }; L]));
            for k in 0..n {
                ours[dest + k] = theirs[from + k].take();
            }
        }
        self.len += n;
        src.len -= n;
    }

    /// Inserts `key` at `pos`; the leaf has room.
    pub(super) fn insert_at(&mut self, pos: usize, key: &[u8], slot: Slot) {
        self.shift(pos, self.len, pos + 1);
        self.prefixes[pos] = prefix_of(key);
        self.tails[pos] = tail_of(key);
        self.lens[pos] = short_len(key);
        self.slots[pos] = slot;
        if key.len() > INLINE {
            self.long_mut()[pos] = Some(key.into());
        }
        self.len += 1;
    }

    pub(super) fn remove_at(&mut self, pos: usize) -> Slot {
        let slot = self.slots[pos];
        if let Some(long) = &mut self.long {
            long[pos] = None;
        }
        self.shift(pos + 1, self.len, pos);
        self.len -= 1;
        slot
    }

    /// Moves the entries from `at` on into a new leaf.
    pub(super) fn split_off(&mut self, at: usize) -> Self {
        let mut right = Leaf::empty();
        let n = self.len - at;
        right.take_from(0, self, at, n);
        right
    }

    /// Appends `other`'s entries; they fit and all order after this leaf's.
    pub(super) fn append(&mut self, other: &mut Self) {
        let n = other.len;
        self.take_from(self.len, other, 0, n);
    }
}
