//! Encryption at rest (feature `encrypt`): keys, passphrases, mismatches, tampering, the admin
//! functions and their crash safety, and secrets kept out of `Debug`.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::FileExt;
use std::time::Duration;

#[cfg(feature = "ttl")]
use emdb::Ttl;
use emdb::{Cipher, Emdb, EmdbBuilder, EncryptionInput, Error};

use crate::common::*;

const KEY: [u8; 32] = [0x11; 32];
const OTHER: [u8; 32] = [0x22; 32];

fn with_key(path: &std::path::Path, key: [u8; 32]) -> emdb::Result<Emdb> {
    EmdbBuilder::new().path(path).encryption_key(key).build()
}

/// A new encrypted database at `path` using `cipher`.
fn with_cipher(path: &std::path::Path, cipher: Cipher) -> Emdb {
    EmdbBuilder::new()
        .path(path)
        .encryption_key(KEY)
        .cipher(cipher)
        .build()
        .unwrap()
}

/// Fails if any of `needles` appears anywhere in the file at `path`.
fn assert_no_plaintext(path: &std::path::Path, needles: &[&str]) {
    let raw = std::fs::read(path).unwrap();
    for needle in needles {
        assert!(
            !raw.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} on disk"
        );
    }
}

fn with_pass(path: &std::path::Path, pass: &str) -> emdb::Result<Emdb> {
    EmdbBuilder::new()
        .path(path)
        .encryption_passphrase(pass)
        .build()
}

#[test]
fn records_round_trip_and_no_plaintext_reaches_the_disk() {
    for cipher in [Cipher::Aes256Gcm, Cipher::ChaCha20Poly1305] {
        let (_d, path) = temp_path();
        {
            let db = with_cipher(&path, cipher);
            let ns = db.namespace("topsecret-namespace").unwrap();
            ns.insert("SECRET-KEY-1", "SECRET-VALUE-1").unwrap();
            #[cfg(feature = "ttl")]
            db.insert_with_ttl(
                "SECRET-KEY-2",
                "SECRET-VALUE-2",
                Ttl::After(Duration::from_secs(3600)),
            )
            .unwrap();
            #[cfg(not(feature = "ttl"))]
            db.insert("SECRET-KEY-2", "SECRET-VALUE-2").unwrap();
            db.insert_many([("SECRET-KEY-3", "SECRET-VALUE-3")])
                .unwrap();
            assert!(db.stats().unwrap().encrypted);
        }
        assert_no_plaintext(
            &path,
            &["SECRET-KEY", "SECRET-VALUE", "topsecret-namespace"],
        );
        let db = with_key(&path, KEY).unwrap();
        assert_eq!(
            db.namespace("topsecret-namespace")
                .unwrap()
                .get("SECRET-KEY-1")
                .unwrap(),
            Some(b"SECRET-VALUE-1".to_vec())
        );
        #[cfg(feature = "ttl")]
        assert!(db.ttl("SECRET-KEY-2").unwrap().is_some());
        assert_eq!(
            db.get("SECRET-KEY-2").unwrap(),
            Some(b"SECRET-VALUE-2".to_vec())
        );
        let v = db.get_zerocopy("SECRET-KEY-3").unwrap().unwrap();
        assert_eq!(v.as_slice(), b"SECRET-VALUE-3");
    }
}

/// A batch of about 4 MiB is sealed while it is written (not built whole first): with either
/// cipher it reads back before and after a reopen, and none of it is plaintext on disk.
#[test]
fn a_large_encrypted_batch_round_trips() {
    let keys: Vec<String> = (0..4_000).map(|i| format!("BULK-KEY-{i:05}")).collect();
    let value = "BULK-VALUE".repeat(100);
    for cipher in [Cipher::Aes256Gcm, Cipher::ChaCha20Poly1305] {
        let (_d, path) = temp_path();
        {
            let db = with_cipher(&path, cipher);
            db.insert_many(keys.iter().map(|k| (k.as_str(), value.as_str())))
                .unwrap();
            assert_eq!(
                db.get(&keys[3_999]).unwrap(),
                Some(value.clone().into_bytes())
            );
        }
        assert_no_plaintext(&path, &["BULK-KEY", "BULK-VALUE"]);
        // The cipher comes from the file.
        let db = with_key(&path, KEY).unwrap();
        assert_eq!(db.len().unwrap(), keys.len());
        for k in keys.iter().step_by(101) {
            assert_eq!(db.get(k).unwrap(), Some(value.clone().into_bytes()));
        }
    }
}

#[test]
fn wrong_keys_and_mismatched_settings_are_typed_errors_and_touch_nothing() {
    let (d, path) = temp_path();
    drop(with_key(&path, KEY).unwrap());
    let pass_path = d.path().join("pass.emdb");
    drop(with_pass(&pass_path, "right horse").unwrap());
    let plain_path = d.path().join("plain.emdb");
    Emdb::open(&plain_path).unwrap().insert("k", "v").unwrap();
    let before = [
        std::fs::read(&path).unwrap(),
        std::fs::read(&pass_path).unwrap(),
        std::fs::read(&plain_path).unwrap(),
    ];

    assert!(matches!(
        with_key(&path, OTHER),
        Err(Error::EncryptionKeyMismatch)
    ));
    assert!(matches!(
        with_pass(&pass_path, "wrong horse"),
        Err(Error::EncryptionKeyMismatch)
    ));
    assert!(matches!(Emdb::open(&path), Err(Error::InvalidConfig(_))));
    assert!(
        matches!(with_pass(&path, "x"), Err(Error::InvalidConfig(m)) if m.contains("raw encryption_key"))
    );
    assert!(
        matches!(with_key(&pass_path, KEY), Err(Error::InvalidConfig(m)) if m.contains("passphrase"))
    );
    assert!(
        matches!(with_key(&plain_path, KEY), Err(Error::InvalidConfig(m)) if m.contains("not encrypted"))
    );
    assert!(matches!(
        EmdbBuilder::new().path(&path).encryption_key(KEY).cipher(Cipher::ChaCha20Poly1305).build(),
        Err(Error::InvalidConfig(m)) if m.contains("cipher")
    ));
    assert!(matches!(
        EmdbBuilder::new()
            .path(&path)
            .encryption_key(KEY)
            .encryption_passphrase("x")
            .build(),
        Err(Error::InvalidConfig(_))
    ));
    assert!(matches!(
        EmdbBuilder::new().encryption_passphrase("").build(),
        Err(Error::InvalidConfig(_))
    ));
    let after = [
        std::fs::read(&path).unwrap(),
        std::fs::read(&pass_path).unwrap(),
        std::fs::read(&plain_path).unwrap(),
    ];
    assert!(before == after, "a refused open changed a file");
    assert_eq!(
        with_pass(&pass_path, "right horse").unwrap().len().unwrap(),
        0
    );
}

#[test]
fn a_tampered_byte_is_detected() {
    let (_d, path) = temp_path();
    let at;
    {
        let db = with_key(&path, KEY).unwrap();
        db.insert("first", "1").unwrap();
        db.flush().unwrap();
        at = db.stats().unwrap().logical_size_bytes;
        db.insert("victim", "some value").unwrap();
        db.flush().unwrap();
        db.insert("last", "3").unwrap();
    }
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.write_all_at(b"\xAA", at + 40).unwrap();
    let db = with_key(&path, KEY).unwrap();
    assert!(matches!(db.get("victim"), Err(Error::Corrupted { .. })));
    assert_eq!(db.get("last").unwrap(), Some(b"3".to_vec()));
}

#[cfg(feature = "ttl")]
#[test]
fn admin_round_trips_keep_records_namespaces_ttls_and_cipher() {
    let (_d, path) = temp_path();
    {
        let db = Emdb::open(&path).unwrap();
        db.namespace("n").unwrap().insert("nk", "nv").unwrap();
        db.insert_with_ttl("t", "ttl", Ttl::After(Duration::from_secs(3600)))
            .unwrap();
        db.insert("k", "v").unwrap();
    }
    let check = |db: &Emdb| {
        assert_eq!(db.get("k").unwrap(), Some(b"v".to_vec()));
        assert_eq!(
            db.namespace("n").unwrap().get("nk").unwrap(),
            Some(b"nv".to_vec())
        );
        let ttl = db.ttl("t").unwrap().unwrap();
        assert!(ttl > Duration::from_secs(3000));
    };
    Emdb::enable_encryption(&path, EncryptionInput::Key(KEY)).unwrap();
    assert!(matches!(
        Emdb::enable_encryption(&path, EncryptionInput::Key(KEY)),
        Err(Error::InvalidConfig(_))
    ));
    check(&with_key(&path, KEY).unwrap());
    Emdb::rotate_encryption_key(
        &path,
        EncryptionInput::Key(KEY),
        EncryptionInput::Passphrase("new pass".into()),
    )
    .unwrap();
    assert!(matches!(with_key(&path, KEY), Err(Error::InvalidConfig(_))));
    check(&with_pass(&path, "new pass").unwrap());
    assert!(matches!(
        Emdb::disable_encryption(&path, EncryptionInput::Passphrase("wrong".into())),
        Err(Error::EncryptionKeyMismatch)
    ));
    {
        let _open = with_pass(&path, "new pass").unwrap();
        assert!(matches!(
            Emdb::rotate_encryption_key(
                &path,
                EncryptionInput::Passphrase("new pass".into()),
                EncryptionInput::Key(OTHER)
            ),
            Err(Error::LockBusy { .. })
        ));
    }
    Emdb::disable_encryption(&path, EncryptionInput::Passphrase("new pass".into())).unwrap();
    check(&Emdb::open(&path).unwrap());

    // Rotation keeps a non-default cipher.
    drop(EmdbBuilder::new().path(&path).build().unwrap());
    let chacha = path.with_extension("chacha");
    EmdbBuilder::new()
        .path(&chacha)
        .encryption_key(KEY)
        .cipher(Cipher::ChaCha20Poly1305)
        .build()
        .unwrap()
        .insert("a", "b")
        .unwrap();
    Emdb::rotate_encryption_key(
        &chacha,
        EncryptionInput::Key(KEY),
        EncryptionInput::Key(OTHER),
    )
    .unwrap();
    let db = EmdbBuilder::new()
        .path(&chacha)
        .encryption_key(OTHER)
        .cipher(Cipher::ChaCha20Poly1305)
        .build()
        .unwrap();
    assert_eq!(db.get("a").unwrap(), Some(b"b".to_vec()));
    assert!(matches!(
        Emdb::enable_encryption(path.with_extension("missing"), EncryptionInput::Key(KEY)),
        Err(Error::Io(_))
    ));
}

#[test]
fn secrets_never_appear_in_debug_or_errors() {
    let b = EmdbBuilder::new()
        .encryption_key([0xAB; 32])
        .encryption_passphrase("hunter2-passphrase");
    let text = format!(
        "{b:?} {:?} {:?}",
        EncryptionInput::Key([0xAB; 32]),
        EncryptionInput::Passphrase("hunter2-passphrase".into())
    );
    assert!(
        !text.contains("hunter2")
            && !text.contains("171")
            && !text.contains("0xab")
            && !text.contains("AB,"),
        "{text}"
    );
    let err = b.build().unwrap_err();
    assert!(!err.to_string().contains("hunter2"));
}

const CHILD_ENV: &str = "EMDB_ROTATE_CHILD_DB";

/// The child: rotates the key back and forth forever, announcing each completed rotation.
#[test]
#[ignore = "child process of kill_nine_during_rotation_leaves_one_openable_database"]
fn child_rotates_keys() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    loop {
        Emdb::rotate_encryption_key(
            &path,
            EncryptionInput::Key(KEY),
            EncryptionInput::Key(OTHER),
        )
        .unwrap();
        println!("NOW OTHER");
        Emdb::rotate_encryption_key(
            &path,
            EncryptionInput::Key(OTHER),
            EncryptionInput::Key(KEY),
        )
        .unwrap();
        println!("NOW KEY");
    }
}

#[test]
fn kill_nine_during_rotation_leaves_one_openable_database() {
    let (_d, path) = temp_path();
    {
        let db = with_key(&path, KEY).unwrap();
        db.insert_many((0..2_000u32).map(|i| (i.to_le_bytes(), vec![3u8; 200])))
            .unwrap();
        db.namespace("n").unwrap().insert("x", "y").unwrap();
    }
    for round in 0..8u64 {
        let mut child = spawn_child("encryption::child_rotates_keys", CHILD_ENV, &path);
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let _ = lines.next(); // at least one rotation finished
        std::thread::sleep(Duration::from_millis(3 + round * 7));
        child.kill().unwrap();
        child.wait().unwrap();
        Emdb::break_lock(&path).unwrap_or(());
        let opened = [KEY, OTHER]
            .into_iter()
            .filter_map(|k| with_key(&path, k).ok())
            .collect::<Vec<_>>();
        assert_eq!(
            opened.len(),
            1,
            "round {round}: exactly one key must open the database"
        );
        let db = &opened[0];
        assert_eq!(db.len().unwrap(), 2_000, "round {round}");
        assert_eq!(
            db.namespace("n").unwrap().get("x").unwrap(),
            Some(b"y".to_vec())
        );
    }
}
