//! Durability: shared `fdatasync`s, the synced watermark, and poisoning after a failure.
//!
//! A flush asks for the log to be durable up to the tail it saw. If a sync is already running,
//! the flusher waits for it and re-checks; otherwise it becomes the leader, syncs everything
//! written so far, and wakes the others. So concurrent flushes share one `fdatasync` under every
//! policy. Before syncing, a leader gathers its round: if the previous sync served k flushers, it
//! waits until k have queued, at most half the recent `fdatasync` time (`max_wait` and
//! `max_batch` under `Group`), so writers that flush after every record are batched instead of
//! each syncing alone; a single writer never waits. The epoch changes when compaction swaps in a new file; a sync of the old file can then
//! no longer advance the watermark.
//!
//! Invariant: `synced` only grows within an epoch and never exceeds what an `fdatasync` that
//! returned `Ok` covered. After a failed sync or write the engine is poisoned: every later
//! write and flush fails until the database is reopened (the page cache may have dropped the
//! dirty pages, so retrying the sync could falsely report success).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// Flushes the previous sync served (its leader and followers).
    last_round: usize,
    /// Recent `fdatasync` duration (moving average), which bounds how long a leader waits.
    sync_time: Duration,
}

#[derive(Debug)]
pub(crate) struct GroupCommit {
    state: Mutex<SyncState>,
    /// Followers wait here for a sync to finish.
    cv: Condvar,
    /// A gathering leader waits here for followers to queue (kept apart so arrivals do not wake
    /// every follower).
    gather: Condvar,
    /// End of the written log (published by the writer after each append).
    written: AtomicU64,
    /// Mirror of `state.synced` for lock-free reads (the lag field).
    synced: AtomicU64,
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
                last_round: 1,
                sync_time: Duration::ZERO,
            }),
            cv: Condvar::new(),
            gather: Condvar::new(),
            written: AtomicU64::new(synced),
            synced: AtomicU64::new(synced),
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
            // Tell a gathering leader one more flusher has queued.
            self.gather.notify_one();
            self.cv.wait(&mut st);
            st.waiting -= 1;
        }
        st.syncing = true;
        // Gather the round: when the previous sync served several flushers, they are likely
        // writing again right now; wait (briefly) for as many to queue before syncing, so one
        // fdatasync covers them all. A lone writer (last round of 1) never waits.
        let (want, max_wait) = match policy {
            SyncPolicy::Group {
                max_wait,
                max_batch,
            } => (st.last_round.min(max_batch.max(1)), max_wait),
            _ => (st.last_round, st.sync_time / 2),
        };
        let deadline = Instant::now() + max_wait;
        while st.waiting + 1 < want && Instant::now() < deadline {
            let nap = deadline.saturating_duration_since(Instant::now());
            self.gather.wait_for(&mut st, nap);
        }
        let participants = st.waiting + 1;
        let upto = self.written.load(Ordering::Acquire);
        let file = st.file.clone();
        let my_epoch = st.epoch;
        drop(st);
        let started = Instant::now();
        let result = file.sync_data();
        let took = started.elapsed();
        self.syncs.fetch_add(1, Ordering::Relaxed);
        let mut st = self.state.lock();
        st.syncing = false;
        st.last_round = participants;
        st.sync_time = (st.sync_time * 7 + took) / 8;
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
