//! The per-record encryption hook: the engine seals each entry through a [`Sealer`] it is given.
//!
//! The engine never sees keys. It hands the sealer the plaintext entry and associated data that
//! binds the entry to its place: the file id and the entry's absolute offset ([`entry_aad`]), so
//! a sealed entry copied to another offset or file fails to open.

use std::fmt;

use emdb_format::FileHeader;

/// Opaque failure of a seal or open (no detail, by design).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("sealing operation failed")]
pub struct SealError;

/// Encrypts and authenticates entries. Implemented by the facade over `emdb-crypt`.
pub trait Sealer: Send + Sync + fmt::Debug {
    /// Appends nonce, ciphertext and tag for `plaintext` bound to `aad`: exactly
    /// [`NONCE_LEN`](emdb_format::sealed::NONCE_LEN) + `plaintext.len()` +
    /// [`TAG_LEN`](emdb_format::sealed::TAG_LEN) bytes (a large frame's length is computed
    /// from this before its entries are sealed; a seal of another length fails the write).
    fn seal(&self, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), SealError>;

    /// Authenticates and decrypts what [`Sealer::seal`] produced.
    fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError>;

    /// Fills the encryption fields (flags, cipher, KDF, key check) of a new file's header
    /// (its file id is already set).
    fn init_header(&self, header: &mut FileHeader) -> Result<(), SealError>;

    /// The hash seed of the index for file `file_id`. It must depend on the key, so the hash
    /// tags in an index snapshot reveal nothing about the keys stored.
    fn index_seed(&self, file_id: &[u8; 16]) -> u64;

    /// Checks that this sealer's key matches an existing file's header.
    fn check_header(&self, header: &FileHeader) -> Result<(), SealError>;
}

/// Associated data of the entry at `offset` in the file identified by `file_id`.
pub fn entry_aad(file_id: &[u8; 16], offset: u64) -> [u8; 24] {
    let mut aad = [0u8; 24];
    aad[..16].copy_from_slice(file_id);
    aad[16..].copy_from_slice(&offset.to_le_bytes());
    aad
}
