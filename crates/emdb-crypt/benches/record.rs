//! Opening sealed 150-byte records (redb's benchmark value size) of one file, and of two or
//! three files in turn: a compaction or backup interleaves the old file's reads with the new
//! file's seals, and each file has its own record key.
#![allow(
    clippy::unwrap_used,
    missing_docs,
    reason = "benchmark harness: a failure should abort the run; criterion macros add items"
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use emdb_crypt::{Cipher, Key, RecordCipher};

fn open(c: &mut Criterion) {
    let cipher = RecordCipher::new(Cipher::Aes256Gcm, Key::new([7; 32])).unwrap();
    let files: Vec<([u8; 16], Vec<u8>)> = (1..=3u8)
        .map(|n| {
            let mut sealed = Vec::new();
            cipher
                .seal(&[n; 16], 4096, b"aad", &[n; 150], &mut sealed)
                .unwrap();
            ([n; 16], sealed)
        })
        .collect();
    let mut group = c.benchmark_group("open_150B");
    group.measurement_time(Duration::from_secs(3));
    for (name, used) in [
        ("one_file", 1),
        ("two_files_in_turn", 2),
        ("three_files_in_turn", 3),
    ] {
        let mut next = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                let (id, sealed) = &files[next % used];
                next += 1;
                black_box(cipher.open(id, b"aad", sealed).unwrap())
            });
        });
    }
    group.finish();
}

criterion_group!(benches, open);
criterion_main!(benches);
