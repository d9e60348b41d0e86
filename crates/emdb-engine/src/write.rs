//! The write path: validate, encode one frame, append it, update the index.
//!
//! Steps of a commit (also in `docs/design.md`):
//! 1. Check limits and namespaces; nothing is written if one fails.
//! 2. Take the writer mutex; refuse if poisoned.
//! 3. With the range index on, order a batch of puts and deletes by (namespace, key), stably.
//!    Encode all operations as one frame (a batch frame for several) at the tail offset, sealing
//!    each entry with its absolute offset as associated data when encryption is on. The lag
//!    field records how far the synced end trails this frame.
//! 4. Grow the zero-filled file (and the map) if the frame does not fit, and publish a read view
//!    with the new map.
//! 5. `pwrite` the frame at the tail. A failed write poisons the engine.
//! 6. Apply the entries to the index; publish the new tail for flushers.
//! 7. Under `SyncPolicy::EveryWrite`, flush before returning.

use emdb_format::Op;
use emdb_format::entry::EntryRef;
use emdb_format::frame::{FrameBuilder, FrameFlags, FrameKind, FrameStream, lag_for};
use emdb_format::limits;

use crate::apply::apply_entry;
use crate::config::SyncPolicy;
use crate::engine::{Engine, Generation};
use crate::error::{EngineError, Result};
use crate::index::ordered::prefix_of;
use crate::log::writer::{LogWriter, PendingFrame, STREAM_ABOVE, prefetch_source};
use crate::sealer::entry_aad;

/// One mutation of a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOp<'a> {
    /// Set a key, with an expiry in unix ms (0 = never).
    Put {
        /// Namespace id.
        ns: u32,
        /// Key.
        key: &'a [u8],
        /// Value.
        value: &'a [u8],
        /// Expiry, unix ms; 0 for none.
        expires_at: u64,
    },
    /// Remove a key (a tombstone is written even if the key is absent).
    Delete {
        /// Namespace id.
        ns: u32,
        /// Key.
        key: &'a [u8],
    },
    /// Remove every record of a namespace.
    Clear {
        /// Namespace id.
        ns: u32,
    },
}

impl<'a> WriteOp<'a> {
    fn entry(&self) -> EntryRef<'a> {
        match *self {
            WriteOp::Put {
                ns,
                key,
                value,
                expires_at,
            } => EntryRef::put(ns, key, value, expires_at),
            WriteOp::Delete { ns, key } => EntryRef::delete(ns, key),
            WriteOp::Clear { ns } => EntryRef::clear(ns),
        }
    }
}

/// Checks key and value lengths of a put.
pub(crate) fn check_limits(op: &WriteOp<'_>) -> Result<()> {
    match op {
        WriteOp::Put { key, value, .. } => {
            limits::check_key(key.len())?;
            limits::check_value(value.len())?;
        }
        WriteOp::Delete { key, .. } => limits::check_key(key.len())?,
        WriteOp::Clear { .. } => {}
    }
    Ok(())
}

/// Puts `entries` in (namespace, key) order, in place, when that changes nothing a reader can
/// see: every entry is a put or delete (a clear or namespace change depends on its position),
/// and the order is stable, so of several entries for one key the last still wins. Returns
/// whether it moved anything (not when already ordered or not reorderable).
///
/// Why: with the range index on, a scan reads its records at their log offsets, so a batch laid
/// out in key order turns a later scan of it into sequential reads. In place, because a batch
/// can be large (a transaction of a million removals): the extra memory is 16 bytes per entry
/// for the sort and 4 for the permutation, not a second copy of the entries.
fn key_order(entries: &mut [EntryRef<'_>]) -> bool {
    // Positions are sorted as `u32`; a longer batch (far past any frame size limit) keeps its
    // order.
    let reorderable = u32::try_from(entries.len()).is_ok()
        && entries.iter().all(|e| matches!(e.op, Op::Put | Op::Delete));
    let in_order = entries
        .windows(2)
        .all(|p| (p[0].ns, p[0].key) <= (p[1].ns, p[1].key));
    if !reorderable || in_order {
        return false;
    }
    // Sorting small (namespace, key prefix, position) triples keeps the comparisons on integers
    // for all but equal prefixes; the position makes the unstable sort stable.
    let mut order: Vec<(u32, u64, u32)> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.ns, prefix_of(e.key), i as u32))
        .collect();
    order.sort_unstable_by(|a, b| {
        (a.0, a.1).cmp(&(b.0, b.1)).then_with(|| {
            entries[a.2 as usize]
                .key
                .cmp(entries[b.2 as usize].key)
                .then(a.2.cmp(&b.2))
        })
    });
    // Position `i` takes the entry now at `from[i]`: walk each cycle of that permutation once,
    // marking a placed position by pointing it at itself.
    let mut from: Vec<u32> = order.into_iter().map(|o| o.2).collect();
    for start in 0..from.len() {
        if from[start] as usize == start {
            continue;
        }
        let held = entries[start];
        let mut at = start;
        loop {
            let src = from[at] as usize;
            from[at] = at as u32;
            if src == start {
                entries[at] = held;
                break;
            }
            entries[at] = entries[src];
            at = src;
        }
    }
    true
}

/// Prepares `entries` as one frame at `w`'s tail, without I/O: a large plaintext frame is left
/// to be encoded while it is written ([`STREAM_ABOVE`]); any other is built in `w.buf` (each
/// entry's absolute offset in `w.offsets`). Fails, with nothing written, on a frame over the
/// format's limits or an entry that cannot be sealed.
pub(crate) fn prepare_frame<'e, 'a>(
    w: &mut LogWriter,
    cur: &Generation,
    synced: u64,
    entries: &'e [EntryRef<'a>],
) -> Result<PendingFrame<'e, 'a>> {
    if entries.len() > 1 && cur.reader.sealer().is_none() {
        let stream = FrameStream::new(entries, lag_for(w.tail, synced))?;
        if stream.frame_len() > STREAM_ABOVE {
            return Ok(PendingFrame::Streamed(stream));
        }
    }
    encode_frame(w, cur, synced, entries)?;
    Ok(PendingFrame::Built { len: w.buf.len() })
}

/// Encodes `entries` as one frame into `w.buf`, and each entry's absolute offset into
/// `w.offsets`.
fn encode_frame(
    w: &mut LogWriter,
    cur: &Generation,
    synced: u64,
    entries: &[EntryRef<'_>],
) -> Result<()> {
    let tail = w.tail;
    let kind = match entries {
        [one] => FrameKind::for_op(one.op),
        _ => FrameKind::Batch,
    };
    let sealer = cur.reader.sealer();
    let flags = if sealer.is_some() {
        FrameFlags::SEALED
    } else {
        FrameFlags::default()
    };
    let mut buf = std::mem::take(&mut w.buf);
    buf.clear();
    let offsets = &mut w.offsets;
    offsets.clear();
    let mut plain = Vec::new();
    let mut b = FrameBuilder::new(&mut buf, kind, flags);
    for (i, e) in entries.iter().enumerate() {
        prefetch_source(entries, i);
        let at = tail + b.next_item_offset() as u64;
        offsets.push(at);
        match sealer {
            None => b.push_entry(e),
            Some(s) => {
                plain.clear();
                e.encode_into(&mut plain);
                let aad = entry_aad(&cur.header.file_id, at);
                b.push_sealed(|out| s.seal(&aad, &plain, out))
                    .map_err(|_| EngineError::Unseal { offset: at })?;
            }
        }
    }
    let result = b.finish(lag_for(tail, synced));
    w.buf = buf;
    result?;
    Ok(())
}

impl Engine {
    /// Commits `ops` as one atomic frame: after a crash either all are visible or none.
    ///
    /// Not durable until [`Engine::flush`] (unless the policy is `EveryWrite`).
    pub fn commit(&self, ops: &[WriteOp<'_>]) -> Result<()> {
        if ops.is_empty() {
            return Ok(());
        }
        for op in ops {
            check_limits(op)?;
        }
        // A single write (the common case) needs no vector.
        let mut one;
        let mut many: Vec<EntryRef<'_>>;
        let entries: &mut [EntryRef<'_>] = if let [op] = ops {
            one = [op.entry()];
            &mut one
        } else {
            many = ops.iter().map(WriteOp::entry).collect();
            &mut many
        };
        self.commit_entries(&mut self.writer.lock(), entries)?;
        if self.config.sync == SyncPolicy::EveryWrite {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes and applies entries (in key order when that is invisible, see [`key_order`]); the
    /// caller holds the writer mutex.
    pub(crate) fn commit_entries(
        &self,
        w: &mut LogWriter,
        entries: &mut [EntryRef<'_>],
    ) -> Result<()> {
        self.commit.check()?;
        if self.config.range_index {
            key_order(entries);
        }
        let entries = &*entries;
        let cur = self.generation.load();
        for e in entries {
            if cur.index.with_ns(e.ns, |_| ()).is_none() && e.op != Op::NsCreate {
                return Err(EngineError::NamespaceMissing(e.ns));
            }
        }
        let frame = prepare_frame(w, &cur, self.commit.synced(), entries)?;
        let allocated = w.allocated;
        w.reserve(frame.len(), &cur.reader)
            .inspect_err(|_| self.commit.poison())?;
        if w.allocated != allocated {
            // The file grew and has a new map: point reads should use it.
            self.publish_view();
        }
        // The index nodes the first entries will update load while the write runs; later ones
        // are requested a few entries ahead of their turn below.
        cur.index.prefetch_start(entries);
        w.append(frame).inspect_err(|_| self.commit.poison())?;
        let mut names = self.names.write();
        for (e, &at) in cur.index.prefetching(entries).zip(&w.offsets) {
            // The frame is durable-to-be; an apply failure means the index and log disagree.
            apply_entry(&cur.index, &mut names, &cur.reader, e, at)
                .inspect_err(|_| self.commit.poison())?;
        }
        self.commit.publish_written(w.tail);
        self.default_counts.set(&cur);
        w.release_large_buffer();
        Ok(())
    }

    /// Sets `key` in namespace `ns`.
    pub fn put(&self, ns: u32, key: &[u8], value: &[u8], expires_at: u64) -> Result<()> {
        self.commit(&[WriteOp::Put {
            ns,
            key,
            value,
            expires_at,
        }])
    }

    /// Removes every record of namespace `ns`, durably (a `Clear` frame).
    pub fn clear(&self, ns: u32) -> Result<()> {
        self.commit(&[WriteOp::Clear { ns }])
    }

    /// Removes `key` if present; returns its value and expiry. Check and removal are atomic.
    pub fn remove(&self, ns: u32, key: &[u8]) -> Result<Option<(Vec<u8>, u64)>> {
        self.update(|view| {
            let old = view.get(ns, key)?;
            let ops = if old.is_some() {
                vec![OwnedOp::Delete {
                    ns,
                    key: key.to_vec(),
                }]
            } else {
                vec![]
            };
            Ok((ops, old))
        })
    }

    /// Reads under the writer mutex, then commits the operations `f` returns as one frame.
    ///
    /// Use it for read-modify-write steps that must not interleave with other writers.
    pub fn update<R>(
        &self,
        f: impl FnOnce(&LockedView<'_>) -> Result<(Vec<OwnedOp>, R)>,
    ) -> Result<R> {
        let result: Result<R> = (|| {
            let mut w = self.writer.lock();
            let cur = self.generation.load_full();
            let (ops, out) = f(&LockedView { cur: &cur })?;
            if !ops.is_empty() {
                let mut entries = ops
                    .iter()
                    .map(|op| {
                        let op = op.as_write_op();
                        check_limits(&op)?;
                        Ok(op.entry())
                    })
                    .collect::<Result<Vec<EntryRef<'_>>>>()?;
                self.commit_entries(&mut w, &mut entries)?;
            }
            Ok(out)
        })();
        let out = result?;
        if self.config.sync == SyncPolicy::EveryWrite {
            self.flush()?;
        }
        Ok(out)
    }

    /// Creates namespace `name` (or returns the id it already has).
    pub fn create_namespace(&self, name: &str) -> Result<u32> {
        if name.is_empty() {
            return Err(EngineError::InvalidArgument(
                "namespace name must not be empty",
            ));
        }
        limits::check_namespace(name.len())?;
        let mut w = self.writer.lock();
        if let Some(id) = self.names.read().id(name) {
            return Ok(id);
        }
        let id = self.names.read().next_id();
        self.commit_entries(&mut w, &mut [EntryRef::ns_create(id, name.as_bytes())])?;
        Ok(id)
    }

    /// Drops namespace `name` and all its records, durably. Returns `false` if it did not exist.
    pub fn drop_namespace(&self, name: &str) -> Result<bool> {
        if name.is_empty() {
            return Err(EngineError::InvalidArgument(
                "the default namespace cannot be dropped",
            ));
        }
        let mut w = self.writer.lock();
        let Some(id) = self.names.read().id(name) else {
            return Ok(false);
        };
        self.commit_entries(&mut w, &mut [EntryRef::ns_drop(id)])?;
        Ok(true)
    }

    /// The id of namespace `name` (`""` is the default namespace, id 0).
    pub fn namespace_id(&self, name: &str) -> Option<u32> {
        self.names.read().id(name)
    }

    /// Every namespace as `(id, name)`: the default first, then in creation order.
    pub fn namespaces(&self) -> Vec<(u32, String)> {
        self.names.read().list()
    }
}

/// An owned [`WriteOp`], returned from [`Engine::update`] closures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedOp {
    /// See [`WriteOp::Put`].
    Put {
        /// Namespace id.
        ns: u32,
        /// Key.
        key: Vec<u8>,
        /// Value.
        value: Vec<u8>,
        /// Expiry, unix ms; 0 for none.
        expires_at: u64,
    },
    /// See [`WriteOp::Delete`].
    Delete {
        /// Namespace id.
        ns: u32,
        /// Key.
        key: Vec<u8>,
    },
    /// See [`WriteOp::Clear`].
    Clear {
        /// Namespace id.
        ns: u32,
    },
}

impl OwnedOp {
    /// Borrows it as a [`WriteOp`].
    pub fn as_write_op(&self) -> WriteOp<'_> {
        match self {
            OwnedOp::Put {
                ns,
                key,
                value,
                expires_at,
            } => WriteOp::Put {
                ns: *ns,
                key,
                value,
                expires_at: *expires_at,
            },
            OwnedOp::Delete { ns, key } => WriteOp::Delete { ns: *ns, key },
            OwnedOp::Clear { ns } => WriteOp::Clear { ns: *ns },
        }
    }
}

/// Reads inside [`Engine::update`], seeing every committed write.
#[derive(Debug)]
pub struct LockedView<'e> {
    cur: &'e Generation,
}

impl LockedView<'_> {
    /// Value and expiry of `key`, expired or not.
    pub fn get(&self, ns: u32, key: &[u8]) -> Result<Option<(Vec<u8>, u64)>> {
        Engine::get_in(self.cur, ns, key)
    }

    /// Expiry of `key` without reading its value.
    pub fn expires_at(&self, ns: u32, key: &[u8]) -> Result<Option<u64>> {
        Engine::expires_in(self.cur, ns, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unordered_batches_of_puts_and_deletes_are_reordered_stably() {
        let put = |ns, key: &'static [u8], value: &'static [u8]| EntryRef::put(ns, key, value, 0);
        let mut batch = [
            put(1, b"a", b"1"),
            put(0, b"b", b"1"),
            EntryRef::delete(0, b"a"),
            put(0, b"b", b"2"),
        ];
        assert!(key_order(&mut batch));
        let got: Vec<(u32, &[u8], &[u8])> = batch.iter().map(|e| (e.ns, e.key, e.value)).collect();
        let want: Vec<(u32, &[u8], &[u8])> = vec![
            (0, b"a", b""),
            (0, b"b", b"1"),
            (0, b"b", b"2"),
            (1, b"a", b"1"),
        ];
        assert_eq!(got, want);
        // Already in order: nothing to do.
        assert!(!key_order(&mut [put(0, b"a", b""), put(0, b"b", b"")]));
        // A clear depends on its place in the batch.
        let mut with_clear = [put(0, b"b", b""), EntryRef::clear(0), put(0, b"a", b"")];
        assert!(!key_order(&mut with_clear));
        assert_eq!(with_clear[0].key, b"b");
    }

    proptest::proptest! {
        /// The in-place reordering is a stable sort by (namespace, key), whatever the cycles of
        /// its permutation.
        #[test]
        fn key_order_is_a_stable_sort(
            keys in proptest::collection::vec((0u32..3, proptest::collection::vec(0u8..4, 0..10)), 0..200)
        ) {
            let values: Vec<[u8; 4]> = (0..keys.len() as u32).map(u32::to_le_bytes).collect();
            let mut batch: Vec<EntryRef<'_>> = keys
                .iter()
                .zip(&values)
                .map(|((ns, k), v)| EntryRef::put(*ns, k, v, 0))
                .collect();
            let mut want = batch.clone();
            want.sort_by(|a, b| (a.ns, a.key).cmp(&(b.ns, b.key)));
            key_order(&mut batch);
            let got: Vec<_> = batch.iter().map(|e| (e.ns, e.key, e.value)).collect();
            let want: Vec<_> = want.iter().map(|e| (e.ns, e.key, e.value)).collect();
            proptest::prop_assert_eq!(got, want);
        }
    }
}
