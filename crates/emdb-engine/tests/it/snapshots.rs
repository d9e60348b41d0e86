//! The index snapshot: reopen replays only the log after it, and a snapshot that is damaged,
//! belongs to another file, or was altered behind a valid checksum never changes what reads
//! return.

use std::ops::Range;

use emdb_engine::format::checksum::crc32;
use emdb_engine::{Corruption, EngineConfig, EngineError, snapshot_path};

use crate::common::*;

/// Byte ranges of a snapshot's namespace records, in order: each is 24 bytes of head (id,
/// reserved, creating offset, records with an expiry) and then 16 shards of a slot count and
/// the slots. They start after the 64-byte header and end before the 8-byte trailer.
fn namespace_records(snap: &[u8]) -> Vec<Range<usize>> {
    let u64_at = |at: usize| u64::from_le_bytes(snap[at..at + 8].try_into().unwrap());
    let mut records = Vec::new();
    let mut at = 64;
    while at < snap.len() - 8 {
        let start = at;
        at += 24;
        for _ in 0..16 {
            at += 8 + 8 * usize::try_from(u64_at(at)).unwrap();
        }
        records.push(start..at);
    }
    records
}

/// `body`, a snapshot without its trailer, with a trailer whose CRC matches it.
fn with_crc(mut body: Vec<u8>) -> Vec<u8> {
    let crc = crc32(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    body.extend_from_slice(&[0; 4]);
    body
}

#[test]
fn snapshot_makes_reopen_replay_only_the_tail() {
    let (_d, path) = temp_db();
    {
        let e = open(&path, os_config(true).with_snapshot_on_close(false));
        let ns = e.create_namespace("n").unwrap();
        for i in 0..1000 {
            e.put(ns, &key(i), &value(i, 0), 0).unwrap();
        }
        e.checkpoint().unwrap();
        for i in 0..10 {
            e.put(ns, &key(i), &value(i, 1), 0).unwrap();
        }
        e.flush().unwrap();
    }
    let e = open(&path, os_config(true).with_snapshot_on_close(false));
    let r = e.open_report();
    assert!(r.used_snapshot);
    assert_eq!(r.frames_replayed, 10);
    let ns = e.namespace_id("n").unwrap();
    assert_eq!(e.len(ns).unwrap(), 1000);
    assert_eq!(e.get(ns, &key(5)).unwrap().unwrap().0, value(5, 1));
    drop(e);
    // A damaged snapshot is ignored: full scan, same answers.
    let snap = snapshot_path(&path);
    let mut bytes = std::fs::read(&snap).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&snap, bytes).unwrap();
    let e = open(&path, os_config(true));
    assert!(!e.open_report().used_snapshot);
    assert_eq!(e.len(ns).unwrap(), 1000);
    assert_eq!(e.get(ns, &key(5)).unwrap().unwrap().0, value(5, 1));
}

/// On both read paths (the snapshot mapped, or read into memory): a valid snapshot is used, and
/// a damaged, cut-short or empty one is ignored in favour of a full scan with the same answers.
#[test]
fn bad_snapshots_fall_back_to_a_scan_on_both_read_paths() {
    let (_d, path) = temp_db();
    {
        let e = open(&path, os_config(true));
        for i in 0..300 {
            e.put(0, &key(i), &value(i, 0), 0).unwrap();
        }
    }
    let snap = snapshot_path(&path);
    let good = std::fs::read(&snap).unwrap();
    let mut flipped = good.clone();
    flipped[good.len() - 100] ^= 0x10;
    let variants = [
        ("intact", good.clone(), true),
        ("a flipped bit", flipped, false),
        ("cut short", good[..good.len() / 2].to_vec(), false),
        ("empty", Vec::new(), false),
    ];
    for (what, bytes, usable) in variants {
        for mmap in [true, false] {
            std::fs::write(&snap, &bytes).unwrap();
            let e = open(&path, os_config(mmap).with_snapshot_on_close(false));
            assert_eq!(e.open_report().used_snapshot, usable, "{what}, mmap {mmap}");
            assert_eq!(e.len(0).unwrap(), 300, "{what}, mmap {mmap}");
            assert_eq!(e.get(0, &key(7)).unwrap().unwrap().0, value(7, 0));
        }
    }
}

/// A snapshot whose CRC holds but whose namespace list is not as written (a second default
/// namespace where a named one was, a next id not above every id, a default namespace with a
/// creating offset, no namespace at all) is ignored: open scans, and every namespace keeps its
/// records.
#[test]
fn snapshots_with_namespaces_out_of_order_fall_back_to_a_scan() {
    let (_d, path) = temp_db();
    let named = {
        let e = open(&path, os_config(true));
        let named = e.create_namespace("named").unwrap();
        for i in 0..50 {
            e.put(if i % 2 == 0 { named } else { 0 }, &key(i), &value(i, 0), 0)
                .unwrap();
        }
        named
    };
    assert_eq!(named, 1);
    let snap = snapshot_path(&path);
    let good = std::fs::read(&snap).unwrap();
    let second = namespace_records(&good)[1].start;
    let edited = |at: usize, bytes: &[u8]| {
        let mut body = good[..good.len() - 8].to_vec();
        body[at..at + bytes.len()].copy_from_slice(bytes);
        with_crc(body)
    };
    // The header alone, with a namespace count of 0.
    let mut no_namespaces = good[..64].to_vec();
    no_namespaces[60..64].fill(0);
    let variants = [
        ("as written", edited(0, b"EMDBSNP1"), true),
        (
            "the named namespace as a second default",
            edited(second, &[0; 4]),
            false,
        ),
        (
            "the next id not above the named one",
            edited(56, &1u32.to_le_bytes()),
            false,
        ),
        (
            "a default namespace with a creating entry",
            edited(64 + 8, &[8, 16, 0, 0]),
            false,
        ),
        ("no namespace at all", with_crc(no_namespaces), false),
    ];
    for (what, bytes, usable) in variants {
        std::fs::write(&snap, &bytes).unwrap();
        let e = open(&path, os_config(true).with_snapshot_on_close(false));
        assert_eq!(e.open_report().used_snapshot, usable, "{what}");
        assert_eq!(e.len(0).unwrap(), 25, "{what}");
        assert_eq!(e.len(named).unwrap(), 25, "{what}");
        assert_eq!(
            e.get(named, &key(4)).unwrap().unwrap().0,
            value(4, 0),
            "{what}"
        );
        assert_eq!(e.get(0, &key(5)).unwrap().unwrap().0, value(5, 0), "{what}");
    }
}

/// A snapshot that hands each namespace the other's tables (checksum made valid): its slots
/// point at records of the wrong namespace. No read returns one of them as its own: a lookup
/// skips them like a hash collision, iteration reports them as corruption, and compaction
/// refuses rather than move a record into the wrong namespace.
#[test]
fn snapshot_slots_pointing_into_another_namespace_never_read_across() {
    slots_pointing_into_another_namespace_never_read_across(&|| os_config(true));
    slots_pointing_into_another_namespace_never_read_across(&|| {
        crate::sealing::sealed_config(5, true)
    });
}

fn slots_pointing_into_another_namespace_never_read_across(config: &dyn Fn() -> EngineConfig) {
    let (_d, path) = temp_db();
    let named = {
        let e = open(&path, config());
        let named = e.create_namespace("named").unwrap();
        for i in 0..40 {
            e.put(0, &key(i), &value(i, 0), 0).unwrap();
            e.put(named, &key(i + 20), &value(i + 20, 1), 0).unwrap();
        }
        named
    };
    let snap = snapshot_path(&path);
    let good = std::fs::read(&snap).unwrap();
    let [first, second] = <[_; 2]>::try_from(namespace_records(&good)).unwrap();
    // Each record keeps its 24-byte head (id, creating offset, expiry count) and takes the
    // other's tables.
    let mut body = good[..first.start + 24].to_vec();
    body.extend_from_slice(&good[second.start + 24..second.end]);
    body.extend_from_slice(&good[second.start..second.start + 24]);
    body.extend_from_slice(&good[first.start + 24..first.end]);
    std::fs::write(&snap, with_crc(body)).unwrap();

    let e = open(&path, config().with_snapshot_on_close(false));
    assert!(
        e.open_report().used_snapshot,
        "the tables themselves are valid"
    );
    for i in 0..60 {
        for (ns, round) in [(0, 0), (named, 1)] {
            match e.get(ns, &key(i)).unwrap() {
                None => {}
                Some((v, _)) => assert_eq!(v, value(i, round), "key {i} of namespace {ns}"),
            }
        }
    }
    for ns in [0, named] {
        let items: Vec<_> = e.iter(ns).unwrap().collect();
        assert!(!items.is_empty());
        for item in items {
            match item {
                Err(EngineError::Corrupted {
                    reason: Corruption::Misindexed(n),
                    ..
                }) => assert_eq!(n, ns),
                other => panic!("namespace {ns} yielded {other:?}"),
            }
        }
    }
    assert!(matches!(
        e.compact(None),
        Err(EngineError::Corrupted {
            reason: Corruption::Misindexed(_),
            ..
        })
    ));
    drop(e);
    // Without the snapshot, the log gives every record back in its own namespace.
    std::fs::remove_file(&snap).unwrap();
    let e = open(&path, config().with_snapshot_on_close(false));
    assert_eq!(e.get(0, &key(25)).unwrap().unwrap().0, value(25, 0));
    assert_eq!(e.get(named, &key(25)).unwrap().unwrap().0, value(25, 1));
}

#[test]
fn snapshot_of_another_file_is_ignored() {
    let (d, path) = temp_db();
    {
        let e = open(&path, os_config(true));
        e.put(0, b"a", b"1", 0).unwrap();
    }
    let other = d.path().join("other.emdb");
    {
        let e = open(&other, os_config(true));
        e.put(0, b"b", b"2", 0).unwrap();
    }
    std::fs::copy(snapshot_path(&other), snapshot_path(&path)).unwrap();
    let e = open(&path, os_config(true));
    assert!(!e.open_report().used_snapshot);
    assert_eq!(dump(&e, 0), vec![(b"a".to_vec(), b"1".to_vec())]);
}

/// A record damaged on disk after the snapshot that indexes it (so open never reads it): every
/// point read of it reports corruption at its offset, through the map and through `pread`,
/// and every other record still reads back.
#[test]
fn a_record_damaged_behind_its_snapshot_is_reported_by_every_point_read() {
    for mmap in [true, false] {
        let (_d, path) = temp_db();
        let damaged = b"value that will be damaged";
        {
            let e = open(&path, os_config(mmap));
            // First: the snapshot checks the frame it was taken at, the last.
            e.put(0, b"victim", damaged, 0).unwrap();
            for i in 0..20 {
                e.put(0, &key(i), &value(i, 0), 0).unwrap();
            }
        }
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes
            .windows(damaged.len())
            .position(|w| w == damaged)
            .unwrap();
        bytes[at + 3] ^= 0x40;
        std::fs::write(&path, bytes).unwrap();

        let e = open(&path, os_config(mmap));
        assert!(e.open_report().used_snapshot);
        let corrupt = |r: Result<(), EngineError>, what: &str| match r {
            Err(EngineError::Corrupted {
                reason: Corruption::Frame(_),
                offset,
            }) => assert!(offset < at as u64, "{what} (mmap {mmap}): offset {offset}"),
            other => panic!("{what} (mmap {mmap}): expected corruption, got {other:?}"),
        };
        corrupt(e.get(0, b"victim").map(drop), "get");
        corrupt(e.get_ref(0, b"victim").map(drop), "get_ref");
        corrupt(e.expires_at(0, b"victim").map(drop), "expires_at");
        for i in 0..20 {
            assert_eq!(e.get(0, &key(i)).unwrap().unwrap().0, value(i, 0));
            assert_eq!(e.expires_at(0, &key(i)).unwrap(), Some(0));
        }
    }
}
