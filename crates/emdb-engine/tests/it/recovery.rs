//! Open-time recovery: torn tails, mid-log corruption with its true offset, repair, foreign and
//! newer files, and damage the index snapshot let open skip (the snapshot itself: `snapshots`).

use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::Path;

use emdb_engine::format::DecodeError;
use emdb_engine::format::frame::set_lag;
use emdb_engine::format::scan::{Scanner, StopReason};
use emdb_engine::{Corruption, Engine, EngineError};

use crate::common::*;

/// Offsets of every frame in the file.
fn frame_offsets(path: &Path) -> Vec<(u64, usize)> {
    let image = std::fs::read(path).unwrap();
    Scanner::new(&image, 4096)
        .map(|f| (f.offset, f.frame.len()))
        .collect()
}

fn poke(path: &Path, offset: u64, bytes: &[u8]) {
    let f = OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

/// Writes `n` records, each flushed, then closes without a snapshot.
fn durable_log(path: &Path, n: u64) {
    let e = open(path, os_config(true).with_snapshot_on_close(false));
    for i in 0..n {
        e.put(0, &key(i), &value(i, 0), 0).unwrap();
        e.flush().unwrap();
    }
}

#[test]
fn torn_tail_is_truncated_and_the_rest_kept() {
    let (_d, path) = temp_db();
    durable_log(&path, 20);
    let offs = frame_offsets(&path);
    let (last, len) = *offs.last().unwrap();
    // A half-written frame after the last one: its header promises more than is there.
    let tail = last + len as u64;
    let mut torn = 4096u32.to_le_bytes().to_vec();
    torn.extend_from_slice(&[0xAB; 30]);
    poke(&path, tail, &torn);
    let e = open(&path, os_config(true));
    assert!(e.open_report().truncated_torn_tail);
    assert_eq!(e.logical_size(), tail);
    assert_eq!(e.len(0).unwrap(), 20);
    e.put(0, b"after", b"torn", 0).unwrap();
    e.flush().unwrap();
    drop(e);
    let e = open(&path, os_config(false));
    assert!(!e.open_report().truncated_torn_tail);
    assert_eq!(e.len(0).unwrap(), 21);
}

#[test]
fn mid_log_corruption_reports_its_true_offset_and_repair_salvages_around_it() {
    let (d, path) = temp_db();
    durable_log(&path, 30);
    let offs = frame_offsets(&path);
    let (bad, _) = offs[10];
    poke(&path, bad + 40, b"\xff\xfe");
    match Engine::open(&path, os_config(true)) {
        Err(EngineError::Corrupted {
            offset,
            reason: Corruption::Frame(DecodeError::ChecksumMismatch { .. }),
        }) => {
            assert_eq!(offset, bad);
        }
        other => panic!("expected corruption at {bad}, got {other:?}"),
    }
    let out = d.path().join("repaired.emdb");
    let report = Engine::repair(&path, &out, os_config(true)).unwrap();
    assert_eq!(report.frames_salvaged, 29);
    assert_eq!(report.lost_ranges, vec![(bad, offs[11].0)]);
    let e = open(&out, os_config(true));
    assert_eq!(e.len(0).unwrap(), 29);
    assert_eq!(e.get(0, &key(10)).unwrap(), None);
    assert_eq!(e.get(0, &key(29)).unwrap().unwrap().0, value(29, 0));
    assert!(matches!(
        Engine::repair(&path, &out, os_config(true)),
        Err(EngineError::InvalidArgument(_))
    ));
}

#[test]
fn zeroed_durable_region_is_corruption_not_a_tail() {
    let (_d, path) = temp_db();
    durable_log(&path, 10);
    let offs = frame_offsets(&path);
    poke(&path, offs[3].0, &vec![0u8; offs[3].1]);
    match Engine::open(&path, os_config(true)) {
        Err(EngineError::Corrupted {
            offset,
            reason: Corruption::Zeroed,
        }) => {
            assert_eq!(offset, offs[3].0);
        }
        other => panic!("expected zeroed corruption, got {other:?}"),
    }
}

#[test]
fn frame_from_a_newer_writer_is_a_clear_error() {
    let (_d, path) = temp_db();
    durable_log(&path, 3);
    let offs = frame_offsets(&path);
    let (at, len) = offs[1];
    let mut frame = vec![0u8; len];
    std::fs::File::open(&path)
        .unwrap()
        .read_exact_at(&mut frame, at)
        .unwrap();
    frame[8] = 0x70;
    set_lag(&mut frame, 0);
    poke(&path, at, &frame);
    match Engine::open(&path, os_config(true)) {
        Err(EngineError::UnsupportedFrame {
            offset,
            source: DecodeError::UnsupportedFrame { kind: 0x70, .. },
        }) => {
            assert_eq!(offset, at);
        }
        other => panic!("expected an unsupported frame, got {other:?}"),
    }
}

#[test]
fn foreign_short_and_directory_paths_are_refused() {
    let (d, path) = temp_db();
    std::fs::write(&path, "this is a text file, not a database\n".repeat(200)).unwrap();
    assert!(matches!(
        Engine::open(&path, os_config(true)),
        Err(EngineError::Header(DecodeError::BadMagic))
    ));
    std::fs::write(&path, b"\x89EMDB").unwrap();
    assert!(matches!(
        Engine::open(&path, os_config(true)),
        Err(EngineError::Header(DecodeError::Incomplete { .. }))
    ));
    assert!(matches!(
        Engine::open(d.path(), os_config(true)),
        Err(EngineError::Io { .. })
    ));
    match Engine::open(d.path().join("missing/dir/db"), os_config(true)) {
        Err(EngineError::Io { source, .. }) => assert_eq!(source.kind(), ErrorKind::NotFound),
        other => panic!("expected NotFound, got {other:?}"),
    }
    // An existing empty file becomes a fresh database.
    let empty = d.path().join("empty.emdb");
    std::fs::write(&empty, b"").unwrap();
    assert!(open(&empty, os_config(true)).open_report().created);
}

/// A handle dropped cleanly cuts the zeros it preallocated, so the file ends at the log's tail
/// and the next open has none to read; that open carries on writing as usual.
#[test]
fn a_clean_drop_ends_the_file_at_the_tail() {
    let (_d, path) = temp_db();
    let tail = {
        let e = open(&path, os_config(true));
        for i in 0..500 {
            e.put(0, &key(i), &value(i, 0), 0).unwrap();
        }
        let stats = e.stats();
        assert!(stats.preallocated > 0, "{stats:?}");
        stats.logical_size
    };
    assert_eq!(std::fs::metadata(&path).unwrap().len(), tail);
    for mmap in [true, false] {
        let e = open(&path, os_config(mmap));
        assert!(e.open_report().used_snapshot);
        assert_eq!(e.logical_size(), tail);
        assert_eq!(e.get(0, &key(3)).unwrap().unwrap().0, value(3, 0));
    }
    let e = open(&path, os_config(true));
    e.put(0, b"after", b"the cut", 0).unwrap();
    e.flush().unwrap();
    let grown = e.stats().logical_size;
    drop(e);
    let e = open(&path, os_config(false));
    assert_eq!(e.get(0, b"after").unwrap().unwrap().0, b"the cut");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), grown);
}

#[test]
fn scanner_alone_reads_an_engine_file() {
    let (_d, path) = temp_db();
    durable_log(&path, 5);
    let image = std::fs::read(&path).unwrap();
    let header = emdb_engine::format::FileHeader::decode_region(&image).unwrap();
    assert!(!header.is_encrypted());
    let summary = emdb_engine::format::scan::scan(&image);
    assert_eq!(summary.frames, 5);
    assert_eq!(summary.stop.reason, StopReason::EndOfLog);
}

#[test]
fn damage_behind_a_snapshot_is_reported_by_the_read_not_returned() {
    let (_d, path) = temp_db();
    durable_log(&path, 10);
    {
        // A clean close: the next open trusts the snapshot and skips the log.
        let e = open(&path, os_config(true));
        e.checkpoint().unwrap();
    }
    let offs = frame_offsets(&path);
    let (at, len) = offs[4];
    poke(&path, at + len as u64 - 12, b"\x00\x01"); // inside key-4's value
    for mmap in [true, false] {
        let e = open(&path, os_config(mmap));
        assert!(e.open_report().used_snapshot);
        match e.get(0, &key(4)) {
            Err(EngineError::Corrupted {
                offset,
                reason: Corruption::Frame(DecodeError::ChecksumMismatch { .. }),
            }) => {
                assert_eq!(offset, at + 16, "the entry's offset");
            }
            other => panic!("expected a checksum error, got {other:?}"),
        }
        assert_eq!(e.get(0, &key(5)).unwrap().unwrap().0, value(5, 0));
        assert!(matches!(
            e.compact(None),
            Err(EngineError::Corrupted { .. })
        ));
    }
}

/// The log below the end an index snapshot was taken at was durable when it was taken, so a
/// last frame there that does not decode is damage (reported), not a torn write (cut): even
/// when the snapshot no longer matches the log and open scans instead. A log that simply ends
/// below it still opens: the snapshot never makes an intact log unopenable.
#[test]
fn a_bad_frame_a_snapshot_covers_is_never_cut_as_a_torn_tail() {
    let checkpointed = |damage: &dyn Fn(&Path, u64, usize)| {
        let (d, path) = temp_db();
        durable_log(&path, 10);
        open(&path, os_config(true)).checkpoint().unwrap();
        let (last, len) = *frame_offsets(&path).last().unwrap();
        damage(&path, last, len);
        (d, path, last, last + len as u64)
    };

    // Bit rot in the last frame: without the snapshot's word it would pass for a torn write.
    let rot = |path: &Path, at: u64, len: usize| poke(path, at + len as u64 - 12, b"\x00\x01");
    let (d, path, last, _) = checkpointed(&rot);
    match Engine::open(&path, os_config(true)) {
        Err(EngineError::Corrupted {
            offset,
            reason: Corruption::Frame(DecodeError::ChecksumMismatch { .. }),
        }) => assert_eq!(offset, last),
        other => panic!("expected a checksum error, got {:?}", other.map(drop)),
    }
    let out = d.path().join("repaired.emdb");
    let report = Engine::repair(&path, &out, os_config(true)).unwrap();
    assert_eq!(report.frames_salvaged, 9);
    std::fs::remove_file(emdb_engine::snapshot_path(&path)).unwrap();
    let e = open(&path, os_config(true));
    assert!(
        e.open_report().truncated_torn_tail,
        "no snapshot: a torn tail"
    );
    assert_eq!(e.len(0).unwrap(), 9);
    drop(e);

    // A torn write past the snapshot's end is still cut, and the snapshot still used.
    let torn = |path: &Path, at: u64, len: usize| {
        poke(path, at + len as u64, &[0x40, 0, 0, 0, 0xAB, 0xAB]);
    };
    let (_d, path, _, end) = checkpointed(&torn);
    let e = open(&path, os_config(true));
    let report = e.open_report();
    assert!(
        report.truncated_torn_tail && report.used_snapshot,
        "{report:?}"
    );
    assert_eq!((e.logical_size(), e.len(0).unwrap()), (end, 10));
    drop(e);

    // An older copy of the file put back beside a newer snapshot opens as it is.
    let (d, path) = temp_db();
    durable_log(&path, 5);
    let copy = d.path().join("copy.emdb");
    std::fs::copy(&path, &copy).unwrap();
    let e = open(&path, os_config(true));
    e.put(0, b"later", b"record", 0).unwrap();
    drop(e);
    let old_end = std::fs::metadata(&copy).unwrap().len();
    std::fs::copy(&copy, &path).unwrap();
    let e = open(&path, os_config(true));
    assert!(!e.open_report().used_snapshot);
    assert_eq!((e.logical_size(), e.len(0).unwrap()), (old_end, 5));
}
