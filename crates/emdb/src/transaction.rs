//! [`Transaction`]: staged writes to the default namespace, committed as one atomic batch.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use emdb_engine::{KeyHashState, OwnedOp};

use crate::db::Emdb;
use crate::error::Result;
use crate::ttl::Ttl;

enum Staged {
    Insert {
        value: Vec<u8>,
        expires_at: u64,
    },
    /// `present`: the key held a record when the removal was staged, so commit writes the
    /// delete without looking the key up again (a delete of a key removed meanwhile is a no-op).
    Remove {
        present: bool,
    },
}

/// Writes staged inside [`Emdb::transaction`]. Reads see the staged writes first, then the
/// database (committed writes of other handles are visible: there is no isolation). The last
/// staged operation per key wins. On commit every staged write lands in one atomic frame.
///
/// ```
/// let db = emdb::Emdb::open_in_memory();
/// db.transaction(|tx| {
///     tx.insert("a", "1")?;
///     assert!(tx.contains_key("a")?);
///     assert_eq!(tx.remove("a")?, Some(b"1".to_vec()));
///     assert!(!tx.contains_key("a")?);
///     Ok(())
/// })?;
/// assert!(db.is_empty()?);
/// # Ok::<(), emdb::Error>(())
/// ```
pub struct Transaction<'db> {
    db: &'db Emdb,
    /// Staged writes by key. Commit order within the one atomic frame does not matter (one
    /// operation per key), so a hash map: large transactions stay O(1) per operation.
    overlay: HashMap<Vec<u8>, Staged, KeyHashState>,
}

impl<'db> Transaction<'db> {
    pub(crate) fn new(db: &'db Emdb) -> Self {
        Transaction {
            db,
            overlay: HashMap::default(),
        }
    }

    /// Stages `key = value` with the database's `default_ttl` (computed now).
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.transaction(|tx| tx.insert("k", "v"))?;
    /// assert!(db.contains_key("k")?);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn insert(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Result<()> {
        self.stage(key.into(), value.into(), Ttl::Default)
    }

    /// Stages `key = value` with an explicit TTL.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.transaction(|tx| tx.insert_with_ttl("k", "v", emdb::Ttl::Never))?;
    /// assert_eq!(db.expires_at("k")?, Some(0));
    /// # Ok::<(), emdb::Error>(())
    /// ```
    #[cfg(feature = "ttl")]
    pub fn insert_with_ttl(
        &mut self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        ttl: Ttl,
    ) -> Result<()> {
        self.stage(key.into(), value.into(), ttl)
    }

    fn stage(&mut self, key: Vec<u8>, value: Vec<u8>, ttl: Ttl) -> Result<()> {
        let expires_at = self.db.space().expiry(ttl)?;
        let _ = self
            .overlay
            .insert(key, Staged::Insert { value, expires_at });
        Ok(())
    }

    /// Stages the removal of `key`; returns the value visible before it.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("k", "v")?;
    /// let old = db.transaction(|tx| tx.remove("k"))?;
    /// assert_eq!(old, Some(b"v".to_vec()));
    /// assert!(!db.contains_key("k")?);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn remove(&mut self, key: impl Into<Vec<u8>>) -> Result<Option<Vec<u8>>> {
        // One lookup of the key in the overlay serves both the read and the staging.
        let db = self.db;
        let visible = match self.overlay.entry(key.into()) {
            Entry::Occupied(mut staged) => {
                let before = staged.insert(Staged::Remove { present: false });
                let visible = match before {
                    Staged::Insert { value, expires_at } if !db.inner.clock.expired(expires_at) => {
                        Some(value)
                    }
                    _ => None,
                };
                staged.insert(Staged::Remove {
                    present: visible.is_some(),
                });
                visible
            }
            Entry::Vacant(slot) => {
                let visible = db.get(slot.key())?;
                slot.insert(Staged::Remove {
                    present: visible.is_some(),
                });
                visible
            }
        };
        Ok(visible)
    }

    /// The value of `key` as this transaction sees it.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.transaction(|tx| {
    ///     tx.insert("k", "v")?;
    ///     assert_eq!(tx.get("k")?, Some(b"v".to_vec()));
    ///     Ok(())
    /// })?;
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        match self.overlay.get(key.as_ref()) {
            Some(Staged::Insert { value, expires_at }) => {
                let now = self.db.inner.clock.now();
                Ok((!crate::ttl::is_expired(*expires_at, now)).then(|| value.clone()))
            }
            Some(Staged::Remove { .. }) => Ok(None),
            None => self.db.get(key),
        }
    }

    /// Whether `key` is visible to this transaction.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.transaction(|tx| {
    ///     assert!(!tx.contains_key("k")?);
    ///     Ok(())
    /// })?;
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        Ok(self.get(key)?.is_some())
    }

    /// Writes every staged operation as one frame (removals of absent keys are dropped).
    pub(crate) fn commit(self) -> Result<()> {
        if self.overlay.is_empty() {
            return Ok(());
        }
        let overlay = self.overlay;
        self.db.inner.engine.update(|view| {
            let mut ops = Vec::with_capacity(overlay.len());
            for (key, staged) in overlay {
                match staged {
                    Staged::Insert { value, expires_at } => {
                        ops.push(OwnedOp::Put {
                            ns: 0,
                            key,
                            value,
                            expires_at,
                        });
                    }
                    Staged::Remove { present } => {
                        if present || view.expires_at(0, &key)?.is_some() {
                            ops.push(OwnedOp::Delete { ns: 0, key });
                        }
                    }
                }
            }
            Ok((ops, ()))
        })?;
        Ok(())
    }
}
