//! The storage trait the engine does all file I/O through, and its operating-system
//! implementation.
//!
//! Everything durable goes through [`Storage`] and [`StorageFile`], so tests can swap in the
//! fault-injecting `faulty::FaultyStorage` (feature `testing`) and crash the engine at any
//! write, sync or rename, or watch its writes through `watched::WatchedFile`.

#[cfg(any(test, feature = "testing"))]
pub mod faulty;
#[cfg(any(test, feature = "testing"))]
pub mod watched;

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::lockfile::LockFile;
use crate::log::mmap::Mapping;

/// A held lock; dropping it releases the lock.
pub type LockGuard = Box<dyn fmt::Debug + Send + Sync>;

/// How to open a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// The file must exist.
    Existing,
    /// Create the file, or truncate it to zero length if it exists.
    Truncate,
}

/// One open file.
#[expect(
    clippy::len_without_is_empty,
    reason = "a file length, not a collection"
)]
pub trait StorageFile: Send + Sync + fmt::Debug {
    /// Reads exactly `buf.len()` bytes at `offset`.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Writes all of `buf` at `offset`.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Makes written data durable (`fdatasync`).
    fn sync_data(&self) -> io::Result<()>;
    /// Makes written data and metadata durable (`fsync`).
    fn sync_all(&self) -> io::Result<()>;
    /// Current length.
    fn len(&self) -> io::Result<u64>;
    /// Truncates or zero-extends to `len`.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Maps `[0, len)` read-only, or `None` if this storage cannot map (callers fall back to
    /// `read_at`).
    fn map(&self, len: u64) -> io::Result<Option<Arc<Mapping>>>;
}

/// A place files live: open, rename, remove, directory sync, and the cross-process lock.
pub trait Storage: Send + Sync + fmt::Debug {
    /// Opens a file read-write.
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>>;
    /// Atomically replaces `to` with `from`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file; a missing file is not an error.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Makes the directory's entries (creations, renames) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Whether a file exists at `path`.
    fn exists(&self, path: &Path) -> io::Result<bool>;
    /// Takes the single-writer lock of database `db`; the lock lasts as long as the guard.
    fn lock(&self, db: &Path) -> crate::error::Result<LockGuard>;
    /// The identity of `path` used for locking: the canonical path of an existing file, or of
    /// its directory joined with its name.
    fn canonical(&self, path: &Path) -> io::Result<PathBuf> {
        Ok(path.to_path_buf())
    }
    /// Reads a whole small file.
    fn read_all(&self, path: &Path) -> io::Result<Vec<u8>> {
        let f = self.open(path, OpenMode::Existing)?;
        let len = usize::try_from(f.len()?).map_err(|_| io::Error::other("file too large"))?;
        let mut buf = vec![0u8; len];
        f.read_at(&mut buf, 0)?;
        Ok(buf)
    }
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsStorage;

/// A real file.
#[derive(Debug)]
pub struct OsFile {
    file: File,
}

impl StorageFile for OsFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.file.write_all_at(buf, offset)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn sync_all(&self) -> io::Result<()> {
        self.file.sync_all()
    }

    fn len(&self) -> io::Result<u64> {
        self.file.metadata().map(|m| m.len())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn map(&self, len: u64) -> io::Result<Option<Arc<Mapping>>> {
        Mapping::map(&self.file, len).map(|m| Some(Arc::new(m)))
    }
}

impl Storage for OsStorage {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        let mut o = OpenOptions::new();
        o.read(true).write(true);
        if mode == OpenMode::Truncate {
            o.create(true).truncate(true);
        }
        Ok(Arc::new(OsFile {
            file: o.open(path)?,
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        match fs::remove_file(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        path.try_exists()
    }

    fn lock(&self, db: &Path) -> crate::error::Result<LockGuard> {
        Ok(Box::new(LockFile::acquire(db)?))
    }

    fn canonical(&self, path: &Path) -> io::Result<PathBuf> {
        if path.try_exists()? {
            return fs::canonicalize(path);
        }
        let name = path.file_name().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "database path has no file name",
            )
        })?;
        let dir = crate::durability::parent_dir(path);
        Ok(fs::canonicalize(dir)?.join(name))
    }
}
