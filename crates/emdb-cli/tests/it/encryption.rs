//! Encryption commands with secrets from the environment, and repair of encrypted files.

use std::os::unix::fs::FileExt;

use crate::*;

#[test]
fn encrypt_decrypt_rekey_with_secrets_from_the_environment() {
    let (_d, path) = db();
    emdb()
        .args(["put", p(&path), "secret-key", "secret-value"])
        .assert()
        .success();
    emdb()
        .args(["put", p(&path), "--ns", "n", "k", "v"])
        .assert()
        .success();
    // Without a secret and without a terminal: a clear one-line error, nothing changed.
    let before = std::fs::read(&path).unwrap();
    let out = emdb()
        .args(["encrypt", p(&path)])
        .env_remove("EMDB_NEW_PASSPHRASE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("set the environment variable")
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);

    emdb()
        .args(["encrypt", p(&path)])
        .env("EMDB_NEW_PASSPHRASE", "first pass")
        .assert()
        .success();
    let raw = std::fs::read(&path).unwrap();
    assert!(!raw.windows(12).any(|w| w == b"secret-value"));
    let v = json(emdb().args(["stat", p(&path), "--json"]));
    assert_eq!(
        (v["encrypted"].as_bool(), v["cipher"].as_str()),
        (Some(true), Some("aes-256-gcm"))
    );
    // Reading needs the passphrase; a wrong one is refused.
    emdb()
        .args(["get", p(&path), "secret-key"])
        .assert()
        .code(1);
    let out = emdb()
        .args(["get", p(&path), "secret-key"])
        .env("EMDB_PASSPHRASE", "wrong")
        .output()
        .unwrap();
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("key mismatch")
    );
    assert_eq!(
        stdout(
            emdb()
                .args(["get", p(&path), "secret-key"])
                .env("EMDB_PASSPHRASE", "first pass")
        ),
        "secret-value\n"
    );

    emdb()
        .args(["rekey", p(&path)])
        .env("EMDB_PASSPHRASE", "first pass")
        .env("EMDB_NEW_KEY", "11".repeat(32))
        .assert()
        .success();
    let key = "11".repeat(32);
    assert_eq!(
        stdout(
            emdb()
                .args(["get", p(&path), "--ns", "n", "k"])
                .env("EMDB_KEY", &key)
        ),
        "v\n"
    );
    emdb().args(["verify", p(&path)]).assert().success();
    emdb()
        .args(["decrypt", p(&path)])
        .env("EMDB_KEY", &key)
        .assert()
        .success();
    assert_eq!(
        stdout(emdb().args(["get", p(&path), "secret-key"])),
        "secret-value\n"
    );
    emdb().args(["decrypt", p(&path)]).assert().code(1);
    // Secrets never come from argv: there is no such option.
    emdb()
        .args(["encrypt", p(&path), "--passphrase", "x"])
        .assert()
        .code(2);
}

#[test]
fn repair_works_on_encrypted_files() {
    let (_d, path) = db();
    {
        let db = emdb::EmdbBuilder::new()
            .path(&path)
            .encryption_passphrase("pw")
            .build()
            .unwrap();
        for i in 0..10u32 {
            db.insert(i.to_le_bytes(), "value").unwrap();
            db.flush().unwrap();
        }
    }
    let image = std::fs::read(&path).unwrap();
    let offsets: Vec<u64> = emdb_format::scan::Scanner::new(&image, 4096)
        .map(|f| f.offset)
        .collect();
    let victim = offsets[4];
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .write_all_at(b"\x00\x01", victim + 24)
        .unwrap();
    let out = stdout(
        emdb()
            .args(["repair", p(&path)])
            .env("EMDB_PASSPHRASE", "pw"),
    );
    assert!(out.contains("salvaged 9 frames"), "{out}");
    let db = emdb::EmdbBuilder::new()
        .path(&path)
        .encryption_passphrase("pw")
        .build()
        .unwrap();
    assert_eq!(db.len().unwrap(), 9);
}
