//! Dotted keys (feature `nested`): [`Focus`] and `Emdb::{group, delete_group, focus}`.
//!
//! A focus on `"app.user"` turns key `"name"` into `"app.user.name"`. A group is every key that
//! starts with the prefix followed by a dot (the key equal to the prefix is not part of it).

use emdb_engine::OwnedOp;

use crate::db::Emdb;
use crate::error::{Error, Result};
#[cfg(feature = "ttl")]
use crate::ttl::Ttl;
use crate::ttl::is_expired;

fn compose(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

impl Emdb {
    /// Records of the default namespace whose key starts with `prefix.`.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("user.1", "a")?;
    /// db.insert("user.2", "b")?;
    /// db.insert("user", "not in the group")?;
    /// assert_eq!(db.group("user")?.count(), 2);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn group(
        &self,
        prefix: impl AsRef<str>,
    ) -> Result<impl Iterator<Item = (Vec<u8>, Vec<u8>)>> {
        let start = format!("{}.", prefix.as_ref()).into_bytes();
        // Filtered while iterating (only the group's records are held), then checked: a record
        // that could not be read fails the call rather than shorten the group.
        let mut all = self.iter()?;
        let items: Vec<_> = all
            .by_ref()
            .filter(|(k, _)| k.starts_with(&start))
            .collect();
        all.finish()?;
        Ok(items.into_iter())
    }

    /// Removes every live record of the group `prefix.` atomically; returns how many.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("tmp.a", "1")?;
    /// db.insert("tmp.b", "2")?;
    /// assert_eq!(db.delete_group("tmp")?, 2);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `InvalidPath` for an empty prefix.
    pub fn delete_group(&self, prefix: impl AsRef<str>) -> Result<usize> {
        if prefix.as_ref().is_empty() {
            return Err(Error::InvalidPath);
        }
        let start = format!("{}.", prefix.as_ref()).into_bytes();
        let mut all = self.keys()?;
        let keys: Vec<Vec<u8>> = all.by_ref().filter(|k| k.starts_with(&start)).collect();
        all.finish()?;
        let now = self.inner.clock.now();
        Ok(self.inner.engine.update(|view| {
            let mut ops = Vec::new();
            let mut live = 0;
            for key in keys {
                if let Some(exp) = view.expires_at(0, &key)? {
                    live += usize::from(!is_expired(exp, now));
                    ops.push(OwnedOp::Delete { ns: 0, key });
                }
            }
            Ok((ops, live))
        })?)
    }

    /// A view of the keys under `prefix`.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// let user = db.focus("user.42");
    /// user.set("name", "alice")?;
    /// assert_eq!(db.get("user.42.name")?, Some(b"alice".to_vec()));
    /// # Ok::<(), emdb::Error>(())
    /// ```
    #[must_use]
    pub fn focus(&self, prefix: impl Into<String>) -> Focus<'_> {
        Focus {
            db: self,
            prefix: prefix.into(),
        }
    }
}

/// Keys of the default namespace under a dotted prefix; see [`Emdb::focus`].
///
/// ```
/// let db = emdb::Emdb::open_in_memory();
/// let cfg = db.focus("config");
/// cfg.set("theme", "dark")?;
/// assert_eq!(cfg.get("theme")?, Some(b"dark".to_vec()));
/// assert_eq!(cfg.focus("ui").iter()?.count(), 0);
/// # Ok::<(), emdb::Error>(())
/// ```
pub struct Focus<'a> {
    db: &'a Emdb,
    prefix: String,
}

impl<'a> Focus<'a> {
    /// Sets `prefix.key` (the database's `default_ttl` applies).
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.focus("a").set("b", "1")?;
    /// assert!(db.contains_key("a.b")?);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn set(&self, key: &str, value: impl Into<Vec<u8>>) -> Result<()> {
        self.db.insert(compose(&self.prefix, key), value)
    }

    /// Sets `prefix.key` with an explicit TTL.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.focus("a").set_with_ttl("b", "1", emdb::Ttl::Never)?;
    /// # Ok::<(), emdb::Error>(())
    /// ```
    #[cfg(feature = "ttl")]
    pub fn set_with_ttl(&self, key: &str, value: impl Into<Vec<u8>>, ttl: Ttl) -> Result<()> {
        self.db
            .insert_with_ttl(compose(&self.prefix, key), value, ttl)
    }

    /// The value of `prefix.key`.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("a.b", "1")?;
    /// assert_eq!(db.focus("a").get("b")?, Some(b"1".to_vec()));
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.db.get(compose(&self.prefix, key))
    }

    /// Removes `prefix.key`.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("a.b", "1")?;
    /// assert_eq!(db.focus("a").remove("b")?, Some(b"1".to_vec()));
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn remove(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.db.remove(compose(&self.prefix, key))
    }

    /// Whether `prefix.key` is live.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// assert!(!db.focus("a").contains_key("b")?);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn contains_key(&self, key: &str) -> Result<bool> {
        self.db.contains_key(compose(&self.prefix, key))
    }

    /// A focus one level deeper: `prefix.sub`.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.focus("a").focus("b").set("c", "1")?;
    /// assert!(db.contains_key("a.b.c")?);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    #[must_use]
    pub fn focus(&self, sub: &str) -> Focus<'a> {
        Focus {
            db: self.db,
            prefix: compose(&self.prefix, sub),
        }
    }

    /// The group under this prefix, as [`Emdb::group`].
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("a.b", "1")?;
    /// assert_eq!(db.focus("a").iter()?.count(), 1);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn iter(&self) -> Result<impl Iterator<Item = (Vec<u8>, Vec<u8>)>> {
        self.db.group(&self.prefix)
    }

    /// Removes the group under this prefix, as [`Emdb::delete_group`].
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("a.b", "1")?;
    /// assert_eq!(db.focus("a").delete_all()?, 1);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    pub fn delete_all(&self) -> Result<usize> {
        self.db.delete_group(&self.prefix)
    }
}
