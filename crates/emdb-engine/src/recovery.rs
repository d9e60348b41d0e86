//! Open-time recovery: load the index snapshot if it is valid, replay the log after it, and
//! decide what to do where the log stops.
//!
//! A torn tail (an interrupted, never-acknowledged write) is reported so the caller can truncate
//! it; durable bytes that no longer decode refuse the open with their absolute offset. See
//! `emdb_format::scan` for how the two are told apart; in addition, the log below the end an
//! index snapshot of the file was taken at is durable by construction, so a frame there that
//! does not decode is corruption even where the scan alone would take it for a torn tail.

use std::borrow::Cow;
use std::path::Path;

use emdb_format::frame::FrameItem;
use emdb_format::scan::{LOG_START, Scanner, StopReason};
use emdb_format::{EntryRef, FileHeader};

use crate::apply::apply_entry;
use crate::error::{Corruption, EngineError, Result};
use crate::index::Index;
use crate::log::reader::LogReader;
use crate::namespace::NamespaceTable;
use crate::snapshot;
use crate::storage::{Storage, StorageFile};

/// What recovery found.
pub(crate) struct Recovered {
    pub(crate) index: Index,
    pub(crate) names: NamespaceTable,
    /// End of the valid log.
    pub(crate) tail: u64,
    /// Offset and CRC field of the last valid frame (0, 0 if none).
    pub(crate) last_frame: (u64, u32),
    /// Bytes after the tail that were not zero (a torn write to truncate).
    pub(crate) torn: bool,
    pub(crate) used_snapshot: bool,
    pub(crate) frames_replayed: u64,
    /// Where the scan began: every frame from here on had its CRC checked by this recovery.
    pub(crate) scanned_from: u64,
}

/// The index hash seed of a file: from its random id, or from the key when it is encrypted.
pub(crate) fn index_seed(
    file_id: &[u8; 16],
    sealer: Option<&std::sync::Arc<dyn crate::sealer::Sealer>>,
) -> u64 {
    match sealer {
        Some(s) => s.index_seed(file_id),
        None => seed_for(file_id),
    }
}

/// The hash seed of a plaintext file, derived from its random id.
fn seed_for(file_id: &[u8; 16]) -> u64 {
    let mut a = [0u8; 8];
    let mut b = [0u8; 8];
    a.copy_from_slice(&file_id[..8]);
    b.copy_from_slice(&file_id[8..]);
    u64::from_le_bytes(a) ^ u64::from_le_bytes(b).rotate_left(29)
}

/// The whole file as bytes: the map when there is one, else a copy.
pub(crate) fn image<'a>(
    reader: &'a LogReader,
    mapped: Option<&'a [u8]>,
    len: u64,
) -> Result<Cow<'a, [u8]>> {
    if let Some(m) = mapped {
        return Ok(Cow::Borrowed(m));
    }
    Ok(Cow::Owned(read_whole(reader.file().as_ref(), len)?))
}

pub(crate) fn read_whole(file: &dyn StorageFile, len: u64) -> Result<Vec<u8>> {
    let n = usize::try_from(len).map_err(|_| EngineError::InvalidArgument("file too large"))?;
    let mut buf = vec![0u8; n];
    file.read_at(&mut buf, 0)
        .map_err(EngineError::io("reading the log"))?;
    Ok(buf)
}

/// Runs `f` on every entry of a frame with its absolute offset.
pub(crate) fn for_each_entry(
    reader: &LogReader,
    frame_offset: u64,
    frame: &emdb_format::Frame<'_>,
    mut f: impl FnMut(&EntryRef<'_>, u64) -> Result<()>,
) -> Result<()> {
    for item in frame.items() {
        let (rel, item, _) = item.map_err(|e| EngineError::Corrupted {
            offset: frame_offset,
            reason: Corruption::Frame(e),
        })?;
        let at = frame_offset + rel as u64;
        match (item, reader.sealer()) {
            (FrameItem::Entry(e), None) => f(&e, at)?,
            (FrameItem::Sealed(s), Some(sealer)) => {
                let aad = crate::sealer::entry_aad(reader.file_id(), at);
                let plain = sealer
                    .open(&aad, s.sealed)
                    .map_err(|_| EngineError::Unseal { offset: at })?;
                let (e, _) = EntryRef::decode(&plain).map_err(|e| EngineError::Corrupted {
                    offset: at,
                    reason: Corruption::Frame(e),
                })?;
                f(&e, at)?;
            }
            // A plain entry in a sealed file, or the reverse.
            _ => {
                return Err(EngineError::Corrupted {
                    offset: at,
                    reason: Corruption::SealMismatch,
                });
            }
        }
    }
    Ok(())
}

/// Rebuilds the in-memory state of the log behind `reader`.
pub(crate) fn recover(
    storage: &dyn Storage,
    path: &Path,
    header: &FileHeader,
    reader: &LogReader,
    file_len: u64,
    ordered: bool,
) -> Result<Recovered> {
    let seed = index_seed(&header.file_id, reader.sealer());
    let map = reader.mapping();
    let image = image(reader, map.as_deref().map(|m| m.as_slice()), file_len)?;
    let stored = snapshot::load(storage, path, map.is_some());
    let checked = stored
        .as_ref()
        .and_then(|s| snapshot::check(s.bytes(), &header.file_id));
    let durable_end = checked.as_ref().map_or(LOG_START, |c| c.point.log_end);
    let snap = checked.and_then(|c| snapshot::decode(c, &image, reader));
    let used_snapshot = snap.is_some();
    let (index, mut names, start, mut last_frame) = match snap {
        Some(s) => {
            let (index, names, point) = snapshot::into_index(s, seed, ordered);
            (
                index,
                names,
                point.log_end,
                (point.last_frame_offset, point.last_frame_crc),
            )
        }
        None => (
            Index::new(seed, ordered),
            NamespaceTable::default(),
            LOG_START,
            (0, 0),
        ),
    };
    let mut scanner = Scanner::new(&image, start);
    let mut frames = 0u64;
    for sf in scanner.by_ref() {
        let sealed = sf.frame.flags.is_sealed();
        if sealed != header.is_encrypted() {
            return Err(EngineError::Corrupted {
                offset: sf.offset,
                reason: Corruption::SealMismatch,
            });
        }
        for_each_entry(reader, sf.offset, &sf.frame, |e, at| {
            apply_entry(&index, &mut names, reader, e, at)
        })?;
        let crc = u32::from_le_bytes([
            sf.frame.bytes[4],
            sf.frame.bytes[5],
            sf.frame.bytes[6],
            sf.frame.bytes[7],
        ]);
        last_frame = (sf.offset, crc);
        frames += 1;
    }
    let stop = scanner
        .stop()
        .ok_or(EngineError::InvalidArgument("scanner did not stop"))?;
    if stop.offset < durable_end
        && let StopReason::TornTail { error } = stop.reason
    {
        // IMPORTANT: a snapshot of this file says its log was durable up to `durable_end` (even
        // one that no longer matches the log and was not used): a frame below that which does
        // not decode was damaged after the fact, never torn by a crash, and truncating it would
        // drop acknowledged records without a word. A log that simply ends below it (an older
        // copy of the file, or a snapshot altered behind its checksum) is not refused: the
        // snapshot is a cache and never makes an intact log unopenable.
        return Err(EngineError::Corrupted {
            offset: stop.offset,
            reason: error.map_or(Corruption::Zeroed, Corruption::Frame),
        });
    }
    let torn = match stop.reason {
        StopReason::EndOfLog => false,
        StopReason::TornTail { .. } => true,
        StopReason::Corrupt { error, .. } => {
            let reason = error.map_or(Corruption::Zeroed, Corruption::Frame);
            return Err(EngineError::Corrupted {
                offset: stop.offset,
                reason,
            });
        }
        StopReason::Unsupported { error } => {
            return Err(EngineError::UnsupportedFrame {
                offset: stop.offset,
                source: error,
            });
        }
    };
    Ok(Recovered {
        index,
        names,
        tail: stop.offset,
        last_frame,
        torn,
        used_snapshot,
        frames_replayed: frames,
        scanned_from: start,
    })
}
