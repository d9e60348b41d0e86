//! Golden fixtures: the committed bytes in `tests/fixtures/v1/` are what this build encodes and
//! what it decodes back. A layout change fails here until `FORMAT_VERSION` is bumped and new
//! fixtures are written on purpose (`EMDB_WRITE_FIXTURES=1 cargo test -p emdb-format --test it`).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use std::path::PathBuf;

use emdb_format::frame::lag_for;
use emdb_format::scan::{StopReason, scan};
use emdb_format::{
    EntryRef, FORMAT_VERSION, FileHeader, Frame, FrameBuilder, FrameFlags, FrameItem, FrameKind,
};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/v{FORMAT_VERSION}"))
}

fn header() -> FileHeader {
    FileHeader::new_plain(*b"golden-file-id!!", 1_700_000_000_000)
}

fn frame(kind: FrameKind, entries: &[EntryRef<'_>], lag: u32) -> Vec<u8> {
    let mut out = vec![];
    let mut b = FrameBuilder::new(&mut out, kind, FrameFlags::default());
    for e in entries {
        b.push_entry(e);
    }
    b.finish(lag).unwrap();
    out
}

/// Every fixture: name and the bytes this build produces for it.
fn fixtures() -> Vec<(&'static str, Vec<u8>)> {
    let put = frame(FrameKind::Put, &[EntryRef::put(0, b"key", b"value", 0)], 0);
    let put_ttl = frame(
        FrameKind::Put,
        &[EntryRef::put(7, b"k", b"v", 1_800_000_000_000)],
        3,
    );
    let delete = frame(FrameKind::Delete, &[EntryRef::delete(0, b"key")], 0);
    let ns_create = frame(FrameKind::NsCreate, &[EntryRef::ns_create(1, b"users")], 0);
    let ns_drop = frame(FrameKind::NsDrop, &[EntryRef::ns_drop(1)], 0);
    let clear = frame(FrameKind::Clear, &[EntryRef::clear(0)], 0);
    let batch = frame(
        FrameKind::Batch,
        &[
            EntryRef::put(0, b"a", b"1", 0),
            EntryRef::delete(0, b"b"),
            EntryRef::put(0, b"c", b"", 9),
        ],
        0,
    );
    let mut log = header().encode_region().to_vec();
    for f in [&ns_create, &put, &batch, &delete, &clear, &ns_drop] {
        let at = log.len() as u64;
        let mut f = f.clone();
        emdb_format::frame::set_lag(&mut f, lag_for(at, 4096));
        log.extend_from_slice(&f);
    }
    log.resize(log.len() + 64, 0);
    vec![
        ("header.bin", header().encode_region().to_vec()),
        ("frame_put.bin", put),
        ("frame_put_ttl.bin", put_ttl),
        ("frame_delete.bin", delete),
        ("frame_ns_create.bin", ns_create),
        ("frame_ns_drop.bin", ns_drop),
        ("frame_clear.bin", clear),
        ("frame_batch.bin", batch),
        ("log_small.bin", log),
    ]
}

#[test]
fn encodings_match_the_committed_fixtures() {
    let dir = fixture_dir();
    if std::env::var_os("EMDB_WRITE_FIXTURES").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in fixtures() {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    for (name, bytes) in fixtures() {
        let committed = std::fs::read(dir.join(name))
            .unwrap_or_else(|e| panic!("fixture {name} missing ({e}); see the module docs"));
        assert_eq!(
            committed, bytes,
            "{name}: layout changed without a FORMAT_VERSION bump"
        );
    }
}

#[test]
fn committed_fixtures_decode_to_their_contents() {
    let dir = fixture_dir();
    let read = |n: &str| std::fs::read(dir.join(n)).unwrap();
    assert_eq!(
        FileHeader::decode_region(&read("header.bin")).unwrap(),
        header()
    );
    let put = read("frame_put.bin");
    let f = Frame::decode(&put).unwrap();
    assert_eq!(f.kind, FrameKind::Put);
    let items: Vec<_> = f.items().map(|i| i.unwrap().1).collect();
    assert_eq!(
        items,
        vec![FrameItem::Entry(EntryRef::put(0, b"key", b"value", 0))]
    );
    let ttl = read("frame_put_ttl.bin");
    let f = Frame::decode(&ttl).unwrap();
    assert_eq!(f.lag, 3);
    let Some(Ok((_, FrameItem::Entry(e), _))) = f.items().next() else {
        panic!("no entry")
    };
    assert_eq!((e.ns, e.expires_at), (7, 1_800_000_000_000));
    let batch = read("frame_batch.bin");
    assert_eq!(Frame::decode(&batch).unwrap().item_count(), 3);
    let log = read("log_small.bin");
    let s = scan(&log);
    assert_eq!(s.frames, 6);
    assert_eq!(s.stop.reason, StopReason::EndOfLog);
    assert_eq!(s.stop.offset, log.len() as u64 - 64);
}

#[test]
fn damaged_fixture_copies_are_told_apart() {
    let log = std::fs::read(fixture_dir().join("log_small.bin")).unwrap();
    let end = log.len() - 64;
    // Cut mid-frame: torn tail.
    let s = scan(&log[..end - 5]);
    assert!(matches!(s.stop.reason, StopReason::TornTail { .. }));
    assert_eq!(s.frames, 5);
}
