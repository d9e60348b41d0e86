//! The single-writer lock: an exclusive `flock` on `<path>.lock`, with holder metadata in
//! `<path>.lock-meta`.
//!
//! Invariant: while a [`LockFile`] lives, no other handle (in this or another process) can lock
//! the same canonical database path. The metadata file is written after the lock is taken and is
//! readable by anyone, so `lock_holder` works while the lock is held. The lock is released by
//! the kernel when the handle's file is closed, including when the process dies; the sidecar
//! files are deliberately left in place (unlinking them on drop would race with a new opener).
//!
//! `std::fs::File::try_lock` is used rather than `fd-lock`: it is the same `flock(2)` call, and
//! `fd-lock`'s guard borrows its lock object, which a long-lived handle could only hold through a
//! self-referential struct.
//!
//! A `flock` belongs to the open file, and a process that forks shares its open files with the
//! child until the child execs (which closes them). So when one thread of this process closes a
//! database while another thread spawns a process, the child can hold the old lock for a moment,
//! and reopening the database at once would fail with `Locked`. `acquire` tells that apart: when
//! the lock is taken but no live handle of this process holds it (a registry of held paths) and
//! the metadata names this process, it retries for up to a second.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use crate::error::{EngineError, Result};

/// Lock paths held by a live [`LockFile`] of this process.
static HELD: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// How long `acquire` waits for a lock that this process released but a forked child still
/// shares (the child drops it when it execs).
const FORK_WINDOW: Duration = Duration::from_secs(1);

/// Who holds a database lock, as recorded in `<path>.lock-meta`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    /// Process id of the holder.
    pub pid: u32,
    /// When the lock was taken, unix milliseconds.
    pub acquired_at_unix_millis: u64,
    /// Version of the emdb engine that took it.
    pub crate_version: String,
}

/// `<path>.lock`.
pub fn lock_path(db: &Path) -> PathBuf {
    sidecar(db, ".lock")
}

/// `<path>.lock-meta`.
pub fn meta_path(db: &Path) -> PathBuf {
    sidecar(db, ".lock-meta")
}

pub(crate) fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut s = db.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// A held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct LockFile {
    path: PathBuf,
    _file: File,
}

impl LockFile {
    /// Takes the lock for database `db` or fails with [`EngineError::Locked`] (after up to a
    /// second when only a process forked from this one can hold it; see the module docs).
    pub fn acquire(db: &Path) -> Result<Self> {
        let path = lock_path(db);
        let started = Instant::now();
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(EngineError::io("creating the lock file"))?;
            match file.try_lock() {
                Ok(()) => return Self::hold(db, path, file),
                Err(TryLockError::WouldBlock) => {
                    if !Self::released_by_us(db, &path) || started.elapsed() >= FORK_WINDOW {
                        return Err(EngineError::Locked { path });
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(TryLockError::Error(e)) => {
                    return Err(EngineError::Io {
                        op: "locking the lock file",
                        source: e,
                    });
                }
            }
        }
    }

    /// Whether this process took the lock last and no live handle of it holds the lock now.
    fn released_by_us(db: &Path, path: &Path) -> bool {
        let ours = fs::read_to_string(meta_path(db))
            .ok()
            .and_then(|t| decode_meta(&t))
            .is_some_and(|h| h.pid == std::process::id());
        ours && !HELD.lock().iter().any(|p| p == path)
    }

    fn hold(db: &Path, path: PathBuf, file: File) -> Result<Self> {
        let holder = LockHolder {
            pid: std::process::id(),
            acquired_at_unix_millis: unix_millis(),
            crate_version: env!("CARGO_PKG_VERSION").to_owned(),
        };
        fs::write(meta_path(db), encode_meta(&holder))
            .map_err(EngineError::io("writing the lock metadata"))?;
        HELD.lock().push(path.clone());
        Ok(LockFile { path, _file: file })
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        let mut held = HELD.lock();
        if let Some(at) = held.iter().position(|p| *p == self.path) {
            held.swap_remove(at);
        }
    }
}

/// Reads the holder metadata; `None` when no lock metadata exists or no one holds the lock.
pub fn lock_holder(db: &Path) -> Result<Option<LockHolder>> {
    let lock = match OpenOptions::new()
        .read(true)
        .write(true)
        .open(lock_path(db))
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(EngineError::Io {
                op: "opening the lock file",
                source: e,
            });
        }
    };
    // A lock we can take is a lock no one holds.
    if lock.try_lock().is_ok() {
        return Ok(None);
    }
    match fs::read_to_string(meta_path(db)) {
        Ok(text) => Ok(decode_meta(&text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(EngineError::Io {
            op: "reading the lock metadata",
            source: e,
        }),
    }
}

/// Removes both sidecars so a new opener can lock. Idempotent.
///
/// The kernel lock of a live holder lives on its open file, not the path: after breaking, the
/// old holder keeps writing to its file while a new opener locks a fresh lock file. Only break
/// the lock of a holder known to be dead.
pub fn break_lock(db: &Path) -> Result<()> {
    for p in [lock_path(db), meta_path(db)] {
        match fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(EngineError::Io {
                    op: "removing a lock file",
                    source: e,
                });
            }
        }
    }
    Ok(())
}

fn encode_meta(h: &LockHolder) -> String {
    format!(
        "pid={}\nacquired_at_unix_millis={}\ncrate_version={}\n",
        h.pid, h.acquired_at_unix_millis, h.crate_version
    )
}

fn decode_meta(text: &str) -> Option<LockHolder> {
    let mut pid = None;
    let mut at = None;
    let mut version = None;
    for line in text.lines() {
        match line.split_once('=') {
            Some(("pid", v)) => pid = v.parse().ok(),
            Some(("acquired_at_unix_millis", v)) => at = v.parse().ok(),
            Some(("crate_version", v)) => version = Some(v.to_owned()),
            _ => {}
        }
    }
    Some(LockHolder {
        pid: pid?,
        acquired_at_unix_millis: at?,
        crate_version: version?,
    })
}

/// Milliseconds since the unix epoch (0 if the clock is before it).
pub(crate) fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips_and_rejects_garbage() {
        let h = LockHolder {
            pid: 42,
            acquired_at_unix_millis: 7,
            crate_version: "1.2.3".into(),
        };
        assert_eq!(decode_meta(&encode_meta(&h)), Some(h));
        assert_eq!(decode_meta("pid=x\n"), None);
    }

    #[test]
    fn second_lock_is_refused_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let a = LockFile::acquire(&db).unwrap();
        assert!(matches!(
            LockFile::acquire(&db),
            Err(EngineError::Locked { .. })
        ));
        let holder = lock_holder(&db).unwrap().unwrap();
        assert_eq!(holder.pid, std::process::id());
        drop(a);
        assert_eq!(lock_holder(&db).unwrap(), None);
        let b = LockFile::acquire(&db).unwrap();
        drop(b);
        let _b = LockFile::acquire(&db).unwrap();
        break_lock(&db).unwrap();
        break_lock(&db).unwrap();
        assert!(!lock_path(&db).exists());
    }
}
