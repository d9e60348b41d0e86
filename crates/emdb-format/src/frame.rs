//! Frames: the checksummed, 8-byte aligned units appended to the log.
//!
//! ## Format
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | frame length `n` (multiple of 8, at least 24, padding included) |
//! | 4 | 4 | CRC-32 of bytes `[0, 4)` and `[8, n)` |
//! | 8 | 1 | kind ([`FrameKind`]) |
//! | 9 | 1 | flags ([`FrameFlags`]) |
//! | 10 | 2 | reserved, zero |
//! | 12 | 4 | lag: (frame offset - synced end when written) / 8, saturating |
//! | 16 | .. | body |
//!
//! The body of `Put`, `Delete`, `NsCreate`, `NsDrop` and `Clear` is exactly one item; the body of
//! `Batch` is `count: u32`, 4 reserved bytes, then `count` items. An item is an entry (see
//! [`crate::entry`]) or, when the `SEALED` flag is set, a sealed envelope (see
//! [`crate::sealed`]). A zero length field marks the end of the log (preallocated space is
//! zero-filled).
//!
//! Invariant: a batch is one frame, so its CRC makes it all-or-nothing.

use alloc::vec::Vec;

use crate::bytes::{array, slice, u32_at};
use crate::checksum::frame_crc;
use crate::entry::{EntryRef, Op};
use crate::error::{DecodeError, LimitError};
use crate::limits::{MAX_FRAME_LEN, check_frame};
use crate::sealed::SealedRef;

mod stream;
pub use stream::{Fill, FrameStream, SealFailure};

/// Length of the frame header.
pub const FRAME_HEADER_LEN: usize = 16;
/// Alignment of every frame's offset and length.
pub const FRAME_ALIGN: usize = 8;
/// Smallest possible frame: header plus the smallest item.
pub const MIN_FRAME_LEN: usize = FRAME_HEADER_LEN + 8;
const BATCH_PREFIX_LEN: usize = 8;

/// What a frame holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FrameKind {
    /// One `Put` entry.
    Put = 1,
    /// One `Delete` entry.
    Delete = 2,
    /// One `NsCreate` entry.
    NsCreate = 3,
    /// One `NsDrop` entry.
    NsDrop = 4,
    /// One `Clear` entry.
    Clear = 5,
    /// Any number of entries, applied all-or-nothing.
    Batch = 6,
}

impl FrameKind {
    fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            1 => FrameKind::Put,
            2 => FrameKind::Delete,
            3 => FrameKind::NsCreate,
            4 => FrameKind::NsDrop,
            5 => FrameKind::Clear,
            6 => FrameKind::Batch,
            _ => return None,
        })
    }

    /// The single-entry kind carrying `op`.
    pub fn for_op(op: Op) -> Self {
        match op {
            Op::Put => FrameKind::Put,
            Op::Delete => FrameKind::Delete,
            Op::NsCreate => FrameKind::NsCreate,
            Op::NsDrop => FrameKind::NsDrop,
            Op::Clear => FrameKind::Clear,
        }
    }

    /// The kind of a frame holding `entries`: the single-entry kind for one, `Batch` otherwise.
    pub fn for_entries(entries: &[EntryRef<'_>]) -> Self {
        match entries {
            [one] => FrameKind::for_op(one.op),
            _ => FrameKind::Batch,
        }
    }

    fn single_op(self) -> Option<Op> {
        match self {
            FrameKind::Put => Some(Op::Put),
            FrameKind::Delete => Some(Op::Delete),
            FrameKind::NsCreate => Some(Op::NsCreate),
            FrameKind::NsDrop => Some(Op::NsDrop),
            FrameKind::Clear => Some(Op::Clear),
            FrameKind::Batch => None,
        }
    }
}

/// Frame flag bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameFlags(pub u8);

impl FrameFlags {
    /// Items are sealed envelopes.
    pub const SEALED: FrameFlags = FrameFlags(1);
    /// Every bit this build understands.
    pub const KNOWN: u8 = 1;

    /// `true` when items are sealed.
    pub fn is_sealed(self) -> bool {
        self.0 & Self::SEALED.0 != 0
    }
}

/// One item of a frame body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameItem<'a> {
    /// A plaintext entry.
    Entry(EntryRef<'a>),
    /// A sealed envelope; open it to get the entry.
    Sealed(SealedRef<'a>),
}

/// A decoded, checksum-verified frame borrowing its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Kind.
    pub kind: FrameKind,
    /// Flags.
    pub flags: FrameFlags,
    /// Lag field (see the module docs).
    pub lag: u32,
    /// The whole frame, padding included.
    pub bytes: &'a [u8],
    count: u32,
}

impl<'a> Frame<'a> {
    /// Total length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always `false`: a frame has a header. Present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Number of items.
    pub fn item_count(&self) -> u32 {
        self.count
    }

    /// Reads the length field at the start of `buf` without validating anything else.
    pub fn peek_len(buf: &[u8]) -> Result<u32, DecodeError> {
        u32_at(buf, 0)
    }

    /// Decodes and fully validates the frame at the start of `buf` (which may continue past it).
    ///
    /// Order of checks: length field sanity, presence of all bytes (`Incomplete`), CRC, kind and
    /// flags (`UnsupportedFrame`), then the body structure.
    pub fn decode(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let len = u32_at(buf, 0)? as usize;
        if len < MIN_FRAME_LEN || !len.is_multiple_of(FRAME_ALIGN) || len > MAX_FRAME_LEN {
            return Err(DecodeError::LengthOverflow);
        }
        let bytes = slice(buf, 0, len)?;
        let stored = u32_at(bytes, 4)?;
        let len_field: [u8; 4] = array(bytes, 0)?;
        let actual = frame_crc(len_field, bytes.get(8..).unwrap_or_default());
        if stored != actual {
            return Err(DecodeError::ChecksumMismatch {
                expected: stored,
                actual,
            });
        }
        let [kind_b, flags_b, r0, r1] = array::<4>(bytes, 8)?;
        let kind = FrameKind::from_byte(kind_b);
        let kind = match kind {
            Some(k) if flags_b & !FrameFlags::KNOWN == 0 => k,
            _ => {
                return Err(DecodeError::UnsupportedFrame {
                    kind: kind_b,
                    flags: flags_b,
                });
            }
        };
        if (r0, r1) != (0, 0) {
            return Err(DecodeError::NonZeroReserved);
        }
        let lag = u32_at(bytes, 12)?;
        let count = if kind == FrameKind::Batch {
            u32_at(bytes, FRAME_HEADER_LEN)?
        } else {
            1
        };
        let frame = Frame {
            kind,
            flags: FrameFlags(flags_b),
            lag,
            bytes,
            count,
        };
        frame.validate_body()?;
        Ok(frame)
    }

    fn body_start(&self) -> usize {
        if self.kind == FrameKind::Batch {
            FRAME_HEADER_LEN + BATCH_PREFIX_LEN
        } else {
            FRAME_HEADER_LEN
        }
    }

    fn validate_body(&self) -> Result<(), DecodeError> {
        if self.kind == FrameKind::Batch && u32_at(self.bytes, FRAME_HEADER_LEN + 4)? != 0 {
            return Err(DecodeError::NonZeroReserved);
        }
        let mut end = self.body_start();
        for item in self.items() {
            let (off, item, used) = item?;
            if let (FrameItem::Entry(e), Some(op)) = (item, self.kind.single_op())
                && e.op != op
            {
                return Err(DecodeError::InvalidOp(e.op as u8));
            }
            end = off.saturating_add(used);
        }
        // Items must fill the body exactly.
        if end != self.bytes.len() {
            return Err(DecodeError::LengthOverflow);
        }
        Ok(())
    }

    /// Iterates the items: each is `(offset within the frame, item, bytes used)`.
    pub fn items(&self) -> Items<'a> {
        Items {
            bytes: self.bytes,
            pos: self.body_start(),
            remaining: self.count,
            sealed: self.flags.is_sealed(),
        }
    }
}

/// Iterator over a frame's items; see [`Frame::items`].
#[derive(Debug, Clone)]
pub struct Items<'a> {
    bytes: &'a [u8],
    pos: usize,
    remaining: u32,
    sealed: bool,
}

impl<'a> Iterator for Items<'a> {
    type Item = Result<(usize, FrameItem<'a>, usize), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining = self.remaining.saturating_sub(1);
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        let decoded = if self.sealed {
            SealedRef::decode(rest).map(|(s, used)| (FrameItem::Sealed(s), used))
        } else {
            EntryRef::decode(rest).map(|(e, used)| (FrameItem::Entry(e), used))
        };
        match decoded {
            Ok((item, used)) => {
                let at = self.pos;
                self.pos = self.pos.saturating_add(used);
                Some(Ok((at, item, used)))
            }
            Err(e) => {
                self.remaining = 0;
                // Inside a checksummed frame a short item is a bad length, not a torn write.
                Some(Err(if e.is_incomplete() {
                    DecodeError::LengthOverflow
                } else {
                    e
                }))
            }
        }
    }
}

/// Builds one frame at the end of a vector.
///
/// Usage: [`FrameBuilder::new`], one or more `push_*` calls (exactly one unless the kind is
/// `Batch`), then [`FrameBuilder::finish`] with the lag.
#[derive(Debug)]
pub struct FrameBuilder<'v> {
    out: &'v mut Vec<u8>,
    start: usize,
    kind: FrameKind,
    count: u32,
}

impl<'v> FrameBuilder<'v> {
    /// Starts a frame at `out.len()`; `out.len()` must be a multiple of 8 relative to where the
    /// caller will write the vector.
    pub fn new(out: &'v mut Vec<u8>, kind: FrameKind, flags: FrameFlags) -> Self {
        let start = out.len();
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&[kind as u8, flags.0, 0, 0]);
        out.extend_from_slice(&[0; 4]);
        if kind == FrameKind::Batch {
            out.extend_from_slice(&[0; BATCH_PREFIX_LEN]);
        }
        FrameBuilder {
            out,
            start,
            kind,
            count: 0,
        }
    }

    /// Offset of the next item relative to the frame start.
    pub fn next_item_offset(&self) -> usize {
        self.out.len().saturating_sub(self.start)
    }

    /// Appends a plaintext entry.
    pub fn push_entry(&mut self, entry: &EntryRef<'_>) {
        entry.encode_into(self.out);
        self.count = self.count.saturating_add(1);
    }

    /// Appends a sealed envelope holding `plain` as `seal` seals it. `seal` must append nonce,
    /// ciphertext and tag ([`NONCE_LEN`](crate::sealed::NONCE_LEN) + plaintext +
    /// [`TAG_LEN`](crate::sealed::TAG_LEN) bytes), the contract a streamed frame's seals keep
    /// too; a seal of another length fails like a failed seal.
    pub fn push_sealed<E>(
        &mut self,
        plain: &[u8],
        seal: impl FnOnce(&[u8], &mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), SealFailure<E>> {
        let offset = self.next_item_offset();
        stream::seal_item(self.out, offset, plain, seal)?;
        self.count = self.count.saturating_add(1);
        Ok(())
    }

    /// Number of items pushed so far.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Patches length, count, lag and CRC; returns the frame length.
    ///
    /// On error (frame over [`MAX_FRAME_LEN`]) the vector is truncated back to where the frame
    /// started.
    pub fn finish(self, lag: u32) -> Result<usize, LimitError> {
        let len = self.out.len().saturating_sub(self.start);
        if let Err(e) = check_frame(len) {
            self.out.truncate(self.start);
            return Err(e);
        }
        let frame = self.out.get_mut(self.start..).unwrap_or_default();
        write_at(frame, 0, &(len as u32).to_le_bytes());
        write_at(frame, 12, &lag.to_le_bytes());
        if self.kind == FrameKind::Batch {
            write_at(frame, FRAME_HEADER_LEN, &self.count.to_le_bytes());
        }
        let len_field: [u8; 4] = (len as u32).to_le_bytes();
        let crc = frame_crc(len_field, frame.get(8..).unwrap_or_default());
        write_at(frame, 4, &crc.to_le_bytes());
        Ok(len)
    }
}

/// Overwrites the lag field and CRC of an encoded frame in place (the engine fixes the lag once
/// it knows the frame's final offset).
pub fn set_lag(frame: &mut [u8], lag: u32) {
    write_at(frame, 12, &lag.to_le_bytes());
    let len_field: [u8; 4] = array(frame, 0).unwrap_or_default();
    let crc = frame_crc(len_field, frame.get(8..).unwrap_or_default());
    write_at(frame, 4, &crc.to_le_bytes());
}

/// The lag value for a frame written at `offset` while the synced end of the log was
/// `synced_end`.
pub fn lag_for(offset: u64, synced_end: u64) -> u32 {
    let behind = offset.saturating_sub(synced_end) >> 3;
    u32::try_from(behind).unwrap_or(u32::MAX)
}

fn write_at(dst: &mut [u8], at: usize, src: &[u8]) {
    if let Some(d) = at
        .checked_add(src.len())
        .and_then(|end| dst.get_mut(at..end))
    {
        d.copy_from_slice(src);
    }
}

#[cfg(test)]
mod tests;
