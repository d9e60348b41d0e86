//! Unit tests of the `frame` layout.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_precision_loss,
    clippy::cast_sign_loss,
    reason = "test arithmetic on small known values"
)]

use super::*;
use alloc::vec;
use proptest::prelude::*;

fn single(entry: &EntryRef<'_>) -> Vec<u8> {
    let mut out = vec![];
    let mut b = FrameBuilder::new(&mut out, FrameKind::for_op(entry.op), FrameFlags::default());
    b.push_entry(entry);
    b.finish(0).unwrap();
    out
}

#[test]
fn put_frame_round_trips() {
    let e = EntryRef::put(0, b"k", b"v", 7);
    let bytes = single(&e);
    assert_eq!(bytes.len() % 8, 0);
    let f = Frame::decode(&bytes).unwrap();
    assert_eq!(f.kind, FrameKind::Put);
    let items: Vec<_> = f.items().map(Result::unwrap).collect();
    assert_eq!(
        items,
        vec![(FRAME_HEADER_LEN, FrameItem::Entry(e), e.encoded_len())]
    );
}

#[test]
fn batch_frame_round_trips() {
    let entries = [
        EntryRef::put(1, b"a", b"1", 0),
        EntryRef::delete(1, b"b"),
        EntryRef::clear(2),
    ];
    let mut out = vec![];
    let mut b = FrameBuilder::new(&mut out, FrameKind::Batch, FrameFlags::default());
    for e in &entries {
        b.push_entry(e);
    }
    let len = b.finish(3).unwrap();
    let f = Frame::decode(&out).unwrap();
    assert_eq!((f.len(), f.lag, f.item_count()), (len, 3, 3));
    let got: Vec<_> = f
        .items()
        .map(|r| match r.unwrap().1 {
            FrameItem::Entry(e) => e,
            FrameItem::Sealed(_) => panic!("plain"),
        })
        .collect();
    assert_eq!(got, entries);
}

#[test]
fn every_flipped_bit_is_detected() {
    let bytes = single(&EntryRef::put(0, b"key", b"value", 0));
    for i in 0..bytes.len() * 8 {
        let mut bad = bytes.clone();
        bad[i / 8] ^= 1 << (i % 8);
        assert!(Frame::decode(&bad).is_err(), "bit {i} went unnoticed");
    }
}

#[test]
fn truncation_is_incomplete_not_corruption() {
    let bytes = single(&EntryRef::put(0, b"key", b"value", 0));
    for cut in 4..bytes.len() {
        assert_eq!(
            Frame::decode(&bytes[..cut]),
            Err(DecodeError::Incomplete {
                needed: bytes.len() as u64
            }),
            "cut {cut}"
        );
    }
}

#[test]
fn unknown_kind_with_valid_crc_is_unsupported() {
    let mut bytes = single(&EntryRef::delete(0, b"k"));
    bytes[8] = 0x42;
    set_lag(&mut bytes, 0);
    assert_eq!(
        Frame::decode(&bytes),
        Err(DecodeError::UnsupportedFrame {
            kind: 0x42,
            flags: 0
        })
    );
    let mut bytes = single(&EntryRef::delete(0, b"k"));
    bytes[9] = 0x80;
    set_lag(&mut bytes, 0);
    assert!(matches!(
        Frame::decode(&bytes),
        Err(DecodeError::UnsupportedFrame { .. })
    ));
}

#[test]
fn single_kind_must_match_its_entry() {
    let mut out = vec![];
    let mut b = FrameBuilder::new(&mut out, FrameKind::Delete, FrameFlags::default());
    b.push_entry(&EntryRef::put(0, b"k", b"v", 0));
    b.finish(0).unwrap();
    assert_eq!(
        Frame::decode(&out),
        Err(DecodeError::InvalidOp(Op::Put as u8))
    );
}

#[test]
fn lag_saturates() {
    assert_eq!(lag_for(4096, 4096), 0);
    assert_eq!(lag_for(4096 + 80, 4096), 10);
    assert_eq!(lag_for(u64::MAX, 0), u32::MAX);
    assert_eq!(lag_for(0, 100), 0);
}

#[test]
fn sealed_frame_items_are_envelopes() {
    let mut out = vec![];
    let mut b = FrameBuilder::new(&mut out, FrameKind::Batch, FrameFlags::SEALED);
    // A toy seal of the right length: a 12-byte nonce, the plaintext, a 16-byte tag.
    let toy = |p: &[u8], o: &mut Vec<u8>| {
        o.extend_from_slice(&[9; 12]);
        o.extend_from_slice(p);
        o.extend_from_slice(&[9; 16]);
        Ok::<(), ()>(())
    };
    for _ in 0..2 {
        b.push_sealed(&[5; 12], toy).unwrap();
    }
    // A seal of another length, or a failed one, is refused and counts no item.
    assert!(matches!(
        b.push_sealed(&[5; 12], |_, o: &mut Vec<u8>| {
            o.extend_from_slice(&[9; 20]);
            Ok::<(), ()>(())
        }),
        Err(SealFailure::Length {
            expected: 40,
            got: 20,
            ..
        })
    ));
    assert!(matches!(
        b.push_sealed(&[5; 12], |_, _| Err(())),
        Err(SealFailure::Seal { error: (), .. })
    ));
    assert_eq!(b.count(), 2);
    b.finish(0).unwrap();
    let f = Frame::decode(&out).unwrap();
    assert_eq!(
        f.items()
            .filter(|i| matches!(i, Ok((_, FrameItem::Sealed(_), _))))
            .count(),
        2
    );
}

proptest! {
    #[test]
    fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = Frame::decode(&bytes);
    }

    #[test]
    fn decode_never_panics_with_fixed_crc(mut bytes in prop::collection::vec(any::<u8>(), 24..256)) {
        let len = (bytes.len() & !7) as u32;
        bytes[..4].copy_from_slice(&len.to_le_bytes());
        set_lag(&mut bytes[..len as usize], 0);
        let _ = Frame::decode(&bytes);
    }

    #[test]
    fn batches_round_trip(items in prop::collection::vec(
        (any::<u32>(), prop::collection::vec(any::<u8>(), 0..32),
         prop::collection::vec(any::<u8>(), 0..64), any::<u64>(), any::<bool>()), 1..8)) {
        let entries: Vec<EntryRef<'_>> = items.iter().map(|(ns, k, v, exp, del)| {
            if *del { EntryRef::delete(*ns, k) } else { EntryRef::put(*ns, k, v, *exp) }
        }).collect();
        let mut out = vec![];
        let mut b = FrameBuilder::new(&mut out, FrameKind::Batch, FrameFlags::default());
        for e in &entries { b.push_entry(e); }
        b.finish(0).unwrap();
        let f = Frame::decode(&out).unwrap();
        let got: Vec<_> = f.items().map(|r| match r.unwrap().1 {
            FrameItem::Entry(e) => e, FrameItem::Sealed(_) => unreachable!() }).collect();
        prop_assert_eq!(got, entries);
    }
}
