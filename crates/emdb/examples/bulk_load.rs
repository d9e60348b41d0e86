//! Loading many records fast: atomic `insert_many` batches, one flush, then a checkpoint so the
//! next open is quick.
//!
//! Run: `cargo run --release -p emdb --example bulk_load -- [RECORDS]`
#![allow(
    clippy::print_stdout,
    clippy::cast_precision_loss,
    reason = "example program"
)]

use std::time::Instant;

use emdb::Emdb;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = std::env::args().nth(1).map_or(Ok(500_000), |s| s.parse())?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bulk.emdb");
    let db = Emdb::open(&path)?;
    let t = Instant::now();
    let mut start = 0;
    while start < n {
        let end = (start + 50_000).min(n);
        db.insert_many(
            (start..end).map(|i| (format!("key:{i:010}"), format!("value for record {i}"))),
        )?;
        start = end;
    }
    db.flush()?;
    let load = t.elapsed();
    println!(
        "loaded {n} records in {load:?} ({:.0} records/s)",
        n as f64 / load.as_secs_f64()
    );
    db.checkpoint()?;
    drop(db);
    let t = Instant::now();
    let db = Emdb::open(&path)?;
    println!(
        "reopened in {:?}; {} records; {:?}",
        t.elapsed(),
        db.len()?,
        db.stats()?
    );
    Ok(())
}
