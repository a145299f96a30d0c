//! Trace reader: opens a trace without trusting its bytes and streams its
//! events.
//!
//! Opening a file memory-maps it and makes one pass over the chunk frames:
//! it checks each chunk's CRC, decodes the table definitions and *skips*
//! the events sections (they are length-prefixed). Events are decoded
//! later, lazily, by `TraceFile::events()`, straight from the map, with no
//! allocation per event.
//!
//! Nothing in the file is trusted: every length is checked against the
//! bytes that remain, every id against its table, and any damage becomes a
//! `FormatError` naming the offset. A file that simply *ends early* (no
//! footer, or a partial last record — what a killed process leaves) is not
//! an error: the complete chunks are readable and `truncation()` says what
//! was lost. The same holds for a damaged *last* chunk of a file without
//! footer (an interrupted write after a power loss). A damaged chunk with
//! more records after it, or a damaged footer, is corruption: an error.

use std::path::Path;

use crate::error::FormatError;
use crate::model::*;
use crate::sources::*;

mod bytes;
mod defs;
mod events;
mod footer;
mod header;
mod scan;

use bytes::Bytes;
pub use events::Events;
use scan::Scanner;

/// The tables of format version 3 that are not part of `Tables` (which
/// events refer to): source digests and marks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extras {
    pub sources: Vec<SourceDesc>,
    pub marks: Vec<Mark>,
}

/// Why and where a file ended early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truncation {
    /// Offset of the first byte that could not be used (the start of the
    /// partial record, or the end of the file when the footer is missing).
    pub offset: u64,
    pub reason: String,
    /// Chunks recovered.
    pub complete_chunks: usize,
}

/// Where a complete, checksummed chunk lives in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkInfo {
    /// Offset of the chunk's tag byte.
    pub offset: u64,
    /// Index of the chunk's first event in the whole trace.
    pub first_event: u64,
    pub event_count: u32,
    events_start: usize,
    events_len: usize,
}

impl ChunkInfo {
    /// File offset of the chunk's events section.
    pub fn events_offset(&self) -> u64 {
        self.events_start as u64
    }

    /// Size in bytes of the chunk's events section.
    pub fn events_len(&self) -> usize {
        self.events_len
    }
}

pub struct TraceFile {
    path: String,
    bytes: Bytes,
    header: Header,
    tables: Tables,
    extras: Extras,
    chunks: Vec<ChunkInfo>,
    event_count: u64,
    outcome: Option<Outcome>,
    truncation: Option<Truncation>,
}

impl std::fmt::Debug for TraceFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceFile")
            .field("path", &self.path)
            .field("header", &self.header)
            .field("chunks", &self.chunks.len())
            .field("event_count", &self.event_count)
            .field("outcome", &self.outcome)
            .field("truncation", &self.truncation)
            .finish_non_exhaustive()
    }
}

impl TraceFile {
    /// Maps `path` and reads its header, tables and chunk index.
    pub fn open(path: &Path) -> Result<TraceFile, FormatError> {
        let name = path.display().to_string();
        let bytes = Bytes::map_file(path, &name)?;
        Self::parse(name, bytes)
    }

    /// Reads a trace held in memory. Errors name `<memory>` as the file.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<TraceFile, FormatError> {
        Self::parse("<memory>".to_string(), Bytes::Owned(bytes))
    }

    fn parse(path: String, bytes: Bytes) -> Result<TraceFile, FormatError> {
        let scan = Scanner {
            file: &path,
            data: bytes.as_slice(),
            version: 0,
        }
        .scan()?;
        Ok(TraceFile {
            path,
            bytes,
            header: scan.header,
            tables: scan.tables,
            extras: scan.extras,
            chunks: scan.chunks,
            event_count: scan.event_count,
            outcome: scan.outcome,
            truncation: scan.truncation,
        })
    }

    /// The file path (`<memory>` for in-memory bytes).
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Every table entry defined in the complete chunks.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// What each recorded source file held (format version 3; empty for
    /// older traces and for files that could not be read when recording).
    pub fn sources(&self) -> &[SourceDesc] {
        &self.extras.sources
    }

    /// The marks of the trace, in order (format version 3).
    pub fn marks(&self) -> &[Mark] {
        &self.extras.marks
    }

    /// The label of the last mark at or before event `index`, if any.
    pub fn mark_at(&self, index: u64) -> Option<&str> {
        let marks = &self.extras.marks;
        let n = marks.partition_point(|m| m.at_event <= index);
        n.checked_sub(1).map(|i| self.tables.str(marks[i].label))
    }

    /// How the run ended; `None` when the file is truncated.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// `Some` when the file ended early (no footer, or a partial record).
    pub fn truncation(&self) -> Option<&Truncation> {
        self.truncation.as_ref()
    }

    /// Number of events in the complete chunks.
    pub fn event_count(&self) -> u64 {
        self.event_count
    }

    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// The complete chunks, in file order.
    pub fn chunks(&self) -> &[ChunkInfo] {
        &self.chunks
    }

    /// Size of the trace in bytes.
    pub fn byte_len(&self) -> usize {
        self.bytes.as_slice().len()
    }

    /// Iterates over every event of the complete chunks, in order.
    pub fn events(&self) -> Events<'_> {
        Events::new(self, &self.chunks)
    }

    /// Iterates over the events of chunks `range` only (chunks decode
    /// independently, e.g. for parallel decoding).
    pub fn chunk_events(&self, range: std::ops::Range<usize>) -> Events<'_> {
        let end = range.end.min(self.chunks.len());
        let start = range.start.min(end);
        Events::new(self, &self.chunks[start..end])
    }
}
