//! Helpers shared by the engine's integration tests.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use emdb_engine::storage::faulty::FaultyStorage;
use emdb_engine::{Engine, EngineConfig, WriteOp};

/// A temporary directory and a database path inside it.
pub(crate) fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.emdb");
    (dir, path)
}

/// Real-file config with small preallocation steps, with mmap on or off.
pub(crate) fn os_config(mmap: bool) -> EngineConfig {
    EngineConfig::default()
        .with_mmap(mmap)
        .with_prealloc_min(64 << 10)
}

/// Config over a fault-injecting storage.
pub(crate) fn faulty_config(storage: &FaultyStorage) -> EngineConfig {
    EngineConfig::default()
        .with_storage(Arc::new(storage.clone()))
        .with_prealloc_min(16 << 10)
}

pub(crate) fn open(path: &Path, cfg: EngineConfig) -> Arc<Engine> {
    Engine::open(path, cfg).unwrap()
}

/// Every record of namespace `ns`, sorted.
pub(crate) fn dump(e: &Arc<Engine>, ns: u32) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut v: Vec<_> = e
        .iter(ns)
        .unwrap()
        .map(|r| r.map(|(k, v, _)| (k, v)).unwrap())
        .collect();
    v.sort();
    v
}

pub(crate) fn key(i: u64) -> Vec<u8> {
    format!("key-{i:08}").into_bytes()
}

pub(crate) fn value(i: u64, round: u64) -> Vec<u8> {
    format!("value-{i}-{round}-{}", "x".repeat((i % 40) as usize)).into_bytes()
}

/// Puts of every key in `keys` with `value`, in namespace 0, for one commit.
pub(crate) fn puts<'a>(keys: &'a [Vec<u8>], value: &'a [u8]) -> Vec<WriteOp<'a>> {
    keys.iter()
        .map(|key| WriteOp::Put {
            ns: 0,
            key,
            value,
            expires_at: 0,
        })
        .collect()
}
