//! `Engine`: one open log file with its index, writer, durability and lock.
//!
//! Concurrency: readers load the current [`Generation`] (log reader plus index) without locks
//! beyond the index shard they read. Every mutation takes the writer mutex, appends one frame,
//! then updates the index, so the index always reflects a prefix of the log. Compaction swaps in
//! a whole new generation under the writer mutex.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use emdb_format::scan::LOG_START;
use emdb_format::{FileHeader, HEADER_REGION_LEN};
use parking_lot::{Mutex, RwLock};

use crate::config::EngineConfig;
use crate::durability::publish;
use crate::error::{EngineError, Result};
use crate::group_commit::GroupCommit;
use crate::index::Index;
use crate::lockfile::{sidecar, unix_millis};
use crate::log::mmap::Mapping;
use crate::log::reader::LogReader;
use crate::log::writer::LogWriter;
use crate::namespace::NamespaceTable;
use crate::recovery;
use crate::snapshot::{self, SnapshotPoint};
use crate::storage::{LockGuard, OpenMode, Storage, StorageFile};

/// The log file and index that reads currently go to.
#[derive(Debug)]
pub(crate) struct Generation {
    pub(crate) reader: LogReader,
    pub(crate) index: Index,
    pub(crate) header: FileHeader,
}

/// How an open went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenReport {
    /// The database file was created by this open.
    pub created: bool,
    /// The index snapshot was valid and used.
    pub used_snapshot: bool,
    /// Frames replayed from the log.
    pub frames_replayed: u64,
    /// A torn tail was cut off.
    pub truncated_torn_tail: bool,
}

/// Sizes and counts of an open database.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EngineStats {
    /// Live records across all namespaces.
    pub live_records: u64,
    /// Named namespaces (the default namespace excluded).
    pub namespace_count: u64,
    /// End of the log: header plus every frame.
    pub logical_size: u64,
    /// File length, preallocation included.
    pub file_size: u64,
    /// Zero-filled bytes after the log.
    pub preallocated: u64,
    /// RAM used by the hash index slots.
    pub index_bytes: u64,
    /// `fdatasync` calls made by flushes since open.
    pub syncs: u64,
    /// Live records per namespace: id, name, count (default first, then creation order).
    pub namespaces: Vec<(u32, String, u64)>,
}

/// What a zero-copy point read needs, behind one pointer: the generation and, for a plaintext
/// file read through a map, the current map. Replaced under the writer mutex whenever either
/// changes (the file grew, or compaction swapped it), so a read does one lock-free load where
/// loading the generation and then its map would be two.
///
/// Invariant: `map` is a map of `cur`'s file. It may be older than the reader's current map
/// (the writer grows the file, then publishes a new view); a read that finds an offset past it
/// takes the general path, which loads the current map.
#[derive(Debug)]
pub(crate) struct ReadView {
    pub(crate) cur: Arc<Generation>,
    pub(crate) map: Option<Arc<Mapping>>,
    /// Which view this is (see [`Engine::view_epoch`]).
    pub(crate) epoch: u64,
}

impl ReadView {
    fn of(cur: Arc<Generation>, epoch: u64) -> ReadView {
        let map = cur.reader.plain_mapping();
        ReadView { cur, map, epoch }
    }
}

/// A copy of the default namespace's counts, kept by the writer. The live count is stored before
/// the expiring count and read after it, so a reader that sees an expiring count of zero sees a
/// live count at least as new.
#[derive(Debug)]
pub(crate) struct DefaultCounts {
    live: AtomicU64,
    expiring: AtomicU64,
}

impl DefaultCounts {
    fn of(cur: &Generation) -> Self {
        let c = DefaultCounts {
            live: AtomicU64::new(0),
            expiring: AtomicU64::new(0),
        };
        c.set(cur);
        c
    }

    /// Copies the default namespace's counts of `cur`. The caller holds the writer mutex, with
    /// `cur` current (or about to be, in a compaction swap).
    pub(crate) fn set(&self, cur: &Generation) {
        let (live, expiring) = cur.index.default_counts();
        self.live.store(live, Ordering::Release);
        self.expiring.store(expiring, Ordering::Release);
    }

    /// The live count if no live record has an expiry.
    #[inline]
    pub(crate) fn live_if_none_expiring(&self) -> Option<u64> {
        (self.expiring.load(Ordering::Acquire) == 0).then(|| self.live.load(Ordering::Acquire))
    }
}

/// An open database log.
#[derive(Debug)]
pub struct Engine {
    pub(crate) path: PathBuf,
    pub(crate) config: EngineConfig,
    pub(crate) generation: ArcSwap<Generation>,
    /// See [`ReadView`].
    pub(crate) view: ArcSwap<ReadView>,
    /// The epoch of the view in `view`, stored after the view and before any record that
    /// needed it (one past the old view's map) is written or indexed. So a reader that still
    /// sees the epoch of the view it holds, after reading offsets from the index, knows that
    /// the view's map covers their records.
    pub(crate) view_epoch: AtomicU64,
    /// The default namespace's live and expiring counts as of the last commit (or open, or
    /// compaction swap), so `len()` of the default namespace is two loads.
    pub(crate) default_counts: DefaultCounts,
    pub(crate) writer: Mutex<LogWriter>,
    pub(crate) names: RwLock<NamespaceTable>,
    pub(crate) commit: GroupCommit,
    /// Serialises compaction, backup and checkpoint.
    pub(crate) maintenance: Mutex<()>,
    /// The (file id, log end) the snapshot on disk describes, when known. A checkpoint at the
    /// same point would write the same bytes again, so it only flushes.
    snapshot_at: Mutex<Option<([u8; 16], u64)>>,
    report: OpenReport,
    _lock: LockGuard,
}

/// A fresh random file id (from the OS random source, with a hash-based fallback).
pub(crate) fn new_file_id() -> [u8; 16] {
    let mut id = [0u8; 16];
    let from_os = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut id));
    if from_os.is_err() {
        use std::hash::{BuildHasher, Hasher};
        for (i, chunk) in id.chunks_mut(8).enumerate() {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(u128::from(unix_millis()) << 64 | i as u128);
            h.write_u32(std::process::id());
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    id
}

/// Creates a new empty database file at `path` atomically: header to a temporary file, fsync,
/// rename, directory fsync. A crash leaves either no file or a valid empty database.
pub(crate) fn create_file(storage: &dyn Storage, path: &Path, header: &FileHeader) -> Result<()> {
    let tmp = sidecar(path, ".create.tmp");
    let f = storage
        .open(&tmp, OpenMode::Truncate)
        .map_err(EngineError::io("creating the database"))?;
    f.write_at(&header.encode_region(), 0)
        .map_err(EngineError::io("writing the header"))?;
    publish(storage, f.as_ref(), &tmp, path)
}

pub(crate) fn read_header(file: &dyn StorageFile) -> Result<FileHeader> {
    let len = file
        .len()
        .map_err(EngineError::io("reading the file length"))?;
    if len < HEADER_REGION_LEN as u64 {
        // A short file that does not even start like ours is foreign, not truncated.
        let n = usize::try_from(len)
            .unwrap_or(0)
            .min(emdb_format::MAGIC.len());
        let mut start = vec![0u8; n];
        file.read_at(&mut start, 0)
            .map_err(EngineError::io("reading the header"))?;
        if start[..] != emdb_format::MAGIC[..n] {
            return Err(EngineError::Header(emdb_format::DecodeError::BadMagic));
        }
        return Err(EngineError::Header(emdb_format::DecodeError::Incomplete {
            needed: HEADER_REGION_LEN as u64,
        }));
    }
    let mut region = vec![0u8; HEADER_REGION_LEN];
    file.read_at(&mut region, 0)
        .map_err(EngineError::io("reading the header"))?;
    FileHeader::decode_region(&region).map_err(EngineError::Header)
}

impl Engine {
    /// Opens (creating if absent or empty) the database at `path`.
    ///
    /// Takes the single-writer lock, validates the header, loads the index snapshot if valid,
    /// replays the log after it, truncates a torn tail, and syncs what it found so that later
    /// frames' lag fields are truthful.
    pub fn open(path: impl AsRef<Path>, config: EngineConfig) -> Result<Arc<Engine>> {
        let storage = config.storage.clone();
        let path = storage
            .canonical(path.as_ref())
            .map_err(EngineError::io("resolving the database path"))?;
        let lock = storage.lock(&path)?;
        let mut created = false;
        let empty = match storage.open(&path, OpenMode::Existing) {
            Ok(f) => {
                f.len()
                    .map_err(EngineError::io("reading the file length"))?
                    == 0
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(e) => {
                return Err(EngineError::Io {
                    op: "opening the database",
                    source: e,
                });
            }
        };
        if empty {
            let mut header = FileHeader::new_plain(new_file_id(), unix_millis());
            if let Some(s) = &config.sealer {
                s.init_header(&mut header)
                    .map_err(|_| EngineError::Unseal { offset: 0 })?;
            }
            storage
                .remove(&snapshot::snapshot_path(&path))
                .map_err(EngineError::io("removing a stale snapshot"))?;
            create_file(storage.as_ref(), &path, &header)?;
            created = true;
        }
        let file = storage
            .open(&path, OpenMode::Existing)
            .map_err(EngineError::io("opening the database"))?;
        let header = read_header(file.as_ref())?;
        match (&config.sealer, header.is_encrypted()) {
            (None, true) => {
                return Err(EngineError::SealerMismatch {
                    file_encrypted: true,
                });
            }
            (Some(_), false) => {
                return Err(EngineError::SealerMismatch {
                    file_encrypted: false,
                });
            }
            (Some(s), true) => s
                .check_header(&header)
                .map_err(|_| EngineError::KeyMismatch)?,
            (None, false) => {}
        }
        let file_len = file
            .len()
            .map_err(EngineError::io("reading the file length"))?;
        let mut reader = LogReader::new(
            file.clone(),
            file_len,
            config.use_mmap,
            header.file_id,
            config.sealer.clone(),
        )?;
        let rec = recovery::recover(
            storage.as_ref(),
            &path,
            &header,
            &reader,
            file_len,
            config.range_index,
        )?;
        reader.set_verified_from(rec.scanned_from);
        let mut allocated = file_len;
        if rec.torn {
            // IMPORTANT: cut the torn bytes and make the cut durable before any new frame is
            // written after them, or a later recovery could mistake them for data.
            file.set_len(rec.tail)
                .map_err(EngineError::io("truncating a torn tail"))?;
            file.sync_all()
                .map_err(EngineError::io("syncing a truncation"))?;
            reader.remap(rec.tail)?;
            allocated = rec.tail;
        } else {
            // What a crashed predecessor left in the page cache becomes durable now, so the lag
            // of frames written from here on tells the truth.
            file.sync_data()
                .map_err(EngineError::io("syncing the log at open"))?;
        }
        let mut writer = LogWriter::new(file.clone(), rec.tail, allocated, config.prealloc_min);
        writer.last_frame = rec.last_frame;
        let report = OpenReport {
            created,
            used_snapshot: rec.used_snapshot,
            frames_replayed: rec.frames_replayed,
            truncated_torn_tail: rec.torn,
        };
        let snapshot_at =
            (rec.used_snapshot && rec.frames_replayed == 0).then_some((header.file_id, rec.tail));
        let generation = Arc::new(Generation {
            reader,
            index: rec.index,
            header,
        });
        Ok(Arc::new(Engine {
            path,
            snapshot_at: Mutex::new(snapshot_at),
            commit: GroupCommit::new(file, rec.tail),
            view: ArcSwap::from_pointee(ReadView::of(generation.clone(), 0)),
            view_epoch: AtomicU64::new(0),
            default_counts: DefaultCounts::of(&generation),
            generation: ArcSwap::new(generation),
            writer: Mutex::new(writer),
            names: RwLock::new(rec.names),
            maintenance: Mutex::new(()),
            config,
            report,
            _lock: lock,
        }))
    }

    /// The canonical path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the open found.
    pub fn open_report(&self) -> OpenReport {
        self.report
    }

    /// The current file header.
    pub fn header(&self) -> FileHeader {
        self.generation.load().header.clone()
    }

    /// Whether an earlier failure poisoned the engine.
    pub fn is_poisoned(&self) -> bool {
        self.commit.is_poisoned()
    }

    /// Makes every write that returned before this call durable.
    pub fn flush(&self) -> Result<()> {
        self.commit.flush(self.config.sync)
    }

    /// Flushes, then writes an index snapshot so the next open replays only what follows.
    pub fn checkpoint(&self) -> Result<()> {
        let _m = self.maintenance.lock();
        self.checkpoint_locked()
    }

    /// [`Engine::checkpoint`] for callers already holding the maintenance mutex.
    pub(crate) fn checkpoint_locked(&self) -> Result<()> {
        let (captured, at) = {
            let w = self.writer.lock();
            self.commit.check()?;
            let cur = self.generation.load();
            let at = (cur.header.file_id, w.tail);
            if *self.snapshot_at.lock() == Some(at) {
                drop(w);
                return self.flush();
            }
            let point = SnapshotPoint {
                log_end: w.tail,
                last_frame_offset: w.last_frame.0,
                last_frame_crc: w.last_frame.1,
            };
            let names = self.names.read();
            (
                snapshot::capture(&cur.header.file_id, point, &names, &cur.index),
                at,
            )
        };
        // IMPORTANT: the frames the snapshot covers must be durable before the snapshot is.
        self.flush()?;
        let bytes = snapshot::encode(&captured);
        drop(captured);
        snapshot::write(self.config.storage.as_ref(), &self.path, &bytes)?;
        *self.snapshot_at.lock() = Some(at);
        Ok(())
    }

    /// Flushes and writes a snapshot (if configured), reporting errors that `Drop` would hide.
    pub fn close(&self) -> Result<()> {
        if self.config.snapshot_on_close {
            self.checkpoint()
        } else {
            self.flush()
        }
    }

    /// Counts and sizes.
    pub fn stats(&self) -> EngineStats {
        let w = self.writer.lock();
        let cur = self.generation.load();
        let names = self.names.read();
        let namespaces: Vec<(u32, String, u64)> = names
            .list()
            .into_iter()
            .map(|(id, n)| {
                let live = cur.index.with_ns(id, |ns| ns.len()).unwrap_or(0);
                (id, n, live)
            })
            .collect();
        EngineStats {
            live_records: cur.index.total_live(),
            namespace_count: names.named_count() as u64,
            logical_size: w.tail,
            file_size: w.allocated,
            preallocated: w.allocated.saturating_sub(w.tail),
            index_bytes: cur.index.hash_bytes(),
            syncs: self.commit.sync_count(),
            namespaces,
        }
    }

    /// End of the log (the offset the next frame is written at).
    pub fn logical_size(&self) -> u64 {
        self.writer.lock().tail
    }

    /// Offset where the log starts.
    pub const LOG_START: u64 = LOG_START;
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Best effort: errors here cannot be reported; `close()` reports them. Once everything
        // is durable, the preallocated zeros past the tail are cut: the next open would
        // otherwise read all of them (up to 64 MiB, holes included) looking for frames.
        if !self.commit.is_poisoned() && self.close().is_ok() {
            let _ = self.writer.get_mut().cut_preallocation();
        }
    }
}

impl Engine {
    /// Publishes a new [`ReadView`] of the current generation and its current map. The caller
    /// holds the writer mutex (or is compaction swapping the generation under it), and has
    /// written nothing yet that needs the new map.
    pub(crate) fn publish_view(&self) {
        let epoch = self.view_epoch.load(Ordering::Relaxed) + 1;
        self.view
            .store(Arc::new(ReadView::of(self.generation.load_full(), epoch)));
        self.view_epoch.store(epoch, Ordering::Release);
    }

    /// Whether `view` is still the current view: then its map covers every record whose
    /// offset the caller read from the index before asking.
    pub(crate) fn view_is_current(&self, view: &ReadView) -> bool {
        self.view_epoch.load(Ordering::Acquire) == view.epoch
    }
}
