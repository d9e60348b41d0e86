//! The single-writer lock across handles, paths and processes.

use std::os::unix::fs::symlink;

use emdb_engine::lockfile::{LockFile, break_lock, lock_holder, lock_path, meta_path};
use emdb_engine::{Engine, EngineError};

use crate::common::*;

#[test]
fn second_opener_is_refused_through_any_path() {
    let (d, path) = temp_db();
    let e = open(&path, os_config(true));
    assert!(matches!(
        Engine::open(&path, os_config(true)),
        Err(EngineError::Locked { .. })
    ));
    let link = d.path().join("link.emdb");
    symlink(&path, &link).unwrap();
    assert!(matches!(
        Engine::open(&link, os_config(true)),
        Err(EngineError::Locked { .. })
    ));
    let dotted = d.path().join(".").join("test.emdb");
    assert!(matches!(
        Engine::open(&dotted, os_config(true)),
        Err(EngineError::Locked { .. })
    ));
    let holder = lock_holder(&path).unwrap().unwrap();
    assert_eq!(holder.pid, std::process::id());
    assert_eq!(holder.crate_version, env!("CARGO_PKG_VERSION"));
    assert!(meta_path(&path).exists());
    drop(e);
    assert_eq!(lock_holder(&path).unwrap(), None);
    let _again = open(&link, os_config(true));
}

/// What a child forked from this process does for a moment: keep a lock this process released.
/// Here another open of the lock file stands in for the child's inherited one.
fn hold_like_a_forked_child(db: &std::path::Path) -> std::fs::File {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(lock_path(db))
        .unwrap();
    f.try_lock().unwrap();
    f
}

#[test]
fn a_lock_released_by_this_process_but_shared_with_a_forked_child_is_waited_for() {
    let (_d, path) = temp_db();
    drop(LockFile::acquire(&path).unwrap());
    let child = hold_like_a_forked_child(&path);
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(50));
        drop(child);
    });
    // The metadata names this process and no live handle of it holds the lock: retried.
    let again = LockFile::acquire(&path).unwrap();
    release.join().unwrap();
    // A live handle of this process is refused at once, as is a lock another process took.
    assert!(matches!(
        LockFile::acquire(&path),
        Err(EngineError::Locked { .. })
    ));
    drop(again);
    let other = hold_like_a_forked_child(&path);
    std::fs::write(
        meta_path(&path),
        "pid=1\nacquired_at_unix_millis=5\ncrate_version=0.0.0\n",
    )
    .unwrap();
    assert!(matches!(
        LockFile::acquire(&path),
        Err(EngineError::Locked { .. })
    ));
    drop(other);
}

const CHILD_ENV: &str = "EMDB_LOCK_CHILD_DB";

/// The child: tries to open the database named by the environment and reports the outcome.
#[test]
#[ignore = "child process of lock_is_held_against_another_process"]
fn child_try_open() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    match Engine::open(&path, os_config(true)) {
        Err(EngineError::Locked { .. }) => println!("CHILD-LOCKED"),
        Ok(_) => println!("CHILD-OPENED"),
        Err(e) => println!("CHILD-ERROR {e}"),
    }
}

fn child_outcome(path: &std::path::Path) -> String {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "lockfile::child_try_open",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.find("CHILD-").map(|i| l[i..].trim().to_owned()))
        .unwrap_or_else(|| format!("no answer: {stdout}"))
}

#[test]
fn lock_is_held_against_another_process() {
    let (_d, path) = temp_db();
    let e = open(&path, os_config(true));
    assert_eq!(child_outcome(&path), "CHILD-LOCKED");
    drop(e);
    assert_eq!(child_outcome(&path), "CHILD-OPENED");
}

#[test]
fn break_lock_removes_sidecars_and_is_idempotent() {
    let (_d, path) = temp_db();
    drop(open(&path, os_config(true)));
    break_lock(&path).unwrap();
    break_lock(&path).unwrap();
    assert!(!lock_path(&path).exists());
    assert!(!meta_path(&path).exists());
    assert_eq!(lock_holder(&path).unwrap(), None);
    let _e = open(&path, os_config(true));
}
