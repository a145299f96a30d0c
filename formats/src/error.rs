//! Errors of the trace format.
//!
//! Every error names the file and, when it comes from decoding, the byte
//! offset where the problem was found, on one line:
//! `trace.rtrace: offset 1234: corrupt chunk 3 (checksum mismatch: ...)`.
//! Readers never trust their input, so each distinct kind of damage has its
//! own variant: callers (the CLI) can match on them, users can read them.

use std::io;

/// Which interned table an id refers to; used in range errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableName {
    Strings,
    Locs,
    Objects,
    Keys,
    Actors,
}

impl TableName {
    pub fn as_str(self) -> &'static str {
        match self {
            TableName::Strings => "string",
            TableName::Locs => "code location",
            TableName::Objects => "object",
            TableName::Keys => "key",
            TableName::Actors => "actor",
        }
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(thiserror::Error, Debug)]
pub enum FormatError {
    /// The file does not start with the racetrace magic bytes.
    #[error(
        "{file}: offset {offset}: bad magic: not a racetrace trace file (starts with {found})"
    )]
    BadMagic {
        file: String,
        offset: u64,
        /// The first bytes of the file, hex-escaped.
        found: String,
    },

    /// A format version this build cannot read. Checked before anything
    /// else is decoded, so a newer file is never misread.
    #[error(
        "{file}: offset {offset}: unsupported format version {version} (supported: {oldest} to {supported})"
    )]
    UnsupportedVersion {
        file: String,
        offset: u64,
        version: u32,
        /// The oldest and the newest version this build reads.
        oldest: u32,
        supported: u32,
    },

    /// The file is too short to hold the header: there is nothing to
    /// recover (a truncated *body* is not an error, see `Truncation`).
    #[error("{file}: offset {offset}: truncated header: {problem}")]
    TruncatedHeader {
        file: String,
        offset: u64,
        problem: String,
    },

    /// The header record is damaged (checksum or decoding).
    #[error("{file}: offset {offset}: corrupt header ({problem})")]
    CorruptHeader {
        file: String,
        offset: u64,
        problem: String,
    },

    /// A complete chunk whose checksum does not match: the bytes were
    /// damaged after writing. This is corruption, not truncation.
    #[error("{file}: offset {offset}: corrupt chunk {chunk} (checksum mismatch: stored {stored:08x}, computed {computed:08x})")]
    CorruptChunk {
        file: String,
        offset: u64,
        chunk: usize,
        stored: u32,
        computed: u32,
    },

    /// The footer is complete but damaged or inconsistent with the chunks.
    #[error("{file}: offset {offset}: corrupt footer ({problem})")]
    CorruptFooter {
        file: String,
        offset: u64,
        problem: String,
    },

    /// A record that does not decode (bad tag, bad length, bad varint, bad
    /// table entry, event count mismatch, ...).
    #[error("{file}: offset {offset}: malformed record: {problem}")]
    Malformed {
        file: String,
        offset: u64,
        problem: String,
    },

    /// An event record whose tag is not a known event kind.
    #[error(
        "{file}: offset {offset}: malformed record: unknown event kind (tag byte 0x{tag:02x})"
    )]
    UnknownEventKind { file: String, offset: u64, tag: u8 },

    /// An id that does not exist in its table.
    #[error("{file}: offset {offset}: {table} index {id} out of range in {context} ({table} table has {size} entries)")]
    IndexOutOfRange {
        file: String,
        offset: u64,
        table: TableName,
        id: u64,
        size: u64,
        /// What held the id: "event target", "event actor", "key entry", ...
        context: &'static str,
    },

    /// The writer was handed an event or table entry that cannot be
    /// written (an id that was never defined, a chunk too large).
    #[error("{file}: offset {offset}: invalid input to writer: {problem}")]
    InvalidInput {
        file: String,
        offset: u64,
        problem: String,
    },

    #[error("{file}: io error: {action}: {source}")]
    Io {
        file: String,
        action: &'static str,
        #[source]
        source: io::Error,
    },
}

impl FormatError {
    /// Byte offset in the file where the problem was found (`None` for I/O
    /// errors, which have no position).
    pub fn offset(&self) -> Option<u64> {
        use FormatError::*;
        match self {
            BadMagic { offset, .. }
            | UnsupportedVersion { offset, .. }
            | TruncatedHeader { offset, .. }
            | CorruptHeader { offset, .. }
            | CorruptChunk { offset, .. }
            | CorruptFooter { offset, .. }
            | Malformed { offset, .. }
            | UnknownEventKind { offset, .. }
            | IndexOutOfRange { offset, .. }
            | InvalidInput { offset, .. } => Some(*offset),
            Io { .. } => None,
        }
    }

    /// The file the error is about (`<memory>` for in-memory bytes).
    pub fn file(&self) -> &str {
        use FormatError::*;
        match self {
            BadMagic { file, .. }
            | UnsupportedVersion { file, .. }
            | TruncatedHeader { file, .. }
            | CorruptHeader { file, .. }
            | CorruptChunk { file, .. }
            | CorruptFooter { file, .. }
            | Malformed { file, .. }
            | UnknownEventKind { file, .. }
            | IndexOutOfRange { file, .. }
            | InvalidInput { file, .. }
            | Io { file, .. } => file,
        }
    }
}
