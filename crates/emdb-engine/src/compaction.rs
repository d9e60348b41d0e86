//! Online compaction and backup: rewrite the live records into a new file while readers and
//! writers carry on.
//!
//! Compaction steps (also in `docs/design.md`):
//! 1. Under the writer mutex, note the tail `t0` and the offsets of every live record.
//! 2. Without any lock, copy those records into `<path>.compact.tmp` (readers use the old map).
//! 3. Without any lock, replay frames written after `t0` while the gap shrinks (until it is
//!    small, it stops shrinking, or after 8 passes); `fsync` the new file.
//! 4. Under the writer mutex: replay the last frames, trim the preallocation, `fsync` the new
//!    file, rename it over `<path>`, `fsync` the directory, and swap the new generation in.
//! 5. Write an index snapshot for the new file (temp file, `fsync`, rename, directory `fsync`).
//!
//! Backup runs steps 1-4 into `<target>.backup.tmp` and renames it over `<target>` instead of
//! swapping: the target is replaced atomically, never missing.

use std::path::Path;

use crate::durability::parent_dir;
use crate::engine::Engine;
use crate::error::{EngineError, Result};
use crate::lockfile::sidecar;
use crate::rewrite::Rewrite;
use crate::sealer::Sealer;
use crate::snapshot::snapshot_path;
use std::sync::Arc;

/// The unlocked catch-up stops once fewer bytes than this remain.
const CATCH_UP_SLACK: u64 = 256 << 10;
/// Most unlocked catch-up passes before finishing under the writer mutex.
const MAX_UNLOCKED_PASSES: usize = 8;

/// What a compaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompactReport {
    /// Log size before.
    pub bytes_before: u64,
    /// Log size after.
    pub bytes_after: u64,
    /// Live records after.
    pub live_records: u64,
}

impl Engine {
    /// Steps 1-3: the rewrite with everything but the last frames.
    fn rewrite_online(
        &self,
        tmp: &Path,
        expire_before: Option<u64>,
        sealer: Option<Arc<dyn Sealer>>,
    ) -> Result<(Rewrite, u64, Arc<crate::engine::Generation>)> {
        let (t0, src, mut live) = {
            let w = self.writer.lock();
            self.commit.check()?;
            let src = self.generation.load_full();
            let live = self.live_set(&src);
            (w.tail, src, live)
        };
        // Copy in file order: sequential reads of the old log.
        for (_, _, offsets) in &mut live {
            offsets.sort_unstable();
        }
        let mut rw = Rewrite::create(self, tmp, expire_before, sealer)?;
        rw.copy_live(&src, &live)?;
        // Catch up without the lock while that converges. A writer can append faster than a
        // replay copies, so stop once the gap no longer shrinks (or after a few passes); the
        // final catch-up under the writer mutex then always finishes.
        let mut done = t0;
        let mut last_gap = u64::MAX;
        for _ in 0..MAX_UNLOCKED_PASSES {
            let now = self.logical_size();
            let gap = now.saturating_sub(done);
            if gap < CATCH_UP_SLACK || gap >= last_gap {
                break;
            }
            rw.replay(&src.reader, done, now)?;
            done = now;
            last_gap = gap;
        }
        rw.file
            .sync_data()
            .map_err(EngineError::io("syncing a rewrite file"))?;
        Ok((rw, done, src))
    }

    /// Rewrites the log with only live records (dropping those expired at `expire_before`),
    /// without blocking readers and blocking writers only for the final catch-up.
    pub fn compact(&self, expire_before: Option<u64>) -> Result<CompactReport> {
        let sealer = self.generation.load().reader.sealer().cloned();
        self.rewrite_in_place(expire_before, sealer)
    }

    /// Rewrites the database in place under another sealer (`None`: plaintext), keeping every
    /// record, expired or not: how encryption is enabled, disabled or its key rotated. The new
    /// file replaces the old one with the same crash safety as [`Engine::compact`].
    pub fn reseal(&self, sealer: Option<Arc<dyn Sealer>>) -> Result<CompactReport> {
        self.rewrite_in_place(None, sealer)
    }

    fn rewrite_in_place(
        &self,
        expire_before: Option<u64>,
        sealer: Option<Arc<dyn Sealer>>,
    ) -> Result<CompactReport> {
        let _m = self.maintenance.lock();
        let storage = self.config.storage.clone();
        let tmp = sidecar(&self.path, ".compact.tmp");
        let result: Result<_> = (|| {
            let (mut rw, done, src) = self.rewrite_online(&tmp, expire_before, sealer)?;
            let mut w = self.writer.lock();
            self.commit.check()?;
            let bytes_before = w.tail;
            rw.replay(&src.reader, done, w.tail)?;
            rw.seal_file()?;
            storage
                .rename(&tmp, &self.path)
                .map_err(EngineError::io("renaming the compacted file"))?;
            if let Err(source) = storage.sync_dir(&parent_dir(&self.path)) {
                // The rename may or may not survive a crash: refuse writes until reopened.
                self.commit.poison();
                return Err(EngineError::Io {
                    op: "syncing the directory after compaction",
                    source,
                });
            }
            let tail = rw.writer.tail;
            let live_records = rw.cur.index.total_live();
            *self.names.write() = rw.names;
            let file = rw.file.clone();
            let cur = Arc::new(rw.cur);
            self.default_counts.set(&cur);
            // Still under the writer lock: no write reaches the new generation before scans of
            // the old one learn they must look keys up again.
            self.generation.swap(cur).index.retire();
            self.publish_view();
            *w = rw.writer;
            self.commit.switch_file(file, tail);
            Ok(CompactReport {
                bytes_before,
                bytes_after: tail,
                live_records,
            })
        })();
        if result.is_err() {
            // Best effort: the temporary file is garbage either way.
            let _ = storage.remove(&tmp);
            return result;
        }
        self.checkpoint_locked()?;
        result
    }

    /// Writes a self-contained copy of the database to `target`, replacing it atomically.
    ///
    /// The copy holds every write that returned before this call (and possibly later ones),
    /// without records expired at `expire_before`. `target` must not be this database or an open
    /// one.
    pub fn backup_to(&self, target: &Path, expire_before: Option<u64>) -> Result<()> {
        let storage = self.config.storage.clone();
        let target = storage
            .canonical(target)
            .map_err(EngineError::io("resolving the backup path"))?;
        if target == self.path {
            return Err(EngineError::InvalidArgument(
                "backup target must differ from the database",
            ));
        }
        let _target_lock = storage.lock(&target)?;
        let _m = self.maintenance.lock();
        let tmp = sidecar(&target, ".backup.tmp");
        let result: Result<_> = (|| {
            let sealer = self.generation.load().reader.sealer().cloned();
            let (mut rw, done, src) = self.rewrite_online(&tmp, expire_before, sealer)?;
            {
                let w = self.writer.lock();
                self.commit.check()?;
                rw.replay(&src.reader, done, w.tail)?;
            }
            rw.seal_file()?;
            storage
                .remove(&snapshot_path(&target))
                .map_err(EngineError::io("removing a stale snapshot"))?;
            storage
                .rename(&tmp, &target)
                .map_err(EngineError::io("renaming the backup"))?;
            storage
                .sync_dir(&parent_dir(&target))
                .map_err(EngineError::io("syncing the directory after a backup"))
        })();
        if result.is_err() {
            let _ = storage.remove(&tmp);
        }
        result
    }
}
