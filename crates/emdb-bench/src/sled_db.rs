//! sled 0.34: the default tree; `flush` makes writes durable.

use std::path::Path;

use crate::engine::BenchEngine;

pub struct Sled(sled::Db);

impl BenchEngine for Sled {
    const NAME: &'static str = "sled";

    fn open(dir: &Path) -> Self {
        Sled(sled::open(dir.join("db.sled")).unwrap())
    }

    fn bulk_load(&mut self, pairs: &[(Vec<u8>, Vec<u8>)]) {
        self.write_durable(pairs);
    }

    fn write_durable(&mut self, pairs: &[(Vec<u8>, Vec<u8>)]) {
        let mut batch = sled::Batch::default();
        for (k, v) in pairs {
            batch.insert(k.as_slice(), v.as_slice());
        }
        self.0.apply_batch(batch).unwrap();
        self.0.flush().unwrap();
    }

    fn write_nosync(&mut self, key: &[u8], value: &[u8]) {
        self.0.insert(key, value).unwrap();
    }

    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    fn get(&self, key: &[u8]) -> Option<usize> {
        self.0.get(key).unwrap().map(|v| v.len())
    }

    fn range(&self, start: &[u8], n: usize) -> usize {
        self.0.range(start..).take(n).count()
    }

    fn remove_durable(&mut self, keys: &[Vec<u8>]) {
        let mut batch = sled::Batch::default();
        for k in keys {
            batch.remove(k.as_slice());
        }
        self.0.apply_batch(batch).unwrap();
        self.0.flush().unwrap();
    }

    fn compact(&mut self) -> bool {
        false
    }
}
