//! emdb 0.8.5 from crates.io (its transactions are not atomic; used as it offers them).

use std::path::Path;

use emdb_v085::{Emdb, EmdbBuilder};

use crate::engine::BenchEngine;

pub struct V085(Emdb);

impl BenchEngine for V085 {
    const NAME: &'static str = "emdb 0.8.5";
    const RANGES_SCALE: bool = false;

    fn open(dir: &Path) -> Self {
        V085(
            EmdbBuilder::new()
                .path(dir.join("db.emdb"))
                .enable_range_scans(true)
                .build()
                .unwrap(),
        )
    }

    fn bulk_load(&mut self, pairs: &[(Vec<u8>, Vec<u8>)]) {
        self.0
            .insert_many(pairs.iter().map(|(k, v)| (k, v)))
            .unwrap();
        self.0.flush().unwrap();
    }

    fn write_durable(&mut self, pairs: &[(Vec<u8>, Vec<u8>)]) {
        if let [(k, v)] = pairs {
            self.0.insert(k.as_slice(), v.as_slice()).unwrap();
        } else {
            self.0
                .insert_many(pairs.iter().map(|(k, v)| (k, v)))
                .unwrap();
        }
        self.0.flush().unwrap();
    }

    fn write_nosync(&mut self, key: &[u8], value: &[u8]) {
        self.0.insert(key, value).unwrap();
    }

    fn len(&self) -> u64 {
        self.0.len().unwrap() as u64
    }

    fn get(&self, key: &[u8]) -> Option<usize> {
        self.0.get_zerocopy(key).unwrap().map(|v| v.len())
    }

    fn range(&self, start: &[u8], n: usize) -> usize {
        self.0.iter_from(start).unwrap().take(n).count()
    }

    fn remove_durable(&mut self, keys: &[Vec<u8>]) {
        for k in keys {
            self.0.remove(k).unwrap();
        }
        self.0.flush().unwrap();
    }

    fn compact(&mut self) -> bool {
        self.0.compact().unwrap();
        true
    }
}
