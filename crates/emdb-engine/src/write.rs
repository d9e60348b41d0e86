//! The write path: validate, encode one frame, append it, update the index.
//!
//! Steps of a commit (also in `docs/design.md`):
//! 1. Check limits and namespaces; nothing is written if one fails.
//! 2. Take the writer mutex; refuse if poisoned.
//! 3. With the range index on, order a batch of puts and deletes by (namespace, key), stably.
//!    Encode all operations as one frame (a batch frame for several) at the tail offset, or
//!    leave a large one to be encoded as it is written ([`crate::frame_encode`]).
//! 4. Grow the zero-filled file (and the map) if the frame does not fit, and publish a read view
//!    with the new map.
//! 5. `pwrite` the frame at the tail. A failed write poisons the engine.
//! 6. Apply the entries to the index; publish the new tail for flushers.
//! 7. Under `SyncPolicy::EveryWrite`, flush before returning.

use emdb_format::Op;
use emdb_format::entry::EntryRef;
use emdb_format::limits;

use crate::apply::apply_entry;
use crate::config::SyncPolicy;
use crate::engine::Engine;
use crate::error::{EngineError, Result};
use crate::frame_encode::{key_order, prepare_frame};
use crate::log::writer::LogWriter;

/// One mutation of a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOp<'a> {
    /// Set a key, with an expiry in unix ms (0 = never).
    Put {
        /// Namespace id.
        ns: u32,
        /// Key.
        key: &'a [u8],
        /// Value.
        value: &'a [u8],
        /// Expiry, unix ms; 0 for none.
        expires_at: u64,
    },
    /// Remove a key (a tombstone is written even if the key is absent).
    Delete {
        /// Namespace id.
        ns: u32,
        /// Key.
        key: &'a [u8],
    },
    /// Remove every record of a namespace.
    Clear {
        /// Namespace id.
        ns: u32,
    },
}

impl<'a> WriteOp<'a> {
    fn entry(&self) -> EntryRef<'a> {
        match *self {
            WriteOp::Put {
                ns,
                key,
                value,
                expires_at,
            } => EntryRef::put(ns, key, value, expires_at),
            WriteOp::Delete { ns, key } => EntryRef::delete(ns, key),
            WriteOp::Clear { ns } => EntryRef::clear(ns),
        }
    }
}

/// Checks key and value lengths of a put.
pub(crate) fn check_limits(op: &WriteOp<'_>) -> Result<()> {
    match op {
        WriteOp::Put { key, value, .. } => {
            limits::check_key(key.len())?;
            limits::check_value(value.len())?;
        }
        WriteOp::Delete { key, .. } => limits::check_key(key.len())?,
        WriteOp::Clear { .. } => {}
    }
    Ok(())
}

impl Engine {
    /// Commits `ops` as one atomic frame: after a crash either all are visible or none.
    ///
    /// Not durable until [`Engine::flush`] (unless the policy is `EveryWrite`).
    pub fn commit(&self, ops: &[WriteOp<'_>]) -> Result<()> {
        if ops.is_empty() {
            return Ok(());
        }
        for op in ops {
            check_limits(op)?;
        }
        // A single write (the common case) needs no vector.
        let mut one;
        let mut many: Vec<EntryRef<'_>>;
        let entries: &mut [EntryRef<'_>] = if let [op] = ops {
            one = [op.entry()];
            &mut one
        } else {
            many = ops.iter().map(WriteOp::entry).collect();
            &mut many
        };
        self.commit_entries(&mut self.writer.lock(), entries)?;
        if self.config.sync == SyncPolicy::EveryWrite {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes and applies entries (in key order when that is invisible, see [`key_order`]); the
    /// caller holds the writer mutex.
    pub(crate) fn commit_entries(
        &self,
        w: &mut LogWriter,
        entries: &mut [EntryRef<'_>],
    ) -> Result<()> {
        self.commit.check()?;
        if self.config.range_index {
            key_order(entries);
        }
        let entries = &*entries;
        let cur = self.generation.load();
        for e in entries {
            if cur.index.with_ns(e.ns, |_| ()).is_none() && e.op != Op::NsCreate {
                return Err(EngineError::NamespaceMissing(e.ns));
            }
        }
        let frame = prepare_frame(w, &cur, self.commit.synced(), entries)?;
        let allocated = w.allocated;
        w.reserve(frame.len(), &cur.reader)
            .inspect_err(|_| self.commit.poison())?;
        if w.allocated != allocated {
            // The file grew and has a new map: point reads should use it.
            self.publish_view();
        }
        // The index nodes the first entries will update load while the write runs; later ones
        // are requested a few entries ahead of their turn below.
        cur.index.prefetch_start(entries);
        w.append(frame).inspect_err(|_| self.commit.poison())?;
        let mut names = self.names.write();
        for (e, &at) in cur.index.prefetching(entries).zip(&w.offsets) {
            // The frame is durable-to-be; an apply failure means the index and log disagree.
            apply_entry(&cur.index, &mut names, &cur.reader, e, at)
                .inspect_err(|_| self.commit.poison())?;
        }
        self.commit.publish_written(w.tail);
        self.default_counts.set(&cur);
        w.release_large_buffer();
        Ok(())
    }

    /// Sets `key` in namespace `ns`.
    pub fn put(&self, ns: u32, key: &[u8], value: &[u8], expires_at: u64) -> Result<()> {
        self.commit(&[WriteOp::Put {
            ns,
            key,
            value,
            expires_at,
        }])
    }

    /// Removes every record of namespace `ns`, durably (a `Clear` frame).
    pub fn clear(&self, ns: u32) -> Result<()> {
        self.commit(&[WriteOp::Clear { ns }])
    }

    /// Removes `key` if present; returns its value and expiry. Check and removal are atomic.
    pub fn remove(&self, ns: u32, key: &[u8]) -> Result<Option<(Vec<u8>, u64)>> {
        self.update(|view| {
            let old = view.get(ns, key)?;
            let ops = if old.is_some() {
                vec![OwnedOp::Delete {
                    ns,
                    key: key.to_vec(),
                }]
            } else {
                vec![]
            };
            Ok((ops, old))
        })
    }

    /// Reads under the writer mutex, then commits the operations `f` returns as one frame.
    ///
    /// Use it for read-modify-write steps that must not interleave with other writers.
    pub fn update<R>(
        &self,
        f: impl FnOnce(&LockedView<'_>) -> Result<(Vec<OwnedOp>, R)>,
    ) -> Result<R> {
        let result: Result<R> = (|| {
            let mut w = self.writer.lock();
            let (ops, out) = f(&LockedView { engine: self })?;
            if !ops.is_empty() {
                let mut entries = ops
                    .iter()
                    .map(|op| {
                        let op = op.as_write_op();
                        check_limits(&op)?;
                        Ok(op.entry())
                    })
                    .collect::<Result<Vec<EntryRef<'_>>>>()?;
                self.commit_entries(&mut w, &mut entries)?;
            }
            Ok(out)
        })();
        let out = result?;
        if self.config.sync == SyncPolicy::EveryWrite {
            self.flush()?;
        }
        Ok(out)
    }

    /// Creates namespace `name` (or returns the id it already has).
    pub fn create_namespace(&self, name: &str) -> Result<u32> {
        if name.is_empty() {
            return Err(EngineError::InvalidArgument(
                "namespace name must not be empty",
            ));
        }
        limits::check_namespace(name.len())?;
        let mut w = self.writer.lock();
        if let Some(id) = self.names.read().id(name) {
            return Ok(id);
        }
        let id = self.names.read().next_id();
        self.commit_entries(&mut w, &mut [EntryRef::ns_create(id, name.as_bytes())])?;
        Ok(id)
    }

    /// Drops namespace `name` and all its records, durably. Returns `false` if it did not exist.
    pub fn drop_namespace(&self, name: &str) -> Result<bool> {
        if name.is_empty() {
            return Err(EngineError::InvalidArgument(
                "the default namespace cannot be dropped",
            ));
        }
        let mut w = self.writer.lock();
        let Some(id) = self.names.read().id(name) else {
            return Ok(false);
        };
        self.commit_entries(&mut w, &mut [EntryRef::ns_drop(id)])?;
        Ok(true)
    }

    /// The id of namespace `name` (`""` is the default namespace, id 0).
    pub fn namespace_id(&self, name: &str) -> Option<u32> {
        self.names.read().id(name)
    }

    /// Every namespace as `(id, name)`: the default first, then in creation order.
    pub fn namespaces(&self) -> Vec<(u32, String)> {
        self.names.read().list()
    }
}

/// An owned [`WriteOp`], returned from [`Engine::update`] closures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedOp {
    /// See [`WriteOp::Put`].
    Put {
        /// Namespace id.
        ns: u32,
        /// Key.
        key: Vec<u8>,
        /// Value.
        value: Vec<u8>,
        /// Expiry, unix ms; 0 for none.
        expires_at: u64,
    },
    /// See [`WriteOp::Delete`].
    Delete {
        /// Namespace id.
        ns: u32,
        /// Key.
        key: Vec<u8>,
    },
    /// See [`WriteOp::Clear`].
    Clear {
        /// Namespace id.
        ns: u32,
    },
}

impl OwnedOp {
    /// Borrows it as a [`WriteOp`].
    pub fn as_write_op(&self) -> WriteOp<'_> {
        match self {
            OwnedOp::Put {
                ns,
                key,
                value,
                expires_at,
            } => WriteOp::Put {
                ns: *ns,
                key,
                value,
                expires_at: *expires_at,
            },
            OwnedOp::Delete { ns, key } => WriteOp::Delete { ns: *ns, key },
            OwnedOp::Clear { ns } => WriteOp::Clear { ns: *ns },
        }
    }
}

/// Reads inside [`Engine::update`], seeing every committed write: they are the engine's own
/// point reads, made while the update holds the writer mutex, so nothing can change between
/// them and the update's commit.
#[derive(Debug)]
pub struct LockedView<'e> {
    engine: &'e Engine,
}

impl LockedView<'_> {
    /// Value and expiry of `key`, expired or not.
    pub fn get(&self, ns: u32, key: &[u8]) -> Result<Option<(Vec<u8>, u64)>> {
        self.engine.get(ns, key)
    }

    /// Expiry of `key` without reading its value.
    pub fn expires_at(&self, ns: u32, key: &[u8]) -> Result<Option<u64>> {
        self.engine.expires_at(ns, key)
    }
}
