//! A cache with expiring entries: a default TTL, per-entry TTLs, `persist`, and sweeping.
//!
//! Run: `cargo run -p emdb --example ttl_cache`
#![allow(clippy::print_stdout, reason = "example program")]

use std::time::Duration;

use emdb::{EmdbBuilder, Ttl};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cache = EmdbBuilder::new()
        .default_ttl(Duration::from_millis(200))
        .build()?;
    cache.insert("page:/", "<html>home</html>")?; // default TTL
    cache.insert_with_ttl("session:42", "alice", Ttl::After(Duration::from_secs(3600)))?;
    cache.insert_with_ttl("config", "v1", Ttl::Never)?;
    println!("ttl of page:/      = {:?}", cache.ttl("page:/")?);
    println!("ttl of session:42  = {:?}", cache.ttl("session:42")?);
    println!(
        "expires_at(config) = {:?} (Some(0): no TTL)",
        cache.expires_at("config")?
    );

    std::thread::sleep(Duration::from_millis(250));
    println!(
        "after 250 ms: page:/ = {:?}, live records = {}",
        cache.get("page:/")?,
        cache.len()?
    );
    println!("sweep removed {} expired record(s)", cache.sweep_expired());

    cache.persist("session:42")?;
    println!(
        "session:42 persisted, ttl now {:?}",
        cache.ttl("session:42")?
    );
    Ok(())
}
