//! Opening arbitrary file bytes never panics: the engine returns a typed error or opens, and an
//! opened database accepts a write that survives a reopen.
//!
//! The first input byte chooses the shape: odd means "a valid header followed by the rest as the
//! log" (to reach frame replay), even means "the whole file is the input".
#![no_main]

use std::path::Path;
use std::sync::Arc;

use emdb_engine::format::FileHeader;
use emdb_engine::storage::faulty::FaultyStorage;
use emdb_engine::storage::{OpenMode, Storage};
use emdb_engine::{Engine, EngineConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let storage = FaultyStorage::new();
    let path = Path::new("/fuzz/db.emdb");
    let mut file = Vec::new();
    if mode & 1 == 1 {
        file.extend_from_slice(&FileHeader::new_plain([mode; 16], 0).encode_region());
    }
    file.extend_from_slice(rest);
    let f = storage.open(path, OpenMode::Truncate).unwrap();
    f.write_at(&file, 0).unwrap();
    f.sync_all().unwrap();
    storage.sync_dir(Path::new("/fuzz")).unwrap();
    let config = || {
        EngineConfig::default()
            .with_storage(Arc::new(storage.clone()))
            .with_range_index(mode & 2 == 2)
            .with_prealloc_min(4096)
    };
    let Ok(e) = Engine::open(path, config()) else {
        return;
    };
    let before = e.len(0).unwrap();
    for item in e.iter(0).unwrap() {
        let _ = item;
    }
    e.put(0, b"fuzz-key", b"fuzz-value", 0).unwrap();
    e.flush().unwrap();
    drop(e);
    let e = Engine::open(path, config()).expect("a database we wrote must reopen");
    assert_eq!(e.get(0, b"fuzz-key").unwrap().unwrap().0, b"fuzz-value");
    assert!(e.len(0).unwrap() >= before.min(1));
});
