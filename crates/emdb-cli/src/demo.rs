//! `emdb demo`: a realistic data set in a temporary database, then stat, scan and verify on it.

use std::time::Instant;

use emdb::Emdb;

use crate::Failure;
use crate::progress::Progress;

const PLANS: [&str; 4] = ["free", "pro", "team", "enterprise"];
const CITIES: [&str; 6] = ["Lisbon", "Osaka", "Nairobi", "Lima", "Oslo", "Perth"];

pub(crate) fn run(records: u64, progress: &Progress) -> Result<(), Failure> {
    let dir = tempfile_dir()?;
    let path = dir.join("demo.emdb");
    println!("demo database: {}", path.display());
    {
        let db = Emdb::open(&path)?;
        let orders = db.namespace("orders")?;
        let bar = progress.bar(records, "loading users");
        let t = Instant::now();
        let mut start = 0;
        while start < records {
            let end = (start + 10_000).min(records);
            db.insert_many((start..end).map(|i| {
                let v = format!(
                    r#"{{"id":{i},"name":"user{i}","plan":"{}","city":"{}"}}"#,
                    PLANS[(i % 4) as usize],
                    CITIES[(i % 6) as usize]
                );
                (format!("user:{i:08}"), v)
            }))?;
            orders.insert_many(
                (start..end)
                    .step_by(3)
                    .map(|i| (format!("order:{i:08}"), format!("user:{i:08}"))),
            )?;
            bar.set_position(end);
            start = end;
        }
        db.flush()?;
        bar.finish_and_clear();
        println!(
            "loaded {records} users and {} orders in {:?}",
            orders.len()?,
            t.elapsed()
        );
        for i in (0..records).step_by(5) {
            db.insert(
                format!("user:{i:08}"),
                format!(r#"{{"id":{i},"plan":"pro"}}"#),
            )?;
        }
        db.flush()?;
        println!("upgraded every fifth user (the old versions are garbage until compaction)");
    }
    println!("\n$ emdb stat {}", path.display());
    crate::stat::run(&path, false)?;
    println!(
        "\n$ emdb scan {} --prefix user:0000001 --limit 5",
        path.display()
    );
    crate::kv::scan(
        &path,
        None,
        Some("user:0000001"),
        None,
        Some(5),
        crate::encoding::Format::Auto,
    )?;
    println!("\n$ emdb compact {}", path.display());
    crate::admin::compact(&path, progress)?;
    println!("\n$ emdb verify {}", path.display());
    crate::verify::run(&path, false, progress)?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A fresh directory under the system temporary directory.
fn tempfile_dir() -> Result<std::path::PathBuf, Failure> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("emdb-demo-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
