//! [`Namespace`]: a named, separate key space of one database, with the same surface (TTL
//! included) as the default namespace.

use std::fmt;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;
#[cfg(feature = "ttl")]
use std::time::Duration;

use crate::db::Inner;
use crate::error::Result;
use crate::iter::{NamespaceIter, NamespaceKeyIter, NamespaceRangeIter, RecordIter};
use crate::space::{Space, slice_bounds};
use crate::ttl::Ttl;
use crate::value_ref::ValueRef;

/// A handle to one namespace; get it from [`crate::Emdb::namespace`]. Clones share the database.
///
/// After `drop_namespace`, every method of an existing handle fails with
/// `Error::InvalidConfig("unknown namespace id")`.
///
/// ```
/// let db = emdb::Emdb::open_in_memory();
/// let users = db.namespace("users")?;
/// users.insert("42", "alice")?;
/// assert_eq!(users.get("42")?, Some(b"alice".to_vec()));
/// assert_eq!(users.name(), "users");
/// # Ok::<(), emdb::Error>(())
/// ```
#[derive(Clone)]
pub struct Namespace {
    inner: Arc<Inner>,
    id: u32,
    name: Box<str>,
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Namespace")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Namespace {
    pub(crate) fn new(inner: Arc<Inner>, id: u32, name: &str) -> Self {
        Namespace {
            inner,
            id,
            name: name.into(),
        }
    }

    fn space(&self) -> Space<'_> {
        self.inner.space(self.id)
    }

    /// The namespace's name.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// assert_eq!(db.namespace("n")?.name(), "n");
    /// # Ok::<(), emdb::Error>(())
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets `key`, with the database's `default_ttl` if any.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.namespace("n")?.insert("k", "v")?;
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn insert(&self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Result<()> {
        self.space()
            .insert_with(&key.into(), &value.into(), Ttl::Default)
    }

    /// Inserts every pair as one atomic batch.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// let n = db.namespace("n")?;
    /// n.insert_many([("a", "1"), ("b", "2")])?;
    /// assert_eq!(n.len()?, 2);
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

    /// The value of `key`, or `None` if missing or expired.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// let n = db.namespace("n")?;
    /// n.insert("k", "v")?;
    /// assert_eq!(n.get("k")?, Some(b"v".to_vec()));
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.space().get(key.as_ref())
    }

    /// Like [`Namespace::get`] without copying the value.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// let n = db.namespace("n")?;
    /// n.insert("k", "v")?;
    /// assert_eq!(n.get_zerocopy("k")?.unwrap().as_slice(), b"v");
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn get_zerocopy(&self, key: impl AsRef<[u8]>) -> Result<Option<ValueRef>> {
        self.space().get_zerocopy(key.as_ref())
    }

    /// Removes `key` and returns its value (`None` if missing or expired).
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// let n = db.namespace("n")?;
    /// n.insert("k", "v")?;
    /// assert_eq!(n.remove("k")?, Some(b"v".to_vec()));
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.space().remove(key.as_ref())
    }

    /// Whether `key` is present and unexpired.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// let n = db.namespace("n")?;
    /// n.insert("k", "v")?;
    /// assert!(n.contains_key("k")?);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.space().contains_key(key.as_ref())
    }

    /// Number of live records.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// let n = db.namespace("n")?;
    /// n.insert("k", "v")?;
    /// assert_eq!(n.len()?, 1);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn len(&self) -> Result<usize> {
        self.space().len()
    }

    /// Whether there is no live record.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// assert!(db.namespace("n")?.is_empty()?);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Removes every record, durably.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// let n = db.namespace("n")?;
    /// n.insert("k", "v")?;
    /// n.clear()?;
    /// assert!(n.is_empty()?);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn clear(&self) -> Result<()> {
        self.space().clear()
    }

    /// Iterates the records (keys fixed now, values read when reached, any order).
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// let n = db.namespace("n")?;
    /// n.insert("k", "v")?;
    /// assert_eq!(n.iter()?.count(), 1);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn iter(&self) -> Result<NamespaceIter> {
        Ok(NamespaceIter(RecordIter::all(&self.inner, self.id, true)?))
    }

    /// Iterates the keys.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// let n = db.namespace("n")?;
    /// n.insert("k", "v")?;
    /// assert_eq!(n.keys()?.collect::<Vec<_>>(), vec![b"k".to_vec()]);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn keys(&self) -> Result<NamespaceKeyIter> {
        Ok(NamespaceKeyIter(RecordIter::all(
            &self.inner,
            self.id,
            false,
        )?))
    }

    /// Records with keys in `range`, in key order (needs range scans).
    ///
    /// ```
    /// let db = emdb::Emdb::builder().enable_range_scans(true).build()?;
    /// let n = db.namespace("n")?;
    /// n.insert_many([("a", "1"), ("b", "2")])?;
    /// assert_eq!(n.range(b"b".to_vec()..)?, vec![(b"b".to_vec(), b"2".to_vec())]);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn range<R>(&self, range: R) -> Result<Vec<(Vec<u8>, Vec<u8>)>>
    where
        R: RangeBounds<Vec<u8>>,
    {
        self.range_iter(range)?.0.collect_checked()
    }

    /// Records whose key starts with `prefix`, in key order.
    ///
    /// ```
    /// let db = emdb::Emdb::builder().enable_range_scans(true).build()?;
    /// let n = db.namespace("n")?;
    /// n.insert_many([("a:1", "1"), ("b:1", "2")])?;
    /// assert_eq!(n.range_prefix("a:")?.len(), 1);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn range_prefix(&self, prefix: impl AsRef<[u8]>) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.range_prefix_iter(prefix)?.0.collect_checked()
    }

    /// Lazy [`Namespace::range`]; see [`crate::Emdb::range_iter`] for when records are read.
    ///
    /// ```
    /// let db = emdb::Emdb::builder().enable_range_scans(true).build()?;
    /// let n = db.namespace("n")?;
    /// n.insert("a", "1")?;
    /// assert_eq!(n.range_iter(..)?.count(), 1);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn range_iter<R>(&self, range: R) -> Result<NamespaceRangeIter>
    where
        R: RangeBounds<Vec<u8>>,
    {
        Ok(NamespaceRangeIter(RecordIter::range(
            &self.inner,
            self.id,
            slice_bounds(&range),
        )?))
    }

    /// Lazy [`Namespace::range_prefix`].
    ///
    /// ```
    /// let db = emdb::Emdb::builder().enable_range_scans(true).build()?;
    /// let n = db.namespace("n")?;
    /// n.insert("a:1", "1")?;
    /// assert_eq!(n.range_prefix_iter("a:")?.count(), 1);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn range_prefix_iter(&self, prefix: impl AsRef<[u8]>) -> Result<NamespaceRangeIter> {
        Ok(NamespaceRangeIter(RecordIter::prefix(
            &self.inner,
            self.id,
            prefix.as_ref(),
        )?))
    }

    /// Records with keys at or after `start`, in key order.
    ///
    /// ```
    /// let db = emdb::Emdb::builder().enable_range_scans(true).build()?;
    /// let n = db.namespace("n")?;
    /// n.insert_many([("a", "1"), ("b", "2")])?;
    /// assert_eq!(n.iter_from("a")?.count(), 2);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn iter_from(&self, start: impl AsRef<[u8]>) -> Result<NamespaceRangeIter> {
        Ok(NamespaceRangeIter(RecordIter::range(
            &self.inner,
            self.id,
            (Bound::Included(start.as_ref()), Bound::Unbounded),
        )?))
    }

    /// Records with keys strictly after `start`, in key order.
    ///
    /// ```
    /// let db = emdb::Emdb::builder().enable_range_scans(true).build()?;
    /// let n = db.namespace("n")?;
    /// n.insert_many([("a", "1"), ("b", "2")])?;
    /// assert_eq!(n.iter_after("a")?.count(), 1);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn iter_after(&self, start: impl AsRef<[u8]>) -> Result<NamespaceRangeIter> {
        Ok(NamespaceRangeIter(RecordIter::range(
            &self.inner,
            self.id,
            (Bound::Excluded(start.as_ref()), Bound::Unbounded),
        )?))
    }

    /// Sets `key` with an explicit TTL.
    ///
    /// ```
    /// use std::time::Duration;
    /// let db = emdb::Emdb::open_in_memory();
    /// let n = db.namespace("n")?;
    /// n.insert_with_ttl("k", "v", emdb::Ttl::After(Duration::from_secs(60)))?;
    /// assert!(n.ttl("k")?.is_some());
    /// # Ok::<(), emdb::Error>(())
    /// ```
    #[cfg(feature = "ttl")]
    pub fn insert_with_ttl(
        &self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        ttl: Ttl,
    ) -> Result<()> {
        self.space().insert_with(&key.into(), &value.into(), ttl)
    }

    /// Expiry in unix ms: `Some(0)` for a live key without TTL, `None` if missing or expired.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// let n = db.namespace("n")?;
    /// n.insert("k", "v")?;
    /// assert_eq!(n.expires_at("k")?, Some(0));
    /// # Ok::<(), emdb::Error>(())
    /// ```
    #[cfg(feature = "ttl")]
    pub fn expires_at(&self, key: impl AsRef<[u8]>) -> Result<Option<u64>> {
        self.space().expires_at(key.as_ref())
    }

    /// Time left, or `None` if missing, expired or without TTL.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// let n = db.namespace("n")?;
    /// n.insert("k", "v")?;
    /// assert_eq!(n.ttl("k")?, None);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    #[cfg(feature = "ttl")]
    pub fn ttl(&self, key: impl AsRef<[u8]>) -> Result<Option<Duration>> {
        self.space().ttl(key.as_ref())
    }

    /// Removes the TTL of a live key; `false` if it had none or is missing or expired.
    ///
    /// ```
    /// use std::time::Duration;
    /// let db = emdb::Emdb::open_in_memory();
    /// let n = db.namespace("n")?;
    /// n.insert_with_ttl("k", "v", emdb::Ttl::After(Duration::from_secs(60)))?;
    /// assert!(n.persist("k")?);
    /// assert_eq!(n.ttl("k")?, None);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    #[cfg(feature = "ttl")]
    pub fn persist(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.space().persist(key.as_ref())
    }

    /// Removes this namespace's expired records; returns how many. Errors count as 0.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// let n = db.namespace("n")?;
    /// n.insert_with_ttl("k", "v", emdb::Ttl::After(std::time::Duration::ZERO))?;
    /// assert_eq!(n.sweep_expired(), 1);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    #[cfg(feature = "ttl")]
    pub fn sweep_expired(&self) -> usize {
        self.space().sweep_expired().unwrap_or(0)
    }
}
