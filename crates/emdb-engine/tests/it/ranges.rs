//! Iteration and the ordered (range) index: key sets fixed at creation, lazy pages, key order
//! in the file, and the index deferred after a snapshot reopen.

use std::ops::Bound;

use emdb_engine::{Engine, EngineError, ValueBytes, WriteOp};

use crate::common::*;

#[test]
fn iterators_fix_their_key_set_and_read_current_values() {
    let (_d, path) = temp_db();
    let e = open(&path, os_config(true));
    for i in 0..100 {
        e.put(0, &key(i), b"old", 0).unwrap();
    }
    let mut it = e.iter(0).unwrap();
    e.put(0, b"late", b"x", 0).unwrap();
    for i in 0..50 {
        e.remove(0, &key(i)).unwrap();
    }
    for i in 50..100 {
        e.put(0, &key(i), b"new", 0).unwrap();
    }
    let mut seen = vec![];
    for r in it.by_ref() {
        let (k, v, _) = r.unwrap();
        assert_eq!(v, b"new");
        seen.push(k);
    }
    seen.sort();
    assert_eq!(seen, (50..100).map(key).collect::<Vec<_>>());
}

/// An iterator reads records at their offsets only while the namespace is unchanged: a change
/// half-way makes the rest look their keys up (current values, removed keys skipped).
#[test]
fn an_iterator_sees_changes_made_half_way() {
    let (_d, path) = temp_db();
    let e = open(&path, os_config(true));
    for i in 0..100 {
        e.put(0, &key(i), b"old", 0).unwrap();
    }
    let mut it = e.iter(0).unwrap();
    let first: Vec<_> = it.by_ref().take(10).map(|r| r.unwrap()).collect();
    assert!(first.iter().all(|(_, v, _)| v == b"old"));
    for i in 0..100 {
        e.put(0, &key(i), b"new", 0).unwrap();
    }
    let rest: Vec<_> = it.map(|r| r.unwrap()).collect();
    assert_eq!(rest.len(), 90);
    assert!(rest.iter().all(|(_, v, _)| v == b"new"));

    let mut keys = e.iter(0).unwrap().keys_only();
    let (k, v, _) = keys.next().unwrap().unwrap();
    assert!(v.is_empty() && k.starts_with(b"key-"), "{k:?}");
    for i in 0..100 {
        e.remove(0, &key(i)).unwrap();
    }
    assert_eq!(keys.count(), 0, "removed since");
}

#[test]
fn range_keys_are_ordered_and_need_the_ordered_index() {
    let (_d, path) = temp_db();
    {
        let e = open(&path, os_config(true));
        assert!(matches!(
            e.range_keys(0, Bound::Unbounded, Bound::Unbounded, usize::MAX),
            Err(EngineError::RangeIndexDisabled)
        ));
        for i in (0..50).rev() {
            e.put(0, &key(i), b"v", 0).unwrap();
        }
    }
    // Rebuilt from a snapshot.
    let e = open(&path, os_config(true).with_range_index(true));
    assert!(e.open_report().used_snapshot);
    let k10 = key(10);
    let k20 = key(20);
    let got = e
        .range_keys(
            0,
            Bound::Included(&k10[..]),
            Bound::Excluded(&k20[..]),
            usize::MAX,
        )
        .unwrap();
    assert_eq!(got, (10..20).map(key).collect::<Vec<_>>());
    e.remove(0, &key(15)).unwrap();
    let got = e
        .range_keys(0, Bound::Excluded(&k10[..]), Bound::Unbounded, 3)
        .unwrap();
    assert_eq!(got, vec![key(11), key(12), key(13)]);
    let got = e
        .range_keys(0, Bound::Included(&k20[..]), Bound::Excluded(&k10[..]), 9)
        .unwrap();
    assert!(got.is_empty());
    let all = e
        .range_keys(0, Bound::Unbounded, Bound::Unbounded, usize::MAX)
        .unwrap();
    assert_eq!(all.len(), 49);
    let mut it = e.range_iter(0, Bound::Unbounded, Bound::Unbounded).unwrap();
    assert_eq!(it.next().unwrap().unwrap().0, key(0));
}

#[test]
fn range_iterators_page_lazily_and_skip_keys_inserted_after_creation() {
    let (_d, path) = temp_db();
    let e = open(&path, os_config(true).with_range_index(true));
    for i in (0..400).step_by(2) {
        e.put(0, &key(i), b"old", 0).unwrap();
    }
    let it = e
        .range_iter(0, Bound::Included(&key(100)), Bound::Excluded(&key(300)))
        .unwrap();
    // After creation: odd keys inserted (must not show), some removed, some overwritten, and a
    // compaction swaps the generation.
    for i in (101..300).step_by(2) {
        e.put(0, &key(i), b"new key", 0).unwrap();
    }
    e.remove(0, &key(150)).unwrap();
    e.put(0, &key(200), b"newer", 0).unwrap();
    e.compact(None).unwrap();
    let got: Vec<_> = it.map(|r| r.unwrap()).collect();
    let want: Vec<_> = (100..300)
        .step_by(2)
        .filter(|i| *i != 150)
        .map(key)
        .collect();
    assert_eq!(
        got.iter().map(|(k, _, _)| k.clone()).collect::<Vec<_>>(),
        want
    );
    assert_eq!(
        got.iter().find(|(k, _, _)| *k == key(200)).unwrap().1,
        b"newer"
    );
    assert!(matches!(
        open(&temp_db().1, os_config(true)).range_iter(0, Bound::Unbounded, Bound::Unbounded),
        Err(EngineError::RangeIndexDisabled)
    ));
}

/// Values are read when `next()` reaches their key: changes made after the iterator was made,
/// inside the page already fetched as well as in later ones, are seen; keys inserted after it
/// are not.
#[test]
fn range_records_show_their_values_when_reached() {
    let (_d, path) = temp_db();
    let e = open(&path, os_config(true).with_range_index(true));
    for i in 0..100 {
        e.put(0, &key(i), b"old", 0).unwrap();
    }
    let mut it = e.range_iter(0, Bound::Unbounded, Bound::Unbounded).unwrap();
    // The first page (keys 0..=15) is fetched as the iterator is made; this removal is seen.
    e.remove(0, &key(0)).unwrap();
    assert_eq!(it.next().unwrap().unwrap().0, key(1));
    assert_eq!(
        it.next().unwrap().unwrap().1,
        b"old",
        "no change since: read in place"
    );
    e.put(0, &key(5), b"new", 0).unwrap();
    e.remove(0, &key(6)).unwrap();
    e.put(0, &key(50), b"new", 0).unwrap();
    e.remove(0, &key(51)).unwrap();
    e.put(0, &key(1000), b"late", 0).unwrap();
    let rest: Vec<_> = it.map(|r| r.unwrap()).collect();
    let value_of = |k: u64| {
        rest.iter()
            .find(|(x, _, _)| *x == key(k))
            .map(|r| r.1.clone())
    };
    assert_eq!(value_of(5).unwrap(), b"new");
    assert_eq!(value_of(6), None);
    assert_eq!(value_of(50).unwrap(), b"new");
    assert_eq!(value_of(51), None);
    assert_eq!(value_of(1000), None, "inserted after the iterator was made");
    assert_eq!(rest.len(), 95);
}

/// Puts keys `0..n` as "old", reads the first record of a range scan, compacts, then removes
/// key `removed` and overwrites key `removed + 1`: the rest of the scan must show both changes.
fn changes_after_a_compaction_show(n: u64, removed: u64) {
    let (_d, path) = temp_db();
    let e = open(&path, os_config(true).with_range_index(true));
    for i in 0..n {
        e.put(0, &key(i), b"old", 0).unwrap();
    }
    let mut it = e.range_iter(0, Bound::Unbounded, Bound::Unbounded).unwrap();
    assert_eq!(it.next().unwrap().unwrap().0, key(0));
    e.compact(None).unwrap();
    e.remove(0, &key(removed)).unwrap();
    e.put(0, &key(removed + 1), b"new", 0).unwrap();
    let rest: Vec<_> = it.map(|r| r.unwrap()).collect();
    assert_eq!(rest.len() as u64, n - 2);
    assert!(rest.iter().all(|(k, _, _)| *k != key(removed)));
    assert!(
        rest.iter()
            .any(|(k, v, _)| *k == key(removed + 1) && v == b"new")
    );
}

/// A page fetched before a compaction is not read in place afterwards: the compaction retired
/// the index it came from, and a removal after it reaches only the new generation.
#[test]
fn a_page_fetched_before_a_compaction_sees_later_changes() {
    changes_after_a_compaction_show(10, 3);
}

/// A page fetched after a compaction from the iterator's old generation (its second page here:
/// the first holds 16 records) comes from an index that no longer sees writes: its keys are
/// looked up in the current generation, so later changes show.
#[test]
fn a_page_fetched_after_a_compaction_sees_later_changes() {
    changes_after_a_compaction_show(40, 30);
}

#[test]
fn ordered_index_deferred_after_a_snapshot_reopen_sees_every_write() {
    let (_d, path) = temp_db();
    {
        let e = open(&path, os_config(true).with_range_index(true));
        for i in 0..100 {
            e.put(0, &key(i), b"v", 0).unwrap();
        }
    }
    let e = open(&path, os_config(true).with_range_index(true));
    assert!(e.open_report().used_snapshot);
    // Writes before the first range call, while the ordered set is not built yet.
    e.put(0, &key(500), b"new", 0).unwrap();
    e.remove(0, &key(3)).unwrap();
    e.clear(0).unwrap();
    e.put(0, &key(7), b"after clear", 0).unwrap();
    let all = e
        .range_keys(0, Bound::Unbounded, Bound::Unbounded, usize::MAX)
        .unwrap();
    assert_eq!(all, vec![key(7)]);
    drop(e);
    let e = open(&path, os_config(true).with_range_index(true));
    e.put(0, &key(1), b"x", 0).unwrap();
    e.remove(0, &key(7)).unwrap();
    let got: Vec<_> = e
        .range_iter(0, Bound::Unbounded, Bound::Unbounded)
        .unwrap()
        .map(|r| r.unwrap().0)
        .collect();
    assert_eq!(got, vec![key(1)]);
}

/// Where `key`'s value starts in the map.
fn value_start(e: &Engine, key: &[u8]) -> usize {
    match e.get_ref(0, key).unwrap().unwrap().0 {
        ValueBytes::Mapped { start, .. } => start,
        ValueBytes::Owned(_) => panic!("expected a mapped value"),
    }
}

#[test]
fn a_batch_with_the_range_index_is_laid_out_in_key_order_and_its_last_write_wins() {
    let (_d, path) = temp_db();
    let ops = [
        WriteOp::Put {
            ns: 0,
            key: b"d",
            value: b"1",
            expires_at: 0,
        },
        WriteOp::Put {
            ns: 0,
            key: b"b",
            value: b"1",
            expires_at: 0,
        },
        WriteOp::Delete { ns: 0, key: b"c" },
        WriteOp::Put {
            ns: 0,
            key: b"b",
            value: b"2",
            expires_at: 0,
        },
        WriteOp::Put {
            ns: 0,
            key: b"c",
            value: b"3",
            expires_at: 0,
        },
        WriteOp::Put {
            ns: 0,
            key: b"a",
            value: b"1",
            expires_at: 0,
        },
        WriteOp::Delete { ns: 0, key: b"d" },
    ];
    let want = vec![
        (b"a".to_vec(), b"1".to_vec()),
        (b"b".to_vec(), b"2".to_vec()),
        (b"c".to_vec(), b"3".to_vec()),
    ];
    {
        let e = open(&path, os_config(true).with_range_index(true));
        e.commit(&ops).unwrap();
        assert_eq!(dump(&e, 0), want);
        // Records sit in the log in key order, whatever order the batch listed them in.
        let starts: Vec<usize> = [&b"a"[..], b"b", b"c"]
            .iter()
            .map(|k| value_start(&e, k))
            .collect();
        assert!(starts.is_sorted(), "{starts:?}");
        e.flush().unwrap();
    }
    let e = open(&path, os_config(true).with_range_index(true));
    assert_eq!(dump(&e, 0), want);
    // Without the range index the batch keeps its order, with the same outcome.
    let (_d2, path2) = temp_db();
    let e = open(&path2, os_config(true));
    e.commit(&ops).unwrap();
    assert_eq!(dump(&e, 0), want);
    assert!(value_start(&e, b"c") < value_start(&e, b"a"));
}
