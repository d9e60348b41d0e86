//! Frames encoded piece by piece while they are written, for frames too large to build whole in
//! memory first (a bulk load's transaction runs to hundreds of MiB).
//!
//! The bytes are exactly those [`FrameBuilder`] produces for the same entries (for a sealed
//! frame: for the same sealed bytes). The frame length follows from the entries' encoded
//! lengths, and a sealed item's length from its plaintext's (every supported AEAD adds a
//! [`NONCE_LEN`]-byte nonce and a [`TAG_LEN`]-byte tag), so it is known before any byte is
//! produced; the CRC accumulates over the body as it is produced. The header, which holds both,
//! comes last: a writer that puts it on disk after the body leaves a frame interrupted part-way
//! with a zero length field, which reads as the end of the log (a torn tail), never as a frame.
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
                seal_item(out, offset, &self.plain, |p, o| seal(offset, p, o))?;
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

/// Appends the envelope of `plain` sealed by `seal` (the item at frame-relative `offset`),
/// checking the sealed length: a streamed frame's length was computed from it, and a built
/// frame keeps the same contract. On failure `out` is left as it was.
pub(super) fn seal_item<E>(
    out: &mut Vec<u8>,
    offset: usize,
    plain: &[u8],
    seal: impl FnOnce(&[u8], &mut Vec<u8>) -> Result<(), E>,
) -> Result<(), SealFailure<E>> {
    let start = out.len();
    let mut got = 0;
    let sealed = SealedRef::encode_with(out, |o| {
        let before = o.len();
        let sealed = seal(plain, o);
        got = o.len().saturating_sub(before);
        sealed
    });
    let expected = NONCE_LEN
        .saturating_add(plain.len())
        .saturating_add(TAG_LEN);
    let failure = match sealed {
        Err(error) => SealFailure::Seal { offset, error },
        Ok(()) if got == expected => return Ok(()),
        Ok(()) => SealFailure::Length {
            offset,
            expected,
            got,
        },
    };
    out.truncate(start);
    Err(failure)
}

/// Header bytes 8..16: kind, flags, reserved, lag.
fn header_tail(kind: FrameKind, flags: FrameFlags, lag: u32) -> [u8; 8] {
    let [l0, l1, l2, l3] = lag.to_le_bytes();
    [kind as u8, flags.0, 0, 0, l0, l1, l2, l3]
}

#[cfg(test)]
mod tests;
