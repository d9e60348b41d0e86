//! The append path: positioned writes at the tail of a zero-filled, preallocated file.
//!
//! The file grows in chunks (a quarter of its size, between the configured minimum and 64 MiB)
//! that are written with zeros, so an append overwrites allocated blocks and the file size stays
//! the same: `fdatasync` then has no metadata to flush. Zeros past the tail also mark the end of
//! the log for recovery.

use std::sync::Arc;

use emdb_format::limits::MAX_FILE_LEN;

use crate::error::{EngineError, Result};
use crate::log::reader::LogReader;
use crate::storage::StorageFile;

const MIB: u64 = 1 << 20;
const MAX_CHUNK: u64 = 64 * MIB;
const ZERO_BLOCK: usize = 1 << 20;
/// The zeros preallocation writes (in the binary's zero-initialised data: no allocation, no
/// memset per preallocation).
static ZEROS: [u8; ZERO_BLOCK] = [0; ZERO_BLOCK];

#[derive(Debug)]
pub(crate) struct LogWriter {
    file: Arc<dyn StorageFile>,
    /// End of the written log.
    pub(crate) tail: u64,
    /// File length (written log plus zero-filled preallocation).
    pub(crate) allocated: u64,
    min_chunk: u64,
    /// Reusable encode buffer.
    pub(crate) buf: Vec<u8>,
    /// Offsets of the entries of the frame in `buf` (reused, like `buf`).
    pub(crate) offsets: Vec<u64>,
    /// Offset and CRC field of the last frame written (0, 0 if none).
    pub(crate) last_frame: (u64, u32),
}

impl LogWriter {
    pub(crate) fn new(
        file: Arc<dyn StorageFile>,
        tail: u64,
        allocated: u64,
        min_chunk: u64,
    ) -> Self {
        LogWriter {
            file,
            tail,
            allocated,
            min_chunk: min_chunk.max(4096),
            buf: Vec::new(),
            offsets: Vec::new(),
            last_frame: (0, 0),
        }
    }

    /// Makes sure `extra` bytes fit after the tail, growing the file and the map if needed.
    pub(crate) fn reserve(&mut self, extra: u64, reader: &LogReader) -> Result<()> {
        let need = self.tail.saturating_add(extra);
        if need <= self.allocated {
            return Ok(());
        }
        let chunk = (self.allocated / 4).clamp(self.min_chunk, MAX_CHUNK.max(self.min_chunk));
        let new_len = need
            .max(self.allocated + chunk)
            .next_multiple_of(self.min_chunk);
        if new_len > MAX_FILE_LEN {
            return Err(EngineError::FileTooLarge { max: MAX_FILE_LEN });
        }
        let zeros = &ZEROS;
        let mut at = self.allocated;
        while at < new_len {
            let n = usize::try_from(new_len - at)
                .unwrap_or(ZERO_BLOCK)
                .min(ZERO_BLOCK);
            self.file
                .write_at(&zeros[..n], at)
                .map_err(EngineError::io("preallocating the log"))?;
            at += n as u64;
        }
        self.allocated = new_len;
        reader.remap(new_len)
    }

    /// Writes the encode buffer at the tail and advances it; returns the frame's offset.
    pub(crate) fn append_buf(&mut self) -> Result<u64> {
        let at = self.tail;
        self.file
            .write_at(&self.buf, at)
            .map_err(EngineError::io("appending to the log"))?;
        let crc = self
            .buf
            .get(4..8)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        self.last_frame = (at, crc);
        self.tail += self.buf.len() as u64;
        Ok(at)
    }
}
