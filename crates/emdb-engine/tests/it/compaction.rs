//! Online compaction and backup: smaller file, same data, nothing lost to racing writers.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;

use emdb_engine::storage::faulty::FaultyStorage;
use emdb_engine::storage::watched::WatchedFile;
use emdb_engine::storage::{LockGuard, OpenMode, Storage, StorageFile};
use emdb_engine::{Engine, EngineConfig, EngineError};

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
            assert_eq!(source.kind(), io::ErrorKind::NotFound);
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    e.backup_to(&target, None).unwrap();
    let b = open(&target, os_config(true));
    assert_eq!(b.len(b.namespace_id("n").unwrap()).unwrap(), 1_001);
}

/// Taken by the first write to a compaction's new file: tell the test, then wait for its go.
type Gate = Arc<Mutex<Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>>>;

/// Storage that holds the first write to a compaction's new file until the test lets it go,
/// so the test can commit between the moment compaction fixed the records it copies and its
/// catch-up (which replays what was written since, each old frame as one new frame).
#[derive(Debug)]
struct HeldRewrite {
    inner: FaultyStorage,
    gate: Gate,
}

impl Storage for HeldRewrite {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        let inner = self.inner.open(path, mode)?;
        if !path.to_string_lossy().ends_with(".compact.tmp") {
            return Ok(inner);
        }
        let gate = self.gate.clone();
        Ok(Arc::new(WatchedFile::new(inner, move |_, _| {
            let held = gate.lock().unwrap().take();
            if let Some((reached, go)) = held {
                reached.send(()).unwrap();
                go.recv().unwrap();
            }
        })))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.inner.remove(path)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.inner.sync_dir(dir)
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.inner.exists(path)
    }
    fn lock(&self, db: &Path) -> emdb_engine::Result<LockGuard> {
        self.inner.lock(db)
    }
}

/// A transaction large enough to be streamed (3 MiB), committed while compaction runs, is
/// replayed into the new file whole: every record of it readable after the swap and a reopen.
#[test]
fn a_large_transaction_racing_with_compaction_is_replayed_whole() {
    let path = Path::new("/db/race.emdb");
    let (reached_tx, reached) = mpsc::channel();
    let (go, go_rx) = mpsc::channel();
    let storage = Arc::new(HeldRewrite {
        inner: FaultyStorage::new(),
        gate: Arc::new(Mutex::new(Some((reached_tx, go_rx)))),
    });
    let config = || {
        EngineConfig::default()
            .with_storage(storage.clone())
            .with_prealloc_min(16 << 10)
    };
    let e = Engine::open(path, config()).unwrap();
    for i in 0..100 {
        e.put(0, &key(i), b"before", 0).unwrap();
    }
    let compactor = {
        let e = e.clone();
        thread::spawn(move || e.compact(None).map(|_| ()))
    };
    reached.recv().unwrap();
    let big = vec![0x42; 1_000];
    let keys: Vec<Vec<u8>> = (1_000..4_000).map(key).collect();
    e.commit(&puts(&keys, &big)).unwrap();
    go.send(()).unwrap();
    compactor.join().unwrap().unwrap();
    let check = |e: &Engine| {
        for i in 0..100 {
            assert_eq!(e.get(0, &key(i)).unwrap().unwrap().0, b"before");
        }
        for k in &keys {
            assert_eq!(e.get(0, k).unwrap().unwrap().0, big, "{k:?}");
        }
    };
    check(&e);
    e.flush().unwrap();
    drop(e);
    check(&Engine::open(path, config()).unwrap());
}

/// Whether an error is the damage planted at a file offset.
type IsDamage<'a> = &'a dyn Fn(&EngineError, u64) -> bool;

/// A record damaged on disk in the part of the log an index snapshot let open skip stops a
/// compaction with an error at that record (corruption, or a failed authentication when the
/// file is sealed), before anything replaces the file: every other record still reads, and the
/// damaged one reports the same error.
#[test]
fn compaction_stops_at_a_damaged_record_and_keeps_the_old_file() {
    let damaged_plain = |e: &EngineError, at: u64| matches!(e, EngineError::Corrupted { offset, .. } if *offset < at && at - offset < 64);
    let damaged_sealed =
        |e: &EngineError, at: u64| matches!(e, EngineError::Unseal { offset } if *offset < at);
    let cases: [(EngineConfig, IsDamage<'_>); 2] = [
        (os_config(true), &damaged_plain),
        (crate::sealing::sealed_config(11, true), &damaged_sealed),
    ];
    for (config, is_damage) in cases {
        let (_d, path) = temp_db();
        {
            let e = open(&path, config.clone());
            for i in 0..20 {
                e.put(0, &key(i), &value(i, 0), 0).unwrap();
            }
            e.remove(0, &key(19)).unwrap();
        }
        // A byte of the first record's key (of its ciphertext, in the sealed file). Its frame
        // is not the last one, which open checks whole.
        let image = std::fs::read(&path).unwrap();
        let first = image[4096..].iter().position(|&b| b != 0).unwrap() as u64 + 4096;
        let at = first + 48 + 6;
        let byte = image[at as usize] ^ 0x40;
        {
            use std::os::unix::fs::FileExt;
            let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            f.write_all_at(&[byte], at).unwrap();
        }
        let e = open(&path, config.with_snapshot_on_close(false));
        assert!(e.open_report().used_snapshot);
        let size = e.stats().logical_size;
        let err = e.compact(None).unwrap_err();
        assert!(is_damage(&err, at), "{err:?}");
        assert_eq!(e.stats().logical_size, size, "the old file stays");
        assert!(is_damage(&e.get(0, &key(0)).unwrap_err(), at));
        for i in 1..19 {
            assert_eq!(e.get(0, &key(i)).unwrap().unwrap().0, value(i, 0));
        }
        assert_eq!(std::fs::read(&path).unwrap()[at as usize], byte);
    }
}
