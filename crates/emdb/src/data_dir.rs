//! Where a database lives when it is named by application and database name instead of a path:
//! `<root>/<app_name>/<database_name>`.
//!
//! The root is `data_root` if given; otherwise `$XDG_DATA_HOME`, else `$HOME/.local/share`
//! (macOS: `$HOME/Library/Application Support`; Windows: `%LOCALAPPDATA%`, `%APPDATA%`), else
//! the current directory. Names are single path components: no separators, not `.` or `..`,
//! not empty, no NUL.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// Application directory used when only `database_name` or `data_root` is given.
pub(crate) const DEFAULT_APP_NAME: &str = "emdb";
/// File name used when only `app_name` or `data_root` is given.
pub(crate) const DEFAULT_DATABASE_NAME: &str = "emdb-default.emdb";

fn check_component(value: &str, empty: &'static str, path_like: &'static str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::InvalidConfig(empty));
    }
    let bad = value.contains(['/', '\\', '\0'])
        || value == "."
        || value == ".."
        || value.starts_with("..")
        || value != value.trim();
    if bad {
        return Err(Error::InvalidConfig(path_like));
    }
    Ok(())
}

fn env_dir(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn platform_root() -> Option<PathBuf> {
    if cfg!(target_os = "macos") {
        return env_dir("HOME").map(|h| h.join("Library").join("Application Support"));
    }
    if cfg!(windows) {
        return env_dir("LOCALAPPDATA").or_else(|| env_dir("APPDATA"));
    }
    env_dir("XDG_DATA_HOME").or_else(|| env_dir("HOME").map(|h| h.join(".local").join("share")))
}

/// Resolves and creates `<root>/<app>`; returns the database path inside it.
pub(crate) fn resolve(
    root: Option<PathBuf>,
    app_name: Option<&str>,
    database_name: Option<&str>,
) -> Result<PathBuf> {
    let app = app_name.unwrap_or(DEFAULT_APP_NAME);
    let db = database_name.unwrap_or(DEFAULT_DATABASE_NAME);
    check_component(
        app,
        "app_name must not be empty",
        "app_name must be a single name: no path separators, `.`, `..` or surrounding spaces; \
         compose nested directories with data_root()",
    )?;
    check_component(
        db,
        "database_name must not be empty",
        "database_name must be a single file name: no path separators, `.`, `..` or \
         surrounding spaces",
    )?;
    let root = match root.or_else(platform_root) {
        Some(r) => r,
        None => std::env::current_dir().map_err(|_| {
            Error::InvalidConfig(
                "could not resolve a default data directory; pass an explicit path via \
                 EmdbBuilder::path or EmdbBuilder::data_root",
            )
        })?,
    };
    let dir = root.join(app);
    std::fs::create_dir_all(&dir)?;
    Ok(dir.join(db))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_single_components() {
        let root = tempfile::tempdir().unwrap();
        let r = || Some(root.path().to_path_buf());
        for bad in [
            "", "  ", "a/b", "a\\b", "..", ".", "../x", "..x", " a", "a\0b",
        ] {
            assert!(resolve(r(), Some(bad), None).is_err(), "app {bad:?}");
            assert!(resolve(r(), None, Some(bad)).is_err(), "db {bad:?}");
        }
        let p = resolve(r(), Some("my-app"), Some("main.emdb")).unwrap();
        assert_eq!(p, root.path().join("my-app").join("main.emdb"));
        assert!(root.path().join("my-app").is_dir());
        let p = resolve(r(), None, None).unwrap();
        assert_eq!(
            p,
            root.path()
                .join(DEFAULT_APP_NAME)
                .join(DEFAULT_DATABASE_NAME)
        );
    }
}
