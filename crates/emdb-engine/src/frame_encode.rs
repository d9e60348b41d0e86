//! Turning a commit's entries into one frame: their order in it, and the frame built whole in
//! the writer's buffer or left to be encoded while it is written.

use emdb_format::Op;
use emdb_format::entry::EntryRef;
use emdb_format::frame::{FrameBuilder, FrameFlags, FrameKind, FrameStream, lag_for};

use crate::engine::Generation;
use crate::error::{EngineError, Result};
use crate::index::ordered::prefix_of;
use crate::log::writer::{LogWriter, PendingFrame, STREAM_ABOVE, Sealing, prefetch_source};
use crate::sealer::entry_aad;

/// Puts `entries` in (namespace, key) order, in place, when that changes nothing a reader can
/// see: every entry is a put or delete (a clear or namespace change depends on its position),
/// and the order is stable, so of several entries for one key the last still wins. Returns
/// whether it moved anything (not when already ordered or not reorderable).
///
/// Why: with the range index on, a scan reads its records at their log offsets, so a batch laid
/// out in key order turns a later scan of it into sequential reads. In place, because a batch
/// can be large (a transaction of a million removals): the extra memory is 16 bytes per entry
/// for the sort and 4 for the permutation, not a second copy of the entries.
pub(crate) fn key_order(entries: &mut [EntryRef<'_>]) -> bool {
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

/// Prepares `entries` as one frame at `w`'s tail, without I/O: a large frame is left to be
/// encoded (and sealed) while it is written ([`STREAM_ABOVE`]); any other is built in `w.buf`
/// (each entry's absolute offset in `w.offsets`). Fails, with nothing written, on a frame over
/// the format's limits or (when built here) an entry that cannot be sealed.
pub(crate) fn prepare_frame<'e, 'a, 's>(
    w: &mut LogWriter,
    cur: &'s Generation,
    synced: u64,
    entries: &'e [EntryRef<'a>],
) -> Result<PendingFrame<'e, 'a, 's>> {
    if entries.len() > 1 {
        let lag = lag_for(w.tail, synced);
        let sealing = cur.reader.sealer().map(|sealer| Sealing {
            sealer: &**sealer,
            file_id: cur.header.file_id,
        });
        let stream = match sealing {
            None => FrameStream::new(entries, lag)?,
            Some(_) => FrameStream::sealed(entries, lag)?,
        };
        if stream.frame_len() > STREAM_ABOVE {
            return Ok(PendingFrame::Streamed(stream, sealing));
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
    let kind = FrameKind::for_entries(entries);
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
                b.push_sealed(&plain, |p, out| s.seal(&aad, p, out))
                    .map_err(|_| EngineError::Seal { offset: at })?;
            }
        }
    }
    let result = b.finish(lag_for(tail, synced));
    w.buf = buf;
    result?;
    Ok(())
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
