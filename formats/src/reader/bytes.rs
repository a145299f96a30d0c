//! Where a trace's bytes live: a read-only memory map of its file, or a
//! buffer already in memory.
//!
//! Kept on its own because mapping the file is the reader's one `unsafe`
//! operation, and its safety argument (below) belongs next to it rather
//! than among the parsing code that relies on it.

use std::fs::File;
use std::path::Path;

use crate::error::FormatError;

/// The bytes of a trace: a read-only map of the file, or owned bytes.
pub(super) enum Bytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Bytes {
    /// Maps the file at `path`; I/O errors name it `name`.
    pub(super) fn map_file(path: &Path, name: &str) -> Result<Bytes, FormatError> {
        let io = |action, source| FormatError::Io {
            file: name.to_string(),
            action,
            source,
        };
        let file = File::open(path).map_err(|e| io("cannot open trace file", e))?;
        let len = file.metadata().map_err(|e| io("cannot stat", e))?.len();
        let bytes = if len == 0 {
            // Nothing to map; the header check reports the empty file.
            Bytes::Owned(Vec::new())
        } else {
            // SAFETY: the map is read-only and we rely on the file not being
            // modified or truncated while it is mapped (trace files are
            // written once, then only read). A concurrent truncation could
            // raise SIGBUS on access; a concurrent modification could
            // change bytes after they were validated, which the decoder
            // tolerates because it re-checks every bound and id it reads.
            let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| io("cannot map", e))?;
            Bytes::Mapped(map)
        };
        Ok(bytes)
    }

    pub(super) fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Mapped(map) => map,
            Bytes::Owned(v) => v,
        }
    }
}
