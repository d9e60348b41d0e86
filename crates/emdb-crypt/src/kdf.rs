//! Passphrase to key: Argon2id (version 0x13) with parameters stored in the file header, so they
//! can change in later versions without breaking old files.

use argon2::{Algorithm, Argon2, Params, Version};
use emdb_format::KdfParams;
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::key::{Key, Passphrase};

/// KDF id of a raw 32-byte key (no derivation).
pub const KDF_RAW_KEY: u8 = 0;
/// KDF id of Argon2id, version 0x13.
pub const KDF_ARGON2ID: u8 = 1;
/// Memory cost of new files, KiB (OWASP's Argon2id recommendation: 19 MiB).
pub const ARGON2_M_COST_KIB: u32 = 19 * 1024;
/// Iterations of new files.
pub const ARGON2_T_COST: u32 = 2;
/// Lanes of new files.
pub const ARGON2_P_COST: u32 = 1;

/// Parameters for a new passphrase-protected file, with a fresh random salt.
pub fn new_kdf_params() -> Result<KdfParams, CryptoError> {
    let mut salt = [0u8; 32];
    crate::random_bytes(&mut salt)?;
    Ok(KdfParams {
        kdf: KDF_ARGON2ID,
        m_cost: ARGON2_M_COST_KIB,
        t_cost: ARGON2_T_COST,
        p_cost: ARGON2_P_COST,
        salt,
    })
}

/// Derives the file key from a passphrase with the header's parameters.
pub fn derive_key(passphrase: &Passphrase, params: &KdfParams) -> Result<Key, CryptoError> {
    if params.kdf != KDF_ARGON2ID {
        return Err(CryptoError::Kdf);
    }
    let p = Params::new(params.m_cost, params.t_cost, params.p_cost, Some(32))
        .map_err(|_| CryptoError::Kdf)?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
    let mut out = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.expose(), &params.salt, out.as_mut())
        .map_err(|_| CryptoError::Kdf)?;
    Ok(Key::new(*out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap(salt: u8) -> KdfParams {
        KdfParams {
            kdf: KDF_ARGON2ID,
            m_cost: 64,
            t_cost: 1,
            p_cost: 1,
            salt: [salt; 32],
        }
    }

    #[test]
    fn derivation_is_deterministic_and_salted() {
        let p = Passphrase::new("correct horse".into());
        let a = derive_key(&p, &cheap(1)).unwrap();
        let b = derive_key(&p, &cheap(1)).unwrap();
        let c = derive_key(&p, &cheap(2)).unwrap();
        assert_eq!(a.expose(), b.expose());
        assert_ne!(a.expose(), c.expose());
        let other = derive_key(&Passphrase::new("wrong".into()), &cheap(1)).unwrap();
        assert_ne!(a.expose(), other.expose());
    }

    #[test]
    fn bad_parameters_are_errors() {
        let p = Passphrase::new("x".into());
        let mut params = cheap(1);
        params.m_cost = 0;
        assert_eq!(derive_key(&p, &params).err(), Some(CryptoError::Kdf));
        params = cheap(1);
        params.kdf = KDF_RAW_KEY;
        assert_eq!(derive_key(&p, &params).err(), Some(CryptoError::Kdf));
    }

    #[test]
    fn new_params_have_random_salts() {
        assert_ne!(
            new_kdf_params().unwrap().salt,
            new_kdf_params().unwrap().salt
        );
    }
}
