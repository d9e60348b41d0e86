//! `emdb migrate OLD NEW`: read a database written by emdb 0.8.5 and write an equivalent one in
//! our format, keeping namespaces and TTLs (and encryption, with the same secret).
//!
//! The 0.8.5 layout (from its source; `docs` of this repository do not describe it): a 4 KiB
//! header (`EMDB` + 12 zero bytes, version u32 = 1, flags u32 with bit 0 encrypted and bit 1
//! `ChaCha20`, created u64, tail hint u64, 16-byte Argon2id salt, 60-byte verification block, CRC-32
//! of bytes 0..116 at 116), then records `len u32 | tag u8 | body | crc32(tag | body)` with tags
//! 0 insert (`ns u32, key_len u32, key, value_len u32, value, expires_at u64`), 1 remove
//! (`ns u32, key_len u32, key`), 2 namespace name (`ns u32, len u32, name`); bit 7 of the tag
//! marks a body sealed as `nonce(12) | ciphertext | tag(16)` without associated data. The walk
//! stops at a zero length, a length past the end, or a bad CRC, as 0.8.5's own recovery does.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argon2::{Algorithm, Argon2, Params, Version};
use emdb::{EmdbBuilder, EncryptionInput, Ttl};
use ring::aead::{AES_256_GCM, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};

use crate::Failure;
use crate::progress::Progress;

const HEADER_LEN: usize = 4096;

/// Key, value, expiry (unix ms, 0 = none).
type Record = (Vec<u8>, Vec<u8>, u64);
const VERIFY_PLAINTEXT: &[u8; 15] = b"EMDB-ENCRYPT-OK";

fn bad(what: &str) -> Failure {
    Failure::new(format!("not a readable emdb 0.8.5 database: {what}"))
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Failure> {
        let s = self
            .buf
            .get(self.pos..self.pos + n)
            .ok_or_else(|| bad("record body too short"))?;
        self.pos += n;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, Failure> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, Failure> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }
    fn bytes(&mut self) -> Result<Vec<u8>, Failure> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }
}

/// The decoded content of an old file.
#[derive(Default)]
struct Content {
    names: BTreeMap<u32, String>,
    /// (namespace id, key) -> (value, `expires_at`).
    records: HashMap<(u32, Vec<u8>), (Vec<u8>, u64)>,
}

fn open_sealed(key: &LessSafeKey, body: &[u8]) -> Result<Vec<u8>, Failure> {
    let (nonce, rest) = body
        .split_at_checked(12)
        .ok_or_else(|| bad("sealed body too short"))?;
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| bad("bad nonce"))?;
    let mut buf = rest.to_vec();
    let n = key
        .open_in_place(nonce, Aad::empty(), &mut buf)
        .map_err(|_| {
            Failure::new("encryption key mismatch (the key does not open this 0.8.5 database)")
        })?
        .len();
    buf.truncate(n);
    Ok(buf)
}

fn cipher_key(chacha: bool, secret: &EncryptionInput, salt: &[u8]) -> Result<LessSafeKey, Failure> {
    let raw: [u8; 32] = match secret {
        EncryptionInput::Key(k) => *k,
        EncryptionInput::Passphrase(p) => {
            let params = Params::new(19_456, 2, 1, Some(32)).map_err(|_| bad("kdf parameters"))?;
            let mut out = [0u8; 32];
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password_into(p.as_bytes(), salt, &mut out)
                .map_err(|_| Failure::new("key derivation failed"))?;
            out
        }
        _ => return Err(Failure::new("unsupported secret")),
    };
    let alg = if chacha {
        &CHACHA20_POLY1305
    } else {
        &AES_256_GCM
    };
    Ok(LessSafeKey::new(
        UnboundKey::new(alg, &raw).map_err(|_| bad("key"))?,
    ))
}

fn read_old(
    path: &Path,
    image: &[u8],
    progress: &Progress,
) -> Result<(Content, Option<(EncryptionInput, bool)>), Failure> {
    let header = image
        .get(..HEADER_LEN)
        .ok_or_else(|| bad("shorter than its 4096-byte header"))?;
    if header.get(..4) != Some(b"EMDB") || header[4..16].iter().any(|b| *b != 0) {
        return Err(bad("wrong magic"));
    }
    let word = |at: usize| {
        u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    if word(16) != 1 {
        return Err(bad(&format!("format version {}", word(16))));
    }
    if crc32fast::hash(&header[..116]) != word(116) {
        return Err(bad("header checksum mismatch"));
    }
    let flags = word(20);
    let (encrypted, chacha) = (flags & 1 != 0, flags & 2 != 0);
    let salt = &header[40..56];
    let sealed = if encrypted {
        let secret = old_secret(path, salt)?;
        let key = cipher_key(chacha, &secret, salt)?;
        let check = open_sealed(&key, &header[56..116])?;
        if !check.starts_with(VERIFY_PLAINTEXT) {
            return Err(Failure::new("encryption key mismatch"));
        }
        Some((key, secret))
    } else {
        None
    };
    let mut content = Content::default();
    let bar = progress.bar(image.len() as u64, "reading");
    let mut cursor = HEADER_LEN;
    while let Some(len_bytes) = image.get(cursor..cursor + 4) {
        let len =
            u32::from_le_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]) as usize;
        let Some(frame) = image
            .get(cursor + 4..cursor + 4 + len + 4)
            .filter(|_| len > 0)
        else {
            break;
        };
        let (tagged, crc) = frame.split_at(len);
        if crc32fast::hash(tagged) != u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) {
            break; // 0.8.5 stops at the first bad checksum (a torn tail)
        }
        let (tag, body) = (tagged[0], &tagged[1..]);
        let plain = match (&sealed, tag & 0x80 != 0) {
            (Some((key, _)), true) => open_sealed(key, body)?,
            (None, false) => body.to_vec(),
            _ => {
                return Err(bad(&format!(
                    "mixed plaintext and encrypted records at offset {cursor}"
                )));
            }
        };
        let mut r = Reader {
            buf: &plain,
            pos: 0,
        };
        match tag & 0x7f {
            0 => {
                let ns = r.u32()?;
                let key = r.bytes()?;
                let value = r.bytes()?;
                let expires = r.u64()?;
                content.records.insert((ns, key), (value, expires));
            }
            1 => {
                let ns = r.u32()?;
                let key = r.bytes()?;
                content.records.remove(&(ns, key));
            }
            2 => {
                let ns = r.u32()?;
                let name = String::from_utf8(r.bytes()?)
                    .map_err(|_| bad("namespace name is not UTF-8"))?;
                if ns != 0 && !name.is_empty() {
                    content.names.insert(ns, name);
                }
            }
            other => {
                return Err(bad(&format!(
                    "unknown record kind {other} at offset {cursor}"
                )));
            }
        }
        cursor += 4 + len + 4;
        bar.set_position(cursor as u64);
    }
    bar.finish_and_clear();
    Ok((content, sealed.map(|(_, s)| (s, chacha))))
}

fn old_secret(path: &Path, salt: &[u8]) -> Result<EncryptionInput, Failure> {
    // The old header has no KDF field: a zero salt means a raw key.
    let mut fake = emdb_format::FileHeader::new_plain([0; 16], 0);
    fake.kdf.kdf = u8::from(salt.iter().any(|b| *b != 0));
    crate::secrets::current(path, &fake)
}

pub(crate) fn run(old: &Path, new: &Path, progress: &Progress) -> Result<(), Failure> {
    if new.exists() {
        return Err(Failure::new(format!(
            "{} already exists; migrate writes a new database",
            new.display()
        )));
    }
    let image = crate::verify::read_image(old).map_err(|f| Failure::new(f.message))?;
    let (content, secret) = read_old(old, &image, progress)?;
    let mut b = EmdbBuilder::new().path(new);
    if let Some((secret, chacha)) = &secret {
        b = match secret {
            EncryptionInput::Key(k) => b.encryption_key(*k),
            EncryptionInput::Passphrase(p) => b.encryption_passphrase(p.clone()),
            _ => b,
        };
        b = b.cipher(if *chacha {
            emdb::Cipher::ChaCha20Poly1305
        } else {
            emdb::Cipher::Aes256Gcm
        });
    }
    let db = b.build()?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let name_of = |ns: u32| -> String {
        if ns == 0 {
            String::new()
        } else {
            content
                .names
                .get(&ns)
                .cloned()
                .unwrap_or_else(|| format!("orphan-{ns}"))
        }
    };
    let mut by_ns: BTreeMap<u32, Vec<Record>> = BTreeMap::new();
    for ((ns, k), (v, e)) in content.records {
        if e != 0 && e <= now {
            continue; // expired in the old database too: invisible, not migrated
        }
        by_ns.entry(ns).or_default().push((k, v, e));
    }
    for ns in content.names.keys() {
        db.namespace(name_of(*ns))?;
    }
    let bar = progress.bar(by_ns.values().map(|v| v.len() as u64).sum(), "writing");
    let mut written = 0u64;
    for (ns, mut items) in by_ns {
        items.sort();
        let space = (ns != 0).then(|| db.namespace(name_of(ns))).transpose()?;
        for chunk in items.chunks(10_000) {
            let plain = chunk
                .iter()
                .filter(|(_, _, e)| *e == 0)
                .map(|(k, v, _)| (k, v));
            match &space {
                Some(n) => n.insert_many(plain)?,
                None => db.insert_many(plain)?,
            }
            for (k, v, e) in chunk.iter().filter(|(_, _, e)| *e != 0) {
                let ttl = Ttl::After(Duration::from_millis(e - now));
                match &space {
                    Some(n) => n.insert_with_ttl(k.clone(), v.clone(), ttl)?,
                    None => db.insert_with_ttl(k.clone(), v.clone(), ttl)?,
                }
            }
            written += chunk.len() as u64;
            bar.set_position(written);
        }
    }
    db.flush()?;
    bar.finish_and_clear();
    println!(
        "migrated {written} records in {} namespace(s) from {} to {}",
        db.list_namespaces()?.len(),
        old.display(),
        new.display()
    );
    Ok(())
}
