//! Encryption at rest for emdb: AEAD sealing of records (ring's AES-256-GCM or
//! ChaCha20-Poly1305), Argon2id key derivation, and key types that zeroize and never print.
//!
//! Layer: below the engine, above `emdb-format` (which owns the on-disk ids of ciphers and KDF
//! parameters). No files, no knowledge of the log. See `docs/crypto.md` for the threat model,
//! the nonce scheme and its bound, and what leaks.
#![forbid(unsafe_code)]
#![deny(clippy::indexing_slicing)]

mod error;
mod kdf;
mod key;
mod record;

pub use error::CryptoError;
pub use kdf::{
    ARGON2_M_COST_KIB, ARGON2_P_COST, ARGON2_T_COST, KDF_ARGON2ID, KDF_RAW_KEY, derive_key,
    new_kdf_params,
};
pub use key::{Key, Passphrase};
pub use record::{Cipher, KEY_CHECK_LEN, RecordCipher};

/// Fills `buf` from the operating system's random source.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), CryptoError> {
    use ring::rand::SecureRandom;
    ring::rand::SystemRandom::new()
        .fill(buf)
        .map_err(|_| CryptoError::Rng)
}
