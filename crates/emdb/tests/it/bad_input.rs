//! Bad input gets a typed error with a clear message, never a panic, and nothing stored is lost.

use std::error::Error as _;
#[cfg(feature = "ttl")]
use std::time::Duration;

#[cfg(feature = "ttl")]
use emdb::Ttl;
use emdb::{Emdb, EmdbBuilder, Error};

use crate::common::*;

#[test]
fn foreign_and_truncated_files_are_refused_and_left_alone() {
    let (d, path) = temp_path();
    std::fs::write(&path, "just some text\n".repeat(1000)).unwrap();
    assert!(matches!(Emdb::open(&path), Err(Error::MagicMismatch)));
    std::fs::write(&path, "short text").unwrap();
    assert!(matches!(Emdb::open(&path), Err(Error::MagicMismatch)));
    assert_eq!(std::fs::read(&path).unwrap(), b"short text");
    // A real database cut inside its header.
    let real = d.path().join("real.emdb");
    drop(Emdb::open(&real).unwrap());
    let bytes = std::fs::read(&real).unwrap();
    std::fs::write(&real, &bytes[..1000]).unwrap();
    match Emdb::open(&real) {
        Err(e @ Error::Corrupted { .. }) => assert!(e.to_string().contains("header"), "{e}"),
        other => panic!("expected Corrupted, got {other:?}"),
    }
}

#[test]
fn paths_are_validated() {
    let (d, _) = temp_path();
    assert!(matches!(Emdb::open(d.path()), Err(Error::InvalidConfig(_))));
    match Emdb::open(d.path().join("missing/dir/db.emdb")) {
        Err(Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound),
        other => panic!("expected Io(NotFound), got {other:?}"),
    }
    let root = || EmdbBuilder::new().data_root(d.path());
    for bad in ["", "   ", "a/b", "..", ".", "../up", "a\\b"] {
        assert!(
            matches!(root().app_name(bad).build(), Err(Error::InvalidConfig(_))),
            "app {bad:?}"
        );
        assert!(
            matches!(
                root().database_name(bad).build(),
                Err(Error::InvalidConfig(_))
            ),
            "db {bad:?}"
        );
    }
    assert!(matches!(
        EmdbBuilder::new()
            .path(d.path().join("x"))
            .app_name("a")
            .build(),
        Err(Error::InvalidConfig(_))
    ));
    assert!(matches!(
        EmdbBuilder::new().path("").build(),
        Err(Error::InvalidConfig(_))
    ));
    let ok = root()
        .app_name("app")
        .database_name("main.emdb")
        .build()
        .unwrap();
    assert!(ok.path().ends_with("app/main.emdb"));
}

#[test]
fn oversize_keys_values_and_ttls_are_typed_errors_and_write_nothing() {
    let db = Emdb::open_in_memory();
    db.insert("kept", "v").unwrap();
    let before = db.stats().unwrap().logical_size_bytes;
    let big_key = vec![1u8; (1 << 20) + 1];
    assert!(matches!(
        db.insert(big_key.clone(), "v"),
        Err(Error::KeyTooLarge { .. })
    ));
    assert!(matches!(
        db.insert_many([(big_key.as_slice(), b"v".as_slice())]),
        Err(Error::KeyTooLarge { .. })
    ));
    #[cfg(feature = "ttl")]
    assert!(matches!(
        db.insert_with_ttl("k", "v", Ttl::After(Duration::MAX)),
        Err(Error::TtlOverflow)
    ));
    let n = db.namespace("n").unwrap();
    assert!(matches!(
        n.insert(big_key, "v"),
        Err(Error::KeyTooLarge { .. })
    ));
    #[cfg(feature = "ttl")]
    assert!(matches!(
        n.insert_with_ttl("k", "v", Ttl::After(Duration::MAX)),
        Err(Error::TtlOverflow)
    ));
    assert_eq!(db.get("kept").unwrap(), Some(b"v".to_vec()));
    assert!(
        db.stats().unwrap().logical_size_bytes > before,
        "only the namespace creation was written"
    );
    assert_eq!(db.len().unwrap(), 1);
}

/// A batch is one frame, at most 1 GiB. Three 400 MiB values (one zeroed allocation the test
/// never touches, borrowed three times) make a larger one: refused before a byte is encoded.
#[test]
fn a_batch_over_the_frame_limit_is_a_typed_error_and_writes_nothing() {
    let (_d, path) = temp_path();
    let db = Emdb::open(&path).unwrap();
    db.insert("kept", "v").unwrap();
    let before = db.stats().unwrap().logical_size_bytes;
    let big = vec![0u8; 400 << 20];
    let err = db
        .insert_many([("a", &big[..]), ("b", &big[..]), ("c", &big[..])])
        .unwrap_err();
    assert!(matches!(err, Error::BatchTooLarge { .. }), "{err:?}");
    assert!(err.to_string().contains("batch"), "{err}");
    assert_eq!(db.stats().unwrap().logical_size_bytes, before);
    assert_eq!(db.len().unwrap(), 1);
    drop(db);
    let db = Emdb::open(&path).unwrap();
    assert_eq!(db.get("kept").unwrap(), Some(b"v".to_vec()));
    assert_eq!(db.get("a").unwrap(), None);
}

#[test]
fn a_locked_file_is_a_typed_error() {
    let (_d, path) = temp_path();
    let db = Emdb::open(&path).unwrap();
    db.insert("k", "v").unwrap();
    let err = Emdb::open(&path).unwrap_err();
    assert!(matches!(err, Error::LockBusy { .. }));
    assert_eq!(db.get("k").unwrap(), Some(b"v".to_vec()));
}

#[test]
fn errors_are_readable_and_chain_their_source() {
    let e = Emdb::open("/definitely/not/here/db.emdb").unwrap_err();
    assert!(e.to_string().starts_with("emdb: io error"), "{e}");
    assert!(e.source().is_some());
    let from_io: Error = std::io::Error::other("x").into();
    assert!(matches!(from_io, Error::Io(_)));
    for e in [
        Error::MagicMismatch,
        Error::InvalidConfig("x"),
        Error::Poisoned,
        Error::KeyTooLarge { len: 2, max: 1 },
        Error::VersionMismatch {
            found: 2,
            expected: 1,
        },
    ] {
        assert!(e.to_string().starts_with("emdb: "), "{e}");
    }
}
