//! [`Emdb`], the database handle, and the state its clones share.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use emdb_engine::Engine;

use crate::builder::EmdbBuilder;
use crate::error::{Error, Result};
use crate::namespace::Namespace;
use crate::space::Space;
use crate::transaction::Transaction;
use crate::ttl::{Clock, Ttl};
use crate::value_ref::ValueRef;

/// Removes an ephemeral database's files once the engine is closed.
#[derive(Debug)]
pub(crate) struct EphemeralFiles(pub(crate) PathBuf);

impl Drop for EphemeralFiles {
    fn drop(&mut self) {
        let base = self.0.as_os_str().to_os_string();
        for suffix in [
            "",
            ".lock",
            ".lock-meta",
            ".snap",
            ".snap.tmp",
            ".compact.tmp",
            ".create.tmp",
        ] {
            let mut p = base.clone();
            p.push(suffix);
            // Best effort: the files live in the temporary directory anyway.
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
    }
}

/// State shared by every clone of a handle, its namespaces and its iterators.
pub(crate) struct Inner {
    // IMPORTANT: `engine` is declared first so it is closed (lock released, snapshot written)
    // before `ephemeral` deletes the files.
    pub(crate) engine: Arc<Engine>,
    pub(crate) path: PathBuf,
    pub(crate) default_ttl: Option<Duration>,
    pub(crate) range_scans: bool,
    pub(crate) clock: Clock,
    pub(crate) _ephemeral: Option<EphemeralFiles>,
}

impl Inner {
    #[inline]
    pub(crate) fn space(&self, ns: u32) -> Space<'_> {
        Space { inner: self, ns }
    }
}

/// An open database. Cheap to clone: clones share one engine, and the database closes when the
/// last handle, namespace or iterator is dropped.
///
/// ```
/// use emdb::Emdb;
///
/// let dir = tempfile::tempdir()?;
/// let db = Emdb::open(dir.path().join("app.emdb"))?;
/// db.insert("user:1", "alice")?;
/// assert_eq!(db.get("user:1")?, Some(b"alice".to_vec()));
/// db.flush()?; // durable from here on
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Emdb {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Emdb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emdb")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl Emdb {
    /// Opens the database at `path`, creating it if absent: `EmdbBuilder::new().path(path).build()`.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let db = emdb::Emdb::open(dir.path().join("data.emdb"))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        EmdbBuilder::new().path(path.as_ref()).build()
    }

    /// A private database in a uniquely named temporary file, deleted with its sidecars when the
    /// last handle drops.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("k", "v")?;
    /// # Ok::<(), emdb::Error>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If the temporary directory cannot hold a database (unwritable or full). Use
    /// `EmdbBuilder::new().build()` to get that failure as an error instead.
    #[must_use]
    pub fn open_in_memory() -> Self {
        match EmdbBuilder::new().build() {
            Ok(db) => db,
            Err(e) => panic!("emdb open_in_memory: the temporary directory is not usable: {e}"),
        }
    }

    /// A builder with default settings.
    ///
    /// ```
    /// let db = emdb::Emdb::builder().enable_range_scans(true).build()?;
    /// # Ok::<(), emdb::Error>(())
    /// ```
    #[must_use]
    pub fn builder() -> EmdbBuilder {
        EmdbBuilder::new()
    }

    /// Another handle to the same database (same as `clone`).
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// let other = db.clone_handle();
    /// db.insert("k", "v")?;
    /// assert!(other.contains_key("k")?);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    #[must_use]
    pub fn clone_handle(&self) -> Self {
        self.clone()
    }

    /// The canonical path of the database file (the temporary file for ephemeral databases).
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// assert!(db.path().exists());
    /// ```
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    #[inline]
    pub(crate) fn space(&self) -> Space<'_> {
        self.inner.space(0)
    }

    /// Sets `key` to `value`, with the builder's `default_ttl` if any. Not durable until
    /// [`Emdb::flush`]. Empty keys and values are allowed.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("k", vec![1, 2, 3])?;
    /// # Ok::<(), emdb::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `KeyTooLarge`/`ValueTooLarge` over the limits, `TtlOverflow` if the default TTL
    /// overflows, `Poisoned` after a failed write or sync.
    pub fn insert(&self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Result<()> {
        self.space()
            .insert_with(&key.into(), &value.into(), Ttl::Default)
    }

    /// Inserts every pair as one atomic batch: after a crash either all of them are there or
    /// none. An empty input writes nothing.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert_many([("a", "1"), ("b", "2")])?;
    /// assert_eq!(db.len()?, 2);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn insert_many<I, K, V>(&self, items: I) -> Result<()>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        self.space().insert_many(items)
    }

    /// The value of `key`, or `None` if it is missing or expired.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("k", "v")?;
    /// assert_eq!(db.get("k")?, Some(b"v".to_vec()));
    /// assert_eq!(db.get("missing")?, None);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.space().get(key.as_ref())
    }

    /// Like [`Emdb::get`], but the value borrows the memory map instead of being copied.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("k", "value")?;
    /// let v = db.get_zerocopy("k")?.unwrap();
    /// assert_eq!(v.as_slice(), b"value");
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn get_zerocopy(&self, key: impl AsRef<[u8]>) -> Result<Option<ValueRef>> {
        self.space().get_zerocopy(key.as_ref())
    }

    /// Removes `key` and returns its value; `None` (and nothing visible changes) if it was
    /// missing or expired.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("k", "v")?;
    /// assert_eq!(db.remove("k")?, Some(b"v".to_vec()));
    /// assert_eq!(db.remove("k")?, None);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.space().remove(key.as_ref())
    }

    /// Whether `key` is present and not expired.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("k", "v")?;
    /// assert!(db.contains_key("k")?);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.space().contains_key(key.as_ref())
    }

    /// Number of live (present, unexpired) records in the default namespace. O(1) unless some
    /// records carry a TTL, then proportional to the namespace's size (no value is read).
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("k", "v")?;
    /// assert_eq!(db.len()?, 1);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    #[inline]
    pub fn len(&self) -> Result<usize> {
        self.space().len()
    }

    /// Whether the default namespace has no live record.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// assert!(db.is_empty()?);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Removes every record of the default namespace. Persisted: it stays cleared after reopen.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("k", "v")?;
    /// db.clear()?;
    /// assert!(db.is_empty()?);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn clear(&self) -> Result<()> {
        self.space().clear()
    }

    /// Makes every write that returned before this call durable (one `fdatasync`, shared with
    /// concurrent flushes).
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("k", "v")?;
    /// db.flush()?;
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn flush(&self) -> Result<()> {
        Ok(self.inner.engine.flush()?)
    }

    /// Opens namespace `name`, creating it (durably, with the next write) if new.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// let users = db.namespace("users")?;
    /// users.insert("1", "alice")?;
    /// assert_eq!(db.get("1")?, None); // namespaces are separate
    /// # Ok::<(), emdb::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `InvalidConfig` for an empty name; `NamespaceNameTooLarge` over the limit.
    pub fn namespace(&self, name: impl AsRef<str>) -> Result<Namespace> {
        let name = name.as_ref();
        if name.is_empty() {
            return Err(Error::InvalidConfig(
                "namespace name must be non-empty (default namespace is implicit)",
            ));
        }
        let id = self.inner.engine.create_namespace(name)?;
        Ok(Namespace::new(self.inner.clone(), id, name))
    }

    /// Drops namespace `name` with all its records, durably. `Ok(false)` if it did not exist.
    /// Existing handles to it fail from then on; a namespace created later under the same name
    /// starts empty.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.namespace("tmp")?.insert("k", "v")?;
    /// assert!(db.drop_namespace("tmp")?);
    /// assert!(db.namespace("tmp")?.is_empty()?);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn drop_namespace(&self, name: impl AsRef<str>) -> Result<bool> {
        if name.as_ref().is_empty() {
            return Err(Error::InvalidConfig("default namespace cannot be dropped"));
        }
        Ok(self.inner.engine.drop_namespace(name.as_ref())?)
    }

    /// Every namespace name: `""` (the default namespace) first, then in creation order.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.namespace("b")?;
    /// db.namespace("a")?;
    /// assert_eq!(db.list_namespaces()?, vec!["", "b", "a"]);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn list_namespaces(&self) -> Result<Vec<String>> {
        Ok(self
            .inner
            .engine
            .namespaces()
            .into_iter()
            .map(|(_, n)| n)
            .collect())
    }

    /// Runs `f` on a transaction over the default namespace and commits its writes as one
    /// atomic batch if it returns `Ok`. If `f` returns `Err`, nothing is written and that error
    /// is returned. Reads inside see the transaction's own writes.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("balance:a", "10")?;
    /// db.transaction(|tx| {
    ///     tx.insert("balance:a", "5")?;
    ///     tx.insert("balance:b", "5")?;
    ///     assert_eq!(tx.get("balance:b")?, Some(b"5".to_vec()));
    ///     Ok(())
    /// })?;
    /// let aborted: emdb::Result<()> = db.transaction(|tx| {
    ///     tx.insert("balance:a", "0")?;
    ///     Err(emdb::Error::TransactionAborted("insufficient funds"))
    /// });
    /// assert!(aborted.is_err());
    /// assert_eq!(db.get("balance:a")?, Some(b"5".to_vec()));
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn transaction<F, T>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&mut Transaction<'_>) -> Result<T>,
    {
        let mut tx = Transaction::new(self);
        let out = f(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Ids of every namespace, default first.
    #[cfg(feature = "ttl")]
    pub(crate) fn namespace_ids(&self) -> Vec<u32> {
        self.inner
            .engine
            .namespaces()
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    }
}
