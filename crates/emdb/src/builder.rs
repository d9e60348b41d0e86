//! [`EmdbBuilder`] and [`FlushPolicy`]: how a database is opened.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use emdb_engine::{Engine, EngineConfig, SyncPolicy};

use crate::data_dir;
use crate::db::{Emdb, EphemeralFiles, Inner};
use crate::error::{Error, Result};
use crate::ttl::Clock;

/// When writes become durable.
///
/// ```
/// use std::time::Duration;
/// let db = emdb::Emdb::builder()
///     .flush_policy(emdb::FlushPolicy::Group { max_wait: Duration::from_micros(500), max_batch: 8 })
///     .build()?;
/// # Ok::<(), emdb::Error>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default)]
pub enum FlushPolicy {
    /// `flush()` issues one `fdatasync`; concurrent flushes share it. When several threads
    /// flush after every write, the first to flush waits (at most two recent `fdatasync`
    /// times, the gathering and the sync) for as many as took part in the previous sync, so
    /// one sync covers them all.
    #[default]
    OnEachFlush,
    /// Like `OnEachFlush`, but the syncing thread waits up to `max_wait` for up to `max_batch`
    /// concurrent writers so one `fdatasync` covers them all. Both are upper bounds: the sync
    /// starts as soon as no writer is in flight. `max_batch` 0 counts as 1.
    Group {
        /// Longest extra wait before syncing.
        max_wait: Duration,
        /// Stop waiting once this many flushers are queued.
        max_batch: usize,
    },
    /// Every write is durable when it returns (concurrent writers still share syncs).
    WriteThrough,
}

impl FlushPolicy {
    fn to_sync(self) -> SyncPolicy {
        match self {
            FlushPolicy::OnEachFlush => SyncPolicy::OnFlush,
            FlushPolicy::Group {
                max_wait,
                max_batch,
            } => SyncPolicy::Group {
                max_wait,
                max_batch: max_batch.max(1),
            },
            FlushPolicy::WriteThrough => SyncPolicy::EveryWrite,
        }
    }
}

/// Options for opening a database.
///
/// Name the file with [`EmdbBuilder::path`], or let emdb place it under the platform's data
/// directory with [`EmdbBuilder::app_name`] / [`EmdbBuilder::database_name`] /
/// [`EmdbBuilder::data_root`]. With neither, `build` gives a private temporary database.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let db = emdb::EmdbBuilder::new()
///     .data_root(dir.path())
///     .app_name("my-app")
///     .database_name("cache.emdb")
///     .enable_range_scans(true)
///     .build()?;
/// assert!(db.path().ends_with("my-app/cache.emdb"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct EmdbBuilder {
    path: Option<PathBuf>,
    app_name: Option<String>,
    database_name: Option<String>,
    data_root: Option<PathBuf>,
    default_ttl: Option<Duration>,
    range_scans: bool,
    flush_policy: FlushPolicy,
    clock: Option<ClockSlot>,
    #[cfg(feature = "encrypt")]
    secrets: crate::encryption::Secrets,
}

/// A clock for tests; never printed.
#[derive(Clone)]
struct ClockSlot(Clock);

impl std::fmt::Debug for ClockSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("custom clock")
    }
}

static EPHEMERAL_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary path unique per process, call and time.
fn ephemeral_path() -> PathBuf {
    let n = EPHEMERAL_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::env::temp_dir().join(format!("emdb-mem-{}-{n}-{nanos}.emdb", std::process::id()))
}

impl EmdbBuilder {
    /// Default settings: ephemeral, no TTL, no range index, `FlushPolicy::OnEachFlush`.
    ///
    /// ```
    /// let db = emdb::EmdbBuilder::new().build()?;
    /// # Ok::<(), emdb::Error>(())
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The database file. Mutually exclusive with `app_name`, `database_name` and `data_root`.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let db = emdb::EmdbBuilder::new().path(dir.path().join("x.emdb")).build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn path(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Directory name under the data root (default `emdb`); a single name, not a path.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let db = emdb::EmdbBuilder::new().data_root(dir.path()).app_name("demo").build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn app_name(mut self, name: impl Into<String>) -> Self {
        self.app_name = Some(name.into());
        self
    }

    /// File name inside the application directory (default `emdb-default.emdb`).
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let db = emdb::EmdbBuilder::new().data_root(dir.path()).database_name("a.emdb").build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn database_name(mut self, name: impl Into<String>) -> Self {
        self.database_name = Some(name.into());
        self
    }

    /// Root directory instead of the platform's data directory.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let db = emdb::EmdbBuilder::new().data_root(dir.path()).build()?;
    /// assert!(db.path().starts_with(dir.path().canonicalize()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn data_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.data_root = Some(root.into());
        self
    }

    /// TTL applied by `insert`, `insert_many`, transactions, `Ttl::Default`, namespaces and
    /// the nested helpers.
    ///
    /// ```
    /// use std::time::Duration;
    /// let db = emdb::EmdbBuilder::new().default_ttl(Duration::from_secs(60)).build()?;
    /// db.insert("k", "v")?;
    /// assert!(db.ttl("k")?.is_some());
    /// # Ok::<(), emdb::Error>(())
    /// ```
    #[cfg(feature = "ttl")]
    #[must_use]
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = Some(ttl);
        self
    }

    /// Keep an ordered key index so the `range*` and `iter_from`/`iter_after` methods work.
    /// Costs memory for a copy of every key; rebuilt at open.
    ///
    /// ```
    /// let db = emdb::EmdbBuilder::new().enable_range_scans(true).build()?;
    /// assert!(db.range(..)?.is_empty());
    /// # Ok::<(), emdb::Error>(())
    /// ```
    #[must_use]
    pub fn enable_range_scans(mut self, enabled: bool) -> Self {
        self.range_scans = enabled;
        self
    }

    /// When writes become durable (default [`FlushPolicy::OnEachFlush`]).
    ///
    /// ```
    /// let db = emdb::EmdbBuilder::new().flush_policy(emdb::FlushPolicy::WriteThrough).build()?;
    /// # Ok::<(), emdb::Error>(())
    /// ```
    #[must_use]
    pub fn flush_policy(mut self, policy: FlushPolicy) -> Self {
        self.flush_policy = policy;
        self
    }

    /// Encrypts the database with a raw 256-bit key (a new file is created encrypted; an
    /// existing file must have been created with a key). `Debug` never shows it.
    ///
    /// ```
    /// let db = emdb::EmdbBuilder::new().encryption_key([9u8; 32]).build()?;
    /// assert!(db.stats()?.encrypted);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    #[cfg(feature = "encrypt")]
    #[must_use]
    pub fn encryption_key(mut self, key: [u8; 32]) -> Self {
        self.secrets.key = Some(emdb_engine::crypt::Key::new(key));
        self
    }

    /// Encrypts the database with a key derived from `passphrase` by Argon2id (salt and
    /// parameters are stored in the header). `Debug` never shows it.
    ///
    /// ```
    /// let db = emdb::EmdbBuilder::new().encryption_passphrase("correct horse").build()?;
    /// assert!(db.stats()?.encrypted);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    #[cfg(feature = "encrypt")]
    #[must_use]
    pub fn encryption_passphrase(mut self, passphrase: impl Into<String>) -> Self {
        self.secrets.passphrase = Some(emdb_engine::crypt::Passphrase::new(passphrase.into()));
        self
    }

    /// The cipher of a new encrypted file (default AES-256-GCM). For an existing file it must
    /// match the file's cipher. Ignored without a key or passphrase.
    ///
    /// ```
    /// let db = emdb::EmdbBuilder::new()
    ///     .encryption_key([9u8; 32])
    ///     .cipher(emdb::Cipher::ChaCha20Poly1305)
    ///     .build()?;
    /// # Ok::<(), emdb::Error>(())
    /// ```
    #[cfg(feature = "encrypt")]
    #[must_use]
    pub fn cipher(mut self, cipher: crate::Cipher) -> Self {
        self.secrets.cipher = Some(cipher);
        self
    }

    /// Replaces the wall clock (unit tests of TTL behaviour).
    #[cfg(all(test, feature = "ttl"))]
    pub(crate) fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(ClockSlot(clock));
        self
    }

    /// Opens (or creates) the database.
    ///
    /// ```
    /// let db = emdb::EmdbBuilder::new().build()?;
    /// db.insert("k", "v")?;
    /// # Ok::<(), emdb::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `InvalidConfig` for contradictory or malformed options (a path together with
    /// `app_name`/`database_name`/`data_root`, a path-like name, a directory as path), `Io` for a
    /// missing directory, `LockBusy` if another handle holds the database, `MagicMismatch`,
    /// `VersionMismatch`, `FeatureMismatch` or `Corrupted` for files that are not (or no longer)
    /// valid databases.
    pub fn build(self) -> Result<Emdb> {
        let named =
            self.app_name.is_some() || self.database_name.is_some() || self.data_root.is_some();
        let (path, ephemeral) = match (self.path, named) {
            (Some(_), true) => {
                return Err(Error::InvalidConfig(
                    "EmdbBuilder::path is mutually exclusive with app_name / database_name / data_root",
                ));
            }
            (Some(p), false) => (p, false),
            (None, true) => (
                data_dir::resolve(
                    self.data_root,
                    self.app_name.as_deref(),
                    self.database_name.as_deref(),
                )?,
                false,
            ),
            (None, false) => (ephemeral_path(), true),
        };
        if path.as_os_str().is_empty() {
            return Err(Error::InvalidConfig("database path must not be empty"));
        }
        if path.is_dir() {
            return Err(Error::InvalidConfig(
                "database path is a directory; pass a file path",
            ));
        }
        #[cfg(feature = "encrypt")]
        let sealer = crate::encryption::sealer_for_open(&path, &self.secrets)?;
        #[cfg(not(feature = "encrypt"))]
        let sealer = None;
        let config = EngineConfig::default()
            .with_sealer(sealer)
            .with_range_index(self.range_scans)
            .with_sync(self.flush_policy.to_sync())
            .with_snapshot_on_close(!ephemeral);
        let engine = Engine::open(&path, config)?;
        let path = engine.path().to_path_buf();
        let ephemeral = ephemeral.then(|| EphemeralFiles(path.clone()));
        let clock = self.clock.map_or_else(Clock::system, |c| c.0);
        Ok(Emdb {
            inner: Arc::new(Inner {
                engine,
                path,
                default_ttl: self.default_ttl,
                range_scans: self.range_scans,
                clock,
                _ephemeral: ephemeral,
            }),
        })
    }
}
