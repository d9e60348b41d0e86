//! Side-by-side benchmark of emdb against redb, LMDB, fjall, sled and emdb 0.8.5, with the
//! workload of redb's `lmdb_benchmark`. Each build has one engine feature; `cargo xtask bench
//! --compare` builds and runs each in its own process and prints the comparison table. Feature
//! `emdb-aes` runs ours with encryption at rest instead, for its own table.
//!
//! Usage: `emdb-bench [--n N] [--out FILE] [--group-commit [--threads 1,2,4,8] [--policy
//! default|group] [--per-thread N]] [--interleaved ROUNDS]`, or `emdb-bench --report FILE...`
//! to print the comparison table of earlier runs.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(any(
        feature = "emdb",
        feature = "emdb-aes",
        feature = "emdb085",
        feature = "redb",
        feature = "sled",
        feature = "fjall",
        feature = "lmdb"
    )),
    allow(dead_code, reason = "a report-only build compiles no engine")
)]

mod emdb_like;
mod engine;
mod report;
mod workload;

#[cfg(feature = "fjall")]
mod fjall_db;
#[cfg(feature = "lmdb")]
mod lmdb_db;
#[cfg(feature = "redb")]
mod redb_db;
#[cfg(feature = "sled")]
mod sled_db;

use std::path::PathBuf;

use serde_json::json;

use crate::engine::BenchEngine;
use crate::workload::Measure;

struct Args {
    n: usize,
    out: Option<PathBuf>,
    group_commit: bool,
    /// Rounds of individual durable writes alternating with the no-engine baseline (0: none).
    interleaved: usize,
    /// Group-commit runs: thread counts, policies (by label) and records per thread.
    threads: Vec<usize>,
    policies: Vec<String>,
    per_thread: usize,
}

const USAGE: &str = "usage: emdb-bench [--n N] [--out FILE] [--group-commit [--threads 1,2,4,8] \
[--policy default,group] [--per-thread N]] [--interleaved ROUNDS] | --report FILE...";

fn number(v: Option<String>, flag: &str) -> Result<usize, String> {
    v.and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{flag} takes a number"))
}

fn list<T: std::str::FromStr>(v: Option<String>, flag: &str) -> Result<Vec<T>, String> {
    v.as_deref()
        .unwrap_or_default()
        .split(',')
        .map(|x| x.parse().ok())
        .collect::<Option<Vec<T>>>()
        .ok_or_else(|| format!("{flag} takes a comma-separated list"))
}

fn args(raw: Vec<String>) -> Result<Args, String> {
    let mut a = Args {
        n: 1_000_000,
        out: None,
        group_commit: false,
        interleaved: 0,
        threads: vec![1, 2, 4, 8],
        policies: vec!["default".into(), "group".into()],
        per_thread: 5_000,
    };
    let mut it = raw.into_iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--n" => a.n = number(it.next(), "--n")?,
            "--out" => a.out = Some(it.next().ok_or("--out takes a file")?.into()),
            "--group-commit" => a.group_commit = true,
            "--interleaved" => a.interleaved = number(it.next(), "--interleaved")?,
            "--threads" => a.threads = list(it.next(), "--threads")?,
            "--policy" => a.policies = list(it.next(), "--policy")?,
            "--per-thread" => a.per_thread = number(it.next(), "--per-thread")?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if let Some(p) = a
        .policies
        .iter()
        .find(|p| !["default", "group"].contains(&p.as_str()))
    {
        return Err(format!("unknown policy {p} (default or group)"));
    }
    Ok(a)
}

/// Peak resident set of this process, KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn run<E: BenchEngine>(a: &Args) {
    let dir = tempfile::tempdir_in(std::env::current_dir().unwrap()).unwrap();
    eprintln!("{}: n = {}", E::NAME, a.n);
    let results = workload::run::<E>(dir.path(), a.n);
    let rows: Vec<_> = results
        .iter()
        .map(|(phase, m)| match m {
            Measure::Time(d) => json!({ "phase": phase, "ms": d.as_secs_f64() * 1e3 }),
            Measure::Bytes(b) => json!({ "phase": phase, "bytes": b }),
            Measure::NotSupported => json!({ "phase": phase }),
        })
        .collect();
    let out =
        json!({ "engine": E::NAME, "n": a.n, "results": rows, "peak_rss_kib": peak_rss_kib() });
    match &a.out {
        Some(p) => std::fs::write(p, out.to_string()).unwrap(),
        None => println!("{out}"),
    }
}

/// The disk's floor for the individual-writes phase, with no engine: 1,000 times, write 200
/// bytes and `fdatasync`. Returns milliseconds for appending to a growing file (each sync also
/// commits the new size) and for writing in place into a preallocated file (data only).
#[cfg(feature = "emdb")]
fn fdatasync_baseline() -> (f64, f64) {
    use std::io::Write;
    use std::os::unix::fs::FileExt;
    use std::time::Instant;

    let dir = tempfile::tempdir_in(std::env::current_dir().unwrap()).unwrap();
    let record = [0x5au8; 200];
    let mut append = std::fs::File::create(dir.path().join("append")).unwrap();
    let start = Instant::now();
    for _ in 0..1_000 {
        append.write_all(&record).unwrap();
        append.sync_data().unwrap();
    }
    let append_ms = start.elapsed().as_secs_f64() * 1e3;
    let in_place = std::fs::File::create(dir.path().join("in_place")).unwrap();
    in_place.write_all_at(&vec![0u8; 200 * 1_000], 0).unwrap();
    in_place.sync_all().unwrap();
    (append_ms, sync_floor(&in_place, 0))
}

/// Milliseconds for 1,000 x (write 200 bytes in place + `fdatasync`) into `file` from `from`
/// on (preallocated by the caller): the floor of 1,000 individual durable writes.
#[cfg(feature = "emdb")]
fn sync_floor(file: &std::fs::File, from: u64) -> f64 {
    use std::os::unix::fs::FileExt;
    use std::time::Instant;

    let record = [0x5au8; 200];
    let start = Instant::now();
    for i in 0..1_000u64 {
        file.write_all_at(&record, from + i * 200).unwrap();
        file.sync_data().unwrap();
    }
    start.elapsed().as_secs_f64() * 1e3
}

/// The individual-writes phase against its no-engine floor, alternating in one process so
/// both see the same state of the disk (whose pace drifts over seconds): each round, 1,000
/// `insert` + `flush` on a database of `a.n` records, then 1,000 x (write 200 bytes +
/// `fdatasync`) in a preallocated file. Prints both times per round and their ratio.
#[cfg(feature = "emdb")]
fn interleaved_individual_writes(a: &Args) {
    use std::os::unix::fs::FileExt;
    use std::time::Instant;

    let dir = tempfile::tempdir_in(std::env::current_dir().unwrap()).unwrap();
    let db = emdb::EmdbBuilder::new()
        .path(dir.path().join("db.emdb"))
        .enable_range_scans(true)
        .build()
        .unwrap();
    let mut rng = workload::Rng::new(0x00c0_ffee);
    let pairs: Vec<_> = (0..a.n).map(|_| rng.pair()).collect();
    db.insert_many(pairs.iter().map(|(k, v)| (k, v))).unwrap();
    db.flush().unwrap();
    let floor = std::fs::File::create(dir.path().join("floor")).unwrap();
    floor
        .write_all_at(&vec![0u8; 200 * 1_000 * a.interleaved], 0)
        .unwrap();
    floor.sync_all().unwrap();
    let mut rows = Vec::new();
    for round in 0..a.interleaved {
        let start = Instant::now();
        for _ in 0..1_000 {
            let (k, v) = rng.pair();
            db.insert(k, v).unwrap();
            db.flush().unwrap();
        }
        let ours = start.elapsed().as_secs_f64() * 1e3;
        let base = sync_floor(&floor, round as u64 * 200 * 1_000);
        eprintln!(
            "  emdb {ours:.1} ms, floor {base:.1} ms: {:.2}x",
            ours / base
        );
        rows.push(json!({ "emdb_ms": ours, "floor_ms": base }));
    }
    let out = json!({ "engine": "emdb", "n": a.n, "interleaved_individual_writes": rows });
    match &a.out {
        Some(p) => std::fs::write(p, out.to_string()).unwrap(),
        None => println!("{out}"),
    }
}

#[cfg(feature = "emdb")]
fn group_commit(a: &Args) {
    use std::time::{Duration, Instant};

    use emdb::{EmdbBuilder, FlushPolicy};
    let per_thread = a.per_thread;
    let mut rows = Vec::new();
    for (label, policy) in [
        ("default", FlushPolicy::OnEachFlush),
        (
            "group",
            FlushPolicy::Group {
                max_wait: Duration::from_micros(500),
                max_batch: 8,
            },
        ),
    ] {
        if !a.policies.iter().any(|p| p == label) {
            continue;
        }
        for &threads in &a.threads {
            let dir = tempfile::tempdir_in(std::env::current_dir().unwrap()).unwrap();
            let db = EmdbBuilder::new()
                .path(dir.path().join("gc.emdb"))
                .flush_policy(policy)
                .build()
                .unwrap();
            let start = Instant::now();
            std::thread::scope(|s| {
                for t in 0..threads {
                    let db = db.clone();
                    s.spawn(move || {
                        let mut rng = workload::Rng::new(t as u64 + 1);
                        for _ in 0..per_thread {
                            let (k, v) = rng.pair();
                            db.insert(k, v).unwrap();
                            db.flush().unwrap();
                        }
                    });
                }
            });
            let secs = start.elapsed().as_secs_f64();
            let rate = (threads * per_thread) as f64 / secs;
            eprintln!("  {label} {threads} threads: {rate:.0} durable records/s");
            rows.push(json!({ "policy": label, "threads": threads, "records_per_sec": rate }));
        }
    }
    let (append_ms, in_place_ms) = fdatasync_baseline();
    eprintln!("  1,000 x fdatasync: {append_ms:.0} ms appending, {in_place_ms:.0} ms in place");
    let out = json!({
        "engine": "emdb",
        "group_commit": rows,
        "fdatasync_1000_ms": in_place_ms,
        "fdatasync_append_1000_ms": append_ms,
    });
    match &a.out {
        Some(p) => std::fs::write(p, out.to_string()).unwrap(),
        None => println!("{out}"),
    }
}

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if raw.first().map(String::as_str) == Some("--report") {
        let files: Vec<PathBuf> = raw[1..].iter().map(PathBuf::from).collect();
        report::run(&files);
        return;
    }
    let a = match args(raw) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("emdb-bench: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    if a.group_commit {
        #[cfg(feature = "emdb")]
        group_commit(&a);
        return;
    }
    if a.interleaved > 0 {
        #[cfg(feature = "emdb")]
        interleaved_individual_writes(&a);
        return;
    }
    #[cfg(feature = "emdb")]
    run::<emdb_like::ours::Ours>(&a);
    #[cfg(feature = "emdb-aes")]
    run::<emdb_like::ours_aes::OursAes>(&a);
    #[cfg(feature = "emdb085")]
    run::<emdb_like::v085::V085>(&a);
    #[cfg(feature = "redb")]
    run::<redb_db::Redb>(&a);
    #[cfg(feature = "sled")]
    run::<sled_db::Sled>(&a);
    #[cfg(feature = "fjall")]
    run::<fjall_db::Fjall>(&a);
    #[cfg(feature = "lmdb")]
    run::<lmdb_db::Lmdb>(&a);
    let _ = &a;
}

#[cfg(test)]
mod tests {
    use super::args;

    fn parse(a: &[&str]) -> Result<super::Args, String> {
        args(a.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn flags_set_their_fields_and_the_rest_keep_their_defaults() {
        let a = parse(&["--n", "1000", "--group-commit", "--threads", "1,8"]).unwrap();
        assert_eq!((a.n, a.group_commit, a.threads), (1000, true, vec![1, 8]));
        assert_eq!((a.per_thread, a.interleaved, a.out), (5_000, 0, None));
        assert_eq!(a.policies, ["default", "group"]);
    }

    #[test]
    fn bad_arguments_are_reported_not_panicked_on() {
        for (given, says) in [
            (&["--bogus"][..], "unknown argument --bogus"),
            (&["--n", "many"], "--n takes a number"),
            (&["--n"], "--n takes a number"),
            (
                &["--threads", "1,x"],
                "--threads takes a comma-separated list",
            ),
            (&["--policy", "default,fast"], "unknown policy fast"),
            (&["--out"], "--out takes a file"),
        ] {
            let e = parse(given)
                .err()
                .unwrap_or_else(|| panic!("{given:?} was accepted"));
            assert!(e.starts_with(says), "{given:?}: {e}");
        }
    }
}
