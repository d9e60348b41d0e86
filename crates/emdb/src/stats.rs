//! [`EmdbStats`] and [`LockHolder`]: what an open database and its lock report.

use crate::db::Inner;
use crate::error::Result;
use crate::space::to_usize;

/// Counts and sizes of an open database.
///
/// ```
/// let db = emdb::Emdb::open_in_memory();
/// db.namespace("users")?.insert("1", "a")?;
/// db.insert("k", "v")?;
/// let s = db.stats()?;
/// assert_eq!((s.live_records, s.namespace_count), (2, 1));
/// assert_eq!(s.preallocated_bytes, s.file_size_bytes - s.logical_size_bytes);
/// # Ok::<(), emdb::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EmdbStats {
    /// Live (present, unexpired) records across every namespace.
    pub live_records: u64,
    /// Named namespaces (the default namespace is not counted).
    pub namespace_count: usize,
    /// End of the log: the header plus every record written.
    pub logical_size_bytes: u64,
    /// File size, including space preallocated for future writes.
    pub file_size_bytes: u64,
    /// `file_size_bytes - logical_size_bytes`.
    pub preallocated_bytes: u64,
    /// Whether the ordered index for range scans is on.
    pub range_scans_enabled: bool,
    /// Whether records are encrypted at rest.
    pub encrypted: bool,
}

impl EmdbStats {
    pub(crate) fn collect(inner: &Inner) -> Result<Self> {
        let s = inner.engine.stats();
        let now = std::cell::OnceCell::new();
        let mut live = 0u64;
        for (id, _, _) in &s.namespaces {
            live += inner
                .engine
                .live_len(*id, || *now.get_or_init(|| inner.clock.now()))?;
        }
        Ok(EmdbStats {
            live_records: live,
            namespace_count: to_usize(s.namespace_count)?,
            logical_size_bytes: s.logical_size,
            file_size_bytes: s.file_size,
            preallocated_bytes: s.preallocated,
            range_scans_enabled: inner.range_scans,
            encrypted: inner.engine.header().is_encrypted(),
        })
    }
}

/// Who holds a database's lock, from its `.lock-meta` file.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("db.emdb");
/// let _db = emdb::Emdb::open(&path)?;
/// let h = emdb::Emdb::lock_holder(&path)?.unwrap();
/// assert_eq!((h.schema_version, h.pid), (1, std::process::id()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LockHolder {
    /// Layout version of the metadata (1).
    pub schema_version: u32,
    /// Process id of the holder.
    pub pid: u32,
    /// When the lock was taken, unix milliseconds.
    pub acquired_at_unix_millis: u64,
    /// emdb version of the holder.
    pub crate_version: Option<String>,
}

impl LockHolder {
    pub(crate) fn from_engine(h: emdb_engine::LockHolder) -> Self {
        LockHolder {
            schema_version: 1,
            pid: h.pid,
            acquired_at_unix_millis: h.acquired_at_unix_millis,
            crate_version: Some(h.crate_version),
        }
    }
}
