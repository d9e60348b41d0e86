//! [`ValueRef`]: a value read without copying it out of the memory map.

use std::fmt;
use std::ops::Deref;

use emdb_engine::ValueBytes;

/// A value borrowed from the database's memory map (or owned, where no map is used).
///
/// It keeps the mapped region alive on its own, so it stays valid after the file grows or is
/// compacted, and does not keep the database open.
///
/// ```
/// let db = emdb::Emdb::open_in_memory();
/// db.insert("k", "hello")?;
/// let v = db.get_zerocopy("k")?.unwrap();
/// assert_eq!(v.len(), 5);
/// assert_eq!(&*v, b"hello");
/// assert!(v == b"hello".to_vec());
/// assert_eq!(v.into_vec(), b"hello".to_vec());
/// # Ok::<(), emdb::Error>(())
/// ```
pub struct ValueRef {
    bytes: ValueBytes,
}

impl ValueRef {
    pub(crate) fn new(bytes: ValueBytes) -> Self {
        ValueRef { bytes }
    }

    /// Length in bytes.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("k", "abc")?;
    /// assert_eq!(db.get_zerocopy("k")?.unwrap().len(), 3);
    /// # Ok::<(), emdb::Error>(())
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the value is empty.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("k", "")?;
    /// assert!(db.get_zerocopy("k")?.unwrap().is_empty());
    /// # Ok::<(), emdb::Error>(())
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The bytes.
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("k", "abc")?;
    /// assert_eq!(db.get_zerocopy("k")?.unwrap().as_slice(), b"abc");
    /// # Ok::<(), emdb::Error>(())
    /// ```
    #[must_use]
    pub fn as_slice(&self) -> &[u8] {
        self.bytes.as_slice()
    }

    /// An owned copy (a move when the value is already owned).
    ///
    /// ```
    /// let db = emdb::Emdb::open_in_memory();
    /// db.insert("k", "abc")?;
    /// assert_eq!(db.get_zerocopy("k")?.unwrap().into_vec(), b"abc");
    /// # Ok::<(), emdb::Error>(())
    /// ```
    #[must_use]
    pub fn into_vec(self) -> Vec<u8> {
        match self.bytes {
            ValueBytes::Owned(v) => v,
            mapped @ ValueBytes::Mapped { .. } => mapped.as_slice().to_vec(),
        }
    }
}

impl fmt::Debug for ValueRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValueRef")
            .field("len", &self.len())
            .finish()
    }
}

impl Deref for ValueRef {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for ValueRef {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for ValueRef {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for ValueRef {}

impl PartialEq<[u8]> for ValueRef {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<&[u8]> for ValueRef {
    fn eq(&self, other: &&[u8]) -> bool {
        self.as_slice() == *other
    }
}

impl PartialEq<Vec<u8>> for ValueRef {
    fn eq(&self, other: &Vec<u8>) -> bool {
        self.as_slice() == other.as_slice()
    }
}
