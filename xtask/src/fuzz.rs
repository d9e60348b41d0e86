//! `cargo xtask fuzz`: build and run the cargo-fuzz targets in `fuzz/`.
//!
//! cargo-fuzz needs nightly flags; on this stable toolchain they are enabled with
//! `RUSTC_BOOTSTRAP=1`. Each run starts from the committed seeds in `fuzz/seeds/<target>/`
//! (copied into the git-ignored corpus directory).

use std::fs;
use std::path::Path;

const SMOKE_SECS: u64 = 25;

pub(crate) fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let mut secs = None;
    let mut targets = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--smoke" => secs = Some(SMOKE_SECS),
            "--time" => {
                let v = it.next().ok_or("--time needs a number of seconds")?;
                secs = Some(v.parse().map_err(|_| format!("bad --time value `{v}`"))?);
            }
            t if !t.starts_with('-') => targets.push(t.to_owned()),
            other => return Err(format!("unknown fuzz option `{other}`")),
        }
    }
    let fuzz_dir = root.join("fuzz");
    if targets.is_empty() {
        targets = list_targets(&fuzz_dir)?;
    }
    let secs = secs.unwrap_or(SMOKE_SECS);
    let env = [("RUSTC_BOOTSTRAP", "1")];
    cargo_fuzz_available()?;
    crate::cargo(&fuzz_dir, &["fuzz", "build", "-O"], &env)?;
    for t in &targets {
        let corpus = fuzz_dir.join("corpus").join(t);
        fs::create_dir_all(&corpus).map_err(|e| format!("creating {}: {e}", corpus.display()))?;
        copy_seeds(&fuzz_dir.join("seeds").join(t), &corpus)?;
        let max_time = format!("-max_total_time={secs}");
        crate::cargo(
            &fuzz_dir,
            &[
                "fuzz",
                "run",
                "-O",
                t,
                corpus.to_str().unwrap_or("corpus"),
                "--",
                &max_time,
                "-rss_limit_mb=4096",
            ],
            &env,
        )?;
    }
    println!(
        "fuzz: {} targets ran {secs} s each without a crash",
        targets.len()
    );
    Ok(())
}

fn list_targets(fuzz_dir: &Path) -> Result<Vec<String>, String> {
    let dir = fuzz_dir.join("fuzz_targets");
    let mut out: Vec<String> = fs::read_dir(&dir)
        .map_err(|e| format!("reading {}: {e}", dir.display()))?
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_string_lossy()
                .strip_suffix(".rs")
                .map(str::to_owned)
        })
        .collect();
    out.sort();
    Ok(out)
}

fn copy_seeds(from: &Path, to: &Path) -> Result<(), String> {
    let Ok(entries) = fs::read_dir(from) else {
        return Ok(());
    };
    for e in entries.flatten() {
        fs::copy(e.path(), to.join(e.file_name())).map_err(|err| format!("copying seed: {err}"))?;
    }
    Ok(())
}

fn cargo_fuzz_available() -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let ok = std::process::Command::new(cargo)
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Ok(())
    } else {
        Err("cargo-fuzz is not installed: run `cargo install cargo-fuzz --locked`".to_owned())
    }
}
