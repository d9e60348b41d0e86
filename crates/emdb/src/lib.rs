//! emdb: an embedded key-value store with one append-only log file, reads straight from a
//! memory map, and an in-memory hash index.
//!
//! - **Durable when you say so**: writes return once in the OS page cache; [`Emdb::flush`] makes
//!   every earlier write durable with one `fdatasync`, shared by concurrent flushers.
//! - **Atomic batches**: [`Emdb::insert_many`] and [`Emdb::transaction`] are all-or-nothing
//!   across crashes.
//! - **Corruption is reported**, with its exact offset, never silently dropped; a torn tail from
//!   a crash is cut off.
//! - **Fast reopen** from an index snapshot written by [`Emdb::checkpoint`] and clean closes.
//! - **Namespaces**, **TTL** (feature `ttl`, on by default), **range scans**
//!   ([`EmdbBuilder::enable_range_scans`]), **zero-copy reads** ([`Emdb::get_zerocopy`]),
//!   online **compaction** and **backup**.
//!
//! ```
//! use emdb::Emdb;
//!
//! let dir = tempfile::tempdir()?;
//! let db = Emdb::open(dir.path().join("app.emdb"))?;
//! db.insert("user:1", "alice")?;
//! db.insert_many([("user:2", "bob"), ("user:3", "carol")])?;
//! db.flush()?;
//! assert_eq!(db.get("user:2")?, Some(b"bob".to_vec()));
//! assert_eq!(db.len()?, 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Features: `ttl` (default) adds expiring records; `nested` adds dotted-key helpers
//! (`Emdb::focus`); `encrypt` adds encryption at rest (`EmdbBuilder::encryption_key`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![allow(
    clippy::iter_not_returning_iterator,
    reason = "the 0.8.5 API's `iter` methods return `Result<Iterator>`"
)]

mod builder;
mod data_dir;
mod db;
#[cfg(feature = "encrypt")]
mod encryption;
mod error;
mod iter;
mod maintenance;
mod namespace;
#[cfg(feature = "nested")]
mod nested;
mod scan;
mod space;
mod staged;
mod stats;
mod transaction;
mod ttl;
mod value_ref;

pub use builder::{EmdbBuilder, FlushPolicy};
pub use db::Emdb;
#[cfg(feature = "encrypt")]
pub use encryption::{Cipher, EncryptionInput};
pub use error::{Error, Result};
pub use iter::{
    EmdbIter, EmdbKeyIter, EmdbRangeIter, NamespaceIter, NamespaceKeyIter, NamespaceRangeIter,
};
pub use namespace::Namespace;
#[cfg(feature = "nested")]
pub use nested::Focus;
pub use stats::{EmdbStats, LockHolder};
pub use transaction::Transaction;
pub use ttl::Ttl;
pub use value_ref::ValueRef;

#[cfg(test)]
mod tests;
