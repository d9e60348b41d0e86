//! The comparison table: phases x engines from the per-engine JSON results, the best of each row
//! in bold, and emdb's ratio to the best (below 1.0 means emdb is the fastest or smallest).

use std::path::PathBuf;

use serde_json::Value;

fn cell(v: &Value) -> Option<f64> {
    v.get("ms")
        .and_then(Value::as_f64)
        .or_else(|| v.get("bytes").and_then(Value::as_f64))
}

fn show(v: &Value) -> String {
    if let Some(ms) = v.get("ms").and_then(Value::as_f64) {
        if ms >= 10_000.0 {
            format!("{:.1}s", ms / 1e3)
        } else {
            format!("{ms:.0}ms")
        }
    } else if let Some(b) = v.get("bytes").and_then(Value::as_f64) {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    } else {
        "n/a".to_owned()
    }
}

pub fn run(files: &[PathBuf]) {
    let runs: Vec<Value> = files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .filter_map(|t| serde_json::from_str(&t).ok())
        .filter(|v: &Value| v.get("results").is_some())
        .collect();
    if runs.is_empty() {
        eprintln!("no results to report");
        return;
    }
    let names: Vec<String> = runs
        .iter()
        .map(|r| r["engine"].as_str().unwrap_or("?").to_owned())
        .collect();
    let phases: Vec<String> = runs[0]["results"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["phase"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let n = runs[0]["n"].as_u64().unwrap_or(0);
    println!("N = {n}\n");
    println!("| phase | {} | emdb / best |", names.join(" | "));
    println!("|---|{}---:|", "---:|".repeat(names.len()));
    let mut rows = phases.clone();
    rows.push("peak RSS".to_owned());
    for phase in &rows {
        let values: Vec<Value> = runs
            .iter()
            .map(|r| {
                if phase == "peak RSS" {
                    serde_json::json!({ "bytes": r["peak_rss_kib"].as_f64().unwrap_or(0.0) * 1024.0 })
                } else {
                    r["results"]
                        .as_array()
                        .and_then(|a| a.iter().find(|x| x["phase"] == phase.as_str()).cloned())
                        .unwrap_or(Value::Null)
                }
            })
            .collect();
        let best = values.iter().filter_map(cell).fold(f64::INFINITY, f64::min);
        let ours = names
            .iter()
            .position(|n| n == "emdb")
            .and_then(|i| cell(&values[i]));
        let cells: Vec<String> = values
            .iter()
            .map(|v| match cell(v) {
                Some(x) if (x - best).abs() < f64::EPSILON => format!("**{}**", show(v)),
                _ => show(v),
            })
            .collect();
        let ratio = match ours {
            Some(o) if best > 0.0 && best.is_finite() => format!("{:.2}", o / best),
            _ => "n/a".to_owned(),
        };
        println!("| {phase} | {} | {ratio} |", cells.join(" | "));
    }
}
