//! The storage engine of emdb: one append-only log file read through a memory map, with an
//! in-memory hash index.
//!
//! Layer: between the `emdb` facade (API policy: TTL semantics, namespace naming, errors users
//! see) and `emdb-format` (bytes). This crate owns files, the index, durability, recovery,
//! compaction, backup and the lock. It is not a stable API; use the `emdb` crate.
//!
//! Entry points: [`Engine::open`] with an [`EngineConfig`]; writes through [`Engine::commit`]
//! (one atomic frame), reads through [`Engine::get`]; durability through [`Engine::flush`].
//! `docs/design.md` describes every path as numbered steps.
//!
//! Feature `testing` exposes `storage::faulty`, a fault-injecting in-memory file system.

mod apply;
mod compaction;
mod config;
mod durability;
#[cfg(feature = "encrypt")]
pub mod encryption;
mod engine;
mod error;
mod frame_encode;
mod group_commit;
mod index;
mod iter;
pub mod lockfile;
pub mod log;
mod namespace;
mod range_iter;
mod read;
mod recovery;
mod repair;
mod rewrite;
pub mod sealer;
mod snapshot;
pub mod storage;
mod write;

pub use compaction::CompactReport;
pub use config::{EngineConfig, SyncPolicy};
pub use engine::{Engine, EngineStats, OpenReport};
pub use error::{Corruption, EngineError, Result};
pub use index::key_hash::{KeyHashState, KeyHasher};
pub use iter::EngineIter;
pub use lockfile::LockHolder;
pub use log::reader::ValueBytes;
pub use range_iter::RangeIter;
pub use repair::RepairReport;
pub use snapshot::{checkpointed_log_end, snapshot_path};
pub use write::{LockedView, OwnedOp, WriteOp};

/// Re-exported encryption layer (feature `encrypt`), for callers that derive keys.
#[cfg(feature = "encrypt")]
pub use emdb_crypt as crypt;
/// Re-exported byte layer, for callers that build headers or inspect files.
pub use emdb_format as format;
