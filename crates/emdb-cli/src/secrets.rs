//! Keys and passphrases for encrypted databases: from the environment or a terminal prompt
//! without echo, never from the command line (argv is visible to other users).
//!
//! Current secret: `EMDB_KEY` (64 hex digits) or `EMDB_PASSPHRASE`. New secret (for `encrypt`
//! and `rekey`): `EMDB_NEW_KEY` or `EMDB_NEW_PASSPHRASE`. Without them, a terminal prompts;
//! without a terminal, the command fails.

use std::io::{IsTerminal, Read};
use std::path::Path;

use emdb::{EmdbBuilder, EncryptionInput};
use emdb_format::{FileHeader, HEADER_REGION_LEN};

use crate::Failure;

/// Reads the header of an existing database file, if it has one.
pub(crate) fn header(path: &Path) -> Option<FileHeader> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut region = vec![0u8; HEADER_REGION_LEN];
    f.read_exact(&mut region).ok()?;
    FileHeader::decode_region(&region).ok()
}

fn key_from_hex(var: &str, text: &str) -> Result<[u8; 32], Failure> {
    let bytes = crate::encoding::parse(text.trim(), crate::encoding::Format::Hex)
        .map_err(|_| Failure::new(format!("{var} must be 64 hex digits")))?;
    bytes
        .try_into()
        .map_err(|_| Failure::new(format!("{var} must be 64 hex digits")))
}

fn prompt(text: &str) -> Result<String, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::new(format!(
            "{text}: no terminal to ask on; set the environment variable instead"
        )));
    }
    rpassword::prompt_password(format!("{text}: "))
        .map_err(|e| Failure::new(format!("cannot read the passphrase: {e}")))
}

/// The current secret of an encrypted database (its header says whether a key or passphrase).
pub(crate) fn current(path: &Path, header: &FileHeader) -> Result<EncryptionInput, Failure> {
    if let Ok(k) = std::env::var("EMDB_KEY") {
        return Ok(EncryptionInput::Key(key_from_hex("EMDB_KEY", &k)?));
    }
    if let Ok(p) = std::env::var("EMDB_PASSPHRASE") {
        return Ok(EncryptionInput::Passphrase(p));
    }
    if header.kdf.kdf == 0 {
        return Err(Failure::new(format!(
            "{} is encrypted with a raw key: set EMDB_KEY",
            path.display()
        )));
    }
    Ok(EncryptionInput::Passphrase(prompt(&format!(
        "passphrase for {}",
        path.display()
    ))?))
}

/// A new secret, for `encrypt` and `rekey`.
pub(crate) fn new_secret() -> Result<EncryptionInput, Failure> {
    if let Ok(k) = std::env::var("EMDB_NEW_KEY") {
        return Ok(EncryptionInput::Key(key_from_hex("EMDB_NEW_KEY", &k)?));
    }
    if let Ok(p) = std::env::var("EMDB_NEW_PASSPHRASE") {
        return Ok(EncryptionInput::Passphrase(p));
    }
    let first = prompt("new passphrase (or set EMDB_NEW_PASSPHRASE / EMDB_NEW_KEY)")?;
    let again = prompt("repeat the new passphrase")?;
    if first != again {
        return Err(Failure::new("the passphrases differ"));
    }
    Ok(EncryptionInput::Passphrase(first))
}

/// A builder for `path` that can open it, asking for its secret if it is encrypted.
pub(crate) fn builder(path: &Path) -> Result<EmdbBuilder, Failure> {
    let b = EmdbBuilder::new().path(path);
    match header(path) {
        Some(h) if h.is_encrypted() => Ok(match &current(path, &h)? {
            EncryptionInput::Key(k) => b.encryption_key(*k),
            EncryptionInput::Passphrase(p) => b.encryption_passphrase(p.clone()),
            _ => b,
        }),
        _ => Ok(b),
    }
}

/// A sealer for the engine-level repair of an encrypted file.
pub(crate) fn sealer(
    path: &Path,
    h: &FileHeader,
) -> Result<std::sync::Arc<dyn emdb_engine::sealer::Sealer>, Failure> {
    use emdb_engine::crypt::{self, Key, Passphrase};
    let key = match &current(path, h)? {
        EncryptionInput::Key(k) => Key::new(*k),
        EncryptionInput::Passphrase(p) => crypt::derive_key(&Passphrase::new(p.clone()), &h.kdf)
            .map_err(|e| Failure::new(format!("key derivation failed: {e}")))?,
        _ => return Err(Failure::new("unsupported secret")),
    };
    let cipher = crypt::Cipher::from_id(h.cipher).map_err(|e| Failure::new(e.to_string()))?;
    let s = emdb_engine::encryption::CryptoSealer::new(cipher, key, h.kdf)
        .map_err(|e| Failure::new(e.to_string()))?;
    Ok(std::sync::Arc::new(s))
}
