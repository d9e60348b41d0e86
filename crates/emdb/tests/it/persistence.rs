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

/// Flips a byte inside the only occurrence of `needle` in the file at `path`.
fn damage(path: &std::path::Path, needle: &[u8]) {
    let bytes = std::fs::read(path).unwrap();
    let at = bytes.windows(needle.len()).position(|w| w == needle);
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(b"#", at.unwrap() as u64 + 2).unwrap();
}

#[test]
fn a_record_damaged_after_open_is_skipped_by_iterators_and_reported() {
    let (_d, path) = temp_path();
    let open = || Emdb::builder().path(&path).enable_range_scans(true).build();
    {
        let db = open().unwrap();
        let ns = db.namespace("ns").unwrap();
        db.insert("g.victim", "default value to damage").unwrap();
        ns.insert("g.victim", "namespace value to damage").unwrap();
        // Intact frames after the victims: the snapshot checks the last one.
        for i in 0..20u32 {
            db.insert(format!("g.{i:02}"), "value").unwrap();
            ns.insert(format!("g.{i:02}"), "value").unwrap();
        }
    }
    let offset_of = |e: &Error| match e {
        Error::Corrupted { offset, .. } => *offset,
        other => panic!("expected Corrupted, got {other:?}"),
    };
    let at = {
        let db = open().unwrap();
        let ns = db.namespace("ns").unwrap();
        // Range scans read every key once, to order them; then the damage happens under the open
        // database (the map shows it).
        assert_eq!(db.range(..).unwrap().len(), 21);
        assert_eq!(ns.range(..).unwrap().len(), 21);
        damage(&path, b"default value to damage");
        damage(&path, b"namespace value to damage");
        let at = offset_of(&db.get("g.victim").unwrap_err());

        let mut it = db.iter().unwrap();
        assert_eq!(it.by_ref().count(), 20, "every intact record still comes");
        assert_eq!((it.skipped(), it.error().map(offset_of)), (1, Some(at)));
        assert_eq!(offset_of(&it.finish().unwrap_err()), at);
        let mut it = db.range_iter(..).unwrap();
        assert_eq!(it.by_ref().count(), 20);
        assert_eq!(it.error().map(offset_of), Some(at));
        // An iteration that stops before the damaged record has nothing to report.
        let mut it = db.range_iter(..).unwrap();
        assert_eq!(it.by_ref().take(20).count(), 20);
        assert!(it.error().is_none() && it.finish().is_ok());
        // Every method that collects into a `Result` fails instead of answering short.
        assert_eq!(offset_of(&db.range(..).unwrap_err()), at);
        assert_eq!(offset_of(&db.range_prefix("g.v").unwrap_err()), at);
        assert_eq!(
            db.range(b"g.00".to_vec()..b"g.10".to_vec()).unwrap().len(),
            10
        );
        #[cfg(feature = "nested")]
        {
            assert_eq!(offset_of(&db.group("g").err().unwrap()), at);
            assert_eq!(offset_of(&db.delete_group("g").unwrap_err()), at);
            assert_eq!(offset_of(&db.focus("g").iter().err().unwrap()), at);
        }

        let at_ns = offset_of(&ns.get("g.victim").unwrap_err());
        assert_ne!(at_ns, at);
        let mut it = ns.iter().unwrap();
        assert_eq!(it.by_ref().count(), 20);
        assert_eq!(offset_of(&it.finish().unwrap_err()), at_ns);
        let mut it = ns.range_iter(..).unwrap();
        assert_eq!(it.by_ref().count(), 20);
        assert_eq!((it.skipped(), it.error().map(offset_of)), (1, Some(at_ns)));
        assert_eq!(offset_of(&ns.range(..).unwrap_err()), at_ns);
        assert_eq!(offset_of(&ns.range_prefix("g.").unwrap_err()), at_ns);
        // Nothing stored was lost: the other records read as before.
        assert_eq!(db.len().unwrap(), 21);
        assert_eq!(ns.get("g.19").unwrap(), Some(b"value".to_vec()));
        at
    };
    // Reopened, the damage is still reported: a range scan cannot order an unreadable key.
    let db = open().unwrap();
    assert_eq!(offset_of(&db.range(..).unwrap_err()), at);
    assert_eq!(db.iter().unwrap().count(), 20);
}
