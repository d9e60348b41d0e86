//! `migrate` of files written by emdb 0.8.5, plain and encrypted.

use crate::*;

/// Writes a 0.8.5 database with the crate itself: namespaces, a removal, TTLs (one already
/// expired), binary keys.
fn write_085(path: &Path, secret: Option<(&str, emdb_v085::Cipher)>) {
    use emdb_v085::{EmdbBuilder, Ttl};
    let mut b = EmdbBuilder::new().path(path);
    if let Some((s, cipher)) = secret {
        b = if s.len() == 64 {
            b.encryption_key([0x42; 32])
        } else {
            b.encryption_passphrase(s)
        };
        b = b.cipher(cipher);
    }
    let db = b.build().unwrap();
    db.insert("alpha", "first").unwrap();
    db.insert(vec![0u8, 255], vec![1u8, 2, 3]).unwrap();
    db.insert("gone", "soon removed").unwrap();
    db.remove("gone").unwrap();
    db.insert_with_ttl(
        "later",
        "ttl value",
        Ttl::After(std::time::Duration::from_secs(3600)),
    )
    .unwrap();
    db.insert_with_ttl("expired", "x", Ttl::After(std::time::Duration::ZERO))
        .unwrap();
    let users = db.namespace("users").unwrap();
    users
        .insert_many((0..500u32).map(|i| (format!("u{i:04}"), format!("user {i}"))))
        .unwrap();
    db.flush().unwrap();
}

fn check_migrated(db: &emdb::Emdb) {
    assert_eq!(db.get("alpha").unwrap(), Some(b"first".to_vec()));
    assert_eq!(db.get([0u8, 255]).unwrap(), Some(vec![1u8, 2, 3]));
    assert_eq!(db.get("gone").unwrap(), None);
    assert_eq!(db.get("expired").unwrap(), None);
    let ttl = db.ttl("later").unwrap().unwrap();
    assert!(ttl > std::time::Duration::from_secs(3500), "{ttl:?}");
    assert_eq!(db.len().unwrap(), 3);
    assert_eq!(db.list_namespaces().unwrap(), vec!["", "users"]);
    let users = db.namespace("users").unwrap();
    assert_eq!(users.len().unwrap(), 500);
    assert_eq!(users.get("u0042").unwrap(), Some(b"user 42".to_vec()));
}

#[test]
fn migrate_reads_files_written_by_emdb_085() {
    let d = tempfile::tempdir().unwrap();
    let old = d.path().join("old.emdb");
    write_085(&old, None);
    let new = d.path().join("new.emdb");
    let out = stdout(emdb().args(["migrate", p(&old), p(&new)]));
    assert!(
        out.starts_with("migrated 503 records in 2 namespace(s)"),
        "{out}"
    );
    check_migrated(&emdb::Emdb::open(&new).unwrap());
    // The target must be new, and the source is never changed.
    let before = std::fs::read(&old).unwrap();
    emdb().args(["migrate", p(&old), p(&new)]).assert().code(1);
    assert_eq!(std::fs::read(&old).unwrap(), before);
    // Our own files are not 0.8.5 files.
    let err = emdb()
        .args(["migrate", p(&new), p(&d.path().join("x.emdb"))])
        .output()
        .unwrap();
    assert!(
        String::from_utf8(err.stderr)
            .unwrap()
            .contains("not a readable emdb 0.8.5 database")
    );
}

#[test]
fn migrate_reads_encrypted_085_files_and_keeps_them_encrypted() {
    let d = tempfile::tempdir().unwrap();
    let key_hex = "42".repeat(32);
    for (secret, cipher, ours) in [
        (
            key_hex.as_str(),
            emdb_v085::Cipher::ChaCha20Poly1305,
            emdb::Cipher::ChaCha20Poly1305,
        ),
        (
            "old passphrase",
            emdb_v085::Cipher::Aes256Gcm,
            emdb::Cipher::Aes256Gcm,
        ),
    ] {
        let old = d.path().join(format!("old-{}.emdb", secret.len()));
        write_085(&old, Some((secret, cipher)));
        let new = d.path().join(format!("new-{}.emdb", secret.len()));
        let var = if secret.len() == 64 {
            "EMDB_KEY"
        } else {
            "EMDB_PASSPHRASE"
        };
        let out = emdb()
            .args(["migrate", p(&old), p(&new)])
            .env(var, "wrong-secret-".repeat(6).get(..64).unwrap())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "a wrong secret is refused");
        assert!(!new.exists());
        emdb()
            .args(["migrate", p(&old), p(&new)])
            .env(var, secret)
            .assert()
            .success();
        let b = emdb::EmdbBuilder::new().path(&new).cipher(ours);
        let b = if secret.len() == 64 {
            b.encryption_key([0x42; 32])
        } else {
            b.encryption_passphrase(secret)
        };
        let db = b.build().unwrap();
        assert!(db.stats().unwrap().encrypted);
        check_migrated(&db);
    }
}
