//! `EngineError`: every way an engine operation can fail, with position context.

use std::io;
use std::path::PathBuf;

use emdb_format::{DecodeError, LimitError};

/// Result alias of the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// An engine failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// An operating-system call failed; `op` names what the engine was doing.
    #[error("i/o error while {op}: {source}")]
    Io {
        /// What the engine was doing.
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The file header is not a valid emdb header (foreign file, newer version, unknown flags).
    #[error("invalid file header: {0}")]
    Header(#[source] DecodeError),
    /// Durable bytes of the log no longer decode. `offset` is the absolute file offset.
    #[error("log corrupted at offset {offset}: {reason}")]
    Corrupted {
        /// Absolute offset of the first bad byte.
        offset: u64,
        /// What is wrong there.
        reason: Corruption,
    },
    /// A checksummed frame of a kind or with flags this build does not know (newer writer).
    #[error("unsupported frame at offset {offset}: {source}")]
    UnsupportedFrame {
        /// Absolute offset of the frame.
        offset: u64,
        /// Kind and flags found.
        #[source]
        source: DecodeError,
    },
    /// A key, value, name or batch over its limit; nothing was written.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// Another handle, in this or another process, holds the database lock.
    #[error("database is locked by another handle: {}", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// An earlier write or fsync failed; reopen the database to continue.
    #[error("a previous write or fsync failed; the database refuses writes until it is reopened")]
    Poisoned,
    /// The namespace id is not (or no longer) defined.
    #[error("namespace {0} does not exist")]
    NamespaceMissing(u32),
    /// Range operations need the ordered index.
    #[error("range scans are not enabled for this database")]
    RangeIndexDisabled,
    /// The file is encrypted but no sealer was given, or the reverse.
    #[error("{}", if *file_encrypted { "the file is encrypted but no key was given" } else { "a key was given but the file is not encrypted" })]
    SealerMismatch {
        /// Whether the file on disk is encrypted.
        file_encrypted: bool,
    },
    /// The sealer refused the header's key check: wrong key or passphrase.
    #[error("the key does not match this file")]
    KeyMismatch,
    /// A sealed entry failed authentication.
    #[error("sealed record at offset {offset} failed authentication")]
    Unseal {
        /// Absolute offset of the envelope.
        offset: u64,
    },
    /// The sealer failed to seal an entry being written (or returned other than nonce,
    /// ciphertext and tag).
    #[error("sealing the record for offset {offset} failed")]
    Seal {
        /// Absolute offset the envelope was to have.
        offset: u64,
    },
    /// The file would grow past the largest addressable offset.
    #[error("database file would exceed the maximum size of {max} bytes")]
    FileTooLarge {
        /// Maximum file length.
        max: u64,
    },
    /// An argument or configuration the engine cannot use.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
}

/// What exactly is wrong at a corrupted offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Corruption {
    /// The frame bytes do not decode.
    #[error("{0}")]
    Frame(DecodeError),
    /// A region of zeros hides frames that were already durable.
    #[error("zeroed region before durable frames")]
    Zeroed,
    /// A frame refers to a namespace that was never created or already dropped.
    #[error("record for unknown namespace {0}")]
    UnknownNamespace(u32),
    /// A namespace is created twice or its name is not UTF-8.
    #[error("invalid namespace definition")]
    BadNamespace,
    /// A sealed frame appears in a plaintext file, or a plain frame in an encrypted one.
    #[error("frame encryption does not match the file")]
    SealMismatch,
    /// An index slot of this namespace points at a record that is not one of its puts (only an
    /// index snapshot altered behind a valid checksum can do that).
    #[error("index of namespace {0} points at another record")]
    Misindexed(u32),
}

impl EngineError {
    pub(crate) fn io(op: &'static str) -> impl FnOnce(io::Error) -> EngineError {
        move |source| EngineError::Io { op, source }
    }
}
