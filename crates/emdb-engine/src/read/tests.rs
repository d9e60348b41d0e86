//! Unit tests of point reads: the read view's fallbacks and sealed lookups.

use std::sync::Arc;

use super::*;
use crate::config::EngineConfig;
use crate::sealer::SealError;

/// A probe retried after overlapping a move may have accepted an entry in the discarded
/// attempt; only a hit at the offset the lookup returned is used.
#[test]
fn only_the_hit_at_the_returned_offset_counts() {
    assert_eq!(accepted(Some(8), Some((8, 'a'))), Some('a'));
    assert_eq!(accepted(None, Some((8, 'a'))), None);
    assert_eq!(accepted(Some(16), Some((8, 'a'))), None);
    assert_eq!(accepted::<char>(Some(8), None), None);
}

#[test]
fn a_read_through_a_view_older_than_the_record_takes_the_general_path() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(dir.path().join("db"), EngineConfig::default()).unwrap();
    e.put(0, b"first", b"1", 0).unwrap();
    // A view taken now maps only the first preallocated chunk.
    let old = e.view.load_full();
    let old_len = old.map.as_ref().map(|m| m.as_slice().len()).unwrap();
    let value = vec![7u8; 4096];
    let mut i = 0u32;
    while e.logical_size() <= old_len as u64 {
        e.put(0, &i.to_le_bytes(), &value, 0).unwrap();
        i += 1;
    }
    let last = (i - 1).to_le_bytes();
    assert!(
        !Arc::ptr_eq(&old, &e.view.load_full()),
        "growing the file published a new view"
    );
    // A reader still holding the old view finds an offset past its map and must not fail.
    let current = e.view.swap(old);
    let (v, _) = e.get_ref(0, &last).unwrap().unwrap();
    assert_eq!(v.as_slice(), &value[..]);
    assert_eq!(e.get_ref(0, b"first").unwrap().unwrap().0.as_slice(), b"1");
    assert_eq!(e.get(0, &last).unwrap(), Some((value.clone(), 0)));
    assert_eq!(e.get(0, b"first").unwrap(), Some((b"1".to_vec(), 0)));
    assert_eq!(e.expires_at(0, &last).unwrap(), Some(0));
    assert_eq!(e.get(0, b"missing").unwrap(), None);
    e.view.store(current);
    assert_eq!(
        e.get_ref(0, &last).unwrap().unwrap().0.as_slice(),
        &value[..]
    );
}

/// Seals nothing secret: a zero nonce, the plaintext, and a tag binding it to its associated
/// data. Enough for the engine's side of a sealed file (what it opens, and how often).
#[derive(Debug, Default)]
struct VisibleSealer {
    opened: std::sync::atomic::AtomicUsize,
}

impl VisibleSealer {
    fn tag(aad: &[u8], text: &[u8]) -> [u8; 16] {
        let mut m = aad.to_vec();
        m.extend_from_slice(text);
        xxhash_rust::xxh3::xxh3_128(&m).to_le_bytes()
    }
}

impl crate::sealer::Sealer for VisibleSealer {
    fn seal(&self, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), SealError> {
        out.extend_from_slice(&[0; 12]);
        out.extend_from_slice(plaintext);
        out.extend_from_slice(&Self::tag(aad, plaintext));
        Ok(())
    }

    fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        self.opened
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let text = sealed
            .get(12..sealed.len().saturating_sub(16))
            .ok_or(SealError)?;
        if Self::tag(aad, text)[..] != sealed[sealed.len() - 16..] {
            return Err(SealError);
        }
        Ok(text.to_vec())
    }

    fn init_header(&self, header: &mut emdb_format::FileHeader) -> Result<(), SealError> {
        header.flags |= emdb_format::header::FLAG_ENCRYPTED;
        Ok(())
    }

    fn index_seed(&self, _: &[u8; 16]) -> u64 {
        7
    }

    fn check_header(&self, _: &emdb_format::FileHeader) -> Result<(), SealError> {
        Ok(())
    }
}

/// Two keys whose index hashes are equal, found by trying keys until two collide.
fn colliding_keys(e: &Engine) -> (Vec<u8>, Vec<u8>) {
    let index = &e.generation.load().index;
    let mut seen = std::collections::HashMap::new();
    for i in 0u64.. {
        let k = format!("key-{i}").into_bytes();
        let h = index.hash(&k);
        if let Some(other) = seen.insert(h, k.clone()) {
            return (other, k);
        }
    }
    unreachable!("the tag space is finite")
}

/// A sealed read decrypts each candidate record once: one whose hash matches but whose key is
/// another's is passed over (an absent key reads as absent), and the record that holds the key
/// gives its value from that same opening, on every point-read path.
#[test]
fn sealed_reads_open_each_candidate_once_and_pass_over_a_colliding_key() {
    let dir = tempfile::tempdir().unwrap();
    let sealer = Arc::new(VisibleSealer::default());
    let config = EngineConfig::default().with_sealer(Some(sealer.clone()));
    let e = Engine::open(dir.path().join("db"), config).unwrap();
    let (a, b) = colliding_keys(&e);
    e.put(0, &a, b"value of a", 0).unwrap();
    let opened = || sealer.opened.load(std::sync::atomic::Ordering::Relaxed);

    let before = opened();
    assert!(
        e.get_ref(0, &b).unwrap().is_none(),
        "b shares a's hash only"
    );
    assert!(e.get(0, &b).unwrap().is_none());
    assert_eq!(opened() - before, 2, "a's record opened once per read");

    e.put(0, &b, b"value of b", 9).unwrap();
    for (key, value, expiry) in [(&a, &b"value of a"[..], 0), (&b, b"value of b", 9)] {
        let before = opened();
        let (v, exp) = e.get_ref(0, key).unwrap().unwrap();
        assert_eq!((v.as_slice(), exp), (value, expiry));
        assert_eq!(e.get(0, key).unwrap(), Some((value.to_vec(), expiry)));
        assert_eq!(e.expires_at(0, key).unwrap(), Some(expiry));
        // Each read opens the candidates it compares, once each: a's read opens only a's
        // record if the probe meets it first, b's record too otherwise (and likewise for b).
        let per_read = (opened() - before) / 3;
        assert!((1..=2).contains(&per_read), "{per_read} openings per read");
        assert_eq!((opened() - before) % 3, 0);
    }

    // A record damaged on disk fails its opening: an error at its offset, not a miss.
    let path = dir.path().join("db");
    let image = std::fs::read(&path).unwrap();
    let at = image.windows(10).position(|w| w == b"value of a").unwrap();
    let byte = [image[at] ^ 1];
    std::os::unix::fs::FileExt::write_all_at(
        &std::fs::File::options().write(true).open(&path).unwrap(),
        &byte,
        at as u64,
    )
    .unwrap();
    let value_at = at as u64;
    for read in [e.get_ref(0, &a).map(drop), e.get(0, &a).map(drop)] {
        assert!(
            matches!(read, Err(EngineError::Unseal { offset }) if offset < value_at && value_at - offset < 128),
            "{read:?}"
        );
    }
}

/// The general read path (no read-view map: here a log read with `pread`) passes over a record
/// whose hash matches but whose key differs, and reads the value of the one that holds the key
/// from the same decode.
#[test]
fn general_reads_pass_over_a_colliding_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig::default().with_mmap(false);
    let e = Engine::open(dir.path().join("db"), config).unwrap();
    let (a, b) = colliding_keys(&e);
    e.put(0, &a, b"value of a", 0).unwrap();
    assert!(
        e.get_ref(0, &b).unwrap().is_none(),
        "b shares a's hash only"
    );
    e.put(0, &b, b"value of b", 4).unwrap();
    for (key, value, expiry) in [(&a, &b"value of a"[..], 0), (&b, b"value of b", 4)] {
        let (v, exp) = e.get_ref(0, key).unwrap().unwrap();
        assert_eq!((v.as_slice(), exp), (value, expiry));
        assert!(matches!(v, ValueBytes::Owned(_)), "read with pread");
    }
}
