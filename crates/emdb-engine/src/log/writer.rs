//! The append path: positioned writes at the tail of a preallocated file, zero-filled a little
//! ahead of the tail.
//!
//! The file (and its map) grows in chunks, a quarter of its size between the configured minimum
//! and 64 MiB, by extending its length. Separately, the [`ZERO_AHEAD`] bytes past each frame are
//! kept written with zeros, so later appends overwrite allocated blocks and the file size stays
//! the same: `fdatasync` then has no metadata to flush. Zeros past the tail (written, or a hole)
//! also mark the end of the log for recovery. Zeroing a window rather than each new chunk keeps
//! the cost where the appends are: one grown chunk used to mean up to 64 MiB of zeros for the
//! next `fdatasync` to write (the 1,000-record batch that grew a 1M-record file took 37 ms;
//! with the window, 7).

use std::sync::Arc;

use emdb_format::frame::SealFailure;
use emdb_format::limits::MAX_FILE_LEN;
use emdb_format::{EntryRef, FRAME_HEADER_LEN, Fill, FrameStream};

use crate::error::{EngineError, Result};
use crate::log::mmap::prefetch_bytes;
use crate::log::reader::LogReader;
use crate::sealer::{SealError, Sealer, entry_aad};
use crate::storage::StorageFile;

const MIB: u64 = 1 << 20;
const MAX_CHUNK: u64 = 64 * MIB;
/// Largest single `pwrite` of zeros. The page cache may hold what one write covers in one large
/// folio, and every later small `pwrite` into a large folio walks all of its blocks (ext4's
/// buffered write path on the benchmark machine's Linux 6.18): with the window zeroed in one
/// 1 MiB write, an unsynced put took 1.47-1.52 us (`append/put_nosync`) against 1.17-1.37 in
/// 64 KiB writes, and a million of them 0.99-1.01 s against 0.73-0.74 (`docs/BENCH.md`).
const ZERO_PIECE: usize = 64 << 10;
/// Largest single `pwrite` of a frame built whole (a streamed one goes in pieces of about
/// [`FOLIO`]). One write of hundreds of MiB into not yet cached file space took anywhere from 1x
/// to 10x the time of the same bytes in 1 MiB writes on the benchmark machine
/// (`docs/BENCH.md`). The frame's atomicity rests on its CRC, never on one system call.
const WRITE_PIECE: usize = 1 << 20;
/// The pieces of a streamed frame are written so that each write ends at a multiple of this in
/// the file (2 MiB, the size of a huge page on x86-64). The page cache then holds the frame in
/// folios of this size, which the kernel maps into the read map with one page-table entry each,
/// so a random read of a bulk-loaded record no longer misses the TLB on 4 KiB pages: over 1M
/// bulk-loaded records, 1M random reads took 235 against 251 ms and 500K ranges of 10 789
/// against 854 ms (medians, `docs/BENCH.md`).
const FOLIO: u64 = 2 * MIB;
/// Frames longer than this (of more than one entry) are encoded while they are written, a piece
/// at a time through the encode buffer, instead of built whole first: a million-record bulk load
/// is a 208 MB frame, which would otherwise be allocated, filled and only then written.
/// Compaction's copy frames (about 1 MiB) stay below it and keep their single write.
pub(crate) const STREAM_ABOVE: usize = 2 * WRITE_PIECE;
/// How many entries ahead of the one being encoded its key and value are requested from memory
/// (a bulk load's entries point into the caller's many small buffers, visited in key order).
const SOURCE_AHEAD: usize = 8;
/// Capacity the encode buffer keeps between frames. A larger one (left by a big transaction: a
/// million-record bulk load leaves 208 MB) is freed once its frame is applied, so one large
/// commit does not hold its size in memory for the life of the handle.
const KEEP_BUF: usize = 1 << 20;
/// How far past a frame's end the file is kept zero-filled (less where the file ends first).
/// Appends within it overwrite allocated blocks; one that passes it zeroes the next window.
const ZERO_AHEAD: u64 = MIB;
/// The zeros preallocation writes (in the binary's zero-initialised data: no allocation, no
/// memset per preallocation).
static ZEROS: [u8; ZERO_PIECE] = [0; ZERO_PIECE];

/// A frame ready to be appended at the tail.
#[derive(Debug)]
pub(crate) enum PendingFrame<'e, 'a, 's> {
    /// Built whole in the writer's buffer, its entries' offsets in the writer's offsets list.
    Built { len: usize },
    /// Encoded while it is written ([`LogWriter::append`] fills the offsets list); sealed
    /// entry by entry on the way when it is a sealed frame (the `Sealing` is `Some` exactly
    /// then; a sealed stream without one fails with [`EngineError::Seal`]).
    Streamed(FrameStream<'e, 'a>, Option<Sealing<'s>>),
}

impl PendingFrame<'_, '_, '_> {
    /// Length of the whole frame.
    pub(crate) fn len(&self) -> u64 {
        match self {
            PendingFrame::Built { len } => *len as u64,
            PendingFrame::Streamed(s, _) => s.frame_len() as u64,
        }
    }
}

/// What a sealed frame's entries are sealed with: the sealer, and the file id their
/// associated data binds them to (with their offsets).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sealing<'s> {
    pub(crate) sealer: &'s dyn Sealer,
    pub(crate) file_id: [u8; 16],
}

#[derive(Debug)]
pub(crate) struct LogWriter {
    file: Arc<dyn StorageFile>,
    /// End of the written log.
    pub(crate) tail: u64,
    /// File length (written log plus preallocation).
    pub(crate) allocated: u64,
    /// End of the zero-filled space past the tail (at most `allocated`): appends that end
    /// before it overwrite allocated blocks.
    zeroed: u64,
    /// Whether to zero-fill ahead of the tail at all (not for a rewrite file, which is synced
    /// once, whole, when it is done).
    zero_fill: bool,
    min_chunk: u64,
    /// Reusable encode buffer.
    pub(crate) buf: Vec<u8>,
    /// Offsets of the entries of the frame in `buf` (reused, like `buf`).
    pub(crate) offsets: Vec<u64>,
    /// Offset and CRC field of the last frame written (0, 0 if none).
    pub(crate) last_frame: (u64, u32),
}

impl LogWriter {
    pub(crate) fn new(
        file: Arc<dyn StorageFile>,
        tail: u64,
        allocated: u64,
        min_chunk: u64,
    ) -> Self {
        LogWriter {
            file,
            tail,
            allocated,
            // What lies past the tail of an existing file is not known to be zeros written
            // (it can be a hole): the first append zeroes its window.
            zeroed: tail,
            zero_fill: true,
            min_chunk: min_chunk.max(4096),
            buf: Vec::new(),
            offsets: Vec::new(),
            last_frame: (0, 0),
        }
    }

    /// Makes sure a frame of `extra` bytes fits after the tail, growing the file and the map if
    /// needed, and that the [`ZERO_AHEAD`] bytes after it are zero-filled. The caller writes
    /// exactly those bytes at the tail next ([`LogWriter::append`]).
    ///
    /// Zeros are written only past the frame: the part the frame is about to cover is left for
    /// its write (a hole until then, which reads as zeros, so a crash in between still finds the
    /// end of the log there). A large frame, such as a bulk load's single transaction, is then
    /// written once rather than zeroed first. A failure leaves `allocated` equal to the file's
    /// length and the zeroed window where it was (the next reserve zeroes it again).
    pub(crate) fn reserve(&mut self, extra: u64, reader: &LogReader) -> Result<()> {
        let need = self.tail.saturating_add(extra);
        if need > self.allocated {
            let chunk = (self.allocated / 4).clamp(self.min_chunk, MAX_CHUNK.max(self.min_chunk));
            let new_len = need
                .max(self.allocated + chunk)
                .next_multiple_of(self.min_chunk);
            if new_len > MAX_FILE_LEN {
                return Err(EngineError::FileTooLarge { max: MAX_FILE_LEN });
            }
            // Extended before anything is written past the old end, so the new map never
            // reaches past the file's end.
            self.file
                .set_len(new_len)
                .map_err(EngineError::io("preallocating the log"))?;
            self.allocated = new_len;
            reader.remap(new_len)?;
        }
        if self.zero_fill && need >= self.zeroed {
            let end = need.saturating_add(ZERO_AHEAD).min(self.allocated);
            let mut at = need.max(self.zeroed);
            while at < end {
                let n = usize::try_from(end - at)
                    .unwrap_or(ZERO_PIECE)
                    .min(ZERO_PIECE);
                self.file
                    .write_at(&ZEROS[..n], at)
                    .map_err(EngineError::io("preallocating the log"))?;
                at += n as u64;
            }
            self.zeroed = end;
        }
        Ok(())
    }

    /// Stops (or resumes) zero-filling ahead of the tail. A rewrite file does without: nothing
    /// syncs it before it is whole, so its appends have no metadata flushes to avoid.
    pub(crate) fn set_zero_fill(&mut self, on: bool) {
        self.zero_fill = on;
        self.zeroed = self.zeroed.max(self.tail);
    }

    /// Takes `len` as the file's length after the file was cut to it (at the tail): nothing is
    /// preallocated or zeroed past the tail any more.
    pub(crate) fn truncated(&mut self, len: u64) {
        self.allocated = len;
        self.zeroed = len;
    }

    /// Cuts the file to the tail (nothing past it is data), as the last act of a handle: the
    /// next open reads no preallocated zeros while it looks for the end of the log. Not
    /// synced: the cut bytes are zeros or holes, which recovery reads as the end of the log
    /// whether or not the cut survives a crash.
    pub(crate) fn cut_preallocation(&mut self) -> Result<()> {
        if self.allocated > self.tail {
            self.file
                .set_len(self.tail)
                .map_err(EngineError::io("cutting the preallocation"))?;
            self.truncated(self.tail);
        }
        Ok(())
    }

    /// Frees the encode buffer if a large frame grew it past what small frames need. The offsets
    /// list (8 bytes an entry against the buffer's 200 or so) is kept: freeing it too made the
    /// next bulk load measurably slower (glibc moves its `mmap` threshold when a mapped chunk of
    /// up to 32 MiB is freed).
    pub(crate) fn release_large_buffer(&mut self) {
        if self.buf.capacity() > KEEP_BUF {
            self.buf = Vec::new();
        }
    }

    /// Writes `frame` at the tail (reserved for it) and advances the tail; returns the frame's
    /// offset. On error the tail stays where it was, and whatever was written past it lies
    /// behind a length field that is still zero (a streamed frame's header is written last) or
    /// in a frame whose CRC fails: either way recovery reads it as a torn tail. A streamed
    /// frame that fails part-way (a write, or sealing an entry) has written part of its body.
    pub(crate) fn append(&mut self, frame: PendingFrame<'_, '_, '_>) -> Result<u64> {
        match frame {
            PendingFrame::Built { .. } => self.append_buf(),
            PendingFrame::Streamed(s, sealing) => self.append_stream(s, sealing),
        }
    }

    /// Encodes `frame` through the encode buffer a piece at a time, writing each piece after
    /// the one before and the header last; records each entry's offset. Every write but the
    /// last ends at a multiple of [`FOLIO`] of the file, and the bytes past it (part of an
    /// entry, or of a large value) start the next piece.
    fn append_stream(
        &mut self,
        mut frame: FrameStream<'_, '_>,
        sealing: Option<Sealing<'_>>,
    ) -> Result<u64> {
        let at = self.tail;
        let entries = frame.entries();
        self.offsets.clear();
        self.buf.clear();
        // The file offset of the encode buffer's first byte.
        let mut buf_at = at + FRAME_HEADER_LEN as u64;
        loop {
            let next_boundary = (buf_at / FOLIO + 1) * FOLIO;
            let target = usize::try_from(next_boundary - buf_at).unwrap_or(usize::MAX);
            let offsets = &mut self.offsets;
            let item_at = |i, rel: usize| {
                prefetch_source(entries, i);
                offsets.push(at + rel as u64);
            };
            let seal = |rel: usize, plain: &[u8], out: &mut Vec<u8>| match sealing {
                Some(s) => s
                    .sealer
                    .seal(&entry_aad(&s.file_id, at + rel as u64), plain, out),
                None => Err(SealError),
            };
            let step = frame
                .fill(&mut self.buf, target, item_at, seal)
                .map_err(|failure| {
                    let rel = match failure {
                        SealFailure::Seal { offset, .. } | SealFailure::Length { offset, .. } => {
                            offset
                        }
                    };
                    EngineError::Seal {
                        offset: at + rel as u64,
                    }
                })?;
            let end = buf_at + self.buf.len() as u64;
            let upto = match step {
                Fill::Done(_) => end,
                Fill::More => end / FOLIO * FOLIO,
            };
            let n = usize::try_from(upto - buf_at).unwrap_or(self.buf.len());
            self.file
                .write_at(&self.buf[..n], buf_at)
                .map_err(EngineError::io("appending to the log"))?;
            self.buf.drain(..n);
            buf_at = upto;
            if let Fill::Done(header) = step {
                self.file
                    .write_at(&header, at)
                    .map_err(EngineError::io("appending to the log"))?;
                self.last_frame = (at, crc_field(&header));
                self.tail = buf_at;
                return Ok(at);
            }
        }
    }

    /// Writes the encode buffer at the tail and advances it; returns the frame's offset.
    fn append_buf(&mut self) -> Result<u64> {
        let at = self.tail;
        let mut piece_at = at;
        for piece in self.buf.chunks(WRITE_PIECE) {
            self.file
                .write_at(piece, piece_at)
                .map_err(EngineError::io("appending to the log"))?;
            piece_at += piece.len() as u64;
        }
        self.last_frame = (at, crc_field(&self.buf));
        self.tail += self.buf.len() as u64;
        Ok(at)
    }
}

/// Asks for the key and value of the entry [`SOURCE_AHEAD`] places after entry `i`, so the
/// copy of that entry a little later does not wait on them.
#[inline]
pub(crate) fn prefetch_source(entries: &[EntryRef<'_>], i: usize) {
    if let Some(e) = entries.get(i + SOURCE_AHEAD) {
        prefetch_bytes(e.key);
        prefetch_bytes(e.value);
    }
}

/// The CRC field of the frame starting `frame`.
fn crc_field(frame: &[u8]) -> u32 {
    frame
        .get(4..8)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests;
