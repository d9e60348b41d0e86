//! A tour of the storage engine: create a database, bulk load, read, update, crash-proof flush,
//! compact, back up, and reopen from the index snapshot, printing what each step did.
//!
//! Run: `cargo run --release -p emdb-engine --example engine_tour`
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    reason = "example program"
)]

use std::time::Instant;

use emdb_engine::{Engine, EngineConfig, WriteOp};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("tour.emdb");
    println!("database: {}", path.display());

    let engine = Engine::open(&path, EngineConfig::default().with_range_index(true))?;
    let users = engine.create_namespace("users")?;

    // Bulk load: one atomic batch frame per 10,000 records.
    let t = Instant::now();
    let records: Vec<(Vec<u8>, Vec<u8>)> = (0..200_000u32)
        .map(|i| {
            (
                format!("user:{i:08}").into_bytes(),
                format!("{{\"id\":{i},\"plan\":\"free\"}}").into_bytes(),
            )
        })
        .collect();
    for chunk in records.chunks(10_000) {
        let ops: Vec<WriteOp<'_>> = chunk
            .iter()
            .map(|(k, v)| WriteOp::Put {
                ns: users,
                key: k,
                value: v,
                expires_at: 0,
            })
            .collect();
        engine.commit(&ops)?;
    }
    engine.flush()?;
    println!(
        "loaded {} records durably in {:?}",
        engine.len(users)?,
        t.elapsed()
    );

    // Point reads, an update and a removal.
    let (v, _) = engine
        .get(users, b"user:00001234")?
        .ok_or("missing record")?;
    println!("user:00001234 = {}", String::from_utf8_lossy(&v));
    engine.put(users, b"user:00001234", br#"{"id":1234,"plan":"pro"}"#, 0)?;
    engine.remove(users, b"user:00000007")?;
    engine.flush()?;

    // An ordered range.
    let lo = b"user:00000005".as_slice();
    let hi = b"user:00000010".as_slice();
    let keys = engine.range_keys(
        users,
        std::ops::Bound::Included(lo),
        std::ops::Bound::Excluded(hi),
        100,
    )?;
    let shown: Vec<String> = keys
        .iter()
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect();
    println!("range [user:00000005, user:00000010): {shown:?}");

    // Overwrite half the records, then compact the garbage away.
    for (k, v) in records.iter().step_by(2) {
        engine.put(users, k, v, 0)?;
    }
    let before = engine.stats();
    let t = Instant::now();
    let report = engine.compact(None)?;
    println!(
        "compacted {} -> {} bytes in {:?} ({} live records)",
        report.bytes_before,
        report.bytes_after,
        t.elapsed(),
        report.live_records
    );
    println!("before: {before:?}");
    println!("after:  {:?}", engine.stats());

    // A consistent online backup.
    let backup = dir.path().join("backup.emdb");
    engine.backup_to(&backup, None)?;
    println!("backup written to {}", backup.display());

    // Clean close writes the index snapshot; reopening uses it.
    engine.close()?;
    drop(engine);
    let t = Instant::now();
    let engine = Engine::open(&path, EngineConfig::default())?;
    println!("reopened in {:?}: {:?}", t.elapsed(), engine.open_report());
    let stats = engine.stats();
    println!(
        "index: {} bytes for {} records ({:.1} bytes/record)",
        stats.index_bytes,
        stats.live_records,
        stats.index_bytes as f64 / stats.live_records as f64
    );
    Ok(())
}
