//! `emdb stat`: what a database holds, read with the format layer alone (no lock needed).
//!
//! Live records are counted by replaying the log in memory; for an encrypted file (records
//! cannot be read without the key) they are reported as unknown.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use emdb_format::entry::Op;
use emdb_format::frame::FrameItem;
use emdb_format::scan::{LOG_START, Scanner};
use emdb_format::{CipherId, FileHeader, FrameKind};
use serde_json::json;

use crate::Failure;
use crate::verify::read_image;

#[derive(Default)]
struct Live {
    /// Namespace id -> (name, key -> encoded bytes of its live entry).
    namespaces: BTreeMap<u32, (String, HashMap<Vec<u8>, u64>)>,
}

fn cipher_name(c: CipherId) -> String {
    match c {
        CipherId::None => "none".into(),
        CipherId::Aes256Gcm => "aes-256-gcm".into(),
        CipherId::ChaCha20Poly1305 => "chacha20-poly1305".into(),
        other => format!("unknown ({})", other.to_byte()),
    }
}

fn snapshot_state(path: &Path, header: &FileHeader) -> &'static str {
    let snap = emdb_engine::snapshot_path(path);
    match std::fs::read(&snap) {
        Err(_) => "absent",
        Ok(bytes) => {
            if bytes.get(..8) == Some(b"EMDBSNP1") && bytes.get(16..32) == Some(&header.file_id[..])
            {
                "present (for this file)"
            } else {
                "stale (for another file; ignored at open)"
            }
        }
    }
}

#[allow(clippy::cast_precision_loss, reason = "a ratio for display")]
pub(crate) fn run(path: &Path, json_out: bool) -> Result<(), Failure> {
    let image = read_image(path)?;
    let header = FileHeader::decode_region(&image).map_err(|e| {
        Failure::new(format!(
            "{}: not a readable emdb database: {e}",
            path.display()
        ))
    })?;
    let mut kinds: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut live = Live::default();
    live.namespaces.insert(0, (String::new(), HashMap::new()));
    let mut scanner = Scanner::new(&image, LOG_START);
    for f in scanner.by_ref() {
        let kind = match f.frame.kind {
            FrameKind::Put => "put",
            FrameKind::Delete => "delete",
            FrameKind::NsCreate => "namespace create",
            FrameKind::NsDrop => "namespace drop",
            FrameKind::Clear => "clear",
            FrameKind::Batch => "batch",
        };
        *kinds.entry(kind).or_default() += 1;
        for (_, item, used) in f.frame.items().flatten() {
            let FrameItem::Entry(e) = item else { continue };
            match e.op {
                Op::Put => {
                    if let Some((_, m)) = live.namespaces.get_mut(&e.ns) {
                        m.insert(e.key.to_vec(), used as u64);
                    }
                }
                Op::Delete => {
                    if let Some((_, m)) = live.namespaces.get_mut(&e.ns) {
                        m.remove(e.key);
                    }
                }
                Op::Clear => {
                    if let Some((_, m)) = live.namespaces.get_mut(&e.ns) {
                        m.clear();
                    }
                }
                Op::NsCreate => {
                    live.namespaces.insert(
                        e.ns,
                        (String::from_utf8_lossy(e.key).into_owned(), HashMap::new()),
                    );
                }
                Op::NsDrop => {
                    live.namespaces.remove(&e.ns);
                }
            }
        }
    }
    let log_end = scanner.position();
    let file_size = image.len() as u64;
    let encrypted = header.is_encrypted();
    let live_bytes: u64 = live.namespaces.values().flat_map(|(_, m)| m.values()).sum();
    let log_bytes = log_end.saturating_sub(LOG_START);
    let garbage = if encrypted || log_bytes == 0 {
        None
    } else {
        Some(1.0 - live_bytes as f64 / log_bytes as f64)
    };
    let per_ns: Vec<(String, Option<u64>)> = live
        .namespaces
        .values()
        .map(|(name, m)| (name.clone(), (!encrypted).then_some(m.len() as u64)))
        .collect();
    let snapshot = snapshot_state(path, &header);
    if json_out {
        let namespaces: Vec<_> = per_ns
            .iter()
            .map(|(n, c)| json!({ "name": n, "live_records": c }))
            .collect();
        let v = json!({
            "path": path.display().to_string(),
            "format_version": header.version,
            "created_unix_ms": header.created_unix_ms,
            "flags": header.flags,
            "encrypted": encrypted,
            "cipher": cipher_name(header.cipher),
            "frames": kinds,
            "namespaces": namespaces,
            "logical_size": log_end,
            "file_size": file_size,
            "garbage_ratio": garbage,
            "snapshot": snapshot,
        });
        println!("{v}");
        return Ok(());
    }
    println!("file            {}", path.display());
    println!("format version  {}", header.version);
    println!("created         {} (unix ms)", header.created_unix_ms);
    println!(
        "flags           {:#x}{}",
        header.flags,
        if encrypted { " (encrypted)" } else { "" }
    );
    println!("cipher          {}", cipher_name(header.cipher));
    println!("logical size    {log_end} bytes");
    println!(
        "file size       {file_size} bytes ({} preallocated)",
        file_size.saturating_sub(log_end)
    );
    match garbage {
        Some(g) => println!("garbage ratio   {:.1}%", g * 100.0),
        None => println!("garbage ratio   unknown (encrypted)"),
    }
    println!("snapshot        {snapshot}");
    println!("frames:");
    for (k, n) in &kinds {
        println!("  {k:<18} {n}");
    }
    println!("live records per namespace:");
    for (name, count) in &per_ns {
        let shown = if name.is_empty() {
            "(default)"
        } else {
            name.as_str()
        };
        match count {
            Some(c) => println!("  {shown:<18} {c}"),
            None => println!("  {shown:<18} unknown (encrypted)"),
        }
    }
    Ok(())
}
