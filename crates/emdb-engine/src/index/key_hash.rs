//! [`KeyHashState`]: a seeded xxh3 `BuildHasher` for maps keyed by byte strings outside the index
//! (a transaction's staged writes).
//!
//! `std`'s default (SipHash-1-3) costs several hundred instructions for a 24-byte key; xxh3 a
//! few dozen. The seed is random per instance, as the index's is per file, so which keys collide
//! cannot be chosen in advance from outside the process.

use std::hash::{BuildHasher, Hasher, RandomState};

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Builds [`KeyHasher`]s with one random seed.
#[derive(Debug, Clone)]
pub struct KeyHashState {
    seed: u64,
}

impl Default for KeyHashState {
    /// A fresh random seed (each call gives another).
    fn default() -> Self {
        KeyHashState {
            seed: RandomState::new().hash_one(0u8),
        }
    }
}

impl BuildHasher for KeyHashState {
    type Hasher = KeyHasher;

    fn build_hasher(&self) -> KeyHasher {
        KeyHasher { state: self.seed }
    }
}

/// Hashes what it is fed: byte runs through xxh3 seeded with everything before them, integers
/// (a slice's length prefix) by a multiply-xor mix.
#[derive(Debug, Clone)]
pub struct KeyHasher {
    state: u64,
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.state = xxh3_64_with_seed(bytes, self.state);
    }

    fn write_u64(&mut self, n: u64) {
        self.state = (self.state ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.state ^= self.state >> 29;
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_hash_alike_and_the_length_counts() {
        let s = KeyHashState::default();
        assert_eq!(s.hash_one(b"key".to_vec()), s.hash_one(b"key".to_vec()));
        assert_ne!(s.hash_one(b"key".to_vec()), s.hash_one(b"kez".to_vec()));
        // Two keys fed as one run and as two differ through the length prefixes.
        assert_ne!(
            s.hash_one((b"ab".to_vec(), b"c".to_vec())),
            s.hash_one((b"a".to_vec(), b"bc".to_vec()))
        );
    }

    #[test]
    fn each_state_has_its_own_seed() {
        let (a, b) = (KeyHashState::default(), KeyHashState::default());
        assert_ne!(a.hash_one(b"key".to_vec()), b.hash_one(b"key".to_vec()));
    }
}
