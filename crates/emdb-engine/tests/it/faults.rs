//! Fault injection through the storage trait: crash at every operation of a workload and check
//! that the reopened engine holds a prefix of the committed history that includes everything
//! acknowledged; failed syncs and writes poison the engine.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use emdb_engine::storage::faulty::{CrashMode, FaultOp, FaultPlan, FaultyStorage};
use emdb_engine::{Engine, EngineError, WriteOp};

use crate::common::*;

/// Namespace name -> key -> value.
type Model = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

#[derive(Debug, Clone)]
enum Step {
    Put(&'static str, u8, u8),
    Batch(&'static str, Vec<(u8, Option<u8>)>),
    Delete(&'static str, u8),
    Create(&'static str),
    Drop(&'static str),
    Clear(&'static str),
    Flush,
    Compact,
    Checkpoint,
}

fn workload() -> Vec<Step> {
    use Step::*;
    vec![
        Put("", 1, 1),
        Put("", 2, 1),
        Flush,
        Create("a"),
        Put("a", 1, 9),
        Batch("", vec![(3, Some(1)), (1, None), (4, Some(2))]),
        Put("", 2, 2),
        Flush,
        Batch("a", vec![(5, Some(5)), (6, Some(6)), (5, Some(7))]),
        Delete("", 4),
        Checkpoint,
        Put("", 9, 9),
        Clear("a"),
        Put("a", 7, 7),
        Flush,
        Create("b"),
        Put("b", 1, 1),
        Drop("a"),
        Put("", 10, 10),
        Compact,
        Put("", 11, 11),
        Batch("b", vec![(2, Some(2)), (3, Some(3))]),
        Create("a"),
        Put("a", 1, 1),
        Flush,
        Put("", 12, 12),
    ]
}

fn k(b: u8) -> Vec<u8> {
    vec![b'k', b]
}

fn v(b: u8) -> Vec<u8> {
    vec![b'v'; usize::from(b) * 3 + 1]
}

fn apply(model: &mut Model, step: &Step) {
    match step {
        Step::Put(ns, key, val) => {
            model.get_mut(*ns).unwrap().insert(k(*key), v(*val));
        }
        Step::Batch(ns, items) => {
            let m = model.get_mut(*ns).unwrap();
            for (key, val) in items {
                match val {
                    Some(val) => m.insert(k(*key), v(*val)),
                    None => m.remove(&k(*key)),
                };
            }
        }
        Step::Delete(ns, key) => {
            model.get_mut(*ns).unwrap().remove(&k(*key));
        }
        Step::Create(ns) => {
            model.entry((*ns).to_owned()).or_default();
        }
        Step::Drop(ns) => {
            model.remove(*ns);
        }
        Step::Clear(ns) => model.get_mut(*ns).unwrap().clear(),
        Step::Flush | Step::Compact | Step::Checkpoint => {}
    }
}

fn run(e: &Engine, step: &Step) -> Result<(), EngineError> {
    let id = |ns: &str| e.namespace_id(ns).unwrap();
    match step {
        Step::Put(ns, key, val) => e.put(id(ns), &k(*key), &v(*val), 0),
        Step::Batch(ns, items) => {
            let ns = id(ns);
            let owned: Vec<(Vec<u8>, Option<Vec<u8>>)> = items
                .iter()
                .map(|(key, val)| (k(*key), val.map(v)))
                .collect();
            let ops: Vec<WriteOp<'_>> = owned
                .iter()
                .map(|(key, val)| match val {
                    Some(val) => WriteOp::Put {
                        ns,
                        key,
                        value: val,
                        expires_at: 0,
                    },
                    None => WriteOp::Delete { ns, key },
                })
                .collect();
            e.commit(&ops)
        }
        Step::Delete(ns, key) => e.remove(id(ns), &k(*key)).map(|_| ()),
        Step::Create(ns) => e.create_namespace(ns).map(|_| ()),
        Step::Drop(ns) => e.drop_namespace(ns).map(|_| ()),
        Step::Clear(ns) => e.clear(id(ns)),
        Step::Flush => e.flush(),
        Step::Compact => e.compact(None).map(|_| ()),
        Step::Checkpoint => e.checkpoint(),
    }
}

fn state(e: &Arc<Engine>) -> Model {
    e.namespaces()
        .into_iter()
        .map(|(id, name)| (name, dump(e, id).into_iter().collect()))
        .collect()
}

fn empty_model() -> Model {
    BTreeMap::from([(String::new(), BTreeMap::new())])
}

/// Runs the workload until the storage fails; returns the model after each committed step and
/// how many of them were acknowledged as durable.
fn run_until_failure(storage: &FaultyStorage, path: &Path) -> (Vec<Model>, usize) {
    let mut history = vec![empty_model()];
    let Ok(e) = Engine::open(path, faulty_config(storage).with_snapshot_on_close(false)) else {
        return (history, 0);
    };
    let mut acked = 0;
    let mut model = empty_model();
    for step in workload() {
        let result = run(&e, &step);
        let durable_step = matches!(step, Step::Flush | Step::Compact | Step::Checkpoint);
        match result {
            Ok(()) => {
                if durable_step {
                    acked = history.len() - 1;
                } else {
                    apply(&mut model, &step);
                    history.push(model.clone());
                }
            }
            Err(_) => {
                // A failed write may still have reached the page cache: it is a candidate.
                if !durable_step {
                    apply(&mut model, &step);
                    history.push(model.clone());
                }
                break;
            }
        }
    }
    drop(e);
    (history, acked)
}

fn check_crash(
    storage: &FaultyStorage,
    path: &Path,
    mode: CrashMode,
    history: &[Model],
    acked: usize,
    label: &str,
) -> usize {
    let crashed = storage.crash(mode);
    let e = Engine::open(path, faulty_config(&crashed))
        .unwrap_or_else(|err| panic!("{label}: reopen failed: {err}"));
    let got = state(&e);
    let pos = history.iter().rposition(|m| *m == got);
    let pos = match pos {
        Some(p) if p >= acked => p,
        Some(p) => panic!("{label}: recovered state {p} lost acknowledged state {acked}"),
        None => panic!("{label}: recovered a state that was never committed: {got:?}"),
    };
    // The recovered engine accepts writes and they survive another crash once flushed.
    let id0 = 0;
    e.put(id0, b"post-crash", b"ok", 0).unwrap();
    e.flush().unwrap();
    drop(e);
    let again = crashed.crash(CrashMode::DropUnsynced);
    let e = Engine::open(path, faulty_config(&again)).unwrap();
    assert_eq!(
        e.get(0, b"post-crash").unwrap().unwrap().0,
        b"ok",
        "{label}"
    );
    pos
}

#[test]
fn every_crash_point_recovers_a_committed_prefix_with_all_acknowledged_data() {
    let path = Path::new("/db/test.emdb");
    // Count the operations of a full run.
    let probe = FaultyStorage::new();
    probe.set_plan(FaultPlan::PowerCutAfter(u64::MAX));
    let (full, acked_full) = run_until_failure(&probe, path);
    assert_eq!(
        full.len(),
        1 + workload()
            .iter()
            .filter(|s| !matches!(s, Step::Flush | Step::Compact | Step::Checkpoint))
            .count()
    );
    assert!(acked_full > 0);
    let total = probe.ops_seen();
    assert!(
        total > 50,
        "workload too small to be interesting: {total} ops"
    );
    // How often unacknowledged writes survived, and how often some were lost: both must
    // happen, or the crash modes are not exercising recovery.
    let (mut kept_unacked, mut lost_unacked, mut torn_or_reordered) = (0, 0, 0);
    for cut in 0..=total {
        let storage = FaultyStorage::new();
        storage.set_plan(FaultPlan::PowerCutAfter(cut));
        let (history, acked) = run_until_failure(&storage, path);
        let modes = [
            CrashMode::DropUnsynced,
            CrashMode::KeepAll,
            CrashMode::Random { seed: cut * 7 + 1 },
            CrashMode::Random { seed: cut * 13 + 5 },
        ];
        for mode in modes {
            let label = format!("cut {cut} {mode:?}");
            let p = check_crash(&storage, path, mode, &history, acked, &label);
            kept_unacked += usize::from(p > acked);
            lost_unacked += usize::from(p < history.len() - 1);
            torn_or_reordered += usize::from(
                matches!(mode, CrashMode::Random { .. }) && p > acked && p < history.len() - 1,
            );
        }
    }
    assert!(
        kept_unacked > 10 && lost_unacked > 10 && torn_or_reordered > 0,
        "crash modes too tame: {kept_unacked} {lost_unacked} {torn_or_reordered}"
    );
}

#[test]
fn failed_fsync_poisons_until_reopen() {
    let path = Path::new("/db/p.emdb");
    let storage = FaultyStorage::new();
    let e = Engine::open(path, faulty_config(&storage)).unwrap();
    e.put(0, b"a", b"1", 0).unwrap();
    e.flush().unwrap();
    storage.set_plan(FaultPlan::FailOnce {
        op: FaultOp::Sync,
        n: 0,
    });
    e.put(0, b"b", b"2", 0).unwrap();
    assert!(matches!(e.flush(), Err(EngineError::Io { .. })));
    assert_eq!(storage.faults_injected(), 1);
    // The next sync would succeed, but the engine must not pretend the lost pages are safe.
    assert!(matches!(e.flush(), Err(EngineError::Poisoned)));
    assert!(matches!(
        e.put(0, b"c", b"3", 0),
        Err(EngineError::Poisoned)
    ));
    assert!(matches!(e.compact(None), Err(EngineError::Poisoned)));
    assert!(e.is_poisoned());
    assert_eq!(
        e.get(0, b"a").unwrap().unwrap().0,
        b"1",
        "reads keep working"
    );
    let len = storage.live_bytes(path).unwrap().len();
    drop(e);
    assert_eq!(
        storage.live_bytes(path).unwrap().len(),
        len,
        "a poisoned handle leaves the file as it is"
    );
    let e = Engine::open(path, faulty_config(&storage)).unwrap();
    assert!(!e.is_poisoned());
    e.put(0, b"c", b"3", 0).unwrap();
    e.flush().unwrap();
}

#[test]
fn failed_write_poisons() {
    let path = Path::new("/db/w.emdb");
    let storage = FaultyStorage::new();
    let e = Engine::open(path, faulty_config(&storage)).unwrap();
    e.put(0, b"a", b"1", 0).unwrap();
    storage.set_plan(FaultPlan::FailOnce {
        op: FaultOp::Write,
        n: 0,
    });
    assert!(matches!(
        e.put(0, b"b", b"2", 0),
        Err(EngineError::Io { .. })
    ));
    assert!(matches!(
        e.put(0, b"b", b"2", 0),
        Err(EngineError::Poisoned)
    ));
    assert_eq!(e.get(0, b"b").unwrap(), None);
}

#[test]
fn failed_rename_leaves_compaction_undone_and_the_engine_usable() {
    let path = Path::new("/db/r.emdb");
    let storage = FaultyStorage::new();
    let e = Engine::open(path, faulty_config(&storage)).unwrap();
    for i in 0..100 {
        e.put(0, &key(i % 10), &value(i, 0), 0).unwrap();
    }
    let before = e.logical_size();
    storage.set_plan(FaultPlan::FailOnce {
        op: FaultOp::Rename,
        n: 0,
    });
    assert!(matches!(e.compact(None), Err(EngineError::Io { .. })));
    assert!(!e.is_poisoned());
    assert_eq!(e.logical_size(), before);
    assert!(!storage.exists_path(Path::new("/db/r.emdb.compact.tmp")));
    e.put(0, b"x", b"y", 0).unwrap();
    assert_eq!(e.len(0).unwrap(), 11);
    e.compact(None).unwrap();
    assert!(e.logical_size() < before);
    assert_eq!(e.len(0).unwrap(), 11);
}

#[test]
fn failed_directory_sync_after_compaction_poisons() {
    let path = Path::new("/db/s.emdb");
    let mut found = false;
    for n in 0..10 {
        let storage = FaultyStorage::new();
        let e = Engine::open(path, faulty_config(&storage)).unwrap();
        e.put(0, b"a", b"1", 0).unwrap();
        storage.set_plan(FaultPlan::FailOnce {
            op: FaultOp::Sync,
            n,
        });
        match e.compact(None) {
            Err(EngineError::Io { op, .. }) if op.contains("directory after compaction") => {
                // The rename may or may not be durable: refuse writes until reopened.
                assert!(e.is_poisoned());
                assert!(matches!(
                    e.put(0, b"b", b"2", 0),
                    Err(EngineError::Poisoned)
                ));
                found = true;
                break;
            }
            Err(_) => assert!(!e.is_poisoned() || n > 0),
            Ok(_) => {}
        }
    }
    assert!(
        found,
        "compaction never synced the directory after its rename"
    );
}

#[test]
fn a_failed_read_between_range_pages_ends_the_scan_with_the_error_and_loses_nothing() {
    let path = Path::new("/db/r.emdb");
    let storage = FaultyStorage::new();
    let e = Engine::open(path, faulty_config(&storage).with_range_index(true)).unwrap();
    for i in 0..40 {
        e.put(0, &key(i), b"v", 0).unwrap();
    }
    let mut it = e
        .range_iter(0, std::ops::Bound::Unbounded, std::ops::Bound::Unbounded)
        .unwrap();
    // The first page is 16 records; the next one starts after the 16th key, which is read from
    // the log (this storage has no map, so with `pread`) when that page is fetched.
    for i in 0..16 {
        assert_eq!(it.next().unwrap().unwrap().0, key(i));
    }
    storage.set_plan(FaultPlan::FailOnce {
        op: FaultOp::Read,
        n: 0,
    });
    assert!(matches!(it.next(), Some(Err(EngineError::Io { .. }))));
    assert!(it.next().is_none(), "the scan ends after its error");
    assert_eq!(storage.faults_injected(), 1);
    let all: Vec<_> = e
        .range_iter(0, std::ops::Bound::Unbounded, std::ops::Bound::Unbounded)
        .unwrap()
        .map(|r| r.unwrap().0)
        .collect();
    assert_eq!(all, (0..40).map(key).collect::<Vec<_>>());
}

/// A transaction large enough to be encoded while it is written (about 3 MiB, in pieces with its
/// header last): a power cut at any write of it recovers all of it or none, and never what was
/// acknowledged before it.
#[test]
fn a_power_cut_inside_a_large_transaction_recovers_all_of_it_or_none() {
    power_cut_inside_a_large_transaction(None);
}

/// The same for a sealed transaction, sealed entry by entry while it is written.
#[test]
fn a_power_cut_inside_a_large_sealed_transaction_recovers_all_of_it_or_none() {
    power_cut_inside_a_large_transaction(Some(11));
}

fn power_cut_inside_a_large_transaction(sealer_key: Option<u64>) {
    let path = Path::new("/db/big.emdb");
    let config = |storage: &FaultyStorage| {
        faulty_config(storage).with_sealer(sealer_key.map(crate::sealing::TestSealer::shared))
    };
    let keys: Vec<Vec<u8>> = (0u32..3_000).map(|i| i.to_le_bytes().to_vec()).collect();
    let value = vec![0x5a; 1_000];
    // Power is cut after `cut` writes, syncs or size changes of the transaction; returns
    // whether it was acknowledged.
    let run = |storage: &FaultyStorage, cut: u64| -> bool {
        let e = Engine::open(path, config(storage).with_snapshot_on_close(false)).unwrap();
        e.put(0, b"before", b"acked", 0).unwrap();
        e.flush().unwrap();
        storage.set_plan(FaultPlan::PowerCutAfter(cut));
        e.commit(&puts(&keys, &value))
            .and_then(|()| e.flush())
            .is_ok()
    };
    // Count the writes of a whole run, then cut after each of them.
    let probe = FaultyStorage::new();
    assert!(run(&probe, u64::MAX));
    let total = probe.ops_seen();
    assert!(total >= 5, "pieces, header and sync: {total} ops");
    let (mut all, mut none) = (0, 0);
    for cut in 0..=total {
        let storage = FaultyStorage::new();
        let acked = run(&storage, cut);
        for mode in [
            CrashMode::DropUnsynced,
            CrashMode::KeepAll,
            CrashMode::Random { seed: cut + 3 },
        ] {
            let crashed = storage.crash(mode);
            let e = Engine::open(path, config(&crashed)).unwrap();
            assert_eq!(e.get(0, b"before").unwrap().unwrap().0, b"acked");
            let present = keys
                .iter()
                .filter(|k| e.get(0, k).unwrap().is_some())
                .count();
            assert!(
                present == 0 || present == keys.len(),
                "cut {cut} {mode:?}: {present} of {} records",
                keys.len()
            );
            assert!(!acked || present == keys.len(), "cut {cut} {mode:?}: lost");
            if present == 0 {
                none += 1;
            } else {
                all += 1;
            }
        }
    }
    assert!(all > 0 && none > 0, "all {all}, none {none}");
}
