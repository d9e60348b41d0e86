//! Read-only memory maps of the log: the only module of the workspace allowed `unsafe`.
//!
//! Contract (also in `docs/safety.md`):
//! 1. The log is append-only: bytes below the written tail are never rewritten while a map of
//!    them is alive. Torn-tail truncation happens at open, before any map is handed out.
//! 2. Readers only look at offsets below the tail they learned from the index, and every
//!    offset is bounds-checked against the map length; decoding is checked, so bad bytes become
//!    errors, never undefined behaviour.
//! 3. Compaction writes a new file and renames it into place; maps of the old file stay valid
//!    because an unlinked file lives until its last map is dropped.
//! 4. The exclusive lock keeps other emdb handles out. A process that ignores the lock and
//!    truncates the file can still make a read fault (SIGBUS); that is outside the contract, as
//!    memmap2's own documentation states.
#![allow(
    unsafe_code,
    reason = "memory-mapped log reads; contract in docs/safety.md"
)]

use std::fs::File;
use std::io;

use memmap2::{Mmap, MmapOptions};

/// A read-only map of a prefix of the log file.
#[derive(Debug)]
pub struct Mapping {
    map: Option<Mmap>,
}

impl Mapping {
    /// Maps `[0, len)` of `file`; a zero length gives an empty mapping without calling mmap.
    pub(crate) fn map(file: &File, len: u64) -> io::Result<Self> {
        if len == 0 {
            return Ok(Mapping { map: None });
        }
        let len = usize::try_from(len).map_err(|_| io::Error::other("file too large to map"))?;
        // SAFETY: the map is read-only and covers bytes the engine wrote below `len`; the
        // append-only and locking invariants of the module docs (established by the writer and
        // the lockfile) keep those bytes unchanged while the map lives.
        let map = unsafe { MmapOptions::new().len(len).map(file) }?;
        Ok(Mapping { map: Some(map) })
    }

    /// The mapped bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.map.as_deref().unwrap_or_default()
    }

    /// Mapped length.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
