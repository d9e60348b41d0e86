//! Byte layout of an emdb database file: header, frames, entries, sealed envelopes, limits.
//!
//! Layer: this is the pure byte layer of emdb (see `docs/format.md`). It never touches files,
//! threads, clocks or cryptography, so tooling can read a database image with this crate alone:
//! [`FileHeader::decode_region`] reads the header, [`scan::Scanner`] walks every frame and
//! [`scan::classify_stop`] tells a torn tail from mid-log corruption.
//!
//! All integers are little-endian and fixed width. Decoding never panics on any input.
#![no_std]
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

extern crate alloc;

mod bytes;
pub mod checksum;
pub mod entry;
pub mod error;
pub mod frame;
pub mod header;
pub mod limits;
pub mod scan;
pub mod sealed;

pub use entry::{ENTRY_HEADER_LEN, EntryRef, Op};
pub use error::{DecodeError, LimitError};
pub use frame::{
    FRAME_ALIGN, FRAME_HEADER_LEN, Fill, Frame, FrameBuilder, FrameFlags, FrameItem, FrameKind,
    FrameStream,
};
pub use header::{CipherId, FileHeader, HEADER_REGION_LEN, KdfParams};

/// The 8-byte magic at the start of both header slots.
///
/// Like PNG's: the non-ASCII first byte catches 7-bit transfers, `\r\n` catches newline
/// translation and `\x1a` stops `type` on DOS-like systems.
pub const MAGIC: [u8; 8] = *b"\x89EMDB\r\n\x1a";

/// On-disk format version written by this crate.
///
/// Compatibility rule: a reader opens files whose version equals its own. A file with a higher
/// version was written by a newer emdb and is refused with
/// [`DecodeError::UnsupportedVersion`]; a lower version is refused the same way until a
/// migration exists. Any change to a byte layout in this crate bumps this number, and the golden
/// fixtures in `tests/fixtures/v1/` pin the current layout.
pub const FORMAT_VERSION: u16 = 1;
