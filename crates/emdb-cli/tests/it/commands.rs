//! Every command on plain files: reads and writes, stat, verify, compact, backup, lock, and
//! the errors for missing databases.

use std::os::unix::fs::FileExt;

use crate::*;

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

/// The offset of every frame of the database at `path`.
fn frame_offsets(path: &Path) -> Vec<u64> {
    let image = std::fs::read(path).unwrap();
    emdb_format::scan::Scanner::new(&image, 4096)
        .map(|f| f.offset)
        .collect()
}

fn poke(path: &Path, offset: u64, bytes: &[u8]) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

/// `verify --json` of a file it must find corrupt (exit 1): its report.
fn verify_corrupt(path: &Path) -> serde_json::Value {
    let out = emdb().args(["verify", p(path), "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    serde_json::from_slice(&out.stdout).unwrap()
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
    let victim = frame_offsets(&path)[10];
    poke(&path, victim + 20, b"\xff");
    let v = verify_corrupt(&path);
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

/// Damage to the last frame looks like a torn write to a walk, but the snapshot of the clean
/// close vouches that the frame was durable: verify reports it, as open refuses the file.
#[test]
fn verify_reports_damage_the_checkpoint_rules_out_as_a_torn_write() {
    let (_d, path) = db();
    {
        let db = emdb::Emdb::open(&path).unwrap();
        for i in 0..5u32 {
            db.insert(i.to_le_bytes(), "value").unwrap();
        }
    }
    let last = *frame_offsets(&path).last().unwrap();
    poke(&path, last + 20, b"\xff");
    let v = verify_corrupt(&path);
    assert_eq!(v["problems"][0]["offset"], last);
    assert_eq!(v["problems"][0]["kind"], "corrupt frame");
    assert_eq!(v["torn_tail_at"], serde_json::Value::Null);
    assert!(matches!(
        emdb::Emdb::open(&path),
        Err(emdb::Error::Corrupted { offset, .. }) if offset == last
    ));
    // Without the snapshot nothing tells the damage from a torn write: a note, exit 0.
    std::fs::remove_file(emdb_engine::snapshot_path(&path)).unwrap();
    let v = json(emdb().args(["verify", p(&path), "--json"]));
    assert_eq!(
        (v["clean"].as_bool(), v["torn_tail_at"].as_u64()),
        (Some(true), Some(last))
    );
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
