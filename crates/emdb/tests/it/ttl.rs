//! TTL against the real clock (the controllable-clock tests are unit tests in `src/tests.rs`).

use std::time::Duration;

use emdb::{Emdb, EmdbBuilder, Ttl};

use crate::common::*;

#[test]
fn zero_ttl_expires_at_once_everywhere_085() {
    let db = Emdb::builder().enable_range_scans(true).build().unwrap();
    let n = db.namespace("n").unwrap();
    db.insert_with_ttl("gone", "x", Ttl::After(Duration::ZERO))
        .unwrap();
    n.insert_with_ttl("gone", "x", Ttl::After(Duration::ZERO))
        .unwrap();
    db.insert("kept", "y").unwrap();
    for (name, len, iter, range) in [
        (
            "db",
            db.len().unwrap(),
            db.iter().unwrap().count(),
            db.range(..).unwrap().len(),
        ),
        (
            "ns",
            n.len().unwrap(),
            n.iter().unwrap().count(),
            n.range(..).unwrap().len(),
        ),
    ] {
        let live = usize::from(name == "db");
        assert_eq!((len, iter, range), (live, live, live), "{name}");
    }
    assert_eq!(db.get("gone").unwrap(), None);
    assert_eq!(
        n.get("gone").unwrap(),
        None,
        "0.8.5 namespaces ignore expiry"
    );
    assert!(!n.contains_key("gone").unwrap());
    assert_eq!(
        db.remove("gone").unwrap(),
        None,
        "0.8.5 returns the expired value"
    );
    assert!(!n.persist("gone").unwrap(), "0.8.5 resurrects");
    assert_eq!(db.stats().unwrap().live_records, 1);
    assert_eq!(db.expires_at("kept").unwrap(), Some(0));
    assert_eq!(db.expires_at("gone").unwrap(), None);
}

#[test]
fn expiry_survives_reopen_and_compaction_drops_expired() {
    let (_d, path) = temp_path();
    {
        let db = Emdb::open(&path).unwrap();
        db.insert_with_ttl("short", "s", Ttl::After(Duration::from_millis(30)))
            .unwrap();
        db.insert_with_ttl("long", "l", Ttl::After(Duration::from_secs(3600)))
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(60));
    let db = Emdb::open(&path).unwrap();
    assert_eq!(db.get("short").unwrap(), None);
    let ttl = db.ttl("long").unwrap().unwrap();
    assert!(ttl > Duration::from_secs(3500) && ttl <= Duration::from_secs(3600));
    db.compact().unwrap();
    assert_eq!(db.stats().unwrap().live_records, 1);
    assert_eq!(db.sweep_expired(), 0);
}

#[test]
fn default_ttl_applies_to_namespaces_085() {
    let db = EmdbBuilder::new()
        .default_ttl(Duration::from_secs(60))
        .build()
        .unwrap();
    let n = db.namespace("n").unwrap();
    n.insert("k", "v").unwrap();
    assert!(n.ttl("k").unwrap().is_some());
    assert!(n.persist("k").unwrap());
    assert_eq!(n.expires_at("k").unwrap(), Some(0));
}

#[test]
fn sweep_covers_every_namespace_085() {
    let db = Emdb::open_in_memory();
    let n = db.namespace("n").unwrap();
    db.insert_with_ttl("a", "1", Ttl::After(Duration::ZERO))
        .unwrap();
    n.insert_with_ttl("b", "2", Ttl::After(Duration::ZERO))
        .unwrap();
    n.insert("c", "3").unwrap();
    assert_eq!(db.sweep_expired(), 2);
    assert_eq!(n.sweep_expired(), 0);
    assert_eq!(n.len().unwrap(), 1);
}
