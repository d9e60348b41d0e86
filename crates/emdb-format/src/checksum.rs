//! CRC-32 (IEEE, as computed by `crc32fast`) over the byte ranges each structure names.

/// CRC-32 of one contiguous range.
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// CRC-32 of a frame: its length field followed by everything after the CRC field.
///
/// The CRC field itself (bytes 4..8) is the only part of a frame it does not cover.
pub fn frame_crc(len_field: [u8; 4], rest: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len_field);
    h.update(rest);
    h.finalize()
}
