//! Project automation: `cargo xtask ci | tidy | fuzz`.
//!
//! Avoid adding more dependencies to this crate: it only runs cargo and reads files.
#![forbid(unsafe_code)]
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::exit,
    reason = "command-line tool: it reports on the terminal and exits with a status"
)]

mod bench;
mod fuzz;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  ci                      fmt check, clippy -D warnings, tests, tidy (what .ci/run runs before fuzzing)
  tidy                    repository rules: layering, unsafe, file size, docs, ASCII
  bench [--compare [--n N] [--runs R] [--engines emdb,redb,..]]
                          criterion benches, or the side-by-side comparison with peer engines
  fuzz [--smoke] [--time SECS] [TARGET...]
                          build and run cargo-fuzz targets (all when none named);
                          --smoke runs each for 25 s";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("tidy") => tidy::run(&root()).map(|warnings| {
            for w in warnings {
                eprintln!("tidy warning: {w}");
            }
        }),
        Some("fuzz") => fuzz::run(&root(), &args[1..]),
        Some("bench") => bench::run(&root(), &args[1..]),
        Some("-h" | "--help" | "help") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of this crate's manifest directory).
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Runs `cargo` with `args` in `dir`, failing on a non-zero exit.
pub(crate) fn cargo(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    println!("$ cargo {}", args.join(" "));
    let mut cmd = Command::new(cargo);
    cmd.args(args).current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let status = cmd
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed: {status}", args.join(" ")))
    }
}

fn ci() -> Result<(), String> {
    let root = root();
    cargo(&root, &["fmt", "--all", "--check"], &[])?;
    cargo(
        &root,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    cargo(&root, &["test", "--workspace"], &[])?;
    for w in tidy::run(&root)? {
        eprintln!("tidy warning: {w}");
    }
    Ok(())
}
