//! Range scans: bounds, prefixes, ordering, the opt-in, and TTL filtering.

use std::ops::Bound;

use emdb::{Emdb, Error};

use crate::common::*;

fn db() -> Emdb {
    let db = Emdb::builder().enable_range_scans(true).build().unwrap();
    db.insert_many([("a", "1"), ("b", "2"), ("ba", "3"), ("c", "4")])
        .unwrap();
    db
}

#[test]
fn ranges_are_ordered_and_honour_bounds() {
    let db = db();
    let keys = |v: Vec<(Vec<u8>, Vec<u8>)>| {
        v.into_iter()
            .map(|(k, _)| String::from_utf8(k).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(db.range(..).unwrap()), ["a", "b", "ba", "c"]);
    assert_eq!(
        keys(db.range(b"b".to_vec()..b"c".to_vec()).unwrap()),
        ["b", "ba"]
    );
    assert_eq!(
        keys(db.range(b"b".to_vec()..=b"c".to_vec()).unwrap()),
        ["b", "ba", "c"]
    );
    assert_eq!(
        keys(
            db.range((Bound::Excluded(b"b".to_vec()), Bound::Unbounded))
                .unwrap()
        ),
        ["ba", "c"]
    );
    assert!(db.range(b"z".to_vec()..b"a".to_vec()).unwrap().is_empty());
    assert_eq!(keys(db.range_prefix("b").unwrap()), ["b", "ba"]);
    assert_eq!(keys(db.range_prefix("").unwrap()), ["a", "b", "ba", "c"]);
    assert_eq!(db.iter_from("b").unwrap().count(), 3);
    assert_eq!(db.iter_after("b").unwrap().count(), 2);
    assert_eq!(db.range_iter(..b"b".to_vec()).unwrap().count(), 1);
    assert_eq!(db.range_prefix_iter("c").unwrap().count(), 1);
}

#[test]
fn prefix_successor_handles_0xff() {
    let db = Emdb::builder().enable_range_scans(true).build().unwrap();
    db.insert(vec![0x01, 0xff], "in").unwrap();
    db.insert(vec![0x01, 0xff, 0x00], "in").unwrap();
    db.insert(vec![0x02], "out").unwrap();
    db.insert(vec![0xff, 0xff], "ff").unwrap();
    assert_eq!(db.range_prefix([0x01, 0xff]).unwrap().len(), 2);
    assert_eq!(db.range_prefix([0xff]).unwrap().len(), 1);
}

#[test]
fn range_values_are_read_when_reached_and_removed_keys_skipped() {
    let db = db();
    let mut it = db.range_iter(..).unwrap();
    db.remove("b").unwrap();
    db.insert("c", "44").unwrap();
    db.insert("bb", "late").unwrap();
    assert_eq!(it.next(), Some(kv("a", "1")));
    assert_eq!(it.collect::<Vec<_>>(), vec![kv("ba", "3"), kv("c", "44")]);
}

#[test]
fn ranges_need_the_opt_in() {
    let db = Emdb::open_in_memory();
    let n = db.namespace("n").unwrap();
    for err in [
        db.range(..).err(),
        db.range_prefix("a").err(),
        n.range(..).err(),
        n.iter_from("a").err().map(|_| Error::InvalidConfig("x")),
    ] {
        assert!(matches!(err, Some(Error::InvalidConfig(_))), "{err:?}");
    }
    assert!(db.iter_after("a").is_err());
}

#[test]
fn namespace_ranges_and_index_rebuild_after_reopen() {
    let (_d, path) = temp_path();
    {
        let db = Emdb::builder()
            .path(&path)
            .enable_range_scans(true)
            .build()
            .unwrap();
        let n = db.namespace("n").unwrap();
        n.insert_many([("x2", "b"), ("x1", "a"), ("y", "c")])
            .unwrap();
    }
    let db = Emdb::builder()
        .path(&path)
        .enable_range_scans(true)
        .build()
        .unwrap();
    let n = db.namespace("n").unwrap();
    assert_eq!(
        n.range_prefix("x").unwrap(),
        vec![kv("x1", "a"), kv("x2", "b")]
    );
    assert_eq!(n.iter_after("x1").unwrap().count(), 2);
    assert_eq!(n.range_prefix_iter("y").unwrap().count(), 1);
    assert_eq!(n.range_iter(b"x2".to_vec()..).unwrap().count(), 2);
}

/// SPEC 5 inside a page: a key removed after the iterator was made is skipped and an
/// overwritten one shows its value when `next()` reaches it, even when the page holding them
/// was already fetched.
#[test]
fn changes_inside_the_current_page_are_seen() {
    let db = Emdb::builder().enable_range_scans(true).build().unwrap();
    for i in 0..20u8 {
        db.insert(vec![b'k', i], "old").unwrap();
    }
    let mut it = db.range_iter(..).unwrap();
    assert_eq!(it.next(), Some((vec![b'k', 0], b"old".to_vec())));
    db.remove(vec![b'k', 5]).unwrap();
    db.insert(vec![b'k', 6], "new").unwrap();
    let rest: Vec<_> = it.collect();
    assert_eq!(rest.len(), 18);
    assert!(!rest.iter().any(|(k, _)| *k == [b'k', 5]));
    assert!(rest.contains(&(vec![b'k', 6], b"new".to_vec())));
}

/// A scan of a namespace dropped while it runs ends at the drop.
#[test]
fn a_scan_of_a_dropped_namespace_ends() {
    let db = Emdb::builder().enable_range_scans(true).build().unwrap();
    let n = db.namespace("n").unwrap();
    for i in 0..20u8 {
        n.insert(vec![b'k', i], "v").unwrap();
    }
    let mut it = n.range_iter(..).unwrap();
    assert!(it.next().is_some());
    assert!(db.drop_namespace("n").unwrap());
    assert_eq!(it.next(), None);
}
