//! Open a database file, write, read, remove, flush, and reopen it.
//!
//! Run: `cargo run -p emdb --example basic`
#![allow(clippy::print_stdout, reason = "example program")]

use emdb::Emdb;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("basic.emdb");
    {
        let db = Emdb::open(&path)?;
        db.insert("greeting", "hello")?;
        db.insert("counter", 1u64.to_le_bytes())?;
        println!(
            "greeting = {:?}",
            db.get("greeting")?.map(String::from_utf8)
        );
        println!("removed  = {:?}", db.remove("counter")?);
        db.flush()?; // durable from here on
    }
    let db = Emdb::open(&path)?;
    println!(
        "after reopen: {} record(s), greeting present: {}",
        db.len()?,
        db.contains_key("greeting")?
    );
    Ok(())
}
