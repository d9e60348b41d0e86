//! Time to live: the [`Ttl`] choice, the clock, and how an expiry is computed and tested.
//!
//! An expiry is an absolute unix time in milliseconds stored with the record; 0 means "never".
//! A record is expired when its expiry is non-zero and at or before now (the boundary is
//! inclusive), so `Ttl::After(Duration::ZERO)` expires at once. Expired records are invisible to
//! every read, whether or not the `ttl` feature is enabled; the feature gates the API that writes
//! them.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// How long a record lives.
///
#[cfg_attr(feature = "ttl", doc = "```")]
#[cfg_attr(not(feature = "ttl"), doc = "```ignore")]
/// use std::time::Duration;
/// use emdb::{Emdb, Ttl};
///
/// let db = Emdb::open_in_memory();
/// db.insert_with_ttl("session", "token", Ttl::After(Duration::from_secs(60)))?;
/// db.insert_with_ttl("config", "v1", Ttl::Never)?;
/// assert!(db.ttl("session")?.is_some());
/// assert_eq!(db.ttl("config")?, None);
/// # Ok::<(), emdb::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// The builder's `default_ttl`, or no expiry if none is set.
    Default,
    /// No expiry.
    Never,
    /// Expires this long after the write.
    After(Duration),
}

/// Milliseconds since the unix epoch; a seam so tests can drive time.
#[derive(Clone)]
pub(crate) struct Clock(Arc<dyn Fn() -> u64 + Send + Sync>);

impl Clock {
    /// The system clock (0 if it reads before the epoch).
    pub(crate) fn system() -> Self {
        Clock(Arc::new(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        }))
    }

    /// A clock that reads `f`.
    #[cfg(all(test, feature = "ttl"))]
    pub(crate) fn from_fn(f: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        Clock(Arc::new(f))
    }

    pub(crate) fn now(&self) -> u64 {
        (self.0)()
    }

    /// Whether a record with `expires_at` is expired now. Reads the clock only for a record
    /// that has an expiry, so reads of records without one never pay for it.
    pub(crate) fn expired(&self, expires_at: u64) -> bool {
        expires_at != 0 && expires_at <= self.now()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// Whether a record with `expires_at` is expired at `now`.
pub(crate) fn is_expired(expires_at: u64, now: u64) -> bool {
    expires_at != 0 && expires_at <= now
}

/// The expiry (unix ms, 0 for none) of a write made with `ttl`. Reads the clock only when the
/// record gets an expiry.
pub(crate) fn expiry_for(
    ttl: Ttl,
    default: Option<Duration>,
    now: impl FnOnce() -> u64,
) -> Result<u64> {
    let after = match ttl {
        Ttl::Never => return Ok(0),
        Ttl::Default => match default {
            None => return Ok(0),
            Some(d) => d,
        },
        Ttl::After(d) => d,
    };
    let at = u128::from(now()) + after.as_millis();
    match u64::try_from(at) {
        // 0 means "never": a record that expires at the epoch expires at 1 ms instead.
        Ok(at) => Ok(at.max(1)),
        Err(_) => Err(overflow()),
    }
}

#[cfg(feature = "ttl")]
fn overflow() -> Error {
    Error::TtlOverflow
}

#[cfg(not(feature = "ttl"))]
fn overflow() -> Error {
    Error::InvalidConfig("ttl overflow")
}

/// Remaining lifetime of a live record, `None` without expiry.
#[cfg(feature = "ttl")]
pub(crate) fn remaining(expires_at: u64, now: u64) -> Option<Duration> {
    (expires_at != 0 && expires_at > now).then(|| Duration::from_millis(expires_at - now))
}

#[cfg(feature = "ttl")]
impl crate::Emdb {
    /// Sets `key` with an explicit TTL.
    ///
    /// ```
    /// use std::time::Duration;
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert_with_ttl("k", "v", emdb::Ttl::After(Duration::from_secs(60)))?;
    /// assert!(db.ttl("k")?.unwrap() <= Duration::from_secs(60));
    /// # Ok::<(), emdb::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `TtlOverflow` if now plus the TTL does not fit (for example `Duration::MAX`).
    pub fn insert_with_ttl(
        &self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        ttl: Ttl,
    ) -> Result<()> {
        self.space().insert_with(&key.into(), &value.into(), ttl)
    }

    /// Expiry in unix milliseconds: `Some(0)` for a live key without TTL, `None` if the key is
    /// missing or expired.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("k", "v")?;
    /// assert_eq!(db.expires_at("k")?, Some(0));
    /// assert_eq!(db.expires_at("missing")?, None);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn expires_at(&self, key: impl AsRef<[u8]>) -> Result<Option<u64>> {
        self.space().expires_at(key.as_ref())
    }

    /// Time left before `key` expires; `None` if missing, expired or without TTL.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("k", "v")?;
    /// assert_eq!(db.ttl("k")?, None);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn ttl(&self, key: impl AsRef<[u8]>) -> Result<Option<Duration>> {
        self.space().ttl(key.as_ref())
    }

    /// Removes the TTL of a live key, atomically. `true` if it had one; `false` (and nothing
    /// written) if it had none or is missing or expired: an expired key is never resurrected.
    ///
    /// ```
    /// use std::time::Duration;
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert_with_ttl("k", "v", emdb::Ttl::After(Duration::from_secs(60)))?;
    /// assert!(db.persist("k")?);
    /// assert_eq!(db.expires_at("k")?, Some(0));
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn persist(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.space().persist(key.as_ref())
    }

    /// Removes expired records from every namespace (one atomic batch per namespace, reading
    /// expiries but no values); returns how many. Errors stop the sweep and count as 0 more.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert_with_ttl("k", "v", emdb::Ttl::After(std::time::Duration::ZERO))?;
    /// assert_eq!(db.sweep_expired(), 1);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn sweep_expired(&self) -> usize {
        self.namespace_ids()
            .into_iter()
            .map(|ns| self.inner.space(ns).sweep_expired().unwrap_or(0))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_arithmetic() {
        let sec = Duration::from_secs(1);
        assert_eq!(
            expiry_for(Ttl::Never, Some(sec), || unreachable!(
                "no expiry, so no clock read"
            ))
            .ok(),
            Some(0)
        );
        assert_eq!(
            expiry_for(Ttl::Default, None, || unreachable!(
                "no expiry, so no clock read"
            ))
            .ok(),
            Some(0)
        );
        assert_eq!(expiry_for(Ttl::Default, Some(sec), || 500).ok(), Some(1500));
        assert_eq!(
            expiry_for(Ttl::After(Duration::ZERO), None, || 500).ok(),
            Some(500)
        );
        assert_eq!(
            expiry_for(Ttl::After(Duration::ZERO), None, || 0).ok(),
            Some(1)
        );
        assert!(expiry_for(Ttl::After(Duration::MAX), None, || 1).is_err());
        assert!(expiry_for(Ttl::After(Duration::from_millis(u64::MAX)), None, || 1).is_err());
    }

    #[test]
    fn expiry_boundary_is_inclusive() {
        assert!(!is_expired(0, u64::MAX));
        assert!(!is_expired(1000, 999));
        assert!(is_expired(1000, 1000));
    }

    #[cfg(feature = "ttl")]
    #[test]
    fn remaining_time_ends_at_the_expiry() {
        assert_eq!(remaining(1000, 400), Some(Duration::from_millis(600)));
        assert_eq!(remaining(1000, 1000), None);
        assert_eq!(remaining(0, 1), None);
    }
}
