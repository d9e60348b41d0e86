//! Atomic multi-key updates: a transfer that either fully happens or not at all.
//!
//! Run: `cargo run -p emdb --example transactions`
#![allow(clippy::print_stdout, reason = "example program")]

use emdb::{Emdb, Error};

fn balance(db: &Emdb, who: &str) -> Result<u64, Error> {
    Ok(db.get(who)?.map_or(0, |v| {
        v.iter().fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'))
    }))
}

fn transfer(db: &Emdb, from: &str, to: &str, amount: u64) -> Result<(), Error> {
    db.transaction(|tx| {
        let read = |v: Option<Vec<u8>>| {
            v.map_or(0, |v| {
                v.iter().fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'))
            })
        };
        let a = read(tx.get(from)?);
        let b = read(tx.get(to)?);
        if a < amount {
            return Err(Error::TransactionAborted("insufficient funds"));
        }
        tx.insert(from, (a - amount).to_string())?;
        tx.insert(to, (b + amount).to_string())?;
        Ok(())
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = Emdb::open_in_memory();
    db.insert_many([("alice", "100"), ("bob", "20")])?;
    transfer(&db, "alice", "bob", 30)?;
    println!(
        "after transfer: alice={} bob={}",
        balance(&db, "alice")?,
        balance(&db, "bob")?
    );
    match transfer(&db, "bob", "alice", 1_000) {
        Err(e) => println!("refused: {e}"),
        Ok(()) => println!("unexpected success"),
    }
    println!(
        "unchanged:      alice={} bob={}",
        balance(&db, "alice")?,
        balance(&db, "bob")?
    );
    Ok(())
}
