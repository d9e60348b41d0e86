//! Errors of the byte layer: why a decode failed, and which limit a value exceeds.

/// Why bytes could not be decoded.
///
/// [`DecodeError::Incomplete`] means the bytes end too early (a torn tail when it happens at the
/// end of a log); every other variant means the bytes are wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The buffer ends before the structure does; `needed` is the length it would need.
    #[error("incomplete: {needed} bytes needed")]
    Incomplete {
        /// Buffer length (from the start of the structure) needed to decode it.
        needed: u64,
    },
    /// The magic bytes are wrong: this is not an emdb file, or it was damaged in transfer.
    #[error("bad magic: not an emdb file")]
    BadMagic,
    /// The file was written with another format version.
    #[error("unsupported format version {found} (this build reads version {expected})")]
    UnsupportedVersion {
        /// Version this build reads.
        expected: u16,
        /// Version found in the file.
        found: u16,
    },
    /// The header carries feature flags this build does not know.
    #[error("unsupported header flags {flags:#x} (written by a newer emdb?)")]
    UnsupportedFlags {
        /// The unknown flag bits.
        flags: u32,
    },
    /// A stored CRC-32 does not match the bytes.
    #[error("checksum mismatch: stored {expected:#010x}, computed {actual:#010x}")]
    ChecksumMismatch {
        /// Checksum stored in the bytes.
        expected: u32,
        /// Checksum computed over the bytes.
        actual: u32,
    },
    /// A checksummed frame has a kind or flag bits this build does not know.
    #[error(
        "unsupported frame kind {kind:#04x} with flags {flags:#04x} (written by a newer emdb?)"
    )]
    UnsupportedFrame {
        /// The frame kind byte.
        kind: u8,
        /// The frame flag byte.
        flags: u8,
    },
    /// An entry carries an operation code that is unknown or not allowed where it appears.
    #[error("invalid entry operation {0:#04x}")]
    InvalidOp(u8),
    /// A length field is impossible: too small, misaligned, over a limit or inconsistent.
    #[error("invalid length field")]
    LengthOverflow,
    /// A field that must be zero (reserved or padding) is not.
    #[error("non-zero reserved bytes")]
    NonZeroReserved,
}

impl DecodeError {
    /// `true` when the bytes merely end too early (what a torn write leaves).
    pub fn is_incomplete(&self) -> bool {
        matches!(self, DecodeError::Incomplete { .. })
    }
}

/// A key, value, name or batch over its documented maximum length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// The key is longer than [`crate::limits::MAX_KEY_LEN`].
    #[error("key is {len} bytes; the maximum is {max}")]
    KeyTooLong {
        /// Length given.
        len: u64,
        /// Maximum allowed.
        max: u64,
    },
    /// The value is longer than [`crate::limits::MAX_VALUE_LEN`].
    #[error("value is {len} bytes; the maximum is {max}")]
    ValueTooLong {
        /// Length given.
        len: u64,
        /// Maximum allowed.
        max: u64,
    },
    /// The namespace name is longer than [`crate::limits::MAX_NAMESPACE_LEN`].
    #[error("namespace name is {len} bytes; the maximum is {max}")]
    NamespaceTooLong {
        /// Length given.
        len: u64,
        /// Maximum allowed.
        max: u64,
    },
    /// The encoded frame would exceed [`crate::limits::MAX_FRAME_LEN`].
    #[error("batch encodes to {len} bytes; the maximum frame is {max}")]
    FrameTooLong {
        /// Encoded length.
        len: u64,
        /// Maximum allowed.
        max: u64,
    },
}
