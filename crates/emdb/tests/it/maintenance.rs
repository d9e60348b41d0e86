//! Compaction and backup: online, losing no racing write.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use emdb::{Emdb, Error};

use crate::common::*;

fn race<F: Fn(&Emdb) + Send + Sync + 'static>(op: F) {
    let (d, path) = temp_path();
    let db = Emdb::open(&path).unwrap();
    db.insert_many((0..5_000u32).map(|i| (format!("seed{i}"), vec![7u8; 100])))
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) || i < 2_000 {
                db.insert(format!("race{i}"), i.to_le_bytes()).unwrap();
                i += 1;
            }
            i
        })
    };
    let op = Arc::new(op);
    for _ in 0..3 {
        op(&db);
    }
    stop.store(true, Ordering::Relaxed);
    let n = writer.join().unwrap();
    let check = |db: &Emdb| {
        for i in 0..n {
            assert_eq!(
                db.get(format!("race{i}")).unwrap(),
                Some(i.to_le_bytes().to_vec()),
                "write {i} lost"
            );
        }
        assert_eq!(db.len().unwrap(), 5_000 + n as usize);
    };
    check(&db);
    drop(db);
    check(&Emdb::open(&path).unwrap());
    drop(d);
}

#[test]
fn writes_racing_with_compaction_are_kept_085() {
    race(|db| db.compact().unwrap());
}

#[test]
fn writes_racing_with_backup_are_kept_in_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("b.emdb");
    race(move |db| db.backup_to(&target).unwrap());
}

#[test]
fn compaction_shrinks_the_file_to_about_its_live_data() {
    let db = Emdb::open_in_memory();
    for round in 0..10u8 {
        db.insert_many((0..1_000u32).map(|i| (i.to_le_bytes(), [round; 100])))
            .unwrap();
    }
    let before = db.stats().unwrap();
    db.compact().unwrap();
    let after = db.stats().unwrap();
    assert!(after.logical_size_bytes * 5 < before.logical_size_bytes);
    assert_eq!(after.preallocated_bytes, 0);
    assert_eq!(after.file_size_bytes, after.logical_size_bytes);
    assert_eq!(db.get(5u32.to_le_bytes()).unwrap(), Some(vec![9u8; 100]));
}

#[test]
fn backup_holds_everything_written_before_it_and_validates_its_target() {
    let (d, path) = temp_path();
    let db = Emdb::open(&path).unwrap();
    db.namespace("n").unwrap().insert("k", "v").unwrap();
    db.insert("a", "1").unwrap();
    let target = d.path().join("copy.emdb");
    std::fs::write(&target, b"previous contents").unwrap();
    db.backup_to(&target).unwrap();
    db.insert("after", "x").unwrap();
    {
        let copy = Emdb::open(&target).unwrap();
        assert_eq!(copy.get("a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(copy.get("after").unwrap(), None);
        assert_eq!(
            copy.namespace("n").unwrap().get("k").unwrap(),
            Some(b"v".to_vec())
        );
        assert!(matches!(db.backup_to(&target), Err(Error::LockBusy { .. })));
    }
    assert!(matches!(db.backup_to(&path), Err(Error::InvalidConfig(_))));
    match db.backup_to(d.path().join("no/such/dir/copy.emdb")) {
        Err(Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound),
        other => panic!("expected Io(NotFound), got {other:?}"),
    }
}
