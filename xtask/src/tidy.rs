//! Repository rules that neither the compiler nor clippy enforce. Also run as a unit test, so a
//! plain `cargo test --workspace` checks them.
//!
//! Rules: every member inherits the workspace lints; `unsafe` appears only in the engine's mmap
//! module; every `.rs` file starts with a `//!` doc; files stay under 1,200 lines (warning past
//! 800); sources and manifests are ASCII; no `dbg!`, `todo!` or `FIXME` in `crates/`; library
//! crates depend only downward (emdb -> emdb-engine -> emdb-crypt, emdb-format); every fuzz
//! target is listed in `fuzz/Cargo.toml`.

use std::fs;
use std::path::{Path, PathBuf};

const UNSAFE_ALLOWED: &str = "crates/emdb-engine/src/log/mmap.rs";
const SOFT_LINES: usize = 800;
const HARD_LINES: usize = 1200;

/// Which workspace crates each library crate may depend on.
const LAYERS: &[(&str, &[&str])] = &[
    ("emdb-format", &[]),
    ("emdb-crypt", &["emdb-format"]),
    ("emdb-engine", &["emdb-format", "emdb-crypt"]),
    ("emdb", &["emdb-engine"]),
    ("xtask", &[]),
];

/// Runs every rule; returns warnings, or every violation as one error.
pub(crate) fn run(root: &Path) -> Result<Vec<String>, String> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut files = Vec::new();
    for dir in ["crates", "xtask", "fuzz"] {
        walk(&root.join(dir), &mut files);
    }
    for path in &files {
        let rel = path
            .strip_prefix(root)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/");
        let Ok(text) = fs::read_to_string(path) else {
            errors.push(format!("{rel}: not UTF-8"));
            continue;
        };
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let is_rs = ext == "rs";
        if (is_rs || ext == "toml") && !text.is_ascii() {
            errors.push(format!("{rel}: non-ASCII characters"));
        }
        if !is_rs {
            continue;
        }
        if !text.starts_with("//!") {
            errors.push(format!("{rel}: first line must be a `//!` module doc"));
        }
        let lines = text.lines().count();
        let is_test = rel.ends_with("/tests.rs") || rel.contains("/tests/");
        if !is_test && lines > HARD_LINES {
            errors.push(format!(
                "{rel}: {lines} lines (limit {HARD_LINES}); split it by concept"
            ));
        } else if !is_test && lines > SOFT_LINES {
            warnings.push(format!("{rel}: {lines} lines (aim below {SOFT_LINES})"));
        }
        let exempt = rel.starts_with("fuzz/");
        if rel != UNSAFE_ALLOWED && !exempt && has_unsafe(&text) {
            errors.push(format!("{rel}: `unsafe` outside {UNSAFE_ALLOWED}"));
        }
        if rel.starts_with("crates/") {
            for marker in ["dbg!(", "todo!(", "FIXME"] {
                if text.contains(marker) {
                    errors.push(format!("{rel}: contains `{marker}`"));
                }
            }
        }
    }
    check_manifests(root, &mut errors);
    check_fuzz_targets(root, &mut errors);
    if errors.is_empty() {
        Ok(warnings)
    } else {
        Err(format!("tidy found problems:\n  {}", errors.join("\n  ")))
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if !matches!(
                name.as_ref(),
                "target" | "corpus" | "artifacts" | "coverage" | "fixtures" | "seeds"
            ) {
                walk(&path, out);
            }
        } else if name.ends_with(".rs") || name.ends_with(".toml") {
            out.push(path);
        }
    }
}

/// `unsafe` used as a keyword (block, fn, impl, trait), ignoring comments, string literals and
/// lint names.
fn has_unsafe(text: &str) -> bool {
    const KEYWORDS: [&str; 5] = [
        "unsafe {",
        "unsafe fn",
        "unsafe impl",
        "unsafe trait",
        "unsafe extern",
    ];
    text.lines().any(|line| {
        let code = line.split("//").next().unwrap_or("");
        KEYWORDS.iter().any(|kw| {
            code.match_indices(kw).any(|(i, _)| {
                // Outside a string literal: an even number of unescaped quotes precede it.
                code[..i].replace("\\\"", "").matches('"').count() % 2 == 0
            })
        })
    })
}

/// Workspace crates named in a manifest's `[dependencies]` section.
fn runtime_deps(manifest: &str) -> Vec<String> {
    let mut in_deps = false;
    let mut deps = Vec::new();
    for line in manifest.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_deps = t == "[dependencies]";
            continue;
        }
        if in_deps && let Some((name, _)) = t.split_once('=') {
            let name = name.trim();
            if name.starts_with("emdb") {
                deps.push(name.to_owned());
            }
        }
    }
    deps
}

fn check_manifests(root: &Path, errors: &mut Vec<String>) {
    let mut manifests = vec![("xtask".to_owned(), root.join("xtask/Cargo.toml"))];
    if let Ok(entries) = fs::read_dir(root.join("crates")) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            manifests.push((name, e.path().join("Cargo.toml")));
        }
    }
    for (name, path) in manifests {
        let Ok(text) = fs::read_to_string(&path) else {
            errors.push(format!("{}: unreadable", path.display()));
            continue;
        };
        // A crate with its own `[workspace]` (the comparison bench) cannot inherit our lints.
        let own_workspace = text.lines().any(|l| l.trim() == "[workspace]");
        if !own_workspace && !text.contains("[lints]\nworkspace = true") {
            errors.push(format!(
                "{name}: Cargo.toml must have `[lints] workspace = true`"
            ));
        }
        let allowed = LAYERS.iter().find(|(n, _)| *n == name).map(|(_, a)| *a);
        for dep in runtime_deps(&text) {
            match allowed {
                Some(a) if a.contains(&dep.as_str()) => {}
                Some(_) => errors.push(format!("{name} must not depend on {dep} (layering)")),
                // Unpublished tools (benches, CLI) may use any library crate.
                None => {}
            }
        }
    }
}

fn check_fuzz_targets(root: &Path, errors: &mut Vec<String>) {
    let manifest = fs::read_to_string(root.join("fuzz/Cargo.toml")).unwrap_or_default();
    let Ok(entries) = fs::read_dir(root.join("fuzz/fuzz_targets")) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".rs")
            && !manifest.contains(&format!("name = \"{stem}\""))
        {
            errors.push(format!(
                "fuzz target {stem} is not listed in fuzz/Cargo.toml"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_is_tidy() {
        if let Err(e) = run(&crate::root()) {
            panic!("{e}");
        }
    }

    #[test]
    fn unsafe_detection_ignores_comments_and_lint_names() {
        assert!(has_unsafe("let x = unsafe { f() };"));
        assert!(!has_unsafe(
            "#![forbid(unsafe_code)]\n// unsafe { in a comment }"
        ));
        assert!(!has_unsafe("let s = \"unsafe { in a string }\";"));
    }

    #[test]
    fn runtime_deps_reads_only_the_dependencies_section() {
        let m = "[dependencies]\nemdb-format = { path = \"x\" }\nmemmap2 = \"1\"\n[dev-dependencies]\nemdb = \"1\"\n";
        assert_eq!(runtime_deps(m), vec!["emdb-format".to_owned()]);
    }
}
