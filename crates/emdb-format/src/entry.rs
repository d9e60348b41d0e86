//! One logical operation: the unit a frame carries and the index points at.
//!
//! ## Format
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | namespace id |
//! | 4 | 4 | key length `k` (for `NsCreate`: name length) |
//! | 8 | 4 | value length `v` (0 unless `Put`) |
//! | 12 | 1 | operation ([`Op`]) |
//! | 13 | 3 | reserved, zero |
//! | 16 | 8 | expiry, unix ms (0 = never; only `Put` may set it) |
//! | 24 | 4 | CRC-32 of bytes 0..24, the key and the value |
//! | 28 | 4 | reserved, zero |
//! | 32 | k | key (or namespace name) |
//! | 32+k | v | value |
//! | .. | 0-7 | zero padding to a multiple of 8 |
//!
//! Invariants: every entry starts 8-byte aligned inside its frame, so an index slot can store
//! `offset / 8`; every entry carries its own CRC, so a read of one record (which does not see
//! its frame) still detects damage.

use alloc::vec::Vec;

use crate::bytes::{align8, array, slice, u32_at, u64_at};
use crate::error::DecodeError;
use crate::limits::{MAX_KEY_LEN, MAX_NAMESPACE_LEN, MAX_VALUE_LEN};

/// Length of the fixed entry header.
pub const ENTRY_HEADER_LEN: usize = 32;

/// What an entry does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Op {
    /// Set `key` to `value` in namespace `ns`, with an optional expiry.
    Put = 1,
    /// Remove `key` from namespace `ns`.
    Delete = 2,
    /// Create namespace `ns` named by the key bytes (UTF-8).
    NsCreate = 3,
    /// Drop namespace `ns` and all its records.
    NsDrop = 4,
    /// Remove every record of namespace `ns`.
    Clear = 5,
}

impl Op {
    /// Reads an operation byte.
    pub fn from_byte(b: u8) -> Result<Self, DecodeError> {
        Ok(match b {
            1 => Op::Put,
            2 => Op::Delete,
            3 => Op::NsCreate,
            4 => Op::NsDrop,
            5 => Op::Clear,
            other => return Err(DecodeError::InvalidOp(other)),
        })
    }
}

/// The fixed part of an entry, readable before its key and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryHeader {
    /// Operation.
    pub op: Op,
    /// Namespace id.
    pub ns: u32,
    /// Key (or name) length.
    pub key_len: u32,
    /// Value length.
    pub value_len: u32,
    /// Expiry in unix ms, 0 for none.
    pub expires_at: u64,
    /// CRC-32 of the first 24 header bytes, the key and the value.
    pub crc: u32,
}

impl EntryHeader {
    /// Decodes and validates the 24-byte header.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let head: [u8; ENTRY_HEADER_LEN] = array(buf, 0)?;
        let ns = u32_at(&head, 0)?;
        let key_len = u32_at(&head, 4)?;
        let value_len = u32_at(&head, 8)?;
        let [op, r0, r1, r2] = array::<4>(&head, 12)?;
        let op = Op::from_byte(op)?;
        if (r0, r1, r2) != (0, 0, 0) {
            return Err(DecodeError::NonZeroReserved);
        }
        let expires_at = u64_at(&head, 16)?;
        let crc = u32_at(&head, 24)?;
        if u32_at(&head, 28)? != 0 {
            return Err(DecodeError::NonZeroReserved);
        }
        let max_key = if op == Op::NsCreate {
            MAX_NAMESPACE_LEN
        } else {
            MAX_KEY_LEN
        };
        if key_len as usize > max_key || value_len as usize > MAX_VALUE_LEN {
            return Err(DecodeError::LengthOverflow);
        }
        let payload_free = matches!(op, Op::Delete | Op::NsCreate | Op::NsDrop | Op::Clear);
        if payload_free && (value_len != 0 || expires_at != 0) {
            return Err(DecodeError::LengthOverflow);
        }
        if matches!(op, Op::NsDrop | Op::Clear) && key_len != 0 {
            return Err(DecodeError::LengthOverflow);
        }
        Ok(EntryHeader {
            op,
            ns,
            key_len,
            value_len,
            expires_at,
            crc,
        })
    }

    /// Encoded length of the whole entry, padding included.
    pub fn encoded_len(&self) -> usize {
        padded_len(self.key_len as usize, self.value_len as usize)
    }
}

/// Header bytes the entry CRC covers (everything before the CRC field).
const CRC_COVERED_HEADER: usize = 24;

fn entry_crc(header: &[u8], key: &[u8], value: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(header);
    h.update(key);
    h.update(value);
    h.finalize()
}

fn padded_len(key_len: usize, value_len: usize) -> usize {
    let raw = ENTRY_HEADER_LEN
        .saturating_add(key_len)
        .saturating_add(value_len);
    align8(raw).unwrap_or(usize::MAX)
}

/// A decoded entry borrowing its key and value from the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// Operation.
    pub op: Op,
    /// Namespace id.
    pub ns: u32,
    /// Expiry in unix ms, 0 for none.
    pub expires_at: u64,
    /// Key, or the namespace name for `NsCreate`.
    pub key: &'a [u8],
    /// Value (empty unless `Put`).
    pub value: &'a [u8],
}

impl<'a> EntryRef<'a> {
    /// A `Put`.
    pub fn put(ns: u32, key: &'a [u8], value: &'a [u8], expires_at: u64) -> Self {
        EntryRef {
            op: Op::Put,
            ns,
            expires_at,
            key,
            value,
        }
    }

    /// A `Delete`.
    pub fn delete(ns: u32, key: &'a [u8]) -> Self {
        EntryRef {
            op: Op::Delete,
            ns,
            expires_at: 0,
            key,
            value: &[],
        }
    }

    /// An `NsCreate` naming namespace `ns`.
    pub fn ns_create(ns: u32, name: &'a [u8]) -> Self {
        EntryRef {
            op: Op::NsCreate,
            ns,
            expires_at: 0,
            key: name,
            value: &[],
        }
    }

    /// An `NsDrop`.
    pub fn ns_drop(ns: u32) -> Self {
        EntryRef {
            op: Op::NsDrop,
            ns,
            expires_at: 0,
            key: &[],
            value: &[],
        }
    }

    /// A `Clear`.
    pub fn clear(ns: u32) -> Self {
        EntryRef {
            op: Op::Clear,
            ns,
            expires_at: 0,
            key: &[],
            value: &[],
        }
    }

    /// Encoded length, padding included.
    pub fn encoded_len(&self) -> usize {
        padded_len(self.key.len(), self.value.len())
    }

    /// Appends the encoding. Lengths must already be within [`crate::limits`]; the engine
    /// checks them before building any frame.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&self.ns.to_le_bytes());
        out.extend_from_slice(&(self.key.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.value.len() as u32).to_le_bytes());
        out.extend_from_slice(&[self.op as u8, 0, 0, 0]);
        out.extend_from_slice(&self.expires_at.to_le_bytes());
        let crc = entry_crc(out.get(start..).unwrap_or_default(), self.key, self.value);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(self.key);
        out.extend_from_slice(self.value);
        let end = start.saturating_add(self.encoded_len());
        out.resize(end, 0);
    }

    /// Decodes an entry at the start of `buf`; returns it and the bytes it used (padding
    /// included). Padding must be zero and the entry CRC must match.
    pub fn decode(buf: &'a [u8]) -> Result<(Self, usize), DecodeError> {
        Self::decode_checked(buf, true)
    }

    /// Like [`EntryRef::decode`] with the structural checks of the header (lengths, op, reserved
    /// bytes, that the whole entry is present) but without the checks only damage can fail: the
    /// entry CRC and the zero padding after the value (reading the padding would touch the
    /// entry's last bytes on every read). For bytes whose integrity the caller has already
    /// established, such as an entry inside a frame whose CRC was verified, or bytes the caller
    /// wrote itself. Damaged bytes may decode to a wrong entry; they never panic.
    pub fn decode_trusted(buf: &'a [u8]) -> Result<(Self, usize), DecodeError> {
        Self::decode_checked(buf, false)
    }

    /// The `Put` entry at the start of `buf`, decoded for a point read: like
    /// [`EntryRef::decode_trusted`] (for bytes whose integrity the caller has established) but
    /// checking only that the entry is a `Put` and that its key and value lie inside `buf`, the
    /// two checks a read of a trusted record needs. Damaged bytes may decode to a wrong entry or
    /// an error; they never panic.
    pub fn decode_put_trusted(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let head: [u8; ENTRY_HEADER_LEN] = array(buf, 0)?;
        if head[12] != Op::Put as u8 {
            return Err(DecodeError::InvalidOp(head[12]));
        }
        let key = slice(buf, ENTRY_HEADER_LEN, u32_at(&head, 4)? as usize)?;
        let value_at = ENTRY_HEADER_LEN.saturating_add(key.len());
        Ok(EntryRef {
            op: Op::Put,
            ns: u32_at(&head, 0)?,
            expires_at: u64_at(&head, 16)?,
            key,
            value: slice(buf, value_at, u32_at(&head, 8)? as usize)?,
        })
    }

    fn decode_checked(buf: &'a [u8], verify_crc: bool) -> Result<(Self, usize), DecodeError> {
        let h = EntryHeader::decode(buf)?;
        let key = slice(buf, ENTRY_HEADER_LEN, h.key_len as usize)?;
        let value_at = ENTRY_HEADER_LEN.saturating_add(key.len());
        let value = slice(buf, value_at, h.value_len as usize)?;
        let raw_end = value_at.saturating_add(value.len());
        let used = h.encoded_len();
        let pad = slice(buf, raw_end, used.saturating_sub(raw_end))?;
        // The padding sits after the value; checking it would make every read touch the
        // entry's last cache line even when the caller never looks at the value.
        if verify_crc && pad.iter().any(|b| *b != 0) {
            return Err(DecodeError::NonZeroReserved);
        }
        if verify_crc {
            let actual = entry_crc(slice(buf, 0, CRC_COVERED_HEADER)?, key, value);
            if actual != h.crc {
                return Err(DecodeError::ChecksumMismatch {
                    expected: h.crc,
                    actual,
                });
            }
        }
        Ok((
            EntryRef {
                op: h.op,
                ns: h.ns,
                expires_at: h.expires_at,
                key,
                value,
            },
            used,
        ))
    }
}

#[cfg(test)]
mod tests;
