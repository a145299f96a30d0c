//! The first pass over a trace, made once when it is opened: the header,
//! then every chunk frame (CRC checked, table definitions decoded, events
//! section bounded and skipped), then the footer.
//!
//! The frame loop here is also where a trace that *ends early* is told
//! apart from a *damaged* one: it decides which endings become a
//! `Truncation` (no footer, a partial last record, a damaged last chunk
//! with only zeros after it, a zero-filled tail) and which are errors. It
//! ties together the parts decoded in their own modules (`header`, `defs`,
//! `footer`) and collects what they learn into a `Scan`.

use crate::codec;
use crate::error::FormatError;
use crate::model::*;

use super::{ChunkInfo, Extras, Truncation};

/// Everything the first pass learns.
pub(super) struct Scan {
    pub(super) header: Header,
    pub(super) tables: Tables,
    pub(super) extras: Extras,
    pub(super) chunks: Vec<ChunkInfo>,
    pub(super) event_count: u64,
    pub(super) outcome: Option<Outcome>,
    pub(super) truncation: Option<Truncation>,
}

/// The first pass: header, then chunk frames (tables decoded, events
/// skipped), then the footer.
pub(super) struct Scanner<'a> {
    pub(super) file: &'a str,
    pub(super) data: &'a [u8],
    /// The format version of the file (set once the header is read).
    pub(super) version: u32,
}

pub(super) fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

pub(super) fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

impl<'a> Scanner<'a> {
    pub(super) fn malformed(&self, offset: usize, problem: impl Into<String>) -> FormatError {
        FormatError::Malformed {
            file: self.file.to_string(),
            offset: offset as u64,
            problem: problem.into(),
        }
    }

    pub(super) fn scan(&mut self) -> Result<Scan, FormatError> {
        let (header, mut pos) = self.read_header()?;
        self.version = header.format_version;
        let data = self.data;
        let mut tables = Tables::default();
        let mut extras = Extras::default();
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
                        &mut extras,
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
            extras,
            chunks,
            event_count,
            outcome,
            truncation,
        })
    }
}
