//! Namespaces: isolation, persistence of drops, handles after a drop, listing.

use emdb::{Emdb, Error};

use crate::common::*;

#[test]
fn namespaces_are_isolated() {
    let db = Emdb::open_in_memory();
    let a = db.namespace("a").unwrap();
    let b = db.namespace("b").unwrap();
    a.insert("k", "in-a").unwrap();
    b.insert("k", "in-b").unwrap();
    db.insert("k", "default").unwrap();
    assert_eq!(a.get("k").unwrap(), Some(b"in-a".to_vec()));
    assert_eq!(b.get("k").unwrap(), Some(b"in-b".to_vec()));
    a.clear().unwrap();
    assert_eq!(b.len().unwrap(), 1);
    assert_eq!(db.len().unwrap(), 1);
    assert_eq!(db.namespace("a").unwrap().name(), "a");
}

#[test]
fn list_namespaces_has_the_default_first_then_creation_order() {
    let db = Emdb::open_in_memory();
    assert_eq!(db.list_namespaces().unwrap(), vec![String::new()]);
    db.namespace("zeta").unwrap();
    db.namespace("alpha").unwrap();
    db.namespace("zeta").unwrap();
    assert_eq!(db.list_namespaces().unwrap(), vec!["", "zeta", "alpha"]);
    assert_eq!(db.stats().unwrap().namespace_count, 2);
}

#[test]
fn drop_is_persisted_and_data_never_reappears_085() {
    let (_d, path) = temp_path();
    {
        let db = Emdb::open(&path).unwrap();
        let n = db.namespace("n").unwrap();
        n.insert_many([("a", "1"), ("b", "2")]).unwrap();
        assert!(db.drop_namespace("n").unwrap());
        assert!(!db.drop_namespace("n").unwrap());
        // The old handle refuses to work.
        assert!(matches!(
            n.insert("c", "3"),
            Err(Error::InvalidConfig("unknown namespace id"))
        ));
        assert!(matches!(n.get("a"), Err(Error::InvalidConfig(_))));
        // A namespace of the same name starts empty.
        let again = db.namespace("n").unwrap();
        assert!(again.is_empty().unwrap());
        again.insert("fresh", "yes").unwrap();
        assert_eq!(db.stats().unwrap().namespace_count, 1);
    }
    let db = Emdb::open(&path).unwrap();
    assert_eq!(db.list_namespaces().unwrap(), vec!["", "n"]);
    let n = db.namespace("n").unwrap();
    assert_eq!(
        sorted(n.iter().unwrap().collect()),
        vec![kv("fresh", "yes")]
    );
    // 0.8.5 counts the orphaned runtime of the dropped namespace here.
    assert_eq!(db.stats().unwrap().namespace_count, 1);
    assert_eq!(db.stats().unwrap().live_records, 1);
}

#[test]
fn namespace_clear_is_persisted_085() {
    let (_d, path) = temp_path();
    {
        let db = Emdb::open(&path).unwrap();
        let n = db.namespace("n").unwrap();
        n.insert("a", "1").unwrap();
        n.clear().unwrap();
    }
    let db = Emdb::open(&path).unwrap();
    assert!(db.namespace("n").unwrap().is_empty().unwrap());
}

#[test]
fn namespace_names_are_validated() {
    let db = Emdb::open_in_memory();
    assert!(matches!(db.namespace(""), Err(Error::InvalidConfig(_))));
    assert!(matches!(
        db.drop_namespace(""),
        Err(Error::InvalidConfig(_))
    ));
    let long = "x".repeat(10_000);
    assert!(matches!(
        db.namespace(&long),
        Err(Error::NamespaceNameTooLarge { .. })
    ));
    assert_eq!(db.list_namespaces().unwrap(), vec![String::new()]);
}

#[test]
fn namespace_handles_iterate_and_remove() {
    let db = Emdb::open_in_memory();
    let n = db.namespace("n").unwrap();
    n.insert_many([("a", "1"), ("b", "2")]).unwrap();
    assert_eq!(
        sorted(n.iter().unwrap().collect()),
        vec![kv("a", "1"), kv("b", "2")]
    );
    assert_eq!(n.keys().unwrap().count(), 2);
    assert_eq!(n.remove("a").unwrap(), Some(b"1".to_vec()));
    assert!(!n.contains_key("a").unwrap());
    assert_eq!(n.get_zerocopy("b").unwrap().unwrap().as_slice(), b"2");
    assert!(format!("{n:?}").contains("\"n\""));
}
