//! What every engine under test provides, in the terms of redb's benchmark.

use std::path::Path;

/// One engine under test. Durable operations return only once the data is on disk.
pub trait BenchEngine: Sync + Sized {
    /// Name in the result table.
    const NAME: &'static str;
    /// Whether the range-read phase can finish: emdb 0.8.5's range iterators copy every key
    /// from the start bound to the end on each call, so 500K ranges are quadratic.
    const RANGES_SCALE: bool = true;
    /// Opens (or creates) the database in `dir`.
    fn open(dir: &Path) -> Self;
    /// Inserts all pairs in one transaction (or batch) and makes them durable.
    fn bulk_load(&mut self, pairs: &[(Vec<u8>, Vec<u8>)]);
    /// Inserts the pairs in one transaction and makes it durable before returning.
    fn write_durable(&mut self, pairs: &[(Vec<u8>, Vec<u8>)]);
    /// Inserts one pair in its own transaction without waiting for the disk.
    fn write_nosync(&mut self, key: &[u8], value: &[u8]);
    /// Number of records.
    fn len(&self) -> u64;
    /// Length of the value of `key`, if present.
    fn get(&self, key: &[u8]) -> Option<usize>;
    /// Reads up to `n` records in key order from `start`; returns how many.
    fn range(&self, start: &[u8], n: usize) -> usize;
    /// Removes the keys in one transaction and makes it durable.
    fn remove_durable(&mut self, keys: &[Vec<u8>]);
    /// Reclaims space; `false` if the engine has no such operation.
    fn compact(&mut self) -> bool;
}

/// Total size of the files under `dir`.
pub fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        dir_size(&p)
                    } else {
                        e.metadata().map_or(0, |m| m.len())
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
