//! `emdb verify`: walk every frame with `emdb-format` alone (no engine, no lock) and report each
//! problem with its absolute offset. Exit 0 clean, 1 corrupt, 2 unreadable.

use std::path::Path;

use emdb_engine::storage::OsStorage;
use emdb_format::scan::{LOG_START, Scanner, StopReason, next_valid_frame};
use emdb_format::{DecodeError, FileHeader};
use serde_json::json;

use crate::Failure;
use crate::progress::Progress;

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) offset: u64,
    pub(crate) kind: &'static str,
    pub(crate) detail: String,
}

/// What a walk found.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) frames: u64,
    pub(crate) log_end: u64,
    pub(crate) problems: Vec<Problem>,
    /// A torn tail (a crash artefact; open cuts it off): not corruption.
    pub(crate) torn_tail_at: Option<u64>,
}

pub(crate) fn read_image(path: &Path) -> Result<Vec<u8>, Failure> {
    if path.is_dir() {
        return Err(Failure {
            message: format!("{} is a directory", path.display()),
            status: 2,
        });
    }
    std::fs::read(path).map_err(|e| Failure {
        message: format!("cannot read {}: {e}", path.display()),
        status: 2,
    })
}

/// Walks `image`; the header must already have decoded.
pub(crate) fn walk(image: &[u8], mut on_progress: impl FnMut(u64)) -> Report {
    let mut report = Report::default();
    let mut pos = LOG_START;
    loop {
        let mut scanner = Scanner::new(image, pos);
        for f in scanner.by_ref() {
            report.frames += 1;
            if report.frames % 4096 == 0 {
                on_progress(f.offset);
            }
        }
        let Some(stop) = scanner.stop() else { break };
        report.log_end = report.log_end.max(stop.offset);
        let (kind, detail) = match stop.reason {
            StopReason::EndOfLog => break,
            StopReason::TornTail { .. } => {
                report.torn_tail_at = Some(stop.offset);
                break;
            }
            StopReason::Corrupt { error: Some(e), .. } => ("corrupt frame", e.to_string()),
            StopReason::Corrupt { error: None, .. } => (
                "zeroed region",
                "durable frames follow a region of zeros".to_owned(),
            ),
            StopReason::Unsupported { error } => ("unsupported frame", error.to_string()),
        };
        report.problems.push(Problem {
            offset: stop.offset,
            kind,
            detail,
        });
        match next_valid_frame(image, stop.offset + 8) {
            Some(next) => pos = next,
            None => break,
        }
    }
    report
}

pub(crate) fn run(path: &Path, json_out: bool, progress: &Progress) -> Result<(), Failure> {
    let image = read_image(path)?;
    let header = match FileHeader::decode_region(&image) {
        Ok(h) => h,
        Err(
            e @ (DecodeError::BadMagic
            | DecodeError::Incomplete { .. }
            | DecodeError::UnsupportedVersion { .. }
            | DecodeError::UnsupportedFlags { .. }),
        ) => {
            return Err(Failure {
                message: format!("{}: not a readable emdb database: {e}", path.display()),
                status: 2,
            });
        }
        Err(e) => {
            // Both header copies damaged: corrupt, and nothing after it can be trusted.
            report(
                path,
                json_out,
                &Report {
                    problems: vec![Problem {
                        offset: 0,
                        kind: "header",
                        detail: e.to_string(),
                    }],
                    ..Report::default()
                },
                false,
            );
            return Err(Failure {
                message: String::new(),
                status: 1,
            });
        }
    };
    let bar = progress.bar(image.len() as u64, "verifying");
    let mut rep = walk(&image, |at| bar.set_position(at));
    bar.finish_and_clear();
    // The log below the end an index snapshot was taken at was durable then: a frame there that
    // does not decode is damage, not a torn write (and the next open refuses the file).
    if let (Some(at), Some(end)) = (
        rep.torn_tail_at,
        emdb_engine::checkpointed_log_end(&OsStorage, path, &header.file_id),
    ) && at < end
    {
        rep.torn_tail_at = None;
        rep.problems.push(Problem {
            offset: at,
            kind: "corrupt frame",
            detail: format!(
                "does not decode, below offset {end}, where the index snapshot says the log was \
                 durable: damage, not an interrupted write"
            ),
        });
    }
    report(path, json_out, &rep, header.is_encrypted());
    if rep.problems.is_empty() {
        Ok(())
    } else {
        Err(Failure {
            message: String::new(),
            status: 1,
        })
    }
}

fn report(path: &Path, json_out: bool, rep: &Report, encrypted: bool) {
    if json_out {
        let problems: Vec<_> = rep
            .problems
            .iter()
            .map(|p| json!({ "offset": p.offset, "kind": p.kind, "detail": p.detail }))
            .collect();
        let v = json!({
            "path": path.display().to_string(),
            "clean": rep.problems.is_empty(),
            "frames": rep.frames,
            "log_end": rep.log_end,
            "torn_tail_at": rep.torn_tail_at,
            "encrypted": encrypted,
            "problems": problems,
        });
        println!("{v}");
        return;
    }
    for p in &rep.problems {
        println!("offset {}: {} ({})", p.offset, p.kind, p.detail);
    }
    if let Some(at) = rep.torn_tail_at {
        println!(
            "note: incomplete write at offset {at} (a crash artefact; the next open cuts it off)"
        );
    }
    let verdict = if rep.problems.is_empty() {
        "clean"
    } else {
        "CORRUPT"
    };
    println!(
        "{}: {verdict}, {} frames, log ends at {}",
        path.display(),
        rep.frames,
        rep.log_end
    );
}
