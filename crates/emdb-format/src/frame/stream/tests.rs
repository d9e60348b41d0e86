//! Unit tests of the frame stream: its bytes against `FrameBuilder`'s, pieces, limits, sealing.

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
            b.push_sealed(&plain, |p, o| toy_seal(at, p, o)).unwrap();
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
    let second = FRAME_HEADER_LEN + 8 + SealedRef::encoded_len(entries[0].encoded_len()).unwrap();
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
