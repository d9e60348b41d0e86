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
mod tests;
