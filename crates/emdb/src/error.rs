//! The public error type. Every message starts with `emdb: `.

use std::fmt;
use std::io;
use std::path::PathBuf;

use emdb_engine::format::DecodeError;
use emdb_engine::format::header::KNOWN_FLAGS;
use emdb_engine::{Corruption, EngineError};

/// `Result` with [`Error`] as the error type.
///
/// ```
/// fn load(db: &emdb::Emdb) -> emdb::Result<Option<Vec<u8>>> {
///     db.get("k")
/// }
/// assert_eq!(load(&emdb::Emdb::open_in_memory())?, None);
/// # Ok::<(), emdb::Error>(())
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in emdb.
///
/// ```
/// let err = emdb::Emdb::builder().app_name("a/b").build().unwrap_err();
/// assert!(matches!(err, emdb::Error::InvalidConfig(_)));
/// assert!(err.to_string().starts_with("emdb: "));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Never returned; kept so code written for emdb 0.8.5 compiles.
    NotImplemented,
    /// A nested-key helper was given an empty prefix.
    #[cfg(feature = "nested")]
    InvalidPath,
    /// A TTL does not fit: `now + ttl` overflows the millisecond clock (for example
    /// `Duration::MAX`).
    #[cfg(feature = "ttl")]
    TtlOverflow,
    /// An operating-system I/O error (a missing directory is `Io` with `NotFound`).
    Io(io::Error),
    /// The file is not an emdb database.
    MagicMismatch,
    /// The file was written in another format version.
    VersionMismatch {
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        expected: u32,
    },
    /// The file uses features (header flags) this build does not know.
    FeatureMismatch {
        /// Flags in the file.
        file_flags: u32,
        /// Flags this build knows.
        build_flags: u32,
    },
    /// Stored bytes are damaged. `offset` is the absolute offset of the first bad byte.
    Corrupted {
        /// Absolute file offset.
        offset: u64,
        /// What is wrong there.
        reason: &'static str,
    },
    /// A configuration or argument is not usable; the message says which and why.
    InvalidConfig(&'static str),
    /// Never returned; kept so code written for emdb 0.8.5 compiles.
    TransactionInvalid,
    /// A transaction closure chose to abort; returned as the closure returned it.
    TransactionAborted(&'static str),
    /// Another handle, in this or another process, holds the database lock. `path` is the lock
    /// file.
    LockBusy {
        /// The `.lock` file.
        path: PathBuf,
    },
    /// The lock's sidecar files could not be read or removed.
    LockfileError(io::Error),
    /// Never returned; kept so code written for emdb 0.8.5 compiles.
    LockPoisoned,
    /// A key is longer than the maximum; nothing was written.
    KeyTooLarge {
        /// Length given.
        len: u64,
        /// Maximum.
        max: u64,
    },
    /// A value is longer than the maximum; nothing was written.
    ValueTooLarge {
        /// Length given.
        len: u64,
        /// Maximum.
        max: u64,
    },
    /// A namespace name is longer than the maximum; nothing was written.
    NamespaceNameTooLarge {
        /// Length given.
        len: u64,
        /// Maximum.
        max: u64,
    },
    /// A batch (`insert_many`, a transaction) encodes to more than one record frame may hold;
    /// nothing was written.
    BatchTooLarge {
        /// Encoded length.
        len: u64,
        /// Maximum.
        max: u64,
    },
    /// A record was written by a newer emdb (unknown kind or flags); upgrade to read it.
    UnsupportedRecord {
        /// Absolute offset of the record.
        offset: u64,
        /// Its kind byte.
        kind: u8,
        /// Its flag byte.
        flags: u8,
    },
    /// A cryptographic operation failed (key derivation, random source, unknown cipher).
    #[cfg(feature = "encrypt")]
    Encryption(&'static str),
    /// The key or passphrase does not open this database.
    #[cfg(feature = "encrypt")]
    EncryptionKeyMismatch,
    /// An earlier write or fsync failed, so this handle refuses writes: data the operating
    /// system reported as lost cannot be trusted. Drop every handle and reopen the database.
    Poisoned,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotImplemented => f.write_str("emdb: operation not yet implemented"),
            #[cfg(feature = "nested")]
            Error::InvalidPath => f.write_str("emdb: invalid nested path"),
            #[cfg(feature = "ttl")]
            Error::TtlOverflow => f.write_str("emdb: ttl overflow"),
            Error::Io(e) => write!(f, "emdb: io error ({})", e.kind()),
            Error::MagicMismatch => f.write_str("emdb: file magic mismatch (not an emdb database)"),
            Error::VersionMismatch { found, expected } => {
                write!(
                    f,
                    "emdb: format version mismatch (found {found}, expected {expected})"
                )
            }
            Error::FeatureMismatch {
                file_flags,
                build_flags,
            } => write!(
                f,
                "emdb: feature mismatch (file flags 0x{file_flags:08x}, build flags 0x{build_flags:08x})"
            ),
            Error::Corrupted { offset, reason } => {
                write!(f, "emdb: corrupted data at offset {offset} ({reason})")
            }
            Error::InvalidConfig(m) => write!(f, "emdb: invalid configuration ({m})"),
            Error::TransactionInvalid => f.write_str("emdb: invalid transaction context"),
            Error::TransactionAborted(m) => write!(f, "emdb: transaction aborted ({m})"),
            Error::LockBusy { path } => write!(f, "emdb: lock busy ({})", path.display()),
            Error::LockfileError(e) => write!(f, "emdb: lockfile error ({})", e.kind()),
            Error::LockPoisoned => f.write_str("emdb: lock poisoned"),
            Error::KeyTooLarge { len, max } => {
                write!(f, "emdb: key too large ({len} bytes; the maximum is {max})")
            }
            Error::ValueTooLarge { len, max } => {
                write!(
                    f,
                    "emdb: value too large ({len} bytes; the maximum is {max})"
                )
            }
            Error::NamespaceNameTooLarge { len, max } => {
                write!(
                    f,
                    "emdb: namespace name too large ({len} bytes; the maximum is {max})"
                )
            }
            Error::BatchTooLarge { len, max } => {
                write!(
                    f,
                    "emdb: batch too large ({len} bytes encoded; the maximum is {max})"
                )
            }
            Error::UnsupportedRecord {
                offset,
                kind,
                flags,
            } => write!(
                f,
                "emdb: record at offset {offset} (kind {kind:#04x}, flags {flags:#04x}) was written by a newer emdb"
            ),
            #[cfg(feature = "encrypt")]
            Error::Encryption(m) => write!(f, "emdb: encryption error ({m})"),
            #[cfg(feature = "encrypt")]
            Error::EncryptionKeyMismatch => {
                f.write_str("emdb: encryption key mismatch (file was created with a different key)")
            }
            Error::Poisoned => f.write_str(
                "emdb: an earlier write or fsync failed; reopen the database to continue",
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) | Error::LockfileError(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

#[cfg(feature = "encrypt")]
fn sealed_file_without_key() -> Error {
    Error::InvalidConfig(
        "this database was created with at-rest encryption; supply encryption_key or encryption_passphrase",
    )
}

#[cfg(not(feature = "encrypt"))]
fn sealed_file_without_key() -> Error {
    Error::InvalidConfig(
        "this database was created with encryption; rebuild with the `encrypt` feature",
    )
}

fn corruption_reason(c: Corruption) -> &'static str {
    match c {
        Corruption::Frame(DecodeError::ChecksumMismatch { .. }) => "checksum mismatch",
        Corruption::Frame(DecodeError::Incomplete { .. }) => "truncated record",
        Corruption::Frame(DecodeError::InvalidOp(_)) => "invalid record operation",
        Corruption::Frame(DecodeError::NonZeroReserved) => "non-zero reserved bytes",
        Corruption::Frame(_) => "invalid record length",
        Corruption::Zeroed => "zeroed region before durable records",
        Corruption::UnknownNamespace(_) => "record for an unknown namespace",
        Corruption::BadNamespace => "invalid namespace definition",
        Corruption::SealMismatch => "encrypted and plaintext records mixed",
        Corruption::Misindexed(_) => "index snapshot points at another record",
        _ => "damaged record",
    }
}

impl From<EngineError> for Error {
    fn from(e: EngineError) -> Self {
        use emdb_engine::format::LimitError;
        match e {
            EngineError::Io { source, .. } => Error::Io(source),
            EngineError::Header(DecodeError::BadMagic) => Error::MagicMismatch,
            EngineError::Header(DecodeError::UnsupportedVersion { expected, found }) => {
                Error::VersionMismatch {
                    found: found.into(),
                    expected: expected.into(),
                }
            }
            EngineError::Header(DecodeError::UnsupportedFlags { flags }) => {
                Error::FeatureMismatch {
                    file_flags: flags,
                    build_flags: KNOWN_FLAGS,
                }
            }
            EngineError::Header(DecodeError::Incomplete { .. }) => Error::Corrupted {
                offset: 0,
                reason: "file is shorter than its 4096-byte header",
            },
            EngineError::Header(_) => Error::Corrupted {
                offset: 0,
                reason: "both header copies are damaged",
            },
            EngineError::Corrupted { offset, reason } => Error::Corrupted {
                offset,
                reason: corruption_reason(reason),
            },
            EngineError::UnsupportedFrame { offset, source } => match source {
                DecodeError::UnsupportedFrame { kind, flags } => Error::UnsupportedRecord {
                    offset,
                    kind,
                    flags,
                },
                _ => Error::Corrupted {
                    offset,
                    reason: "unsupported record",
                },
            },
            EngineError::Limit(LimitError::KeyTooLong { len, max }) => {
                Error::KeyTooLarge { len, max }
            }
            EngineError::Limit(LimitError::ValueTooLong { len, max }) => {
                Error::ValueTooLarge { len, max }
            }
            EngineError::Limit(LimitError::NamespaceTooLong { len, max }) => {
                Error::NamespaceNameTooLarge { len, max }
            }
            EngineError::Limit(LimitError::FrameTooLong { len, max }) => {
                Error::BatchTooLarge { len, max }
            }
            EngineError::Locked { path } => Error::LockBusy { path },
            EngineError::Poisoned => Error::Poisoned,
            EngineError::NamespaceMissing(_) => Error::InvalidConfig("unknown namespace id"),
            EngineError::RangeIndexDisabled => Error::InvalidConfig(
                "range scans not enabled; pass `EmdbBuilder::enable_range_scans(true)` at open time",
            ),
            EngineError::SealerMismatch {
                file_encrypted: true,
            } => sealed_file_without_key(),
            EngineError::SealerMismatch {
                file_encrypted: false,
            } => Error::InvalidConfig(
                "this database is not encrypted; open it without a key, or encrypt it with Emdb::enable_encryption",
            ),
            #[cfg(feature = "encrypt")]
            EngineError::KeyMismatch => Error::EncryptionKeyMismatch,
            EngineError::Unseal { offset } => Error::Corrupted {
                offset,
                reason: "encrypted record failed authentication",
            },
            #[cfg(feature = "encrypt")]
            EngineError::Seal { .. } => Error::Encryption("sealing a record failed"),
            EngineError::FileTooLarge { .. } => {
                Error::InvalidConfig("the database file would exceed its maximum size of 8 TiB")
            }
            EngineError::InvalidArgument(m) => Error::InvalidConfig(m),
            _ => Error::InvalidConfig("encryption settings do not match this database"),
        }
    }
}
