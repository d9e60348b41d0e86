//! The key-value surface: CRUD, batches, zero-copy values, handles, iterators.

use emdb::{Emdb, ValueRef};

use crate::common::*;

#[test]
fn crud_on_the_default_namespace() {
    let db = Emdb::open_in_memory();
    assert!(db.is_empty().unwrap());
    db.insert("a", "1").unwrap();
    db.insert(b"b".to_vec(), vec![2u8]).unwrap();
    db.insert("", "").unwrap();
    assert_eq!(db.get("a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(db.get("").unwrap(), Some(vec![]));
    assert!(db.contains_key("b").unwrap());
    assert_eq!(db.len().unwrap(), 3);
    db.insert("a", "one").unwrap();
    assert_eq!(db.get("a").unwrap(), Some(b"one".to_vec()));
    assert_eq!(db.remove("a").unwrap(), Some(b"one".to_vec()));
    assert_eq!(db.remove("a").unwrap(), None);
    assert_eq!(db.len().unwrap(), 2);
    db.clear().unwrap();
    assert!(db.is_empty().unwrap());
}

#[test]
fn insert_many_writes_all_and_empty_is_a_no_op() {
    let db = Emdb::open_in_memory();
    let before = db.stats().unwrap().logical_size_bytes;
    db.insert_many(Vec::<(&str, &str)>::new()).unwrap();
    assert_eq!(db.stats().unwrap().logical_size_bytes, before);
    let items: Vec<(String, String)> = (0..1000)
        .map(|i| (format!("k{i}"), format!("v{i}")))
        .collect();
    db.insert_many(items.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())))
        .unwrap();
    assert_eq!(db.len().unwrap(), 1000);
    assert_eq!(db.get("k999").unwrap(), Some(b"v999".to_vec()));
}

#[test]
fn zero_copy_values_compare_and_outlive_growth() {
    let db = Emdb::open_in_memory();
    db.insert("k", "hello").unwrap();
    let v: ValueRef = db.get_zerocopy("k").unwrap().unwrap();
    for i in 0..20_000u32 {
        db.insert(i.to_le_bytes().to_vec(), vec![0u8; 100]).unwrap();
    }
    db.compact().unwrap();
    assert_eq!(v.as_slice(), b"hello");
    assert!(v == *b"hello".as_slice());
    assert!(v == b"hello".as_slice());
    assert!(v == b"hello".to_vec());
    assert_eq!(v, db.get_zerocopy("k").unwrap().unwrap());
    assert_eq!(AsRef::<[u8]>::as_ref(&v), b"hello");
    assert_eq!(format!("{v:?}"), "ValueRef { len: 5 }");
    assert!(db.get_zerocopy("missing").unwrap().is_none());
}

#[test]
fn handles_share_one_database() {
    let (_d, path) = temp_path();
    let db = Emdb::open(&path).unwrap();
    let other = db.clone_handle();
    other.insert("k", "v").unwrap();
    assert_eq!(db.get("k").unwrap(), Some(b"v".to_vec()));
    assert_eq!(db.path(), path.canonicalize().unwrap());
    assert!(format!("{db:?}").contains("db.emdb"));
    let t = std::thread::spawn(move || other.insert("t", "thread"));
    t.join().unwrap().unwrap();
    assert!(db.contains_key("t").unwrap());
}

#[test]
fn iterators_fix_keys_skip_removed_and_read_current_values_085() {
    let db = Emdb::open_in_memory();
    db.insert_many([("a", "1"), ("b", "2"), ("c", "3")])
        .unwrap();
    let mut it = db.iter().unwrap();
    let keys = db.keys().unwrap();
    db.insert("d", "late").unwrap();
    db.remove("b").unwrap();
    db.insert("c", "33").unwrap();
    let mut got: Vec<_> = it.by_ref().collect();
    got.sort();
    // 0.8.5 yields b (removed) and c's old value.
    assert_eq!(got, vec![kv("a", "1"), kv("c", "33")]);
    let mut ks: Vec<_> = keys.collect();
    ks.sort();
    assert_eq!(ks, vec![b"a".to_vec(), b"c".to_vec()]);
}

#[test]
fn iterators_survive_compaction_085() {
    let db = Emdb::open_in_memory();
    for i in 0..200u32 {
        db.insert(format!("k{i:03}"), format!("v{i}")).unwrap();
        db.insert(format!("k{i:03}"), format!("w{i}")).unwrap();
    }
    let it = db.iter().unwrap();
    db.compact().unwrap();
    let got: Vec<_> = it.collect();
    // 0.8.5 yields nothing (offsets point into the new file).
    assert_eq!(got.len(), 200);
    assert!(got.iter().all(|(_, v)| v.starts_with(b"w")));
}

#[test]
fn an_iterator_keeps_the_database_open() {
    let (_d, path) = temp_path();
    let db = Emdb::open(&path).unwrap();
    db.insert("k", "v").unwrap();
    let it = db.iter().unwrap();
    drop(db);
    assert!(matches!(
        Emdb::open(&path),
        Err(emdb::Error::LockBusy { .. })
    ));
    assert_eq!(it.count(), 1);
    Emdb::open(&path).unwrap();
}

#[test]
fn stats_report_counts_and_sizes() {
    let db = Emdb::builder().enable_range_scans(true).build().unwrap();
    db.insert("alpha", "first").unwrap();
    let s = db.stats().unwrap();
    assert_eq!(s.live_records, 1);
    assert_eq!(s.namespace_count, 0);
    assert!(s.range_scans_enabled);
    assert!(!s.encrypted);
    assert!(s.logical_size_bytes > 4096);
    assert_eq!(
        s.preallocated_bytes,
        s.file_size_bytes - s.logical_size_bytes
    );
}
