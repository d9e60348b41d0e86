//! Unit tests that need crate internals: TTL on a controllable clock, and auto traits.
#![allow(clippy::unwrap_used, reason = "test code")]

use crate::{Emdb, Error};

/// TTL behaviour on a clock the test moves.
#[cfg(feature = "ttl")]
mod fake_clock {
    use crate::ttl::Clock;
    use crate::{Emdb, EmdbBuilder, Error, Ttl};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    struct FakeTime(Arc<AtomicU64>);

    impl FakeTime {
        fn new() -> Self {
            FakeTime(Arc::new(AtomicU64::new(1_000_000)))
        }
        fn clock(&self) -> Clock {
            let t = self.0.clone();
            Clock::from_fn(move || t.load(Ordering::SeqCst))
        }
        fn advance(&self, ms: u64) {
            self.0.fetch_add(ms, Ordering::SeqCst);
        }
    }

    fn db(t: &FakeTime, b: EmdbBuilder) -> Emdb {
        b.clock(t.clock()).build().unwrap()
    }

    #[test]
    fn expired_records_are_invisible_to_every_read() {
        let t = FakeTime::new();
        let db = db(&t, EmdbBuilder::new().enable_range_scans(true));
        db.insert_with_ttl("short", "s", Ttl::After(Duration::from_millis(100)))
            .unwrap();
        db.insert_with_ttl("long", "l", Ttl::After(Duration::from_secs(100)))
            .unwrap();
        db.insert("plain", "p").unwrap();
        assert_eq!(db.len().unwrap(), 3);
        t.advance(99);
        assert!(db.contains_key("short").unwrap());
        assert_eq!(db.ttl("short").unwrap(), Some(Duration::from_millis(1)));
        t.advance(1); // the boundary is inclusive
        assert_eq!(db.get("short").unwrap(), None);
        assert!(db.get_zerocopy("short").unwrap().is_none());
        assert!(!db.contains_key("short").unwrap());
        assert_eq!(db.expires_at("short").unwrap(), None);
        assert_eq!(db.ttl("short").unwrap(), None);
        assert_eq!(db.len().unwrap(), 2);
        assert_eq!(db.stats().unwrap().live_records, 2);
        assert_eq!(db.iter().unwrap().count(), 2);
        assert_eq!(db.keys().unwrap().count(), 2);
        assert_eq!(db.range(..).unwrap().len(), 2);
        assert_eq!(db.range_prefix("sh").unwrap().len(), 0);
        assert!(!db.persist("short").unwrap(), "persist must not resurrect");
        assert_eq!(db.get("short").unwrap(), None);
        assert_eq!(db.remove("short").unwrap(), None);
        assert_eq!(db.expires_at("plain").unwrap(), Some(0));
    }

    #[test]
    fn sweep_and_compaction_drop_expired_records_in_every_namespace() {
        let t = FakeTime::new();
        let db = db(&t, EmdbBuilder::new());
        let ns = db.namespace("n").unwrap();
        db.insert_with_ttl("a", "1", Ttl::After(Duration::from_millis(10)))
            .unwrap();
        ns.insert_with_ttl("b", "2", Ttl::After(Duration::from_millis(10)))
            .unwrap();
        ns.insert("c", "3").unwrap();
        t.advance(10);
        assert_eq!(db.sweep_expired(), 2);
        assert_eq!(db.sweep_expired(), 0);
        assert_eq!(ns.len().unwrap(), 1);
        ns.insert_with_ttl("d", "4", Ttl::After(Duration::from_millis(10)))
            .unwrap();
        t.advance(10);
        db.compact().unwrap();
        assert_eq!(ns.iter().unwrap().count(), 1);
        assert_eq!(db.stats().unwrap().live_records, 1);
    }

    #[test]
    fn default_ttl_applies_to_every_writer() {
        let t = FakeTime::new();
        let db = db(&t, EmdbBuilder::new().default_ttl(Duration::from_secs(5)));
        let ns = db.namespace("n").unwrap();
        db.insert("a", "1").unwrap();
        db.insert_many([("b", "2")]).unwrap();
        db.transaction(|tx| tx.insert("c", "3")).unwrap();
        ns.insert("d", "4").unwrap();
        ns.insert_many([("e", "5")]).unwrap();
        db.insert_with_ttl("f", "6", Ttl::Default).unwrap();
        db.insert_with_ttl("g", "7", Ttl::Never).unwrap();
        for k in ["a", "b", "c", "f"] {
            assert_eq!(db.expires_at(k).unwrap(), Some(1_005_000), "{k}");
        }
        for k in ["d", "e"] {
            assert_eq!(ns.expires_at(k).unwrap(), Some(1_005_000), "{k}");
        }
        assert_eq!(db.expires_at("g").unwrap(), Some(0));
        t.advance(5_000);
        assert_eq!(db.len().unwrap(), 1);
        assert!(ns.is_empty().unwrap());
    }

    #[test]
    fn persist_is_atomic_and_keeps_the_value() {
        let t = FakeTime::new();
        let db = db(&t, EmdbBuilder::new());
        db.insert_with_ttl("k", "v", Ttl::After(Duration::from_millis(50)))
            .unwrap();
        assert!(db.persist("k").unwrap());
        assert!(!db.persist("k").unwrap());
        t.advance(1_000);
        assert_eq!(db.get("k").unwrap(), Some(b"v".to_vec()));
        assert!(!db.persist("missing").unwrap());
    }

    #[test]
    fn ttl_overflow_is_a_typed_error() {
        let t = FakeTime::new();
        let db = db(&t, EmdbBuilder::new());
        assert!(matches!(
            db.insert_with_ttl("k", "v", Ttl::After(Duration::MAX)),
            Err(Error::TtlOverflow)
        ));
        let db2 = EmdbBuilder::new()
            .default_ttl(Duration::MAX)
            .build()
            .unwrap();
        assert!(matches!(db2.insert("k", "v"), Err(Error::TtlOverflow)));
        assert!(matches!(
            db2.insert_many([("k", "v")]),
            Err(Error::TtlOverflow)
        ));
        assert!(matches!(
            db2.transaction(|tx| tx.insert("k", "v")),
            Err(Error::TtlOverflow)
        ));
        assert!(db.is_empty().unwrap() && db2.is_empty().unwrap());
    }

    #[test]
    fn transaction_reads_hide_expired_staged_values() {
        let t = FakeTime::new();
        let db = db(&t, EmdbBuilder::new());
        db.transaction(|tx| {
            tx.insert_with_ttl("k", "v", Ttl::After(Duration::ZERO))?;
            assert_eq!(tx.get("k")?, None);
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn removing_a_staged_write_returns_it_unless_it_expired() {
        let t = FakeTime::new();
        let db = db(&t, EmdbBuilder::new());
        db.insert("kept", "old").unwrap();
        db.transaction(|tx| {
            tx.insert("kept", "new")?;
            assert_eq!(tx.remove("kept")?, Some(b"new".to_vec()));
            assert_eq!(tx.remove("kept")?, None);
            tx.insert_with_ttl("gone", "v", Ttl::After(Duration::ZERO))?;
            assert_eq!(tx.remove("gone")?, None);
            Ok(())
        })
        .unwrap();
        // The key stored before the transaction is deleted by it.
        assert_eq!(db.get("kept").unwrap(), None);
        assert_eq!(db.get("gone").unwrap(), None);
    }
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Emdb>();
    check::<crate::Namespace>();
    check::<crate::ValueRef>();
    check::<crate::EmdbIter>();
    check::<crate::EmdbKeyIter>();
    check::<crate::EmdbRangeIter>();
    check::<crate::NamespaceIter>();
    check::<crate::NamespaceKeyIter>();
    check::<crate::NamespaceRangeIter>();
    check::<Error>();
}

/// A seal that fails while writing (the sealer's random source failing, say) reaches the caller
/// as an encryption error, not as corruption of stored data.
#[cfg(feature = "encrypt")]
#[test]
fn a_failed_seal_is_an_encryption_error() {
    let e = Error::from(emdb_engine::EngineError::Seal { offset: 4096 });
    assert!(matches!(e, Error::Encryption(_)), "{e:?}");
    assert!(e.to_string().contains("sealing"), "{e}");
}
