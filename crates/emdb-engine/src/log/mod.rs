//! The log file: the writer that appends frames at the tail, the reader that decodes entries at
//! offsets (through a memory map or `pread`), and the map itself.

pub mod mmap;
pub(crate) mod reader;
pub(crate) mod writer;
