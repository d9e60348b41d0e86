//! The operations of one namespace, written once for both [`crate::Emdb`] (namespace 0) and
//! [`crate::Namespace`].
//!
//! TTL policy lives here: every read hides expired records, removes of expired records report
//! `None`, and `persist` never resurrects. Read-modify-write steps (`remove`, `persist`, sweeps,
//! transactions) run under the engine's writer mutex through `Engine::update`, so they are atomic
//! with respect to other writers.

use std::ops::{Bound, RangeBounds};
#[cfg(feature = "ttl")]
use std::time::Duration;

use emdb_engine::{OwnedOp, WriteOp};

use crate::db::Inner;
use crate::error::{Error, Result};
#[cfg(feature = "ttl")]
use crate::ttl::remaining;
use crate::ttl::{Ttl, expiry_for, is_expired};
use crate::value_ref::ValueRef;

/// One namespace of an open database.
#[derive(Clone, Copy)]
pub(crate) struct Space<'a> {
    pub(crate) inner: &'a Inner,
    pub(crate) ns: u32,
}

/// Converts a count to `usize` or explains why it cannot be.
#[inline]
pub(crate) fn to_usize(n: u64) -> Result<usize> {
    usize::try_from(n)
        .map_err(|_| Error::InvalidConfig("record count exceeds usize on this target"))
}

/// The end of `[prefix, successor(prefix))`: the successor drops trailing `0xff` bytes and
/// increments the last remaining byte; with none left the range is unbounded above.
pub(crate) fn prefix_end(prefix: &[u8]) -> Bound<Vec<u8>> {
    let mut end = prefix.to_vec();
    while end.last() == Some(&0xff) {
        end.pop();
    }
    match end.last_mut() {
        Some(b) => {
            *b += 1;
            Bound::Excluded(end)
        }
        None => Bound::Unbounded,
    }
}

/// The bounds of `r` as byte slices.
pub(crate) fn slice_bounds<R: RangeBounds<Vec<u8>>>(r: &R) -> (Bound<&[u8]>, Bound<&[u8]>) {
    (
        r.start_bound().map(Vec::as_slice),
        r.end_bound().map(Vec::as_slice),
    )
}

impl Space<'_> {
    fn now(&self) -> u64 {
        self.inner.clock.now()
    }

    pub(crate) fn expiry(&self, ttl: Ttl) -> Result<u64> {
        expiry_for(ttl, self.inner.default_ttl, || self.now())
    }

    pub(crate) fn insert_with(&self, key: &[u8], value: &[u8], ttl: Ttl) -> Result<()> {
        let expires_at = self.expiry(ttl)?;
        Ok(self.inner.engine.put(self.ns, key, value, expires_at)?)
    }

    pub(crate) fn insert_many<I, K, V>(&self, items: I) -> Result<()>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let items: Vec<(K, V)> = items.into_iter().collect();
        if items.is_empty() {
            return Ok(());
        }
        let expires_at = self.expiry(Ttl::Default)?;
        let ops: Vec<WriteOp<'_>> = items
            .iter()
            .map(|(k, v)| WriteOp::Put {
                ns: self.ns,
                key: k.as_ref(),
                value: v.as_ref(),
                expires_at,
            })
            .collect();
        Ok(self.inner.engine.commit(&ops)?)
    }

    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self
            .inner
            .engine
            .get(self.ns, key)?
            .filter(|(_, e)| !self.inner.clock.expired(*e))
            .map(|(v, _)| v))
    }

    pub(crate) fn get_zerocopy(&self, key: &[u8]) -> Result<Option<ValueRef>> {
        Ok(self
            .inner
            .engine
            .get_ref(self.ns, key)?
            .filter(|(_, e)| !self.inner.clock.expired(*e))
            .map(|(v, _)| ValueRef::new(v)))
    }

    pub(crate) fn contains_key(&self, key: &[u8]) -> Result<bool> {
        Ok(self
            .inner
            .engine
            .expires_at(self.ns, key)?
            .is_some_and(|e| !self.inner.clock.expired(e)))
    }

    /// Removes `key`; an expired record is removed too but reported as absent.
    pub(crate) fn remove(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let now = self.now();
        let ns = self.ns;
        Ok(self.inner.engine.update(|view| {
            Ok(match view.get(ns, key)? {
                Some((value, exp)) => {
                    let op = OwnedOp::Delete {
                        ns,
                        key: key.to_vec(),
                    };
                    (vec![op], (!is_expired(exp, now)).then_some(value))
                }
                None => (vec![], None),
            })
        })?)
    }

    #[inline]
    pub(crate) fn len(&self) -> Result<usize> {
        to_usize(self.inner.engine.live_len(self.ns, || self.now())?)
    }

    pub(crate) fn clear(&self) -> Result<()> {
        Ok(self.inner.engine.clear(self.ns)?)
    }

    #[cfg(feature = "ttl")]
    /// The expiry as 0.8.5 reports it: `Some(0)` live without expiry, `None` missing or expired.
    pub(crate) fn expires_at(&self, key: &[u8]) -> Result<Option<u64>> {
        let now = self.now();
        Ok(self
            .inner
            .engine
            .expires_at(self.ns, key)?
            .filter(|e| !is_expired(*e, now)))
    }

    #[cfg(feature = "ttl")]
    pub(crate) fn ttl(&self, key: &[u8]) -> Result<Option<Duration>> {
        let now = self.now();
        Ok(self
            .inner
            .engine
            .expires_at(self.ns, key)?
            .and_then(|e| remaining(e, now)))
    }

    #[cfg(feature = "ttl")]
    /// Clears the expiry of a live record; `false` if it had none, is missing or expired.
    pub(crate) fn persist(&self, key: &[u8]) -> Result<bool> {
        let now = self.now();
        let ns = self.ns;
        Ok(self.inner.engine.update(|view| {
            Ok(match view.get(ns, key)? {
                Some((value, exp)) if exp != 0 && !is_expired(exp, now) => {
                    let op = OwnedOp::Put {
                        ns,
                        key: key.to_vec(),
                        value,
                        expires_at: 0,
                    };
                    (vec![op], true)
                }
                _ => (vec![], false),
            })
        })?)
    }

    #[cfg(feature = "ttl")]
    /// Removes every expired record (one atomic batch); reads expiries, never values.
    pub(crate) fn sweep_expired(&self) -> Result<usize> {
        let now = self.now();
        let ns = self.ns;
        let candidates = self.inner.engine.expired_keys(ns, now)?;
        if candidates.is_empty() {
            return Ok(0);
        }
        Ok(self.inner.engine.update(|view| {
            let mut ops = Vec::new();
            for key in candidates {
                // Re-check under the writer mutex: the key may have been rewritten since.
                if view
                    .expires_at(ns, &key)?
                    .is_some_and(|e| is_expired(e, now))
                {
                    ops.push(OwnedOp::Delete { ns, key });
                }
            }
            let n = ops.len();
            Ok((ops, n))
        })?)
    }
}
