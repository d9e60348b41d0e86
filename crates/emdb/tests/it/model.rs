//! Random operation sequences against a `BTreeMap` model, compared after every step, with
//! flushes, checkpoints, compactions and reopens mixed in. The database keeps the range index, so
//! ordered scans are compared too.

use std::collections::BTreeMap;

use emdb::{Emdb, Error};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Insert(u8, u8, u8),
    InsertMany(u8, Vec<(u8, u8)>),
    Remove(u8, u8),
    Clear(u8),
    Transaction(Vec<(u8, Option<u8>)>, bool),
    CreateNs(u8),
    DropNs(u8),
    Flush,
    Checkpoint,
    Compact,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let ns = 0u8..3;
    let key = 0u8..16;
    prop_oneof![
        6 => (ns.clone(), key.clone(), any::<u8>()).prop_map(|(n, k, v)| Op::Insert(n, k, v)),
        2 => (ns.clone(), prop::collection::vec((key.clone(), any::<u8>()), 0..6)).prop_map(|(n, v)| Op::InsertMany(n, v)),
        3 => (ns.clone(), key.clone()).prop_map(|(n, k)| Op::Remove(n, k)),
        1 => ns.clone().prop_map(Op::Clear),
        2 => (prop::collection::vec((key, prop::option::of(any::<u8>())), 0..5), any::<bool>()).prop_map(|(v, a)| Op::Transaction(v, a)),
        1 => (1u8..3).prop_map(Op::CreateNs),
        1 => (1u8..3).prop_map(Op::DropNs),
        1 => Just(Op::Flush),
        1 => Just(Op::Checkpoint),
        1 => Just(Op::Compact),
        2 => Just(Op::Reopen),
    ]
}

/// Namespace name -> records; the names vector keeps creation order.
#[derive(Default)]
struct Model {
    names: Vec<String>,
    data: BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>,
}

fn ns_name(n: u8) -> String {
    if n == 0 {
        String::new()
    } else {
        format!("ns{n}")
    }
}

fn key(k: u8) -> Vec<u8> {
    vec![b'k', k]
}

fn value(v: u8) -> Vec<u8> {
    vec![v; usize::from(v % 7) + 1]
}

fn check(db: &Emdb, m: &Model) {
    let mut want_names = vec![String::new()];
    want_names.extend(m.names.iter().cloned());
    assert_eq!(db.list_namespaces().unwrap(), want_names);
    for (name, records) in &m.data {
        let mut got: Vec<(Vec<u8>, Vec<u8>)> = if name.is_empty() {
            db.iter().unwrap().collect()
        } else {
            db.namespace(name).unwrap().iter().unwrap().collect()
        };
        got.sort();
        let want: Vec<_> = records
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(got, want, "namespace {name:?}");
        // Ordered scans: the whole namespace, and from a key in the middle.
        let (all, from) = if name.is_empty() {
            (
                db.range(..).unwrap(),
                db.iter_from(key(7)).unwrap().collect(),
            )
        } else {
            let n = db.namespace(name).unwrap();
            (n.range(..).unwrap(), n.iter_from(key(7)).unwrap().collect())
        };
        assert_eq!(all, want, "range of namespace {name:?}");
        let want_from: Vec<_> = want.iter().filter(|(k, _)| *k >= key(7)).cloned().collect();
        let from: Vec<(Vec<u8>, Vec<u8>)> = from;
        assert_eq!(from, want_from, "iter_from in namespace {name:?}");
    }
    let total: usize = m.data.values().map(BTreeMap::len).sum();
    assert_eq!(db.stats().unwrap().live_records, total as u64);
}

fn open(path: &std::path::Path) -> Emdb {
    Emdb::builder()
        .path(path)
        .enable_range_scans(true)
        .build()
        .unwrap()
}

fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.emdb");
    let mut db = open(&path);
    let mut m = Model::default();
    m.data.insert(String::new(), BTreeMap::new());
    for op in ops {
        match op {
            // Operations on a namespace that does not exist are skipped (opening it would
            // create it).
            Op::Insert(n, ..) | Op::Remove(n, _) if !m.data.contains_key(&ns_name(n)) => {}
            Op::Insert(n, k, v) => {
                let name = ns_name(n);
                if n == 0 {
                    db.insert(key(k), value(v)).unwrap();
                } else {
                    db.namespace(&name)
                        .unwrap()
                        .insert(key(k), value(v))
                        .unwrap();
                }
                m.data.get_mut(&name).unwrap().insert(key(k), value(v));
            }
            Op::InsertMany(n, items) => {
                let name = ns_name(n);
                let Some(records) = m.data.get_mut(&name) else {
                    continue;
                };
                let pairs: Vec<_> = items.iter().map(|(k, v)| (key(*k), value(*v))).collect();
                if n == 0 {
                    db.insert_many(pairs.clone()).unwrap();
                } else {
                    db.namespace(&name)
                        .unwrap()
                        .insert_many(pairs.clone())
                        .unwrap();
                }
                records.extend(pairs);
            }
            Op::Remove(n, k) => {
                let name = ns_name(n);
                let got = if n == 0 {
                    db.remove(key(k)).unwrap()
                } else {
                    db.namespace(&name).unwrap().remove(key(k)).unwrap()
                };
                assert_eq!(got, m.data.get_mut(&name).unwrap().remove(&key(k)));
            }
            Op::Clear(n) => {
                let name = ns_name(n);
                let Some(records) = m.data.get_mut(&name) else {
                    continue;
                };
                if n == 0 {
                    db.clear().unwrap();
                } else {
                    db.namespace(&name).unwrap().clear().unwrap();
                }
                records.clear();
            }
            Op::Transaction(items, abort) => {
                let r = db.transaction(|tx| {
                    for (k, v) in &items {
                        match v {
                            Some(v) => tx.insert(key(*k), value(*v))?,
                            None => {
                                tx.remove(key(*k))?;
                            }
                        }
                    }
                    if abort {
                        Err(Error::TransactionAborted("model"))
                    } else {
                        Ok(())
                    }
                });
                assert_eq!(r.is_err(), abort);
                if !abort {
                    let records = m.data.get_mut("").unwrap();
                    for (k, v) in items {
                        match v {
                            Some(v) => records.insert(key(k), value(v)),
                            None => records.remove(&key(k)),
                        };
                    }
                }
            }
            Op::CreateNs(n) => {
                let name = ns_name(n);
                db.namespace(&name).unwrap();
                if !m.data.contains_key(&name) {
                    m.names.push(name.clone());
                    m.data.insert(name, BTreeMap::new());
                }
            }
            Op::DropNs(n) => {
                let name = ns_name(n);
                let existed = m.data.remove(&name).is_some();
                m.names.retain(|x| *x != name);
                assert_eq!(db.drop_namespace(&name).unwrap(), existed);
            }
            Op::Flush => db.flush().unwrap(),
            Op::Checkpoint => db.checkpoint().unwrap(),
            Op::Compact => db.compact().unwrap(),
            Op::Reopen => {
                drop(db);
                db = open(&path);
            }
        }
        check(&db, &m);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn emdb_matches_a_btreemap_model(ops in prop::collection::vec(op(), 1..40)) {
        run(ops);
    }
}
