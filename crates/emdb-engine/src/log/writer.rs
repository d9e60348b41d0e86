//! The append path: positioned writes at the tail of a zero-filled, preallocated file.
//!
//! The file grows in chunks (a quarter of its size, between the configured minimum and 64 MiB)
//! that are written with zeros past the frame that needed them, so later appends overwrite
//! allocated blocks and the file size stays the same: `fdatasync` then has no metadata to flush.
//! Zeros past the tail also mark the end of the log for recovery.

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
const ZERO_BLOCK: usize = 1 << 20;
/// Largest single `pwrite` of a frame. A large frame (a bulk load's transaction) goes in
/// pieces: one write of hundreds of MiB into not yet cached file space took anywhere from 1x to
/// 10x the time of the same bytes in 1 MiB writes on the benchmark machine (`docs/BENCH.md`).
/// The frame's atomicity rests on its CRC, never on one system call.
const WRITE_PIECE: usize = 1 << 20;
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
/// The zeros preallocation writes (in the binary's zero-initialised data: no allocation, no
/// memset per preallocation).
static ZEROS: [u8; ZERO_BLOCK] = [0; ZERO_BLOCK];

/// A frame ready to be appended at the tail.
#[derive(Debug)]
pub(crate) enum PendingFrame<'e, 'a, 's> {
    /// Built whole in the writer's buffer, its entries' offsets in the writer's offsets list.
    Built { len: usize },
    /// Encoded while it is written ([`LogWriter::append`] fills the offsets list); sealed
    /// entry by entry on the way when it is a sealed frame.
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
    /// File length (written log plus zero-filled preallocation).
    pub(crate) allocated: u64,
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
            min_chunk: min_chunk.max(4096),
            buf: Vec::new(),
            offsets: Vec::new(),
            last_frame: (0, 0),
        }
    }

    /// Makes sure a frame of `extra` bytes fits after the tail, growing the file and the map if
    /// needed. The caller writes exactly those bytes at the tail next ([`LogWriter::append`]).
    ///
    /// Growing writes zeros only past the frame: the part the frame is about to cover is left
    /// for its write (a hole until then, which reads as zeros, so a crash in between still
    /// finds the end of the log there). A large frame, such as a bulk load's single
    /// transaction, is then written once rather than zeroed first.
    pub(crate) fn reserve(&mut self, extra: u64, reader: &LogReader) -> Result<()> {
        let need = self.tail.saturating_add(extra);
        if need <= self.allocated {
            return Ok(());
        }
        let chunk = (self.allocated / 4).clamp(self.min_chunk, MAX_CHUNK.max(self.min_chunk));
        let new_len = need
            .max(self.allocated + chunk)
            .next_multiple_of(self.min_chunk);
        if new_len > MAX_FILE_LEN {
            return Err(EngineError::FileTooLarge { max: MAX_FILE_LEN });
        }
        let zeros = &ZEROS;
        let mut at = self.allocated.max(need);
        if at == new_len {
            // The frame ends the file: extend it so the new map never reaches past its end.
            self.file
                .set_len(new_len)
                .map_err(EngineError::io("preallocating the log"))?;
        }
        while at < new_len {
            let n = usize::try_from(new_len - at)
                .unwrap_or(ZERO_BLOCK)
                .min(ZERO_BLOCK);
            self.file
                .write_at(&zeros[..n], at)
                .map_err(EngineError::io("preallocating the log"))?;
            at += n as u64;
        }
        self.allocated = new_len;
        reader.remap(new_len)
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

    /// Encodes `frame` through the encode buffer in pieces of about [`WRITE_PIECE`], writing
    /// each after the one before and the header last; records each entry's offset.
    fn append_stream(
        &mut self,
        mut frame: FrameStream<'_, '_>,
        sealing: Option<Sealing<'_>>,
    ) -> Result<u64> {
        let at = self.tail;
        let entries = frame.entries();
        self.offsets.clear();
        let mut piece_at = at + FRAME_HEADER_LEN as u64;
        loop {
            self.buf.clear();
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
                .fill(&mut self.buf, WRITE_PIECE, item_at, seal)
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
            self.file
                .write_at(&self.buf, piece_at)
                .map_err(EngineError::io("appending to the log"))?;
            piece_at += self.buf.len() as u64;
            if let Fill::Done(header) = step {
                self.file
                    .write_at(&header, at)
                    .map_err(EngineError::io("appending to the log"))?;
                self.last_frame = (at, crc_field(&header));
                self.tail = piece_at;
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
mod tests {
    use std::io;
    use std::path::Path;

    use parking_lot::Mutex;

    use emdb_format::{Frame, FrameBuilder, FrameFlags, FrameKind};

    use super::*;
    use crate::storage::faulty::{FaultOp, FaultPlan, FaultyStorage};
    use crate::storage::watched::WatchedFile;
    use crate::storage::{OpenMode, Storage};

    /// The log file, and the range of every write made to it.
    struct Recorded {
        file: Arc<dyn StorageFile>,
        writes: Arc<Mutex<Vec<(u64, u64)>>>,
    }

    impl Recorded {
        fn len(&self) -> io::Result<u64> {
            self.file.len()
        }
    }

    /// A writer over an empty file with 4 KiB preallocation steps, its reader, the recording
    /// file and the storage it lives in.
    fn empty_log() -> (LogWriter, LogReader, Recorded, FaultyStorage) {
        let storage = FaultyStorage::new();
        let inner = storage
            .open(Path::new("log"), OpenMode::Truncate)
            .expect("in-memory open");
        let writes = Arc::new(Mutex::new(Vec::new()));
        let seen = writes.clone();
        let file: Arc<dyn StorageFile> = Arc::new(WatchedFile::new(inner, move |buf, at| {
            seen.lock().push((at, at + buf.len() as u64));
        }));
        let reader = LogReader::new(file.clone(), 0, false, [0; 16], None).expect("no map");
        (
            LogWriter::new(file.clone(), 0, 0, 4096),
            reader,
            Recorded { file, writes },
            storage,
        )
    }

    /// Reserves and appends a frame of `len` bytes of `byte`.
    fn append(w: &mut LogWriter, reader: &LogReader, len: usize, byte: u8) -> Result<()> {
        w.buf = vec![byte; len];
        w.reserve(len as u64, reader)?;
        w.append_buf().map(|_| ())
    }

    #[test]
    fn growing_writes_zeros_past_the_frame_only() {
        let (mut w, reader, file, storage) = empty_log();
        // 10,000 bytes from an empty file: a 12 KiB file, zeroed from the frame's end.
        w.buf = vec![7; 10_000];
        w.reserve(10_000, &reader).unwrap();
        assert_eq!(w.allocated, 12_288);
        assert_eq!(file.len().unwrap(), 12_288);
        assert_eq!(*file.writes.lock(), [(10_000, 12_288)]);
        w.append_buf().unwrap();
        let bytes = storage.live_bytes(Path::new("log")).unwrap();
        assert!(bytes[..10_000].iter().all(|&b| b == 7));
        assert!(bytes[10_000..].iter().all(|&b| b == 0));
        // A frame that fits writes nothing else.
        append(&mut w, &reader, 2_000, 8).unwrap();
        assert_eq!(file.writes.lock().len(), 3);
        assert_eq!(w.allocated, 12_288);
    }

    #[test]
    fn a_frame_ending_on_a_chunk_boundary_extends_the_file_before_it_is_written() {
        let (mut w, reader, file, storage) = empty_log();
        append(&mut w, &reader, 10_000, 7).unwrap();
        file.writes.lock().clear();
        // Ends at 16 KiB, exactly the grown length: no zeros to write, and the file is
        // extended (so a map of the new length would not reach past its end) before the write.
        w.buf = vec![9; 6_384];
        w.reserve(6_384, &reader).unwrap();
        assert_eq!(w.allocated, 16_384);
        assert_eq!(file.len().unwrap(), 16_384);
        assert!(file.writes.lock().is_empty());
        w.append_buf().unwrap();
        let bytes = storage.live_bytes(Path::new("log")).unwrap();
        assert_eq!(bytes.len(), 16_384);
        assert!(bytes[10_000..].iter().all(|&b| b == 9));
    }

    #[test]
    fn a_large_frame_is_written_in_pieces_in_order() {
        let (mut w, reader, file, storage) = empty_log();
        let frame: Vec<u8> = (0..WRITE_PIECE * 5 / 2).map(|i| i as u8).collect();
        w.buf.clone_from(&frame);
        w.reserve(frame.len() as u64, &reader).unwrap();
        file.writes.lock().clear();
        w.append_buf().unwrap();
        let piece = WRITE_PIECE as u64;
        assert_eq!(
            *file.writes.lock(),
            [
                (0, piece),
                (piece, 2 * piece),
                (2 * piece, frame.len() as u64)
            ]
        );
        assert_eq!(w.tail, frame.len() as u64);
        let bytes = storage.live_bytes(Path::new("log")).unwrap();
        assert_eq!(&bytes[..frame.len()], frame.as_slice());
    }

    #[test]
    fn a_failed_piece_fails_the_append_and_keeps_the_tail() {
        let (mut w, reader, _file, storage) = empty_log();
        w.buf = vec![5; WRITE_PIECE * 2];
        w.reserve(w.buf.len() as u64, &reader).unwrap();
        storage.set_plan(FaultPlan::FailOnce {
            op: FaultOp::Write,
            n: 1,
        });
        let err = w.append_buf().unwrap_err();
        assert!(
            matches!(
                err,
                EngineError::Io {
                    op: "appending to the log",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(w.tail, 0);
    }

    /// Puts of `values`, each keyed by its first 8 bytes, and the frame `FrameBuilder` makes of
    /// them.
    fn big_batch(values: &[Vec<u8>]) -> (Vec<EntryRef<'_>>, Vec<u8>) {
        let entries: Vec<_> = values
            .iter()
            .map(|v| EntryRef::put(0, &v[..8], v, 0))
            .collect();
        let mut built = Vec::new();
        let mut b = FrameBuilder::new(&mut built, FrameKind::Batch, FrameFlags::default());
        for e in &entries {
            b.push_entry(e);
        }
        b.finish(0).unwrap();
        (entries, built)
    }

    fn values(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| vec![i as u8; 1_000]).collect()
    }

    #[test]
    fn a_streamed_frame_goes_body_first_in_pieces_then_its_header() {
        let (mut w, reader, file, storage) = empty_log();
        append(&mut w, &reader, 24, 1).unwrap();
        let values = values(2_500);
        let (entries, built) = big_batch(&values);
        let frame = PendingFrame::Streamed(FrameStream::new(&entries, 0).unwrap(), None);
        assert_eq!(frame.len(), built.len() as u64);
        w.reserve(frame.len(), &reader).unwrap();
        file.writes.lock().clear();
        assert_eq!(w.append(frame).unwrap(), 24);
        let writes = file.writes.lock().clone();
        // Pieces of whole entries, each just past WRITE_PIECE but the last, back to back from
        // the end of the header; then the header.
        assert_eq!(writes.len(), 4, "{writes:?}");
        assert_eq!(writes[0].0, 24 + FRAME_HEADER_LEN as u64);
        for pair in writes[..3].windows(2) {
            assert_eq!(pair[0].1, pair[1].0);
            assert!(pair[0].1 - pair[0].0 >= WRITE_PIECE as u64);
        }
        assert_eq!(writes[2].1, 24 + built.len() as u64);
        assert_eq!(writes[3], (24, 24 + FRAME_HEADER_LEN as u64));
        let bytes = storage.live_bytes(Path::new("log")).unwrap();
        assert_eq!(&bytes[24..24 + built.len()], built.as_slice());
        assert_eq!(w.tail, 24 + built.len() as u64);
        assert_eq!(w.last_frame, (24, crc_field(&built)));
        let want: Vec<u64> = Frame::decode(&built)
            .unwrap()
            .items()
            .map(|i| 24 + i.unwrap().0 as u64)
            .collect();
        assert_eq!(w.offsets, want);
    }

    #[test]
    fn a_failed_write_of_a_streamed_frame_leaves_its_length_field_zero() {
        // The second piece fails, then (another run) the header.
        for n in [1, 3] {
            let (mut w, reader, _file, storage) = empty_log();
            let values = values(2_500);
            let (entries, _) = big_batch(&values);
            let frame = PendingFrame::Streamed(FrameStream::new(&entries, 0).unwrap(), None);
            w.reserve(frame.len(), &reader).unwrap();
            storage.set_plan(FaultPlan::FailOnce {
                op: FaultOp::Write,
                n,
            });
            let err = w.append(frame).unwrap_err();
            assert!(
                matches!(
                    err,
                    EngineError::Io {
                        op: "appending to the log",
                        ..
                    }
                ),
                "write {n}: {err:?}"
            );
            assert_eq!(w.tail, 0, "write {n}");
            let bytes = storage.live_bytes(Path::new("log")).unwrap();
            assert_eq!(bytes[..4], [0; 4], "write {n}: the log still ends here");
            assert_ne!(
                bytes[FRAME_HEADER_LEN..][..8],
                [0; 8],
                "write {n}: body written"
            );
        }
    }

    #[test]
    fn the_buffer_of_a_large_frame_is_freed_and_a_small_one_kept() {
        let (mut w, reader, _file, _storage) = empty_log();
        append(&mut w, &reader, 1_000, 1).unwrap();
        w.release_large_buffer();
        assert!(
            w.buf.capacity() >= 1_000,
            "a small buffer is kept for reuse"
        );
        append(&mut w, &reader, KEEP_BUF + 1, 2).unwrap();
        w.release_large_buffer();
        assert_eq!(w.buf.capacity(), 0);
        // The next frame encodes into a fresh buffer.
        append(&mut w, &reader, 10, 3).unwrap();
        assert_eq!(w.tail, (1_000 + KEEP_BUF + 1 + 10) as u64);
    }

    #[test]
    fn a_failed_extension_is_an_error_and_keeps_the_allocated_length() {
        for (frame, what) in [(6_384, "extending"), (3_000, "zero-filling")] {
            let (mut w, reader, _file, storage) = empty_log();
            append(&mut w, &reader, 10_000, 7).unwrap();
            storage.set_plan(FaultPlan::FailOnce {
                op: FaultOp::Write,
                n: 0,
            });
            w.buf = vec![9; frame];
            let err = w.reserve(frame as u64, &reader).unwrap_err();
            assert!(
                matches!(
                    err,
                    EngineError::Io {
                        op: "preallocating the log",
                        ..
                    }
                ),
                "{what}: {err:?}"
            );
            assert_eq!(w.allocated, 12_288, "{what}");
        }
    }
}
