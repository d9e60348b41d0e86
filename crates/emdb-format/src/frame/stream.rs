//! Plaintext frames encoded piece by piece while they are written, for frames too large to
//! build whole in memory first (a bulk load's transaction runs to hundreds of MiB).
//!
//! The bytes are exactly those [`FrameBuilder`] produces for the same entries. The frame length
//! follows from the entries' encoded lengths, so it is known before any byte is produced, and
//! the CRC accumulates over the body as it is produced. The header, which holds both, comes
//! last: a writer that puts it on disk after the body leaves a frame interrupted part-way with a
//! zero length field, which reads as the end of the log (a torn tail), never as a frame.
//!
//! [`FrameBuilder`]: crate::frame::FrameBuilder

use alloc::vec::Vec;

use crc32fast::Hasher;

use super::{BATCH_PREFIX_LEN, FRAME_HEADER_LEN, FrameKind};
use crate::entry::EntryRef;
use crate::error::LimitError;
use crate::limits::check_frame;

/// What [`FrameStream::fill`] left to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// Entries remain: call `fill` again.
    More,
    /// Every byte after the header was produced; this is the header, to be written at the
    /// frame's offset (after the body, see the module docs).
    Done([u8; FRAME_HEADER_LEN]),
}

/// One plaintext frame of `entries` (the kind [`FrameKind::for_entries`] picks), produced in
/// pieces by [`FrameStream::fill`].
#[derive(Debug, Clone)]
pub struct FrameStream<'e, 'a> {
    entries: &'e [EntryRef<'a>],
    /// Index of the next entry to encode.
    next: usize,
    kind: FrameKind,
    lag: u32,
    len: u32,
    /// Frame-relative offset of the next byte `fill` produces (the header is not produced).
    pos: usize,
    /// CRC of the length field, the rest of the header and the body produced so far.
    crc: Hasher,
}

impl<'e, 'a> FrameStream<'e, 'a> {
    /// Starts the frame of `entries` with lag field `lag`.
    ///
    /// Fails, before producing anything, if the frame would exceed
    /// [`MAX_FRAME_LEN`](crate::limits::MAX_FRAME_LEN).
    pub fn new(entries: &'e [EntryRef<'a>], lag: u32) -> Result<Self, LimitError> {
        let kind = FrameKind::for_entries(entries);
        let prefix = if kind == FrameKind::Batch {
            BATCH_PREFIX_LEN
        } else {
            0
        };
        let len = entries
            .iter()
            .fold(FRAME_HEADER_LEN.saturating_add(prefix), |n, e| {
                n.saturating_add(e.encoded_len())
            });
        check_frame(len)?;
        let len = u32::try_from(len).map_err(|_| LimitError::FrameTooLong {
            len: len as u64,
            max: u64::from(u32::MAX),
        })?;
        let mut crc = Hasher::new();
        crc.update(&len.to_le_bytes());
        crc.update(&header_tail(kind, lag));
        Ok(FrameStream {
            entries,
            next: 0,
            kind,
            lag,
            len,
            pos: FRAME_HEADER_LEN,
            crc,
        })
    }

    /// The entries the frame holds.
    pub fn entries(&self) -> &'e [EntryRef<'a>] {
        self.entries
    }

    /// Length of the whole frame, header included.
    pub fn frame_len(&self) -> usize {
        self.len as usize
    }

    /// Appends the next part of the frame after its header to `out`: the batch prefix first,
    /// then whole entries, at least one, until `out` holds `target` bytes or no entry is left.
    /// `item_at` receives each entry's index in `entries` and offset within the frame, in order,
    /// just before the entry is encoded.
    pub fn fill(
        &mut self,
        out: &mut Vec<u8>,
        target: usize,
        mut item_at: impl FnMut(usize, usize),
    ) -> Fill {
        let start = out.len();
        if self.pos == FRAME_HEADER_LEN && self.kind == FrameKind::Batch {
            let count = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&count.to_le_bytes());
            out.extend_from_slice(&[0; 4]);
        }
        while let Some(e) = self.entries.get(self.next) {
            item_at(
                self.next,
                self.pos.saturating_add(out.len().saturating_sub(start)),
            );
            e.encode_into(out);
            self.next = self.next.saturating_add(1);
            if out.len() >= target {
                break;
            }
        }
        let produced = out.get(start..).unwrap_or_default();
        self.crc.update(produced);
        self.pos = self.pos.saturating_add(produced.len());
        if self.next < self.entries.len() {
            return Fill::More;
        }
        let mut header = [0; FRAME_HEADER_LEN];
        let crc = self.crc.clone().finalize();
        for (dst, src) in header.iter_mut().zip(
            self.len
                .to_le_bytes()
                .into_iter()
                .chain(crc.to_le_bytes())
                .chain(header_tail(self.kind, self.lag)),
        ) {
            *dst = src;
        }
        Fill::Done(header)
    }
}

/// Header bytes 8..16: kind, flags (none: the frame is plaintext), reserved, lag.
fn header_tail(kind: FrameKind, lag: u32) -> [u8; 8] {
    let [l0, l1, l2, l3] = lag.to_le_bytes();
    [kind as u8, 0, 0, 0, l0, l1, l2, l3]
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::arithmetic_side_effects,
        clippy::indexing_slicing,
        clippy::panic,
        reason = "test arithmetic and indexing on small known values"
    )]

    use alloc::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::entry::Op;
    use crate::frame::{Frame, FrameBuilder, FrameFlags};
    use crate::limits::MAX_FRAME_LEN;

    /// The frame `FrameBuilder` makes of `entries`, and each entry's offset in it.
    fn built(entries: &[EntryRef<'_>], lag: u32) -> (Vec<u8>, Vec<usize>) {
        let mut out = vec![];
        let mut offsets = vec![];
        let mut b = FrameBuilder::new(
            &mut out,
            FrameKind::for_entries(entries),
            FrameFlags::default(),
        );
        for e in entries {
            offsets.push(b.next_item_offset());
            b.push_entry(e);
        }
        b.finish(lag).unwrap();
        (out, offsets)
    }

    /// The frame a stream makes of `entries` in pieces of about `target` bytes (header placed
    /// last, as a writer would), each entry's offset, and the number of `fill` calls.
    fn streamed(entries: &[EntryRef<'_>], lag: u32, target: usize) -> (Vec<u8>, Vec<usize>, usize) {
        let mut s = FrameStream::new(entries, lag).unwrap();
        let mut frame = vec![0; FRAME_HEADER_LEN];
        let mut offsets = vec![];
        let mut piece = vec![];
        let mut calls = 0;
        loop {
            piece.clear();
            calls += 1;
            let step = s.fill(&mut piece, target, |i, at| {
                assert_eq!(i, offsets.len());
                offsets.push(at);
            });
            frame.extend_from_slice(&piece);
            if let Fill::Done(header) = step {
                frame[..FRAME_HEADER_LEN].copy_from_slice(&header);
                break;
            }
        }
        assert_eq!(frame.len(), s.frame_len());
        (frame, offsets, calls)
    }

    #[test]
    fn a_single_entry_streams_as_its_own_kind() {
        let e = [EntryRef::delete(3, b"gone")];
        let (bytes, offsets, calls) = streamed(&e, 5, 1);
        assert_eq!((bytes.clone(), offsets.clone()), built(&e, 5));
        assert_eq!(calls, 1);
        let f = Frame::decode(&bytes).unwrap();
        assert_eq!((f.kind, f.lag), (FrameKind::Delete, 5));
    }

    #[test]
    fn an_empty_batch_streams_its_prefix() {
        let (bytes, offsets, _) = streamed(&[], 0, 1 << 20);
        assert_eq!(bytes, built(&[], 0).0);
        assert!(offsets.is_empty());
        assert_eq!(Frame::decode(&bytes).unwrap().item_count(), 0);
    }

    #[test]
    fn pieces_hold_whole_entries_and_stop_at_the_target() {
        let value = [7u8; 100];
        let entries: Vec<_> = (0u32..50)
            .map(|i| EntryRef::put(0, b"some key", &value, u64::from(i)))
            .collect();
        let one = entries[0].encoded_len();
        let mut s = FrameStream::new(&entries, 0).unwrap();
        let mut piece = vec![];
        // The batch prefix and three entries reach a target of two and a bit entries.
        assert_eq!(s.fill(&mut piece, 2 * one + 9, |_, _| ()), Fill::More);
        assert_eq!(piece.len(), 8 + 3 * one);
        // A target already met still produces one entry, so every call makes progress.
        piece.clear();
        assert_eq!(s.fill(&mut piece, 0, |_, _| ()), Fill::More);
        assert_eq!(piece.len(), one);
    }

    #[test]
    fn a_frame_over_the_limit_is_refused_before_any_byte() {
        // Entries are borrowed, so the oversized value costs no memory beyond one copy.
        let big = vec![0u8; MAX_FRAME_LEN];
        let entries = [EntryRef::put(0, b"k", &big, 0)];
        assert!(matches!(
            FrameStream::new(&entries, 0),
            Err(LimitError::FrameTooLong { .. })
        ));
    }

    #[test]
    fn the_header_covers_the_body_by_its_crc() {
        let entries = [EntryRef::put(1, b"a", b"1", 0), EntryRef::clear(2)];
        let (mut bytes, _, _) = streamed(&entries, 0, 8);
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(Frame::decode(&bytes).is_err());
    }

    proptest! {
        #[test]
        fn streamed_frames_equal_built_ones(
            items in prop::collection::vec(
                (any::<u32>(), prop::collection::vec(any::<u8>(), 0..40),
                 prop::collection::vec(any::<u8>(), 0..300), any::<u64>(), 0u8..5),
                0..40),
            lag in any::<u32>(),
            target in 0usize..2000,
        ) {
            let entries: Vec<EntryRef<'_>> = items.iter().map(|(ns, k, v, exp, op)| {
                match *op {
                    0 => EntryRef::delete(*ns, k),
                    1 => EntryRef::clear(*ns),
                    2 => EntryRef::ns_create(*ns, k),
                    3 => EntryRef::ns_drop(*ns),
                    _ => EntryRef::put(*ns, k, v, *exp),
                }
            }).collect();
            let (bytes, offsets, _) = streamed(&entries, lag, target);
            let (want, want_offsets) = built(&entries, lag);
            prop_assert_eq!(&bytes, &want);
            prop_assert_eq!(offsets, want_offsets);
            let f = Frame::decode(&bytes).unwrap();
            let ops: Vec<Op> = f.items().map(|i| match i.unwrap().1 {
                crate::frame::FrameItem::Entry(e) => e.op,
                crate::frame::FrameItem::Sealed(_) => panic!("plaintext"),
            }).collect();
            prop_assert_eq!(ops, entries.iter().map(|e| e.op).collect::<Vec<_>>());
        }
    }
}
