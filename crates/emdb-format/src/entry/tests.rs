//! Unit tests of the `entry` layout.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_precision_loss,
    clippy::cast_sign_loss,
    reason = "test arithmetic on small known values"
)]

use super::*;
use alloc::vec;
use proptest::prelude::*;

#[test]
fn put_layout_is_aligned_and_round_trips() {
    let e = EntryRef::put(3, b"key", b"value", 99);
    let mut out = vec![];
    e.encode_into(&mut out);
    assert_eq!(out.len() % 8, 0);
    assert_eq!(out.len(), e.encoded_len());
    assert_eq!(EntryRef::decode(&out), Ok((e, out.len())));
}

#[test]
fn delete_with_a_value_is_rejected() {
    let mut out = vec![];
    EntryRef::put(0, b"k", b"v", 0).encode_into(&mut out);
    out[12] = Op::Delete as u8;
    assert_eq!(EntryRef::decode(&out), Err(DecodeError::LengthOverflow));
}

#[test]
fn every_flipped_bit_of_an_entry_is_detected() {
    let mut out = vec![];
    EntryRef::put(1, b"key", b"value", 5).encode_into(&mut out);
    for i in 0..out.len() * 8 {
        let mut bad = out.clone();
        bad[i / 8] ^= 1 << (i % 8);
        assert!(EntryRef::decode(&bad).is_err(), "bit {i} went unnoticed");
    }
}

#[test]
fn unknown_op_and_reserved_bytes_are_rejected() {
    let mut out = vec![];
    EntryRef::delete(0, b"k").encode_into(&mut out);
    let mut bad = out.clone();
    bad[12] = 9;
    assert_eq!(EntryRef::decode(&bad), Err(DecodeError::InvalidOp(9)));
    let mut bad = out.clone();
    bad[13] = 1;
    assert_eq!(EntryRef::decode(&bad), Err(DecodeError::NonZeroReserved));
    let mut bad = out;
    let last = bad.len() - 1;
    bad[last] = 1;
    assert_eq!(EntryRef::decode(&bad), Err(DecodeError::NonZeroReserved));
}

#[test]
fn truncated_entry_is_incomplete() {
    let mut out = vec![];
    EntryRef::put(0, b"key", b"value", 0).encode_into(&mut out);
    for cut in 0..out.len() {
        assert!(
            EntryRef::decode(&out[..cut]).unwrap_err().is_incomplete(),
            "cut {cut}"
        );
    }
}

#[test]
fn trusted_decode_skips_only_the_crc_and_padding_checks() {
    let mut out = vec![];
    let e = EntryRef::put(2, b"key", b"value", 7);
    e.encode_into(&mut out);
    assert_eq!(EntryRef::decode_trusted(&out), Ok((e, out.len())));
    // A value byte flipped: only the CRC can tell, and the trusted decode does not ask it.
    let mut bad = out.clone();
    bad[ENTRY_HEADER_LEN + 3] ^= 1;
    assert!(matches!(
        EntryRef::decode(&bad),
        Err(DecodeError::ChecksumMismatch { .. })
    ));
    let (got, _) = EntryRef::decode_trusted(&bad).unwrap();
    assert_eq!(got.value, b"walue");
    // Structure is still checked: a bad op, a reserved byte, a cut entry.
    let mut bad = out.clone();
    bad[12] = 9;
    assert_eq!(
        EntryRef::decode_trusted(&bad),
        Err(DecodeError::InvalidOp(9))
    );
    let mut bad = out.clone();
    bad[13] = 1;
    assert_eq!(
        EntryRef::decode_trusted(&bad),
        Err(DecodeError::NonZeroReserved)
    );
    // Non-zero padding (3 + 6 bytes after the header leave 7 of it): only the checked decode
    // looks.
    let padded_entry = EntryRef::put(2, b"key", b"value!", 7);
    let mut padded = vec![];
    padded_entry.encode_into(&mut padded);
    let last = padded.len() - 1;
    padded[last] = 1;
    assert_eq!(EntryRef::decode(&padded), Err(DecodeError::NonZeroReserved));
    assert_eq!(
        EntryRef::decode_trusted(&padded),
        Ok((padded_entry, padded.len()))
    );
    for cut in 0..out.len() {
        assert!(
            EntryRef::decode_trusted(&out[..cut])
                .unwrap_err()
                .is_incomplete()
        );
    }
}

#[test]
fn point_read_decode_takes_only_puts_inside_the_buffer() {
    let mut out = vec![];
    let e = EntryRef::put(2, b"key", b"value", 7);
    e.encode_into(&mut out);
    assert_eq!(EntryRef::decode_put_trusted(&out), Ok(e));
    // The padding is not needed: the entry ends with its value.
    let raw_end = ENTRY_HEADER_LEN + 3 + 5;
    assert_eq!(EntryRef::decode_put_trusted(&out[..raw_end]), Ok(e));
    for cut in 0..raw_end {
        assert!(
            EntryRef::decode_put_trusted(&out[..cut])
                .unwrap_err()
                .is_incomplete()
        );
    }
    let mut del = vec![];
    EntryRef::delete(2, b"key").encode_into(&mut del);
    assert_eq!(
        EntryRef::decode_put_trusted(&del),
        Err(DecodeError::InvalidOp(Op::Delete as u8))
    );
    let mut bad = out.clone();
    bad[12] = 9;
    assert_eq!(
        EntryRef::decode_put_trusted(&bad),
        Err(DecodeError::InvalidOp(9))
    );
}

proptest! {
    /// Wherever the trusted decode reads a `Put`, the point-read decode reads the same entry.
    #[test]
    fn point_read_decode_agrees_with_the_trusted_decode(
        ns: u32,
        key in prop::collection::vec(any::<u8>(), 0..64),
        value in prop::collection::vec(any::<u8>(), 0..256),
        exp: u64,
        noise in prop::collection::vec(any::<u8>(), 0..96),
        flip in any::<prop::sample::Index>(),
    ) {
        let mut out = vec![];
        EntryRef::put(ns, &key, &value, exp).encode_into(&mut out);
        out.extend_from_slice(&noise);
        let at = flip.index(out.len());
        out[at] ^= 0x5a;
        if let Ok((e, _)) = EntryRef::decode_trusted(&out)
            && e.op == Op::Put
        {
            prop_assert_eq!(EntryRef::decode_put_trusted(&out), Ok(e));
        }
        let _ = EntryRef::decode_put_trusted(&noise);
    }

    #[test]
    fn put_round_trips(ns: u32, key in prop::collection::vec(any::<u8>(), 0..64),
                       value in prop::collection::vec(any::<u8>(), 0..256), exp: u64) {
        let e = EntryRef::put(ns, &key, &value, exp);
        let mut out = vec![];
        e.encode_into(&mut out);
        prop_assert_eq!(EntryRef::decode(&out), Ok((e, out.len())));
    }

    #[test]
    fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..128)) {
        let _ = EntryRef::decode(&bytes);
        let _ = EntryRef::decode_trusted(&bytes);
    }
}
