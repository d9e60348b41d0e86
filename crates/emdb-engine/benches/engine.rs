//! Criterion benches of the engine: append, point get, and reopen with and without the index
//! snapshot. Keys and values follow redb's benchmark shape (24-byte keys, 150-byte values).
#![allow(
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    missing_docs,
    reason = "benchmark harness: a failure should abort the run; criterion macros add items"
)]

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use emdb_engine::{Engine, EngineConfig, WriteOp, snapshot_path};

#[path = "support/records.rs"]
mod records;

use records::{key, value};

fn load(path: &Path, n: u64) {
    let e = Engine::open(path, EngineConfig::default()).unwrap();
    let keys: Vec<_> = (0..n).map(|i| (key(i), value(i))).collect();
    for chunk in keys.chunks(10_000) {
        let ops: Vec<_> = chunk
            .iter()
            .map(|(k, v)| WriteOp::Put {
                ns: 0,
                key: k,
                value: v,
                expires_at: 0,
            })
            .collect();
        e.commit(&ops).unwrap();
    }
    e.close().unwrap();
}

fn append(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(dir.path().join("append.emdb"), EngineConfig::default()).unwrap();
    let mut i = 0u64;
    c.bench_function("append/put_nosync", |b| {
        b.iter(|| {
            i += 1;
            e.put(0, &key(i), &value(i), 0).unwrap();
        });
    });
    c.bench_function("append/put_flush", |b| {
        b.iter(|| {
            i += 1;
            e.put(0, &key(i), &value(i), 0).unwrap();
            e.flush().unwrap();
        });
    });
}

fn get(c: &mut Criterion) {
    const N: u64 = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("get.emdb");
    load(&path, N);
    for (name, mmap) in [("get/mmap", true), ("get/pread", false)] {
        let e = Engine::open(&path, EngineConfig::default().with_mmap(mmap)).unwrap();
        let mut i = 0u64;
        c.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 7919) % N;
                black_box(e.get(0, &key(i)).unwrap());
            });
        });
    }
}

fn reopen(c: &mut Criterion) {
    const N: u64 = 200_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reopen.emdb");
    load(&path, N);
    let snap = std::fs::read(snapshot_path(&path)).unwrap();
    let mut g = c.benchmark_group("reopen_200k");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("with_snapshot", |b| {
        b.iter_batched(
            || std::fs::write(snapshot_path(&path), &snap).unwrap(),
            |()| {
                drop(
                    Engine::open(&path, EngineConfig::default().with_snapshot_on_close(false))
                        .unwrap(),
                );
            },
            BatchSize::PerIteration,
        );
    });
    g.bench_function("full_scan", |b| {
        b.iter_batched(
            || std::fs::remove_file(snapshot_path(&path)).unwrap_or(()),
            |()| {
                drop(
                    Engine::open(&path, EngineConfig::default().with_snapshot_on_close(false))
                        .unwrap(),
                );
            },
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

criterion_group!(benches, append, get, reopen);
criterion_main!(benches);
