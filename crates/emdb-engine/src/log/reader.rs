//! Decoding entries at known offsets, through the current memory map or with `pread`.
//!
//! The map is replaced, never locked: when the writer grows the file it stores a new, longer map;
//! readers that loaded the old one keep using it (its bytes never change). The writer stores the
//! new map before it writes a frame past the old end, and publishes the frame's offsets in the
//! index only after writing it, so a reader that found an offset in the index always loads a map
//! that covers it.

use std::sync::Arc;

use arc_swap::ArcSwap;
use emdb_format::entry::EntryHeader;
use emdb_format::sealed::{ENVELOPE_HEADER_LEN, SealedRef};
use emdb_format::{ENTRY_HEADER_LEN, EntryRef};

use crate::error::{Corruption, EngineError, Result};
use crate::index::{indexes, misindexed};
use crate::log::mmap::Mapping;
use crate::sealer::{Sealer, entry_aad};
use crate::storage::StorageFile;

/// How much of each entry [`LogReader::touch`] brings into cache: a record with a short key and
/// a value of up to ~200 bytes (the common case a range page reads) in full; longer values get
/// their head, and the hardware prefetcher follows the copy of the rest.
const TOUCH_SPAN: usize = 256;

/// A value read from the log: borrowed from a shared map, or owned.
#[derive(Debug, Clone)]
pub enum ValueBytes {
    /// `len` bytes at `start` of a mapping that stays valid while this lives. Invariant:
    /// `start + len` lies within the mapping (both come from an entry decoded from it).
    Mapped {
        /// The mapping.
        map: Arc<Mapping>,
        /// Start offset within it.
        start: usize,
        /// Length.
        len: usize,
    },
    /// A copy (pread path or encrypted file).
    Owned(Vec<u8>),
}

impl ValueBytes {
    /// Length in bytes, without touching them.
    pub fn len(&self) -> usize {
        match self {
            ValueBytes::Mapped { len, .. } => *len,
            ValueBytes::Owned(v) => v.len(),
        }
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            ValueBytes::Mapped { map, start, len } => map.span(*start, *len),
            ValueBytes::Owned(v) => v,
        }
    }
}

#[derive(Debug)]
pub(crate) struct LogReader {
    file: Arc<dyn StorageFile>,
    map: Option<ArcSwap<Mapping>>,
    file_id: [u8; 16],
    sealer: Option<Arc<dyn Sealer>>,
    /// Plain entries at or past this offset skip their CRC on read: this process checked them
    /// (their frame's CRC, at open) or wrote them, and the file lock keeps other writers out.
    /// Entries before it (the part a snapshot let open skip) are checked on every read.
    verified_from: u64,
}

fn corrupt(offset: u64, e: emdb_format::DecodeError) -> EngineError {
    EngineError::Corrupted {
        offset,
        reason: Corruption::Frame(e),
    }
}

impl LogReader {
    /// A reader over `file`; maps `[0, len)` when `use_mmap` and the storage can map.
    pub(crate) fn new(
        file: Arc<dyn StorageFile>,
        len: u64,
        use_mmap: bool,
        file_id: [u8; 16],
        sealer: Option<Arc<dyn Sealer>>,
    ) -> Result<Self> {
        let map = if use_mmap {
            file.map(len)
                .map_err(EngineError::io("mapping the log"))?
                .map(ArcSwap::new)
        } else {
            None
        };
        Ok(LogReader {
            file,
            map,
            file_id,
            sealer,
            verified_from: u64::MAX,
        })
    }

    /// Trusts plain entries at or past `offset`; see the field's doc.
    pub(crate) fn set_verified_from(&mut self, offset: u64) {
        self.verified_from = offset;
    }

    /// Decodes the plain entry at `offset` from `bytes` (which start there), checking its CRC
    /// unless this process already verified or wrote it.
    pub(crate) fn decode_plain<'b>(
        &self,
        offset: u64,
        bytes: &'b [u8],
    ) -> std::result::Result<(EntryRef<'b>, usize), emdb_format::DecodeError> {
        if offset >= self.verified_from {
            EntryRef::decode_trusted(bytes)
        } else {
            EntryRef::decode(bytes)
        }
    }

    /// The `Put` entry of a plaintext log at `offset`, decoded in place from `map`: the
    /// point-read decode for entries this process wrote, the checked decode for the rest (as
    /// [`LogReader::decode_plain`]). An offset past the map's end is `Incomplete`.
    pub(crate) fn put_in<'m>(
        &self,
        map: &'m Mapping,
        offset: u64,
    ) -> std::result::Result<EntryRef<'m>, emdb_format::DecodeError> {
        let bytes = usize::try_from(offset)
            .ok()
            .and_then(|at| map.as_slice().get(at..))
            .unwrap_or_default();
        if offset >= self.verified_from {
            EntryRef::decode_put_trusted(bytes)
        } else {
            EntryRef::decode(bytes).map(|(e, _)| e)
        }
    }

    pub(crate) fn file(&self) -> &Arc<dyn StorageFile> {
        &self.file
    }

    pub(crate) fn file_id(&self) -> &[u8; 16] {
        &self.file_id
    }

    pub(crate) fn sealer(&self) -> Option<&Arc<dyn Sealer>> {
        self.sealer.as_ref()
    }

    /// Replaces the map with one of `[0, len)` (called by the writer after growing the file).
    pub(crate) fn remap(&self, len: u64) -> Result<()> {
        if let Some(slot) = &self.map
            && let Some(m) = self
                .file
                .map(len)
                .map_err(EngineError::io("remapping the log"))?
        {
            slot.store(m);
        }
        Ok(())
    }

    /// The current map of a plaintext file (values can be borrowed from it), if any.
    pub(crate) fn plain_mapping(&self) -> Option<Arc<Mapping>> {
        if self.sealer.is_some() {
            return None;
        }
        self.mapping()
    }

    /// The current map, if reads go through one.
    pub(crate) fn mapping(&self) -> Option<Arc<Mapping>> {
        self.map.as_ref().map(ArcSwap::load_full)
    }

    /// Prefetches the first [`TOUCH_SPAN`] bytes at `offset`, so that a run of reads overlaps
    /// its cache misses instead of paying them one decode (and one copy) at a time. Only a
    /// hint: does nothing without a map.
    pub(crate) fn touch(map: Option<&Mapping>, offset: u64) {
        if let (Some(m), Ok(at)) = (map, usize::try_from(offset)) {
            m.prefetch(at, TOUCH_SPAN);
        }
    }

    /// Decodes the entry at `offset` and hands it to `f`.
    pub(crate) fn with_entry<R>(
        &self,
        offset: u64,
        f: impl FnOnce(EntryRef<'_>) -> R,
    ) -> Result<R> {
        self.with_item(offset, |bytes| self.decode(offset, bytes, f))
    }

    /// [`LogReader::with_entry`] through `map`, a mapping from [`LogReader::mapping`] that
    /// covers `offset` (any mapping loaded after the offset was published does), or with
    /// `pread` when `None`. Lets a caller reading many entries load the map once.
    pub(crate) fn with_entry_in<R>(
        &self,
        map: Option<&Mapping>,
        offset: u64,
        f: impl FnOnce(EntryRef<'_>) -> R,
    ) -> Result<R> {
        self.with_item_in(map, offset, |bytes| self.decode(offset, bytes, f))
    }

    /// Hands `f` the bytes from the item at `offset` on, through the current map or `pread`.
    fn with_item<R>(&self, offset: u64, f: impl FnOnce(&[u8]) -> Result<R>) -> Result<R> {
        match &self.map {
            Some(slot) => self.with_item_in(Some(&slot.load()), offset, f),
            None => self.with_item_in(None, offset, f),
        }
    }

    /// [`LogReader::with_item`] through `map` (see [`LogReader::with_entry_in`]).
    fn with_item_in<R>(
        &self,
        map: Option<&Mapping>,
        offset: u64,
        f: impl FnOnce(&[u8]) -> Result<R>,
    ) -> Result<R> {
        let at = usize::try_from(offset).map_err(|_| EngineError::FileTooLarge { max: 0 })?;
        match map {
            Some(m) => f(m.as_slice().get(at..).unwrap_or_default()),
            None => f(&self.read_item(offset)?),
        }
    }

    /// Hands `f` the entry an index slot of namespace `ns` points at, through the current map
    /// or `pread`. Anything but one of that namespace's puts is `Corrupted` (`Misindexed`, see
    /// [`crate::index::indexes`]).
    pub(crate) fn with_indexed<R>(
        &self,
        ns: u32,
        offset: u64,
        f: impl FnOnce(EntryRef<'_>) -> R,
    ) -> Result<R> {
        match &self.map {
            Some(slot) => self.with_indexed_in(Some(&slot.load()), ns, offset, f),
            None => self.with_indexed_in(None, ns, offset, f),
        }
    }

    /// [`LogReader::with_indexed`] through `map` (see [`LogReader::with_entry_in`]). A plaintext
    /// log's entries this process wrote are decoded with the point-read decode.
    pub(crate) fn with_indexed_in<R>(
        &self,
        map: Option<&Mapping>,
        ns: u32,
        offset: u64,
        f: impl FnOnce(EntryRef<'_>) -> R,
    ) -> Result<R> {
        if let (Some(m), None) = (map, &self.sealer) {
            return match self.put_in(m, offset) {
                Ok(e) if indexes(ns, &e) => Ok(f(e)),
                Ok(_) => Err(misindexed(offset, ns)),
                Err(e) => Err(corrupt(offset, e)),
            };
        }
        let ours = |e: EntryRef<'_>| indexes(ns, &e).then(|| f(e));
        self.with_entry_in(map, offset, ours)?
            .ok_or_else(|| misindexed(offset, ns))
    }

    fn decode<R>(&self, offset: u64, bytes: &[u8], f: impl FnOnce(EntryRef<'_>) -> R) -> Result<R> {
        if let Some(sealer) = &self.sealer {
            let plain = self.open_sealed(sealer.as_ref(), offset, bytes)?;
            let (e, _) = EntryRef::decode_trusted(&plain).map_err(|e| corrupt(offset, e))?;
            return Ok(f(e));
        }
        let (e, _) = self
            .decode_plain(offset, bytes)
            .map_err(|e| corrupt(offset, e))?;
        Ok(f(e))
    }

    /// The plaintext entry sealed in the envelope at the start of `bytes` (found at `offset`).
    /// Its authentication covers the entry's bytes, so the entry's own CRC need not be checked
    /// again when it is decoded.
    fn open_sealed(&self, sealer: &dyn Sealer, offset: u64, bytes: &[u8]) -> Result<Vec<u8>> {
        // The whole envelope is read to authenticate it: its lines are requested with the
        // header's instead of one after another by the decode and the copy.
        crate::log::mmap::prefetch_bytes(bytes.get(..TOUCH_SPAN).unwrap_or(bytes));
        let (env, _) = SealedRef::decode(bytes).map_err(|e| corrupt(offset, e))?;
        sealer
            .open(&entry_aad(&self.file_id, offset), env.sealed)
            .map_err(|_| EngineError::Unseal { offset })
    }

    /// Decrypts the sealed entry at `offset` once; if `keep` accepts it, returns its value in
    /// the buffer it was decrypted into (moved to its front: no second allocation) with its
    /// expiry. A sealed point read compares the key and takes the value from this one opening.
    /// `None` when the log is not sealed or `keep` refuses the entry.
    pub(crate) fn sealed_value_if(
        &self,
        offset: u64,
        keep: impl FnOnce(&EntryRef<'_>) -> bool,
    ) -> Result<Option<(Vec<u8>, u64)>> {
        match &self.map {
            Some(slot) => self.sealed_value_in(Some(&slot.load()), offset, keep),
            None => self.sealed_value_in(None, offset, keep),
        }
    }

    /// [`LogReader::sealed_value_if`] through `map` (see [`LogReader::with_entry_in`]).
    fn sealed_value_in(
        &self,
        map: Option<&Mapping>,
        offset: u64,
        keep: impl FnOnce(&EntryRef<'_>) -> bool,
    ) -> Result<Option<(Vec<u8>, u64)>> {
        let Some(sealer) = &self.sealer else {
            return Ok(None);
        };
        let mut plain = self.with_item_in(map, offset, |bytes| {
            self.open_sealed(sealer.as_ref(), offset, bytes)
        })?;
        let (e, _) = EntryRef::decode_trusted(&plain).map_err(|e| corrupt(offset, e))?;
        if !keep(&e) {
            return Ok(None);
        }
        let (start, len, exp) = (ENTRY_HEADER_LEN + e.key.len(), e.value.len(), e.expires_at);
        plain.truncate(start + len);
        plain.drain(..start);
        Ok(Some((plain, exp)))
    }

    /// The record (key, value, expiry) an index slot of namespace `ns` points at, read through
    /// `map` as [`LogReader::with_indexed_in`] reads it; the value is left empty unless
    /// `values`. A sealed entry's value is the buffer it was decrypted into.
    pub(crate) fn record_in(
        &self,
        map: Option<&Mapping>,
        ns: u32,
        offset: u64,
        values: bool,
    ) -> Result<(Vec<u8>, Vec<u8>, u64)> {
        if self.sealer.is_none() {
            return self.with_indexed_in(map, ns, offset, |e| {
                let value = if values { e.value.to_vec() } else { Vec::new() };
                (e.key.to_vec(), value, e.expires_at)
            });
        }
        let mut key = Vec::new();
        let ours = |e: &EntryRef<'_>| {
            key = e.key.to_vec();
            indexes(ns, e)
        };
        match self.sealed_value_in(map, offset, ours)? {
            Some((value, exp)) => Ok((key, if values { value } else { Vec::new() }, exp)),
            None => Err(misindexed(offset, ns)),
        }
    }

    /// Reads the bytes of the item at `offset` with `pread`.
    fn read_item(&self, offset: u64) -> Result<Vec<u8>> {
        let head_len = if self.sealer.is_some() {
            ENVELOPE_HEADER_LEN
        } else {
            ENTRY_HEADER_LEN
        };
        let mut head = vec![0u8; head_len];
        self.read_item_at(&mut head, offset)?;
        let total = if self.sealer.is_some() {
            let n = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
            (ENVELOPE_HEADER_LEN + n).next_multiple_of(8)
        } else {
            EntryHeader::decode(&head)
                .map_err(|e| corrupt(offset, e))?
                .encoded_len()
        };
        if total > emdb_format::limits::MAX_FRAME_LEN {
            return Err(corrupt(offset, emdb_format::DecodeError::LengthOverflow));
        }
        let mut buf = vec![0u8; total];
        self.read_item_at(&mut buf, offset)?;
        Ok(buf)
    }

    /// Fills `buf` from the item at `offset`. A read that runs into the end of the file means
    /// the item does not fit in the log (an index entry pointing past its end, as a damaged
    /// snapshot can make): corruption at the item, as the map path reports it, not an I/O error.
    fn read_item_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        self.file.read_at(buf, offset).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                let needed = buf.len() as u64;
                corrupt(offset, emdb_format::DecodeError::Incomplete { needed })
            } else {
                EngineError::io("reading an entry")(e)
            }
        })
    }

    /// The value at `offset`, borrowed from the map when possible, with its expiry, if `keep`
    /// accepts the entry (a point read compares the key in the same decode); `None` if not.
    pub(crate) fn value_if(
        &self,
        offset: u64,
        keep: impl FnOnce(&EntryRef<'_>) -> bool,
    ) -> Result<Option<(ValueBytes, u64)>> {
        if self.sealer.is_none()
            && let Some(slot) = &self.map
        {
            // Loaded after the caller read `offset` from the index, so it covers it.
            let m = slot.load_full();
            let at = usize::try_from(offset).unwrap_or(usize::MAX);
            let bytes = m.as_slice().get(at..).unwrap_or_default();
            let (e, _) = self
                .decode_plain(offset, bytes)
                .map_err(|e| corrupt(offset, e))?;
            if !keep(&e) {
                return Ok(None);
            }
            let start = at + ENTRY_HEADER_LEN + e.key.len();
            let (len, exp) = (e.value.len(), e.expires_at);
            return Ok(Some((ValueBytes::Mapped { map: m, start, len }, exp)));
        }
        self.with_entry(offset, |e| {
            keep(&e).then(|| (ValueBytes::Owned(e.value.to_vec()), e.expires_at))
        })
    }

    /// Reads `[start, end)` of the file (for replaying frames written during a compaction).
    pub(crate) fn read_span(&self, start: u64, end: u64) -> Result<Vec<u8>> {
        let len = usize::try_from(end.saturating_sub(start))
            .map_err(|_| EngineError::InvalidArgument("span too large"))?;
        let mut buf = vec![0u8; len];
        if let Some(slot) = &self.map {
            let m = slot.load();
            let s = usize::try_from(start).unwrap_or(usize::MAX);
            if let Some(src) = m.as_slice().get(s..s.saturating_add(len)) {
                buf.copy_from_slice(src);
                return Ok(buf);
            }
        }
        self.file
            .read_at(&mut buf, start)
            .map_err(EngineError::io("reading the log"))?;
        Ok(buf)
    }
}

#[cfg(test)]
mod tests;
