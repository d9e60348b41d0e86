//! Point operations, batches, namespaces, limits, expiry and counts, on both read paths, with
//! a reopen in between.

use emdb_engine::format::limits::{MAX_KEY_LEN, MAX_NAMESPACE_LEN};
use emdb_engine::{Engine, EngineError, OwnedOp, ValueBytes, WriteOp};

use crate::common::*;

fn crud_survives_reopen(mmap: bool) {
    let (_d, path) = temp_db();
    {
        let e = open(&path, os_config(mmap));
        assert!(e.open_report().created);
        e.put(0, b"a", b"1", 0).unwrap();
        e.put(0, b"b", b"2", 77).unwrap();
        e.put(0, b"a", b"3", 0).unwrap();
        e.put(0, b"", b"", 0).unwrap();
        assert_eq!(e.get(0, b"a").unwrap(), Some((b"3".to_vec(), 0)));
        assert_eq!(e.get(0, b"b").unwrap(), Some((b"2".to_vec(), 77)));
        assert_eq!(e.expires_at(0, b"b").unwrap(), Some(77));
        assert_eq!(e.remove(0, b"b").unwrap(), Some((b"2".to_vec(), 77)));
        assert_eq!(e.remove(0, b"b").unwrap(), None);
        assert_eq!(e.len(0).unwrap(), 2);
        e.flush().unwrap();
    }
    let e = open(&path, os_config(mmap));
    assert!(!e.open_report().created);
    assert_eq!(
        dump(&e, 0),
        vec![(vec![], vec![]), (b"a".to_vec(), b"3".to_vec())]
    );
    assert_eq!(e.get(0, b"b").unwrap(), None);
}

#[test]
fn crud_survives_reopen_mmap() {
    crud_survives_reopen(true);
}

#[test]
fn crud_survives_reopen_pread() {
    crud_survives_reopen(false);
}

#[test]
fn many_keys_grow_the_file_and_the_index() {
    let (_d, path) = temp_db();
    let e = open(&path, os_config(true));
    for i in 0..20_000 {
        e.put(0, &key(i), &value(i, 0), 0).unwrap();
    }
    for i in (0..20_000).step_by(3) {
        e.put(0, &key(i), &value(i, 1), 0).unwrap();
    }
    for i in (0..20_000).step_by(7) {
        e.remove(0, &key(i)).unwrap();
    }
    let check = |e: &std::sync::Arc<Engine>| {
        for i in 0..20_000 {
            let want = if i % 7 == 0 {
                None
            } else {
                Some(value(i, u64::from(i % 3 == 0)))
            };
            assert_eq!(e.get(0, &key(i)).unwrap().map(|(v, _)| v), want, "key {i}");
        }
    };
    check(&e);
    let stats = e.stats();
    assert_eq!(stats.live_records, 20_000 - 20_000u64.div_ceil(7));
    assert!(stats.file_size >= stats.logical_size);
    assert_eq!(stats.preallocated, stats.file_size - stats.logical_size);
    drop(e);
    let e = open(&path, os_config(false));
    assert!(
        e.open_report().used_snapshot,
        "a clean close writes a snapshot"
    );
    check(&e);
}

#[test]
fn batches_apply_all_operations() {
    let (_d, path) = temp_db();
    let e = open(&path, os_config(true));
    e.put(0, b"gone", b"x", 0).unwrap();
    e.commit(&[
        WriteOp::Put {
            ns: 0,
            key: b"k1",
            value: b"v1",
            expires_at: 5,
        },
        WriteOp::Delete {
            ns: 0,
            key: b"gone",
        },
        WriteOp::Put {
            ns: 0,
            key: b"k2",
            value: b"v2",
            expires_at: 0,
        },
        WriteOp::Put {
            ns: 0,
            key: b"k1",
            value: b"v1b",
            expires_at: 0,
        },
    ])
    .unwrap();
    e.commit(&[]).unwrap();
    assert_eq!(
        dump(&e, 0),
        vec![
            (b"k1".to_vec(), b"v1b".to_vec()),
            (b"k2".to_vec(), b"v2".to_vec())
        ]
    );
}

#[test]
fn namespaces_are_isolated_persisted_and_dropped_for_good() {
    let (_d, path) = temp_db();
    {
        let e = open(&path, os_config(true));
        let a = e.create_namespace("alpha").unwrap();
        let b = e.create_namespace("beta").unwrap();
        assert_eq!(e.create_namespace("alpha").unwrap(), a);
        e.put(a, b"k", b"in-a", 0).unwrap();
        e.put(b, b"k", b"in-b", 0).unwrap();
        e.put(0, b"k", b"in-default", 0).unwrap();
        assert!(e.drop_namespace("alpha").unwrap());
        assert!(!e.drop_namespace("alpha").unwrap());
        assert!(matches!(
            e.put(a, b"x", b"y", 0),
            Err(EngineError::NamespaceMissing(_))
        ));
        let a2 = e.create_namespace("alpha").unwrap();
        assert_ne!(a, a2, "ids are never reused");
        assert_eq!(e.get(a2, b"k").unwrap(), None);
        e.clear(b).unwrap();
        e.put(b, b"after", b"clear", 0).unwrap();
    }
    let e = open(&path, os_config(true).with_snapshot_on_close(false));
    let names: Vec<String> = e.namespaces().into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["", "beta", "alpha"]);
    let a2 = e.namespace_id("alpha").unwrap();
    let b = e.namespace_id("beta").unwrap();
    assert_eq!(e.len(a2).unwrap(), 0);
    assert_eq!(dump(&e, b), vec![(b"after".to_vec(), b"clear".to_vec())]);
    assert_eq!(e.get(0, b"k").unwrap().unwrap().0, b"in-default");
    assert_eq!(e.stats().namespace_count, 2);
    assert!(matches!(
        e.drop_namespace(""),
        Err(EngineError::InvalidArgument(_))
    ));
    assert!(matches!(
        e.create_namespace(""),
        Err(EngineError::InvalidArgument(_))
    ));
}

#[test]
fn limits_are_typed_errors_and_nothing_is_written() {
    let (_d, path) = temp_db();
    let e = open(&path, os_config(true));
    let before = e.logical_size();
    let big_key = vec![0u8; MAX_KEY_LEN + 1];
    assert!(matches!(
        e.put(0, &big_key, b"v", 0),
        Err(EngineError::Limit(_))
    ));
    let long_name = "n".repeat(MAX_NAMESPACE_LEN + 1);
    assert!(matches!(
        e.create_namespace(&long_name),
        Err(EngineError::Limit(_))
    ));
    assert!(matches!(
        e.commit(&[
            WriteOp::Put {
                ns: 0,
                key: b"ok",
                value: b"v",
                expires_at: 0
            },
            WriteOp::Put {
                ns: 0,
                key: &big_key,
                value: b"v",
                expires_at: 0
            },
        ]),
        Err(EngineError::Limit(_))
    ));
    assert!(matches!(
        e.put(99, b"k", b"v", 0),
        Err(EngineError::NamespaceMissing(99))
    ));
    assert_eq!(e.logical_size(), before);
    assert_eq!(e.get(0, b"ok").unwrap(), None);
}

#[test]
fn zero_copy_reads_borrow_the_map() {
    let (_d, path) = temp_db();
    let e = open(&path, os_config(true));
    e.put(0, b"k", b"value bytes", 9).unwrap();
    let (v, exp) = e.get_ref(0, b"k").unwrap().unwrap();
    assert!(matches!(v, ValueBytes::Mapped { .. }));
    assert_eq!((v.as_slice(), exp), (&b"value bytes"[..], 9));
    // The borrowed value outlives later growth of the file.
    for i in 0..5_000 {
        e.put(0, &key(i), &[7u8; 200], 0).unwrap();
    }
    assert_eq!(v.as_slice(), b"value bytes");
    let p = open(&temp_db().1, os_config(false));
    p.put(0, b"k", b"v", 0).unwrap();
    assert!(matches!(
        p.get_ref(0, b"k").unwrap().unwrap().0,
        ValueBytes::Owned(_)
    ));
}

#[test]
fn expired_keys_are_listed_without_values() {
    let (_d, path) = temp_db();
    let e = open(&path, os_config(true));
    e.put(0, b"old", b"v", 100).unwrap();
    e.put(0, b"new", b"v", 300).unwrap();
    e.put(0, b"never", b"v", 0).unwrap();
    assert_eq!(e.expired_keys(0, 200).unwrap(), vec![b"old".to_vec()]);
    assert!(matches!(
        e.expired_keys(42, 0),
        Err(EngineError::NamespaceMissing(42))
    ));
}

#[test]
fn update_reads_and_writes_atomically() {
    let (_d, path) = temp_db();
    let e = open(&path, os_config(true));
    e.put(0, b"n", b"1", 50).unwrap();
    let old = e
        .update(|view| {
            let (v, exp) = view.get(0, b"n")?.unwrap();
            assert_eq!(view.expires_at(0, b"n")?, Some(exp));
            let next = (v[0] + 1..=v[0] + 1).collect::<Vec<u8>>();
            Ok((
                vec![OwnedOp::Put {
                    ns: 0,
                    key: b"n".to_vec(),
                    value: next,
                    expires_at: 0,
                }],
                exp,
            ))
        })
        .unwrap();
    assert_eq!(old, 50);
    assert_eq!(e.get(0, b"n").unwrap(), Some((vec![b'2'], 0)));
}

#[test]
fn live_len_excludes_expired_and_survives_every_reopen_path() {
    let (_d, path) = temp_db();
    let e = open(&path, os_config(true));
    e.put(0, b"a", b"v", 100).unwrap();
    e.put(0, b"b", b"v", 300).unwrap();
    e.put(0, b"c", b"v", 0).unwrap();
    e.put(0, b"a", b"v", 0).unwrap(); // overwrite drops a's expiry
    e.put(0, b"d", b"v", 150).unwrap();
    e.remove(0, b"d").unwrap();
    assert_eq!(e.live_len(0, || 200).unwrap(), 3);
    assert_eq!(e.live_len(0, || 300).unwrap(), 2);
    assert_eq!(e.len(0).unwrap(), 3);
    drop(e);
    for snapshot in [true, false] {
        if !snapshot {
            std::fs::remove_file(emdb_engine::snapshot_path(&path)).unwrap();
        }
        let e = open(&path, os_config(true).with_snapshot_on_close(snapshot));
        assert_eq!(e.open_report().used_snapshot, snapshot);
        assert_eq!(e.live_len(0, || 300).unwrap(), 2);
        assert_eq!(e.live_len(0, || 299).unwrap(), 3);
    }
    let e = open(&path, os_config(true));
    e.clear(0).unwrap();
    e.put(0, b"x", b"v", 0).unwrap();
    assert_eq!(e.live_len(0, || u64::MAX).unwrap(), 1);
}

#[test]
fn close_rewrites_the_snapshot_only_when_the_log_moved() {
    let (_d, path) = temp_db();
    let snap = emdb_engine::snapshot_path(&path);
    open(&path, os_config(true)).put(0, b"a", b"1", 0).unwrap();
    assert!(snap.exists());
    // Opened from the snapshot with nothing to replay: closing would write the same bytes,
    // so it does not write at all (the removed file stays removed).
    let e = open(&path, os_config(true));
    assert!(e.open_report().used_snapshot);
    assert_eq!(e.open_report().frames_replayed, 0);
    std::fs::remove_file(&snap).unwrap();
    e.checkpoint().unwrap();
    drop(e);
    assert!(!snap.exists());
    // Without a snapshot the open scans, and the close writes one.
    let e = open(&path, os_config(true));
    assert!(!e.open_report().used_snapshot);
    drop(e);
    assert!(snap.exists());
    // A write after the last snapshot makes the next checkpoint write again.
    let e = open(&path, os_config(true));
    e.checkpoint().unwrap();
    std::fs::remove_file(&snap).unwrap();
    e.put(0, b"b", b"2", 0).unwrap();
    e.checkpoint().unwrap();
    assert!(snap.exists());
    drop(e);
    let e = open(&path, os_config(true));
    assert!(e.open_report().used_snapshot);
    assert_eq!(dump(&e, 0).len(), 2);
}

/// `live_len` of the default namespace is answered from counts the writer keeps beside the
/// index; they must follow every way the namespace changes.
#[test]
fn default_namespace_len_follows_every_kind_of_change() {
    let (_d, path) = temp_db();
    let e = open(&path, os_config(true));
    let len = |e: &Engine, now: u64| e.live_len(0, || now).unwrap();
    for i in 0..10 {
        e.put(0, &key(i), b"v", 0).unwrap();
    }
    assert_eq!(len(&e, 0), 10);
    e.put(0, &key(0), b"overwritten", 0).unwrap();
    e.remove(0, &key(3)).unwrap();
    assert_eq!(len(&e, 0), 9);
    e.commit(&[
        WriteOp::Put {
            ns: 0,
            key: &key(20),
            value: b"v",
            expires_at: 0,
        },
        WriteOp::Delete {
            ns: 0,
            key: &key(4),
        },
    ])
    .unwrap();
    assert_eq!(len(&e, 0), 9);
    let other = e.create_namespace("other").unwrap();
    e.put(other, &key(1), b"v", 0).unwrap();
    assert_eq!(len(&e, 0), 9, "another namespace does not count");
    e.clear(0).unwrap();
    assert_eq!(len(&e, 0), 0);
    for i in 0..5 {
        e.put(0, &key(i), b"v", 0).unwrap();
    }
    // A record with an expiry: counted until it expires.
    e.put(0, &key(9), b"v", 100).unwrap();
    assert_eq!(len(&e, 50), 6);
    assert_eq!(len(&e, 100), 5);
    // Compaction drops it; then no record has an expiry and the count is 5 at any time.
    e.compact(Some(100)).unwrap();
    assert_eq!(len(&e, 0), 5);
    // A transaction commits through the same path.
    e.update(|_| Ok((vec![OwnedOp::Delete { ns: 0, key: key(1) }], ())))
        .unwrap();
    assert_eq!(len(&e, 0), 4);
    drop(e);
    let e = open(&path, os_config(true));
    assert_eq!(len(&e, 0), 4);
    assert_eq!(e.live_len(other, || 0).unwrap(), 1);
}
