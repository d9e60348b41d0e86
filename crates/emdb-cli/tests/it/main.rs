//! Runs the real `emdb` binary against real files: every command, JSON parsed, corruption found
//! at its exact offset, repair, and one-line errors.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

mod commands;
mod dump;
mod encryption;
mod migrate;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn emdb() -> Command {
    Command::cargo_bin("emdb").unwrap()
}

fn db() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("cli.emdb");
    (d, p)
}

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(cmd: &mut Command) -> serde_json::Value {
    serde_json::from_str(stdout(cmd).trim()).unwrap()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}
