//! Keeping a database in shape, online: `Emdb::{checkpoint, stats, compact, backup_to}`, and
//! administering the lock of a database that may not be open: `Emdb::{lock_holder,
//! break_lock}`.

use std::path::Path;

use emdb_engine::storage::{OsStorage, Storage};

use crate::db::Emdb;
use crate::error::{Error, Result};
use crate::stats::EmdbStats;

impl Emdb {
    /// Flushes and writes an index snapshot, so the next open replays only later writes.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("k", "v")?;
    /// db.checkpoint()?;
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn checkpoint(&self) -> Result<()> {
        Ok(self.inner.engine.checkpoint()?)
    }

    /// Counts and sizes.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("k", "v")?;
    /// assert_eq!(db.stats()?.live_records, 1);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn stats(&self) -> Result<EmdbStats> {
        EmdbStats::collect(&self.inner)
    }

    /// Rewrites the file with only live records, online: readers are never blocked, writers
    /// only for the final catch-up, and writes racing with it are kept. Expired records are
    /// dropped.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// for i in 0..100 { db.insert("k", vec![i])?; }
    /// db.compact()?;
    /// assert_eq!(db.get("k")?, Some(vec![99]));
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn compact(&self) -> Result<()> {
        let now = self.inner.clock.now();
        self.inner.engine.compact(Some(now))?;
        Ok(())
    }

    /// Writes a self-contained copy to `target`, replacing it atomically (it is never missing).
    /// Holds every write that returned before the call; expired records are left out.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("k", "v")?;
    /// db.backup_to(dir.path().join("copy.emdb"))?;
    /// let copy = emdb::Emdb::open(dir.path().join("copy.emdb"))?;
    /// assert_eq!(copy.get("k")?, Some(b"v".to_vec()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `InvalidConfig` if `target` is this database, `LockBusy` if it is open elsewhere, `Io`
    /// (for example `NotFound` for a missing directory).
    pub fn backup_to(&self, target: impl AsRef<Path>) -> Result<()> {
        let now = self.inner.clock.now();
        match self.inner.engine.backup_to(target.as_ref(), Some(now)) {
            Err(emdb_engine::EngineError::InvalidArgument(_)) => Err(Error::InvalidConfig(
                "backup target must differ from the source database path",
            )),
            other => Ok(other?),
        }
    }

    /// Who holds the lock of the database at `path`, or `None` if no one does.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("db.emdb");
    /// let db = emdb::Emdb::open(&path)?;
    /// let holder = emdb::Emdb::lock_holder(&path)?.unwrap();
    /// assert_eq!(holder.pid, std::process::id());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lock_holder(path: impl AsRef<Path>) -> Result<Option<crate::LockHolder>> {
        let Ok(canonical) = OsStorage.canonical(path.as_ref()) else {
            return Ok(None);
        };
        match emdb_engine::lockfile::lock_holder(&canonical) {
            Ok(h) => Ok(h.map(crate::LockHolder::from_engine)),
            Err(emdb_engine::EngineError::Io { source, .. }) => Err(Error::LockfileError(source)),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the lock sidecars of the database at `path` so it can be opened again after its
    /// holder died without releasing them. Idempotent. Never break the lock of a live holder.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// emdb::Emdb::break_lock(dir.path().join("db.emdb"))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn break_lock(path: impl AsRef<Path>) -> Result<()> {
        let canonical = OsStorage
            .canonical(path.as_ref())
            .unwrap_or_else(|_| path.as_ref().to_path_buf());
        match emdb_engine::lockfile::break_lock(&canonical) {
            Ok(()) => Ok(()),
            Err(emdb_engine::EngineError::Io { source, .. }) => Err(Error::LockfileError(source)),
            Err(e) => Err(e.into()),
        }
    }
}
