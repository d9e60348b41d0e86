//! The envelope of an encrypted entry: length, nonce, ciphertext with tag.
//!
//! ## Format
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | sealed length `s` (bytes that follow, before padding) |
//! | 4 | 12 | nonce |
//! | 16 | s-12 | ciphertext of the plain entry encoding, then a 16-byte tag |
//! | .. | 0-7 | zero padding to a multiple of 8 |
//!
//! The plaintext is a whole entry (see [`crate::entry`]), so namespace, key, value, operation
//! and expiry are all hidden; only the envelope length is visible.

use alloc::vec::Vec;

use crate::bytes::{align8, slice, u32_at};
use crate::error::DecodeError;
use crate::limits::MAX_FRAME_LEN;

/// Nonce length of every supported AEAD.
pub const NONCE_LEN: usize = 12;
/// Tag length of every supported AEAD.
pub const TAG_LEN: usize = 16;
/// Bytes before the sealed payload.
pub const ENVELOPE_HEADER_LEN: usize = 4;

/// A decoded envelope borrowing the sealed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedRef<'a> {
    /// Nonce, ciphertext and tag.
    pub sealed: &'a [u8],
}

impl<'a> SealedRef<'a> {
    /// The nonce.
    pub fn nonce(&self) -> &'a [u8] {
        self.sealed.get(..NONCE_LEN).unwrap_or_default()
    }

    /// Ciphertext followed by the tag.
    pub fn ciphertext_and_tag(&self) -> &'a [u8] {
        self.sealed.get(NONCE_LEN..).unwrap_or_default()
    }

    /// Decodes an envelope; returns it and the bytes used, padding included.
    pub fn decode(buf: &'a [u8]) -> Result<(Self, usize), DecodeError> {
        let len = u32_at(buf, 0)? as usize;
        if len < NONCE_LEN.saturating_add(TAG_LEN) || len > MAX_FRAME_LEN {
            return Err(DecodeError::LengthOverflow);
        }
        let sealed = slice(buf, ENVELOPE_HEADER_LEN, len)?;
        let raw_end = ENVELOPE_HEADER_LEN.saturating_add(len);
        let used = align8(raw_end).ok_or(DecodeError::LengthOverflow)?;
        let pad = slice(buf, raw_end, used.saturating_sub(raw_end))?;
        if pad.iter().any(|b| *b != 0) {
            return Err(DecodeError::NonZeroReserved);
        }
        Ok((SealedRef { sealed }, used))
    }

    /// Bytes an envelope takes, padding included, for a plaintext of `plain_len` bytes sealed
    /// with any supported AEAD (`None` past `usize`).
    pub fn encoded_len(plain_len: usize) -> Option<usize> {
        align8(
            ENVELOPE_HEADER_LEN
                .checked_add(NONCE_LEN)?
                .checked_add(plain_len)?
                .checked_add(TAG_LEN)?,
        )
    }

    /// Appends an envelope whose sealed bytes are produced by `seal`, which appends nonce,
    /// ciphertext and tag to the vector it is given.
    pub fn encode_with<E>(
        out: &mut Vec<u8>,
        seal: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let start = out.len();
        out.extend_from_slice(&[0; ENVELOPE_HEADER_LEN]);
        seal(out)?;
        let sealed_len = out
            .len()
            .saturating_sub(start)
            .saturating_sub(ENVELOPE_HEADER_LEN);
        if let Some(d) = out.get_mut(start..start.saturating_add(ENVELOPE_HEADER_LEN)) {
            d.copy_from_slice(&(sealed_len as u32).to_le_bytes());
        }
        let end = align8(out.len()).unwrap_or(out.len());
        out.resize(end, 0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn envelope_round_trips_and_pads() {
        let mut out = vec![];
        SealedRef::encode_with::<()>(&mut out, |o| {
            o.extend_from_slice(&[5u8; 31]);
            Ok(())
        })
        .unwrap();
        assert_eq!(out.len() % 8, 0);
        let (s, used) = SealedRef::decode(&out).unwrap();
        assert_eq!(used, out.len());
        assert_eq!(s.sealed, &[5u8; 31][..]);
        assert_eq!(s.nonce().len(), NONCE_LEN);
        assert_eq!(s.ciphertext_and_tag().len(), 31 - NONCE_LEN);
    }

    #[test]
    fn too_short_envelope_is_rejected() {
        let mut out = vec![];
        SealedRef::encode_with::<()>(&mut out, |o| {
            o.extend_from_slice(&[1u8; 8]);
            Ok(())
        })
        .unwrap();
        assert_eq!(SealedRef::decode(&out), Err(DecodeError::LengthOverflow));
    }
}
