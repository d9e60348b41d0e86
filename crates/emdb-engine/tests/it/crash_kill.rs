//! kill -9: a child process commits batches and acknowledges each after `flush`; the parent
//! kills it at random moments, reopens, and checks that every acknowledged batch is intact,
//! every batch is all-or-nothing, and nothing else is there.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use emdb_engine::{Engine, EngineConfig, WriteOp};

const CHILD_ENV: &str = "EMDB_CRASH_CHILD_DB";
const PER_BATCH: u64 = 3;

fn batch_key(i: u64, j: u64) -> Vec<u8> {
    format!("batch-{i:06}-{j}").into_bytes()
}

fn batch_value(i: u64, j: u64) -> Vec<u8> {
    format!("value-{i}-{j}-{}", "p".repeat(((i * 7 + j) % 300) as usize)).into_bytes()
}

/// The child: runs only when the parent sets the environment variable.
#[test]
#[ignore = "child process of kill_nine_loses_no_acknowledged_batch"]
fn child_writer() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let e = Engine::open(&path, EngineConfig::default().with_prealloc_min(64 << 10)).unwrap();
    let start = e.len(0).unwrap() / PER_BATCH;
    let mut out = std::io::stdout().lock();
    for i in start.. {
        let keys: Vec<_> = (0..PER_BATCH)
            .map(|j| (batch_key(i, j), batch_value(i, j)))
            .collect();
        let ops: Vec<_> = keys
            .iter()
            .map(|(k, v)| WriteOp::Put {
                ns: 0,
                key: k,
                value: v,
                expires_at: 0,
            })
            .collect();
        e.commit(&ops).unwrap();
        e.flush().unwrap();
        writeln!(out, "ACK {i}").unwrap();
        out.flush().unwrap();
        if i % 50 == 0 {
            e.compact(None).unwrap();
        }
    }
}

fn verify(path: &Path, acked: Option<u64>) -> u64 {
    let e = Engine::open(path, EngineConfig::default()).unwrap();
    let mut batches = std::collections::BTreeMap::<u64, u64>::new();
    for r in e.iter(0).unwrap() {
        let (k, v, _) = r.unwrap();
        let s = std::str::from_utf8(&k).expect("foreign key");
        let mut parts = s.strip_prefix("batch-").expect("foreign key").split('-');
        let i: u64 = parts.next().unwrap().parse().unwrap();
        let j: u64 = parts.next().unwrap().parse().unwrap();
        assert_eq!(v, batch_value(i, j), "wrong value for {s}");
        *batches.entry(i).or_default() += 1;
    }
    for (i, n) in &batches {
        assert_eq!(*n, PER_BATCH, "batch {i} is partial");
    }
    let count = batches.len() as u64;
    // Batches are written in order, so the survivors are exactly 0..count.
    assert_eq!(
        batches.keys().copied().collect::<Vec<_>>(),
        (0..count).collect::<Vec<_>>()
    );
    if let Some(a) = acked {
        assert!(count > a, "acknowledged batch {a} lost (have {count})");
    }
    count
}

#[test]
fn kill_nine_loses_no_acknowledged_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.emdb");
    let exe = std::env::current_exe().unwrap();
    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut acked_total = None;
    for round in 0..20 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = Command::new(&exe)
            .args([
                "crash_kill::child_writer",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("ACK ") {
                    let _ = tx.send(n.parse::<u64>().unwrap());
                }
            }
        });
        // Wait for the first acknowledgement so every round kills a writing process.
        let first = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("child never acknowledged");
        std::thread::sleep(Duration::from_millis(5 + seed % 120));
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        let acked = rx.try_iter().last().unwrap_or(first);
        acked_total = Some(acked);
        let count = verify(&path, acked_total);
        assert!(count > acked, "round {round}");
    }
    assert!(acked_total.unwrap() > 20);
}
