//! `CryptoError`: deliberately without detail (an authentication failure says nothing more).

/// Why a cryptographic operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// Authentication failed: wrong key, or the bytes or their position were changed.
    #[error("authentication failed")]
    Decrypt,
    /// Sealing failed (the AEAD refused the input).
    #[error("encryption failed")]
    Encrypt,
    /// Key derivation failed (bad parameters).
    #[error("key derivation failed")]
    Kdf,
    /// The system random source failed.
    #[error("random source failed")]
    Rng,
    /// The file names a cipher this build does not know.
    #[error("unsupported cipher id {0}")]
    UnsupportedCipher(u8),
}
