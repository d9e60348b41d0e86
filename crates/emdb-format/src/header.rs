//! The file header: two checksummed copies of one 256-byte slot inside a 4 KiB region.
//!
//! ## Format
//!
//! The region `[0, 4096)` holds slot A at offset 0 and slot B at offset 2048; the rest is zero.
//! Each slot:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | [`crate::MAGIC`] |
//! | 8 | 2 | format version |
//! | 10 | 2 | slot length (256) |
//! | 12 | 4 | flags (bit 0: encrypted) |
//! | 16 | 8 | generation |
//! | 24 | 8 | created, unix ms |
//! | 32 | 16 | file id (random per file) |
//! | 48 | 1 | cipher id |
//! | 49 | 1 | KDF id |
//! | 50 | 6 | reserved, zero |
//! | 56 | 16 | KDF parameters: `m_cost`, `t_cost`, `p_cost`, reserved (u32 each) |
//! | 72 | 32 | KDF salt |
//! | 104 | 64 | key-check block |
//! | 168 | 84 | reserved, zero |
//! | 252 | 4 | CRC-32 of bytes 0..252 |
//!
//! Invariant: a reader picks the valid slot (magic and CRC good) with the highest generation, so
//! a torn write of one slot leaves the other readable.

use crate::bytes::{array, u16_at, u32_at, u64_at};
use crate::checksum::crc32;
use crate::error::DecodeError;
use crate::{FORMAT_VERSION, MAGIC};

/// Length of the header region; the log starts right after it.
pub const HEADER_REGION_LEN: usize = 4096;
/// Length of one header slot.
pub const SLOT_LEN: usize = 256;
/// Offsets of the two slots inside the region.
pub const SLOT_OFFSETS: [usize; 2] = [0, 2048];

const VERSION_OFFSET: usize = MAGIC.len();
const SLOT_LEN_OFFSET: usize = VERSION_OFFSET + 2;
const FLAGS_OFFSET: usize = SLOT_LEN_OFFSET + 2;
const GENERATION_OFFSET: usize = FLAGS_OFFSET + 4;
const CREATED_OFFSET: usize = GENERATION_OFFSET + 8;
const FILE_ID_OFFSET: usize = CREATED_OFFSET + 8;
const CIPHER_OFFSET: usize = FILE_ID_OFFSET + 16;
const KDF_OFFSET: usize = CIPHER_OFFSET + 1;
const KDF_PARAMS_OFFSET: usize = KDF_OFFSET + 1 + 6;
const SALT_OFFSET: usize = KDF_PARAMS_OFFSET + 16;
const KEY_CHECK_OFFSET: usize = SALT_OFFSET + 32;
const RESERVED_OFFSET: usize = KEY_CHECK_OFFSET + KEY_CHECK_LEN;
const CRC_OFFSET: usize = SLOT_LEN - 4;
const _: () = assert!(RESERVED_OFFSET == 168);
const _: () = assert!(CRC_OFFSET == 252);

/// Length of the key-check block.
pub const KEY_CHECK_LEN: usize = 64;
/// Header flag: records are sealed by an AEAD.
pub const FLAG_ENCRYPTED: u32 = 1;
/// Every flag bit this build understands.
pub const KNOWN_FLAGS: u32 = FLAG_ENCRYPTED;

/// Which AEAD seals the records (plain data; the crypto lives in `emdb-crypt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CipherId {
    /// Not encrypted.
    None,
    /// AES-256-GCM.
    Aes256Gcm,
    /// ChaCha20-Poly1305.
    ChaCha20Poly1305,
    /// An id this build does not know.
    Unknown(u8),
}

impl CipherId {
    /// The on-disk byte.
    pub fn to_byte(self) -> u8 {
        match self {
            CipherId::None => 0,
            CipherId::Aes256Gcm => 1,
            CipherId::ChaCha20Poly1305 => 2,
            CipherId::Unknown(b) => b,
        }
    }

    /// Reads the on-disk byte.
    pub fn from_byte(b: u8) -> Self {
        match b {
            0 => CipherId::None,
            1 => CipherId::Aes256Gcm,
            2 => CipherId::ChaCha20Poly1305,
            other => CipherId::Unknown(other),
        }
    }
}

/// How the key was derived, with its parameters (plain data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KdfParams {
    /// KDF id: 0 = raw key (no KDF), 1 = Argon2id version 0x13.
    pub kdf: u8,
    /// Argon2 memory cost in KiB.
    pub m_cost: u32,
    /// Argon2 iterations.
    pub t_cost: u32,
    /// Argon2 lanes.
    pub p_cost: u32,
    /// Salt.
    pub salt: [u8; 32],
}

/// The decoded header of a database file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHeader {
    /// Format version (always [`FORMAT_VERSION`] once decoded).
    pub version: u16,
    /// Feature flags; only [`KNOWN_FLAGS`] bits are ever set once decoded.
    pub flags: u32,
    /// Incremented on each header rewrite; the higher valid slot wins.
    pub generation: u64,
    /// Creation time, unix milliseconds.
    pub created_unix_ms: u64,
    /// Random identity of this file; changes when the file is rewritten (compaction, backup).
    pub file_id: [u8; 16],
    /// Cipher of sealed records.
    pub cipher: CipherId,
    /// Key derivation.
    pub kdf: KdfParams,
    /// Encrypted known block that proves the key at open.
    pub key_check: [u8; KEY_CHECK_LEN],
}

impl FileHeader {
    /// A plaintext header for a new file.
    pub fn new_plain(file_id: [u8; 16], created_unix_ms: u64) -> Self {
        FileHeader {
            version: FORMAT_VERSION,
            flags: 0,
            generation: 1,
            created_unix_ms,
            file_id,
            cipher: CipherId::None,
            kdf: KdfParams::default(),
            key_check: [0; KEY_CHECK_LEN],
        }
    }

    /// `true` when records are sealed.
    pub fn is_encrypted(&self) -> bool {
        self.flags & FLAG_ENCRYPTED != 0
    }

    /// Encodes one slot.
    pub fn encode_slot(&self) -> [u8; SLOT_LEN] {
        let mut s = [0u8; SLOT_LEN];
        put(&mut s, 0, &MAGIC);
        put(&mut s, VERSION_OFFSET, &self.version.to_le_bytes());
        put(&mut s, SLOT_LEN_OFFSET, &(SLOT_LEN as u16).to_le_bytes());
        put(&mut s, FLAGS_OFFSET, &self.flags.to_le_bytes());
        put(&mut s, GENERATION_OFFSET, &self.generation.to_le_bytes());
        put(&mut s, CREATED_OFFSET, &self.created_unix_ms.to_le_bytes());
        put(&mut s, FILE_ID_OFFSET, &self.file_id);
        put(&mut s, CIPHER_OFFSET, &[self.cipher.to_byte()]);
        put(&mut s, KDF_OFFSET, &[self.kdf.kdf]);
        put(&mut s, KDF_PARAMS_OFFSET, &self.kdf.m_cost.to_le_bytes());
        put(
            &mut s,
            KDF_PARAMS_OFFSET + 4,
            &self.kdf.t_cost.to_le_bytes(),
        );
        put(
            &mut s,
            KDF_PARAMS_OFFSET + 8,
            &self.kdf.p_cost.to_le_bytes(),
        );
        put(&mut s, SALT_OFFSET, &self.kdf.salt);
        put(&mut s, KEY_CHECK_OFFSET, &self.key_check);
        let crc = crc32(s.get(..CRC_OFFSET).unwrap_or_default());
        put(&mut s, CRC_OFFSET, &crc.to_le_bytes());
        s
    }

    /// Encodes the whole 4 KiB region with both slots holding this header.
    pub fn encode_region(&self) -> [u8; HEADER_REGION_LEN] {
        let mut region = [0u8; HEADER_REGION_LEN];
        let slot = self.encode_slot();
        for off in SLOT_OFFSETS {
            put(&mut region, off, &slot);
        }
        region
    }

    /// Decodes one slot, checking magic, CRC, version and flags in that order.
    pub fn decode_slot(slot: &[u8]) -> Result<Self, DecodeError> {
        let magic: [u8; 8] = array(slot, 0)?;
        if magic != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        let stored = u32_at(slot, CRC_OFFSET)?;
        let actual = crc32(slot.get(..CRC_OFFSET).unwrap_or_default());
        if stored != actual {
            return Err(DecodeError::ChecksumMismatch {
                expected: stored,
                actual,
            });
        }
        let version = u16_at(slot, VERSION_OFFSET)?;
        if version != FORMAT_VERSION {
            return Err(DecodeError::UnsupportedVersion {
                expected: FORMAT_VERSION,
                found: version,
            });
        }
        if usize::from(u16_at(slot, SLOT_LEN_OFFSET)?) != SLOT_LEN {
            return Err(DecodeError::LengthOverflow);
        }
        let flags = u32_at(slot, FLAGS_OFFSET)?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(DecodeError::UnsupportedFlags {
                flags: flags & !KNOWN_FLAGS,
            });
        }
        let reserved = slot.get(RESERVED_OFFSET..CRC_OFFSET).unwrap_or_default();
        let reserved_mid = slot
            .get(KDF_OFFSET + 1..KDF_PARAMS_OFFSET)
            .unwrap_or_default();
        if reserved.iter().chain(reserved_mid).any(|b| *b != 0) {
            return Err(DecodeError::NonZeroReserved);
        }
        let [cipher] = array::<1>(slot, CIPHER_OFFSET)?;
        let [kdf] = array::<1>(slot, KDF_OFFSET)?;
        Ok(FileHeader {
            version,
            flags,
            generation: u64_at(slot, GENERATION_OFFSET)?,
            created_unix_ms: u64_at(slot, CREATED_OFFSET)?,
            file_id: array(slot, FILE_ID_OFFSET)?,
            cipher: CipherId::from_byte(cipher),
            kdf: KdfParams {
                kdf,
                m_cost: u32_at(slot, KDF_PARAMS_OFFSET)?,
                t_cost: u32_at(slot, KDF_PARAMS_OFFSET + 4)?,
                p_cost: u32_at(slot, KDF_PARAMS_OFFSET + 8)?,
                salt: array(slot, SALT_OFFSET)?,
            },
            key_check: array(slot, KEY_CHECK_OFFSET)?,
        })
    }

    /// Decodes the region: the valid slot with the highest generation wins.
    ///
    /// When neither slot is valid the error of slot A is returned, except that a version or
    /// flags error from either slot takes precedence (it names the real problem).
    pub fn decode_region(region: &[u8]) -> Result<Self, DecodeError> {
        if region.len() < HEADER_REGION_LEN {
            return Err(DecodeError::Incomplete {
                needed: HEADER_REGION_LEN as u64,
            });
        }
        let mut best: Option<FileHeader> = None;
        let mut first_err = None;
        let mut newer_writer_err = None;
        for off in SLOT_OFFSETS {
            let slot = region.get(off..).unwrap_or_default();
            match Self::decode_slot(slot) {
                Ok(h) => {
                    if best.as_ref().is_none_or(|b| h.generation > b.generation) {
                        best = Some(h);
                    }
                }
                Err(e) => {
                    if matches!(
                        e,
                        DecodeError::UnsupportedVersion { .. }
                            | DecodeError::UnsupportedFlags { .. }
                    ) {
                        newer_writer_err.get_or_insert(e);
                    }
                    first_err.get_or_insert(e);
                }
            }
        }
        match (best, newer_writer_err, first_err) {
            (Some(h), _, _) => Ok(h),
            (None, Some(e), _) | (None, None, Some(e)) => Err(e),
            (None, None, None) => Err(DecodeError::BadMagic),
        }
    }
}

fn put(dst: &mut [u8], at: usize, src: &[u8]) {
    if let Some(d) = at
        .checked_add(src.len())
        .and_then(|end| dst.get_mut(at..end))
    {
        d.copy_from_slice(src);
    }
}

#[cfg(test)]
mod tests;
