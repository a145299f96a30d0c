//! The footer and trailer: how the run ended, plus a summary (chunk
//! index, event count, table sizes) that must match what the scan found
//! in the chunks.
//!
//! Apart from the frame loop because it cross-checks everything before
//! it, with its own rule for damage: a footer cut short only truncates the
//! trace (`Ok(None)`), while a complete footer that is damaged or
//! disagrees with the chunks is corruption.

use crate::codec::{self, ChunkIndexEntry, Footer};
use crate::error::FormatError;
use crate::model::*;

use super::scan::{le_u32, le_u64, Scanner};
use super::ChunkInfo;

impl Scanner<'_> {
    fn footer_error(&self, offset: usize, problem: impl Into<String>) -> FormatError {
        FormatError::CorruptFooter {
            file: self.file.to_string(),
            offset: offset as u64,
            problem: problem.into(),
        }
    }

    /// Reads the footer at `pos`. `Ok(None)` if it is cut short (a crash
    /// while finishing): then the trace is merely truncated.
    pub(super) fn read_footer(
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
