//! Known-answer, tamper and binding tests of record sealing and the key check.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use emdb_crypt::{Cipher, CryptoError, Key, Passphrase, RecordCipher};

const FILE: [u8; 16] = [7; 16];
const OTHER_FILE: [u8; 16] = [8; 16];

fn ciphers() -> Vec<RecordCipher> {
    [Cipher::Aes256Gcm, Cipher::ChaCha20Poly1305]
        .into_iter()
        .map(|c| RecordCipher::new(c, Key::new([42; 32])).unwrap())
        .collect()
}

#[test]
fn seal_open_round_trip_hides_plaintext() {
    for c in ciphers() {
        let mut out = vec![];
        c.seal(&FILE, 4096, b"aad", b"secret value bytes", &mut out)
            .unwrap();
        assert_eq!(out.len(), 12 + 18 + 16);
        assert!(!out.windows(6).any(|w| w == b"secret"));
        assert_eq!(c.open(&FILE, b"aad", &out).unwrap(), b"secret value bytes");
    }
}

#[test]
fn every_flipped_bit_and_every_binding_change_fails() {
    for c in ciphers() {
        let mut out = vec![];
        c.seal(&FILE, 8192, b"file+offset", b"value", &mut out)
            .unwrap();
        for i in 0..out.len() * 8 {
            let mut bad = out.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert_eq!(
                c.open(&FILE, b"file+offset", &bad),
                Err(CryptoError::Decrypt),
                "bit {i}"
            );
        }
        assert_eq!(
            c.open(&FILE, b"file+other", &out),
            Err(CryptoError::Decrypt)
        );
        assert_eq!(
            c.open(&OTHER_FILE, b"file+offset", &out),
            Err(CryptoError::Decrypt)
        );
        assert_eq!(
            c.open(&FILE, b"file+offset", &out[..10]),
            Err(CryptoError::Decrypt)
        );
        let wrong = RecordCipher::new(c.cipher(), Key::new([43; 32])).unwrap();
        assert_eq!(
            wrong.open(&FILE, b"file+offset", &out),
            Err(CryptoError::Decrypt)
        );
    }
}

#[test]
fn nonces_differ_per_offset_and_per_open() {
    let a = RecordCipher::new(Cipher::Aes256Gcm, Key::new([1; 32])).unwrap();
    let b = RecordCipher::new(Cipher::Aes256Gcm, Key::new([1; 32])).unwrap();
    let seal = |c: &RecordCipher, off| {
        let mut out = vec![];
        c.seal(&FILE, off, b"", b"same", &mut out).unwrap();
        out
    };
    assert_ne!(seal(&a, 4096)[..12], seal(&a, 4104)[..12]);
    assert_ne!(
        seal(&a, 4096)[..12],
        seal(&b, 4096)[..12],
        "random per-open prefix"
    );
    assert_eq!(seal(&a, 4096)[4..12], 4096u64.to_le_bytes());
}

#[test]
fn key_check_accepts_the_key_and_refuses_others() {
    for c in ciphers() {
        let block = c.key_check(&FILE).unwrap();
        c.verify_key_check(&FILE, &block).unwrap();
        assert_eq!(
            c.verify_key_check(&OTHER_FILE, &block),
            Err(CryptoError::Decrypt)
        );
        let wrong = RecordCipher::new(c.cipher(), Key::new([0; 32])).unwrap();
        assert_eq!(
            wrong.verify_key_check(&FILE, &block),
            Err(CryptoError::Decrypt)
        );
        let other_cipher = if c.cipher() == Cipher::Aes256Gcm {
            Cipher::ChaCha20Poly1305
        } else {
            Cipher::Aes256Gcm
        };
        let swapped = RecordCipher::new(other_cipher, Key::new([42; 32])).unwrap();
        assert_eq!(
            swapped.verify_key_check(&FILE, &block),
            Err(CryptoError::Decrypt)
        );
    }
}

#[test]
fn secrets_never_print() {
    let k = Key::new([0xAB; 32]);
    let p = Passphrase::new("hunter2".into());
    let c = RecordCipher::new(Cipher::Aes256Gcm, k.clone()).unwrap();
    for s in [format!("{k:?}"), format!("{p:?}"), format!("{c:?}")] {
        assert!(
            !s.contains("hunter2") && !s.contains("171") && !s.to_lowercase().contains("ab, ab"),
            "{s}"
        );
    }
}

/// The cipher caches two files' record keys. Threads sealing and opening records of two files
/// at once (a compaction copying into a new file while readers use the old one) find both
/// cached; with a third file in the mix they keep evicting one another's. Either way every
/// record opens with its own file's key and no other.
#[test]
fn records_of_several_files_round_trip_while_threads_share_the_key_cache() {
    const THIRD_FILE: [u8; 16] = [9; 16];
    for files in [&[FILE, OTHER_FILE][..], &[FILE, OTHER_FILE, THIRD_FILE]] {
        for c in ciphers() {
            std::thread::scope(|s| {
                for t in 0..4u64 {
                    let c = &c;
                    s.spawn(move || {
                        for i in 0..500u64 {
                            let at = usize::try_from(t + i).unwrap();
                            let file = files[at % files.len()];
                            let other = files[(at + 1) % files.len()];
                            let plain = format!("record {t}/{i}");
                            let mut out = vec![];
                            c.seal(&file, i * 64, b"aad", plain.as_bytes(), &mut out)
                                .unwrap();
                            assert_eq!(c.open(&file, b"aad", &out).unwrap(), plain.as_bytes());
                            assert_eq!(c.open(&other, b"aad", &out), Err(CryptoError::Decrypt));
                        }
                    });
                }
            });
        }
    }
}
