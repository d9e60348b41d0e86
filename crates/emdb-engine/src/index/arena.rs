//! Storage for the nodes of a [`super::key_tree::KeyTree`], addressed by index.
//!
//! Nodes live in fixed-size chunks that are never reallocated, so growing the tree never copies
//! (or page-faults in a fresh copy of) the nodes it already has, as one growing vector would at
//! each doubling; an index costs one extra load, into a chunk list small enough to stay cached.

use std::ops::{Index, IndexMut};

/// Nodes per chunk (a power of two, so an index splits with a shift and a mask).
const CHUNK: usize = 64;

#[derive(Debug)]
pub(crate) struct Arena<T> {
    /// Every chunk has capacity [`CHUNK`]; all but the last are full.
    chunks: Vec<Vec<T>>,
    /// Indexes of removed nodes, reused by [`Arena::push`] first.
    free: Vec<usize>,
}

impl<T> Default for Arena<T> {
    fn default() -> Self {
        Arena {
            chunks: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Arena<T> {
    /// Stores `node`, at a removed node's index if there is one; returns its index.
    pub(crate) fn push(&mut self, node: T) -> usize {
        if let Some(id) = self.free.pop() {
            self[id] = node;
            return id;
        }
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => last.push(node),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(node);
                self.chunks.push(chunk);
            }
        }
        self.len() - 1
    }

    /// Takes the node at `id` out, leaving `vacant` in its place until the index is reused.
    pub(crate) fn remove(&mut self, id: usize, vacant: T) -> T {
        self.free.push(id);
        std::mem::replace(&mut self[id], vacant)
    }

    /// Slots ever used (removed ones included).
    fn len(&self) -> usize {
        self.chunks
            .last()
            .map_or(0, |last| (self.chunks.len() - 1) * CHUNK + last.len())
    }

    /// Nodes stored (slots used minus removed ones).
    #[cfg(test)]
    pub(crate) fn live(&self) -> usize {
        self.len() - self.free.len()
    }

    pub(crate) fn get(&self, id: usize) -> Option<&T> {
        self.chunks.get(id / CHUNK)?.get(id % CHUNK)
    }
}

impl<T> Index<usize> for Arena<T> {
    type Output = T;

    #[inline]
    fn index(&self, id: usize) -> &T {
        &self.chunks[id / CHUNK][id % CHUNK]
    }
}

impl<T> IndexMut<usize> for Arena<T> {
    #[inline]
    fn index_mut(&mut self, id: usize) -> &mut T {
        &mut self.chunks[id / CHUNK][id % CHUNK]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_stay_put_across_chunks_and_removed_ones_are_reused() {
        let mut a = Arena::default();
        assert_eq!(a.len(), 0);
        assert!(a.get(0).is_none());
        for i in 0..3 * CHUNK + 5 {
            assert_eq!(a.push(i * 10), i);
        }
        assert_eq!(a.len(), 3 * CHUNK + 5);
        a[CHUNK] = 7;
        assert_eq!(a[CHUNK], 7);
        assert_eq!(a.get(2 * CHUNK + 1), Some(&((2 * CHUNK + 1) * 10)));
        assert!(a.get(3 * CHUNK + 5).is_none());
        assert!(a.chunks.iter().all(|c| c.capacity() == CHUNK));
        assert_eq!(a.remove(CHUNK, 0), 7);
        assert_eq!(a.live(), 3 * CHUNK + 4);
        assert_eq!(a.push(9), CHUNK);
        assert_eq!(a[CHUNK], 9);
        assert_eq!(a.len(), 3 * CHUNK + 5);
    }
}
