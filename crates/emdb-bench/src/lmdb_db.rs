//! LMDB through heed: one unnamed database of byte slices in a 4 GiB map.
//!
//! Durable commits are LMDB's default (`fdatasync` of the data file per commit). The nosync
//! phase turns on `MDB_NOSYNC` for its commits only and turns it off again afterwards; the next
//! durable commit syncs what those left unsynced, as the other engines' next durable commit does.

use std::ops::Bound;
use std::path::Path;

use heed::types::Bytes;
use heed::{Database, Env, EnvFlags, EnvOpenOptions, FlagSetMode};

use crate::engine::BenchEngine;

pub struct Lmdb {
    env: Env,
    db: Database<Bytes, Bytes>,
}

impl Lmdb {
    fn set_nosync(&self, on: bool) {
        let mode = if on {
            FlagSetMode::Enable
        } else {
            FlagSetMode::Disable
        };
        // SAFETY: only the benchmark's single writer thread changes flags, and no write
        // transaction is open while it does.
        unsafe { self.env.set_flags(EnvFlags::NO_SYNC, mode) }.unwrap();
    }

    fn write(&self, f: impl FnOnce(&mut heed::RwTxn<'_>)) {
        let mut tx = self.env.write_txn().unwrap();
        f(&mut tx);
        tx.commit().unwrap();
    }
}

impl BenchEngine for Lmdb {
    const NAME: &'static str = "lmdb";

    fn open(dir: &Path) -> Self {
        let path = dir.join("lmdb");
        std::fs::create_dir_all(&path).unwrap();
        // SAFETY: the directory is private to this process and opened once at a time.
        let env = unsafe { EnvOpenOptions::new().map_size(4 << 30).open(&path) }.unwrap();
        let mut tx = env.write_txn().unwrap();
        let db = env.create_database(&mut tx, None).unwrap();
        tx.commit().unwrap();
        Lmdb { env, db }
    }

    fn bulk_load(&mut self, pairs: &[(Vec<u8>, Vec<u8>)]) {
        self.write_durable(pairs);
    }

    fn write_durable(&mut self, pairs: &[(Vec<u8>, Vec<u8>)]) {
        let db = self.db;
        self.write(|tx| {
            for (k, v) in pairs {
                db.put(tx, k, v).unwrap();
            }
        });
    }

    fn write_nosync(&mut self, key: &[u8], value: &[u8]) {
        let db = self.db;
        self.set_nosync(true);
        self.write(|tx| db.put(tx, key, value).unwrap());
        self.set_nosync(false);
    }

    fn len(&self) -> u64 {
        let tx = self.env.read_txn().unwrap();
        self.db.len(&tx).unwrap()
    }

    fn get(&self, key: &[u8]) -> Option<usize> {
        let tx = self.env.read_txn().unwrap();
        self.db.get(&tx, key).unwrap().map(<[u8]>::len)
    }

    fn range(&self, start: &[u8], n: usize) -> usize {
        let tx = self.env.read_txn().unwrap();
        let mut seen = 0;
        for r in self
            .db
            .range(&tx, &(Bound::Included(start), Bound::Unbounded))
            .unwrap()
            .take(n)
        {
            let (_, v) = r.unwrap();
            seen += usize::from(!v.is_empty());
        }
        seen
    }

    fn remove_durable(&mut self, keys: &[Vec<u8>]) {
        let db = self.db;
        self.write(|tx| {
            for k in keys {
                db.delete(tx, k).unwrap();
            }
        });
    }

    fn compact(&mut self) -> bool {
        // LMDB reuses freed pages in place; its only compaction is a copy to another file.
        false
    }
}
