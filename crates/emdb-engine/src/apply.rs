//! Applying one logged entry to the in-memory state (index and namespace registry).
//!
//! The write path, recovery, and compaction's catch-up all go through [`apply_entry`], so the
//! state after a reopen is by construction the state before it.

use emdb_format::entry::{EntryRef, Op};

use crate::error::{Corruption, EngineError, Result};
use crate::index::Index;
use crate::log::reader::LogReader;
use crate::namespace::NamespaceTable;

fn corrupt(offset: u64, reason: Corruption) -> EngineError {
    EngineError::Corrupted { offset, reason }
}

/// Applies entry `e`, stored at `offset`, to `index` and `names`.
///
/// `reader` must already see the bytes at `offset` (key comparisons read the log).
pub(crate) fn apply_entry(
    index: &Index,
    names: &mut NamespaceTable,
    reader: &LogReader,
    e: &EntryRef<'_>,
    offset: u64,
) -> Result<()> {
    let missing = || corrupt(offset, Corruption::UnknownNamespace(e.ns));
    match e.op {
        Op::Put => {
            let h = index.hash(e.key);
            index
                .with_ns(e.ns, |ns| {
                    ns.upsert(h, e.key, offset, |o| reader.key_eq(o, e.key))
                })
                .ok_or_else(missing)??;
        }
        Op::Delete => {
            let h = index.hash(e.key);
            index
                .with_ns(e.ns, |ns| ns.remove(h, e.key, |o| reader.key_eq(o, e.key)))
                .ok_or_else(missing)??;
        }
        Op::Clear => index.with_ns(e.ns, |ns| ns.clear()).ok_or_else(missing)?,
        Op::NsCreate => {
            names.create(e.ns, e.key).map_err(|r| corrupt(offset, r))?;
            index.create(e.ns);
        }
        Op::NsDrop => {
            names.drop_id(e.ns).map_err(|r| corrupt(offset, r))?;
            index.drop_ns(e.ns);
        }
    }
    Ok(())
}
