//! Durability: shared `fdatasync`s, the synced watermark, and poisoning after a failure.
//!
//! A flush asks for the log to be durable up to the tail it saw. If a sync is already running,
//! the flusher waits for it and re-checks; otherwise it becomes the leader, syncs everything
//! written so far, and wakes the others. So concurrent flushes share one `fdatasync` under every
//! policy. The epoch changes when compaction swaps in a new file; a sync of the old file can then
//! no longer advance the watermark.
//!
//! Invariant: `synced` only grows within an epoch and never exceeds what an `fdatasync` that
//! returned `Ok` covered. After a failed sync or write the engine is poisoned: every later
//! write and flush fails until the database is reopened (the page cache may have dropped the
//! dirty pages, so retrying the sync could falsely report success).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::config::SyncPolicy;
use crate::error::{EngineError, Result};
use crate::storage::StorageFile;

#[derive(Debug)]
struct SyncState {
    file: Arc<dyn StorageFile>,
    epoch: u64,
    synced: u64,
    syncing: bool,
    waiting: usize,
}

#[derive(Debug)]
pub(crate) struct GroupCommit {
    state: Mutex<SyncState>,
    cv: Condvar,
    /// End of the written log (published by the writer after each append).
    written: AtomicU64,
    /// Mirror of `state.synced` for lock-free reads (the lag field).
    synced: AtomicU64,
    /// Writers between taking a ticket and finishing their append (for `Group`).
    in_flight: AtomicUsize,
    poisoned: AtomicBool,
    syncs: AtomicU64,
}

impl GroupCommit {
    pub(crate) fn new(file: Arc<dyn StorageFile>, synced: u64) -> Self {
        GroupCommit {
            state: Mutex::new(SyncState {
                file,
                epoch: 0,
                synced,
                syncing: false,
                waiting: 0,
            }),
            cv: Condvar::new(),
            written: AtomicU64::new(synced),
            synced: AtomicU64::new(synced),
            in_flight: AtomicUsize::new(0),
            poisoned: AtomicBool::new(false),
            syncs: AtomicU64::new(0),
        }
    }

    pub(crate) fn synced(&self) -> u64 {
        self.synced.load(Ordering::Acquire)
    }

    pub(crate) fn publish_written(&self, tail: u64) {
        self.written.store(tail, Ordering::Release);
    }

    pub(crate) fn writer_enter(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn writer_exit(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    pub(crate) fn poison(&self) {
        self.poisoned.store(true, Ordering::Release);
        self.cv.notify_all();
    }

    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    pub(crate) fn check(&self) -> Result<()> {
        if self.is_poisoned() {
            Err(EngineError::Poisoned)
        } else {
            Ok(())
        }
    }

    /// Number of `fdatasync`s issued (for tests and stats).
    pub(crate) fn sync_count(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// Switches to a new, fully synced file whose log ends at `tail` (compaction).
    pub(crate) fn switch_file(&self, file: Arc<dyn StorageFile>, tail: u64) {
        let mut st = self.state.lock();
        st.file = file;
        st.epoch += 1;
        st.synced = tail;
        self.synced.store(tail, Ordering::Release);
        self.written.store(tail, Ordering::Release);
        self.cv.notify_all();
    }

    /// Makes everything written before this call durable.
    pub(crate) fn flush(&self, policy: SyncPolicy) -> Result<()> {
        let mut st = self.state.lock();
        let epoch = st.epoch;
        let target = self.written.load(Ordering::Acquire);
        loop {
            self.check()?;
            if st.epoch != epoch || st.synced >= target {
                return Ok(());
            }
            if !st.syncing {
                break;
            }
            st.waiting += 1;
            self.cv.wait(&mut st);
            st.waiting -= 1;
        }
        st.syncing = true;
        if let SyncPolicy::Group {
            max_wait,
            max_batch,
        } = policy
        {
            let deadline = Instant::now() + max_wait;
            while self.in_flight.load(Ordering::Acquire) > 0
                && st.waiting + 1 < max_batch
                && Instant::now() < deadline
            {
                let nap = deadline.saturating_duration_since(Instant::now());
                self.cv
                    .wait_for(&mut st, nap.min(Duration::from_micros(50)));
            }
        }
        let upto = self.written.load(Ordering::Acquire);
        let file = st.file.clone();
        let my_epoch = st.epoch;
        drop(st);
        let result = file.sync_data();
        self.syncs.fetch_add(1, Ordering::Relaxed);
        let mut st = self.state.lock();
        st.syncing = false;
        let out = match result {
            Ok(()) => {
                if st.epoch == my_epoch && upto > st.synced {
                    st.synced = upto;
                    self.synced.store(upto, Ordering::Release);
                }
                Ok(())
            }
            Err(source) => {
                self.poisoned.store(true, Ordering::Release);
                Err(EngineError::Io {
                    op: "syncing the log",
                    source,
                })
            }
        };
        self.cv.notify_all();
        out
    }
}
