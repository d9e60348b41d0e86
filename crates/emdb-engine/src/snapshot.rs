//! The index snapshot in `<path>.snap`: the hash shards as they were at a known log offset, so
//! open only replays the log after it.
//!
//! ## Format (little-endian)
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `EMDBSNP1` |
//! | 8 | 2 | snapshot version (1) |
//! | 10 | 2 | reserved |
//! | 12 | 4 | shards per namespace (16) |
//! | 16 | 16 | file id of the log it indexes |
//! | 32 | 8 | log end: the index reflects every frame before this offset |
//! | 40 | 8 | offset of the last frame before the log end (0 if none) |
//! | 48 | 4 | CRC field of that frame |
//! | 52 | 4 | reserved |
//! | 56 | 4 | next namespace id |
//! | 60 | 4 | namespace count `n` |
//! | 64 | .. | `n` namespaces: id u32, reserved u32, offset of the entry that created it u64 (0 for the default namespace), live records with an expiry u64, then per shard a slot count u64 and the slots (u64 each) |
//! | end-8 | 4 | CRC-32 of everything before |
//! | end-4 | 4 | reserved |
//!
//! The snapshot holds no key, value or name: namespace names are read back from their creating
//! entries in the log (decrypted, for an encrypted file), and the hash seed of an encrypted file
//! derives from its key, so the slot tags reveal nothing about the keys.
//!
//! Invariant: a snapshot is used only if its CRC holds, it names the open file's id, the frame
//! it names ends exactly at its log end with the same CRC, its namespaces come in the order
//! written (the default first, then increasing ids below the next id), and every namespace's
//! creating entry is where it says; anything else falls back to a full scan.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use emdb_format::Frame;
use emdb_format::checksum::crc32;
use emdb_format::entry::Op;
use emdb_format::scan::LOG_START;

use crate::durability::publish;
use crate::error::{EngineError, Result};
use crate::index::table::Table;
use crate::index::{Index, NsIndex, SHARDS};
use crate::lockfile::sidecar;
use crate::log::mmap::Mapping;
use crate::log::reader::LogReader;
use crate::namespace::NamespaceTable;
use crate::storage::{OpenMode, Storage};

const MAGIC: &[u8; 8] = b"EMDBSNP1";
const VERSION: u16 = 1;

/// `<path>.snap`.
pub fn snapshot_path(db: &Path) -> PathBuf {
    sidecar(db, ".snap")
}

/// What a snapshot records besides the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SnapshotPoint {
    pub(crate) log_end: u64,
    pub(crate) last_frame_offset: u64,
    pub(crate) last_frame_crc: u32,
}

pub(crate) struct Snapshot {
    pub(crate) point: SnapshotPoint,
    pub(crate) names: NamespaceTable,
    pub(crate) tables: Vec<(u32, u64, Vec<Table>)>,
}

/// The state a snapshot records, copied under the writer mutex (cheap: a copy of the slot
/// arrays) so that encoding and writing happen without it.
pub(crate) struct Capture {
    file_id: [u8; 16],
    point: SnapshotPoint,
    next_id: u32,
    /// Namespace id, creating-entry offset, live records with an expiry, shard tables.
    namespaces: Vec<(u32, u64, u64, Vec<Vec<u64>>)>,
}

pub(crate) fn capture(
    file_id: &[u8; 16],
    point: SnapshotPoint,
    names: &NamespaceTable,
    index: &Index,
) -> Capture {
    let namespaces = names
        .creations()
        .into_iter()
        .map(|(id, created)| {
            let ns = index.ns(id);
            let tables = ns.as_ref().map(|n| n.tables()).unwrap_or_default();
            let expiring = ns.map_or(0, |n| n.expiring());
            (id, created, expiring, tables)
        })
        .collect();
    Capture {
        file_id: *file_id,
        point,
        next_id: names.next_id(),
        namespaces,
    }
}

pub(crate) fn encode(c: &Capture) -> Vec<u8> {
    let slots: usize = c
        .namespaces
        .iter()
        .flat_map(|(.., t)| t)
        .map(Vec::len)
        .sum();
    let mut out = Vec::with_capacity(128 + slots * 8);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&[0; 2]);
    out.extend_from_slice(&(SHARDS as u32).to_le_bytes());
    out.extend_from_slice(&c.file_id);
    out.extend_from_slice(&c.point.log_end.to_le_bytes());
    out.extend_from_slice(&c.point.last_frame_offset.to_le_bytes());
    out.extend_from_slice(&c.point.last_frame_crc.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&c.next_id.to_le_bytes());
    out.extend_from_slice(&(c.namespaces.len() as u32).to_le_bytes());
    for (id, created, expiring, tables) in &c.namespaces {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&created.to_le_bytes());
        out.extend_from_slice(&expiring.to_le_bytes());
        for t in tables {
            out.extend_from_slice(&(t.len() as u64).to_le_bytes());
            for s in t {
                out.extend_from_slice(&s.to_le_bytes());
            }
        }
    }
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out
}

/// Writes a snapshot durably: temp file, fsync, rename, directory fsync.
pub(crate) fn write(storage: &dyn Storage, db: &Path, bytes: &[u8]) -> Result<()> {
    let path = snapshot_path(db);
    let tmp = sidecar(db, ".snap.tmp");
    let f = storage
        .open(&tmp, OpenMode::Truncate)
        .map_err(EngineError::io("creating a snapshot"))?;
    f.write_at(bytes, 0)
        .map_err(EngineError::io("writing a snapshot"))?;
    publish(storage, f.as_ref(), &tmp, &path)
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.buf.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Option<u64> {
        let b: [u8; 8] = self.take(8)?.try_into().ok()?;
        Some(u64::from_le_bytes(b))
    }
}

/// A snapshot file's bytes.
pub(crate) enum Stored {
    /// Mapped: no copy of the slots (eight bytes a record), which open reads once.
    Mapped(Arc<Mapping>),
    /// Read into memory, where the storage cannot map or maps are turned off.
    Read(Vec<u8>),
}

impl Stored {
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Stored::Mapped(m) => m.as_slice(),
            Stored::Read(v) => v,
        }
    }
}

/// The snapshot of database `db`, mapped if `map` and the storage can (a map that fails falls
/// back to reading); `None` if there is none or it cannot be read (open then scans the log).
pub(crate) fn load(storage: &dyn Storage, db: &Path, map: bool) -> Option<Stored> {
    let path = snapshot_path(db);
    if map
        && let Ok(file) = storage.open(&path, OpenMode::Existing)
        && let Ok(len) = file.len()
        && let Ok(Some(mapped)) = file.map(len)
    {
        return Some(Stored::Mapped(mapped));
    }
    storage.read_all(&path).ok().map(Stored::Read)
}

/// A snapshot whose checksum, magic, version, shard count and file id are right, not yet
/// checked against the log. Its `point.log_end` is the end of the log it was taken at: a
/// checkpoint makes the log durable up to there before it writes the snapshot, so no torn write
/// can reach below it, whatever the log holds now (recovery relies on this).
pub(crate) struct Checked<'a> {
    pub(crate) point: SnapshotPoint,
    /// The rest of the body, from the namespace table on.
    rest: Cursor<'a>,
}

/// The log end vouched for by the snapshot file of the database at `db` whose file id is
/// `file_id`: the log was durable up to there when the snapshot was written, so a frame below it
/// that does not decode is damage, not a torn write. For tools that read a database without
/// opening it; `None` without a snapshot with a valid checksum for that file.
pub fn checkpointed_log_end(storage: &dyn Storage, db: &Path, file_id: &[u8; 16]) -> Option<u64> {
    let stored = load(storage, db, false)?;
    check(stored.bytes(), file_id).map(|c| c.point.log_end)
}

/// Checks a snapshot's own integrity and that it belongs to the file `file_id` (one pass of its
/// checksum over the whole body).
pub(crate) fn check<'a>(bytes: &'a [u8], file_id: &[u8; 16]) -> Option<Checked<'a>> {
    let body_len = bytes.len().checked_sub(8)?;
    let stored = u32::from_le_bytes(bytes.get(body_len..body_len + 4)?.try_into().ok()?);
    if crc32(bytes.get(..body_len)?) != stored {
        return None;
    }
    let mut c = Cursor {
        buf: bytes.get(..body_len)?,
        pos: 0,
    };
    if c.take(8)? != MAGIC {
        return None;
    }
    let version = c.u32()? & 0xffff;
    if version != u32::from(VERSION) || c.u32()? as usize != SHARDS || c.take(16)? != file_id {
        return None;
    }
    let point = SnapshotPoint {
        log_end: c.u64()?,
        last_frame_offset: c.u64()?,
        last_frame_crc: c.u32()?,
    };
    c.u32()?;
    Some(Checked { point, rest: c })
}

/// Decodes a checked snapshot and validates it against the open log; `None` means "scan
/// instead".
pub(crate) fn decode(checked: Checked<'_>, image: &[u8], reader: &LogReader) -> Option<Snapshot> {
    let Checked { point, rest: mut c } = checked;
    if !frame_ends_at(image, point) {
        return None;
    }
    let next_id = c.u32()?;
    let count = c.u32()?;
    let mut names = NamespaceTable::default();
    let mut tables = Vec::new();
    let mut previous: Option<u32> = None;
    for _ in 0..count {
        let id = c.u32()?;
        c.u32()?;
        let created = c.u64()?;
        let expiring = c.u64()?;
        // As written: the default namespace first, then increasing ids below the next one. A
        // repeated id (a second default, say) would stand in for a namespace the log has.
        let in_order = match previous {
            None => id == 0 && created == 0,
            Some(p) => id > p && id < next_id,
        };
        if !in_order {
            return None;
        }
        previous = Some(id);
        if id != 0 {
            if created < LOG_START || created >= point.log_end {
                return None;
            }
            let name = reader
                .with_entry(created, |e| {
                    (e.op == Op::NsCreate && e.ns == id).then(|| e.key.to_vec())
                })
                .ok()??;
            names.create(id, &name, created).ok()?;
        }
        let mut shards = Vec::with_capacity(SHARDS);
        for _ in 0..SHARDS {
            let n = usize::try_from(c.u64()?).ok()?;
            let raw = c.take(n.checked_mul(8)?)?;
            shards.push(Table::from_le_bytes(raw, LOG_START, point.log_end)?);
        }
        tables.push((id, expiring, shards));
    }
    // Every snapshot holds the default namespace; one without would hide its records.
    if previous.is_none() || c.pos != c.buf.len() {
        return None;
    }
    names.set_next_id(next_id);
    Some(Snapshot {
        point,
        names,
        tables,
    })
}

fn frame_ends_at(image: &[u8], p: SnapshotPoint) -> bool {
    if p.log_end == LOG_START {
        return p.last_frame_offset == 0;
    }
    let Some(rest) = usize::try_from(p.last_frame_offset)
        .ok()
        .and_then(|o| image.get(o..))
    else {
        return false;
    };
    match Frame::decode(rest) {
        Ok(f) => {
            let crc = u32::from_le_bytes([f.bytes[4], f.bytes[5], f.bytes[6], f.bytes[7]]);
            crc == p.last_frame_crc && p.last_frame_offset + f.len() as u64 == p.log_end
        }
        Err(_) => false,
    }
}

/// Builds an index from a decoded snapshot.
pub(crate) fn into_index(
    snap: Snapshot,
    seed: u64,
    ordered: bool,
) -> (Index, NamespaceTable, SnapshotPoint) {
    let mut default = None;
    let mut named = Vec::new();
    for (id, expiring, tables) in snap.tables {
        let ns = NsIndex::from_tables(tables, expiring, ordered);
        if id == 0 {
            default = Some(ns);
        } else {
            named.push((id, ns));
        }
    }
    let index = Index::with_default(
        seed,
        ordered,
        default.unwrap_or_else(|| NsIndex::new(ordered)),
    );
    for (id, ns) in named {
        index.insert(id, ns);
    }
    (index, snap.names, snap.point)
}
