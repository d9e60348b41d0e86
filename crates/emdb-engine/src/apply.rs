//! Applying one logged entry to the in-memory state (index and namespace registry).
//!
//! The write path, recovery, and compaction's catch-up all go through [`apply_entry`], so the
//! state after a reopen is by construction the state before it.

use emdb_format::entry::{EntryRef, Op};

use crate::error::{Corruption, EngineError, Result};
use crate::index::{Index, holds};
use crate::log::reader::LogReader;
use crate::namespace::NamespaceTable;

fn corrupt(offset: u64, reason: Corruption) -> EngineError {
    EngineError::Corrupted { offset, reason }
}

/// Whether the entry at `offset` is namespace `ns`'s put of `key`; if so, records its expiry.
fn matching(
    reader: &LogReader,
    offset: u64,
    ns: u32,
    key: &[u8],
    expiry: &mut u64,
) -> Result<bool> {
    reader.with_entry(offset, |x| {
        let hit = holds(ns, key, &x);
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
            put(index, e, offset, |o, old_expiry| {
                matching(reader, o, e.ns, e.key, old_expiry)
            })?;
        }
        Op::Delete => {
            let h = index.hash(e.key);
            index
                .with_ns(e.ns, |ns| {
                    let mut old_expiry = 0;
                    if ns
                        .remove(h, e.key, |o| {
                            matching(reader, o, e.ns, e.key, &mut old_expiry)
                        })?
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

/// Applies a put of a key that `index` does not hold yet, as when compaction copies a live set
/// (each key once) into a fresh index: no key comparison reads the log. A hash-tag match is
/// then never the same key. Skipping its check matters more than its rate suggests (about one
/// new key in 500-1,000 at a million keys): each check reads a random record of the new file,
/// and the page fault maps the 64 KiB around it (fault-around), about 60 MiB of resident file
/// pages over a 1M-record compaction.
///
/// The caller guarantees the key is absent; were it present, the index would hold it twice.
pub(crate) fn apply_new_put(index: &Index, e: &EntryRef<'_>, offset: u64) -> Result<()> {
    debug_assert_eq!(e.op, Op::Put);
    let replaced = put(index, e, offset, |_, _| Ok(false))?;
    debug_assert!(!replaced, "a key copied twice");
    Ok(())
}

/// Points put `e`'s key at `offset` and updates the expiry count; returns whether it replaced
/// a record. `same(o, old_expiry)` says whether the entry at `o` (whose hash tag matches) has
/// this key, recording its expiry if so.
fn put(
    index: &Index,
    e: &EntryRef<'_>,
    offset: u64,
    mut same: impl FnMut(u64, &mut u64) -> Result<bool>,
) -> Result<bool> {
    let h = index.hash(e.key);
    index
        .with_ns(e.ns, |ns| {
            let mut old_expiry = 0;
            let old = ns.upsert(h, e.key, offset, |o| same(o, &mut old_expiry))?;
            ns.note_put(old.map(|_| old_expiry), e.expires_at);
            Ok(old.is_some())
        })
        .ok_or_else(|| corrupt(offset, Corruption::UnknownNamespace(e.ns)))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put_entry(ns: u32, key: &[u8], expires_at: u64) -> EntryRef<'_> {
        EntryRef {
            op: Op::Put,
            ns,
            expires_at,
            key,
            value: b"v",
        }
    }

    #[test]
    fn a_new_put_is_indexed_and_counted_without_reading_the_log() {
        let index = Index::new(7, true);
        for (i, key) in [&b"a"[..], b"b", b"c"].into_iter().enumerate() {
            let expires_at = if i == 1 { 99 } else { 0 };
            apply_new_put(&index, &put_entry(0, key, expires_at), 4096 + 64 * i as u64).unwrap();
        }
        // Lookups accept whatever a tag matches: there is no log to compare with here.
        let found = |key: &[u8]| {
            index
                .with_ns(0, |n| n.find(index.hash(key), |o| Ok::<_, ()>(o > 0)))
                .unwrap()
                .unwrap()
        };
        assert_eq!(found(b"b"), Some(4096 + 64));
        assert_eq!(index.default_counts(), (3, 1));
        let mut offsets = index.with_ns(0, |n| n.offsets()).unwrap();
        offsets.sort_unstable();
        assert_eq!(offsets, [4096, 4160, 4224]);
    }

    #[test]
    fn a_new_put_into_an_unknown_namespace_is_corruption() {
        let index = Index::new(7, false);
        let err = apply_new_put(&index, &put_entry(5, b"k", 0), 4096).unwrap_err();
        assert!(
            matches!(
                err,
                EngineError::Corrupted {
                    offset: 4096,
                    reason: Corruption::UnknownNamespace(5)
                }
            ),
            "{err:?}"
        );
        assert_eq!(index.default_counts(), (0, 0));
    }
}
