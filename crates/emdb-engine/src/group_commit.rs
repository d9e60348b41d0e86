//! Durability: shared `fdatasync`s, the synced watermark, and poisoning after a failure.
//!
//! A flush asks for the log to be durable up to the tail it saw. If a sync is already running,
//! the flusher sleeps until that sync ends and re-checks; otherwise it becomes the leader, syncs
//! everything written so far, and wakes every flusher that waited with one futex wake (one call
//! instead of one per flusher: the leader's own next write waits behind its wake-ups). So
//! concurrent flushes share one `fdatasync` under every policy. A woken flusher that the sync
//! covered returns on the lock-free watermark without taking the state lock again.
//!
//! Before syncing, a leader gathers its round: if k flushers took part in the previous round
//! (its leader and everyone who waited on it), it waits until k have queued, so writers that
//! flush after every record share one sync instead of each syncing alone. The flusher that
//! completes the round syncs it itself, and the leader sleeps on until the round ends: waking
//! the leader to sync would put a context switch between the last write and the sync, and on
//! few cores the writers still on their way queue behind every wake-up (so the leader is not
//! woken when its round is taken over either, only when it ends). The leader waits at most
//! twice the recent `fdatasync` time (room for the gathering and the sync that follows it;
//! under `Group`, `max_wait`, with `max_batch`), then syncs whatever has queued. At worst a
//! flush then takes three syncs' time instead of one; a single writer never waits.
//!
//! The epoch changes when compaction swaps in a new file; a sync of the old file can then no
//! longer advance the watermark.
//!
//! Invariant: `synced` only grows within an epoch and never exceeds what an `fdatasync` that
//! returned `Ok` covered. After a failed sync or write the engine is poisoned: every later
//! write and flush fails until the database is reopened (the page cache may have dropped the
//! dirty pages, so retrying the sync could falsely report success).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::config::SyncPolicy;
use crate::error::{EngineError, Result};
use crate::storage::StorageFile;

#[derive(Debug)]
struct SyncState {
    file: Arc<dyn StorageFile>,
    epoch: u64,
    synced: u64,
    syncing: bool,
    /// Flushers waiting for the sync in progress (asleep on `rounds`).
    waiting: usize,
    /// While a leader gathers: the number of flushers (itself included) it waits for; 0 otherwise.
    gathering_for: usize,
    /// Flushers that took part in the previous round (its leader and everyone who waited on it).
    last_round: usize,
    /// Recent `fdatasync` duration (moving average), which bounds how long a leader waits.
    sync_time: Duration,
}

#[derive(Debug)]
pub(crate) struct GroupCommit {
    state: Mutex<SyncState>,
    /// Syncs finished (successfully or not), and poisonings: the futex word followers sleep on
    /// until it moves past the value they saw (wrapping is harmless: they only compare).
    rounds: AtomicU32,
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
                gathering_for: 0,
                last_round: 1,
                sync_time: Duration::ZERO,
            }),
            rounds: AtomicU32::new(0),
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
        self.rounds.fetch_add(1, Ordering::AcqRel);
        atomic_wait::wake_all(&raw const self.rounds);
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
            let round = if !st.syncing {
                st.syncing = true;
                match self.gather(st, policy) {
                    Gathered::Sync(locked) => return self.sync_round(locked),
                    Gathered::TakenOver(round) => round,
                }
            } else if st.gathering_for != 0 && st.waiting + 2 >= st.gathering_for {
                // This flusher completes the round a leader is gathering: it syncs the round
                // itself rather than wake the leader to do it (that wake-up, a context switch,
                // would sit between the last write and the sync). The leader now waits like
                // any other flusher, and counts as one.
                st.gathering_for = 0;
                st.waiting += 1;
                return self.sync_round(st);
            } else {
                let round = self.rounds.load(Ordering::Acquire);
                st.waiting += 1;
                drop(st);
                round
            };
            self.sleep_past(round);
            self.check()?;
            if self.synced() >= target {
                // Covered (in this epoch; if the file was switched since, the new one is fully
                // synced and the answer is the same).
                return Ok(());
            }
            st = self.state.lock();
        }
    }

    /// Sleeps until the round counter moves past `round` (or the engine is poisoned). The
    /// syncing flusher bumps it under the state lock, after `round` was read under that lock,
    /// and then wakes everyone; a wake-up without that is spurious. The wait returns at once if
    /// the word already moved, so no wake-up is lost.
    fn sleep_past(&self, round: u32) {
        while self.rounds.load(Ordering::Acquire) == round && !self.is_poisoned() {
            atomic_wait::wait(&self.rounds, round);
        }
    }

    /// Gathers the round of a new leader (`st.syncing` just set). When several flushers took
    /// part in the previous round, they are likely writing again right now; wait (briefly) for
    /// as many to queue, so one fdatasync covers them all. A lone writer (last round of 1) never
    /// waits. Ends with the lock held, to sync, or with the round taken over by the flusher that
    /// completed it (see [`GroupCommit::flush`]): then the round number to wait past. A taken
    /// over round does not wake the leader; the end of its sync does.
    fn gather<'a>(&'a self, mut st: MutexGuard<'a, SyncState>, policy: SyncPolicy) -> Gathered<'a> {
        let (want, max_wait) = match policy {
            SyncPolicy::Group {
                max_wait,
                max_batch,
            } => (st.last_round.min(max_batch.max(1)), max_wait),
            _ => (st.last_round, st.sync_time * 2),
        };
        if want <= 1 {
            return Gathered::Sync(st);
        }
        let round = self.rounds.load(Ordering::Acquire);
        let deadline = Instant::now() + max_wait;
        st.gathering_for = want;
        loop {
            // Taken over: the sync is running (`gathering_for` cleared while no round could
            // end, as `syncing` stayed set) or already done (the round counter moved).
            if st.gathering_for == 0 || self.rounds.load(Ordering::Acquire) != round {
                return Gathered::TakenOver(round);
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            self.gather.wait_for(&mut st, deadline - now);
        }
        st.gathering_for = 0;
        Gathered::Sync(st)
    }

    /// Syncs everything written so far as one round, then wakes every flusher that waited.
    fn sync_round(&self, held: MutexGuard<'_, SyncState>) -> Result<()> {
        let participants = held.waiting + 1;
        let upto = self.written.load(Ordering::Acquire);
        let file = held.file.clone();
        let my_epoch = held.epoch;
        drop(held);
        let started = Instant::now();
        let result = file.sync_data();
        let took = started.elapsed();
        self.syncs.fetch_add(1, Ordering::Relaxed);
        let mut st = self.state.lock();
        st.syncing = false;
        // Everyone who waited on this round is flushing now, covered or not: the next leader
        // gathers for as many.
        st.last_round = participants.max(1 + st.waiting);
        // Every flusher asleep on `rounds` counted itself in `waiting` under this lock first
        // (a leader whose round was taken over was counted by the flusher that took it).
        let sleepers = std::mem::take(&mut st.waiting);
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
        self.rounds.fetch_add(1, Ordering::AcqRel);
        // Followers first, while the lock is held: the leader's wake-up comes with the unlock,
        // and a woken thread can preempt this one on its CPU, which would leave the followers
        // asleep behind it (one futex call wakes them all; it takes about 3 us per sleeper).
        // A lone writer's round has no sleeper and skips the call.
        if sleepers > 0 {
            atomic_wait::wake_all(&raw const self.rounds);
        }
        // A leader whose round was taken over may still wait on `gather`.
        self.gather.notify_all();
        drop(st);
        out
    }
}

/// How a leader's gathering ended.
enum Gathered<'a> {
    /// Sync the round (the state lock is held).
    Sync(MutexGuard<'a, SyncState>),
    /// The flusher that completed the round syncs it; wait past this round number.
    TakenOver(u32),
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::mpsc;

    use super::*;
    use crate::log::mmap::Mapping;

    /// A file whose `sync_data` reports it started, then waits for the test to say how it ends.
    #[derive(Debug)]
    struct GatedFile {
        /// Receives the id of each thread that starts a sync.
        started: Mutex<mpsc::Sender<std::thread::ThreadId>>,
        outcome: Mutex<mpsc::Receiver<io::Result<()>>>,
    }

    impl StorageFile for GatedFile {
        fn read_at(&self, _: &mut [u8], _: u64) -> io::Result<()> {
            Ok(())
        }
        fn write_at(&self, _: &[u8], _: u64) -> io::Result<()> {
            Ok(())
        }
        fn sync_data(&self) -> io::Result<()> {
            self.started
                .lock()
                .send(std::thread::current().id())
                .expect("test alive");
            self.outcome.lock().recv().expect("test alive")
        }
        fn sync_all(&self) -> io::Result<()> {
            Ok(())
        }
        fn len(&self) -> io::Result<u64> {
            Ok(0)
        }
        fn set_len(&self, _: u64) -> io::Result<()> {
            Ok(())
        }
        fn map(&self, _: u64) -> io::Result<Option<Arc<Mapping>>> {
            Ok(None)
        }
    }

    /// A group commit over a gated file, with the channels that drive its syncs.
    fn gated() -> (
        Arc<GroupCommit>,
        mpsc::Receiver<std::thread::ThreadId>,
        mpsc::Sender<io::Result<()>>,
    ) {
        let (started_tx, started) = mpsc::channel();
        let (outcome, outcome_rx) = mpsc::channel();
        let file = GatedFile {
            started: Mutex::new(started_tx),
            outcome: Mutex::new(outcome_rx),
        };
        (
            Arc::new(GroupCommit::new(Arc::new(file), 0)),
            started,
            outcome,
        )
    }

    fn flush_in_thread(gc: &Arc<GroupCommit>) -> std::thread::JoinHandle<Result<()>> {
        let gc = gc.clone();
        std::thread::spawn(move || gc.flush(SyncPolicy::OnFlush))
    }

    /// Starts a leader flushing everything up to 100, and returns once its sync is running.
    fn leader_syncing(
        gc: &Arc<GroupCommit>,
        started: &mpsc::Receiver<std::thread::ThreadId>,
    ) -> std::thread::JoinHandle<Result<()>> {
        gc.publish_written(100);
        let leader = flush_in_thread(gc);
        started.recv().unwrap();
        leader
    }

    /// Waits until a flusher is asleep behind the running sync.
    fn wait_for_follower(gc: &GroupCommit) {
        while gc.state.lock().waiting == 0 {
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_follower_behind_a_failed_sync_gets_poisoned_not_success() {
        let (gc, started, outcome) = gated();
        let leader = leader_syncing(&gc, &started);
        // Written while the first sync runs, so that sync does not cover it.
        gc.publish_written(200);
        let follower = flush_in_thread(&gc);
        wait_for_follower(&gc);
        outcome.send(Err(io::Error::other("disk gone"))).unwrap();
        assert!(matches!(
            leader.join().unwrap(),
            Err(EngineError::Io { .. })
        ));
        assert!(matches!(
            follower.join().unwrap(),
            Err(EngineError::Poisoned)
        ));
        assert_eq!(gc.synced(), 0);
    }

    #[test]
    fn a_follower_covered_by_the_running_sync_returns_when_it_ends() {
        let (gc, started, outcome) = gated();
        let leader = leader_syncing(&gc, &started);
        let follower = flush_in_thread(&gc);
        wait_for_follower(&gc);
        outcome.send(Ok(())).unwrap();
        leader.join().unwrap().unwrap();
        follower.join().unwrap().unwrap();
        assert_eq!(gc.synced(), 100);
        assert_eq!(gc.sync_count(), 1, "the follower shared the leader's sync");
    }

    #[test]
    fn poisoning_wakes_sleeping_followers_with_an_error() {
        let (gc, started, outcome) = gated();
        let leader = leader_syncing(&gc, &started);
        gc.publish_written(200);
        let follower = flush_in_thread(&gc);
        wait_for_follower(&gc);
        // A failed write elsewhere poisons the engine while the sync is still running.
        gc.poison();
        assert!(matches!(
            follower.join().unwrap(),
            Err(EngineError::Poisoned)
        ));
        outcome.send(Ok(())).unwrap();
        leader.join().unwrap().unwrap();
    }

    /// A leader gathering a round of three, and the two flushers that complete it: the second
    /// one syncs the round itself (the leader is not woken to do it). Returns the leader, the
    /// first follower and the thread that completed the round, once that sync is running.
    fn round_taken_over(
        gc: &Arc<GroupCommit>,
        started: &mpsc::Receiver<std::thread::ThreadId>,
    ) -> [std::thread::JoinHandle<Result<()>>; 3] {
        {
            let mut st = gc.state.lock();
            st.last_round = 3;
            st.sync_time = Duration::from_secs(60);
        }
        gc.publish_written(100);
        let leader = flush_in_thread(gc);
        while gc.state.lock().gathering_for != 3 {
            std::thread::yield_now();
        }
        gc.publish_written(200);
        let first = flush_in_thread(gc);
        wait_for_follower(gc);
        gc.publish_written(300);
        let last = flush_in_thread(gc);
        let syncer = started.recv().unwrap();
        assert_eq!(
            syncer,
            last.thread().id(),
            "the flusher that completed the round syncs"
        );
        [leader, first, last]
    }

    #[test]
    fn the_flusher_completing_a_gathered_round_syncs_it_for_everyone() {
        let (gc, started, outcome) = gated();
        let [leader, first, last] = round_taken_over(&gc, &started);
        outcome.send(Ok(())).unwrap();
        for flusher in [leader, first, last] {
            flusher.join().unwrap().unwrap();
        }
        assert_eq!(gc.synced(), 300);
        assert_eq!(gc.sync_count(), 1, "one sync for the whole round");
        assert_eq!(gc.state.lock().last_round, 3);
    }

    #[test]
    fn a_failed_taken_over_sync_poisons_the_leader_and_the_round() {
        let (gc, started, outcome) = gated();
        let [leader, first, last] = round_taken_over(&gc, &started);
        outcome.send(Err(io::Error::other("disk gone"))).unwrap();
        assert!(matches!(last.join().unwrap(), Err(EngineError::Io { .. })));
        for flusher in [leader, first] {
            assert!(matches!(
                flusher.join().unwrap(),
                Err(EngineError::Poisoned)
            ));
        }
        assert_eq!(gc.synced(), 0);
        assert!(matches!(
            gc.flush(SyncPolicy::OnFlush),
            Err(EngineError::Poisoned)
        ));
    }

    #[test]
    fn a_round_that_does_not_complete_is_synced_by_its_leader_at_the_deadline() {
        let (gc, started, outcome) = gated();
        {
            let mut st = gc.state.lock();
            st.last_round = 3;
            st.sync_time = Duration::from_millis(5);
        }
        gc.publish_written(100);
        let leader = flush_in_thread(&gc);
        while gc.state.lock().gathering_for != 3 {
            std::thread::yield_now();
        }
        gc.publish_written(200);
        let follower = flush_in_thread(&gc);
        // Only two of the three come: the leader stops gathering at its deadline and syncs.
        assert_eq!(started.recv().unwrap(), leader.thread().id());
        outcome.send(Ok(())).unwrap();
        leader.join().unwrap().unwrap();
        follower.join().unwrap().unwrap();
        assert_eq!(gc.sync_count(), 1);
        assert_eq!(gc.synced(), 200);
    }
}
