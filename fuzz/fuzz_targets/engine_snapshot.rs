//! Opening a database whose index snapshot was tampered with never panics and never fails: a
//! snapshot that does not decode means a full scan, and one that decodes is still checked
//! against the log (a lookup compares the key and namespace stored there), so no key ever
//! reads another key's value, not even the same key's in another namespace, and the database
//! takes writes that survive a reopen.
//!
//! The input is a list of edits, two bytes of position and one byte to XOR, applied to the real
//! snapshot of a small database (two namespaces, a removal); the snapshot's CRC is then made to
//! match, so the edits reach the fields behind it. The first byte's low bit turns the range
//! index on.
#![no_main]

use std::path::Path;
use std::sync::Arc;

use emdb_engine::format::checksum::crc32;
use emdb_engine::storage::faulty::FaultyStorage;
use emdb_engine::storage::{OpenMode, Storage};
use emdb_engine::{Engine, EngineConfig, EngineError, snapshot_path};
use libfuzzer_sys::fuzz_target;

/// Records written before the snapshot: key `k{i}` of namespace `n` holds the value `v{i}.{n}`
/// (distinct per namespace, so a read across namespaces shows).
const RECORDS: u32 = 40;

fn value_of(ns: u32, key: &[u8]) -> Vec<u8> {
    let mut v = key.to_vec();
    v[0] = b'v';
    v.extend_from_slice(format!(".{ns}").as_bytes());
    v
}

fuzz_target!(|data: &[u8]| {
    let storage = FaultyStorage::new();
    let path = Path::new("/fuzz/db.emdb");
    let ranges = data.first().is_some_and(|b| b & 1 == 1);
    let config = || {
        EngineConfig::default()
            .with_storage(Arc::new(storage.clone()))
            .with_range_index(ranges)
            .with_prealloc_min(4096)
    };
    let keys: Vec<Vec<u8>> = (0..RECORDS).map(|i| format!("k{i}").into_bytes()).collect();
    let named = {
        let e = Engine::open(path, config()).expect("a new database opens");
        let named = e.create_namespace("named").expect("a namespace");
        for (i, k) in keys.iter().enumerate() {
            let ns = if i % 3 == 0 { named } else { 0 };
            e.put(ns, k, &value_of(ns, k), 0).expect("a put");
        }
        e.remove(0, &keys[1]).expect("a removal");
        named
    };
    let snap = snapshot_path(path);
    let mut bytes = storage
        .live_bytes(&snap)
        .expect("a clean close writes a snapshot");
    for edit in data.chunks_exact(3) {
        let at = usize::from(u16::from_le_bytes([edit[0], edit[1]])) % bytes.len();
        bytes[at] ^= edit[2];
    }
    let body = bytes.len() - 8;
    let crc = crc32(&bytes[..body]);
    bytes[body..body + 4].copy_from_slice(&crc.to_le_bytes());
    let f = storage
        .open(&snap, OpenMode::Truncate)
        .expect("rewrite the snapshot");
    f.write_at(&bytes, 0).expect("write");
    f.sync_all().expect("sync");

    let e = Engine::open(path, config()).expect("a bad snapshot means a scan, never a failed open");
    for ns in [0, named] {
        for k in &keys {
            match e.get(ns, k) {
                Ok(Some((v, _))) => {
                    assert_eq!(v, value_of(ns, k), "a key read another key's value")
                }
                // A slot pointing into the middle of a record: the read checks the bytes there.
                Ok(None) | Err(EngineError::Corrupted { .. }) => {}
                Err(other) => panic!("a read failed with {other:?}"),
            }
        }
        let _ = e.len(ns);
        for item in e.iter(ns).expect("an iterator") {
            if let Ok((k, v, _)) = item {
                assert_eq!(v, value_of(ns, &k), "iteration yielded another key's value");
            }
        }
    }
    e.put(0, b"after", b"the edits", 0)
        .expect("a write after the edits");
    e.flush().expect("a flush");
    drop(e);
    let e = Engine::open(path, config()).expect("a database we wrote must reopen");
    assert_eq!(
        e.get(0, b"after").expect("a read").expect("present").0,
        b"the edits"
    );
});
