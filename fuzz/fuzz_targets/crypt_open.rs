//! Opening arbitrary ciphertext never panics: record opening and key checks on fuzzed bytes,
//! and the engine opening an encrypted-looking file whose log is fuzzed bytes.
#![no_main]

use std::path::Path;
use std::sync::Arc;

use emdb_crypt::{Cipher, Key, RecordCipher};
use emdb_engine::encryption::CryptoSealer;
use emdb_engine::format::{FileHeader, KdfParams};
use emdb_engine::sealer::Sealer;
use emdb_engine::storage::faulty::FaultyStorage;
use emdb_engine::storage::{OpenMode, Storage};
use emdb_engine::{Engine, EngineConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let cipher = if mode & 1 == 0 {
        Cipher::Aes256Gcm
    } else {
        Cipher::ChaCha20Poly1305
    };
    let rc = RecordCipher::new(cipher, Key::new([mode; 32])).unwrap();
    assert!(rc.open(&[mode; 16], b"aad", rest).is_err() || rest.len() >= 28);
    if let Some(block) = rest.get(..64) {
        let _ = rc.verify_key_check(&[0; 16], block.try_into().unwrap());
    }

    // An encrypted file with a valid header for this key, followed by fuzzed log bytes.
    let sealer =
        Arc::new(CryptoSealer::new(cipher, Key::new([mode; 32]), KdfParams::default()).unwrap());
    let mut header = FileHeader::new_plain([mode; 16], 0);
    sealer.init_header(&mut header).unwrap();
    let mut file = header.encode_region().to_vec();
    file.extend_from_slice(rest);
    let storage = FaultyStorage::new();
    let path = Path::new("/fuzz/enc.emdb");
    let f = storage.open(path, OpenMode::Truncate).unwrap();
    f.write_at(&file, 0).unwrap();
    f.sync_all().unwrap();
    storage.sync_dir(Path::new("/fuzz")).unwrap();
    let config = EngineConfig::default()
        .with_storage(Arc::new(storage.clone()))
        .with_sealer(Some(sealer))
        .with_prealloc_min(4096);
    if let Ok(e) = Engine::open(path, config) {
        for item in e.iter(0).unwrap() {
            let _ = item;
        }
        e.put(0, b"k", b"v", 0).unwrap();
    }
});
