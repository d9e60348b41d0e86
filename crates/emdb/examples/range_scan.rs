//! Ordered scans: ranges, prefixes, and iteration from a key (needs `enable_range_scans`).
//!
//! Run: `cargo run -p emdb --example range_scan`
#![allow(clippy::print_stdout, reason = "example program")]

use emdb::Emdb;

fn show(label: &str, items: impl Iterator<Item = (Vec<u8>, Vec<u8>)>) {
    let keys: Vec<String> = items
        .map(|(k, _)| String::from_utf8_lossy(&k).into_owned())
        .collect();
    println!("{label:<28} {keys:?}");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = Emdb::builder().enable_range_scans(true).build()?;
    for day in 1..=9 {
        db.insert(format!("log:2026-11-0{day}"), format!("entry {day}"))?;
    }
    db.insert("user:ada", "admin")?;
    show(
        "range 11-03..11-06",
        db.range(b"log:2026-11-03".to_vec()..b"log:2026-11-06".to_vec())?
            .into_iter(),
    );
    show("prefix user:", db.range_prefix("user:")?.into_iter());
    show("after log:2026-11-07", db.iter_after("log:2026-11-07")?);
    show("first three from log:", db.iter_from("log:")?.take(3));
    Ok(())
}
