//! LMDB through `lmdb-rkv`, whose API is entirely safe Rust (heed's environment constructor and
//! flag setter are not, and this repository confines such code to the engine's map module; the
//! bench crate forbids it): the unnamed database of byte slices in a 4 GiB map.
//!
//! The environment runs with `MDB_NOSYNC`, and a durable phase calls `mdb_env_sync(force)` after
//! its commit, so it returns only once the data reached the disk, as the other engines' durable
//! phases do; the nosync phase skips that call. This costs LMDB one `fdatasync` per durable commit
//! where its default costs two (data pages, then the meta page), so it favours LMDB; the binding
//! cannot switch `MDB_NOSYNC` per phase.

use std::path::Path;

use lmdb::{Cursor, Database, Environment, EnvironmentFlags, Transaction, WriteFlags};

use crate::engine::BenchEngine;

pub struct Lmdb {
    env: Environment,
    db: Database,
}

impl Lmdb {
    fn write(&self, durable: bool, f: impl FnOnce(&mut lmdb::RwTransaction<'_>)) {
        let mut tx = self.env.begin_rw_txn().unwrap();
        f(&mut tx);
        tx.commit().unwrap();
        if durable {
            self.env.sync(true).unwrap();
        }
    }
}

impl BenchEngine for Lmdb {
    const NAME: &'static str = "lmdb";

    fn open(dir: &Path) -> Self {
        let path = dir.join("lmdb");
        std::fs::create_dir_all(&path).unwrap();
        let env = Environment::new()
            .set_map_size(4 << 30)
            .set_flags(EnvironmentFlags::NO_SYNC)
            .open(&path)
            .unwrap();
        let db = env.open_db(None).unwrap();
        Lmdb { env, db }
    }

    fn bulk_load(&mut self, pairs: &[(Vec<u8>, Vec<u8>)]) {
        self.write_durable(pairs);
    }

    fn write_durable(&mut self, pairs: &[(Vec<u8>, Vec<u8>)]) {
        let db = self.db;
        self.write(true, |tx| {
            for (k, v) in pairs {
                tx.put(db, k, v, WriteFlags::empty()).unwrap();
            }
        });
    }

    fn write_nosync(&mut self, key: &[u8], value: &[u8]) {
        let db = self.db;
        self.write(false, |tx| {
            tx.put(db, &key, &value, WriteFlags::empty()).unwrap()
        });
    }

    fn len(&self) -> u64 {
        self.env.stat().unwrap().entries() as u64
    }

    fn get(&self, key: &[u8]) -> Option<usize> {
        let tx = self.env.begin_ro_txn().unwrap();
        match tx.get(self.db, &key) {
            Ok(v) => Some(v.len()),
            Err(lmdb::Error::NotFound) => None,
            Err(e) => panic!("lmdb get: {e}"),
        }
    }

    fn range(&self, start: &[u8], n: usize) -> usize {
        let tx = self.env.begin_ro_txn().unwrap();
        let mut cursor = tx.open_ro_cursor(self.db).unwrap();
        let mut seen = 0;
        for r in cursor.iter_from(start).take(n) {
            let (_, v) = r.unwrap();
            seen += usize::from(!v.is_empty());
        }
        seen
    }

    fn remove_durable(&mut self, keys: &[Vec<u8>]) {
        let db = self.db;
        self.write(true, |tx| {
            for k in keys {
                tx.del(db, k, None).unwrap();
            }
        });
    }

    fn compact(&mut self) -> bool {
        // LMDB reuses freed pages in place; its only compaction is a copy to another file.
        false
    }
}
