//! [`Transaction`]: staged writes to the default namespace, committed as one atomic batch.

use crate::db::Emdb;
use crate::error::Result;
use crate::staged::{StagedRef, StagedWrites};
use crate::ttl::Ttl;

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
    /// One operation per key, O(1) per operation, committed without a second copy.
    staged: StagedWrites,
}

impl<'db> Transaction<'db> {
    pub(crate) fn new(db: &'db Emdb) -> Self {
        Transaction {
            db,
            staged: StagedWrites::new(),
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
        self.staged.put(key, value, expires_at);
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
        // A key removed or overwritten meanwhile by another handle is settled at commit.
        let db = self.db;
        self.staged.remove(
            key.into(),
            |key| db.get(key),
            |expires_at| !db.inner.clock.expired(expires_at),
        )
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
        match self.staged.get(key.as_ref()) {
            Some(StagedRef::Put { value, expires_at }) => {
                let now = self.db.inner.clock.now();
                Ok((!crate::ttl::is_expired(expires_at, now)).then(|| value.to_vec()))
            }
            Some(StagedRef::Delete) => Ok(None),
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
        if self.staged.is_empty() {
            return Ok(());
        }
        let staged = self.staged;
        self.db.inner.engine.update(|view| {
            let ops = staged.into_ops(|key| view.expires_at(0, key).map(|e| e.is_some()))?;
            Ok((ops, ()))
        })?;
        Ok(())
    }
}
