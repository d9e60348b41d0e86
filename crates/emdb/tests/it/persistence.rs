//! What survives a reopen: data, clears and drops, checkpoints, and corruption reporting.

use std::os::unix::fs::FileExt;

use emdb::{Emdb, Error};

use crate::common::*;

#[test]
fn data_survives_reopen_with_and_without_a_snapshot() {
    let (_d, path) = temp_path();
    {
        let db = Emdb::open(&path).unwrap();
        db.insert_many((0..500u32).map(|i| (i.to_le_bytes(), (u64::from(i) * 3).to_le_bytes())))
            .unwrap();
        db.checkpoint().unwrap();
        db.insert("after-checkpoint", "x").unwrap();
        db.flush().unwrap();
    }
    let db = Emdb::open(&path).unwrap();
    assert_eq!(db.len().unwrap(), 501);
    assert_eq!(
        db.get(7u32.to_le_bytes()).unwrap(),
        Some(21u64.to_le_bytes().to_vec())
    );
    drop(db);
    std::fs::remove_file(format!("{}.snap", path.display())).unwrap();
    let db = Emdb::open(&path).unwrap();
    assert_eq!(db.len().unwrap(), 501);
}

#[test]
fn clear_is_persisted_085() {
    let (_d, path) = temp_path();
    {
        let db = Emdb::open(&path).unwrap();
        db.insert_many([("a", "1"), ("b", "2")]).unwrap();
        db.clear().unwrap();
        db.insert("c", "3").unwrap();
    }
    let db = Emdb::open(&path).unwrap();
    assert_eq!(sorted(db.iter().unwrap().collect()), vec![kv("c", "3")]);
}

#[test]
fn corruption_is_reported_with_its_true_offset_085() {
    let (_d, path) = temp_path();
    let bad_at;
    {
        let db = Emdb::open(&path).unwrap();
        for i in 0..10u32 {
            db.insert(format!("k{i}"), "value").unwrap();
            db.flush().unwrap();
        }
        bad_at = db.stats().unwrap().logical_size_bytes;
        db.insert("victim", "value-to-damage").unwrap();
        db.flush().unwrap();
        for i in 10..20u32 {
            db.insert(format!("k{i}"), "value").unwrap();
            db.flush().unwrap();
        }
    }
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.write_all_at(b"XX", bad_at + 60).unwrap(); // inside the victim's value
    // With the snapshot of the clean close, open skips the log; the read reports the damage
    // at the entry (16 bytes into its frame) instead of returning it.
    let db = Emdb::open(&path).unwrap();
    match db.get("victim") {
        Err(Error::Corrupted { offset, reason }) => assert_eq!(offset, bad_at + 16, "{reason}"),
        other => panic!("expected Corrupted, got {other:?}"),
    }
    assert_eq!(db.get("k19").unwrap(), Some(b"value".to_vec()));
    drop(db);
    // Without the snapshot, open walks the log and refuses the file at the frame.
    std::fs::remove_file(format!("{}.snap", path.display())).unwrap();
    match Emdb::open(&path) {
        Err(Error::Corrupted { offset, reason }) => assert_eq!(offset, bad_at, "{reason}"),
        other => panic!("expected Corrupted, got {other:?}"),
    }
}

#[test]
fn a_torn_tail_is_cut_and_everything_before_kept() {
    let (_d, path) = temp_path();
    let end;
    {
        let db = Emdb::open(&path).unwrap();
        db.insert_many((0..100u32).map(|i| (i.to_le_bytes(), [1u8; 16])))
            .unwrap();
        db.flush().unwrap();
        end = db.stats().unwrap().logical_size_bytes;
    }
    std::fs::remove_file(format!("{}.snap", path.display())).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    // Half a frame: a length that promises more bytes than were written.
    f.write_all_at(&[0x00, 0x10, 0, 0, 1, 2, 3, 4, 1], end)
        .unwrap();
    let db = Emdb::open(&path).unwrap();
    assert_eq!(db.len().unwrap(), 100);
    assert_eq!(db.stats().unwrap().logical_size_bytes, end);
}
