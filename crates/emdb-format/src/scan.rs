//! Walking the frames of a file image, and deciding why a walk stopped.
//!
//! The log ends at the first position whose length field is zero (preallocated space is
//! zero-filled) or at the end of the image. A frame that fails to decode is either a torn tail
//! (a crash interrupted writes that were never acknowledged) or corruption (bytes that were once
//! durable changed). [`classify_stop`] decides using the lag field of the valid frames found
//! after the bad spot: a frame written when the synced end of the log was already past the bad
//! spot proves the bad bytes were once durable, so they are corruption. Frames written while the
//! bad spot was still unsynced are what an interrupted, reordered write-back leaves, so the tail
//! is torn.

use crate::error::DecodeError;
use crate::frame::{FRAME_ALIGN, Frame, MIN_FRAME_LEN};
use crate::header::HEADER_REGION_LEN;

/// First offset of the log in a file image.
pub const LOG_START: u64 = HEADER_REGION_LEN as u64;

/// A frame found by the scanner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScannedFrame<'a> {
    /// Absolute offset in the image.
    pub offset: u64,
    /// The decoded frame.
    pub frame: Frame<'a>,
}

/// Why a walk stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// A zero length field or the end of the image, with nothing durable after it.
    EndOfLog,
    /// An undecodable frame that no durable frame follows: a torn write, safe to truncate.
    TornTail {
        /// Why the frame did not decode (`None` for non-zero bytes behind a zero length field).
        error: Option<DecodeError>,
    },
    /// Bytes that were once durable no longer decode.
    Corrupt {
        /// Why the frame did not decode (`None` when a zeroed region hides durable frames).
        error: Option<DecodeError>,
        /// Offset of a later frame whose lag proves the bad bytes were durable.
        evidence: u64,
    },
    /// A checksummed frame of a kind or with flags this build does not know.
    Unsupported {
        /// The decode error naming the kind and flags.
        error: DecodeError,
    },
}

/// Where and why a walk stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop {
    /// Absolute offset of the first byte not part of the valid log.
    pub offset: u64,
    /// Why.
    pub reason: StopReason,
}

/// Iterator over the valid frames of an image from a start offset; call [`Scanner::stop`] once
/// it returns `None`.
#[derive(Debug, Clone)]
pub struct Scanner<'a> {
    image: &'a [u8],
    pos: usize,
    stop: Option<Stop>,
}

impl<'a> Scanner<'a> {
    /// Scans `image` (a whole file) from `start`, which must be a frame boundary.
    pub fn new(image: &'a [u8], start: u64) -> Self {
        Scanner {
            image,
            pos: usize::try_from(start).unwrap_or(usize::MAX),
            stop: None,
        }
    }

    /// Offset of the next frame to decode (the end of the valid log once stopped).
    pub fn position(&self) -> u64 {
        self.pos as u64
    }

    /// Where and why the walk stopped; `None` while frames remain.
    pub fn stop(&self) -> Option<Stop> {
        self.stop
    }

    fn halt(&mut self, reason: StopReason) -> Option<ScannedFrame<'a>> {
        self.stop = Some(Stop {
            offset: self.pos as u64,
            reason,
        });
        None
    }
}

impl<'a> Iterator for Scanner<'a> {
    type Item = ScannedFrame<'a>;

    fn next(&mut self) -> Option<ScannedFrame<'a>> {
        if self.stop.is_some() {
            return None;
        }
        let Some(rest) = self.image.get(self.pos..).filter(|r| !r.is_empty()) else {
            return self.halt(StopReason::EndOfLog);
        };
        if matches!(Frame::peek_len(rest), Ok(0)) {
            let reason = classify_stop(self.image, self.pos as u64, None);
            return self.halt(reason);
        }
        match Frame::decode(rest) {
            Ok(frame) => {
                let offset = self.pos as u64;
                self.pos = self.pos.saturating_add(frame.len());
                Some(ScannedFrame { offset, frame })
            }
            Err(e @ DecodeError::UnsupportedFrame { .. }) => {
                self.halt(StopReason::Unsupported { error: e })
            }
            Err(e) => {
                let reason = classify_stop(self.image, self.pos as u64, Some(e));
                self.halt(reason)
            }
        }
    }
}

/// Decides whether the log is torn or corrupt at `bad` (a position where no valid frame starts).
///
/// Looks at every valid frame after `bad`; if one was written when the synced end already
/// exceeded `bad`, the bytes at `bad` were durable and are now corrupt. With no such frame, the
/// tail from `bad` on is torn (or, if it is all zero, simply the end of the log).
pub fn classify_stop(image: &[u8], bad: u64, error: Option<DecodeError>) -> StopReason {
    let mut pos = bad.saturating_add(FRAME_ALIGN as u64);
    let mut all_zero = image
        .get(usize::try_from(bad).unwrap_or(usize::MAX)..)
        .is_none_or(|r| r.iter().take(FRAME_ALIGN).all(|b| *b == 0));
    while let Some(rest) = image.get(usize::try_from(pos).unwrap_or(usize::MAX)..) {
        if rest.len() < MIN_FRAME_LEN {
            all_zero &= rest.iter().all(|b| *b == 0);
            break;
        }
        let len = Frame::peek_len(rest).unwrap_or(0) as usize;
        if len == 0 {
            all_zero &= rest
                .get(..FRAME_ALIGN)
                .is_some_and(|w| w.iter().all(|b| *b == 0));
            pos = pos.saturating_add(FRAME_ALIGN as u64);
            continue;
        }
        all_zero = false;
        match Frame::decode(rest) {
            Ok(frame) => {
                let synced_end =
                    pos.saturating_sub(u64::from(frame.lag).saturating_mul(FRAME_ALIGN as u64));
                if synced_end > bad {
                    return StopReason::Corrupt {
                        error,
                        evidence: pos,
                    };
                }
                pos = pos.saturating_add(frame.len() as u64);
            }
            Err(_) => pos = pos.saturating_add(FRAME_ALIGN as u64),
        }
    }
    if all_zero && error.is_none() {
        StopReason::EndOfLog
    } else {
        StopReason::TornTail { error }
    }
}

/// The first offset at or after `from` (rounded up to the frame alignment) where a valid frame
/// starts, for salvaging records past a corrupt spot.
pub fn next_valid_frame(image: &[u8], from: u64) -> Option<u64> {
    let align = FRAME_ALIGN as u64;
    let mut pos = from.checked_next_multiple_of(align)?;
    while let Some(rest) = image.get(usize::try_from(pos).ok()?..) {
        if rest.len() < MIN_FRAME_LEN {
            return None;
        }
        if Frame::peek_len(rest).is_ok_and(|l| l != 0) && Frame::decode(rest).is_ok() {
            return Some(pos);
        }
        pos = pos.checked_add(align)?;
    }
    None
}

/// Summary of a full walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanSummary {
    /// Valid frames walked.
    pub frames: u64,
    /// Where and why the walk stopped.
    pub stop: Stop,
}

/// Walks every frame of `image` from the start of the log.
pub fn scan(image: &[u8]) -> ScanSummary {
    let mut s = Scanner::new(image, LOG_START);
    let mut frames = 0u64;
    for _ in s.by_ref() {
        frames = frames.saturating_add(1);
    }
    let stop = s.stop().unwrap_or(Stop {
        offset: s.position(),
        reason: StopReason::EndOfLog,
    });
    ScanSummary { frames, stop }
}

#[cfg(test)]
mod tests;
