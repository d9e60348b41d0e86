//! `EngineConfig`: how to open a log (plain data).

use std::sync::Arc;
use std::time::Duration;

use crate::sealer::Sealer;
use crate::storage::{OsStorage, Storage};

/// When written data is made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SyncPolicy {
    /// Only `flush()` syncs; concurrent flushes share one `fdatasync`.
    #[default]
    OnFlush,
    /// Like `OnFlush`, but the syncing thread waits up to `max_wait` for up to `max_batch`
    /// concurrent writers so that one `fdatasync` covers them all. Both are upper bounds: the
    /// sync starts as soon as no other writer is in flight.
    Group {
        /// Longest extra wait before syncing.
        max_wait: Duration,
        /// Stop waiting once this many flushers are queued.
        max_batch: usize,
    },
    /// Every write is durable before it returns (writes still share syncs when concurrent).
    EveryWrite,
}

/// Engine configuration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EngineConfig {
    /// Where files live.
    pub storage: Arc<dyn Storage>,
    /// Read through a memory map (falls back to `pread` where the storage cannot map).
    pub use_mmap: bool,
    /// Keep an ordered key set per namespace for range scans.
    pub range_index: bool,
    /// Sync policy.
    pub sync: SyncPolicy,
    /// Smallest preallocation step in bytes.
    pub prealloc_min: u64,
    /// Seals entries when the file is encrypted.
    pub sealer: Option<Arc<dyn Sealer>>,
    /// Write an index snapshot when the last handle closes cleanly.
    pub snapshot_on_close: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            storage: Arc::new(OsStorage),
            use_mmap: true,
            range_index: false,
            sync: SyncPolicy::OnFlush,
            prealloc_min: 1 << 20,
            sealer: None,
            snapshot_on_close: true,
        }
    }
}

impl EngineConfig {
    /// Uses `storage` for all file operations.
    #[must_use]
    pub fn with_storage(mut self, storage: Arc<dyn Storage>) -> Self {
        self.storage = storage;
        self
    }

    /// Chooses mmap (`true`) or `pread` (`false`) reads.
    #[must_use]
    pub fn with_mmap(mut self, on: bool) -> Self {
        self.use_mmap = on;
        self
    }

    /// Enables the ordered index.
    #[must_use]
    pub fn with_range_index(mut self, on: bool) -> Self {
        self.range_index = on;
        self
    }

    /// Sets the sync policy.
    #[must_use]
    pub fn with_sync(mut self, sync: SyncPolicy) -> Self {
        self.sync = sync;
        self
    }

    /// Sets the sealer (encryption hook).
    #[must_use]
    pub fn with_sealer(mut self, sealer: Option<Arc<dyn Sealer>>) -> Self {
        self.sealer = sealer;
        self
    }

    /// Sets the smallest preallocation step.
    #[must_use]
    pub fn with_prealloc_min(mut self, bytes: u64) -> Self {
        self.prealloc_min = bytes;
        self
    }

    /// Whether a clean close writes an index snapshot.
    #[must_use]
    pub fn with_snapshot_on_close(mut self, on: bool) -> Self {
        self.snapshot_on_close = on;
        self
    }
}
