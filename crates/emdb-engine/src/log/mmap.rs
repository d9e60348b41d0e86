//! Read-only memory maps of the log: the only module of the workspace allowed `unsafe`.
//!
//! Contract (also in `docs/safety.md`):
//! 1. The log is append-only: bytes below the written tail are never rewritten while a map of
//!    them is alive. Torn-tail truncation happens at open, before any map is handed out; the
//!    cuts of the preallocation (a compaction's new file before it goes live, the live file
//!    when the last handle drops) remove only bytes past the tail, which no reader looks at (a
//!    value a caller still holds lies below it).
//! 2. Readers only look at offsets below the tail they learned from the index, and every
//!    offset is bounds-checked against the map length; decoding is checked, so bad bytes become
//!    errors, never undefined behaviour.
//! 3. Compaction writes a new file and renames it into place; maps of the old file stay valid
//!    because an unlinked file lives until its last map is dropped.
//! 4. The exclusive lock keeps other emdb handles out. A process that ignores the lock and
//!    truncates the file can still make a read fault (SIGBUS); that is outside the contract, as
//!    memmap2's own documentation states.
//! 5. The index snapshot is mapped only while open decodes it; a snapshot file is written whole
//!    under a temporary name and renamed into place, never modified in place.
//!
//! Also here, because it is the module allowed `unsafe`: the cache prefetch hint, for the map's
//! bytes and for index nodes (`prefetch_value`).
#![allow(
    unsafe_code,
    reason = "memory-mapped log reads and prefetch hints; contract in docs/safety.md"
)]

use std::fs::File;
use std::io;

use memmap2::{Mmap, MmapOptions};

/// A read-only map of a prefix of the log file (or of an index snapshot, see contract item 5).
///
/// Aligned to 128 bytes so that, inside the `Arc` every reader shares, the reference count sits
/// in a different cache line (and line pair) from the map's address: each zero-copy read
/// increments and decrements that count, and each read loads the address. On one line, a read's
/// load waits on the previous read's locked decrement, and with readers on two cores the line
/// moves between them on every read (`docs/BENCH.md` has the measurements).
#[derive(Debug)]
#[repr(align(128))]
pub struct Mapping {
    map: Option<Mmap>,
}

/// Maps at least this long are unmapped on a short-lived thread of their own (on Unix). Tearing
/// down the page tables of a large map that readers have paged in takes milliseconds (about 6 ms
/// for 250 MB on the benchmark machine), and the thread that drops the last reference is a
/// writer that just grew the file, or a reader. Elsewhere a live map can keep the file from
/// being cut or replaced, so the map is released where it is dropped.
const UNMAP_ASIDE_FROM: usize = 64 << 20;

/// Large maps handed to an unmapping thread and released there (for tests).
#[cfg(test)]
static UNMAPPED_ASIDE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Drop for Mapping {
    fn drop(&mut self) {
        if cfg!(unix)
            && let Some(map) = self.map.take_if(|m| m.len() >= UNMAP_ASIDE_FROM)
        {
            // If no thread can be started, the closure and the map in it are dropped here.
            let _ = std::thread::Builder::new()
                .name("emdb-unmap".into())
                .spawn(move || {
                    drop(map);
                    #[cfg(test)]
                    UNMAPPED_ASIDE.fetch_add(1, std::sync::atomic::Ordering::Release);
                });
        }
    }
}

impl Mapping {
    /// Maps `[0, len)` of `file`; a zero length gives an empty mapping without calling mmap.
    pub(crate) fn map(file: &File, len: u64) -> io::Result<Self> {
        if len == 0 {
            return Ok(Mapping { map: None });
        }
        let len = usize::try_from(len).map_err(|_| io::Error::other("file too large to map"))?;
        // SAFETY: the map is read-only and covers bytes the engine wrote below `len`; the
        // append-only (log) or write-once (snapshot) and locking invariants of the module docs,
        // established by the writer, the snapshot writer and the lockfile, keep those bytes
        // unchanged while the map lives.
        let map = unsafe { MmapOptions::new().len(len).map(file) }?;
        Ok(Mapping { map: Some(map) })
    }

    /// The mapped bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.map.as_deref().unwrap_or_default()
    }

    /// The `len` bytes at `start`; empty if they do not lie within the map.
    pub fn span(&self, start: usize, len: usize) -> &[u8] {
        self.as_slice()
            .get(start..start.saturating_add(len))
            .unwrap_or_default()
    }

    /// Mapped length.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Asks the CPU to start loading the cache lines of `[start, start + len)` (clipped to the
    /// map) without waiting for them: unlike a plain load that misses, a prefetch does not hold
    /// up the instructions after it, so a batch of reads overlaps its misses. Only a hint; does
    /// nothing where there is no prefetch instruction.
    #[inline]
    pub(crate) fn prefetch(&self, start: usize, len: usize) {
        let bytes = self.as_slice();
        let end = start.saturating_add(len).min(bytes.len());
        if let Some(span) = bytes.get(start..end) {
            prefetch_bytes(span);
        }
    }
}

/// Asks the CPU to start loading every cache line of `value`, as [`Mapping::prefetch`] does for
/// the map: for index nodes a write is about to update, requested before the write's system
/// call so that they arrive while it runs.
#[inline]
pub(crate) fn prefetch_value<T>(value: &T) {
    prefetch_span(std::ptr::from_ref(value).cast::<u8>(), size_of::<T>());
}

/// Asks the CPU to start loading every cache line of `bytes`: for the keys and values of
/// entries a writer will copy or hash a few entries later, which lie in the caller's memory in
/// no useful order.
#[inline]
pub(crate) fn prefetch_bytes(bytes: &[u8]) {
    prefetch_span(bytes.as_ptr(), bytes.len());
}

/// Prefetches every cache line holding a byte of the `len` bytes of a live object at `start`,
/// from the line holding the first (a plain loop: `step_by` costs more instructions than the
/// prefetches it drives).
#[inline]
fn prefetch_span(start: *const u8, len: usize) {
    let end = start.wrapping_add(len);
    let mut line = start.wrapping_sub(start.addr() % 64);
    while line < end {
        prefetch_line(line);
        line = line.wrapping_add(64);
    }
}

/// Prefetches the cache line holding `byte`: a line holding some byte of a live object (of the
/// map, or of a value passed to [`prefetch_value`] or [`prefetch_bytes`]).
#[cfg(target_arch = "x86_64")]
#[inline]
fn prefetch_line(byte: *const u8) {
    use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
    // SAFETY: `_mm_prefetch` needs SSE, which every x86_64 CPU has (it is in the target's
    // baseline); a prefetch never faults and changes no memory, and the address is in a cache
    // line of a live object anyway.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(byte.cast::<i8>()) };
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn prefetch_line(_: *const u8) {}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A prefetch is clipped to the map: ranges past its end, overflowing ones and an empty map
    /// are all harmless, and the map reads the same afterwards.
    #[test]
    fn prefetch_is_clipped_to_the_map() {
        let mut file = tempfile::tempfile().expect("temp file");
        file.write_all(&[7u8; 300]).expect("write");
        let map = Mapping::map(&file, 300).expect("map");
        for (start, len) in [
            (0, 256),
            (299, 256),
            (300, 64),
            (1 << 40, 64),
            (5, usize::MAX),
        ] {
            map.prefetch(start, len);
        }
        assert_eq!(map.as_slice(), &[7u8; 300][..]);
        Mapping::map(&file, 0).expect("empty map").prefetch(0, 256);
    }

    /// A large map is released on its own thread: the drop returns, and the map is gone from
    /// the process soon after. A small one is released at once. Maps are found in
    /// `/proc/self/maps` by the file's inode (an address could be reused by another test's map).
    #[cfg(target_os = "linux")]
    #[test]
    fn a_large_map_is_released_aside_and_a_small_one_at_once() {
        use std::os::unix::fs::MetadataExt;
        use std::sync::atomic::Ordering;
        use std::time::{Duration, Instant};

        let file = tempfile::tempfile().expect("temp file");
        let len = UNMAP_ASIDE_FROM as u64;
        file.set_len(len).expect("sparse file");
        let inode = file.metadata().expect("metadata").ino().to_string();
        let mapped = || {
            let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
            maps.lines()
                .any(|l| l.split_whitespace().nth(4) == Some(inode.as_str()))
        };

        let small = Mapping::map(&file, len - 4096).expect("map");
        assert!(mapped());
        drop(small);
        assert!(
            !mapped(),
            "a map below the threshold is released by the drop"
        );

        let before = UNMAPPED_ASIDE.load(Ordering::Acquire);
        let large = Mapping::map(&file, len).expect("map");
        assert_eq!(large.as_slice()[len as usize - 1], 0);
        drop(large);
        // Not a timing check: the deadline only keeps a broken build from hanging.
        let deadline = Instant::now() + Duration::from_secs(30);
        while mapped() || UNMAPPED_ASIDE.load(Ordering::Acquire) == before {
            assert!(
                Instant::now() < deadline,
                "the map was not released by its own thread"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Prefetching a value covers it line by line and changes nothing; an empty type is fine.
    #[test]
    fn prefetching_a_value_leaves_it_unchanged() {
        let big = [3u64; 100];
        prefetch_value(&big);
        prefetch_value(&());
        prefetch_value(&1u8);
        assert_eq!(big, [3u64; 100]);
    }
}
