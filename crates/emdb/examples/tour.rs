//! A tour of emdb on a fresh database in a temporary directory: bulk load, reads, namespaces,
//! TTL, a transaction, a range scan, compaction, backup, and a fast reopen. This is the main job
//! of the repository's README.
//!
//! Run: `cargo run --release -p emdb --example tour`
#![allow(clippy::print_stdout, reason = "example program")]

use std::time::{Duration, Instant};

use emdb::{Emdb, Ttl};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("tour.emdb");
    println!("database: {}", path.display());
    let db = Emdb::builder()
        .path(&path)
        .enable_range_scans(true)
        .build()?;

    let t = Instant::now();
    for chunk in 0..20u32 {
        db.insert_many((chunk * 10_000..(chunk + 1) * 10_000).map(|i| {
            (
                format!("user:{i:08}"),
                format!("{{\"id\":{i},\"plan\":\"free\"}}"),
            )
        }))?;
    }
    db.flush()?;
    println!("1. loaded {} users durably in {:?}", db.len()?, t.elapsed());

    let v = db.get_zerocopy("user:00001234")?.ok_or("missing user")?;
    println!(
        "2. zero-copy read user:00001234 = {}",
        String::from_utf8_lossy(&v)
    );

    let sessions = db.namespace("sessions")?;
    sessions.insert_with_ttl(
        "tok-1",
        "user:00000001",
        Ttl::After(Duration::from_secs(1800)),
    )?;
    sessions.insert_with_ttl("tok-2", "user:00000002", Ttl::After(Duration::ZERO))?;
    println!(
        "3. sessions namespace: {} live (one expired at once), ttl of tok-1 {:?}",
        sessions.len()?,
        sessions.ttl("tok-1")?
    );

    db.transaction(|tx| {
        tx.insert("user:00000007", r#"{"id":7,"plan":"pro"}"#)?;
        tx.remove("user:00000008")?;
        Ok(())
    })?;
    println!("4. transaction committed: user:00000007 upgraded, user:00000008 removed");

    let page: Vec<String> = db
        .iter_from("user:00000005")?
        .take(5)
        .map(|(k, _)| String::from_utf8_lossy(&k).into_owned())
        .collect();
    println!("5. range scan from user:00000005: {page:?}");

    for i in (0..200_000u32).step_by(2) {
        db.insert(
            format!("user:{i:08}"),
            format!("{{\"id\":{i},\"plan\":\"team\"}}"),
        )?;
    }
    let before = db.stats()?;
    let t = Instant::now();
    db.compact()?;
    let after = db.stats()?;
    println!(
        "6. compacted {} -> {} bytes in {:?}",
        before.logical_size_bytes,
        after.logical_size_bytes,
        t.elapsed()
    );

    let backup = dir.path().join("backup.emdb");
    db.backup_to(&backup)?;
    println!("7. online backup: {}", backup.display());

    // Namespaces and iterators keep the database open: drop them all before reopening.
    drop(sessions);
    drop(db);
    let t = Instant::now();
    let db = Emdb::open(&path)?;
    println!(
        "8. reopened {} users in {:?} (index snapshot)",
        db.len()?,
        t.elapsed()
    );
    println!("   stats: {:?}", db.stats()?);
    Ok(())
}
