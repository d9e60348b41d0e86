//! The phases of redb's `lmdb_benchmark`, run against one engine: 24-byte random keys and
//! 150-byte random values from a seeded generator.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::engine::{BenchEngine, dir_size};

pub const KEY_LEN: usize = 24;
pub const VALUE_LEN: usize = 150;

/// splitmix64: deterministic bytes, the same for every engine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    pub fn pair(&mut self) -> (Vec<u8>, Vec<u8>) {
        let mut k = vec![0u8; KEY_LEN];
        let mut v = vec![0u8; VALUE_LEN];
        self.fill(&mut k);
        self.fill(&mut v);
        (k, v)
    }
}

/// One measured phase: a duration, or a size in bytes.
#[derive(Debug, Clone)]
pub enum Measure {
    Time(Duration),
    Bytes(u64),
    NotSupported,
}

fn timed(name: &str, results: &mut Vec<(String, Measure)>, f: impl FnOnce()) {
    let start = Instant::now();
    f();
    let d = start.elapsed();
    eprintln!("  {name}: {} ms", d.as_millis());
    results.push((name.to_owned(), Measure::Time(d)));
}

fn read_all<E: BenchEngine>(db: &E, keys: &[Vec<u8>], threads: usize) {
    std::thread::scope(|s| {
        for t in 0..threads {
            let db = &db;
            s.spawn(move || {
                let mut found = 0usize;
                for k in keys.iter().skip(t).step_by(threads) {
                    found += usize::from(db.get(k).is_some());
                }
                assert_eq!(
                    found,
                    keys.iter().skip(t).step_by(threads).count(),
                    "a read missed"
                );
            });
        }
    });
}

/// Runs every phase; returns the results in table order.
pub fn run<E: BenchEngine>(dir: &Path, n: usize) -> Vec<(String, Measure)> {
    let mut results = Vec::new();
    let mut rng = Rng::new(0x00c0_ffee);
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..n).map(|_| rng.pair()).collect();
    let mut db = E::open(dir);
    timed("bulk load", &mut results, || db.bulk_load(&pairs));
    let extra: Vec<_> = (0..1_000 + 100 * 1_000 + 1_000)
        .map(|_| rng.pair())
        .collect();
    let (individual, rest) = extra.split_at(1_000);
    let (batches, nosync) = rest.split_at(100 * 1_000);
    timed("individual writes", &mut results, || {
        for p in individual {
            db.write_durable(std::slice::from_ref(p));
        }
    });
    timed("batch writes", &mut results, || {
        for chunk in batches.chunks(1_000) {
            db.write_durable(chunk);
        }
    });
    timed("nosync writes", &mut results, || {
        for (k, v) in nosync {
            db.write_nosync(k, v);
        }
    });
    let expected = (n + extra.len()) as u64;
    let mut len = 0;
    timed("len()", &mut results, || len = db.len());
    assert_eq!(len, expected, "len() disagrees");
    // Random reads: every loaded key, in a shuffled order, best of two runs.
    let mut order: Vec<usize> = (0..n).collect();
    let mut shuffle = Rng::new(7);
    for i in (1..order.len()).rev() {
        order.swap(i, (shuffle.next() % (i as u64 + 1)) as usize);
    }
    let keys: Vec<Vec<u8>> = order.iter().map(|i| pairs[*i].0.clone()).collect();
    let best = |f: &dyn Fn()| {
        (0..2)
            .map(|_| {
                let s = Instant::now();
                f();
                s.elapsed()
            })
            .min()
            .unwrap_or_default()
    };
    let d = best(&|| read_all(&db, &keys, 1));
    eprintln!("  random reads: {} ms", d.as_millis());
    results.push(("random reads".into(), Measure::Time(d)));
    let ranges = (n / 2).min(500_000);
    if E::RANGES_SCALE {
        timed("random range reads", &mut results, || {
            let mut seen = 0;
            for k in keys.iter().take(ranges) {
                seen += db.range(k, 10);
            }
            assert!(seen >= ranges, "ranges returned too little");
        });
    } else {
        eprintln!("  random range reads: skipped (quadratic in this engine)");
        results.push(("random range reads".into(), Measure::NotSupported));
    }
    for threads in [2, 4] {
        let d = best(&|| read_all(&db, &keys, threads));
        eprintln!("  random reads ({threads} threads): {} ms", d.as_millis());
        results.push((
            format!("random reads ({threads} threads)"),
            Measure::Time(d),
        ));
    }
    let half: Vec<Vec<u8>> = keys.iter().take(n / 2).cloned().collect();
    timed("removals", &mut results, || db.remove_durable(&half));
    results.push((
        "file size before compaction".into(),
        Measure::Bytes(dir_size(dir)),
    ));
    let start = Instant::now();
    let compacted = db.compact();
    let d = start.elapsed();
    if compacted {
        eprintln!("  compaction: {} ms", d.as_millis());
        results.push(("compaction".into(), Measure::Time(d)));
        results.push((
            "file size after compaction".into(),
            Measure::Bytes(dir_size(dir)),
        ));
    } else {
        results.push(("compaction".into(), Measure::NotSupported));
        results.push(("file size after compaction".into(), Measure::NotSupported));
    }
    drop(db);
    let start = Instant::now();
    let db = E::open(dir);
    let len = db.len();
    let d = start.elapsed();
    assert_eq!(len, expected - (n / 2) as u64, "reopen lost records");
    eprintln!("  reopen: {} ms", d.as_millis());
    results.push(("reopen (open + len)".into(), Measure::Time(d)));
    results
}
