//! One shard of a namespace's hash index: an open-addressed, linearly probed table of `u64`
//! slots that point lookups read without a lock.
//!
//! A slot packs a 24-bit tag from the key's hash with the entry's file offset divided by 8:
//! `slot = tag << 40 | offset >> 3`. Zero means empty (offsets start at 4096, so a used slot is
//! never zero). The tag also picks the home position (`tag & mask`), so the table can grow and
//! delete (backward shift) without re-reading keys. A tag match is only a candidate: the caller's
//! `eq` compares the key (and namespace, see [`crate::index::indexes`]) stored in the log.
//!
//! Invariants: the capacity is zero or a power of two of at least 16; at most 7/8 of the slots
//! are used; every used slot is reachable from its home position without crossing an empty slot.
//!
//! Concurrency: one writer at a time, through [`Table::lock`]; any number of lock-free readers
//! through [`Table::find`]. A point read takes no lock and performs no atomic read-modify-write,
//! so consecutive lookups overlap their cache misses. The slots live in segments that are never
//! freed or moved while the table exists: segment 0 holds slots 0..16 and segment `k >= 1`
//! holds slots `16 << (k - 1) .. 16 << k`, so growing from capacity `c` to `2c` adds one segment
//! and re-places every entry in the doubled range (laid out aside first, then copied over the
//! old slots). Writing one slot (an insert into an empty slot, a replaced offset) is a single
//! atomic store a reader sees either before or after. Moving slots (a removal's backward shift,
//! a growth's copy, a clear) happens inside a sequence lock: the writer makes `seq` odd, moves,
//! makes it even again, and a reader retries any lookup that overlapped an odd `seq` or a change
//! of it. Every offset a reader can load, even mid-move, points at a record of this table's log,
//! so `eq` never reads outside it.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering, fence};

use parking_lot::{Mutex, MutexGuard};

mod raw;

pub(crate) const TAG_BITS: u32 = 24;
const OFFSET_BITS: u32 = 40;
const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;
const MIN_CAPACITY: usize = 16;
/// Segments for capacities up to `2^41`: entries sit at distinct 8-byte-aligned offsets below
/// the largest file (`2^43`), so a shard never holds more than `2^40` of them, which fits under
/// the 7/8 load limit of `2^41` slots. Growth therefore never runs out of segments.
const SEGMENTS: usize = 38;

/// A run of slots, allocated once and never moved.
type Segment = Box<[AtomicU64]>;

/// A shard table.
#[derive(Debug, Default)]
pub(crate) struct Table {
    /// Used slots; the mutex also serializes writers and whole-table reads.
    writer: Mutex<usize>,
    /// Odd while slots move.
    seq: AtomicU64,
    /// Slots in use by the probe sequence: zero or a power of two.
    capacity: AtomicUsize,
    /// Allocated on the first insert, so an empty shard costs one pointer.
    segments: OnceLock<Box<[OnceLock<Segment>]>>,
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

/// Segment and index within it of slot `p`.
fn locate(p: usize) -> (usize, usize) {
    if p < MIN_CAPACITY {
        return (0, p);
    }
    let k = (usize::BITS - (p / MIN_CAPACITY).leading_zeros()) as usize;
    (k, p - (MIN_CAPACITY << (k - 1)))
}

fn zeroed(len: usize) -> Segment {
    (0..len).map(|_| AtomicU64::new(0)).collect()
}

/// Waits a little before retrying a read that met a moving table.
fn back_off(spins: &mut u32) {
    *spins += 1;
    if *spins < 64 {
        std::hint::spin_loop();
    } else {
        // The writer may be descheduled in the middle of a move; let it run.
        std::thread::yield_now();
    }
}

impl Table {
    /// Exclusive access for mutations and consistent whole-table reads.
    pub(crate) fn lock(&self) -> TableWriter<'_> {
        TableWriter {
            table: self,
            len: self.writer.lock(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        *self.writer.lock()
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity.load(Ordering::Acquire)
    }

    /// Slot `p`, or `None` if a reader raced ahead of a segment's publication (then its
    /// sequence check fails and it retries).
    #[inline]
    fn cell(&self, p: usize) -> Option<&AtomicU64> {
        let (k, i) = locate(p);
        self.segments.get()?.get(k)?.get()?.get(i)
    }

    /// Starts loading the home slot of `tag` into the cache (a hint, see
    /// [`crate::log::mmap::prefetch_value`]).
    #[inline]
    pub(crate) fn prefetch(&self, tag: u32) {
        let mask = self.capacity.load(Ordering::Acquire).wrapping_sub(1);
        if let Some(cell) = self.cell(tag as usize & mask) {
            crate::log::mmap::prefetch_value(cell);
        }
    }

    /// Finds the offset whose entry `eq` accepts among slots with this tag. Lock-free.
    #[inline]
    pub(crate) fn find<E>(
        &self,
        tag: u32,
        mut eq: impl FnMut(u64) -> Result<bool, E>,
    ) -> Result<Option<u64>, E> {
        let mut spins = 0;
        loop {
            let before = self.seq.load(Ordering::Acquire);
            if before & 1 == 0 {
                let found = self.position(tag, &mut eq);
                // Orders the slot loads above before the second read of `seq`.
                fence(Ordering::Acquire);
                if self.seq.load(Ordering::Relaxed) == before {
                    return found.map(|p| p.map(|(_, slot)| unpack_offset(slot)));
                }
            }
            back_off(&mut spins);
        }
    }

    /// Position and content of the slot whose entry `eq` accepts. Walks the probe sequence a
    /// segment at a time, and at most `capacity` slots, so a reader that overlaps a move (and
    /// will retry) cannot loop forever.
    #[inline]
    fn position<E>(
        &self,
        tag: u32,
        eq: &mut impl FnMut(u64) -> Result<bool, E>,
    ) -> Result<Option<(usize, u64)>, E> {
        let cap = self.capacity.load(Ordering::Acquire);
        let Some(dir) = self.segments.get() else {
            return Ok(None);
        };
        let mask = cap.wrapping_sub(1);
        let mut p = tag as usize & mask;
        let mut left = cap;
        while left > 0 {
            let (k, i) = locate(p);
            // A segment is absent only to a reader racing a growth; its retry sees it.
            let Some(seg) = dir.get(k).and_then(OnceLock::get) else {
                return Ok(None);
            };
            for cell in seg.get(i..).unwrap_or_default() {
                let s = cell.load(Ordering::Acquire);
                if s == 0 {
                    return Ok(None);
                }
                if slot_tag(s) == tag && eq(unpack_offset(s))? {
                    return Ok(Some((p, s)));
                }
                p = (p + 1) & mask;
                left -= 1;
                if left == 0 {
                    break;
                }
            }
        }
        Ok(None)
    }
}

/// A writer's hold on a table (see [`Table::lock`]).
pub(crate) struct TableWriter<'t> {
    table: &'t Table,
    len: MutexGuard<'t, usize>,
}

impl TableWriter<'_> {
    fn mask(&self) -> usize {
        self.table.capacity().wrapping_sub(1)
    }

    /// Slot `p` of the current capacity.
    #[expect(
        clippy::expect_used,
        reason = "invariant: a segment is published before the capacity is raised over it"
    )]
    fn cell(&self, p: usize) -> &AtomicU64 {
        self.table
            .cell(p)
            .expect("slots below the capacity are allocated")
    }

    /// Marks the start (odd `seq`) of a move of slots.
    fn begin_move(&self) {
        let s = self.table.seq.load(Ordering::Relaxed);
        self.table.seq.store(s + 1, Ordering::Relaxed);
        // Readers that see any store of the move also see the odd `seq` afterwards.
        fence(Ordering::Release);
    }

    fn end_move(&self) {
        let s = self.table.seq.load(Ordering::Relaxed);
        self.table.seq.store(s + 1, Ordering::Release);
    }

    /// Points the key `eq` accepts at `offset`; returns the offset it replaced, if any.
    pub(crate) fn upsert<E>(
        &mut self,
        tag: u32,
        offset: u64,
        mut eq: impl FnMut(u64) -> Result<bool, E>,
    ) -> Result<Option<u64>, E> {
        if let Some((p, old)) = self.table.position(tag, &mut eq)? {
            self.cell(p).store(pack(tag, offset), Ordering::Release);
            return Ok(Some(unpack_offset(old)));
        }
        self.reserve_one();
        self.place(pack(tag, offset));
        *self.len += 1;
        Ok(None)
    }

    /// Stores `slot` in the first empty slot from its home: one atomic store, no move.
    fn place(&mut self, slot: u64) {
        let mask = self.mask();
        let mut p = slot_tag(slot) as usize & mask;
        while self.cell(p).load(Ordering::Relaxed) != 0 {
            p = (p + 1) & mask;
        }
        self.cell(p).store(slot, Ordering::Release);
    }

    /// Doubles the capacity if one more entry would pass 7/8 of it.
    ///
    /// The new layout is built aside while readers go on using the old one (only this writer
    /// changes slots, and readers never look past the old capacity): the upper half straight
    /// into the new segment, the lower half into a scratch vector. Readers then wait only while
    /// the lower half is copied over the old slots and the capacity raised.
    fn reserve_one(&mut self) {
        let cap = self.table.capacity();
        if (*self.len + 1) * 8 <= cap * 7 {
            return;
        }
        let new_cap = (cap * 2).max(MIN_CAPACITY);
        let mask = new_cap - 1;
        let upper = zeroed(new_cap - cap);
        #[expect(
            clippy::slow_vector_initialization,
            reason = "zeros written, not allocated zeroed: fresh zeroed pages fault once when the \
                      placement reads them and again when it writes, which made a growth three \
                      times slower here"
        )]
        let mut lower = Vec::with_capacity(cap);
        lower.resize(cap, 0u64);
        for slot in self.cells().map(|c| c.load(Ordering::Relaxed)) {
            if slot == 0 {
                continue;
            }
            let mut p = slot_tag(slot) as usize & mask;
            loop {
                match lower.get_mut(p) {
                    Some(free @ 0) => {
                        *free = slot;
                        break;
                    }
                    Some(_) => {}
                    None => {
                        let cell = &upper[p - cap];
                        if cell.load(Ordering::Relaxed) == 0 {
                            cell.store(slot, Ordering::Relaxed);
                            break;
                        }
                    }
                }
                p = (p + 1) & mask;
            }
        }
        let (k, _) = locate(new_cap - 1);
        let segments = self
            .table
            .segments
            .get_or_init(|| (0..SEGMENTS).map(|_| OnceLock::new()).collect());
        let fresh = segments[k].set(upper).is_ok();
        debug_assert!(fresh, "segment {k} is published once, by this growth");
        self.begin_move();
        for (cell, slot) in self.cells().zip(lower) {
            cell.store(slot, Ordering::Relaxed);
        }
        self.table.capacity.store(new_cap, Ordering::Release);
        self.end_move();
    }

    /// The slots below the current capacity, in order.
    fn cells(&self) -> impl Iterator<Item = &AtomicU64> + '_ {
        let cap = self.table.capacity();
        let used = if cap == 0 { 0 } else { locate(cap - 1).0 + 1 };
        self.table
            .segments
            .get()
            .into_iter()
            .flat_map(move |dir| dir.iter().take(used))
            .flat_map(|seg| seg.get().into_iter().flat_map(|s| s.iter()))
    }

    /// Removes the key `eq` accepts; returns its offset.
    pub(crate) fn remove<E>(
        &mut self,
        tag: u32,
        mut eq: impl FnMut(u64) -> Result<bool, E>,
    ) -> Result<Option<u64>, E> {
        let Some((mut hole, old)) = self.table.position(tag, &mut eq)? else {
            return Ok(None);
        };
        let mask = self.mask();
        self.begin_move();
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let s = self.cell(j).load(Ordering::Relaxed);
            if s == 0 {
                break;
            }
            let home = slot_tag(s) as usize & mask;
            // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.cell(hole).store(s, Ordering::Relaxed);
                hole = j;
            }
        }
        self.cell(hole).store(0, Ordering::Relaxed);
        self.end_move();
        *self.len -= 1;
        Ok(Some(unpack_offset(old)))
    }

    /// Empties the table. Its capacity stays allocated (readers may still be probing it) until
    /// the table is dropped with its index generation.
    pub(crate) fn clear(&mut self) {
        self.begin_move();
        for c in self.cells() {
            c.store(0, Ordering::Relaxed);
        }
        self.end_move();
        *self.len = 0;
    }

    /// Every stored offset, in table order.
    pub(crate) fn offsets(&self) -> impl Iterator<Item = u64> + '_ {
        self.raw_slots().filter(|s| *s != 0).map(unpack_offset)
    }

    /// The raw slots, for the index snapshot.
    pub(crate) fn raw_slots(&self) -> impl Iterator<Item = u64> + '_ {
        self.cells().map(|c| c.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::atomic::AtomicBool;

    type Infallible = Result<bool, ()>;

    /// Keys are u64s stored "in the log" at offset 4096 + 8 * key; the tag is chosen to collide.
    fn eq_key(key: u64) -> impl FnMut(u64) -> Infallible {
        move |off| Ok(off == 4096 + 8 * key)
    }

    #[test]
    fn slots_map_onto_doubling_segments() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(15), (0, 15));
        assert_eq!(locate(16), (1, 0));
        assert_eq!(locate(31), (1, 15));
        assert_eq!(locate(32), (2, 0));
        assert_eq!(locate(63), (2, 31));
        assert_eq!(locate(64), (3, 0));
        let last = (MIN_CAPACITY << (SEGMENTS - 1)) - 1;
        assert_eq!(
            locate(last),
            (SEGMENTS - 1, (MIN_CAPACITY << (SEGMENTS - 2)) - 1)
        );
    }

    #[test]
    fn model_check_against_hashmap_with_heavy_tag_collisions() {
        let t = Table::default();
        let mut model = HashMap::new();
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for step in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = x % 500;
            let tag = (key % 37) as u32; // many keys share a tag
            if x.is_multiple_of(3) {
                let got = t.lock().remove(tag, eq_key(key)).unwrap();
                assert_eq!(got, model.remove(&key), "step {step}");
            } else {
                let off = 4096 + 8 * key;
                let got = t.lock().upsert(tag, off, eq_key(key)).unwrap();
                assert_eq!(got, model.insert(key, off), "step {step}");
            }
            assert_eq!(t.len(), model.len());
        }
        for (k, off) in &model {
            assert_eq!(t.find((k % 37) as u32, eq_key(*k)).unwrap(), Some(*off));
        }
        let mut offs: Vec<_> = t.lock().offsets().collect();
        offs.sort_unstable();
        let mut want: Vec<_> = model.values().copied().collect();
        want.sort_unstable();
        assert_eq!(offs, want);
        t.lock().clear();
        assert_eq!(t.len(), 0);
        assert!(
            model
                .keys()
                .all(|k| t.find((k % 37) as u32, eq_key(*k)) == Ok(None))
        );
    }

    /// Growth builds the doubled layout aside, half in a scratch vector and half in the new
    /// segment; a cluster whose homes are the last slots wraps from one half into the other, and
    /// every key must stay findable after each growth.
    #[test]
    fn growth_keeps_clusters_that_wrap_past_the_last_slot() {
        let t = Table::default();
        // Homes at the last three slots of any capacity, and a few at the first.
        let tag = |k: u64| match k % 4 {
            3 => (k % 5) as u32,
            r => (1 << TAG_BITS) - 1 - r as u32,
        };
        let mut grown = 0;
        for k in 0..500u64 {
            let before = t.capacity();
            t.lock().upsert(tag(k), 4096 + 8 * k, eq_key(k)).unwrap();
            if t.capacity() != before {
                grown += 1;
                for j in 0..=k {
                    let found = t.find(tag(j), eq_key(j)).unwrap();
                    assert_eq!(found, Some(4096 + 8 * j), "key {j} after growing at {k}");
                }
            }
        }
        assert_eq!(grown, 7, "16 to 1024 slots");
        assert_eq!(t.lock().offsets().count(), 500);
    }

    #[test]
    fn load_factor_stays_below_seven_eighths() {
        let t = Table::default();
        for k in 0..10_000u64 {
            t.lock()
                .upsert((k * 2_654_435_761 % (1 << 24)) as u32, 4096 + 8 * k, |_| {
                    Ok::<_, ()>(false)
                })
                .unwrap();
            assert!(t.len() * 8 <= t.capacity() * 7);
        }
    }

    /// Lock-free readers must never miss a key that stays present while the writer shifts it
    /// (removing keys stored before it in its cluster) and re-places it (growth).
    #[test]
    fn readers_always_find_stable_keys_while_the_writer_moves_slots() {
        const TABLES: usize = 20;
        const CHURN: u64 = 200;
        const STABLE: u64 = 64;
        // Every key has tag 0, so each table is one cluster: the churn keys, then the stable
        // ones. Churn key k sits at offset 4096 + 8 * k, stable key k at 4096 + 8 * (CHURN + k).
        let stable_off = |k: u64| 4096 + 8 * (CHURN + k);
        let tables: Vec<Table> = (0..TABLES)
            .map(|_| {
                let t = Table::default();
                for k in 0..CHURN + STABLE {
                    t.lock().upsert(0, 4096 + 8 * k, eq_key(k)).unwrap();
                }
                t
            })
            .collect();
        let current = AtomicUsize::new(0);
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    while !done.load(Ordering::Acquire) {
                        let t = &tables[current.load(Ordering::Acquire)];
                        for k in 0..STABLE {
                            let got = t.find(0, eq_key(CHURN + k)).unwrap();
                            assert_eq!(got, Some(stable_off(k)), "stable key {k} missed");
                        }
                    }
                });
            }
            for (i, t) in tables.iter().enumerate() {
                current.store(i, Ordering::Release);
                // Each removal shifts every stable key back by one slot.
                for k in 0..CHURN {
                    t.lock().remove(0, eq_key(k)).unwrap();
                }
                // New keys grow the table from 512 to 1024 slots, re-placing the stable keys.
                for k in CHURN + STABLE..CHURN + STABLE + 400 {
                    t.lock().upsert(0, 4096 + 8 * k, eq_key(k)).unwrap();
                }
            }
            done.store(true, Ordering::Release);
        });
    }
}
