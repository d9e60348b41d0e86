//! Snapshot iteration: the set of keys is fixed when the iterator is made; each value is read
//! when `next()` reaches its key.
//!
//! The iterator keeps the generation (map and index) it was made from, so it can read the keys
//! even after a compaction replaced the file; values come from the current generation, so a key
//! removed since is skipped and an overwritten key shows its new value.

use std::sync::Arc;

use crate::engine::{Engine, Generation};
use crate::error::{EngineError, Result};

/// Iterator over `(key, value, expires_at)` of one namespace; see the module docs.
#[derive(Debug)]
pub struct EngineIter {
    engine: Arc<Engine>,
    cur: Arc<Generation>,
    ns: u32,
    offsets: std::vec::IntoIter<u64>,
    values: bool,
}

impl Engine {
    /// Iterates namespace `ns` in no particular order.
    pub fn iter(self: &Arc<Self>, ns: u32) -> Result<EngineIter> {
        let cur = self.generation.load_full();
        let offsets = cur
            .index
            .with_ns(ns, |n| n.offsets())
            .ok_or(EngineError::NamespaceMissing(ns))?;
        Ok(EngineIter {
            engine: self.clone(),
            cur,
            ns,
            offsets: offsets.into_iter(),
            values: true,
        })
    }
}

impl EngineIter {
    /// Yields empty values, reading only keys and expiries (never a value).
    #[must_use]
    pub fn keys_only(mut self) -> Self {
        self.values = false;
        self
    }

    /// Keys left to visit (an upper bound on what remains).
    pub fn remaining(&self) -> usize {
        self.offsets.len()
    }
}

impl Iterator for EngineIter {
    type Item = Result<(Vec<u8>, Vec<u8>, u64)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let off = self.offsets.next()?;
            let key = match self.cur.reader.with_entry(off, |e| e.key.to_vec()) {
                Ok(k) => k,
                Err(e) => return Some(Err(e)),
            };
            let current = if self.values {
                self.engine.get(self.ns, &key)
            } else {
                self.engine
                    .expires_at(self.ns, &key)
                    .map(|e| e.map(|e| (Vec::new(), e)))
            };
            match current {
                Ok(Some((value, exp))) => return Some(Ok((key, value, exp))),
                Ok(None) => {}
                // The namespace was dropped while iterating: nothing more is visible.
                Err(EngineError::NamespaceMissing(_)) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// Iterator over keys fixed at creation (a range result), yielding current values in order.
#[derive(Debug)]
pub struct KeyListIter {
    engine: Arc<Engine>,
    ns: u32,
    keys: std::vec::IntoIter<Vec<u8>>,
}

impl KeyListIter {
    /// Iterates `keys` of namespace `ns`, skipping those gone when reached.
    pub fn new(engine: Arc<Engine>, ns: u32, keys: Vec<Vec<u8>>) -> Self {
        KeyListIter {
            engine,
            ns,
            keys: keys.into_iter(),
        }
    }
}

impl Iterator for KeyListIter {
    type Item = Result<(Vec<u8>, Vec<u8>, u64)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let key = self.keys.next()?;
            match self.engine.get(self.ns, &key) {
                Ok(Some((value, exp))) => return Some(Ok((key, value, exp))),
                Ok(None) => {}
                Err(EngineError::NamespaceMissing(_)) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}
