//! The fsync and rename steps every durable file replacement uses (see `docs/design.md`).

use std::path::{Path, PathBuf};

use crate::error::{EngineError, Result};
use crate::storage::{Storage, StorageFile};

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Publishes a fully written temporary file under its final name:
/// 1. `fsync` the temporary file (data and size);
/// 2. rename it over `target`;
/// 3. `fsync` the directory so the rename survives a crash.
pub(crate) fn publish(
    storage: &dyn Storage,
    tmp_file: &dyn StorageFile,
    tmp: &Path,
    target: &Path,
) -> Result<()> {
    tmp_file
        .sync_all()
        .map_err(EngineError::io("syncing a new file"))?;
    storage
        .rename(tmp, target)
        .map_err(EngineError::io("renaming a new file into place"))?;
    storage
        .sync_dir(&parent_dir(target))
        .map_err(EngineError::io("syncing the directory after a rename"))
}
