//! Runs the real `emdb` binary against real files: every command, JSON parsed, corruption found
//! at its exact offset, repair, and one-line errors.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn emdb() -> Command {
    Command::cargo_bin("emdb").unwrap()
}

fn db() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("cli.emdb");
    (d, p)
}

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(cmd: &mut Command) -> serde_json::Value {
    serde_json::from_str(stdout(cmd).trim()).unwrap()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn put_get_scan_del_round_trip_with_namespaces_and_formats() {
    let (_d, path) = db();
    emdb()
        .args(["put", p(&path), "alpha", "one"])
        .assert()
        .success();
    emdb()
        .args(["put", p(&path), "beta", "two"])
        .assert()
        .success();
    emdb()
        .args(["put", p(&path), "--ns", "users", "42", "alice"])
        .assert()
        .success();
    emdb()
        .args(["put", "--input-format", "hex", p(&path), "00ff", "deadbeef"])
        .assert()
        .success();
    assert_eq!(stdout(emdb().args(["get", p(&path), "alpha"])), "one\n");
    assert_eq!(
        stdout(emdb().args(["get", p(&path), "--ns", "users", "42"])),
        "alice\n"
    );
    assert_eq!(
        stdout(emdb().args([
            "get",
            p(&path),
            "--key-format",
            "hex",
            "00ff",
            "--format",
            "base64"
        ])),
        "3q2+7w==\n"
    );
    assert_eq!(
        stdout(emdb().args(["get", p(&path), "--key-format", "hex", "00ff"])),
        "0xdeadbeef\n"
    );
    let scan = stdout(emdb().args(["scan", p(&path)]));
    assert_eq!(scan, "0x00ff\t0xdeadbeef\nalpha\tone\nbeta\ttwo\n");
    assert_eq!(
        stdout(emdb().args(["scan", p(&path), "--prefix", "b"])),
        "beta\ttwo\n"
    );
    assert_eq!(
        stdout(emdb().args(["scan", p(&path), "--from", "alpha", "--limit", "1"])),
        "alpha\tone\n"
    );
    assert_eq!(
        stdout(emdb().args(["scan", p(&path), "--ns", "users", "--format", "hex"])),
        "3432\t616c696365\n"
    );
    emdb().args(["del", p(&path), "alpha"]).assert().success();
    let out = emdb().args(["get", p(&path), "alpha"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "emdb: key not found\n"
    );
    emdb().args(["del", p(&path), "alpha"]).assert().code(1);
}

#[test]
fn stat_reports_frames_namespaces_and_garbage_as_json() {
    let (_d, path) = db();
    {
        let db = emdb::Emdb::open(&path).unwrap();
        db.insert_many((0..100u32).map(|i| (i.to_le_bytes(), [1u8; 50])))
            .unwrap();
        db.insert_many((0..100u32).map(|i| (i.to_le_bytes(), [2u8; 50])))
            .unwrap();
        db.namespace("n").unwrap().insert("k", "v").unwrap();
        db.remove(0u32.to_le_bytes()).unwrap();
    }
    let v = json(emdb().args(["stat", p(&path), "--json"]));
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["encrypted"], false);
    assert_eq!(v["cipher"], "none");
    assert_eq!(v["frames"]["batch"], 2);
    assert_eq!(v["frames"]["namespace create"], 1);
    assert_eq!(v["frames"]["put"], 1);
    assert_eq!(v["frames"]["delete"], 1);
    assert_eq!(v["namespaces"][0]["live_records"], 99);
    assert_eq!(v["namespaces"][1]["name"], "n");
    let g = v["garbage_ratio"].as_f64().unwrap();
    assert!(g > 0.4 && g < 0.6, "{g}");
    assert_eq!(v["snapshot"], "present (for this file)");
    assert!(stdout(emdb().args(["stat", p(&path)])).contains("live records per namespace"));
}

#[test]
fn verify_finds_corruption_at_its_exact_offset() {
    let (_d, path) = db();
    {
        let db = emdb::Emdb::open(&path).unwrap();
        for i in 0..20u32 {
            if i == 10 {
                db.insert("victim", "value").unwrap();
                db.flush().unwrap();
            }
            db.insert(i.to_le_bytes(), "v").unwrap();
            db.flush().unwrap();
        }
    }
    let clean = json(emdb().args(["verify", p(&path), "--json"]));
    assert_eq!(clean["clean"], true);
    assert_eq!(clean["frames"], 21);
    // The victim's frame starts where the 11th frame starts.
    let image = std::fs::read(&path).unwrap();
    let offsets: Vec<u64> = emdb_format::scan::Scanner::new(&image, 4096)
        .map(|f| f.offset)
        .collect();
    let victim = offsets[10];
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .write_all_at(b"\xff", victim + 20)
        .unwrap();
    let out = emdb()
        .args(["verify", p(&path), "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["clean"], false);
    assert_eq!(v["problems"][0]["offset"], victim);
    assert_eq!(v["problems"][0]["kind"], "corrupt frame");
    assert_eq!(v["frames"], 20, "frames after the damage are still walked");
    let text = emdb().args(["verify", p(&path)]).output().unwrap();
    assert!(
        String::from_utf8(text.stdout)
            .unwrap()
            .contains(&format!("offset {victim}: corrupt frame"))
    );

    // repair salvages everything but the victim and keeps the original.
    let out = stdout(emdb().args(["repair", p(&path)]));
    assert!(out.contains("salvaged 20 frames"), "{out}");
    assert!(out.contains(&format!("lost bytes {victim}..")), "{out}");
    let db = emdb::Emdb::open(&path).unwrap();
    assert_eq!(db.len().unwrap(), 20);
    assert_eq!(db.get("victim").unwrap(), None);
    let kept: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
        .collect();
    assert_eq!(kept.len(), 1);
}

#[test]
fn verify_exit_codes_for_unreadable_and_foreign_files() {
    let (d, path) = db();
    emdb().args(["verify", p(&path)]).assert().code(2);
    std::fs::write(&path, "not a database at all").unwrap();
    let out = emdb().args(["verify", p(&path)]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("emdb: ") && err.lines().count() == 1,
        "{err}"
    );
    emdb().args(["verify", p(d.path())]).assert().code(2);
    emdb().args(["stat", p(&path)]).assert().code(1);
}

#[test]
fn compact_backup_and_lock() {
    let (d, path) = db();
    {
        let db = emdb::Emdb::open(&path).unwrap();
        for round in 0..5u8 {
            db.insert_many((0..200u32).map(|i| (i.to_le_bytes(), [round; 64])))
                .unwrap();
        }
    }
    let out = stdout(emdb().args(["compact", p(&path)]));
    assert!(out.starts_with("compacted"), "{out}");
    let target = d.path().join("copy.emdb");
    emdb()
        .args(["backup", p(&path), p(&target)])
        .assert()
        .success();
    assert_eq!(emdb::Emdb::open(&target).unwrap().len().unwrap(), 200);
    assert_eq!(stdout(emdb().args(["lock", p(&path)])), "not locked\n");
    let held = emdb::Emdb::open(&path).unwrap();
    let out = stdout(emdb().args(["lock", p(&path)]));
    assert!(
        out.contains(&format!("pid {}", std::process::id())),
        "{out}"
    );
    // A held lock refuses writers, with one line on stderr.
    let out = emdb().args(["put", p(&path), "k", "v"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .starts_with("emdb: lock busy")
    );
    drop(held);
    emdb()
        .args(["lock", "--break", p(&path)])
        .assert()
        .success();
    assert!(!PathBuf::from(format!("{}.lock", path.display())).exists());
}

#[test]
fn missing_databases_are_errors_not_creations() {
    let (_d, path) = db();
    for args in [
        vec!["get", p(&path), "k"],
        vec!["scan", p(&path)],
        vec!["compact", p(&path)],
        vec!["repair", p(&path)],
    ] {
        let out = emdb().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            String::from_utf8(out.stderr)
                .unwrap()
                .contains("no such database")
        );
    }
    assert!(!path.exists());
}

#[test]
fn demo_runs_quietly_when_not_on_a_terminal() {
    let out = stdout(emdb().args(["demo", "--records", "3000"]));
    assert!(out.contains("loaded 3000 users"), "{out}");
    assert!(out.contains(": clean,"), "{out}");
    assert!(
        !out.contains('\u{1b}'),
        "no progress-bar escape codes in piped output"
    );
}

fn all_records(path: &Path) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let db = emdb::Emdb::open(path).unwrap();
    let mut out = vec![];
    for ns in db.list_namespaces().unwrap() {
        let items: Vec<_> = if ns.is_empty() {
            db.iter().unwrap().collect()
        } else {
            db.namespace(&ns).unwrap().iter().unwrap().collect()
        };
        out.extend(items.into_iter().map(|(k, v)| (ns.clone(), k, v)));
    }
    out.sort();
    out
}

#[test]
fn dump_then_load_round_trips_in_every_format() {
    let (d, path) = db();
    {
        let db = emdb::Emdb::open(&path).unwrap();
        db.insert("text", "value with spaces and \\ backslash")
            .unwrap();
        db.insert(vec![0u8, 1, 255], vec![10u8, 13, 0]).unwrap();
        db.insert("", "").unwrap();
        let n = db.namespace("users").unwrap();
        n.insert_many((0..300u32).map(|i| (format!("u{i}"), i.to_le_bytes())))
            .unwrap();
        db.insert_with_ttl(
            "ttl",
            "x",
            emdb::Ttl::After(std::time::Duration::from_secs(3600)),
        )
        .unwrap();
    }
    let want = all_records(&path);
    for format in ["bytevalue", "print", "jsonl"] {
        let text = stdout(emdb().args(["dump", p(&path), "--all", "--format", format]));
        if format != "jsonl" {
            assert!(text.starts_with("VERSION=3\nformat="), "{format}");
            assert!(text.contains("database=users\n"), "{format}");
        }
        let dump_file = d.path().join(format!("dump.{format}"));
        std::fs::write(&dump_file, &text).unwrap();
        let target = d.path().join(format!("loaded-{format}.emdb"));
        let out = stdout(emdb().args(["load", p(&target), "--input", p(&dump_file)]));
        assert!(out.starts_with("loaded 304 records"), "{format}: {out}");
        assert_eq!(all_records(&target), want, "{format}");
        let ttl = emdb::Emdb::open(&target).unwrap().ttl("ttl").unwrap();
        assert_eq!(
            ttl.is_some(),
            format == "jsonl",
            "{format}: only JSON lines keep expiry times"
        );
    }
    // Loading from standard input, and a single namespace's dump.
    let ns_dump = stdout(emdb().args(["dump", p(&path), "--ns", "users"]));
    let target = d.path().join("stdin.emdb");
    emdb()
        .args(["load", p(&target)])
        .write_stdin(ns_dump)
        .assert()
        .success();
    assert_eq!(
        emdb::Emdb::open(&target)
            .unwrap()
            .namespace("users")
            .unwrap()
            .len()
            .unwrap(),
        300
    );
}

#[test]
fn load_reads_an_lmdb_style_dump() {
    let (d, path) = db();
    let text = "VERSION=3\nformat=print\ntype=btree\nmapsize=1048576\nmaxreaders=126\ndb_pagesize=4096\nHEADER=END\n hello\n world\n bin\\00\\ff\n back\\\\slash\nDATA=END\n";
    let input = d.path().join("lmdb.txt");
    std::fs::write(&input, text).unwrap();
    emdb()
        .args(["load", p(&path), "--input", p(&input)])
        .assert()
        .success();
    let db = emdb::Emdb::open(&path).unwrap();
    assert_eq!(db.get("hello").unwrap(), Some(b"world".to_vec()));
    assert_eq!(
        db.get(b"bin\x00\xff").unwrap(),
        Some(b"back\\slash".to_vec())
    );
}

#[test]
fn a_bad_load_writes_nothing() {
    let (d, path) = db();
    let input = d.path().join("bad.txt");
    std::fs::write(
        &input,
        "VERSION=3\nformat=bytevalue\nHEADER=END\n 6b\n 76\n zz\n 00\nDATA=END\n",
    )
    .unwrap();
    let out = emdb()
        .args(["load", p(&path), "--input", p(&input)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err, "emdb: input line 6: bad encoding\n");
    assert!(!path.exists(), "no database was created");
    std::fs::write(&input, "VERSION=3\nHEADER=END\n 6b\n").unwrap();
    emdb()
        .args(["load", p(&path), "--input", p(&input)])
        .assert()
        .code(1);
    emdb().args(["dump", p(&path)]).assert().code(1);
}

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
