//! The single-writer lock, lock administration, and ephemeral databases.

use std::os::unix::fs::symlink;

use emdb::{Emdb, Error};

use crate::common::*;

#[test]
fn a_second_opener_is_refused_whatever_path_it_uses() {
    let (d, path) = temp_path();
    let _db = Emdb::open(&path).unwrap();
    match Emdb::open(&path) {
        Err(Error::LockBusy { path: lock }) => assert!(lock.to_string_lossy().ends_with(".lock")),
        other => panic!("expected LockBusy, got {other:?}"),
    }
    let link = d.path().join("alias.emdb");
    symlink(&path, &link).unwrap();
    assert!(matches!(Emdb::open(&link), Err(Error::LockBusy { .. })));
    assert!(matches!(
        Emdb::open(d.path().join("./db.emdb")),
        Err(Error::LockBusy { .. })
    ));
}

#[test]
fn lock_holder_and_break_lock() {
    let (_d, path) = temp_path();
    assert!(Emdb::lock_holder(&path).unwrap().is_none());
    let db = Emdb::open(&path).unwrap();
    let h = Emdb::lock_holder(&path).unwrap().unwrap();
    assert_eq!(h.pid, std::process::id());
    assert!(h.acquired_at_unix_millis > 0);
    assert_eq!(h.crate_version.as_deref(), Some(env!("CARGO_PKG_VERSION")));
    drop(db);
    assert!(Emdb::lock_holder(&path).unwrap().is_none());
    Emdb::break_lock(&path).unwrap();
    Emdb::break_lock(&path).unwrap();
    Emdb::open(&path).unwrap();
}

#[test]
fn open_in_memory_is_unique_and_cleans_up_085() {
    let dbs: Vec<Emdb> = (0..50).map(|_| Emdb::open_in_memory()).collect();
    let mut paths: Vec<_> = dbs.iter().map(|d| d.path().to_path_buf()).collect();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                (0..20)
                    .map(|_| Emdb::open_in_memory().path().to_path_buf())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for t in threads {
        paths.extend(t.join().unwrap());
    }
    let n = paths.len();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), n, "two ephemeral databases shared a path");
    let first = dbs[0].path().to_path_buf();
    dbs[0].insert("k", "v").unwrap();
    assert!(first.exists());
    drop(dbs);
    assert!(!first.exists());
    assert!(!std::path::Path::new(&format!("{}.lock", first.display())).exists());
    assert!(!std::path::Path::new(&format!("{}.lock-meta", first.display())).exists());
}

#[test]
fn builder_without_path_is_ephemeral() {
    let db = emdb::EmdbBuilder::new().build().unwrap();
    let p = db.path().to_path_buf();
    assert!(p.starts_with(std::env::temp_dir().canonicalize().unwrap()));
    drop(db);
    assert!(!p.exists());
}
