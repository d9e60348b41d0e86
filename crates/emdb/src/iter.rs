//! The six iterator types. Each fixes its set of keys when created; a key removed or expired
//! before `next()` reaches it is skipped, and each value is the key's value at that moment.
//! Iterators keep the database open while they live, and stay correct across `compact()`.
//!
//! Their item types carry no error (the 0.8.5 signatures): a record that cannot be read when
//! reached (an I/O error on the `pread` path, or damage found after open) is skipped, so the
//! intact records around it still come, but never silently: the iterator counts it and keeps
//! the first error (`error()`, `skipped()`, `finish()`), and every method that collects an
//! iterator into a `Result` returns that error instead of a short answer.

use std::ops::Bound;
use std::sync::Arc;

use emdb_engine::{EngineIter, RangeIter};

use crate::db::Inner;
use crate::error::{Error, Result};
use crate::space::prefix_end;

enum Source {
    All(EngineIter),
    Range(RangeIter),
}

/// The shared machinery: an engine iterator plus TTL filtering.
pub(crate) struct RecordIter {
    // IMPORTANT: declared before `inner`, so the engine iterator is dropped first.
    source: Source,
    inner: Arc<Inner>,
    /// Set at the first record that could not be read. Boxed, so the iterator stays small
    /// enough to be moved (into `take()`, out of a `Result`) without a `memcpy` call.
    skips: Option<Box<Skips>>,
}

/// The records an iterator skipped because they could not be read.
struct Skips {
    first: Error,
    count: usize,
}

impl RecordIter {
    pub(crate) fn all(inner: &Arc<Inner>, ns: u32, values: bool) -> Result<Self> {
        let mut it = inner.engine.iter(ns)?;
        if !values {
            it = it.keys_only();
        }
        Ok(RecordIter {
            source: Source::All(it),
            inner: inner.clone(),
            skips: None,
        })
    }

    pub(crate) fn range(
        inner: &Arc<Inner>,
        ns: u32,
        (lo, hi): (Bound<&[u8]>, Bound<&[u8]>),
    ) -> Result<Self> {
        if !inner.range_scans {
            return Err(emdb_engine::EngineError::RangeIndexDisabled.into());
        }
        let it = inner.engine.range_iter(ns, lo, hi)?;
        Ok(RecordIter {
            source: Source::Range(it),
            inner: inner.clone(),
            skips: None,
        })
    }

    /// Every remaining record, or the error of the first one that could not be read.
    pub(crate) fn collect_checked(mut self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let records = self.by_ref().collect();
        self.skips.map_or(Ok(records), |s| Err(s.first))
    }

    /// The keys of namespace `ns` that start with `prefix`, in order.
    pub(crate) fn prefix(inner: &Arc<Inner>, ns: u32, prefix: &[u8]) -> Result<Self> {
        let end = prefix_end(prefix);
        Self::range(
            inner,
            ns,
            (Bound::Included(prefix), end.as_ref().map(Vec::as_slice)),
        )
    }
}

impl Iterator for RecordIter {
    type Item = (Vec<u8>, Vec<u8>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let item = match &mut self.source {
                Source::All(it) => it.next()?,
                Source::Range(it) => it.next()?,
            };
            match item {
                Ok((k, v, exp)) if !self.inner.clock.expired(exp) => return Some((k, v)),
                Ok(_) => {}
                Err(e) => match &mut self.skips {
                    Some(s) => s.count += 1,
                    None => {
                        self.skips = Some(Box::new(Skips {
                            first: e.into(),
                            count: 1,
                        }));
                    }
                },
            }
        }
    }
}

macro_rules! iterator_type {
    ($(#[$doc:meta])* $name:ident, $item:ty, |$pair:ident| $map:expr) => {
        $(#[$doc])*
        pub struct $name(pub(crate) RecordIter);

        impl Iterator for $name {
            type Item = $item;

            fn next(&mut self) -> Option<$item> {
                self.0.next().map(|$pair| $map)
            }
        }

        impl $name {
            /// The error of the first record this iterator skipped because it could not be
            /// read (damage found after open, or an I/O error), if any so far.
            pub fn error(&self) -> Option<&Error> {
                self.0.skips.as_ref().map(|s| &s.first)
            }

            /// How many records this iterator has skipped because they could not be read.
            pub fn skipped(&self) -> usize {
                self.0.skips.as_ref().map_or(0, |s| s.count)
            }

            /// Ends the iteration: `Ok` if every record reached so far was read, else the
            /// first record's error (records not reached yet are not read).
            pub fn finish(self) -> Result<()> {
                self.0.skips.map_or(Ok(()), |s| Err(s.first))
            }
        }
    };
}

iterator_type!(
    /// Records of the default namespace; see [`crate::Emdb::iter`].
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("k", "v")?;
    /// let it: emdb::EmdbIter = db.iter()?;
    /// assert_eq!(it.count(), 1);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    EmdbIter, (Vec<u8>, Vec<u8>), |kv| kv
);
iterator_type!(
    /// Keys of the default namespace; see [`crate::Emdb::keys`].
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("k", "v")?;
    /// let it: emdb::EmdbKeyIter = db.keys()?;
    /// assert_eq!(it.collect::<Vec<_>>(), vec![b"k".to_vec()]);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    EmdbKeyIter, Vec<u8>, |kv| kv.0
);
iterator_type!(
    /// Records of the default namespace in key order; see [`crate::Emdb::range_iter`].
    ///
    /// ```
    /// let db = emdb::Emdb::builder().enable_range_scans(true).build()?;
    /// db.insert_many([("b", "2"), ("a", "1")])?;
    /// let it: emdb::EmdbRangeIter = db.range_iter(..)?;
    /// assert_eq!(it.map(|(k, _)| k).collect::<Vec<_>>(), vec![b"a".to_vec(), b"b".to_vec()]);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    EmdbRangeIter, (Vec<u8>, Vec<u8>), |kv| kv
);
iterator_type!(
    /// Records of a namespace; see [`crate::Namespace::iter`].
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// let n = db.namespace("n")?;
    /// n.insert("k", "v")?;
    /// let it: emdb::NamespaceIter = n.iter()?;
    /// assert_eq!(it.count(), 1);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    NamespaceIter, (Vec<u8>, Vec<u8>), |kv| kv
);
iterator_type!(
    /// Keys of a namespace; see [`crate::Namespace::keys`].
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// let n = db.namespace("n")?;
    /// n.insert("k", "v")?;
    /// let it: emdb::NamespaceKeyIter = n.keys()?;
    /// assert_eq!(it.count(), 1);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    NamespaceKeyIter, Vec<u8>, |kv| kv.0
);
iterator_type!(
    /// Records of a namespace in key order; see [`crate::Namespace::range_iter`].
    ///
    /// ```
    /// let db = emdb::Emdb::builder().enable_range_scans(true).build()?;
    /// let n = db.namespace("n")?;
    /// n.insert_many([("b", "2"), ("a", "1")])?;
    /// let it: emdb::NamespaceRangeIter = n.range_iter(..)?;
    /// assert_eq!(it.count(), 2);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    NamespaceRangeIter, (Vec<u8>, Vec<u8>), |kv| kv
);

#[cfg(test)]
mod tests {
    /// A scan of a few records is mostly the cost of making its iterator; at 128 bytes or less
    /// moving one (into `take()`, out of a `Result`) is copied inline, not by a `memcpy` call.
    #[test]
    fn iterators_are_small_enough_to_move_inline() {
        assert!(size_of::<super::EmdbRangeIter>() <= 128);
        assert!(size_of::<super::NamespaceRangeIter>() <= 128);
    }
}
