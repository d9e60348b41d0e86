//! Model checks of the tree against `BTreeMap`, and its invariants.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::head::{INLINE, short_len, tail_of};
use super::*;
use crate::index::ordered::prefix_of;

/// Small nodes, so a few hundred keys make a tree several levels deep.
type Small = KeyTree<8, 4>;

fn probe(key: &[u8]) -> Probe<'_> {
    Probe::new(key)
}

/// Keys that tie through many leading bytes: ones and zeros of lengths around 8 and 24.
pub(super) fn tying_key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(0u8..2, 0..30),
        (20usize..28, prop::collection::vec(0u8..2, 0..4)).prop_map(|(n, rest)| [
            vec![9u8; n],
            rest
        ]
        .concat()),
    ]
}

/// A slot whose sequence (0, 1 or 2) follows from its offset, so pages can filter on it.
fn slot(offset: u64) -> Slot {
    Slot {
        seq: offset % 3,
        offset,
    }
}

/// Every structural invariant of the module docs, and the contents.
fn check<const L: usize, const I: usize>(
    tree: &KeyTree<L, I>,
    model: &BTreeMap<Vec<u8>, u64>,
) -> Result<(), TestCaseError> {
    let walked: Vec<(Vec<u8>, u64)> = tree
        .iter_from(Bound::Unbounded)
        .map(|e| (e.key(), e.slot().offset))
        .collect();
    let expected: Vec<(Vec<u8>, u64)> = model.iter().map(|(k, o)| (k.clone(), *o)).collect();
    prop_assert_eq!(walked, expected);
    prop_assert_eq!(tree.len(), model.len());
    // Bounds of every subtree hold, leaves are non-empty below an inner root, prefixes
    // match their keys, and the leaf chain visits the leaves in tree order.
    let mut leaves = Vec::new();
    let mut stack = vec![(tree.root, tree.height, None::<Vec<u8>>, None::<Vec<u8>>)];
    while let Some((node, h, lo, hi)) = stack.pop() {
        if h == 0 {
            let leaf = &tree.leaves[node];
            prop_assert!(tree.height == 0 || leaf.len() > 0);
            for i in 0..leaf.len() {
                let k = leaf.key(i);
                prop_assert_eq!(leaf.prefixes[i], prefix_of(&k));
                prop_assert_eq!(leaf.tails[i], tail_of(&k));
                prop_assert_eq!(leaf.lens[i], short_len(&k));
                let long = leaf.long.as_ref().is_some_and(|l| l[i].is_some());
                prop_assert_eq!(long, k.len() > INLINE);
                prop_assert!(lo.as_deref().is_none_or(|lo| lo <= &*k));
                prop_assert!(hi.as_deref().is_none_or(|hi| &*k < hi));
            }
            prop_assert!(
                leaf.long
                    .as_ref()
                    .is_none_or(|l| l[leaf.len()..].iter().all(Option::is_none))
            );
            leaves.push(node);
            continue;
        }
        let inner = &tree.inners[node];
        prop_assert!(inner.children().len() <= I);
        prop_assert!(node != tree.root || inner.children().len() >= 2);
        for (i, k) in inner.keys.iter().enumerate() {
            prop_assert_eq!(inner.prefixes[i], prefix_of(k));
        }
        for (i, &child) in inner.children().iter().enumerate().rev() {
            let clo = if i == 0 {
                lo.clone()
            } else {
                Some(inner.keys[i - 1].to_vec())
            };
            let chi = inner.keys.get(i).map(|k| k.to_vec()).or_else(|| hi.clone());
            stack.push((child, h - 1, clo, chi));
        }
    }
    let mut chained = Vec::new();
    let mut at = leaves.first().copied().unwrap_or(NONE);
    while at != NONE {
        chained.push(at);
        at = tree.leaves[at].next;
    }
    prop_assert_eq!(chained, leaves);
    Ok(())
}

#[derive(Debug, Clone)]
enum Op {
    Insert(Vec<u8>, u64),
    Remove(Vec<u8>),
    Move(Vec<u8>, u64),
    Scan(Option<(Vec<u8>, bool)>, usize),
    /// A range page: lower and upper bound (key, excluded), limit, highest sequence.
    Page(Option<(Vec<u8>, bool)>, Option<(Vec<u8>, bool)>, usize, u64),
}

type Bounds = Option<(Vec<u8>, bool)>;

fn tree_bound(b: &Bounds) -> Bound<Probe<'_>> {
    match b {
        None => Bound::Unbounded,
        Some((k, true)) => Bound::Excluded(probe(k)),
        Some((k, false)) => Bound::Included(probe(k)),
    }
}

/// Whether `key` is within `lo` and `hi`, by byte order.
fn within(key: &[u8], lo: &Bounds, hi: &Bounds) -> bool {
    let above = match lo {
        None => true,
        Some((k, true)) => key > k.as_slice(),
        Some((k, false)) => key >= k.as_slice(),
    };
    let below = match hi {
        None => true,
        Some((k, true)) => key < k.as_slice(),
        Some((k, false)) => key <= k.as_slice(),
    };
    above && below
}

/// Keys from a small alphabet, some sharing 8-byte prefixes, some shorter than 8 bytes.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        tying_key(),
        prop::collection::vec(0u8..4, 0..4),
        (0u8..40).prop_map(|b| vec![7, 7, 7, 7, 7, 7, 7, 7, b]),
        prop::collection::vec(any::<u8>(), 1..12),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (key(), any::<u64>()).prop_map(|(k, o)| Op::Insert(k, o)),
        3 => key().prop_map(Op::Remove),
        1 => (key(), any::<u64>()).prop_map(|(k, o)| Op::Move(k, o)),
        1 => (prop::option::of((key(), any::<bool>())), 0usize..30)
            .prop_map(|(lo, n)| Op::Scan(lo, n)),
        1 => (
            prop::option::of((key(), any::<bool>())),
            prop::option::of((key(), any::<bool>())),
            0usize..30,
            0u64..3,
        )
            .prop_map(|(lo, hi, n, seq)| Op::Page(lo, hi, n, seq)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// The tree behaves as a `BTreeMap` through inserts, removals, moves and scans, and
    /// keeps its invariants after every step.
    #[test]
    fn matches_a_btree_map(
        initial in prop::collection::btree_map(key(), any::<u64>(), 0..120),
        ops in prop::collection::vec(op(), 0..400),
    ) {
        // A key's sequence is set when it is inserted (from that offset) and kept by moves.
        let mut seqs: BTreeMap<Vec<u8>, u64> =
            initial.iter().map(|(k, o)| (k.clone(), o % 3)).collect();
        let mut model = initial.clone();
        let mut tree = Small::from_sorted(
            initial.into_iter().map(|(k, o)| (k.into(), slot(o))),
        );
        check(&tree, &model)?;
        for op in ops {
            match op {
                Op::Insert(k, o) => {
                    seqs.insert(k.clone(), o % 3);
                    let old = tree.insert(&k, slot(o));
                    prop_assert_eq!(old.map(|s| s.offset), model.insert(k, o));
                }
                Op::Remove(k) => {
                    seqs.remove(&k);
                    let old = tree.remove(probe(&k));
                    prop_assert_eq!(old.map(|s| s.offset), model.remove(&k));
                }
                Op::Move(k, o) => {
                    if let Some(s) = tree.get_mut(probe(&k)) {
                        s.offset = o;
                    }
                    if let Some(m) = model.get_mut(&k) {
                        *m = o;
                    }
                }
                Op::Scan(lo, n) => {
                    let (tree_lo, model_lo) = match &lo {
                        None => (Bound::Unbounded, Bound::Unbounded),
                        Some((k, true)) => (Bound::Excluded(probe(k)), Bound::Excluded(k)),
                        Some((k, false)) => (Bound::Included(probe(k)), Bound::Included(k)),
                    };
                    let got: Vec<Vec<u8>> =
                        tree.iter_from(tree_lo).take(n).map(|e| e.key()).collect();
                    let want: Vec<Vec<u8>> = model
                        .range::<Vec<u8>, _>((model_lo, Bound::Unbounded))
                        .take(n)
                        .map(|(k, _)| k.clone())
                        .collect();
                    prop_assert_eq!(got, want);
                }
                Op::Page(lo, hi, limit, max_seq) => {
                    let mut got = Vec::new();
                    tree.iter_from(tree_bound(&lo)).collect_into(
                        tree_bound(&hi),
                        limit,
                        max_seq,
                        &mut got,
                        |e| e.slot().offset,
                    );
                    let want: Vec<u64> = model
                        .iter()
                        .filter(|(k, _)| within(k, &lo, &hi) && seqs[*k] <= max_seq)
                        .take(limit)
                        .map(|(_, o)| *o)
                        .collect();
                    prop_assert_eq!(got, want);
                }
            }
            check(&tree, &model)?;
        }
    }
}

/// Production-sized nodes through a million-key-like life: random inserts, removal of
/// every other key, reinsertion, and a scan from each bound kind.
#[test]
fn production_nodes_grow_shrink_and_regrow() {
    let mut tree = KeyTree::<LEAF_CAP, INNER_CAP>::default();
    let mut model = BTreeMap::new();
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    let mut keys = Vec::new();
    for i in 0..60_000u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let k = [x.to_le_bytes(), i.to_le_bytes()].concat()[..(x % 12 + 1) as usize].to_vec();
        tree.insert(&k, slot(i));
        model.insert(k.clone(), i);
        keys.push(k);
    }
    assert!(tree.height >= 2, "deep enough to split inner nodes");
    check(&tree, &model)
        .map_err(|e| e.to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    for k in keys.iter().step_by(2) {
        assert_eq!(tree.remove(probe(k)).map(|s| s.offset), model.remove(k));
    }
    check(&tree, &model)
        .map_err(|e| e.to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    for (i, k) in keys.iter().enumerate().step_by(3) {
        tree.insert(k, slot(i as u64));
        model.insert(k.clone(), i as u64);
    }
    check(&tree, &model)
        .map_err(|e| e.to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    // Thinned to one key in 16, the leaves merge instead of keeping a key or two each.
    for (i, k) in keys.iter().enumerate() {
        if i % 16 != 0 {
            tree.remove(probe(k));
            model.remove(k);
        }
    }
    check(&tree, &model)
        .map_err(|e| e.to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    let leaves = tree.leaves.live();
    assert!(
        tree.len() >= leaves * (LEAF_CAP / 8),
        "{} keys in {leaves} leaves",
        tree.len()
    );
    for k in &keys {
        tree.remove(probe(k));
    }
    assert_eq!(tree.len(), 0);
    assert_eq!(tree.height, 0);
    assert_eq!(tree.iter_from(Bound::Unbounded).count(), 0);
}
