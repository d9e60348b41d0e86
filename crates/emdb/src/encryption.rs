//! Encryption at rest (feature `encrypt`): choosing the cipher and key, opening encrypted files,
//! and the admin functions that encrypt, decrypt or re-key a closed database in place.
//!
//! Records are sealed with AES-256-GCM or ChaCha20-Poly1305 (ring), each bound to its file and
//! offset; passphrases go through Argon2id with the salt and parameters in the header; a key-check
//! block makes a wrong key fail at open. See `docs/crypto.md`.

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use emdb_engine::crypt::{self, KDF_ARGON2ID, KDF_RAW_KEY, Key, Passphrase};
use emdb_engine::encryption::CryptoSealer;
use emdb_engine::format::{FileHeader, HEADER_REGION_LEN, KdfParams};
use emdb_engine::sealer::Sealer;
use emdb_engine::{Engine, EngineConfig, EngineError};

use crate::db::Emdb;
use crate::error::{Error, Result};

/// The AEAD that seals records.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let db = emdb::Emdb::builder()
///     .path(dir.path().join("secret.emdb"))
///     .encryption_key([7u8; 32])
///     .cipher(emdb::Cipher::ChaCha20Poly1305)
///     .build()?;
/// assert!(db.stats()?.encrypted);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Cipher {
    /// AES-256-GCM (hardware-accelerated on most CPUs).
    #[default]
    Aes256Gcm,
    /// ChaCha20-Poly1305 (fast without AES instructions).
    ChaCha20Poly1305,
}

impl Cipher {
    fn to_crypt(self) -> crypt::Cipher {
        match self {
            Cipher::Aes256Gcm => crypt::Cipher::Aes256Gcm,
            Cipher::ChaCha20Poly1305 => crypt::Cipher::ChaCha20Poly1305,
        }
    }
}

/// A key or passphrase for the admin functions. `Debug` never shows the secret, and the bytes
/// are overwritten when the value is dropped.
///
/// ```
/// let input = emdb::EncryptionInput::Passphrase("correct horse battery staple".into());
/// assert_eq!(format!("{input:?}"), "Passphrase(<redacted>)");
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum EncryptionInput {
    /// A raw 256-bit key.
    Key([u8; 32]),
    /// A passphrase, stretched with Argon2id.
    Passphrase(String),
}

impl fmt::Debug for EncryptionInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncryptionInput::Key(_) => f.write_str("Key(<redacted>)"),
            EncryptionInput::Passphrase(_) => f.write_str("Passphrase(<redacted>)"),
        }
    }
}

impl Drop for EncryptionInput {
    fn drop(&mut self) {
        match self {
            EncryptionInput::Key(k) => {
                k.fill(0);
                std::hint::black_box(k);
            }
            EncryptionInput::Passphrase(p) => {
                let mut bytes = std::mem::take(p).into_bytes();
                bytes.fill(0);
                std::hint::black_box(&bytes);
            }
        }
    }
}

impl EncryptionInput {
    fn secrets(&self) -> (Option<Key>, Option<Passphrase>) {
        match self {
            EncryptionInput::Key(k) => (Some(Key::new(*k)), None),
            EncryptionInput::Passphrase(p) => (None, Some(Passphrase::new(p.clone()))),
        }
    }
}

/// The secrets a builder holds (redacted in `Debug`, zeroized on drop by their types).
#[derive(Debug, Clone, Default)]
pub(crate) struct Secrets {
    pub(crate) key: Option<Key>,
    pub(crate) passphrase: Option<Passphrase>,
    pub(crate) cipher: Option<Cipher>,
}

fn crypto(e: crypt::CryptoError) -> Error {
    match e {
        crypt::CryptoError::Kdf => Error::Encryption("key derivation failed"),
        crypt::CryptoError::Rng => Error::Encryption("the system random source failed"),
        crypt::CryptoError::UnsupportedCipher(_) => {
            Error::Encryption("the file names an unknown cipher")
        }
        _ => Error::Encryption("encryption failed"),
    }
}

/// The header of an existing, non-empty database file, if there is one.
fn peek_header(path: &Path) -> Result<Option<FileHeader>> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::Io(e)),
    };
    let mut region = vec![0u8; HEADER_REGION_LEN];
    let mut n = 0;
    while n < region.len() {
        match f.read(&mut region[n..])? {
            0 => break,
            r => n += r,
        }
    }
    if n == 0 {
        return Ok(None);
    }
    // A damaged or foreign header is reported by the engine's open with its precise error.
    Ok(FileHeader::decode_region(&region[..n]).ok())
}

fn sealer(cipher: crypt::Cipher, key: Key, kdf: KdfParams) -> Result<Arc<dyn Sealer>> {
    Ok(Arc::new(
        CryptoSealer::new(cipher, key, kdf).map_err(crypto)?,
    ))
}

/// A sealer for a new file (or a re-keyed one) from a key or passphrase.
fn new_sealer(
    cipher: Cipher,
    key: Option<Key>,
    passphrase: Option<Passphrase>,
) -> Result<Arc<dyn Sealer>> {
    match (key, passphrase) {
        (Some(k), None) => sealer(cipher.to_crypt(), k, KdfParams::default()),
        (None, Some(p)) => {
            if p.is_empty() {
                return Err(Error::InvalidConfig(
                    "encryption_passphrase must not be empty",
                ));
            }
            let params = crypt::new_kdf_params().map_err(crypto)?;
            let key = crypt::derive_key(&p, &params).map_err(crypto)?;
            sealer(cipher.to_crypt(), key, params)
        }
        _ => Err(Error::InvalidConfig(
            "encryption_key and encryption_passphrase are mutually exclusive; pick one",
        )),
    }
}

/// The sealer to open `path` with, or `None` for a plaintext database.
pub(crate) fn sealer_for_open(path: &Path, s: &Secrets) -> Result<Option<Arc<dyn Sealer>>> {
    if s.key.is_none() && s.passphrase.is_none() {
        return Ok(None);
    }
    if s.key.is_some() && s.passphrase.is_some() {
        return Err(Error::InvalidConfig(
            "encryption_key and encryption_passphrase are mutually exclusive; pick one",
        ));
    }
    if s.passphrase.as_ref().is_some_and(Passphrase::is_empty) {
        return Err(Error::InvalidConfig(
            "encryption_passphrase must not be empty",
        ));
    }
    let Some(header) = peek_header(path)? else {
        return new_sealer(
            s.cipher.unwrap_or_default(),
            s.key.clone(),
            s.passphrase.clone(),
        )
        .map(Some);
    };
    if !header.is_encrypted() {
        return Err(Error::InvalidConfig(
            "this database is not encrypted; open it without a key, or encrypt it with Emdb::enable_encryption",
        ));
    }
    let file_cipher = crypt::Cipher::from_id(header.cipher).map_err(crypto)?;
    if s.cipher.is_some_and(|c| c.to_crypt() != file_cipher) {
        return Err(Error::InvalidConfig(
            "EmdbBuilder::cipher disagrees with the cipher this database was created with",
        ));
    }
    match (&s.key, &s.passphrase, header.kdf.kdf) {
        (Some(k), None, KDF_RAW_KEY) => sealer(file_cipher, k.clone(), header.kdf).map(Some),
        (None, Some(p), KDF_ARGON2ID) => {
            let key = crypt::derive_key(p, &header.kdf).map_err(crypto)?;
            sealer(file_cipher, key, header.kdf).map(Some)
        }
        (Some(_), _, _) => Err(Error::InvalidConfig(
            "this database was created with an encryption_passphrase; supply via encryption_passphrase, not encryption_key",
        )),
        _ => Err(Error::InvalidConfig(
            "this database was created with a raw encryption_key; supply via encryption_key, not encryption_passphrase",
        )),
    }
}

/// Opens `path` (which must exist) for an admin rewrite, holding its lock.
fn open_for_admin(
    path: &Path,
    current: Option<&EncryptionInput>,
) -> Result<(Arc<Engine>, FileHeader)> {
    let header = match peek_header(path)? {
        Some(h) => h,
        None if path.exists() => return Err(Error::InvalidConfig("the database file is empty")),
        None => {
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "database file not found",
            )));
        }
    };
    let secrets = match current {
        Some(input) => {
            let (key, passphrase) = input.secrets();
            Secrets {
                key,
                passphrase,
                cipher: None,
            }
        }
        None => Secrets::default(),
    };
    let sealer = if current.is_some() {
        sealer_for_open(path, &secrets)?
    } else {
        None
    };
    let config = EngineConfig::default()
        .with_sealer(sealer)
        .with_snapshot_on_close(false);
    match Engine::open(path, config) {
        Ok(e) => Ok((e, header)),
        Err(EngineError::SealerMismatch {
            file_encrypted: true,
        }) => Err(Error::InvalidConfig("the database is already encrypted")),
        Err(e) => Err(e.into()),
    }
}

#[allow(
    clippy::needless_pass_by_value,
    reason = "0.8.5 API signatures; taking the input by value lets its drop zero the secret"
)]
impl Emdb {
    /// Encrypts the closed database at `path` in place (AES-256-GCM), keeping every record,
    /// namespace and TTL. Crash-safe: a new file is written, synced and renamed over the old one.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("db.emdb");
    /// emdb::Emdb::open(&path)?.insert("k", "v")?;
    /// emdb::Emdb::enable_encryption(&path, emdb::EncryptionInput::Key([1; 32]))?;
    /// let db = emdb::Emdb::builder().path(&path).encryption_key([1; 32]).build()?;
    /// assert_eq!(db.get("k")?, Some(b"v".to_vec()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `LockBusy` while the database is open, `InvalidConfig` if it is already encrypted,
    /// `Io(NotFound)` if there is no database.
    pub fn enable_encryption(path: impl AsRef<Path>, target: EncryptionInput) -> Result<()> {
        let (engine, _) = open_for_admin(path.as_ref(), None)?;
        let (key, passphrase) = target.secrets();
        let sealer = new_sealer(Cipher::default(), key, passphrase)?;
        engine.reseal(Some(sealer))?;
        Ok(engine.close()?)
    }

    /// Decrypts the closed database at `path` in place, keeping everything.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("db.emdb");
    /// emdb::Emdb::builder().path(&path).encryption_key([1; 32]).build()?.insert("k", "v")?;
    /// emdb::Emdb::disable_encryption(&path, emdb::EncryptionInput::Key([1; 32]))?;
    /// assert_eq!(emdb::Emdb::open(&path)?.get("k")?, Some(b"v".to_vec()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `EncryptionKeyMismatch` for a wrong key, `InvalidConfig` for a plaintext database or the
    /// wrong kind of secret, `LockBusy` while open.
    pub fn disable_encryption(path: impl AsRef<Path>, current: EncryptionInput) -> Result<()> {
        let (engine, _) = open_for_admin(path.as_ref(), Some(&current))?;
        engine.reseal(None)?;
        Ok(engine.close()?)
    }

    /// Re-encrypts the closed database at `path` under a new key or passphrase, keeping the
    /// cipher and everything stored.
    ///
    /// ```
    /// use emdb::{Emdb, EncryptionInput};
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("db.emdb");
    /// Emdb::builder().path(&path).encryption_key([1; 32]).build()?.insert("k", "v")?;
    /// Emdb::rotate_encryption_key(&path, EncryptionInput::Key([1; 32]), EncryptionInput::Key([2; 32]))?;
    /// let db = Emdb::builder().path(&path).encryption_key([2; 32]).build()?;
    /// assert_eq!(db.get("k")?, Some(b"v".to_vec()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rotate_encryption_key(
        path: impl AsRef<Path>,
        from: EncryptionInput,
        to: EncryptionInput,
    ) -> Result<()> {
        let (engine, header) = open_for_admin(path.as_ref(), Some(&from))?;
        let cipher = match crypt::Cipher::from_id(header.cipher).map_err(crypto)? {
            crypt::Cipher::Aes256Gcm => Cipher::Aes256Gcm,
            crypt::Cipher::ChaCha20Poly1305 => Cipher::ChaCha20Poly1305,
        };
        let (key, passphrase) = to.secrets();
        engine.reseal(Some(new_sealer(cipher, key, passphrase)?))?;
        Ok(engine.close()?)
    }
}
