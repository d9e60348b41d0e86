//! Bounds-checked little-endian readers over byte slices; every failure is `Incomplete`.

use crate::error::DecodeError;

/// Reads `N` bytes at `at`, or reports how many bytes the buffer would need.
pub(crate) fn array<const N: usize>(buf: &[u8], at: usize) -> Result<[u8; N], DecodeError> {
    let end = at.checked_add(N).ok_or(DecodeError::LengthOverflow)?;
    match buf.get(at..end) {
        Some(s) => {
            let mut out = [0u8; N];
            out.copy_from_slice(s);
            Ok(out)
        }
        None => Err(DecodeError::Incomplete { needed: end as u64 }),
    }
}

pub(crate) fn u16_at(buf: &[u8], at: usize) -> Result<u16, DecodeError> {
    array::<2>(buf, at).map(u16::from_le_bytes)
}

pub(crate) fn u32_at(buf: &[u8], at: usize) -> Result<u32, DecodeError> {
    array::<4>(buf, at).map(u32::from_le_bytes)
}

pub(crate) fn u64_at(buf: &[u8], at: usize) -> Result<u64, DecodeError> {
    array::<8>(buf, at).map(u64::from_le_bytes)
}

/// The sub-slice `[at, at + len)`, or `Incomplete` naming the end it would need.
pub(crate) fn slice(buf: &[u8], at: usize, len: usize) -> Result<&[u8], DecodeError> {
    let end = at.checked_add(len).ok_or(DecodeError::LengthOverflow)?;
    buf.get(at..end)
        .ok_or(DecodeError::Incomplete { needed: end as u64 })
}

/// Rounds `n` up to a multiple of 8, or `None` on overflow.
pub(crate) fn align8(n: usize) -> Option<usize> {
    n.checked_add(7).map(|v| v & !7)
}
