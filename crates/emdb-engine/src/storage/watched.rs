//! A file that runs a hook before each write and otherwise passes everything to the file it
//! wraps (feature `testing`): tests record where the engine writes, or hold a write until they
//! have done something in between.

use std::fmt;
use std::io;
use std::sync::Arc;

use super::StorageFile;
use crate::log::mmap::Mapping;

/// Called with the bytes and offset of each write, before the write.
type BeforeWrite = Box<dyn Fn(&[u8], u64) + Send + Sync>;

/// A [`StorageFile`] whose writes are watched.
pub struct WatchedFile {
    inner: Arc<dyn StorageFile>,
    before_write: BeforeWrite,
}

impl WatchedFile {
    /// Wraps `inner`; `before_write` sees every write first.
    pub fn new(
        inner: Arc<dyn StorageFile>,
        before_write: impl Fn(&[u8], u64) + Send + Sync + 'static,
    ) -> Self {
        WatchedFile {
            inner,
            before_write: Box::new(before_write),
        }
    }
}

impl fmt::Debug for WatchedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchedFile")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl StorageFile for WatchedFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        (self.before_write)(buf, offset);
        self.inner.write_at(buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.inner.sync_data()
    }
    fn sync_all(&self) -> io::Result<()> {
        self.inner.sync_all()
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
    fn map(&self, len: u64) -> io::Result<Option<Arc<Mapping>>> {
        self.inner.map(len)
    }
}
