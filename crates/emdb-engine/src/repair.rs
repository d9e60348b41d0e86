//! Salvage: copy every intact record of a damaged log into a fresh database.
//!
//! The walk decodes frames from the start; at a bad spot it records the damaged range and
//! resumes at the next offset where a valid frame starts. Batches stay batches (one frame each),
//! so salvaged data keeps its atomicity. Records of a namespace whose creation frame was lost go
//! to a namespace named `recovered-<id>`.

use std::collections::HashMap;
use std::path::Path;

use emdb_format::entry::Op;
use emdb_format::scan::{LOG_START, Scanner, StopReason, next_valid_frame};

use crate::config::EngineConfig;
use crate::engine::{Engine, read_header};
use crate::error::{EngineError, Result};
use crate::log::reader::LogReader;
use crate::recovery::{for_each_entry, read_whole};
use crate::storage::OpenMode;
use crate::write::OwnedOp;

/// What a repair salvaged and lost.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RepairReport {
    /// Frames copied.
    pub frames_salvaged: u64,
    /// Entries copied.
    pub entries_salvaged: u64,
    /// Damaged byte ranges `[start, end)` that were skipped.
    pub lost_ranges: Vec<(u64, u64)>,
    /// Namespaces created for records whose namespace definition was lost.
    pub recovered_namespaces: Vec<String>,
}

impl Engine {
    /// Copies every intact record of the database at `src` into a new database at `dst`
    /// (which must not exist). `src` is only read. The config's sealer opens and seals records.
    pub fn repair(src: &Path, dst: &Path, config: EngineConfig) -> Result<RepairReport> {
        let storage = config.storage.clone();
        if storage
            .exists(dst)
            .map_err(EngineError::io("checking the repair target"))?
        {
            return Err(EngineError::InvalidArgument("repair target already exists"));
        }
        let file = storage
            .open(src, OpenMode::Existing)
            .map_err(EngineError::io("opening the damaged file"))?;
        let header = read_header(file.as_ref())?;
        if header.is_encrypted() != config.sealer.is_some() {
            return Err(EngineError::SealerMismatch {
                file_encrypted: header.is_encrypted(),
            });
        }
        let len = file
            .len()
            .map_err(EngineError::io("reading the file length"))?;
        let image = read_whole(file.as_ref(), len)?;
        let reader = LogReader::new(file, len, false, header.file_id, config.sealer.clone())?;
        let out = Engine::open(dst, config)?;
        let mut report = RepairReport::default();
        // Source namespace id -> target namespace id.
        let mut ns_map: HashMap<u32, u32> = HashMap::from([(0, 0)]);
        let mut pos = LOG_START;
        loop {
            let mut scanner = Scanner::new(&image, pos);
            for sf in scanner.by_ref() {
                let mut ops = Vec::new();
                let walked = for_each_entry(&reader, sf.offset, &sf.frame, |e, _| {
                    match e.op {
                        Op::NsCreate => {
                            let name = String::from_utf8_lossy(e.key).into_owned();
                            let id = out.create_namespace(&name)?;
                            ns_map.insert(e.ns, id);
                        }
                        Op::NsDrop => {
                            if let Some(id) = ns_map.remove(&e.ns) {
                                let name = out.namespaces().into_iter().find(|(i, _)| *i == id);
                                if let Some((_, name)) = name {
                                    out.drop_namespace(&name)?;
                                }
                            }
                        }
                        op => {
                            let ns = match ns_map.get(&e.ns) {
                                Some(id) => *id,
                                None => {
                                    let name = format!("recovered-{}", e.ns);
                                    let id = out.create_namespace(&name)?;
                                    report.recovered_namespaces.push(name);
                                    ns_map.insert(e.ns, id);
                                    id
                                }
                            };
                            ops.push(match op {
                                Op::Put => OwnedOp::Put {
                                    ns,
                                    key: e.key.to_vec(),
                                    value: e.value.to_vec(),
                                    expires_at: e.expires_at,
                                },
                                Op::Delete => OwnedOp::Delete {
                                    ns,
                                    key: e.key.to_vec(),
                                },
                                _ => OwnedOp::Clear { ns },
                            });
                        }
                    }
                    report.entries_salvaged += 1;
                    Ok(())
                });
                match walked {
                    Ok(()) => {
                        let borrowed: Vec<_> = ops.iter().map(OwnedOp::as_write_op).collect();
                        out.commit(&borrowed)?;
                        report.frames_salvaged += 1;
                    }
                    // A frame whose entries do not open is lost like a bad frame.
                    Err(EngineError::Unseal { .. } | EngineError::Corrupted { .. }) => {
                        report
                            .lost_ranges
                            .push((sf.offset, sf.offset + sf.frame.len() as u64));
                    }
                    Err(e) => return Err(e),
                }
            }
            let Some(stop) = scanner.stop() else { break };
            match stop.reason {
                StopReason::EndOfLog => break,
                StopReason::TornTail { .. } => {
                    let end = image
                        .iter()
                        .rposition(|b| *b != 0)
                        .map_or(stop.offset, |p| p as u64 + 1);
                    report.lost_ranges.push((stop.offset, end.max(stop.offset)));
                    break;
                }
                StopReason::Corrupt { .. } | StopReason::Unsupported { .. } => {
                    match next_valid_frame(&image, stop.offset + 8) {
                        Some(next) => {
                            report.lost_ranges.push((stop.offset, next));
                            pos = next;
                        }
                        None => {
                            report.lost_ranges.push((stop.offset, len));
                            break;
                        }
                    }
                }
            }
        }
        out.close()?;
        Ok(report)
    }
}
