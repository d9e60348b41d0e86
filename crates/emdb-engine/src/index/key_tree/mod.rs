//! A B+ tree from keys to [`Slot`]s, laid out for seeks that miss the cache.
//!
//! A range scan's cost is its seek: the upper levels stay cached, and each level below costs a
//! cache miss. So nodes are wide (a leaf holds [`LEAF_CAP`] keys, an inner node [`INNER_CAP`]
//! children, against the 11 of `std`'s `BTreeMap`), which makes a million keys three inner
//! levels deep instead of seven. Inside a node the keys' first 24 bytes sit inline as integers
//! (8-byte prefixes in one array, the next 16 bytes in another): a search reads one value per
//! cache line of the prefixes, all loads independent, then counts within one line, and reads a
//! whole key only when two keys tie through 24 bytes. Keys of up to 24 bytes are stored only
//! inline. A leaf keeps its slots inline too, so a page of a scan reads one leaf front to back.
//!
//! Parts: [`head`] (a key's first 24 bytes as integers, and the probe that compares with
//! them), [`leaf`] and [`inner`] (the two node kinds), and here the tree that links them.
//!
//! Invariants: keys are unique and strictly increasing along the leaf chain; an inner node with
//! `c` children has `c - 1` separators, every key under child `i` is `>= separator i - 1` and `<
//! separator i`; every leaf except a root leaf holds at least one key; the root is an inner node
//! only while it has at least two children. Separators can be keys that were since removed:
//! they still route correctly.

mod head;
mod inner;
mod leaf;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::ops::Bound;

use super::arena::Arena;
use crate::index::ordered::prefix_of;
use crate::log::mmap::prefetch_value;
pub(crate) use head::Probe;
use inner::Inner;
use leaf::Leaf;

/// Keys per leaf (production size; tests use small nodes to build deep trees).
pub(crate) const LEAF_CAP: usize = 32;
/// Children per inner node.
pub(crate) const INNER_CAP: usize = 64;
/// No leaf: the end of the leaf chain.
const NONE: usize = usize::MAX;

/// Where a key's current record is, and when the key entered the set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) seq: u64,
    pub(crate) offset: u64,
}

/// The tree. `L` keys per leaf, `I` children per inner node.
#[derive(Debug)]
pub(crate) struct KeyTree<const L: usize = LEAF_CAP, const I: usize = INNER_CAP> {
    leaves: Arena<Leaf<L>>,
    inners: Arena<Inner<I>>,
    root: usize,
    /// Inner levels above the leaves (0: the root is a leaf).
    height: usize,
    len: usize,
    /// The descent path of the current insert or removal: (inner node, child taken). Kept to
    /// reuse its allocation.
    path: Vec<(usize, usize)>,
}

impl<const L: usize, const I: usize> Default for KeyTree<L, I> {
    fn default() -> Self {
        let mut leaves = Arena::default();
        leaves.push(Leaf::empty());
        KeyTree {
            leaves,
            inners: Arena::default(),
            root: 0,
            height: 0,
            len: 0,
            path: Vec::new(),
        }
    }
}

impl<const L: usize, const I: usize> KeyTree<L, I> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Builds the tree from entries in strictly increasing key order, leaves three quarters full
    /// so that the first inserts do not split every leaf.
    pub(crate) fn from_sorted(entries: impl IntoIterator<Item = (Box<[u8]>, Slot)>) -> Self {
        let mut tree = KeyTree::default();
        let fill = (L * 3 / 4).max(1);
        // The lowest key under each node of the level being built, and the node.
        let mut level: Vec<(u64, Box<[u8]>, usize)> = Vec::new();
        let mut leaf = 0;
        for (key, slot) in entries {
            if tree.leaves[leaf].len() == fill {
                let id = tree.leaves.push(Leaf::empty());
                tree.leaves[leaf].next = id;
                tree.leaves[id].prev = leaf;
                leaf = id;
            }
            let l = &mut tree.leaves[leaf];
            let at = l.len();
            l.insert_at(at, &key, slot);
            if at == 0 {
                level.push((prefix_of(&key), key, leaf));
            }
            tree.len += 1;
        }
        let per_inner = (I * 3 / 4).max(2);
        while level.len() > 1 {
            // Nodes spread evenly, so no node of the level is left with a single child.
            let groups = level.len().div_ceil(per_inner);
            let (base, extra) = (level.len() / groups, level.len() % groups);
            let mut above = Vec::with_capacity(groups);
            let mut nodes = level.into_iter();
            for g in 0..groups {
                let mut group = nodes.by_ref().take(base + usize::from(g < extra));
                if let Some((prefix, key, first)) = group.next() {
                    let mut inner = Inner::new(first);
                    for (at, (p, k, child)) in group.enumerate() {
                        inner.insert_child(at, (p, k), child);
                    }
                    above.push((prefix, key, tree.inners.push(inner)));
                }
            }
            level = above;
            tree.height += 1;
        }
        if let Some((_, _, root)) = level.pop() {
            tree.root = root;
        }
        tree
    }

    /// Inserts `key` or replaces its slot; returns the replaced slot.
    pub(crate) fn insert(&mut self, key: &[u8], slot: Slot) -> Option<Slot> {
        let mut path = std::mem::take(&mut self.path);
        let probe = Probe::new(key);
        let leaf = self.descend(probe, &mut path);
        let l = &mut self.leaves[leaf];
        let pos = l.position(probe, false);
        if pos < l.len() && l.cmp_at(pos, probe) == Ordering::Equal {
            let old = std::mem::replace(&mut l.slots[pos], slot);
            self.path = path;
            return Some(old);
        }
        self.len += 1;
        if l.len() < L {
            l.insert_at(pos, key, slot);
        } else {
            // A full leaf splits in half, or, when the key goes past its end (keys arriving in
            // order), leaves the full leaf alone and starts a new one.
            let at = if pos == L { L } else { L / 2 };
            let mut right = l.split_off(at);
            if pos < at {
                l.insert_at(pos, key, slot);
            } else {
                right.insert_at(pos - at, key, slot);
            }
            right.prev = leaf;
            right.next = l.next;
            let sep = (right.prefixes[0], right.key(0).into_boxed_slice());
            let id = self.leaves.push(right);
            let next = self.leaves[id].next;
            if next != NONE {
                self.leaves[next].prev = id;
            }
            self.leaves[leaf].next = id;
            self.add_child(&mut path, sep, id);
        }
        path.clear();
        self.path = path;
        None
    }

    /// The slot of `p`'s key, to change in place.
    pub(crate) fn get_mut(&mut self, p: Probe<'_>) -> Option<&mut Slot> {
        let node = self.leaf_for(Some(p));
        let leaf = &mut self.leaves[node];
        leaf.find(p).map(|i| &mut leaf.slots[i])
    }

    /// The leaf where `p` belongs (the first leaf for `None`). [`KeyTree::descend`] is the same
    /// walk, recording it.
    ///
    /// Each node is prefetched whole as the walk reaches it. A search reads the group heads of
    /// its prefixes and then a line that depends on them (an inner node's child; a leaf's tail,
    /// length and slots at the position found); requested with the heads, that line arrives
    /// with them instead of one memory latency after. 500K seeks from random existing keys,
    /// taking 10 records each: 744-833 -> 652-694 ms; taking one: 482-504 -> 417-432
    /// (`docs/BENCH.md`).
    fn leaf_for(&self, p: Option<Probe<'_>>) -> usize {
        let mut node = self.root;
        for _ in 0..self.height {
            let inner = &self.inners[node];
            prefetch_value(inner);
            node = inner.children[p.map_or(0, |p| inner.child_for(p))];
        }
        if let Some(leaf) = self.leaves.get(node) {
            prefetch_value(leaf);
        }
        node
    }

    /// Removes `p`'s key; returns its slot.
    pub(crate) fn remove(&mut self, p: Probe<'_>) -> Option<Slot> {
        let mut path = std::mem::take(&mut self.path);
        let leaf = self.descend(p, &mut path);
        let removed = self.leaves[leaf].find(p).map(|pos| {
            self.len -= 1;
            self.leaves[leaf].remove_at(pos)
        });
        if removed.is_some() && self.height > 0 {
            self.rebalance(leaf, &mut path);
        }
        path.clear();
        self.path = path;
        removed
    }

    /// Starts loading the leaf where `p` belongs into the cache (a write about to insert or
    /// remove `p`'s key shifts most of that leaf's arrays): the walk to it prefetches it. The
    /// walk reads the inner nodes, which are few and usually cached.
    pub(crate) fn prefetch(&self, p: Probe<'_>) {
        self.leaf_for(Some(p));
    }

    /// Entries in key order from the first one `>=` (`Included`) or `>` (`Excluded`) the bound.
    pub(crate) fn iter_from(&self, lo: Bound<Probe<'_>>) -> Entries<'_, L, I> {
        let (p, after) = match lo {
            Bound::Included(p) => (Some(p), false),
            Bound::Excluded(p) => (Some(p), true),
            Bound::Unbounded => (None, false),
        };
        let node = self.leaf_for(p);
        let pos = p.map_or(0, |p| self.leaves[node].position(p, after));
        let mut it = Entries {
            tree: self,
            leaf: node,
            pos,
        };
        it.settle();
        it
    }

    /// Walks from the root to the leaf for `p`, recording the way in `path`.
    fn descend(&self, p: Probe<'_>, path: &mut Vec<(usize, usize)>) -> usize {
        path.clear();
        let mut node = self.root;
        for _ in 0..self.height {
            let inner = &self.inners[node];
            let c = inner.child_for(p);
            path.push((node, c));
            node = inner.children[c];
        }
        node
    }

    /// Adds `child`, whose keys start at `sep`, right of the child taken at the end of `path`,
    /// splitting full inner nodes upward (and growing a new root when the root splits).
    fn add_child(&mut self, path: &mut Vec<(usize, usize)>, sep: (u64, Box<[u8]>), child: usize) {
        let (mut sep, mut child) = (sep, child);
        while let Some((id, c)) = path.pop() {
            let inner = &mut self.inners[id];
            if inner.children().len() < I {
                inner.insert_child(c, sep, child);
                return;
            }
            // Full: the left half stays, the right half moves to a new node, and the new child
            // goes into the half holding child `c`; the separator between the halves moves up.
            let m = I / 2;
            let (up, mut right) = inner.split(m);
            if c < m {
                inner.insert_child(c, sep, child);
            } else {
                right.insert_child(c - m, sep, child);
            }
            sep = up;
            child = self.inners.push(right);
        }
        let mut root = Inner::new(self.root);
        root.insert_child(0, sep, child);
        self.root = self.inners.push(root);
        self.height += 1;
    }

    /// After a removal from `leaf` (reached through `path`): an empty leaf leaves the tree, and
    /// a leaf under half full merges with a neighbour under the same parent when both fit in
    /// three quarters of a leaf (room left for inserts, so a merge is not undone by the next
    /// split), so removals shrink the tree instead of thinning its leaves.
    fn rebalance(&mut self, leaf: usize, path: &mut Vec<(usize, usize)>) {
        let Some(&(parent, c)) = path.last() else {
            return;
        };
        let len = self.leaves[leaf].len();
        if len == 0 {
            drop(self.unlink_leaf(leaf));
            self.remove_child(path);
            return;
        }
        if len >= L / 2 {
            return;
        }
        let siblings = self.inners[parent].children();
        // Merge the right one of the pair into the left one.
        let (left, right, right_at) = if c + 1 < siblings.len() {
            (leaf, siblings[c + 1], c + 1)
        } else if c > 0 {
            (siblings[c - 1], leaf, c)
        } else {
            return;
        };
        if self.leaves[left].len() + self.leaves[right].len() > L * 3 / 4 {
            return;
        }
        let mut taken = self.unlink_leaf(right);
        self.leaves[left].append(&mut taken);
        path.pop();
        path.push((parent, right_at));
        self.remove_child(path);
    }

    /// Takes a leaf out of the chain and frees its place; returns it (its entries are still in
    /// it when it is being merged away).
    fn unlink_leaf(&mut self, id: usize) -> Leaf<L> {
        let (prev, next) = (self.leaves[id].prev, self.leaves[id].next);
        if prev != NONE {
            self.leaves[prev].next = next;
        }
        if next != NONE {
            self.leaves[next].prev = prev;
        }
        self.leaves.remove(id, Leaf::empty())
    }

    /// Removes the child taken at the end of `path` from its parent, and parents left with no
    /// children from theirs; then shortens the tree while its root has a single child.
    fn remove_child(&mut self, path: &mut Vec<(usize, usize)>) {
        while let Some((id, c)) = path.pop() {
            let inner = &mut self.inners[id];
            if inner.children().len() > 1 {
                inner.remove_child(c);
                break;
            }
            // Its only child is gone: the node goes too.
            self.inners.remove(id, Inner::new(NONE));
        }
        while self.height > 0 && self.inners[self.root].children().len() == 1 {
            let old = self.root;
            self.root = self.inners[old].children[0];
            self.inners.remove(old, Inner::new(NONE));
            self.height -= 1;
        }
    }
}

/// Iterator over entries in key order (see [`KeyTree::iter_from`]).
#[derive(Debug)]
pub(crate) struct Entries<'t, const L: usize, const I: usize> {
    tree: &'t KeyTree<L, I>,
    leaf: usize,
    pos: usize,
}

impl<const L: usize, const I: usize> Entries<'_, L, I> {
    /// When the next `want` entries run past the current leaf, starts loading the next leaf's
    /// first cache lines now, so that they arrive alongside this leaf's instead of after them.
    pub(crate) fn warm(&self, want: usize) {
        if let Some(leaf) = self.tree.leaves.get(self.leaf)
            && self.pos + want > leaf.len()
            && let Some(next) = self.tree.leaves.get(leaf.next)
        {
            std::hint::black_box((next.len, next.slots[0]));
        }
    }

    /// Appends `item` of each entry from here on, in order, to `out` until it holds `limit` or
    /// an entry lies past `hi`; entries whose sequence is past `max_seq` are skipped (they do
    /// not count). Leaf by leaf, one tight loop over each leaf's slots: a page of a range scan
    /// costs a few instructions per entry instead of an iterator step each.
    pub(crate) fn collect_into<T>(
        self,
        hi: Bound<Probe<'_>>,
        limit: usize,
        max_seq: u64,
        out: &mut Vec<T>,
        item: impl Fn(Entry<'_, L>) -> T,
    ) {
        let bounded = !matches!(hi, Bound::Unbounded);
        let (mut id, mut pos) = (self.leaf, self.pos);
        while let Some(leaf) = self.tree.leaves.get(id) {
            for i in pos..leaf.len() {
                if out.len() >= limit || (bounded && past(leaf, i, hi)) {
                    return;
                }
                if leaf.slots[i].seq <= max_seq {
                    out.push(item(Entry { leaf, pos: i }));
                }
            }
            (id, pos) = (leaf.next, 0);
        }
    }

    /// Moves past the end of exhausted leaves.
    fn settle(&mut self) {
        while self.leaf != NONE && self.pos >= self.tree.leaves[self.leaf].len() {
            self.leaf = self.tree.leaves[self.leaf].next;
            self.pos = 0;
        }
    }
}

impl<'t, const L: usize, const I: usize> Iterator for Entries<'t, L, I> {
    type Item = Entry<'t, L>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let leaf = self.tree.leaves.get(self.leaf)?;
        let item = Entry {
            leaf,
            pos: self.pos,
        };
        self.pos += 1;
        if self.pos >= leaf.len() {
            self.settle();
        }
        Some(item)
    }
}

/// One entry; its parts are read only when asked for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry<'t, const L: usize> {
    leaf: &'t Leaf<L>,
    pos: usize,
}

impl<const L: usize> Entry<'_, L> {
    pub(crate) fn slot(&self) -> Slot {
        self.leaf.slots[self.pos]
    }

    /// A copy of the key.
    pub(crate) fn key(&self) -> Vec<u8> {
        self.leaf.key(self.pos)
    }
}

/// Whether the key at `i` in `leaf` is past `hi`.
#[inline]
fn past<const L: usize>(leaf: &Leaf<L>, i: usize, hi: Bound<Probe<'_>>) -> bool {
    match hi {
        Bound::Unbounded => false,
        Bound::Included(p) => leaf.cmp_at(i, p) == Ordering::Less,
        Bound::Excluded(p) => leaf.cmp_at(i, p) != Ordering::Greater,
    }
}
