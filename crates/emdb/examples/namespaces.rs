//! Separate key spaces in one file: create, use, list, clear and drop namespaces.
//!
//! Run: `cargo run -p emdb --example namespaces`
#![allow(clippy::print_stdout, reason = "example program")]

use emdb::Emdb;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = Emdb::open_in_memory();
    let users = db.namespace("users")?;
    let orders = db.namespace("orders")?;
    users.insert("1", "alice")?;
    users.insert("2", "bob")?;
    orders.insert("1", "2 apples")?;
    println!("namespaces: {:?}", db.list_namespaces()?);
    println!(
        "users: {} record(s); orders/1 = {:?}",
        users.len()?,
        orders.get("1")?.map(String::from_utf8)
    );
    println!(
        "the default namespace does not see them: {:?}",
        db.get("1")?
    );
    orders.clear()?;
    db.drop_namespace("users")?;
    println!(
        "after drop: {:?}; stats: {:?}",
        db.list_namespaces()?,
        db.stats()?
    );
    Ok(())
}
