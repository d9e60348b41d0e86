//! Loading a table from the slots an index snapshot stored.
//!
//! Open spends most of its time here for a large database (a million records is eight MiB of
//! slots), so the load makes one pass over the stored bytes: each block of slots is checked while
//! it is in the cache, then copied into the segment it belongs to. The check has no branch per
//! slot: about half the slots are empty, in no pattern, and the check written with a branch per
//! slot took longer than the copy (`docs/BENCH.md`, index memory and reopen).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{MIN_CAPACITY, SEGMENTS, Segment, Table, locate, unpack_offset};

/// Slots checked, then copied, at a time: 4 KiB, well inside the first-level cache.
const BLOCK: usize = 512;

/// What one pass over some slots found: how many are used, and whether any used one holds an
/// offset outside the log.
#[derive(Debug, Default, PartialEq, Eq)]
struct Census {
    used: usize,
    out_of_range: bool,
}

impl Census {
    /// Counts the used slots of `slots` (stored little-endian) and checks their offsets against
    /// `min_offset..max_offset`. Written with `&` and `|` on bools rather than `&&`, `||` or
    /// `if`, so the loop has no branch per slot.
    #[expect(
        clippy::needless_bitwise_bool,
        reason = "the lazy operators would put a branch per slot back"
    )]
    fn of(slots: &[[u8; 8]], min_offset: u64, max_offset: u64) -> Self {
        let mut used = 0usize;
        let mut out_of_range = false;
        for bytes in slots {
            let slot = u64::from_le_bytes(*bytes);
            let offset = unpack_offset(slot);
            let live = slot != 0;
            used += usize::from(live);
            out_of_range |= live & ((offset < min_offset) | (offset >= max_offset));
        }
        Census { used, out_of_range }
    }
}

impl Table {
    /// Builds a table from snapshot slots, stored little-endian in `raw`; `None` if they are not
    /// a valid table for offsets in `min_offset..max_offset` (a length that is not whole slots,
    /// a capacity that is not a power of two, an offset out of range, more than 7/8 of the
    /// slots used). The slots keep their positions.
    pub(crate) fn from_le_bytes(raw: &[u8], min_offset: u64, max_offset: u64) -> Option<Self> {
        let (slots, rest) = raw.as_chunks::<8>();
        let cap = slots.len();
        if !rest.is_empty() || (cap != 0 && (!cap.is_power_of_two() || cap < MIN_CAPACITY)) {
            return None;
        }
        let table = Table::default();
        if cap == 0 {
            return Some(table);
        }
        let dir = table
            .segments
            .get_or_init(|| (0..SEGMENTS).map(|_| OnceLock::new()).collect());
        let mut used = 0usize;
        let mut start = 0;
        while start < cap {
            let (k, _) = locate(start);
            let end = if k == 0 { MIN_CAPACITY } else { start * 2 };
            let mut segment = Vec::with_capacity(end - start);
            for block in slots.get(start..end)?.chunks(BLOCK) {
                let census = Census::of(block, min_offset, max_offset);
                if census.out_of_range {
                    return None;
                }
                used += census.used;
                segment.extend(block.iter().map(|b| AtomicU64::new(u64::from_le_bytes(*b))));
            }
            let segment: Segment = segment.into_boxed_slice();
            dir.get(k)?.set(segment).ok()?;
            start = end;
        }
        if used * 8 > cap * 7 {
            return None;
        }
        table.capacity.store(cap, Ordering::Release);
        *table.writer.lock() = used;
        Some(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eq_key(key: u64) -> impl FnMut(u64) -> Result<bool, ()> {
        move |off| Ok(off == 4096 + 8 * key)
    }

    fn le_bytes(slots: &[u64]) -> Vec<u8> {
        slots.iter().flat_map(|s| s.to_le_bytes()).collect()
    }

    /// A slot for `offset` with a nonzero tag.
    fn slot(offset: u64) -> u64 {
        (7 << 40) | (offset >> 3)
    }

    #[test]
    fn census_counts_used_slots_and_checks_their_offsets() {
        let slots: Vec<[u8; 8]> = [0, slot(4096), 0, slot(8192), slot(1 << 20)]
            .iter()
            .map(|s| s.to_le_bytes())
            .collect();
        assert_eq!(
            Census::of(&slots, 4096, (1 << 20) + 8),
            Census {
                used: 3,
                out_of_range: false
            }
        );
        // Each bound: the last offset is past `max`, the first is below `min`.
        assert!(Census::of(&slots, 4096, 1 << 20).out_of_range);
        assert!(Census::of(&slots, 4104, 1 << 21).out_of_range);
        // Empty slots are never out of range, whatever the bounds.
        assert_eq!(Census::of(&[[0; 8]; 3], 4096, 4096), Census::default());
    }

    #[test]
    fn raw_round_trip_validates() {
        let t = Table::default();
        for k in 0..3000u64 {
            t.lock().upsert(k as u32, 4096 + 8 * k, eq_key(k)).unwrap();
        }
        let raw: Vec<u64> = t.lock().raw_slots().collect();
        assert!(raw.len() > BLOCK, "the table spans several blocks");
        let back = Table::from_le_bytes(&le_bytes(&raw), 4096, 1 << 20).unwrap();
        assert_eq!(back.len(), 3000);
        assert_eq!(back.capacity(), raw.len());
        assert_eq!(
            back.lock().raw_slots().collect::<Vec<_>>(),
            raw,
            "positions kept"
        );
        for k in 0..3000u64 {
            assert_eq!(back.find(k as u32, eq_key(k)), Ok(Some(4096 + 8 * k)));
        }
        // The loaded table takes writes (and grows) like any other.
        for k in 3000..9000u64 {
            back.lock()
                .upsert(k as u32, 4096 + 8 * k, eq_key(k))
                .unwrap();
        }
        assert!((0..9000u64).all(|k| back.find(k as u32, eq_key(k)) == Ok(Some(4096 + 8 * k))));
    }

    #[test]
    fn invalid_slots_are_rejected() {
        let t = Table::default();
        for k in 0..3000u64 {
            t.lock().upsert(k as u32, 4096 + 8 * k, eq_key(k)).unwrap();
        }
        let raw = le_bytes(&t.lock().raw_slots().collect::<Vec<_>>());
        // An offset out of range, past the first block of the largest segment.
        let last = 4096 + 8 * 2999;
        assert!(Table::from_le_bytes(&raw, 4096, last).is_none());
        assert!(Table::from_le_bytes(&raw, 4104, 1 << 20).is_none());
        // Not whole slots.
        assert!(Table::from_le_bytes(&raw[..raw.len() - 1], 4096, 1 << 20).is_none());
        // A capacity that is not a power of two, or below the minimum.
        assert!(Table::from_le_bytes(&le_bytes(&[1, 2, 3]), 0, u64::MAX).is_none());
        assert!(Table::from_le_bytes(&le_bytes(&[0; 8]), 0, u64::MAX).is_none());
        // More than 7/8 of the slots used.
        assert!(Table::from_le_bytes(&le_bytes(&[slot(4096); 16]), 0, u64::MAX).is_none());
        let mut full = vec![slot(4096); 14];
        full.extend([0, 0]);
        assert_eq!(
            Table::from_le_bytes(&le_bytes(&full), 0, u64::MAX).map(|t| t.len()),
            Some(14),
            "exactly 7/8 is allowed"
        );
        assert_eq!(
            Table::from_le_bytes(&[], 0, u64::MAX).map(|t| t.capacity()),
            Some(0)
        );
    }
}
