//! An in-memory file system that fails on demand and simulates crashes (feature `testing`).
//!
//! Each file keeps two images: `live` (what reads see) and `durable` (what survives a crash),
//! plus the writes made since the last sync. Directory entries are durable only after
//! `sync_dir`. [`FaultyStorage::crash`] builds the world a restarted process would find:
//! durable directory entries, durable bytes, and a chosen subset of unsynced writes, possibly
//! with one torn in the middle. [`FaultyStorage::set_plan`] makes the Nth write, sync or rename
//! fail, or cuts the power after N operations so that every later one fails.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{LockGuard, OpenMode, Storage, StorageFile};
use crate::error::EngineError;
use crate::log::mmap::Mapping;

/// Which operations a fault plan counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultOp {
    /// `write_at` and `set_len`.
    Write,
    /// `sync_data`, `sync_all` and `sync_dir`.
    Sync,
    /// `rename`.
    Rename,
    /// `read_at`. Reads change nothing, so neither `Any` nor a power cut counts them.
    Read,
    /// Every mutating operation.
    Any,
}

/// When to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPlan {
    /// Never.
    None,
    /// The `n`th (0-based) matching operation from now fails once; later ones succeed (like a
    /// Linux fsync error that is reported once).
    FailOnce {
        /// Operations counted.
        op: FaultOp,
        /// Index of the failing one.
        n: u64,
    },
    /// After `n` mutating operations from now, every mutating operation fails: the power is
    /// cut and the process is as good as dead.
    PowerCutAfter(u64),
}

/// Which unsynced writes survive a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashMode {
    /// None of them.
    DropUnsynced,
    /// All of them, in order (a process kill: the page cache survives).
    KeepAll,
    /// A pseudo-random subset, in any order, with one write torn at a random byte.
    Random {
        /// Seed of the choice.
        seed: u64,
    },
}

#[derive(Debug, Clone)]
enum Pending {
    Write { offset: u64, bytes: Vec<u8> },
    SetLen(u64),
}

#[derive(Debug, Default)]
struct FileData {
    live: Vec<u8>,
    durable: Vec<u8>,
    pending: Vec<Pending>,
}

#[derive(Debug, Default)]
struct Node {
    data: Mutex<FileData>,
}

#[derive(Debug, Default)]
struct Plan {
    current: Option<FaultPlan>,
    seen: u64,
    injected: u64,
}

#[derive(Debug, Default)]
struct World {
    locks: Mutex<HashSet<PathBuf>>,
    live: Mutex<HashMap<PathBuf, Arc<Node>>>,
    durable: Mutex<HashMap<PathBuf, Arc<Node>>>,
    plan: Mutex<Plan>,
}

impl World {
    /// Counts an operation; returns an error if the plan says this one fails.
    fn check(&self, op: FaultOp) -> io::Result<()> {
        let mut p = self.plan.lock();
        let seen = p.seen;
        let fail = match p.current {
            None | Some(FaultPlan::None) => false,
            Some(FaultPlan::FailOnce { op: want, n }) => {
                let counts = want == op || (want == FaultOp::Any && op != FaultOp::Read);
                if counts {
                    p.seen += 1;
                }
                counts && seen == n
            }
            Some(FaultPlan::PowerCutAfter(_)) if op == FaultOp::Read => false,
            Some(FaultPlan::PowerCutAfter(n)) => {
                p.seen += 1;
                seen >= n
            }
        };
        if fail {
            p.injected += 1;
            return Err(io::Error::other(format!("injected {op:?} fault")));
        }
        Ok(())
    }
}

/// The fault-injecting storage. Clones share one world.
#[derive(Debug, Default, Clone)]
pub struct FaultyStorage {
    world: Arc<World>,
}

#[derive(Debug)]
struct FaultyFile {
    node: Arc<Node>,
    world: Arc<World>,
}

impl FaultyStorage {
    /// An empty file system.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the fault plan and restarts its count.
    pub fn set_plan(&self, plan: FaultPlan) {
        *self.world.plan.lock() = Plan {
            current: Some(plan),
            seen: 0,
            injected: 0,
        };
    }

    /// Mutating operations counted since the plan was set (with `FaultOp::Any` or a power cut).
    pub fn ops_seen(&self) -> u64 {
        self.world.plan.lock().seen
    }

    /// Faults injected since the plan was set.
    pub fn faults_injected(&self) -> u64 {
        self.world.plan.lock().injected
    }

    /// The file system a restarted machine would see. This storage is left as it was.
    #[must_use]
    pub fn crash(&self, mode: CrashMode) -> FaultyStorage {
        let mut rng = mode_seed(mode);
        let durable = self.world.durable.lock();
        let mut fresh = HashMap::new();
        for (path, node) in durable.iter() {
            let d = node.data.lock();
            let mut image = d.durable.clone();
            let mut chosen: Vec<&Pending> = match mode {
                CrashMode::DropUnsynced => vec![],
                CrashMode::KeepAll => d.pending.iter().collect(),
                CrashMode::Random { .. } => d
                    .pending
                    .iter()
                    .filter(|_| next(&mut rng).is_multiple_of(2))
                    .collect(),
            };
            if matches!(mode, CrashMode::Random { .. }) && chosen.len() > 1 {
                // Write-back order is not program order.
                let i = (next(&mut rng) as usize) % chosen.len();
                let j = (next(&mut rng) as usize) % chosen.len();
                chosen.swap(i, j);
            }
            let torn = if matches!(mode, CrashMode::Random { .. }) && !chosen.is_empty() {
                Some((next(&mut rng) as usize) % chosen.len())
            } else {
                None
            };
            for (i, p) in chosen.into_iter().enumerate() {
                match p {
                    Pending::Write { offset, bytes } => {
                        let keep = if torn == Some(i) {
                            (next(&mut rng) as usize) % (bytes.len() + 1)
                        } else {
                            bytes.len()
                        };
                        apply_write(&mut image, *offset, &bytes[..keep]);
                    }
                    Pending::SetLen(len) => image.resize(*len as usize, 0),
                }
            }
            let node = Arc::new(Node {
                data: Mutex::new(FileData {
                    live: image.clone(),
                    durable: image,
                    pending: vec![],
                }),
            });
            fresh.insert(path.clone(), node);
        }
        let world = World {
            locks: Mutex::default(),
            live: Mutex::new(fresh.clone()),
            durable: Mutex::new(fresh),
            plan: Mutex::new(Plan::default()),
        };
        FaultyStorage {
            world: Arc::new(world),
        }
    }

    /// Whether a file exists (live view).
    pub fn exists_path(&self, path: &Path) -> bool {
        self.world.live.lock().contains_key(path)
    }

    /// The live bytes of a file, for assertions.
    pub fn live_bytes(&self, path: &Path) -> Option<Vec<u8>> {
        self.world
            .live
            .lock()
            .get(path)
            .map(|n| n.data.lock().live.clone())
    }

    /// Overwrites live and durable bytes of a file (to plant corruption).
    pub fn poke(&self, path: &Path, offset: u64, bytes: &[u8]) {
        if let Some(n) = self.world.live.lock().get(path) {
            let mut d = n.data.lock();
            apply_write(&mut d.live, offset, bytes);
            apply_write(&mut d.durable, offset, bytes);
        }
    }
}

fn mode_seed(mode: CrashMode) -> u64 {
    match mode {
        CrashMode::Random { seed } => seed | 1,
        _ => 1,
    }
}

/// xorshift64: deterministic, dependency-free choice of survivors.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn apply_write(image: &mut Vec<u8>, offset: u64, bytes: &[u8]) {
    let start = offset as usize;
    let end = start + bytes.len();
    if image.len() < end {
        image.resize(end, 0);
    }
    image[start..end].copy_from_slice(bytes);
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{} not found", path.display()),
    )
}

impl StorageFile for FaultyFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.world.check(FaultOp::Read)?;
        let d = self.node.data.lock();
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let src = d
            .live
            .get(start..start.saturating_add(buf.len()))
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.world.check(FaultOp::Write)?;
        let mut d = self.node.data.lock();
        apply_write(&mut d.live, offset, buf);
        d.pending.push(Pending::Write {
            offset,
            bytes: buf.to_vec(),
        });
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        self.world.check(FaultOp::Sync)?;
        let mut d = self.node.data.lock();
        let FileData { live, durable, .. } = &mut *d;
        durable.clone_from(live);
        d.pending.clear();
        Ok(())
    }

    fn sync_all(&self) -> io::Result<()> {
        self.sync_data()
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.node.data.lock().live.len() as u64)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.world.check(FaultOp::Write)?;
        let mut d = self.node.data.lock();
        d.live.resize(len as usize, 0);
        d.pending.push(Pending::SetLen(len));
        Ok(())
    }

    fn map(&self, _len: u64) -> io::Result<Option<Arc<Mapping>>> {
        Ok(None)
    }
}

impl Storage for FaultyStorage {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        let mut live = self.world.live.lock();
        let node = match (mode, live.get(path)) {
            (OpenMode::Existing, Some(n)) => n.clone(),
            (OpenMode::Existing, None) => return Err(not_found(path)),
            (OpenMode::Truncate, existing) => {
                self.world.check(FaultOp::Write)?;
                if let Some(n) = existing {
                    let mut d = n.data.lock();
                    d.live.clear();
                    d.pending.push(Pending::SetLen(0));
                    n.clone()
                } else {
                    let n = Arc::new(Node::default());
                    live.insert(path.to_path_buf(), n.clone());
                    n
                }
            }
        };
        Ok(Arc::new(FaultyFile {
            node,
            world: self.world.clone(),
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.world.check(FaultOp::Rename)?;
        let mut live = self.world.live.lock();
        let node = live.remove(from).ok_or_else(|| not_found(from))?;
        live.insert(to.to_path_buf(), node);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.world.check(FaultOp::Write)?;
        self.world.live.lock().remove(path);
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.world.check(FaultOp::Sync)?;
        let live = self.world.live.lock();
        let mut durable = self.world.durable.lock();
        durable.retain(|p, _| p.parent() != Some(dir));
        for (p, n) in live.iter().filter(|(p, _)| p.parent() == Some(dir)) {
            durable.insert(p.clone(), n.clone());
        }
        Ok(())
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        Ok(self.world.live.lock().contains_key(path))
    }

    fn lock(&self, db: &Path) -> crate::error::Result<LockGuard> {
        if !self.world.locks.lock().insert(db.to_path_buf()) {
            return Err(EngineError::Locked {
                path: crate::lockfile::lock_path(db),
            });
        }
        Ok(Box::new(FaultyLock {
            world: self.world.clone(),
            path: db.to_path_buf(),
        }))
    }
}

#[derive(Debug)]
struct FaultyLock {
    world: Arc<World>,
    path: PathBuf,
}

impl Drop for FaultyLock {
    fn drop(&mut self) {
        self.world.locks.lock().remove(&self.path);
    }
}
