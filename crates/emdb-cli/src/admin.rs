//! `emdb compact | backup | lock | repair`.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use emdb::Emdb;
use emdb_engine::{Engine, EngineConfig};

use crate::Failure;
use crate::progress::Progress;

fn open_existing(path: &Path) -> Result<Emdb, Failure> {
    if !path.exists() {
        return Err(Failure::new(format!(
            "{}: no such database",
            path.display()
        )));
    }
    Ok(crate::secrets::builder(path)?.build()?)
}

pub(crate) fn compact(path: &Path, progress: &Progress) -> Result<(), Failure> {
    let db = open_existing(path)?;
    let before = db.stats()?.file_size_bytes;
    let spin = progress.spinner("compacting");
    db.compact()?;
    spin.finish_and_clear();
    let after = db.stats()?.file_size_bytes;
    println!("compacted {}: {before} -> {after} bytes", path.display());
    Ok(())
}

pub(crate) fn backup(path: &Path, target: &Path, progress: &Progress) -> Result<(), Failure> {
    let db = open_existing(path)?;
    let spin = progress.spinner("backing up");
    db.backup_to(target)?;
    spin.finish_and_clear();
    println!("backed up {} to {}", path.display(), target.display());
    Ok(())
}

pub(crate) fn lock(path: &Path, break_lock: bool) -> Result<(), Failure> {
    if break_lock {
        Emdb::break_lock(path)?;
        println!("lock files of {} removed", path.display());
        return Ok(());
    }
    match Emdb::lock_holder(path)? {
        Some(h) => println!(
            "locked by pid {} since {} (unix ms), emdb {}",
            h.pid,
            h.acquired_at_unix_millis,
            h.crate_version.as_deref().unwrap_or("unknown")
        ),
        None => println!("not locked"),
    }
    Ok(())
}

/// Salvages every intact record into a fresh file that takes the original's place; the original
/// is kept as `<path>.corrupt-<unix ms>`.
pub(crate) fn repair(path: &Path, progress: &Progress) -> Result<(), Failure> {
    if !path.is_file() {
        return Err(Failure::new(format!(
            "{}: no such database",
            path.display()
        )));
    }
    if Emdb::lock_holder(path)?.is_some() {
        return Err(Failure::new(format!(
            "{} is open in another process; close it first",
            path.display()
        )));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let name = |suffix: &str| {
        let mut s = path.as_os_str().to_os_string();
        s.push(suffix);
        std::path::PathBuf::from(s)
    };
    let fresh = name(".repaired");
    let kept = name(&format!(".corrupt-{now}"));
    let _ = std::fs::remove_file(&fresh);
    let spin = progress.spinner("salvaging");
    let config = match crate::secrets::header(path) {
        Some(h) if h.is_encrypted() => {
            EngineConfig::default().with_sealer(Some(crate::secrets::sealer(path, &h)?))
        }
        _ => EngineConfig::default(),
    };
    let report = Engine::repair(path, &fresh, config);
    spin.finish_and_clear();
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            // Nothing was changed: the original stays where it was.
            let _ = std::fs::remove_file(&fresh);
            return Err(e.into());
        }
    };
    for p in [
        emdb_engine::snapshot_path(&fresh),
        name(".repaired.lock"),
        name(".repaired.lock-meta"),
    ] {
        let _ = std::fs::remove_file(p);
    }
    std::fs::rename(path, &kept)?;
    std::fs::rename(&fresh, path)?;
    let _ = std::fs::remove_file(emdb_engine::snapshot_path(path));
    println!(
        "salvaged {} frames ({} entries) into {}",
        report.frames_salvaged,
        report.entries_salvaged,
        path.display()
    );
    println!("original kept as {}", kept.display());
    if report.lost_ranges.is_empty() {
        println!("nothing was lost");
    }
    for (start, end) in &report.lost_ranges {
        println!("lost bytes {start}..{end} ({} bytes)", end - start);
    }
    for ns in &report.recovered_namespaces {
        println!("records of a namespace whose definition was lost are in `{ns}`");
    }
    Ok(())
}

fn existing_header(path: &Path) -> Result<emdb_format::FileHeader, Failure> {
    crate::secrets::header(path)
        .ok_or_else(|| Failure::new(format!("{}: no such database", path.display())))
}

/// Encrypts a closed database in place with a new passphrase or key.
pub(crate) fn encrypt(path: &Path, progress: &Progress) -> Result<(), Failure> {
    if existing_header(path)?.is_encrypted() {
        return Err(Failure::new(format!(
            "{} is already encrypted; use `emdb rekey`",
            path.display()
        )));
    }
    let secret = crate::secrets::new_secret()?;
    let spin = progress.spinner("encrypting");
    Emdb::enable_encryption(path, secret)?;
    spin.finish_and_clear();
    println!("encrypted {} (AES-256-GCM)", path.display());
    Ok(())
}

/// Decrypts a closed database in place.
pub(crate) fn decrypt(path: &Path, progress: &Progress) -> Result<(), Failure> {
    let h = existing_header(path)?;
    if !h.is_encrypted() {
        return Err(Failure::new(format!("{} is not encrypted", path.display())));
    }
    let secret = crate::secrets::current(path, &h)?;
    let spin = progress.spinner("decrypting");
    Emdb::disable_encryption(path, secret)?;
    spin.finish_and_clear();
    println!("decrypted {}", path.display());
    Ok(())
}

/// Re-encrypts a closed database under a new passphrase or key, keeping its cipher.
pub(crate) fn rekey(path: &Path, progress: &Progress) -> Result<(), Failure> {
    let h = existing_header(path)?;
    if !h.is_encrypted() {
        return Err(Failure::new(format!(
            "{} is not encrypted; use `emdb encrypt`",
            path.display()
        )));
    }
    let from = crate::secrets::current(path, &h)?;
    let to = crate::secrets::new_secret()?;
    let spin = progress.spinner("re-keying");
    Emdb::rotate_encryption_key(path, from, to)?;
    spin.finish_and_clear();
    println!("re-keyed {}", path.display());
    Ok(())
}
