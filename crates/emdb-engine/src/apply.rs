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

/// Whether the entry at `offset` has `key`; if so, records its expiry.
fn matching(reader: &LogReader, offset: u64, key: &[u8], expiry: &mut u64) -> Result<bool> {
    reader.with_entry(offset, |x| {
        let hit = x.key == key;
        if hit {
            *expiry = x.expires_at;
        }
        hit
    })
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
                    let mut old_expiry = 0;
                    let old = ns.upsert(h, e.key, offset, |o| {
                        matching(reader, o, e.key, &mut old_expiry)
                    })?;
                    ns.note_put(old.map(|_| old_expiry), e.expires_at);
                    Ok::<_, EngineError>(())
                })
                .ok_or_else(missing)??;
        }
        Op::Delete => {
            let h = index.hash(e.key);
            index
                .with_ns(e.ns, |ns| {
                    let mut old_expiry = 0;
                    if ns
                        .remove(h, e.key, |o| matching(reader, o, e.key, &mut old_expiry))?
                        .is_some()
                    {
                        ns.note_remove(old_expiry);
                    }
                    Ok::<_, EngineError>(())
                })
                .ok_or_else(missing)??;
        }
        Op::Clear => index.with_ns(e.ns, |ns| ns.clear()).ok_or_else(missing)?,
        Op::NsCreate => {
            names
                .create(e.ns, e.key, offset)
                .map_err(|r| corrupt(offset, r))?;
            index.create(e.ns);
        }
        Op::NsDrop => {
            names.drop_id(e.ns).map_err(|r| corrupt(offset, r))?;
            index.drop_ns(e.ns);
        }
    }
    Ok(())
}
