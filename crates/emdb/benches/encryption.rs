//! Encrypted against plaintext, side by side: bulk load, random reads, and opening with a
//! passphrase. Records follow redb's benchmark shape (24-byte keys, 150-byte values).
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
use emdb::{Cipher, Emdb, EmdbBuilder};

fn fill(seed: u64, out: &mut [u8]) {
    let mut x = seed;
    for chunk in out.chunks_mut(8) {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
    }
}

fn record(i: u64) -> ([u8; 24], [u8; 150]) {
    let (mut k, mut v) = ([0u8; 24], [0u8; 150]);
    fill(i, &mut k);
    fill(!i, &mut v);
    (k, v)
}

const MODES: [(&str, Option<Cipher>); 3] = [
    ("plain", None),
    ("aes256gcm", Some(Cipher::Aes256Gcm)),
    ("chacha20poly1305", Some(Cipher::ChaCha20Poly1305)),
];

fn builder(cipher: Option<Cipher>) -> EmdbBuilder {
    match cipher {
        None => EmdbBuilder::new(),
        Some(c) => EmdbBuilder::new().encryption_key([7; 32]).cipher(c),
    }
}

fn bulk_load(c: &mut Criterion) {
    let records: Vec<_> = (0..10_000).map(record).collect();
    let mut g = c.benchmark_group("bulk_load_10k");
    g.sample_size(20);
    for (name, cipher) in MODES {
        g.bench_function(name, |b| {
            b.iter_batched(
                || builder(cipher).build().unwrap(),
                |db: Emdb| db.insert_many(records.iter().map(|(k, v)| (k, v))).unwrap(),
                BatchSize::PerIteration,
            );
        });
    }
    g.finish();
}

/// Random point reads among 100K records: owned `get` (a copy of the value either way), and
/// `get_zerocopy` (which borrows a plaintext value from the map; a sealed one is decrypted into
/// a buffer of its own).
fn random_reads(c: &mut Criterion) {
    const N: u64 = 100_000;
    let dbs: Vec<_> = MODES
        .iter()
        .map(|&(name, cipher)| {
            let db = builder(cipher).build().unwrap();
            for chunk in (0..N).collect::<Vec<_>>().chunks(10_000) {
                db.insert_many(chunk.iter().map(|i| record(*i))).unwrap();
            }
            (name, db)
        })
        .collect();
    for zerocopy in [false, true] {
        let group = if zerocopy {
            "random_get_zerocopy_100k"
        } else {
            "random_get_100k"
        };
        let mut g = c.benchmark_group(group);
        for (name, db) in &dbs {
            let mut i = 0u64;
            g.bench_function(*name, |b| {
                b.iter(|| {
                    i = (i + 7919) % N;
                    let key = record(i).0;
                    if zerocopy {
                        black_box(db.get_zerocopy(key).unwrap());
                    } else {
                        black_box(db.get(key).unwrap());
                    }
                });
            });
        }
        g.finish();
    }
}

/// Opens (creating if needed) an encrypted database: from a passphrase (Argon2id runs on every
/// open) or from a raw 32-byte key (no key derivation).
fn open_encrypted(path: &Path, passphrase: bool) -> Emdb {
    let b = EmdbBuilder::new().path(path);
    let b = if passphrase {
        b.encryption_passphrase("correct horse battery")
    } else {
        b.encryption_key([1; 32])
    };
    b.build().unwrap()
}

fn passphrase_open(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("open");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for (name, passphrase) in [("passphrase_argon2id", true), ("raw_key", false)] {
        let path = dir.path().join(format!("{name}.emdb"));
        drop(open_encrypted(&path, passphrase));
        g.bench_function(name, |b| b.iter(|| drop(open_encrypted(&path, passphrase))));
    }
    g.finish();
}

criterion_group!(benches, bulk_load, random_reads, passphrase_open);
criterion_main!(benches);
