//! Iteration and ordered scans of the default namespace: `Emdb::{iter, keys, range*,
//! iter_from, iter_after}`. The machinery is in `iter.rs`; ordering needs the range index.

use std::ops::{Bound, RangeBounds};

use crate::db::Emdb;
use crate::error::Result;
use crate::iter::{EmdbIter, EmdbKeyIter, EmdbRangeIter, RecordIter};
use crate::space::slice_bounds;

impl Emdb {
    /// Iterates the default namespace. The set of keys is fixed now; a key removed or expired
    /// later is skipped, and each value is read when reached. Order is unspecified. A record
    /// that cannot be read (damaged on disk since open) is skipped too, but kept as the
    /// iterator's error: `finish()` returns it.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("a", "1")?;
    /// let mut it = db.iter()?;
    /// let all: Vec<_> = it.by_ref().collect();
    /// it.finish()?; // `Err` if a record was skipped because it could not be read
    /// assert_eq!(all, vec![(b"a".to_vec(), b"1".to_vec())]);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn iter(&self) -> Result<EmdbIter> {
        Ok(EmdbIter(RecordIter::all(&self.inner, 0, true)?))
    }

    /// Like [`Emdb::iter`], yielding keys only (values are never read).
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("a", "1")?;
    /// assert_eq!(db.keys()?.collect::<Vec<_>>(), vec![b"a".to_vec()]);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn keys(&self) -> Result<EmdbKeyIter> {
        Ok(EmdbKeyIter(RecordIter::all(&self.inner, 0, false)?))
    }

    /// Records with keys in `range`, in key order. Needs `enable_range_scans(true)`.
    ///
    /// ```
    /// let db = emdb::Emdb::builder().enable_range_scans(true).build()?;
    /// db.insert_many([("a", "1"), ("b", "2"), ("c", "3")])?;
    /// let got = db.range(b"b".to_vec()..)?;
    /// assert_eq!(got, vec![(b"b".to_vec(), b"2".to_vec()), (b"c".to_vec(), b"3".to_vec())]);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn range<R>(&self, range: R) -> Result<Vec<(Vec<u8>, Vec<u8>)>>
    where
        R: RangeBounds<Vec<u8>>,
    {
        self.range_iter(range)?.0.collect_checked()
    }

    /// Lazy [`Emdb::range`]: the keys are the range's keys now (keys inserted later never
    /// show). Records are read in pages (16 at first, doubling up to 1024) when the iteration
    /// reaches them, and show as they were when their page was read.
    ///
    /// ```
    /// let db = emdb::Emdb::builder().enable_range_scans(true).build()?;
    /// db.insert_many([("a", "1"), ("b", "2")])?;
    /// assert_eq!(db.range_iter(..b"b".to_vec())?.count(), 1);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn range_iter<R>(&self, range: R) -> Result<EmdbRangeIter>
    where
        R: RangeBounds<Vec<u8>>,
    {
        Ok(EmdbRangeIter(RecordIter::range(
            &self.inner,
            0,
            slice_bounds(&range),
        )?))
    }

    /// Records whose key starts with `prefix`, in key order.
    ///
    /// ```
    /// let db = emdb::Emdb::builder().enable_range_scans(true).build()?;
    /// db.insert_many([("user:1", "a"), ("user:2", "b"), ("vip:1", "c")])?;
    /// assert_eq!(db.range_prefix("user:")?.len(), 2);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn range_prefix(&self, prefix: impl AsRef<[u8]>) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.range_prefix_iter(prefix)?.0.collect_checked()
    }

    /// Lazy [`Emdb::range_prefix`].
    ///
    /// ```
    /// let db = emdb::Emdb::builder().enable_range_scans(true).build()?;
    /// db.insert("user:1", "a")?;
    /// assert_eq!(db.range_prefix_iter("user:")?.count(), 1);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn range_prefix_iter(&self, prefix: impl AsRef<[u8]>) -> Result<EmdbRangeIter> {
        Ok(EmdbRangeIter(RecordIter::prefix(
            &self.inner,
            0,
            prefix.as_ref(),
        )?))
    }

    /// Records with keys at or after `start`, in key order.
    ///
    /// ```
    /// let db = emdb::Emdb::builder().enable_range_scans(true).build()?;
    /// db.insert_many([("a", "1"), ("b", "2")])?;
    /// assert_eq!(db.iter_from("b")?.count(), 1);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn iter_from(&self, start: impl AsRef<[u8]>) -> Result<EmdbRangeIter> {
        Ok(EmdbRangeIter(RecordIter::range(
            &self.inner,
            0,
            (Bound::Included(start.as_ref()), Bound::Unbounded),
        )?))
    }

    /// Records with keys strictly after `start`, in key order.
    ///
    /// ```
    /// let db = emdb::Emdb::builder().enable_range_scans(true).build()?;
    /// db.insert_many([("a", "1"), ("b", "2")])?;
    /// assert_eq!(db.iter_after("a")?.count(), 1);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn iter_after(&self, start: impl AsRef<[u8]>) -> Result<EmdbRangeIter> {
        Ok(EmdbRangeIter(RecordIter::range(
            &self.inner,
            0,
            (Bound::Excluded(start.as_ref()), Bound::Unbounded),
        )?))
    }
}
