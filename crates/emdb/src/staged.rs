//! A transaction's staged writes: one engine operation per key, kept in the form commit hands
//! to the engine, and found by key through a table of positions.
//!
//! Memory is the point. A transaction may stage millions of writes, and commit needs them as
//! one list of [`OwnedOp`]s; keeping that list as the staging area (instead of a map from key
//! to staged write, converted at commit) means commit allocates no second copy of it, and the
//! lookup table holds a position and a hash per key (17 bytes a slot) instead of the keys and
//! operations themselves. The hash is kept so that growing the table reads no key: each key
//! is a separate allocation, and reading them all again at every doubling cost more time than
//! the 8 bytes save.
//!
//! Invariants: every op is a `Put` or `Delete` in namespace 0; no two ops have the same key;
//! `slots` holds exactly the positions `0..ops.len()`, each with (and under) the hash of its
//! op's key; `unverified[i]` is meaningful only for a `Delete` at `i`.

use emdb_engine::{KeyHashState, OwnedOp};
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// What a key's staged operation is.
pub(crate) enum StagedRef<'a> {
    /// Set to `value`, expiring at `expires_at` (unix ms; 0 for never).
    Put { value: &'a [u8], expires_at: u64 },
    /// Removed.
    Delete,
}

/// The staged writes; see the module docs.
pub(crate) struct StagedWrites {
    ops: Vec<OwnedOp>,
    /// Per op: a `Delete` staged without seeing the database hold the key, so commit must look
    /// before writing it (a delete of a key that is absent is dropped, not written).
    unverified: Vec<bool>,
    /// `(position in ops, hash of its key)`.
    slots: HashTable<(usize, u64)>,
    hasher: KeyHashState,
}

fn key_of(op: &OwnedOp) -> &[u8] {
    match op {
        OwnedOp::Put { key, .. } | OwnedOp::Delete { key, .. } => key,
        OwnedOp::Clear { .. } => &[],
    }
}

impl StagedWrites {
    pub(crate) fn new() -> Self {
        StagedWrites {
            ops: Vec::new(),
            unverified: Vec::new(),
            slots: HashTable::new(),
            hasher: KeyHashState::default(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    fn position(&self, key: &[u8]) -> Option<usize> {
        let hash = self.hasher.hash_one(key);
        self.slots
            .find(hash, |&(i, h)| h == hash && key_of(&self.ops[i]) == key)
            .map(|&(i, _)| i)
    }

    /// The staged operation for `key`, if any.
    pub(crate) fn get(&self, key: &[u8]) -> Option<StagedRef<'_>> {
        let i = self.position(key)?;
        Some(match &self.ops[i] {
            OwnedOp::Put {
                value, expires_at, ..
            } => StagedRef::Put {
                value,
                expires_at: *expires_at,
            },
            OwnedOp::Delete { .. } | OwnedOp::Clear { .. } => StagedRef::Delete,
        })
    }

    /// Stages `key = value`, replacing what was staged for `key`.
    pub(crate) fn put(&mut self, key: Vec<u8>, value: Vec<u8>, expires_at: u64) {
        let op = OwnedOp::Put {
            ns: 0,
            key,
            value,
            expires_at,
        };
        match self.position(key_of(&op)) {
            Some(i) => self.ops[i] = op,
            None => self.push(op, false),
        }
    }

    /// Stages the removal of `key` and returns the value the transaction saw for it: the
    /// staged put's value if one was staged and `live` says its expiry has not passed, nothing
    /// if a removal was staged, and otherwise what `stored` reads from the database (an error
    /// there stages nothing).
    pub(crate) fn remove<E>(
        &mut self,
        key: Vec<u8>,
        stored: impl FnOnce(&[u8]) -> Result<Option<Vec<u8>>, E>,
        live: impl FnOnce(u64) -> bool,
    ) -> Result<Option<Vec<u8>>, E> {
        let Some(i) = self.position(&key) else {
            let seen = stored(&key)?;
            let unverified = seen.is_none();
            self.push(OwnedOp::Delete { ns: 0, key }, unverified);
            return Ok(seen);
        };
        let seen = match std::mem::replace(&mut self.ops[i], OwnedOp::Delete { ns: 0, key }) {
            OwnedOp::Put {
                value, expires_at, ..
            } if live(expires_at) => Some(value),
            _ => None,
        };
        // Whatever was staged, this says nothing of the database's record: commit looks the
        // key up (a key only ever put by this transaction gets no delete).
        self.unverified[i] = true;
        Ok(seen)
    }

    fn push(&mut self, op: OwnedOp, unverified: bool) {
        let i = self.ops.len();
        let hash = self.hasher.hash_one(key_of(&op));
        self.slots.insert_unique(hash, (i, hash), |&(_, h)| h);
        self.ops.push(op);
        self.unverified.push(unverified);
    }

    /// The ops to commit, in staging order: every put, and every delete except those of
    /// unverified deletes whose key `exists` says is absent now.
    pub(crate) fn into_ops<E>(
        self,
        mut exists: impl FnMut(&[u8]) -> Result<bool, E>,
    ) -> Result<Vec<OwnedOp>, E> {
        let StagedWrites {
            mut ops,
            unverified,
            slots,
            ..
        } = self;
        drop(slots);
        let mut keep = Vec::with_capacity(ops.len());
        for (op, &unverified) in ops.iter().zip(&unverified) {
            let needed = match op {
                OwnedOp::Delete { key, .. } if unverified => exists(key)?,
                _ => true,
            };
            keep.push(needed);
        }
        let mut keep = keep.into_iter();
        ops.retain(|_| keep.next().unwrap_or(true));
        Ok(ops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    /// Removes `key` as if the database held nothing and every staged put were live.
    fn remove(s: &mut StagedWrites, key: &[u8]) -> Option<Vec<u8>> {
        s.remove(key.to_vec(), |_| Ok::<_, Infallible>(None), |_| true)
            .unwrap()
    }

    fn commit(s: StagedWrites, present: &[&[u8]]) -> Vec<OwnedOp> {
        s.into_ops(|k| Ok::<_, Infallible>(present.contains(&k)))
            .unwrap()
    }

    #[test]
    fn the_last_operation_per_key_wins_in_first_staging_order() {
        let mut s = StagedWrites::new();
        s.put(b"a".to_vec(), b"1".to_vec(), 0);
        s.put(b"b".to_vec(), b"2".to_vec(), 7);
        s.put(b"a".to_vec(), b"3".to_vec(), 0);
        assert!(matches!(
            s.get(b"a"),
            Some(StagedRef::Put { value: b"3", .. })
        ));
        assert!(matches!(
            s.get(b"b"),
            Some(StagedRef::Put { expires_at: 7, .. })
        ));
        assert!(s.get(b"c").is_none());
        assert_eq!(remove(&mut s, b"a"), Some(b"3".to_vec()));
        assert!(matches!(s.get(b"a"), Some(StagedRef::Delete)));
        // The database holds "a": its delete is written, where the put was staged first.
        let ops = commit(s, &[b"a"]);
        assert_eq!(
            ops,
            [
                OwnedOp::Delete {
                    ns: 0,
                    key: b"a".to_vec()
                },
                OwnedOp::Put {
                    ns: 0,
                    key: b"b".to_vec(),
                    value: b"2".to_vec(),
                    expires_at: 7
                },
            ]
        );
    }

    #[test]
    fn deletes_of_keys_seen_absent_are_checked_again_at_commit() {
        let mut s = StagedWrites::new();
        // Seen present in the database: written without a second look.
        let seen = s.remove(
            b"p".to_vec(),
            |_| Ok::<_, Infallible>(Some(b"v".to_vec())),
            |_| true,
        );
        assert_eq!(seen, Ok(Some(b"v".to_vec())));
        // Seen absent: written only if the key exists at commit.
        remove(&mut s, b"gone");
        remove(&mut s, b"back");
        // A removal over a staged removal or a staged put says nothing of the database either.
        assert_eq!(remove(&mut s, b"p"), None);
        s.put(b"mine".to_vec(), b"v".to_vec(), 0);
        assert_eq!(remove(&mut s, b"mine"), Some(b"v".to_vec()));
        // Nor did one over an expired staged put.
        s.put(b"old".to_vec(), b"v".to_vec(), 5);
        let seen = s.remove(b"old".to_vec(), |_| Ok::<_, Infallible>(None), |at| at > 5);
        assert_eq!(seen, Ok(None));
        let keys: Vec<Vec<u8>> = commit(s, &[b"back"])
            .iter()
            .map(|op| key_of(op).to_vec())
            .collect();
        assert_eq!(keys, [b"back".to_vec()]);
    }

    #[test]
    fn an_error_while_looking_a_key_up_stages_nothing() {
        let mut s = StagedWrites::new();
        assert_eq!(s.remove(b"k".to_vec(), |_| Err("io"), |_| true), Err("io"));
        assert!(s.is_empty());
        assert!(s.get(b"k").is_none());
        remove(&mut s, b"k");
        assert_eq!(s.into_ops(|_| Err::<bool, _>("io")), Err("io"));
    }

    #[test]
    fn many_keys_stay_findable_through_table_growth() {
        let mut s = StagedWrites::new();
        for i in 0u32..10_000 {
            s.put(i.to_le_bytes().to_vec(), format!("v{i}").into_bytes(), 0);
        }
        for i in (0u32..10_000).step_by(3) {
            remove(&mut s, &i.to_le_bytes());
        }
        for i in 0u32..10_000 {
            let staged = s.get(&i.to_le_bytes());
            if i % 3 == 0 {
                assert!(matches!(staged, Some(StagedRef::Delete)));
            } else {
                let want = format!("v{i}");
                assert!(
                    matches!(staged, Some(StagedRef::Put { value, .. }) if value == want.as_bytes())
                );
            }
        }
        // The database holds none of them: only the puts are written.
        assert_eq!(commit(s, &[]).len(), 10_000 - 3_334);
    }
}
