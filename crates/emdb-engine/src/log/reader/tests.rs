//! Unit tests of the reader: entries that do not fit in the file.

use emdb_format::{DecodeError, EntryRef};

use super::*;
use crate::storage::{OpenMode, OsStorage, Storage};

/// An index entry that points at a record running past the end of the file (as a damaged
/// snapshot can make) is corruption at that offset on both read paths: the map path finds the
/// bytes too short, the `pread` path reads into the end of the file. Neither is an I/O error.
#[test]
fn an_entry_past_the_end_of_the_file_is_corruption_on_both_paths() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = OsStorage
        .open(&dir.path().join("log"), OpenMode::Truncate)
        .expect("open");
    let mut entry = Vec::new();
    EntryRef::put(0, b"key", &[7u8; 200], 0).encode_into(&mut entry);
    let at = 4096u64;
    file.write_at(&vec![0u8; 4096], 0).expect("write");
    file.write_at(&entry[..entry.len() / 2], at).expect("write");
    let len = file.len().expect("len");
    for mmap in [true, false] {
        let reader = LogReader::new(file.clone(), len, mmap, [0; 16], None).expect("reader");
        match reader.value_if(at, |_| true) {
            Err(EngineError::Corrupted {
                offset,
                reason: Corruption::Frame(e),
            }) => {
                assert_eq!(offset, at, "mmap {mmap}");
                assert!(
                    matches!(e, DecodeError::Incomplete { .. }),
                    "mmap {mmap}: {e:?}"
                );
            }
            other => panic!("mmap {mmap}: expected corruption, got {other:?}"),
        }
        assert!(
            reader.with_entry(at, |e| e.key.to_vec()).is_err(),
            "mmap {mmap}"
        );
    }
    // Past the end altogether: the header itself cannot be read.
    let reader = LogReader::new(file.clone(), len, false, [0; 16], None).expect("reader");
    assert!(matches!(
        reader.value_if(len + 64, |_| true),
        Err(EngineError::Corrupted { .. })
    ));
}
