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

use crate::codec::{self, ChunkIndexEntry, Footer};
use crate::error::{FormatError, TableName};
use crate::model::*;

mod bytes;
mod events;

use bytes::Bytes;
pub use events::Events;

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
        }
        .scan()?;
        Ok(TraceFile {
            path,
            bytes,
            header: scan.header,
            tables: scan.tables,
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

/// Everything the first pass learns.
struct Scan {
    header: Header,
    tables: Tables,
    chunks: Vec<ChunkInfo>,
    event_count: u64,
    outcome: Option<Outcome>,
    truncation: Option<Truncation>,
}

/// The first pass: header, then chunk frames (tables decoded, events
/// skipped), then the footer.
struct Scanner<'a> {
    file: &'a str,
    data: &'a [u8],
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

impl<'a> Scanner<'a> {
    fn malformed(&self, offset: usize, problem: impl Into<String>) -> FormatError {
        FormatError::Malformed {
            file: self.file.to_string(),
            offset: offset as u64,
            problem: problem.into(),
        }
    }

    fn footer_error(&self, offset: usize, problem: impl Into<String>) -> FormatError {
        FormatError::CorruptFooter {
            file: self.file.to_string(),
            offset: offset as u64,
            problem: problem.into(),
        }
    }

    fn out_of_range(
        &self,
        offset: usize,
        table: TableName,
        id: u64,
        size: usize,
        context: &'static str,
    ) -> FormatError {
        FormatError::IndexOutOfRange {
            file: self.file.to_string(),
            offset: offset as u64,
            table,
            id,
            size: size as u64,
            context,
        }
    }

    fn scan(&self) -> Result<Scan, FormatError> {
        let (header, mut pos) = self.read_header()?;
        let data = self.data;
        let mut tables = Tables::default();
        let mut chunks = Vec::new();
        let mut event_count = 0u64;
        let mut outcome = None;
        let mut truncation = None;
        let mut truncated = |offset: usize, reason: String, chunks: &Vec<ChunkInfo>| {
            truncation = Some(Truncation {
                offset: offset as u64,
                reason,
                complete_chunks: chunks.len(),
            });
        };
        loop {
            let rest = &data[pos..];
            let Some(&tag) = rest.first() else {
                truncated(
                    pos,
                    "no footer: the recording did not finish".into(),
                    &chunks,
                );
                break;
            };
            match tag {
                codec::CHUNK_TAG => {
                    if rest.len() < codec::CHUNK_FRAME_LEN {
                        truncated(pos, "partial chunk frame at end of file".into(), &chunks);
                        break;
                    }
                    let first_event = le_u64(&rest[1..9]);
                    let count = le_u32(&rest[9..13]);
                    let defs_len = le_u32(&rest[13..17]) as usize;
                    let events_len = le_u32(&rest[17..21]) as usize;
                    let stored = le_u32(&rest[21..25]);
                    let total = codec::CHUNK_FRAME_LEN + defs_len + events_len;
                    if rest.len() < total {
                        truncated(
                            pos,
                            format!(
                                "partial chunk at end of file ({} of {} bytes present)",
                                rest.len(),
                                total
                            ),
                            &chunks,
                        );
                        break;
                    }
                    let mut crc = crc32fast::Hasher::new();
                    crc.update(&rest[1..21]);
                    crc.update(&rest[codec::CHUNK_FRAME_LEN..total]);
                    let computed = crc.finalize();
                    if computed != stored && rest[total..].iter().all(|&b| b == 0) {
                        // The last record of a file without footer: an
                        // interrupted write (power loss, OS crash) leaves
                        // exactly this, so recover what precedes it. A
                        // damaged chunk with data after it is corruption.
                        truncated(
                            pos,
                            format!(
                                "last chunk is incomplete or damaged (checksum mismatch: stored {stored:08x}, computed {computed:08x})"
                            ),
                            &chunks,
                        );
                        break;
                    }
                    if computed != stored {
                        return Err(FormatError::CorruptChunk {
                            file: self.file.to_string(),
                            offset: pos as u64,
                            chunk: chunks.len(),
                            stored,
                            computed,
                        });
                    }
                    if first_event != event_count {
                        return Err(self.malformed(
                            pos + 1,
                            format!(
                                "chunk {} starts at event {first_event}, expected {event_count}",
                                chunks.len()
                            ),
                        ));
                    }
                    // Every event takes at least one byte: a count beyond
                    // that is impossible (and would mislead size hints).
                    if count as usize > events_len {
                        return Err(self.malformed(
                            pos + 9,
                            format!(
                                "chunk {} declares {count} events in {events_len} bytes",
                                chunks.len()
                            ),
                        ));
                    }
                    let defs_start = pos + codec::CHUNK_FRAME_LEN;
                    self.read_defs(
                        defs_start,
                        defs_len,
                        &mut tables,
                        event_count + count as u64,
                    )?;
                    chunks.push(ChunkInfo {
                        offset: pos as u64,
                        first_event,
                        event_count: count,
                        events_start: defs_start + defs_len,
                        events_len,
                    });
                    event_count += u64::from(count);
                    pos += total;
                }
                codec::FOOTER_TAG => {
                    match self.read_footer(pos, &chunks, event_count, &tables)? {
                        Some(o) => outcome = Some(o),
                        None => truncated(pos, "partial footer at end of file".into(), &chunks),
                    }
                    break;
                }
                _ if rest.iter().all(|&b| b == 0) => {
                    // Some file systems leave zero-filled blocks after a
                    // crash: that is lost data, not damage.
                    truncated(pos, "zero-filled tail at end of file".into(), &chunks);
                    break;
                }
                _ => {
                    return Err(self.malformed(
                        pos,
                        format!("unknown record tag 0x{tag:02x} (expected a chunk or the footer)"),
                    ))
                }
            }
        }
        Ok(Scan {
            header,
            tables,
            chunks,
            event_count,
            outcome,
            truncation,
        })
    }

    /// Checks magic and version (before anything else), then decodes the
    /// header. Returns it and the offset of the first chunk.
    fn read_header(&self) -> Result<(Header, usize), FormatError> {
        let data = self.data;
        let truncated = |problem: String| FormatError::TruncatedHeader {
            file: self.file.to_string(),
            offset: data.len() as u64,
            problem,
        };
        let magic_len = codec::MAGIC.len();
        let head = &data[..data.len().min(magic_len)];
        if head != &codec::MAGIC[..head.len()] {
            return Err(FormatError::BadMagic {
                file: self.file.to_string(),
                offset: 0,
                found: codec::escape_bytes(head),
            });
        }
        if data.len() < magic_len + 4 {
            return Err(truncated(format!(
                "file is {} bytes long, too short for a trace header",
                data.len()
            )));
        }
        let version = le_u32(&data[magic_len..]);
        if version != crate::model::FORMAT_VERSION {
            return Err(FormatError::UnsupportedVersion {
                file: self.file.to_string(),
                offset: magic_len as u64,
                version,
                supported: crate::model::FORMAT_VERSION,
            });
        }
        if data.len() < codec::HEADER_PREFIX_LEN {
            return Err(truncated(format!(
                "file is {} bytes long, too short for a trace header",
                data.len()
            )));
        }
        let len = le_u32(&data[12..]) as usize;
        let stored = le_u32(&data[16..]);
        let start = codec::HEADER_PREFIX_LEN;
        let Some(body) = data.get(start..start + len) else {
            return Err(truncated(format!(
                "header needs {len} bytes, {} present",
                data.len() - start
            )));
        };
        let corrupt = |problem: String| FormatError::CorruptHeader {
            file: self.file.to_string(),
            offset: start as u64,
            problem,
        };
        let computed = crc32fast::hash(body);
        if computed != stored {
            return Err(corrupt(format!(
                "checksum mismatch: stored {stored:08x}, computed {computed:08x}"
            )));
        }
        let (header, used): (Header, usize) = codec::decode_bounded(body, codec::STRINGS_ONLY)
            .map_err(|e| corrupt(format!("cannot decode: {e}")))?;
        if used != len {
            return Err(corrupt(format!(
                "{} unused bytes after the header",
                len - used
            )));
        }
        if header.format_version != version {
            return Err(corrupt(format!(
                "header says format version {}, file prefix says {version}",
                header.format_version
            )));
        }
        Ok((header, start + len))
    }

    /// Decodes one defs section into `tables`, validating every id an entry
    /// holds against the entries defined before it.
    fn read_defs(
        &self,
        start: usize,
        len: usize,
        tables: &mut Tables,
        events_through_chunk: u64,
    ) -> Result<(), FormatError> {
        let defs = &self.data[start..start + len];
        let mut pos = 0;
        while pos < defs.len() {
            let entry_offset = start + pos;
            let tag = defs[pos];
            let body = &defs[pos + 1..];
            let n_strings = tables.strings.len();
            let check_str = |id: StrId, context| {
                if id.index() < n_strings {
                    Ok(())
                } else {
                    Err(self.out_of_range(
                        entry_offset,
                        TableName::Strings,
                        id.0.into(),
                        n_strings,
                        context,
                    ))
                }
            };
            let used = match tag {
                codec::DEF_STRING => {
                    let (s, used): (String, usize) = self.decode_entry(body, entry_offset, tag)?;
                    tables.strings.push(s);
                    used
                }
                codec::DEF_LOC => {
                    let (loc, used): (CodeLoc, usize) =
                        self.decode_entry(body, entry_offset, tag)?;
                    check_str(loc.file, "code location entry")?;
                    check_str(loc.function, "code location entry")?;
                    tables.locs.push(loc);
                    used
                }
                codec::DEF_OBJECT => {
                    let (obj, used): (ObjectDesc, usize) =
                        self.decode_entry(body, entry_offset, tag)?;
                    check_str(obj.type_name, "object entry")?;
                    check_str(obj.label, "object entry")?;
                    tables.objects.push(obj);
                    used
                }
                codec::DEF_KEY => {
                    let (key, used): (KeyDesc, usize) =
                        self.decode_entry(body, entry_offset, tag)?;
                    if key.obj.index() >= tables.objects.len() {
                        return Err(self.out_of_range(
                            entry_offset,
                            TableName::Objects,
                            key.obj.0.into(),
                            tables.objects.len(),
                            "key entry",
                        ));
                    }
                    check_str(key.member, "key entry")?;
                    tables.keys.push(key);
                    used
                }
                codec::DEF_ACTOR => {
                    let (actor, used): (ActorDesc, usize) =
                        self.decode_entry(body, entry_offset, tag)?;
                    check_str(actor.name, "actor entry")?;
                    if let Some(parent) = actor.parent {
                        if parent.index() >= tables.actors.len() {
                            return Err(self.out_of_range(
                                entry_offset,
                                TableName::Actors,
                                parent.0.into(),
                                tables.actors.len(),
                                "actor entry (parent)",
                            ));
                        }
                    }
                    // The creating event precedes the definition, so it is
                    // in this chunk or an earlier one.
                    if let Some(ev) = actor.created_by_event {
                        if ev >= events_through_chunk {
                            return Err(self.malformed(
                                entry_offset,
                                format!(
                                    "actor {} created by event {ev}, which is not in this or an earlier chunk",
                                    tables.actors.len()
                                ),
                            ));
                        }
                    }
                    tables.actors.push(actor);
                    used
                }
                _ => {
                    return Err(
                        self.malformed(entry_offset, format!("unknown table entry tag {tag}"))
                    )
                }
            };
            pos += 1 + used;
        }
        Ok(())
    }

    /// Decodes the table entry after `tag` at `entry_offset` (entries hold
    /// only strings and scalars); returns it and its encoded length.
    fn decode_entry<T: bincode::Decode<()>>(
        &self,
        body: &[u8],
        entry_offset: usize,
        tag: u8,
    ) -> Result<(T, usize), FormatError> {
        codec::decode_bounded(body, codec::STRINGS_ONLY)
            .map_err(|e| self.malformed(entry_offset, format!("bad table entry (tag {tag}): {e}")))
    }

    /// Reads the footer at `pos`. `Ok(None)` if it is cut short (a crash
    /// while finishing): then the trace is merely truncated.
    fn read_footer(
        &self,
        pos: usize,
        chunks: &[ChunkInfo],
        event_count: u64,
        tables: &Tables,
    ) -> Result<Option<Outcome>, FormatError> {
        let rest = &self.data[pos..];
        if rest.len() < codec::FOOTER_FRAME_LEN {
            return Ok(None);
        }
        let len = le_u32(&rest[1..5]) as usize;
        let stored = le_u32(&rest[5..9]);
        let body_end = codec::FOOTER_FRAME_LEN + len;
        let end = body_end + codec::TRAILER_LEN;
        if rest.len() < end {
            return Ok(None);
        }
        let body = &rest[codec::FOOTER_FRAME_LEN..body_end];
        let computed = crc32fast::hash(body);
        if computed != stored {
            return Err(self.footer_error(
                pos,
                format!("checksum mismatch: stored {stored:08x}, computed {computed:08x}"),
            ));
        }
        let (footer, used): (Footer, usize) = codec::decode_bounded(body, codec::FOOTER_FACTOR)
            .map_err(|e| self.footer_error(pos, format!("cannot decode: {e}")))?;
        if used != len {
            return Err(self.footer_error(pos, format!("{} unused bytes in footer", len - used)));
        }
        let trailer = &rest[body_end..end];
        if le_u64(trailer) != pos as u64 || trailer[8..] != codec::END_MAGIC {
            return Err(self.footer_error(pos + body_end, "bad trailer"));
        }
        if rest.len() > end {
            return Err(self.malformed(
                pos + end,
                format!("{} unexpected bytes after the footer", rest.len() - end),
            ));
        }
        // The footer must describe exactly the chunks that were scanned.
        let index: Vec<ChunkIndexEntry> = chunks
            .iter()
            .map(|c| ChunkIndexEntry {
                offset: c.offset,
                first_event: c.first_event,
                event_count: c.event_count,
            })
            .collect();
        if footer.chunks != index {
            return Err(self.footer_error(
                pos,
                format!(
                    "chunk index lists {} chunks that differ from the {} in the file",
                    footer.chunks.len(),
                    index.len()
                ),
            ));
        }
        if footer.event_count != event_count {
            return Err(self.footer_error(
                pos,
                format!(
                    "footer counts {} events, chunks hold {event_count}",
                    footer.event_count
                ),
            ));
        }
        let sizes = [
            tables.strings.len() as u64,
            tables.locs.len() as u64,
            tables.objects.len() as u64,
            tables.keys.len() as u64,
            tables.actors.len() as u64,
        ];
        if footer.table_sizes != sizes {
            return Err(self.footer_error(
                pos,
                format!(
                    "footer table sizes {:?} differ from the tables in the file {sizes:?}",
                    footer.table_sizes
                ),
            ));
        }
        Ok(Some(footer.outcome))
    }
}
