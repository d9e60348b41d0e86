//! The comparison tables from the per-run JSON files: phases x engines with the median of the
//! repeated runs (and their range when there is more than one), the best median of each row in
//! bold, and emdb's ratio to the best (at most 1.00 means emdb is the fastest or smallest); then
//! the group-commit table and the raw `fdatasync` baseline.

use std::path::PathBuf;

use serde_json::Value;

fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let mid = xs.len() / 2;
    Some(if xs.len() % 2 == 1 {
        xs[mid]
    } else {
        (xs[mid - 1] + xs[mid]) / 2.0
    })
}

/// A phase's measurement and its unit: milliseconds or bytes.
fn value(v: &Value) -> Option<(f64, bool)> {
    v.get("ms")
        .and_then(Value::as_f64)
        .map(|ms| (ms, true))
        .or_else(|| v.get("bytes").and_then(Value::as_f64).map(|b| (b, false)))
}

fn show(x: f64, is_ms: bool) -> String {
    if !is_ms {
        format!("{:.1} MiB", x / (1024.0 * 1024.0))
    } else if x >= 10_000.0 {
        format!("{:.1}s", x / 1e3)
    } else if x >= 10.0 {
        format!("{x:.0}ms")
    } else {
        format!("{x:.2}ms")
    }
}

/// One engine's results for one phase across its runs.
struct Cell {
    median: f64,
    min: f64,
    max: f64,
    is_ms: bool,
}

impl Cell {
    fn of(samples: &[(f64, bool)]) -> Option<Cell> {
        let is_ms = samples.first()?.1;
        let xs: Vec<f64> = samples.iter().map(|s| s.0).collect();
        Some(Cell {
            median: median(xs.clone())?,
            min: xs.iter().copied().fold(f64::INFINITY, f64::min),
            max: xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            is_ms,
        })
    }

    fn render(&self, runs: usize, best: bool) -> String {
        let m = show(self.median, self.is_ms);
        let m = if best { format!("**{m}**") } else { m };
        if runs > 1 && self.is_ms {
            format!(
                "{m} ({}-{})",
                show(self.min, true).trim_end_matches("ms"),
                show(self.max, true)
            )
        } else {
            m
        }
    }
}

/// Reads every file that holds a run's JSON; names each one skipped and why on stderr.
fn load(files: &[PathBuf]) -> Vec<Value> {
    let read = |f: &PathBuf| -> Result<Value, String> {
        let text = std::fs::read_to_string(f).map_err(|e| e.to_string())?;
        serde_json::from_str(&text).map_err(|e| e.to_string())
    };
    files
        .iter()
        .filter_map(|f| {
            read(f)
                .inspect_err(|e| eprintln!("skipping {}: {e}", f.display()))
                .ok()
        })
        .collect()
}

pub fn run(files: &[PathBuf]) {
    let all = load(files);
    let runs: Vec<&Value> = all.iter().filter(|v| v.get("results").is_some()).collect();
    if runs.is_empty() {
        eprintln!("no results to report");
    } else {
        phases_table(&runs);
    }
    let gc: Vec<&Value> = all
        .iter()
        .filter(|v| v.get("group_commit").is_some())
        .collect();
    if !gc.is_empty() {
        group_commit_table(&gc);
    }
}

fn phases_table(runs: &[&Value]) {
    let mut names: Vec<&str> = Vec::new();
    for r in runs {
        let name = r["engine"].as_str().unwrap_or("?");
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let phases: Vec<String> = runs[0]["results"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["phase"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let per_engine = runs.len() / names.len().max(1);
    println!(
        "N = {}, {per_engine} run(s) per engine; median (min-max)\n",
        runs[0]["n"].as_u64().unwrap_or(0)
    );
    println!("| phase | {} | emdb / best |", names.join(" | "));
    println!("|---|{}---:|", "---:|".repeat(names.len()));
    let mut rows = phases.clone();
    rows.push("peak RSS".to_owned());
    for phase in &rows {
        let cells: Vec<Option<Cell>> = names
            .iter()
            .map(|name| {
                let samples: Vec<(f64, bool)> = runs
                    .iter()
                    .filter(|r| r["engine"] == *name)
                    .filter_map(|r| {
                        if phase == "peak RSS" {
                            Some((r["peak_rss_kib"].as_f64()? * 1024.0, false))
                        } else {
                            let a = r["results"].as_array()?;
                            value(a.iter().find(|x| x["phase"] == phase.as_str())?)
                        }
                    })
                    .collect();
                Cell::of(&samples)
            })
            .collect();
        let best = cells
            .iter()
            .flatten()
            .map(|c| c.median)
            .fold(f64::INFINITY, f64::min);
        let ours = names
            .iter()
            .position(|n| *n == "emdb")
            .and_then(|i| cells[i].as_ref());
        let shown: Vec<String> = cells
            .iter()
            .map(|c| match c {
                Some(c) => c.render(per_engine, c.median == best),
                None => "n/a".to_owned(),
            })
            .collect();
        let ratio = match ours {
            Some(o) if best > 0.0 && best.is_finite() => format!("{:.2}", o.median / best),
            _ => "n/a".to_owned(),
        };
        println!("| {phase} | {} | {ratio} |", shown.join(" | "));
    }
}

fn group_commit_table(gc: &[&Value]) {
    let rate = |policy: &str, threads: u64| {
        median(
            gc.iter()
                .filter_map(|r| r["group_commit"].as_array())
                .flatten()
                .filter(|row| row["policy"] == policy && row["threads"] == threads)
                .filter_map(|row| row["records_per_sec"].as_f64())
                .collect(),
        )
    };
    println!(
        "\nGroup commit: per-record durable writes, records/s, median of {} run(s)\n",
        gc.len()
    );
    println!("| threads | default | x 1 thread | `Group` | x 1 thread |");
    println!("|---:|---:|---:|---:|---:|");
    let one = (rate("default", 1), rate("group", 1));
    for threads in [1, 2, 4, 8] {
        let d = rate("default", threads);
        let g = rate("group", threads);
        let fmt = |x: Option<f64>| x.map_or("n/a".to_owned(), |x| format!("{x:.0}"));
        let ratio = |x: Option<f64>, base: Option<f64>| match (x, base) {
            (Some(x), Some(b)) if b > 0.0 => format!("{:.2}x", x / b),
            _ => "n/a".to_owned(),
        };
        println!(
            "| {threads} | {} | {} | {} | {} |",
            fmt(d),
            ratio(d, one.0),
            fmt(g),
            ratio(g, one.1)
        );
    }
    let baseline = |field: &str| median(gc.iter().filter_map(|r| r[field].as_f64()).collect());
    if let (Some(in_place), Some(append)) = (
        baseline("fdatasync_1000_ms"),
        baseline("fdatasync_append_1000_ms"),
    ) {
        println!(
            "\n1,000 x (write 200 bytes + fdatasync), same disk, no engine: {in_place:.0}ms in a \
             preallocated file, {append:.0}ms appending to a growing file"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::load;

    #[test]
    fn unreadable_and_malformed_files_are_skipped_and_the_rest_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.json");
        let bad = dir.path().join("bad.json");
        std::fs::write(&good, r#"{"engine": "emdb", "results": []}"#).unwrap();
        std::fs::write(&bad, "{not json").unwrap();
        let all = load(&[bad, dir.path().join("missing.json"), good]);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0]["engine"], "emdb");
    }
}
