//! The per-record sealer hook: sealed entries never show plaintext, are bound to their offset
//! and file, survive reopen and compaction, and a wrong or missing key is refused at open.
//!
//! The sealer here is a test cipher (an xxh3 keystream with an xxh3 tag); the real AEAD comes
//! from `emdb-crypt`. It is enough to check the engine's side: what it seals, with which
//! associated data, and where it checks.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use emdb_engine::format::FileHeader;
use emdb_engine::format::header::FLAG_ENCRYPTED;
use emdb_engine::format::scan::Scanner;
use emdb_engine::sealer::{SealError, Sealer};
use emdb_engine::{Engine, EngineConfig, EngineError};
use xxhash_rust::xxh3::{xxh3_64_with_seed, xxh3_128_with_seed};

use crate::common::*;

#[derive(Debug)]
pub(crate) struct TestSealer {
    key: u64,
    nonce: AtomicU64,
}

impl TestSealer {
    pub(crate) fn shared(key: u64) -> Arc<dyn Sealer> {
        Arc::new(TestSealer {
            key,
            nonce: AtomicU64::new(1),
        })
    }

    fn keystream(&self, nonce: &[u8], data: &mut [u8]) {
        for (i, chunk) in data.chunks_mut(8).enumerate() {
            let mut block = nonce.to_vec();
            block.extend_from_slice(&(i as u64).to_le_bytes());
            let ks = xxh3_64_with_seed(&block, self.key).to_le_bytes();
            for (b, k) in chunk.iter_mut().zip(ks) {
                *b ^= k;
            }
        }
    }

    fn tag(&self, aad: &[u8], nonce: &[u8], ct: &[u8]) -> [u8; 16] {
        let mut m = aad.to_vec();
        m.extend_from_slice(nonce);
        m.extend_from_slice(ct);
        xxh3_128_with_seed(&m, self.key).to_le_bytes()
    }
}

impl Sealer for TestSealer {
    fn seal(&self, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), SealError> {
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&self.nonce.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        let mut ct = plaintext.to_vec();
        self.keystream(&nonce, &mut ct);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out.extend_from_slice(&self.tag(aad, &nonce, &ct));
        Ok(())
    }

    fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let (nonce, rest) = sealed.split_at(12);
        let (ct, tag) = rest.split_at(rest.len().checked_sub(16).ok_or(SealError)?);
        if self.tag(aad, nonce, ct) != tag {
            return Err(SealError);
        }
        let mut pt = ct.to_vec();
        self.keystream(nonce, &mut pt);
        Ok(pt)
    }

    fn init_header(&self, header: &mut FileHeader) -> Result<(), SealError> {
        header.flags |= FLAG_ENCRYPTED;
        header.key_check[..8].copy_from_slice(&xxh3_64_with_seed(b"check", self.key).to_le_bytes());
        Ok(())
    }

    fn index_seed(&self, file_id: &[u8; 16]) -> u64 {
        xxh3_64_with_seed(file_id, self.key)
    }

    fn check_header(&self, header: &FileHeader) -> Result<(), SealError> {
        let want = xxh3_64_with_seed(b"check", self.key).to_le_bytes();
        if header.key_check[..8] == want {
            Ok(())
        } else {
            Err(SealError)
        }
    }
}

pub(crate) fn sealed_config(key: u64, mmap: bool) -> EngineConfig {
    os_config(mmap).with_sealer(Some(TestSealer::shared(key)))
}

#[test]
fn sealed_records_round_trip_and_never_show_plaintext() {
    let (_d, path) = temp_db();
    {
        let e = open(&path, sealed_config(7, true));
        let ns = e.create_namespace("secret-namespace").unwrap();
        e.put(ns, b"PLAINKEY", b"PLAINVALUE", 0).unwrap();
        for i in 0..200 {
            e.put(0, &key(i), &value(i, 0), 0).unwrap();
        }
        e.compact(None).unwrap();
        e.put(0, b"PLAINKEY2", b"PLAINVALUE2", 0).unwrap();
    }
    let raw = std::fs::read(&path).unwrap();
    for needle in [
        &b"PLAINKEY"[..],
        b"PLAINVALUE",
        b"secret-namespace",
        b"key-0000",
    ] {
        assert!(
            !raw.windows(needle.len()).any(|w| w == needle),
            "plaintext on disk"
        );
    }
    for mmap in [true, false] {
        let e = open(&path, sealed_config(7, mmap));
        let ns = e.namespace_id("secret-namespace").unwrap();
        assert_eq!(e.get(ns, b"PLAINKEY").unwrap().unwrap().0, b"PLAINVALUE");
        assert_eq!(e.get(0, b"PLAINKEY2").unwrap().unwrap().0, b"PLAINVALUE2");
        assert_eq!(e.len(0).unwrap(), 201);
        assert!(matches!(
            e.get_ref(0, b"PLAINKEY2").unwrap().unwrap().0,
            emdb_engine::ValueBytes::Owned(_)
        ));
        let records: Vec<_> = e.iter(ns).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(records, [(b"PLAINKEY".to_vec(), b"PLAINVALUE".to_vec(), 0)]);
        let keys: Vec<_> = e
            .iter(ns)
            .unwrap()
            .keys_only()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(keys, [(b"PLAINKEY".to_vec(), Vec::new(), 0)]);
    }
}

/// Range scans of a sealed file (whose read view has no map: each page is read through the
/// reader's current map, or with `pread`) return every record, also when the file grew between
/// two pages of a scan.
#[test]
fn range_scans_of_a_sealed_file_read_every_record() {
    use std::ops::Bound;
    for mmap in [true, false] {
        let (_d, path) = temp_db();
        let e = open(&path, sealed_config(7, mmap).with_range_index(true));
        let ns = e.create_namespace("n").unwrap();
        for i in 0..100 {
            e.put(0, &key(i), &value(i, 0), 0).unwrap();
            e.put(ns, &key(i), &value(i, 1), 0).unwrap();
        }
        let before = e.logical_size();
        let mut it = e
            .range_iter(0, Bound::Included(&key(10)), Bound::Unbounded)
            .unwrap();
        // The first page holds 16 records; the file grows before the second is fetched.
        for i in 10..26 {
            assert_eq!(it.next().unwrap().unwrap(), (key(i), value(i, 0), 0));
        }
        for i in 0..40 {
            e.put(ns, format!("z{i}").as_bytes(), &[9; 4096], 0)
                .unwrap();
        }
        assert!(e.logical_size() > before + (64 << 10), "the file grew");
        let rest: Vec<_> = it.map(Result::unwrap).collect();
        let want: Vec<_> = (26..100).map(|i| (key(i), value(i, 0), 0)).collect();
        assert_eq!(rest, want);
        let named: Vec<_> = e
            .range_iter(ns, Bound::Unbounded, Bound::Excluded(&key(50)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let want: Vec<_> = (0..50).map(|i| (key(i), value(i, 1), 0)).collect();
        assert_eq!(named, want);
    }
}

/// A sealed transaction large enough to be sealed while it is written (about 3 MiB, in pieces
/// with its header last): no plaintext reaches the disk, and every entry is bound to its own
/// offset (a reopen authenticates each one where it lies).
#[test]
fn a_large_sealed_transaction_is_sealed_while_it_is_written() {
    let (_d, path) = temp_db();
    let keys: Vec<Vec<u8>> = (0u32..3_000)
        .map(|i| format!("BIGKEY-{i:06}").into_bytes())
        .collect();
    let value = b"PLAINVALUE".repeat(100);
    {
        let e = open(&path, sealed_config(9, true).with_snapshot_on_close(false));
        e.put(0, b"before", b"small", 0).unwrap();
        e.commit(&puts(&keys, &value)).unwrap();
        e.put(0, b"after", b"small", 0).unwrap();
        assert_eq!(e.get(0, &keys[1_234]).unwrap().unwrap().0, value);
    }
    let raw = std::fs::read(&path).unwrap();
    for needle in [&b"PLAINVALUE"[..], b"BIGKEY-"] {
        assert!(!raw.windows(needle.len()).any(|w| w == needle));
    }
    let sealed_frames = Scanner::new(&raw, 4096)
        .filter(|f| f.frame.flags.is_sealed())
        .map(|f| f.frame.len())
        .collect::<Vec<_>>();
    assert_eq!(sealed_frames.len(), 3);
    assert!(sealed_frames[1] > 3_000 * value.len());
    for mmap in [true, false] {
        let e = open(&path, sealed_config(9, mmap));
        assert_eq!(e.len(0).unwrap(), 3_002);
        for k in keys.iter().step_by(97) {
            assert_eq!(e.get(0, k).unwrap().unwrap().0, value);
        }
        assert_eq!(e.get(0, b"after").unwrap().unwrap().0, b"small");
    }
}

/// A sealer that fails, or appends a short envelope, once its countdown runs out.
#[derive(Debug)]
struct FailingSealer {
    inner: Arc<dyn Sealer>,
    /// Seals left before the failure (`u64::MAX`: never fails).
    left: AtomicU64,
    short: bool,
}

impl Sealer for FailingSealer {
    fn seal(&self, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), SealError> {
        if self.left.fetch_sub(1, Ordering::Relaxed) != 0 {
            return self.inner.seal(aad, plaintext, out);
        }
        self.left.store(u64::MAX, Ordering::Relaxed);
        if self.short {
            self.inner.seal(aad, plaintext, out)?;
            out.truncate(out.len() - 8);
            Ok(())
        } else {
            Err(SealError)
        }
    }
    fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        self.inner.open(aad, sealed)
    }
    fn init_header(&self, header: &mut FileHeader) -> Result<(), SealError> {
        self.inner.init_header(header)
    }
    fn index_seed(&self, file_id: &[u8; 16]) -> u64 {
        self.inner.index_seed(file_id)
    }
    fn check_header(&self, header: &FileHeader) -> Result<(), SealError> {
        self.inner.check_header(header)
    }
}

/// A seal that fails part-way through a large transaction, after some of its pieces are on
/// disk: the commit fails with a typed error and poisons the engine (the tail holds part of a
/// frame), and a reopen holds everything before it and nothing of it.
#[test]
fn a_seal_failing_inside_a_large_transaction_poisons_and_keeps_what_came_before() {
    let keys: Vec<Vec<u8>> = (0u32..3_000).map(|i| i.to_le_bytes().to_vec()).collect();
    let value = vec![0x42; 1_000];
    for short in [false, true] {
        let (_d, path) = temp_db();
        let sealer = Arc::new(FailingSealer {
            inner: TestSealer::shared(5),
            left: AtomicU64::new(u64::MAX),
            short,
        });
        {
            let e = open(
                &path,
                os_config(true).with_sealer(Some(sealer.clone() as Arc<dyn Sealer>)),
            );
            e.put(0, b"before", b"kept", 0).unwrap();
            e.flush().unwrap();
            // A small frame is sealed before any byte is written: a typed error, nothing
            // written, and the engine goes on.
            sealer.left.store(0, Ordering::Relaxed);
            let r = e.put(0, b"refused", b"x", 0);
            assert!(matches!(r, Err(EngineError::Seal { .. })), "{r:?}");
            assert_eq!(e.get(0, b"refused").unwrap(), None);
            // Past the first 1 MiB piece, which is on disk by then.
            sealer.left.store(2_000, Ordering::Relaxed);
            let r = e.commit(&puts(&keys, &value));
            assert!(matches!(r, Err(EngineError::Seal { .. })), "{r:?}");
            assert!(matches!(
                e.put(0, b"after", b"x", 0),
                Err(EngineError::Poisoned)
            ));
        }
        let e = open(&path, sealed_config(5, true));
        assert_eq!(e.get(0, b"before").unwrap().unwrap().0, b"kept");
        assert_eq!(e.len(0).unwrap(), 1, "short envelope: {short}");
        e.put(0, b"after", b"written", 0).unwrap();
        drop(e);
        let e = open(&path, sealed_config(5, false));
        assert_eq!(e.len(0).unwrap(), 2);
    }
}

#[test]
fn wrong_or_missing_key_is_refused_and_plain_files_refuse_keys() {
    let (d, path) = temp_db();
    drop(open(&path, sealed_config(1, true)));
    assert!(matches!(
        Engine::open(&path, sealed_config(2, true)),
        Err(EngineError::KeyMismatch)
    ));
    assert!(matches!(
        Engine::open(&path, os_config(true)),
        Err(EngineError::SealerMismatch {
            file_encrypted: true
        })
    ));
    let plain = d.path().join("plain.emdb");
    drop(open(&plain, os_config(true)));
    let before = std::fs::read(&plain).unwrap();
    assert!(matches!(
        Engine::open(&plain, sealed_config(1, true)),
        Err(EngineError::SealerMismatch {
            file_encrypted: false
        })
    ));
    assert_eq!(
        std::fs::read(&plain).unwrap(),
        before,
        "file left untouched"
    );
}

#[test]
fn a_sealed_entry_moved_to_another_offset_fails_authentication() {
    let (_d, path) = temp_db();
    {
        let e = open(&path, sealed_config(3, true).with_snapshot_on_close(false));
        e.put(0, b"aaaa", b"1111", 0).unwrap();
        e.put(0, b"bbbb", b"2222", 0).unwrap();
        e.flush().unwrap();
    }
    let image = std::fs::read(&path).unwrap();
    let frames: Vec<_> = Scanner::new(&image, 4096)
        .map(|f| (f.offset, f.frame.len()))
        .collect();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].1, frames[1].1);
    // Swap the two frames' items: each CRC stays valid, but the associated data does not.
    let (a, b, len) = (frames[0].0 as usize, frames[1].0 as usize, frames[0].1);
    let mut swapped = image.clone();
    swapped[a + 16..a + len].copy_from_slice(&image[b + 16..b + len]);
    swapped[b + 16..b + len].copy_from_slice(&image[a + 16..a + len]);
    for off in [a, b] {
        emdb_engine::format::frame::set_lag(&mut swapped[off..off + len], 0);
    }
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .write_all_at(&swapped, 0)
        .unwrap();
    match Engine::open(&path, sealed_config(3, true)) {
        Err(EngineError::Unseal { offset }) => assert_eq!(offset, a as u64 + 16),
        other => panic!("expected an authentication failure, got {other:?}"),
    }
}

mod real_cipher {
    use std::sync::Arc;

    use emdb_engine::crypt::{Cipher, Key};
    use emdb_engine::encryption::CryptoSealer;
    use emdb_engine::format::KdfParams;
    use emdb_engine::sealer::Sealer;
    use emdb_engine::{Engine, EngineError};

    use crate::common::*;

    #[expect(
        clippy::unnecessary_wraps,
        reason = "the shape EngineConfig::with_sealer takes"
    )]
    fn sealer(cipher: Cipher, byte: u8) -> Option<Arc<dyn Sealer>> {
        Some(Arc::new(
            CryptoSealer::new(cipher, Key::new([byte; 32]), KdfParams::default()).unwrap(),
        ))
    }

    #[test]
    fn reseal_round_trips_keep_records_namespaces_and_expiries() {
        let (_d, path) = temp_db();
        {
            let e = open(&path, os_config(true));
            let ns = e.create_namespace("secret-ns").unwrap();
            e.put(ns, b"SECRETKEY", b"SECRETVALUE", 123_456).unwrap();
            e.put(0, b"plain", b"x", 0).unwrap();
            e.reseal(sealer(Cipher::ChaCha20Poly1305, 1)).unwrap();
        }
        let raw = std::fs::read(&path).unwrap();
        let snap = std::fs::read(emdb_engine::snapshot_path(&path)).unwrap();
        for needle in [&b"SECRETKEY"[..], b"SECRETVALUE", b"secret-ns"] {
            assert!(!raw.windows(needle.len()).any(|w| w == needle));
            assert!(
                !snap.windows(needle.len()).any(|w| w == needle),
                "snapshot leaks"
            );
        }
        assert!(matches!(
            Engine::open(&path, os_config(true)),
            Err(EngineError::SealerMismatch {
                file_encrypted: true
            })
        ));
        assert!(matches!(
            Engine::open(
                &path,
                os_config(true).with_sealer(sealer(Cipher::ChaCha20Poly1305, 2))
            ),
            Err(EngineError::KeyMismatch)
        ));
        assert!(matches!(
            Engine::open(
                &path,
                os_config(true).with_sealer(sealer(Cipher::Aes256Gcm, 1))
            ),
            Err(EngineError::KeyMismatch)
        ));
        {
            let e = open(
                &path,
                os_config(true).with_sealer(sealer(Cipher::ChaCha20Poly1305, 1)),
            );
            e.put(0, b"while-encrypted", b"y", 0).unwrap();
            e.compact(None).unwrap();
            e.reseal(sealer(Cipher::ChaCha20Poly1305, 9)).unwrap();
            e.put(0, b"after-rotate", b"z", 0).unwrap();
        }
        let e = open(
            &path,
            os_config(false).with_sealer(sealer(Cipher::ChaCha20Poly1305, 9)),
        );
        let ns = e.namespace_id("secret-ns").unwrap();
        assert_eq!(
            e.get(ns, b"SECRETKEY").unwrap(),
            Some((b"SECRETVALUE".to_vec(), 123_456))
        );
        assert_eq!(e.len(0).unwrap(), 3);
        e.reseal(None).unwrap();
        drop(e);
        let e = open(&path, os_config(true));
        assert_eq!(
            e.get(ns, b"SECRETKEY").unwrap(),
            Some((b"SECRETVALUE".to_vec(), 123_456))
        );
        assert_eq!(dump(&e, 0).len(), 3);
    }
}
