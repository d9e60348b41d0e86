//! emdb and emdb 0.8.5 share one public API, so one adapter serves both.

/// Defines a [`crate::engine::BenchEngine`] named `$ty` over the emdb-compatible crate `$krate`;
/// `$configure` gets the builder (path and range scans set) before it builds.
#[allow(unused_macros, reason = "unused in a report-only build")]
macro_rules! emdb_like {
    ($ty:ident, $krate:ident, $name:literal, $ranges:literal) => {
        emdb_like!($ty, $krate, $name, $ranges, |b| b);
    };
    ($ty:ident, $krate:ident, $name:literal, $ranges:literal, $configure:expr) => {
        pub struct $ty($krate::Emdb);

        impl BenchEngine for $ty {
            const NAME: &'static str = $name;
            const RANGES_SCALE: bool = $ranges;

            fn open(dir: &std::path::Path) -> Self {
                let builder = $krate::EmdbBuilder::new()
                    .path(dir.join("db.emdb"))
                    .enable_range_scans(true);
                let configure: fn($krate::EmdbBuilder) -> $krate::EmdbBuilder = $configure;
                $ty(configure(builder).build().unwrap())
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
                self.0
                    .transaction(|tx| {
                        for k in keys {
                            tx.remove(k.clone())?;
                        }
                        Ok(())
                    })
                    .unwrap();
                self.0.flush().unwrap();
            }

            fn compact(&mut self) -> bool {
                self.0.compact().unwrap();
                true
            }
        }
    };
}

#[cfg(feature = "emdb")]
pub mod ours {
    use crate::engine::BenchEngine;
    emdb_like!(Ours, emdb, "emdb", true);
}

/// Ours with every record sealed (AES-256-GCM, a raw key): what encryption at rest costs in
/// each phase. Not one of the peers; run on its own (`--features emdb-aes`).
#[cfg(feature = "emdb-aes")]
pub mod ours_aes {
    use crate::engine::BenchEngine;
    emdb_like!(OursAes, emdb, "emdb-aes", true, |b| b
        .encryption_key([0x5a; 32])
        .cipher(emdb::Cipher::Aes256Gcm));
}

#[cfg(feature = "emdb085")]
pub mod v085 {
    use crate::engine::BenchEngine;
    // 0.8.5's range iterators copy every key to the end of the keyspace on each call, so 500K
    // ranges are quadratic; the phase is skipped for it.
    emdb_like!(V085, emdb_v085, "emdb 0.8.5", false);
}
