//! fjall 2: one partition; batches are atomic; `persist(SyncAll)` makes them durable.

use std::path::Path;

use fjall::{Config, Keyspace, PartitionCreateOptions, PartitionHandle, PersistMode};

use crate::engine::BenchEngine;

pub struct Fjall {
    ks: Keyspace,
    part: PartitionHandle,
}

impl BenchEngine for Fjall {
    const NAME: &'static str = "fjall";

    fn open(dir: &Path) -> Self {
        let ks = Config::new(dir.join("db.fjall")).open().unwrap();
        let part = ks
            .open_partition("bench", PartitionCreateOptions::default())
            .unwrap();
        Fjall { ks, part }
    }

    fn bulk_load(&mut self, pairs: &[(Vec<u8>, Vec<u8>)]) {
        self.write_durable(pairs);
    }

    fn write_durable(&mut self, pairs: &[(Vec<u8>, Vec<u8>)]) {
        let mut b = self.ks.batch();
        for (k, v) in pairs {
            b.insert(&self.part, k.as_slice(), v.as_slice());
        }
        b.commit().unwrap();
        self.ks.persist(PersistMode::SyncAll).unwrap();
    }

    fn write_nosync(&mut self, key: &[u8], value: &[u8]) {
        self.part.insert(key, value).unwrap();
    }

    fn len(&self) -> u64 {
        self.part.len().unwrap() as u64
    }

    fn get(&self, key: &[u8]) -> Option<usize> {
        self.part.get(key).unwrap().map(|v| v.len())
    }

    fn range(&self, start: &[u8], n: usize) -> usize {
        self.part.range(start..).take(n).count()
    }

    fn remove_durable(&mut self, keys: &[Vec<u8>]) {
        let mut b = self.ks.batch();
        for k in keys {
            b.remove(&self.part, k.as_slice());
        }
        b.commit().unwrap();
        self.ks.persist(PersistMode::SyncAll).unwrap();
    }

    fn compact(&mut self) -> bool {
        false
    }
}
