//! `cargo xtask bench --compare [--n N] [--runs R] [--engines a,b,..]`: builds the comparison
//! bench once per engine (each engine is a cargo feature of `crates/emdb-bench`, a separate
//! workspace), runs each in its own process, R rounds of every engine in turn (so a noisy minute
//! hits every engine alike), then prints the tables of medians. Results go to `target/bench/`.

use std::path::Path;

const ENGINES: [&str; 6] = ["emdb", "emdb085", "redb", "lmdb", "fjall", "sled"];

pub(crate) fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let mut n = "1000000".to_owned();
    let mut runs = 1usize;
    let mut engines: Vec<String> = ENGINES.iter().map(|s| (*s).to_owned()).collect();
    let mut compare = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--compare" => compare = true,
            "--n" => n.clone_from(it.next().ok_or("--n needs a number")?),
            "--runs" => {
                runs = it
                    .next()
                    .and_then(|r| r.parse().ok())
                    .filter(|r| *r > 0)
                    .ok_or("--runs needs a positive number")?;
            }
            "--engines" => {
                engines = it
                    .next()
                    .ok_or("--engines needs a list")?
                    .split(',')
                    .map(str::to_owned)
                    .collect();
            }
            other => return Err(format!("unknown bench option `{other}`")),
        }
    }
    if !compare {
        return crate::cargo(root, &["bench", "--workspace"], &[]);
    }
    let out_dir = root.join("target").join("bench");
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| format!("creating {}: {e}", out_dir.display()))?;
    let manifest = root.join("crates/emdb-bench/Cargo.toml");
    let manifest = manifest.to_str().ok_or("non-UTF-8 path")?;
    // Every run builds the bench crate with exactly one engine feature (or none for the
    // report), so no two engines share a process or a build.
    let bench = |feature: Option<&str>, bench_args: &[&str]| {
        let mut args = vec![
            "run",
            "--release",
            "--manifest-path",
            manifest,
            "--no-default-features",
        ];
        if let Some(f) = feature {
            args.extend(["--features", f]);
        }
        args.push("--");
        args.extend_from_slice(bench_args);
        crate::cargo(&out_dir, &args, &[])
    };
    let mut files = Vec::new();
    for run in 1..=runs {
        for engine in &engines {
            let out = out_dir.join(format!("{engine}-{run}.json"));
            let out_s = out.to_str().ok_or("non-UTF-8 path")?.to_owned();
            bench(Some(engine), &["--n", &n, "--out", &out_s])?;
            files.push(out_s);
        }
        if engines.iter().any(|e| e == "emdb") {
            let gc = out_dir.join(format!("group_commit-{run}.json"));
            let gc_s = gc.to_str().ok_or("non-UTF-8 path")?.to_owned();
            bench(Some("emdb"), &["--group-commit", "--out", &gc_s])?;
            files.push(gc_s);
        }
    }
    let mut report = vec!["--report"];
    report.extend(files.iter().map(String::as_str));
    bench(None, &report)
}
