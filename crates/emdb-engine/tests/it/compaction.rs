//! Online compaction and backup: smaller file, same data, nothing lost to racing writers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use emdb_engine::{Engine, EngineError};

use crate::common::*;

#[test]
fn compaction_shrinks_keeps_live_data_and_drops_expired() {
    let (_d, path) = temp_db();
    let e = open(&path, os_config(true));
    let ns = e.create_namespace("n").unwrap();
    for round in 0..5 {
        for i in 0..500 {
            e.put(0, &key(i), &value(i, round), 0).unwrap();
        }
    }
    e.put(ns, b"expired", b"x", 1_000).unwrap();
    e.put(ns, b"later", b"y", 5_000).unwrap();
    e.put(ns, b"forever", b"z", 0).unwrap();
    for i in 0..100 {
        e.remove(0, &key(i)).unwrap();
    }
    let before = e.stats();
    let report = e.compact(Some(2_000)).unwrap();
    let after = e.stats();
    assert_eq!(report.bytes_before, before.logical_size);
    assert_eq!(report.bytes_after, after.logical_size);
    assert!(
        after.logical_size * 3 < before.logical_size,
        "{before:?} -> {after:?}"
    );
    assert_eq!(
        after.file_size, after.logical_size,
        "no preallocation right after compaction"
    );
    assert_eq!(e.len(0).unwrap(), 400);
    assert_eq!(e.get(ns, b"expired").unwrap(), None);
    assert_eq!(e.get(ns, b"later").unwrap(), Some((b"y".to_vec(), 5_000)));
    for i in 100..500 {
        assert_eq!(e.get(0, &key(i)).unwrap().unwrap().0, value(i, 4));
    }
    e.put(0, b"after", b"compaction", 0).unwrap();
    drop(e);
    let e = open(&path, os_config(false));
    assert!(e.open_report().used_snapshot);
    assert_eq!(e.len(0).unwrap(), 401);
    assert_eq!(e.namespace_id("n"), Some(ns));
    assert_eq!(e.len(ns).unwrap(), 2);
}

#[test]
fn writes_racing_with_compaction_are_all_kept() {
    let (_d, path) = temp_db();
    let e = open(&path, os_config(true));
    for i in 0..2_000 {
        e.put(0, &key(i), b"seed", 0).unwrap();
    }
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let e = e.clone();
        let done = done.clone();
        thread::spawn(move || {
            let mut i = 10_000;
            while (!done.load(Ordering::Relaxed) || i < 13_000) && i < 19_000 {
                e.put(0, &key(i), &value(i, 0), 0).unwrap();
                if i % 5 == 0 && i - 10_000 < 2_000 {
                    e.remove(0, &key(i - 10_000)).unwrap();
                }
                i += 1;
            }
            i
        })
    };
    for _ in 0..3 {
        e.compact(None).unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let end = writer.join().unwrap();
    let check = |e: &Arc<Engine>| {
        for i in 10_000..end {
            assert_eq!(
                e.get(0, &key(i)).unwrap().unwrap().0,
                value(i, 0),
                "racing write {i} lost"
            );
        }
        for j in 0..2_000 {
            let removed = j % 5 == 0 && j + 10_000 < end;
            let got = e.get(0, &key(j)).unwrap().map(|(v, _)| v);
            assert_eq!(
                got,
                (!removed).then(|| b"seed".to_vec()),
                "racing removal of {j}"
            );
        }
    };
    check(&e);
    drop(e);
    let e = open(&path, os_config(true));
    check(&e);
}

#[test]
fn iterators_survive_compaction() {
    let (_d, path) = temp_db();
    let e = open(&path, os_config(true));
    for i in 0..300 {
        e.put(0, &key(i), &value(i, 0), 0).unwrap();
        e.put(0, &key(i), &value(i, 1), 0).unwrap();
    }
    let it = e.iter(0).unwrap();
    e.compact(None).unwrap();
    e.remove(0, &key(0)).unwrap();
    let got: Vec<_> = it.map(|r| r.unwrap()).collect();
    assert_eq!(got.len(), 299);
    assert!(got.iter().all(|(k, v, _)| {
        let i: u64 = std::str::from_utf8(&k[4..]).unwrap().parse().unwrap();
        *v == value(i, 1)
    }));
}

#[test]
fn backup_is_complete_atomic_and_validated() {
    let (d, path) = temp_db();
    let e = open(&path, os_config(true));
    let ns = e.create_namespace("n").unwrap();
    for i in 0..1_000 {
        e.put(ns, &key(i), &value(i, 0), if i % 2 == 0 { 0 } else { 10 })
            .unwrap();
    }
    let target = d.path().join("backup.emdb");
    std::fs::write(&target, b"old contents are replaced").unwrap();
    e.backup_to(&target, Some(100)).unwrap();
    e.put(ns, b"after", b"backup", 0).unwrap();
    {
        let b = open(&target, os_config(true));
        let bns = b.namespace_id("n").unwrap();
        assert_eq!(b.len(bns).unwrap(), 500, "expired records are not copied");
        assert_eq!(b.get(bns, &key(2)).unwrap().unwrap().0, value(2, 0));
        assert_eq!(b.get(bns, b"after").unwrap(), None);
        // An open target is refused.
        assert!(matches!(
            e.backup_to(&target, None),
            Err(EngineError::Locked { .. })
        ));
    }
    assert!(matches!(
        e.backup_to(&path, None),
        Err(EngineError::InvalidArgument(_))
    ));
    match e.backup_to(&d.path().join("missing/dir/b.emdb"), None) {
        Err(EngineError::Io { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    e.backup_to(&target, None).unwrap();
    let b = open(&target, os_config(true));
    assert_eq!(b.len(b.namespace_id("n").unwrap()).unwrap(), 1_001);
}
