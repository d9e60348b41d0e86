//! Unit tests of the `header` layout.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_precision_loss,
    clippy::cast_sign_loss,
    reason = "test arithmetic on small known values"
)]

use super::*;

fn sample() -> FileHeader {
    let mut h = FileHeader::new_plain([7; 16], 1_700_000_000_000);
    h.generation = 3;
    h
}

#[test]
fn region_round_trips() {
    let h = sample();
    let region = h.encode_region();
    assert_eq!(FileHeader::decode_region(&region), Ok(h));
}

#[test]
fn torn_slot_a_falls_back_to_slot_b() {
    let h = sample();
    let mut region = h.encode_region();
    region[20] ^= 0xff;
    assert_eq!(FileHeader::decode_region(&region), Ok(h));
}

#[test]
fn higher_generation_wins() {
    let old = sample();
    let mut new = sample();
    new.generation = 4;
    new.created_unix_ms = 5;
    let mut region = old.encode_region();
    region[2048..2048 + SLOT_LEN].copy_from_slice(&new.encode_slot());
    assert_eq!(FileHeader::decode_region(&region), Ok(new));
}

#[test]
fn foreign_bytes_are_bad_magic() {
    let region = [b'x'; HEADER_REGION_LEN];
    assert_eq!(
        FileHeader::decode_region(&region),
        Err(DecodeError::BadMagic)
    );
}

#[test]
fn short_region_is_incomplete() {
    let region = sample().encode_region();
    assert!(
        FileHeader::decode_region(&region[..100])
            .unwrap_err()
            .is_incomplete()
    );
}

#[test]
fn newer_version_is_reported_as_such() {
    let mut h = sample();
    h.version = FORMAT_VERSION + 1;
    let region = h.encode_region();
    assert_eq!(
        FileHeader::decode_region(&region),
        Err(DecodeError::UnsupportedVersion {
            expected: FORMAT_VERSION,
            found: FORMAT_VERSION + 1
        })
    );
}

#[test]
fn unknown_flags_are_refused() {
    let mut h = sample();
    h.flags = 0x80;
    let region = h.encode_region();
    assert_eq!(
        FileHeader::decode_region(&region),
        Err(DecodeError::UnsupportedFlags { flags: 0x80 })
    );
}

#[test]
fn both_slots_damaged_is_a_checksum_error() {
    let mut region = sample().encode_region();
    region[20] ^= 1;
    region[2048 + 20] ^= 1;
    assert!(matches!(
        FileHeader::decode_region(&region),
        Err(DecodeError::ChecksumMismatch { .. })
    ));
}
