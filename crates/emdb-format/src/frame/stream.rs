//! Frames encoded piece by piece while they are written, for frames too large to build whole in
//! memory first (a bulk load's transaction runs to hundreds of MiB).
//!
//! The bytes are exactly those [`FrameBuilder`] produces for the same entries (for a sealed
//! frame: for the same sealed bytes). The frame length follows from the entries' encoded
//! lengths, and a sealed item's length from its plaintext's (every supported AEAD adds a
//! [`NONCE_LEN`]-byte nonce and a [`TAG_LEN`]-byte tag), so it is known before any byte is
//! produced; the CRC accumulates over the body as it is produced. The header, which holds both, comes
//! last: a writer that puts it on disk after the body leaves a frame interrupted part-way with a
//! zero length field, which reads as the end of the log (a torn tail), never as a frame.
//!
//! [`FrameBuilder`]: crate::frame::FrameBuilder

use alloc::vec::Vec;

use crc32fast::Hasher;

use super::{BATCH_PREFIX_LEN, FRAME_HEADER_LEN, FrameFlags, FrameKind};
use crate::entry::EntryRef;
use crate::error::LimitError;
use crate::limits::check_frame;
use crate::sealed::{NONCE_LEN, SealedRef, TAG_LEN};

/// What [`FrameStream::fill`] left to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// Entries remain: call `fill` again.
    More,
    /// Every byte after the header was produced; this is the header, to be written at the
    /// frame's offset (after the body, see the module docs).
    Done([u8; FRAME_HEADER_LEN]),
}

/// Why [`FrameStream::fill`] could not produce a sealed item. The frame is abandoned: its
/// header was never produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealFailure<E> {
    /// The sealing function failed for the item at this frame-relative offset.
    Seal {
        /// Frame-relative offset of the item.
        offset: usize,
        /// What the sealing function returned.
        error: E,
    },
    /// The sealing function appended a length other than nonce, plaintext and tag.
    Length {
        /// Frame-relative offset of the item.
        offset: usize,
        /// Bytes it should have appended.
        expected: usize,
        /// Bytes it appended.
        got: usize,
    },
}

/// One frame of `entries` (the kind [`FrameKind::for_entries`] picks), plaintext or sealed,
/// produced in pieces by [`FrameStream::fill`].
#[derive(Debug, Clone)]
pub struct FrameStream<'e, 'a> {
    entries: &'e [EntryRef<'a>],
    /// Index of the next entry to encode.
    next: usize,
    kind: FrameKind,
    flags: FrameFlags,
    lag: u32,
    len: u32,
    /// A sealed frame's scratch space for the plaintext of the entry being sealed.
    plain: Vec<u8>,
    /// Frame-relative offset of the next byte `fill` produces (the header is not produced).
    pos: usize,
    /// CRC of the length field, the rest of the header and the body produced so far.
    crc: Hasher,
}

impl<'e, 'a> FrameStream<'e, 'a> {
    /// Starts the plaintext frame of `entries` with lag field `lag`.
    ///
    /// Fails, before producing anything, if the frame would exceed
    /// [`MAX_FRAME_LEN`](crate::limits::MAX_FRAME_LEN).
    pub fn new(entries: &'e [EntryRef<'a>], lag: u32) -> Result<Self, LimitError> {
        Self::with_flags(entries, lag, FrameFlags::default())
    }

    /// Starts the sealed frame of `entries` (each item an envelope holding the sealed encoding
    /// of one entry) with lag field `lag`. Fails like [`FrameStream::new`].
    pub fn sealed(entries: &'e [EntryRef<'a>], lag: u32) -> Result<Self, LimitError> {
        Self::with_flags(entries, lag, FrameFlags::SEALED)
    }

    fn with_flags(
        entries: &'e [EntryRef<'a>],
        lag: u32,
        flags: FrameFlags,
    ) -> Result<Self, LimitError> {
        let kind = FrameKind::for_entries(entries);
        let prefix = if kind == FrameKind::Batch {
            BATCH_PREFIX_LEN
        } else {
            0
        };
        let item_len = |e: &EntryRef<'_>| {
            if flags.is_sealed() {
                SealedRef::encoded_len(e.encoded_len()).unwrap_or(usize::MAX)
            } else {
                e.encoded_len()
            }
        };
        let len = entries
            .iter()
            .fold(FRAME_HEADER_LEN.saturating_add(prefix), |n, e| {
                n.saturating_add(item_len(e))
            });
        check_frame(len)?;
        let len = u32::try_from(len).map_err(|_| LimitError::FrameTooLong {
            len: len as u64,
            max: u64::from(u32::MAX),
        })?;
        let mut crc = Hasher::new();
        crc.update(&len.to_le_bytes());
        crc.update(&header_tail(kind, flags, lag));
        Ok(FrameStream {
            entries,
            next: 0,
            kind,
            flags,
            lag,
            len,
            plain: Vec::new(),
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
    /// then whole items, at least one, until `out` holds `target` bytes or no entry is left.
    /// `item_at` receives each entry's index in `entries` and offset within the frame, in order,
    /// just before its item is produced.
    ///
    /// A sealed frame's items come from `seal`, given the item's offset within the frame and
    /// the entry's plaintext encoding, which must append nonce, ciphertext and tag (exactly
    /// [`NONCE_LEN`] + plaintext + [`TAG_LEN`] bytes); a plaintext frame never calls it. If
    /// `seal` fails or appends another length, so does `fill`, and the frame is abandoned.
    pub fn fill<E>(
        &mut self,
        out: &mut Vec<u8>,
        target: usize,
        mut item_at: impl FnMut(usize, usize),
        mut seal: impl FnMut(usize, &[u8], &mut Vec<u8>) -> Result<(), E>,
    ) -> Result<Fill, SealFailure<E>> {
        let start = out.len();
        if self.pos == FRAME_HEADER_LEN && self.kind == FrameKind::Batch {
            let count = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&count.to_le_bytes());
            out.extend_from_slice(&[0; 4]);
        }
        while let Some(e) = self.entries.get(self.next) {
            let offset = self.pos.saturating_add(out.len().saturating_sub(start));
            item_at(self.next, offset);
            if self.flags.is_sealed() {
                self.plain.clear();
                e.encode_into(&mut self.plain);
                seal_item(out, offset, &self.plain, &mut seal)?;
            } else {
                e.encode_into(out);
            }
            self.next = self.next.saturating_add(1);
            if out.len() >= target {
                break;
            }
        }
        let produced = out.get(start..).unwrap_or_default();
        self.crc.update(produced);
        self.pos = self.pos.saturating_add(produced.len());
        if self.next < self.entries.len() {
            return Ok(Fill::More);
        }
        let mut header = [0; FRAME_HEADER_LEN];
        let crc = self.crc.clone().finalize();
        for (dst, src) in header.iter_mut().zip(
            self.len
                .to_le_bytes()
                .into_iter()
                .chain(crc.to_le_bytes())
                .chain(header_tail(self.kind, self.flags, self.lag)),
        ) {
            *dst = src;
        }
        Ok(Fill::Done(header))
    }
}

/// Appends the envelope of `plain` sealed by `seal`, checking the sealed length (the frame
/// length was computed from it).
fn seal_item<E>(
    out: &mut Vec<u8>,
    offset: usize,
    plain: &[u8],
    seal: &mut impl FnMut(usize, &[u8], &mut Vec<u8>) -> Result<(), E>,
) -> Result<(), SealFailure<E>> {
    let mut got = 0;
    SealedRef::encode_with(out, |o| {
        let before = o.len();
        let sealed = seal(offset, plain, o);
        got = o.len().saturating_sub(before);
        sealed
    })
    .map_err(|error| SealFailure::Seal { offset, error })?;
    let expected = NONCE_LEN
        .saturating_add(plain.len())
        .saturating_add(TAG_LEN);
    if got == expected {
        Ok(())
    } else {
        Err(SealFailure::Length {
            offset,
            expected,
            got,
        })
    }
}

/// Header bytes 8..16: kind, flags, reserved, lag.
fn header_tail(kind: FrameKind, flags: FrameFlags, lag: u32) -> [u8; 8] {
    let [l0, l1, l2, l3] = lag.to_le_bytes();
    [kind as u8, flags.0, 0, 0, l0, l1, l2, l3]
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

    /// A stand-in for an AEAD, deterministic so that streamed and built frames can be
    /// compared byte for byte: the nonce is the item's frame offset, the ciphertext the
    /// plaintext with every byte flipped, the tag a fixed pattern.
    #[expect(
        clippy::unnecessary_wraps,
        reason = "the shape of the sealing function `fill` takes"
    )]
    fn toy_seal(offset: usize, plain: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
        out.extend_from_slice(&(offset as u64).to_le_bytes());
        out.extend_from_slice(&[0; NONCE_LEN - 8]);
        out.extend(plain.iter().map(|b| !b));
        out.extend_from_slice(&[0xa5; TAG_LEN]);
        Ok(())
    }

    fn never_sealed(_: usize, _: &[u8], _: &mut Vec<u8>) -> Result<(), &'static str> {
        panic!("a plaintext frame sealed an item")
    }

    /// The frame `FrameBuilder` makes of `entries` (sealed with [`toy_seal`] when `sealed`),
    /// and each entry's offset in it.
    fn built(entries: &[EntryRef<'_>], lag: u32, sealed: bool) -> (Vec<u8>, Vec<usize>) {
        let mut out = vec![];
        let mut offsets = vec![];
        let flags = if sealed {
            FrameFlags::SEALED
        } else {
            FrameFlags::default()
        };
        let mut b = FrameBuilder::new(&mut out, FrameKind::for_entries(entries), flags);
        let mut plain = vec![];
        for e in entries {
            let at = b.next_item_offset();
            offsets.push(at);
            if sealed {
                plain.clear();
                e.encode_into(&mut plain);
                b.push_sealed(|o| toy_seal(at, &plain, o)).unwrap();
            } else {
                b.push_entry(e);
            }
        }
        b.finish(lag).unwrap();
        (out, offsets)
    }

    /// The frame a stream makes of `entries` in pieces of about `target` bytes (header placed
    /// last, as a writer would), each entry's offset, and the number of `fill` calls.
    fn streamed(
        entries: &[EntryRef<'_>],
        lag: u32,
        target: usize,
        sealed: bool,
    ) -> (Vec<u8>, Vec<usize>, usize) {
        let mut s = if sealed {
            FrameStream::sealed(entries, lag).unwrap()
        } else {
            FrameStream::new(entries, lag).unwrap()
        };
        let mut frame = vec![0; FRAME_HEADER_LEN];
        let mut offsets = vec![];
        let mut piece = vec![];
        let mut calls = 0;
        loop {
            piece.clear();
            calls += 1;
            let item_at = |i, at| {
                assert_eq!(i, offsets.len());
                offsets.push(at);
            };
            let step = if sealed {
                s.fill(&mut piece, target, item_at, toy_seal)
            } else {
                s.fill(&mut piece, target, item_at, never_sealed)
            };
            frame.extend_from_slice(&piece);
            if let Fill::Done(header) = step.unwrap() {
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
        let (bytes, offsets, calls) = streamed(&e, 5, 1, false);
        assert_eq!((bytes.clone(), offsets.clone()), built(&e, 5, false));
        assert_eq!(calls, 1);
        let f = Frame::decode(&bytes).unwrap();
        assert_eq!((f.kind, f.lag), (FrameKind::Delete, 5));
    }

    #[test]
    fn an_empty_batch_streams_its_prefix() {
        let (bytes, offsets, _) = streamed(&[], 0, 1 << 20, false);
        assert_eq!(bytes, built(&[], 0, false).0);
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
        let fill = |s: &mut FrameStream<'_, '_>, piece: &mut Vec<u8>, target| {
            s.fill(piece, target, |_, _| (), never_sealed).unwrap()
        };
        assert_eq!(fill(&mut s, &mut piece, 2 * one + 9), Fill::More);
        assert_eq!(piece.len(), 8 + 3 * one);
        // A target already met still produces one entry, so every call makes progress.
        piece.clear();
        assert_eq!(fill(&mut s, &mut piece, 0), Fill::More);
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
        // Sealing adds its envelope, nonce and tag to each entry: a frame of exactly the limit
        // fits plain, not sealed.
        let probe = [EntryRef::put(0, b"k", &big[..MAX_FRAME_LEN - 100], 0)];
        let short = MAX_FRAME_LEN - FrameStream::new(&probe, 0).unwrap().frame_len();
        let entries = [EntryRef::put(
            0,
            b"k",
            &big[..MAX_FRAME_LEN - 100 + short],
            0,
        )];
        assert_eq!(
            FrameStream::new(&entries, 0).unwrap().frame_len(),
            MAX_FRAME_LEN
        );
        assert!(matches!(
            FrameStream::sealed(&entries, 0),
            Err(LimitError::FrameTooLong { .. })
        ));
        let small: Vec<_> = (0..8)
            .map(|_| EntryRef::put(0, b"k", &big[..100], 0))
            .collect();
        let plain = FrameStream::new(&small, 0).unwrap().frame_len();
        let sealed = FrameStream::sealed(&small, 0).unwrap().frame_len();
        assert_eq!(sealed - plain, 8 * (4 + NONCE_LEN + TAG_LEN));
    }

    #[test]
    fn a_failed_or_misshapen_seal_fails_the_fill_with_its_item_offset() {
        let entries = [
            EntryRef::put(0, b"a", b"1", 0),
            EntryRef::put(0, b"b", b"2", 0),
        ];
        let second =
            FRAME_HEADER_LEN + 8 + SealedRef::encoded_len(entries[0].encoded_len()).unwrap();
        let mut piece = vec![];
        let mut s = FrameStream::sealed(&entries, 0).unwrap();
        let failing = |at: usize, plain: &[u8], out: &mut Vec<u8>| {
            if at == second {
                Err("no entropy")
            } else {
                toy_seal(at, plain, out)
            }
        };
        assert_eq!(
            s.fill(&mut piece, 1 << 20, |_, _| (), failing),
            Err(SealFailure::Seal {
                offset: second,
                error: "no entropy"
            })
        );
        let mut s = FrameStream::sealed(&entries, 0).unwrap();
        let short_tag = |_: usize, plain: &[u8], out: &mut Vec<u8>| {
            out.extend_from_slice(&[0; NONCE_LEN]);
            out.extend_from_slice(plain);
            out.extend_from_slice(&[0; 8]);
            Ok::<(), &str>(())
        };
        let expected = NONCE_LEN + entries[0].encoded_len() + TAG_LEN;
        assert_eq!(
            s.fill(&mut piece, 1 << 20, |_, _| (), short_tag),
            Err(SealFailure::Length {
                offset: FRAME_HEADER_LEN + 8,
                expected,
                got: expected - 8
            })
        );
    }

    #[test]
    fn the_header_covers_the_body_by_its_crc() {
        let entries = [EntryRef::put(1, b"a", b"1", 0), EntryRef::clear(2)];
        let (mut bytes, _, _) = streamed(&entries, 0, 8, false);
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
            sealed in any::<bool>(),
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
            let (bytes, offsets, _) = streamed(&entries, lag, target, sealed);
            let (want, want_offsets) = built(&entries, lag, sealed);
            prop_assert_eq!(&bytes, &want);
            prop_assert_eq!(&offsets, &want_offsets);
            let f = Frame::decode(&bytes).unwrap();
            prop_assert_eq!(f.flags.is_sealed(), sealed);
            let ops: Vec<Op> = f.items().zip(&offsets).map(|(i, &at)| match i.unwrap().1 {
                crate::frame::FrameItem::Entry(e) => e.op,
                crate::frame::FrameItem::Sealed(env) => {
                    // Undo the toy seal: the envelope holds the entry at its own offset.
                    assert_eq!(&env.nonce()[..8], &(at as u64).to_le_bytes());
                    let ct = env.ciphertext_and_tag();
                    let plain: Vec<u8> = ct[..ct.len() - TAG_LEN].iter().map(|b| !b).collect();
                    EntryRef::decode(&plain).unwrap().0.op
                }
            }).collect();
            prop_assert_eq!(ops, entries.iter().map(|e| e.op).collect::<Vec<_>>());
        }
    }
}
