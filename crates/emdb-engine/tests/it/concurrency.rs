//! Readers, a writer and compaction at once: no torn, wrong or missing reads, while the writer
//! overwrites, inserts and removes keys around the ones the readers look up.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;

use emdb_engine::EngineConfig;

use crate::common::*;

/// A value that names its key and version, so a reader can tell a wrong or torn one.
fn versioned(i: u64, version: u64) -> Vec<u8> {
    let mut v = format!("{i}:{version}:").into_bytes();
    v.resize(64 + (i % 64) as usize, b'a' + (version % 26) as u8);
    v
}

fn parse(v: &[u8]) -> (u64, u64) {
    let s = std::str::from_utf8(v).unwrap();
    let mut parts = s.splitn(3, ':');
    let i = parts.next().unwrap().parse().unwrap();
    let version = parts.next().unwrap().parse().unwrap();
    let fill = parts.next().unwrap();
    assert_eq!(v.len(), 64 + (i % 64) as usize, "torn value");
    assert!(
        fill.bytes().all(|b| b == b'a' + (version % 26) as u8),
        "torn value"
    );
    (i, version)
}

fn run(config: EngineConfig) {
    const KEYS: u64 = 2_000;
    let (_d, path) = temp_db();
    let e = open(&path, config);
    for i in 0..KEYS {
        e.put(0, &key(i), &versioned(i, 0), 0).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let mut readers = vec![];
    for r in 0..3u64 {
        let (e, stop) = (e.clone(), stop.clone());
        readers.push(thread::spawn(move || {
            let mut x = r + 1;
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let i = (x >> 33) % KEYS;
                let (v, _) = e
                    .get(0, &key(i))
                    .unwrap()
                    .expect("a key that always exists went missing");
                assert_eq!(parse(&v).0, i, "value of another key");
                if let Some((bytes, _)) = e.get_ref(0, &key(i)).unwrap() {
                    assert_eq!(parse(bytes.as_slice()).0, i);
                }
                reads += 1;
            }
            reads
        }));
    }
    let writer = {
        let (e, stop, written) = (e.clone(), stop.clone(), written.clone());
        thread::spawn(move || {
            let mut version = 1;
            while !stop.load(Ordering::Relaxed) {
                for i in (0..KEYS).step_by(7) {
                    e.put(0, &key(i), &versioned(i, version), 0).unwrap();
                }
                // Churn beside the stable keys: inserting grows the hash shards, removing
                // shifts slots back, both under the readers' lock-free lookups.
                for i in KEYS..KEYS + 1_500 {
                    e.put(0, &key(i), &versioned(i, version), 0).unwrap();
                }
                for i in KEYS..KEYS + 1_500 {
                    e.remove(0, &key(i)).unwrap();
                }
                e.flush().unwrap();
                written.store(version, Ordering::Relaxed);
                version += 1;
            }
        })
    };
    for _ in 0..4 {
        e.compact(None).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(reads > 0);
    let last = written.load(Ordering::Relaxed);
    for i in (0..KEYS).step_by(7) {
        let (v, _) = e.get(0, &key(i)).unwrap().unwrap();
        assert!(parse(&v).1 >= last);
    }
    assert_eq!(e.len(0).unwrap(), KEYS);
}

#[test]
fn readers_writer_and_compaction_agree_mmap() {
    run(os_config(true));
}

#[test]
fn readers_writer_and_compaction_agree_pread() {
    run(os_config(false));
}

/// Sealed reads compare the key and take the value from one decryption, through the same
/// lock-free probe, retried when it overlaps a move of slots.
#[test]
fn readers_writer_and_compaction_agree_sealed() {
    run(crate::sealing::sealed_config(13, true));
}

#[test]
fn concurrent_flushes_share_syncs() {
    let (_d, path) = temp_db();
    let e = open(&path, os_config(true));
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let e = e.clone();
            thread::spawn(move || {
                for i in 0..50 {
                    e.put(0, &key(t * 1000 + i), b"v", 0).unwrap();
                    e.flush().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let syncs = e.stats().syncs;
    assert_eq!(e.len(0).unwrap(), 400);
    // Every flush returned only after its own write was covered; the count is at most one per
    // flush and usually far fewer.
    assert!(syncs <= 400, "{syncs} syncs for 400 flushes");
}
