//! Sealing records: per-file keys, the nonce scheme, and the key-check block.
//!
//! Keys: each file gets its own record key, HKDF-SHA256 of the master key with the file's random
//! id as salt, so two files under one master key (a database and its compacted copy or backup)
//! never share a key. The key-check block uses a second derived key.
//!
//! Nonces (96 bits): 4 bytes chosen at random when the cipher is created (once per open) followed
//! by the record's absolute offset in the file (8 bytes). Within one file and one open, offsets
//! are unique, so nonces are. A nonce can repeat only if the same offset is written again (only
//! after a torn tail is cut at open) and two opens drew the same 4 random bytes: probability
//! 2^-32 per such reuse. The associated data (file id and offset) is supplied by the caller.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use emdb_format::CipherId;
use ring::aead::{AES_256_GCM, Aad, Algorithm, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf::{HKDF_SHA256, KeyType, Salt};
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::key::Key;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Length of the key-check block in the header.
pub const KEY_CHECK_LEN: usize = emdb_format::header::KEY_CHECK_LEN;
const KEY_CHECK_PLAINTEXT: &[u8; 32] = b"emdb key check, format version 1";
const RECORD_KEY_INFO: &[u8] = b"emdb record key v1";
const CHECK_KEY_INFO: &[u8] = b"emdb key-check key v1";
const INDEX_SEED_INFO: &[u8] = b"emdb index seed v1";

/// The AEAD of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cipher {
    /// AES-256-GCM.
    Aes256Gcm,
    /// ChaCha20-Poly1305.
    ChaCha20Poly1305,
}

impl Cipher {
    fn algorithm(self) -> &'static Algorithm {
        match self {
            Cipher::Aes256Gcm => &AES_256_GCM,
            Cipher::ChaCha20Poly1305 => &CHACHA20_POLY1305,
        }
    }

    /// The header id.
    pub fn id(self) -> CipherId {
        match self {
            Cipher::Aes256Gcm => CipherId::Aes256Gcm,
            Cipher::ChaCha20Poly1305 => CipherId::ChaCha20Poly1305,
        }
    }

    /// From the header id.
    pub fn from_id(id: CipherId) -> Result<Self, CryptoError> {
        match id {
            CipherId::Aes256Gcm => Ok(Cipher::Aes256Gcm),
            CipherId::ChaCha20Poly1305 => Ok(Cipher::ChaCha20Poly1305),
            other => Err(CryptoError::UnsupportedCipher(other.to_byte())),
        }
    }
}

struct Len8;

impl KeyType for Len8 {
    fn len(&self) -> usize {
        8
    }
}

struct Len32;

impl KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

fn derive(
    master: &Key,
    file_id: &[u8; 16],
    info: &[u8],
    alg: &'static Algorithm,
) -> Result<LessSafeKey, CryptoError> {
    let mut okm = Zeroizing::new([0u8; 32]);
    Salt::new(HKDF_SHA256, file_id)
        .extract(master.expose())
        .expand(&[info], Len32)
        .and_then(|o| o.fill(okm.as_mut()))
        .map_err(|_| CryptoError::Kdf)?;
    let key = UnboundKey::new(alg, okm.as_ref()).map_err(|_| CryptoError::Kdf)?;
    Ok(LessSafeKey::new(key))
}

/// Seals and opens records with one master key.
pub struct RecordCipher {
    cipher: Cipher,
    master: Key,
    session: [u8; 4],
    /// Record keys of the two most recently derived files, with their file ids, newest first.
    /// Read on every seal and open, by every reader thread: an `ArcSwap` load writes nothing
    /// other threads read (a lock or a shared reference count would pass one cache line
    /// between their cores), and a hit in either slot stores nothing.
    recent: [ArcSwapOption<([u8; 16], LessSafeKey)>; 2],
}

impl std::fmt::Debug for RecordCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordCipher")
            .field("cipher", &self.cipher)
            .finish_non_exhaustive()
    }
}

impl RecordCipher {
    /// A cipher for `master`, with a fresh random nonce prefix.
    pub fn new(cipher: Cipher, master: Key) -> Result<Self, CryptoError> {
        let mut session = [0u8; 4];
        crate::random_bytes(&mut session)?;
        Ok(RecordCipher {
            cipher,
            master,
            session,
            recent: [ArcSwapOption::empty(), ArcSwapOption::empty()],
        })
    }

    /// The AEAD in use.
    pub fn cipher(&self) -> Cipher {
        self.cipher
    }

    /// Runs `f` with the record key of file `file_id`, derived (one HKDF expansion and a key
    /// schedule) only if neither cached key is that file's.
    ///
    /// Two keys are cached because the engine uses one file at a time except while a
    /// compaction, backup or re-key copies into the next: then the copy's seals and the reads
    /// of the old file interleave, and with one cached key every switch derived a key again
    /// (seven times the cost of an open, alternating between two files). Racing misses may
    /// leave a key cached twice or drop one; the cache only saves work.
    fn with_record_key<R>(
        &self,
        file_id: &[u8; 16],
        f: impl FnOnce(&LessSafeKey) -> R,
    ) -> Result<R, CryptoError> {
        for slot in &self.recent {
            if let Some((id, key)) = slot.load().as_deref()
                && id == file_id
            {
                return Ok(f(key));
            }
        }
        let key = derive(
            &self.master,
            file_id,
            RECORD_KEY_INFO,
            self.cipher.algorithm(),
        )?;
        let out = f(&key);
        let [newest, older] = &self.recent;
        older.store(newest.swap(Some(Arc::new((*file_id, key)))));
        Ok(out)
    }

    /// Appends nonce, ciphertext and tag of `plaintext`, stored at `offset` of file `file_id`,
    /// authenticated with `aad`.
    pub fn seal(
        &self,
        file_id: &[u8; 16],
        offset: u64,
        aad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        let (prefix, rest) = nonce.split_at_mut(4);
        prefix.copy_from_slice(&self.session);
        rest.copy_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&nonce);
        let start = out.len();
        out.extend_from_slice(plaintext);
        let body = out.get_mut(start..).ok_or(CryptoError::Encrypt)?;
        let tag = self
            .with_record_key(file_id, |key| {
                key.seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(aad),
                    body,
                )
            })?
            .map_err(|_| CryptoError::Encrypt)?;
        out.extend_from_slice(tag.as_ref());
        Ok(())
    }

    /// Authenticates and decrypts what [`RecordCipher::seal`] produced for file `file_id`.
    pub fn open(
        &self,
        file_id: &[u8; 16],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        self.with_record_key(file_id, |key| open_with(key, aad, sealed))?
    }

    /// The hash seed of the in-memory index of file `file_id`: secret (derived from the key),
    /// so hash tags persisted in an index snapshot say nothing about the keys.
    pub fn index_seed(&self, file_id: &[u8; 16]) -> u64 {
        let mut okm = [0u8; 8];
        let derived = Salt::new(HKDF_SHA256, file_id)
            .extract(self.master.expose())
            .expand(&[INDEX_SEED_INFO], Len8)
            .and_then(|o| o.fill(&mut okm));
        // HKDF-SHA256 can always produce 8 bytes; a failure would only weaken hashing, and the
        // file id keeps the seed per-file.
        if derived.is_err() {
            okm.copy_from_slice(file_id.get(..8).unwrap_or(&[0; 8]));
        }
        u64::from_le_bytes(okm)
    }

    /// The key that seals file `file_id`'s key-check block (never used for records).
    fn check_key(&self, file_id: &[u8; 16]) -> Result<LessSafeKey, CryptoError> {
        derive(
            &self.master,
            file_id,
            CHECK_KEY_INFO,
            self.cipher.algorithm(),
        )
    }

    /// A key-check block for file `file_id`: a known plaintext sealed with a key derived for
    /// this purpose, proving at open that a key is right before any record is read.
    pub fn key_check(&self, file_id: &[u8; 16]) -> Result<[u8; KEY_CHECK_LEN], CryptoError> {
        let key = self.check_key(file_id)?;
        let mut nonce = [0u8; NONCE_LEN];
        crate::random_bytes(&mut nonce)?;
        let mut buf = KEY_CHECK_PLAINTEXT.to_vec();
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(file_id),
                &mut buf,
            )
            .map_err(|_| CryptoError::Encrypt)?;
        let mut block = [0u8; KEY_CHECK_LEN];
        let parts = nonce.iter().chain(buf.iter()).chain(tag.as_ref().iter());
        for (dst, src) in block.iter_mut().zip(parts) {
            *dst = *src;
        }
        Ok(block)
    }

    /// Checks a key-check block; `Decrypt` means a wrong key (or a damaged header).
    pub fn verify_key_check(
        &self,
        file_id: &[u8; 16],
        block: &[u8; KEY_CHECK_LEN],
    ) -> Result<(), CryptoError> {
        let key = self.check_key(file_id)?;
        let used = NONCE_LEN + KEY_CHECK_PLAINTEXT.len() + TAG_LEN;
        let sealed = block.get(..used).ok_or(CryptoError::Decrypt)?;
        let plain = open_with(&key, file_id, sealed)?;
        if plain.as_slice() == KEY_CHECK_PLAINTEXT {
            Ok(())
        } else {
            Err(CryptoError::Decrypt)
        }
    }
}

fn open_with(key: &LessSafeKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let (nonce, body) = sealed
        .split_at_checked(NONCE_LEN)
        .ok_or(CryptoError::Decrypt)?;
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Decrypt)?;
    let mut buf = body.to_vec();
    let len = key
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .map_err(|_| CryptoError::Decrypt)?
        .len();
    buf.truncate(len);
    Ok(buf)
}
