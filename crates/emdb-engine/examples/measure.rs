//! Measures what `docs/BENCH.md` reports: index RAM per record, and reopen time with and without
//! the index snapshot, for N records of redb's benchmark shape (24-byte random keys, 150-byte
//! random values).
//!
//! Run: `cargo run --release -p emdb-engine --example measure -- 1000000 [DIR]`
#![allow(
    clippy::print_stdout,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    reason = "measurement program printing a report"
)]

use std::time::{Duration, Instant};

use emdb_engine::{Engine, EngineConfig, WriteOp, snapshot_path};

#[path = "../benches/support/records.rs"]
mod records;

/// Anonymous (heap) resident memory in KiB: what the index costs, without the page cache of
/// the mapped log.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("RssAnon:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map_or(Ok(1_000_000), |s| s.parse())?;
    let dir = match args.next() {
        Some(d) => tempfile::tempdir_in(d)?,
        None => tempfile::tempdir()?,
    };
    let path = dir.path().join("measure.emdb");
    let rss0 = rss_kib();
    let t = Instant::now();
    {
        let e = Engine::open(&path, EngineConfig::default())?;
        let mut done = 0;
        while done < n {
            let m = (n - done).min(10_000) as usize;
            let keys: Vec<_> = (done..done + m as u64).map(records::key).collect();
            let values: Vec<_> = (done..done + m as u64).map(records::value).collect();
            let ops: Vec<WriteOp<'_>> = (0..m)
                .map(|i| WriteOp::Put {
                    ns: 0,
                    key: &keys[i],
                    value: &values[i],
                    expires_at: 0,
                })
                .collect();
            e.commit(&ops)?;
            done += m as u64;
        }
        e.flush()?;
        let s = e.stats();
        println!("records:            {}", s.live_records);
        println!("load time:          {:?}", t.elapsed());
        println!("log size:           {} bytes", s.logical_size);
        println!(
            "index slots:        {} bytes = {:.2} bytes/record",
            s.index_bytes,
            s.index_bytes as f64 / s.live_records as f64
        );
        println!(
            "heap RSS growth:    {} KiB = {:.1} bytes/record",
            rss_kib().saturating_sub(rss0),
            (rss_kib().saturating_sub(rss0) * 1024) as f64 / s.live_records as f64
        );
        e.close()?;
    }
    let snap = std::fs::read(snapshot_path(&path))?;
    println!("snapshot size:      {} bytes", snap.len());
    let cfg = || EngineConfig::default().with_snapshot_on_close(false);
    let mut with = vec![];
    let mut without = vec![];
    for _ in 0..5 {
        std::fs::write(snapshot_path(&path), &snap)?;
        let t = Instant::now();
        let e = Engine::open(&path, cfg())?;
        with.push(t.elapsed());
        assert!(e.open_report().used_snapshot);
        assert_eq!(e.len(0)?, n);
        drop(e);
        std::fs::remove_file(snapshot_path(&path))?;
        let t = Instant::now();
        let e = Engine::open(&path, cfg())?;
        without.push(t.elapsed());
        assert!(!e.open_report().used_snapshot);
        assert_eq!(e.len(0)?, n);
    }
    println!(
        "reopen with snapshot (median of 5):    {:?}  all: {with:?}",
        median(with.clone())
    );
    println!(
        "reopen full log scan (median of 5):    {:?}  all: {without:?}",
        median(without.clone())
    );
    Ok(())
}
