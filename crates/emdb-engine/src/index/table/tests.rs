//! Unit tests of the shard table: segment layout, a model check, growth, the load limit, and
//! lock-free readers racing the writer.

use super::*;
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;

type Infallible = Result<bool, ()>;

/// Keys are u64s stored "in the log" at offset 4096 + 8 * key; the tag is chosen to collide.
fn eq_key(key: u64) -> impl FnMut(u64) -> Infallible {
    move |off| Ok(off == 4096 + 8 * key)
}

#[test]
fn slots_map_onto_doubling_segments() {
    assert_eq!(locate(0), (0, 0));
    assert_eq!(locate(15), (0, 15));
    assert_eq!(locate(16), (1, 0));
    assert_eq!(locate(31), (1, 15));
    assert_eq!(locate(32), (2, 0));
    assert_eq!(locate(63), (2, 31));
    assert_eq!(locate(64), (3, 0));
    let last = (MIN_CAPACITY << (SEGMENTS - 1)) - 1;
    assert_eq!(
        locate(last),
        (SEGMENTS - 1, (MIN_CAPACITY << (SEGMENTS - 2)) - 1)
    );
}

#[test]
fn model_check_against_hashmap_with_heavy_tag_collisions() {
    let t = Table::default();
    let mut model = HashMap::new();
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    for step in 0..20_000u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let key = x % 500;
        let tag = (key % 37) as u32; // many keys share a tag
        if x.is_multiple_of(3) {
            let got = t.lock().remove(tag, eq_key(key)).unwrap();
            assert_eq!(got, model.remove(&key), "step {step}");
        } else {
            let off = 4096 + 8 * key;
            let got = t.lock().upsert(tag, off, eq_key(key)).unwrap();
            assert_eq!(got, model.insert(key, off), "step {step}");
        }
        assert_eq!(t.len(), model.len());
    }
    for (k, off) in &model {
        assert_eq!(t.find((k % 37) as u32, eq_key(*k)).unwrap(), Some(*off));
    }
    let mut offs: Vec<_> = t.lock().offsets().collect();
    offs.sort_unstable();
    let mut want: Vec<_> = model.values().copied().collect();
    want.sort_unstable();
    assert_eq!(offs, want);
    t.lock().clear();
    assert_eq!(t.len(), 0);
    assert!(
        model
            .keys()
            .all(|k| t.find((k % 37) as u32, eq_key(*k)) == Ok(None))
    );
}

/// Growth builds the doubled layout aside, half in a scratch vector and half in the new
/// segment; a cluster whose homes are the last slots wraps from one half into the other, and
/// every key must stay findable after each growth.
#[test]
fn growth_keeps_clusters_that_wrap_past_the_last_slot() {
    let t = Table::default();
    // Homes at the last three slots of any capacity, and a few at the first.
    let tag = |k: u64| match k % 4 {
        3 => (k % 5) as u32,
        r => (1 << TAG_BITS) - 1 - r as u32,
    };
    let mut grown = 0;
    for k in 0..500u64 {
        let before = t.capacity();
        t.lock().upsert(tag(k), 4096 + 8 * k, eq_key(k)).unwrap();
        if t.capacity() != before {
            grown += 1;
            for j in 0..=k {
                let found = t.find(tag(j), eq_key(j)).unwrap();
                assert_eq!(found, Some(4096 + 8 * j), "key {j} after growing at {k}");
            }
        }
    }
    assert_eq!(grown, 7, "16 to 1024 slots");
    assert_eq!(t.lock().offsets().count(), 500);
}

#[test]
fn load_factor_stays_below_seven_eighths() {
    let t = Table::default();
    for k in 0..10_000u64 {
        t.lock()
            .upsert((k * 2_654_435_761 % (1 << 24)) as u32, 4096 + 8 * k, |_| {
                Ok::<_, ()>(false)
            })
            .unwrap();
        assert!(t.len() * 8 <= t.capacity() * 7);
    }
}

/// Lock-free readers must never miss a key that stays present while the writer shifts it
/// (removing keys stored before it in its cluster) and re-places it (growth).
#[test]
fn readers_always_find_stable_keys_while_the_writer_moves_slots() {
    const TABLES: usize = 20;
    const CHURN: u64 = 200;
    const STABLE: u64 = 64;
    // Every key has tag 0, so each table is one cluster: the churn keys, then the stable
    // ones. Churn key k sits at offset 4096 + 8 * k, stable key k at 4096 + 8 * (CHURN + k).
    let stable_off = |k: u64| 4096 + 8 * (CHURN + k);
    let tables: Vec<Table> = (0..TABLES)
        .map(|_| {
            let t = Table::default();
            for k in 0..CHURN + STABLE {
                t.lock().upsert(0, 4096 + 8 * k, eq_key(k)).unwrap();
            }
            t
        })
        .collect();
    let current = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while !done.load(Ordering::Acquire) {
                    let t = &tables[current.load(Ordering::Acquire)];
                    for k in 0..STABLE {
                        let got = t.find(0, eq_key(CHURN + k)).unwrap();
                        assert_eq!(got, Some(stable_off(k)), "stable key {k} missed");
                    }
                }
            });
        }
        for (i, t) in tables.iter().enumerate() {
            current.store(i, Ordering::Release);
            // Each removal shifts every stable key back by one slot.
            for k in 0..CHURN {
                t.lock().remove(0, eq_key(k)).unwrap();
            }
            // New keys grow the table from 512 to 1024 slots, re-placing the stable keys.
            for k in CHURN + STABLE..CHURN + STABLE + 400 {
                t.lock().upsert(0, 4096 + 8 * k, eq_key(k)).unwrap();
            }
        }
        done.store(true, Ordering::Release);
    });
}
