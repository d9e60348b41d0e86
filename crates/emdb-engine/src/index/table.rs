//! One shard of a namespace's hash index: an open-addressed, linearly probed table of `u64`
//! slots.
//!
//! A slot packs a 24-bit tag from the key's hash with the entry's file offset divided by 8:
//! `slot = tag << 40 | offset >> 3`. Zero means empty (offsets start at 4096, so a used slot is
//! never zero). The tag also picks the home position (`tag & mask`), so the table can grow and
//! delete (backward shift) without re-reading keys. A tag match is only a candidate: the caller's
//! `eq` compares the key stored in the log.
//!
//! Invariants: the capacity is a power of two; at most 7/8 of the slots are used; every used slot
//! is reachable from its home position without crossing an empty slot.

pub(crate) const TAG_BITS: u32 = 24;
const OFFSET_BITS: u32 = 40;
const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;
const MIN_CAPACITY: usize = 16;

/// A shard table.
#[derive(Debug, Clone, Default)]
pub(crate) struct Table {
    slots: Vec<u64>,
    len: usize,
}

fn pack(tag: u32, offset: u64) -> u64 {
    (u64::from(tag) << OFFSET_BITS) | (offset >> 3)
}

fn unpack_offset(slot: u64) -> u64 {
    (slot & OFFSET_MASK) << 3
}

fn slot_tag(slot: u64) -> u32 {
    (slot >> OFFSET_BITS) as u32
}

impl Table {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    fn home(&self, tag: u32) -> usize {
        tag as usize & self.mask()
    }

    /// Finds the offset whose entry `eq` accepts among slots with this tag.
    pub(crate) fn find<E>(
        &self,
        tag: u32,
        mut eq: impl FnMut(u64) -> Result<bool, E>,
    ) -> Result<Option<u64>, E> {
        Ok(self
            .position(tag, &mut eq)?
            .map(|p| unpack_offset(self.slots[p])))
    }

    fn position<E>(
        &self,
        tag: u32,
        eq: &mut impl FnMut(u64) -> Result<bool, E>,
    ) -> Result<Option<usize>, E> {
        if self.slots.is_empty() {
            return Ok(None);
        }
        let mask = self.mask();
        let mut p = self.home(tag);
        loop {
            let s = self.slots[p];
            if s == 0 {
                return Ok(None);
            }
            if slot_tag(s) == tag && eq(unpack_offset(s))? {
                return Ok(Some(p));
            }
            p = (p + 1) & mask;
        }
    }

    /// Points the key `eq` accepts at `offset`; returns the offset it replaced, if any.
    pub(crate) fn upsert<E>(
        &mut self,
        tag: u32,
        offset: u64,
        mut eq: impl FnMut(u64) -> Result<bool, E>,
    ) -> Result<Option<u64>, E> {
        if let Some(p) = self.position(tag, &mut eq)? {
            let old = unpack_offset(self.slots[p]);
            self.slots[p] = pack(tag, offset);
            return Ok(Some(old));
        }
        if (self.len + 1) * 8 > self.slots.len() * 7 {
            self.grow();
        }
        self.place(pack(tag, offset));
        self.len += 1;
        Ok(None)
    }

    fn place(&mut self, slot: u64) {
        let mask = self.mask();
        let mut p = self.home(slot_tag(slot));
        while self.slots[p] != 0 {
            p = (p + 1) & mask;
        }
        self.slots[p] = slot;
    }

    fn grow(&mut self) {
        let cap = (self.slots.len() * 2).max(MIN_CAPACITY);
        let old = std::mem::replace(&mut self.slots, vec![0; cap]);
        for s in old.into_iter().filter(|s| *s != 0) {
            self.place(s);
        }
    }

    /// Removes the key `eq` accepts; returns its offset.
    pub(crate) fn remove<E>(
        &mut self,
        tag: u32,
        mut eq: impl FnMut(u64) -> Result<bool, E>,
    ) -> Result<Option<u64>, E> {
        let Some(mut hole) = self.position(tag, &mut eq)? else {
            return Ok(None);
        };
        let old = unpack_offset(self.slots[hole]);
        let mask = self.mask();
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let s = self.slots[j];
            if s == 0 {
                break;
            }
            let home = self.home(slot_tag(s));
            // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.slots[hole] = s;
                hole = j;
            }
        }
        self.slots[hole] = 0;
        self.len -= 1;
        Ok(Some(old))
    }

    /// Every stored offset, in table order.
    pub(crate) fn offsets(&self) -> impl Iterator<Item = u64> + '_ {
        self.slots
            .iter()
            .filter(|s| **s != 0)
            .map(|s| unpack_offset(*s))
    }

    /// The raw slots, for the index snapshot.
    pub(crate) fn raw_slots(&self) -> &[u64] {
        &self.slots
    }

    /// Rebuilds a table from snapshot slots; `None` if they break an invariant.
    pub(crate) fn from_raw(slots: Vec<u64>, min_offset: u64, max_offset: u64) -> Option<Self> {
        if !slots.is_empty() && !slots.len().is_power_of_two() {
            return None;
        }
        let mut len = 0;
        for s in slots.iter().filter(|s| **s != 0) {
            let off = unpack_offset(*s);
            if off < min_offset || off >= max_offset {
                return None;
            }
            len += 1;
        }
        if len * 8 > slots.len() * 7 {
            return None;
        }
        Some(Table { slots, len })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    type Infallible = Result<bool, ()>;

    /// Keys are u64s stored "in the log" at offset 4096 + 8 * key; the tag is chosen to collide.
    fn eq_key(key: u64) -> impl FnMut(u64) -> Infallible {
        move |off| Ok(off == 4096 + 8 * key)
    }

    #[test]
    fn model_check_against_hashmap_with_heavy_tag_collisions() {
        let mut t = Table::default();
        let mut model = HashMap::new();
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for step in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = x % 500;
            let tag = (key % 37) as u32; // many keys share a tag
            if x.is_multiple_of(3) {
                let got = t.remove(tag, eq_key(key)).unwrap();
                assert_eq!(got, model.remove(&key), "step {step}");
            } else {
                let off = 4096 + 8 * key;
                let got = t.upsert(tag, off, eq_key(key)).unwrap();
                assert_eq!(got, model.insert(key, off), "step {step}");
            }
            assert_eq!(t.len(), model.len());
        }
        for (k, off) in &model {
            assert_eq!(t.find((k % 37) as u32, eq_key(*k)).unwrap(), Some(*off));
        }
        let mut offs: Vec<_> = t.offsets().collect();
        offs.sort_unstable();
        let mut want: Vec<_> = model.values().copied().collect();
        want.sort_unstable();
        assert_eq!(offs, want);
    }

    #[test]
    fn load_factor_stays_below_seven_eighths() {
        let mut t = Table::default();
        for k in 0..10_000u64 {
            t.upsert((k * 2_654_435_761 % (1 << 24)) as u32, 4096 + 8 * k, |_| {
                Ok::<_, ()>(false)
            })
            .unwrap();
            assert!(t.len() * 8 <= t.capacity() * 7);
        }
    }

    #[test]
    fn raw_round_trip_validates() {
        let mut t = Table::default();
        for k in 0..100u64 {
            t.upsert(k as u32, 4096 + 8 * k, eq_key(k)).unwrap();
        }
        let back = Table::from_raw(t.raw_slots().to_vec(), 4096, 1 << 20).unwrap();
        assert_eq!(back.len(), 100);
        assert!(Table::from_raw(t.raw_slots().to_vec(), 8192, 1 << 20).is_none());
        assert!(Table::from_raw(vec![1, 2, 3], 0, u64::MAX).is_none());
    }
}
