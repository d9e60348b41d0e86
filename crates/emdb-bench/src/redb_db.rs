//! redb 2: one B-tree table of byte slices.

use std::path::Path;

use redb::{Database, Durability, ReadableTableMetadata, TableDefinition};

use crate::engine::BenchEngine;

const TABLE: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("bench");

pub struct Redb(Database);

impl Redb {
    fn write(&mut self, durable: bool, f: impl FnOnce(&mut redb::Table<'_, &[u8], &[u8]>)) {
        let mut tx = self.0.begin_write().unwrap();
        if !durable {
            tx.set_durability(Durability::None);
        }
        {
            let mut t = tx.open_table(TABLE).unwrap();
            f(&mut t);
        }
        tx.commit().unwrap();
    }
}

impl BenchEngine for Redb {
    const NAME: &'static str = "redb";

    fn open(dir: &Path) -> Self {
        Redb(Database::create(dir.join("db.redb")).unwrap())
    }

    fn bulk_load(&mut self, pairs: &[(Vec<u8>, Vec<u8>)]) {
        self.write_durable(pairs);
    }

    fn write_durable(&mut self, pairs: &[(Vec<u8>, Vec<u8>)]) {
        self.write(true, |t| {
            for (k, v) in pairs {
                t.insert(k.as_slice(), v.as_slice()).unwrap();
            }
        });
    }

    fn write_nosync(&mut self, key: &[u8], value: &[u8]) {
        self.write(false, |t| {
            t.insert(key, value).unwrap();
        });
    }

    fn len(&self) -> u64 {
        let r = self.0.begin_read().unwrap();
        r.open_table(TABLE).unwrap().len().unwrap()
    }

    fn get(&self, key: &[u8]) -> Option<usize> {
        let r = self.0.begin_read().unwrap();
        let t = r.open_table(TABLE).unwrap();
        t.get(key).unwrap().map(|v| v.value().len())
    }

    fn range(&self, start: &[u8], n: usize) -> usize {
        let r = self.0.begin_read().unwrap();
        let t = r.open_table(TABLE).unwrap();
        t.range::<&[u8]>(start..).unwrap().take(n).count()
    }

    fn remove_durable(&mut self, keys: &[Vec<u8>]) {
        self.write(true, |t| {
            for k in keys {
                t.remove(k.as_slice()).unwrap();
            }
        });
    }

    fn compact(&mut self) -> bool {
        self.0.compact().unwrap();
        true
    }
}
