//! Inner nodes: separators and the children between them.

use super::NONE;
use super::head::{Probe, count_below};

/// Separators and children of an inner node: `keys.len()` separators and one more child. Laid
/// out like [`Leaf`], with the separators' prefixes inline.
#[derive(Debug)]
#[repr(C, align(64))]
pub(super) struct Inner<const I: usize> {
    pub(super) keys: Vec<Box<[u8]>>,
    pub(super) prefixes: [u64; I],
    pub(super) children: [usize; I],
}

impl<const I: usize> Inner<I> {
    /// A node with the single child `first`.
    pub(super) fn new(first: usize) -> Self {
        let mut children = [NONE; I];
        children[0] = first;
        Inner {
            keys: Vec::new(),
            prefixes: [0; I],
            children,
        }
    }

    pub(super) fn children(&self) -> &[usize] {
        &self.children[..=self.keys.len()]
    }

    /// The child to descend into for `p`: the number of separators `<= p`.
    #[inline]
    pub(super) fn child_for(&self, p: Probe<'_>) -> usize {
        let n = self.keys.len();
        let prefixes = &self.prefixes[..n];
        let mut i = count_below(prefixes, p.prefix);
        while i < n && prefixes[i] == p.prefix && *self.keys[i] <= *p.key {
            i += 1;
        }
        i
    }

    /// Adds `child` (keys from `sep` on) right of child `c`; the node has room.
    pub(super) fn insert_child(&mut self, c: usize, sep: (u64, Box<[u8]>), child: usize) {
        let n = self.keys.len();
        self.prefixes.copy_within(c..n, c + 1);
        self.children.copy_within(c + 1..=n, c + 2);
        self.prefixes[c] = sep.0;
        self.keys.insert(c, sep.1);
        self.children[c + 1] = child;
    }

    /// Keeps the first `m` children; returns the separator between them and the rest, and a
    /// node holding the rest.
    pub(super) fn split(&mut self, m: usize) -> ((u64, Box<[u8]>), Self) {
        let n = self.keys.len();
        let mut right = Inner::new(self.children[m]);
        right.prefixes[..n - m].copy_from_slice(&self.prefixes[m..n]);
        right.children[..=n - m].copy_from_slice(&self.children[m..=n]);
        right.keys = self.keys.split_off(m);
        let up = (self.prefixes[m - 1], self.keys.remove(m - 1));
        (up, right)
    }

    /// Removes child `c` with the separator on its left (the right one for the first child):
    /// its neighbour takes over its span. The node has at least two children.
    pub(super) fn remove_child(&mut self, c: usize) {
        let n = self.keys.len();
        let s = c.saturating_sub(1);
        self.prefixes.copy_within(s + 1..n, s);
        self.keys.remove(s);
        self.children.copy_within(c + 1..=n, c);
    }
}
