//! Writing a fresh log from the live records of the current one: the shared core of compaction
//! and backup.
//!
//! A rewrite copies the records that were live at a cut-off tail `t0` (read through the old
//! generation, which stays valid), then replays every frame written after `t0` from the old log,
//! re-encoding it at its new offset (and re-sealing it, since an entry's associated data is its
//! position). The new file gets a new file id.

use std::path::Path;
use std::sync::Arc;

use emdb_format::entry::{EntryRef, Op};
use emdb_format::scan::LOG_START;
use emdb_format::{FileHeader, Frame, HEADER_REGION_LEN};

use crate::apply::{apply_entry, apply_new_put};
use crate::engine::{Engine, Generation, new_file_id};
use crate::error::{Corruption, EngineError, Result};
use crate::frame_encode::prepare_frame;
use crate::index::{Index, indexes, misindexed};
use crate::lockfile::unix_millis;
use crate::log::mmap::Mapping;
use crate::log::reader::LogReader;
use crate::log::writer::LogWriter;
use crate::namespace::NamespaceTable;
use crate::recovery::{for_each_entry, index_seed};
use crate::sealer::Sealer;
use crate::storage::{OpenMode, Storage, StorageFile};

/// Target size of the batch frames a rewrite writes.
const COPY_FRAME_BYTES: usize = 1 << 20;

/// Records live at a cut-off: `(namespace id, name, entry offsets)`.
pub(crate) type LiveSet = Vec<(u32, String, Vec<u64>)>;

pub(crate) struct Rewrite {
    pub(crate) file: Arc<dyn StorageFile>,
    pub(crate) cur: Generation,
    pub(crate) names: NamespaceTable,
    pub(crate) writer: LogWriter,
    expire_before: Option<u64>,
}

/// An owned entry (for replayed frames whose bytes do not outlive the read).
struct OwnedEntry {
    op: Op,
    ns: u32,
    expires_at: u64,
    key: Vec<u8>,
    value: Vec<u8>,
}

impl OwnedEntry {
    fn borrow(&self) -> EntryRef<'_> {
        EntryRef {
            op: self.op,
            ns: self.ns,
            expires_at: self.expires_at,
            key: &self.key,
            value: &self.value,
        }
    }
}

impl Rewrite {
    /// Starts a new file at `tmp` with a new file id, sealed by `sealer` (`None`: plaintext).
    pub(crate) fn create(
        engine: &Engine,
        tmp: &Path,
        expire_before: Option<u64>,
        sealer: Option<Arc<dyn Sealer>>,
    ) -> Result<Self> {
        let storage: &dyn Storage = engine.config.storage.as_ref();
        let old = engine.generation.load();
        let created = if old.header.created_unix_ms == 0 {
            unix_millis()
        } else {
            old.header.created_unix_ms
        };
        let mut header = FileHeader::new_plain(new_file_id(), created);
        if let Some(s) = &sealer {
            s.init_header(&mut header)
                .map_err(|_| EngineError::Unseal { offset: 0 })?;
        }
        let file = storage
            .open(tmp, OpenMode::Truncate)
            .map_err(EngineError::io("creating a rewrite file"))?;
        file.write_at(&header.encode_region(), 0)
            .map_err(EngineError::io("writing a header"))?;
        let mut reader = LogReader::new(
            file.clone(),
            HEADER_REGION_LEN as u64,
            engine.config.use_mmap,
            header.file_id,
            sealer,
        )?;
        // Every entry of the new file is written by this rewrite.
        reader.set_verified_from(LOG_START);
        let index = Index::new(
            index_seed(&header.file_id, reader.sealer()),
            engine.config.range_index,
        );
        let mut writer = LogWriter::new(
            file.clone(),
            LOG_START,
            HEADER_REGION_LEN as u64,
            engine.config.prealloc_min,
        );
        writer.set_zero_fill(false);
        Ok(Rewrite {
            file,
            cur: Generation {
                reader,
                index,
                header,
            },
            names: NamespaceTable::default(),
            writer,
            expire_before,
        })
    }

    fn expired(&self, expires_at: u64) -> bool {
        self.expire_before
            .is_some_and(|now| expires_at != 0 && expires_at <= now)
    }

    /// Appends `entries` as one frame and applies them to the new index.
    fn append(&mut self, entries: &[EntryRef<'_>]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.write_frame(entries)?;
        for (e, &at) in entries.iter().zip(&self.writer.offsets) {
            apply_entry(&self.cur.index, &mut self.names, &self.cur.reader, e, at)?;
        }
        Ok(())
    }

    /// Appends puts of keys the new index does not hold yet (part of the live set, which has
    /// each key of a namespace once) as one frame, and indexes them without comparing keys.
    fn append_new(&mut self, puts: &[EntryRef<'_>]) -> Result<()> {
        if puts.is_empty() {
            return Ok(());
        }
        self.write_frame(puts)?;
        let index = &self.cur.index;
        for (e, &at) in index.prefetching(puts).zip(&self.writer.offsets) {
            apply_new_put(index, e, at)?;
        }
        Ok(())
    }

    /// Encodes `entries` as one frame and writes it at the new log's tail.
    fn write_frame(&mut self, entries: &[EntryRef<'_>]) -> Result<()> {
        // Nothing of a rewrite is trusted until the final fsync and rename, so lag 0 is true
        // whenever the file can be found under its final name.
        let synced = self.writer.tail;
        let frame = prepare_frame(&mut self.writer, &self.cur, synced, entries)?;
        self.writer.reserve(frame.len(), &self.cur.reader)?;
        self.writer.append(frame)?;
        Ok(())
    }

    /// Copies the live set (read from `src`), dropping records expired at the cut-off.
    pub(crate) fn copy_live(&mut self, src: &Generation, live: &LiveSet) -> Result<()> {
        let creates: Vec<EntryRef<'_>> = live
            .iter()
            .filter(|(id, _, _)| *id != 0)
            .map(|(id, name, _)| EntryRef::ns_create(*id, name.as_bytes()))
            .collect();
        self.append(&creates)?;
        match src.reader.plain_mapping() {
            Some(map) => self.copy_mapped(src, &map, live),
            None => self.copy_owned(src, live),
        }
    }

    /// [`Rewrite::copy_live`] from a plaintext log read through `map` (covering every offset
    /// of the live set): the entries are encoded straight from the map, not copied out first.
    fn copy_mapped(&mut self, src: &Generation, map: &Mapping, live: &LiveSet) -> Result<()> {
        let mut batch: Vec<EntryRef<'_>> = Vec::new();
        let mut bytes = 0usize;
        for (ns, _, offsets) in live {
            for &off in offsets {
                let e = src
                    .reader
                    .put_in(map, off)
                    .map_err(|e| EngineError::Corrupted {
                        offset: off,
                        reason: Corruption::Frame(e),
                    })?;
                // A slot that points elsewhere must not move another record into `ns`.
                if !indexes(*ns, &e) {
                    return Err(misindexed(off, *ns));
                }
                if self.expired(e.expires_at) {
                    continue;
                }
                bytes += e.key.len() + e.value.len() + 32;
                batch.push(e);
                if bytes >= COPY_FRAME_BYTES {
                    self.append_new(&batch)?;
                    batch.clear();
                    bytes = 0;
                }
            }
        }
        self.append_new(&batch)
    }

    /// [`Rewrite::copy_live`] through the reader (a sealed log, or one read with `pread`):
    /// each entry is decoded into an owned copy (a sealed one keeps the buffer it was
    /// decrypted into as its value).
    fn copy_owned(&mut self, src: &Generation, live: &LiveSet) -> Result<()> {
        let map = src.reader.mapping();
        let mut batch: Vec<OwnedEntry> = Vec::new();
        let mut bytes = 0usize;
        for (ns, _, offsets) in live {
            for &off in offsets {
                // A slot that points elsewhere must not move another record into `ns`.
                let (key, value, expires_at) =
                    src.reader.record_in(map.as_deref(), *ns, off, true)?;
                let e = OwnedEntry {
                    op: Op::Put,
                    ns: *ns,
                    expires_at,
                    key,
                    value,
                };
                if self.expired(e.expires_at) {
                    continue;
                }
                bytes += e.key.len() + e.value.len() + 32;
                batch.push(e);
                if bytes >= COPY_FRAME_BYTES {
                    self.flush_batch(&mut batch)?;
                    bytes = 0;
                }
            }
        }
        self.flush_batch(&mut batch)
    }

    fn flush_batch(&mut self, batch: &mut Vec<OwnedEntry>) -> Result<()> {
        let refs: Vec<EntryRef<'_>> = batch.iter().map(OwnedEntry::borrow).collect();
        self.append_new(&refs)?;
        batch.clear();
        Ok(())
    }

    /// Replays the frames of the old log in `[from, to)`, each as one frame of the new log.
    pub(crate) fn replay(&mut self, src: &LogReader, from: u64, to: u64) -> Result<()> {
        if from >= to {
            return Ok(());
        }
        let bytes = src.read_span(from, to)?;
        let mut pos = 0usize;
        while pos < bytes.len() {
            let at = from + pos as u64;
            let frame = Frame::decode(&bytes[pos..]).map_err(|e| EngineError::Corrupted {
                offset: at,
                reason: Corruption::Frame(e),
            })?;
            let mut entries = Vec::with_capacity(frame.item_count() as usize);
            for_each_entry(src, at, &frame, |e, _| {
                let mut owned = OwnedEntry {
                    op: e.op,
                    ns: e.ns,
                    expires_at: e.expires_at,
                    key: e.key.to_vec(),
                    value: e.value.to_vec(),
                };
                if owned.op == Op::Put && self.expired(owned.expires_at) {
                    owned = OwnedEntry {
                        op: Op::Delete,
                        expires_at: 0,
                        value: Vec::new(),
                        ..owned
                    };
                }
                entries.push(owned);
                Ok(())
            })?;
            let refs: Vec<EntryRef<'_>> = entries.iter().map(OwnedEntry::borrow).collect();
            self.append(&refs)?;
            pos += frame.len();
        }
        Ok(())
    }

    /// Cuts the preallocation (the new file is about the size of its live data) and syncs.
    pub(crate) fn seal_file(&mut self) -> Result<()> {
        self.file
            .set_len(self.writer.tail)
            .map_err(EngineError::io("trimming a rewrite file"))?;
        self.writer.truncated(self.writer.tail);
        // The file becomes the live log: its appends keep a zeroed window ahead again.
        self.writer.set_zero_fill(true);
        self.cur.reader.remap(self.writer.tail)?;
        self.file
            .sync_all()
            .map_err(EngineError::io("syncing a rewrite file"))
    }
}

impl Engine {
    /// The live set at this instant (taken under the writer mutex by the caller); offsets are
    /// unsorted, so the caller can sort them after releasing the mutex.
    pub(crate) fn live_set(&self, cur: &Generation) -> LiveSet {
        let names = self.names.read().list();
        names
            .into_iter()
            .map(|(id, name)| {
                (
                    id,
                    name,
                    cur.index.with_ns(id, |n| n.offsets()).unwrap_or_default(),
                )
            })
            .collect()
    }
}
