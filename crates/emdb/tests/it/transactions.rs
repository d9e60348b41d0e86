//! Transactions: read-your-writes, all-or-nothing commit, aborts write nothing.

use emdb::{Emdb, Error};

use crate::common::*;

#[test]
fn commit_applies_every_staged_write() {
    let db = Emdb::open_in_memory();
    db.insert_many([("a", "1"), ("b", "2")]).unwrap();
    let out = db
        .transaction(|tx| {
            tx.insert("c", "3")?;
            assert_eq!(tx.remove("a")?, Some(b"1".to_vec()));
            assert_eq!(tx.get("a")?, None);
            assert_eq!(tx.remove("never")?, None);
            tx.insert("b", "22")?;
            tx.insert("b", "222")?;
            assert_eq!(tx.get("b")?, Some(b"222".to_vec()));
            assert!(tx.contains_key("c")?);
            Ok(42)
        })
        .unwrap();
    assert_eq!(out, 42);
    assert_eq!(
        sorted(db.iter().unwrap().collect()),
        vec![kv("b", "222"), kv("c", "3")]
    );
}

#[test]
fn an_error_from_the_closure_writes_nothing() {
    let db = Emdb::open_in_memory();
    db.insert("a", "1").unwrap();
    let before = db.stats().unwrap().logical_size_bytes;
    let r: emdb::Result<()> = db.transaction(|tx| {
        tx.insert("a", "changed")?;
        tx.remove("a")?;
        tx.insert("b", "2")?;
        Err(Error::TransactionAborted("changed my mind"))
    });
    assert!(matches!(
        r,
        Err(Error::TransactionAborted("changed my mind"))
    ));
    assert_eq!(db.stats().unwrap().logical_size_bytes, before);
    assert_eq!(sorted(db.iter().unwrap().collect()), vec![kv("a", "1")]);
}

#[test]
fn a_transaction_is_one_atomic_frame_085() {
    let (_d, path) = temp_path();
    {
        let db = Emdb::open(&path).unwrap();
        db.transaction(|tx| {
            for i in 0..100u32 {
                tx.insert(i.to_le_bytes().to_vec(), "v")?;
            }
            Ok(())
        })
        .unwrap();
        db.flush().unwrap();
        let s = db.stats().unwrap();
        // One frame: header + 16-byte frame header + 8-byte batch prefix + 100 aligned entries.
        assert_eq!(s.logical_size_bytes, 4096 + 16 + 8 + 100 * 40);
    }
    assert_eq!(Emdb::open(&path).unwrap().len().unwrap(), 100);
}

#[test]
fn an_oversized_transaction_is_a_typed_error_and_writes_nothing() {
    let db = Emdb::open_in_memory();
    let r = db.transaction(|tx| tx.insert("k", vec![0u8; 600 << 20]));
    assert!(matches!(r, Err(Error::ValueTooLarge { .. })), "{r:?}");
    assert!(db.is_empty().unwrap());
}

#[test]
fn removals_that_saw_no_record_are_settled_at_commit() {
    let db = Emdb::open_in_memory();
    db.insert("stays", "1").unwrap();
    db.transaction(|tx| {
        assert_eq!(tx.remove("late")?, None);
        // Stored through the handle after the removal was staged: the commit still removes it.
        db.insert("late", "x")?;
        assert_eq!(tx.get("late")?, None);
        Ok(())
    })
    .unwrap();
    assert_eq!(db.get("late").unwrap(), None);
    // Removals of keys that are absent at commit write nothing at all.
    let before = db.stats().unwrap().logical_size_bytes;
    db.transaction(|tx| {
        tx.remove("never")?;
        tx.insert("brief", "v")?;
        tx.remove("brief")?;
        Ok(())
    })
    .unwrap();
    assert_eq!(db.stats().unwrap().logical_size_bytes, before);
    assert_eq!(sorted(db.iter().unwrap().collect()), vec![kv("stays", "1")]);
}
