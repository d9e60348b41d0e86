//! Unit tests of the writer: appends, preallocation, streamed frames and their failures.

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

    /// The writes, with each run of back-to-back ones (zeros go in pieces of at most
    /// [`ZERO_PIECE`]) merged into one range.
    fn runs(&self) -> Vec<(u64, u64)> {
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for &(start, end) in self.writes.lock().iter() {
            match runs.last_mut() {
                Some(last) if last.1 == start => last.1 = end,
                _ => runs.push((start, end)),
            }
        }
        runs
    }
}

/// A writer over an empty file with 4 KiB preallocation steps, its reader, the recording
/// file and the storage it lives in.
fn empty_log() -> (LogWriter, LogReader, Recorded, FaultyStorage) {
    empty_log_with_chunks(4096)
}

fn empty_log_with_chunks(min_chunk: u64) -> (LogWriter, LogReader, Recorded, FaultyStorage) {
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
        LogWriter::new(file.clone(), 0, 0, min_chunk),
        reader,
        Recorded { file, writes },
        storage,
    )
}

/// Asserts that `err` is an I/O error of operation `op` (`context` names the case, if any).
#[track_caller]
fn assert_io(err: &EngineError, op: &str, context: &str) {
    assert!(
        matches!(err, EngineError::Io { op: o, .. } if *o == op),
        "{context} {err:?}"
    );
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
    assert_io(&err, "appending to the log", "");
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

/// Streams `values` as one frame after a first frame of 24 bytes, and checks what reached the
/// file and in which writes: the body back to back from the end of the header, every body write
/// but the last ending at a multiple of [`FOLIO`], then the header. Returns the writes.
fn check_streamed(values: &[Vec<u8>], body_writes: usize) -> Vec<(u64, u64)> {
    let (mut w, reader, file, storage) = empty_log();
    append(&mut w, &reader, 24, 1).unwrap();
    let (entries, built) = big_batch(values);
    let frame = PendingFrame::Streamed(FrameStream::new(&entries, 0).unwrap(), None);
    assert_eq!(frame.len(), built.len() as u64);
    w.reserve(frame.len(), &reader).unwrap();
    file.writes.lock().clear();
    assert_eq!(w.append(frame).unwrap(), 24);
    let writes = file.writes.lock().clone();
    assert_eq!(writes.len(), body_writes + 1, "{writes:?}");
    let (body, header) = writes.split_at(body_writes);
    assert_eq!(body[0].0, 24 + FRAME_HEADER_LEN as u64);
    for pair in body.windows(2) {
        assert_eq!(pair[0].1, pair[1].0);
        assert_eq!(pair[0].1 % FOLIO, 0, "{writes:?}");
    }
    assert_eq!(body[body_writes - 1].1, 24 + built.len() as u64);
    assert_eq!(header[0], (24, 24 + FRAME_HEADER_LEN as u64));
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
    writes
}

#[test]
fn a_streamed_frame_goes_body_first_in_folio_aligned_pieces_then_its_header() {
    // About 5 MB of 1 KB entries: up to the first 2 MiB boundary, to the second, the rest.
    let writes = check_streamed(&values(5_000), 3);
    assert_eq!((writes[0].1, writes[1].1), (FOLIO, 2 * FOLIO));
}

#[test]
fn values_larger_than_a_folio_are_written_up_to_the_last_boundary_they_pass() {
    // 3 MiB values: the first write ends at 2 MiB (the first value's bytes past it start the
    // next piece), the second, with the second value, at 6 MiB, two boundaries on; then the
    // rest.
    let values: Vec<Vec<u8>> = (0..3u8).map(|i| vec![i + 1; 3 << 20]).collect();
    let writes = check_streamed(&values, 3);
    assert_eq!((writes[0].1, writes[1].1), (FOLIO, 3 * FOLIO));
}

#[test]
fn a_failed_write_of_a_streamed_frame_leaves_its_length_field_zero() {
    // The second piece fails, then (another run) the header.
    for n in [1, 3] {
        let (mut w, reader, _file, storage) = empty_log();
        let values = values(5_000);
        let (entries, _) = big_batch(&values);
        let frame = PendingFrame::Streamed(FrameStream::new(&entries, 0).unwrap(), None);
        w.reserve(frame.len(), &reader).unwrap();
        storage.set_plan(FaultPlan::FailOnce {
            op: FaultOp::Write,
            n,
        });
        let err = w.append(frame).unwrap_err();
        assert_io(&err, "appending to the log", &format!("write {n}"));
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
    let (mut w, reader, _file, storage) = empty_log();
    append(&mut w, &reader, 10_000, 7).unwrap();
    reserve_failing_its_first_write(&mut w, &reader, &storage, 6_384);
    assert_eq!(w.allocated, 12_288);
}

/// Reserves room for a frame of `len` bytes with the first write (or length change) failing:
/// a preallocation error.
fn reserve_failing_its_first_write(
    w: &mut LogWriter,
    reader: &LogReader,
    storage: &FaultyStorage,
    len: usize,
) {
    storage.set_plan(FaultPlan::FailOnce {
        op: FaultOp::Write,
        n: 0,
    });
    w.buf = vec![9; len];
    let err = w.reserve(len as u64, reader).unwrap_err();
    assert_io(&err, "preallocating the log", "");
}

#[test]
fn a_failed_zero_fill_is_an_error_and_the_next_reserve_zeroes_again() {
    let (mut w, reader, file, storage) = empty_log_with_chunks(4 << 20);
    append(&mut w, &reader, 10_000, 7).unwrap();
    // A frame past the zeroed window, within the file: its zeros fail to be written.
    let frame = 2 << 20;
    reserve_failing_its_first_write(&mut w, &reader, &storage, frame);
    file.writes.lock().clear();
    w.reserve(frame as u64, &reader).unwrap();
    let end = 10_000 + frame as u64;
    assert_eq!(file.runs(), [(end, end + ZERO_AHEAD)]);
}

/// The file grows a chunk at a time, but zeros are written only a window ahead of the frame
/// that needed them: a frame within the window writes nothing else, one that passes it zeroes
/// the next window from its own end.
#[test]
fn zeros_are_kept_a_window_ahead_of_the_tail_not_a_chunk() {
    let (mut w, reader, file, storage) = empty_log_with_chunks(8 << 20);
    append(&mut w, &reader, 10_000, 7).unwrap();
    assert_eq!(w.allocated, 8 << 20);
    assert_eq!(file.len().unwrap(), 8 << 20);
    assert_eq!(
        file.runs(),
        [(10_000, 10_000 + ZERO_AHEAD), (0, 10_000)],
        "one window of zeros, not the chunk, then the frame"
    );
    let writes = file.writes.lock().clone();
    let (zeros, frame) = writes.split_at(writes.len() - 1);
    assert_eq!(zeros.len(), (ZERO_AHEAD as usize).div_ceil(ZERO_PIECE));
    assert!(
        zeros.iter().all(|(s, e)| e - s <= ZERO_PIECE as u64),
        "zeros go in pieces of at most ZERO_PIECE: {zeros:?}"
    );
    assert_eq!(frame, [(0, 10_000)]);
    file.writes.lock().clear();
    let small = 1_000;
    append(&mut w, &reader, small, 8).unwrap();
    assert_eq!(*file.writes.lock(), [(10_000, 11_000)], "inside the window");
    file.writes.lock().clear();
    let crossing = ZERO_AHEAD as usize;
    append(&mut w, &reader, crossing, 9).unwrap();
    let end = 11_000 + ZERO_AHEAD;
    assert_eq!(file.runs()[0], (end, end + ZERO_AHEAD));
    let bytes = storage.live_bytes(Path::new("log")).unwrap();
    assert!(bytes[end as usize..].iter().all(|&b| b == 0));
}

/// A rewrite file extends without zeroing (nothing syncs it before it is whole); once it is cut
/// to its tail and live, its appends keep a zeroed window again.
#[test]
fn a_writer_without_zero_fill_only_extends_until_it_is_turned_back_on() {
    let (mut w, reader, file, _storage) = empty_log_with_chunks(1 << 20);
    w.set_zero_fill(false);
    append(&mut w, &reader, 10_000, 7).unwrap();
    append(&mut w, &reader, 3 << 20, 8).unwrap();
    let tail = w.tail;
    // The frames only (the second in 1 MiB pieces), back to back: no zeros.
    let writes = file.writes.lock().clone();
    assert_eq!(writes.first().map(|w| w.0), Some(0));
    assert!(writes.windows(2).all(|p| p[0].1 == p[1].0), "{writes:?}");
    assert_eq!(writes.last().map(|w| w.1), Some(tail), "{writes:?}");
    // Cut to its tail, as compaction does before the file goes live.
    file.file.set_len(tail).unwrap();
    w.truncated(tail);
    reader.remap(tail).unwrap();
    w.set_zero_fill(true);
    file.writes.lock().clear();
    append(&mut w, &reader, 100, 9).unwrap();
    let zeros = (tail + 100, (tail + 100 + ZERO_AHEAD).min(w.allocated));
    assert_eq!(file.runs(), [zeros, (tail, tail + 100)]);
}

/// Cutting the preallocation leaves the file at the tail and the writer growing it again on
/// the next append; a cut that fails is an error that leaves the writer's view unchanged (the
/// file keeps its zeros, which are harmless).
#[test]
fn cutting_the_preallocation_ends_the_file_at_the_tail() {
    let (mut w, reader, file, storage) = empty_log_with_chunks(1 << 20);
    append(&mut w, &reader, 10_000, 7).unwrap();
    assert_eq!(file.len().unwrap(), 1 << 20);
    storage.set_plan(FaultPlan::FailOnce {
        op: FaultOp::Write,
        n: 0,
    });
    let err = w.cut_preallocation().unwrap_err();
    assert_io(&err, "cutting the preallocation", "");
    assert_eq!((w.allocated, file.len().unwrap()), (1 << 20, 1 << 20));
    w.cut_preallocation().unwrap();
    assert_eq!((w.allocated, file.len().unwrap()), (10_000, 10_000));
    w.cut_preallocation().unwrap();
    assert_eq!(file.len().unwrap(), 10_000, "a second cut changes nothing");
    // The next append grows the file and zeroes a window past itself again.
    file.writes.lock().clear();
    append(&mut w, &reader, 100, 8).unwrap();
    assert_eq!(w.allocated, 2 << 20);
    assert_eq!(
        file.runs(),
        [(10_100, 10_100 + ZERO_AHEAD), (10_000, 10_100)]
    );
}
