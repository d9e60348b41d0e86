//! The [`Sealer`] over `emdb-crypt` (feature `encrypt`): what makes a file encrypted at rest.

use emdb_crypt::{Cipher, Key, RecordCipher};
use emdb_format::header::FLAG_ENCRYPTED;
use emdb_format::{FileHeader, KdfParams};

use crate::sealer::{SealError, Sealer};

/// Seals records with ring's AEAD under one master key (see `emdb_crypt::RecordCipher`).
#[derive(Debug)]
pub struct CryptoSealer {
    cipher: RecordCipher,
    kdf: KdfParams,
}

impl CryptoSealer {
    /// A sealer for `key`, recording `kdf` (how the key was derived; `kdf.kdf == 0` for a raw
    /// key) in the headers of files it creates.
    pub fn new(cipher: Cipher, key: Key, kdf: KdfParams) -> Result<Self, emdb_crypt::CryptoError> {
        Ok(CryptoSealer {
            cipher: RecordCipher::new(cipher, key)?,
            kdf,
        })
    }
}

/// Splits the engine's associated data (`file id || offset`).
fn split_aad(aad: &[u8]) -> Result<([u8; 16], u64), SealError> {
    let id: [u8; 16] = aad
        .get(..16)
        .and_then(|s| s.try_into().ok())
        .ok_or(SealError)?;
    let off: [u8; 8] = aad
        .get(16..24)
        .and_then(|s| s.try_into().ok())
        .ok_or(SealError)?;
    Ok((id, u64::from_le_bytes(off)))
}

impl Sealer for CryptoSealer {
    fn seal(&self, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), SealError> {
        let (file_id, offset) = split_aad(aad)?;
        self.cipher
            .seal(&file_id, offset, aad, plaintext, out)
            .map_err(|_| SealError)
    }

    fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let (file_id, _) = split_aad(aad)?;
        self.cipher
            .open(&file_id, aad, sealed)
            .map_err(|_| SealError)
    }

    fn init_header(&self, header: &mut FileHeader) -> Result<(), SealError> {
        header.flags |= FLAG_ENCRYPTED;
        header.cipher = self.cipher.cipher().id();
        header.kdf = self.kdf;
        header.key_check = self
            .cipher
            .key_check(&header.file_id)
            .map_err(|_| SealError)?;
        Ok(())
    }

    fn index_seed(&self, file_id: &[u8; 16]) -> u64 {
        self.cipher.index_seed(file_id)
    }

    fn check_header(&self, header: &FileHeader) -> Result<(), SealError> {
        if header.cipher != self.cipher.cipher().id() {
            return Err(SealError);
        }
        self.cipher
            .verify_key_check(&header.file_id, &header.key_check)
            .map_err(|_| SealError)
    }
}
