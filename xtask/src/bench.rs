//! `cargo xtask bench --compare [--n N] [--runs R] [--engines a,b,..]`: builds the comparison
//! bench once per engine (each engine is a cargo feature of `crates/emdb-bench`, a separate
//! workspace), runs each in its own process, R rounds of every engine in turn (so a noisy minute
//! hits every engine alike), then prints the tables of medians. Results go to `target/bench/`.

use std::path::Path;

const ENGINES: [&str; 6] = ["emdb", "emdb085", "redb", "lmdb", "fjall", "sled"];

/// The options of `xtask bench`.
#[derive(Debug, PartialEq, Eq)]
struct Options {
    compare: bool,
    n: String,
    runs: usize,
    engines: Vec<String>,
}

fn positive(value: Option<&String>, what: &str) -> Result<usize, String> {
    value
        .and_then(|v| v.parse().ok())
        .filter(|v: &usize| *v > 0)
        .ok_or_else(|| format!("{what} needs a positive number"))
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        compare: false,
        n: "1000000".to_owned(),
        runs: 1,
        engines: ENGINES.iter().map(|s| (*s).to_owned()).collect(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--compare" => o.compare = true,
            "--n" => o.n = positive(it.next(), "--n")?.to_string(),
            "--runs" => o.runs = positive(it.next(), "--runs")?,
            "--engines" => {
                o.engines = it
                    .next()
                    .ok_or("--engines needs a list")?
                    .split(',')
                    .map(str::to_owned)
                    .collect();
                if let Some(bad) = o.engines.iter().find(|e| !ENGINES.contains(&e.as_str())) {
                    return Err(format!(
                        "unknown engine `{bad}` (known: {})",
                        ENGINES.join(", ")
                    ));
                }
            }
            other => return Err(format!("unknown bench option `{other}`")),
        }
    }
    Ok(o)
}

pub(crate) fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let Options {
        compare,
        n,
        runs,
        engines,
    } = parse(args)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn options_parse_with_defaults_and_refuse_bad_values() {
        let o = parse(&args("--compare --n 2000 --runs 3 --engines emdb,lmdb")).unwrap();
        assert_eq!(
            o,
            Options {
                compare: true,
                n: "2000".into(),
                runs: 3,
                engines: vec!["emdb".into(), "lmdb".into()],
            }
        );
        let d = parse(&[]).unwrap();
        assert_eq!((d.compare, d.n.as_str(), d.runs), (false, "1000000", 1));
        assert_eq!(d.engines.len(), ENGINES.len());
        for (bad, why) in [
            ("--runs 0", "--runs needs a positive number"),
            ("--runs", "--runs needs a positive number"),
            ("--n x", "--n needs a positive number"),
            ("--engines emdb,leveldb", "unknown engine `leveldb`"),
            ("--fast", "unknown bench option `--fast`"),
        ] {
            let err = parse(&args(bad)).unwrap_err();
            assert!(err.starts_with(why), "{bad}: {err}");
        }
    }
}
