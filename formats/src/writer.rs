//! Streaming trace writer.
//!
//! The recorder calls `add_*` to define table entries as it first sees
//! them and `event` for every visible operation. Definitions and events are
//! gathered into the current chunk (definitions first) and the chunk is
//! written once its encoded size reaches the chunk size, so a process that
//! dies leaves every complete chunk readable, each with all the definitions
//! its events need.
//!
//! The chunk is ended lazily, at the start of the *next* event, rather than
//! right after the event that filled it. That way an entry defined just
//! after the event that first mentions it (the child actor of a `Spawn`,
//! defined once its creation event has an index) still lands in the same
//! chunk as that event. The other order works too: an actor defined
//! *before* its creation event (`created_by_event >= events_written()`)
//! holds the chunk open until that event is written. Either way a chunk
//! carries every definition its events need and every actor's creation
//! event, which is what lets a truncated file stand on its own.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::codec::{self, ChunkIndexEntry, CodecState, Footer, BINCODE, MAX_EVENT_BYTES};
use crate::error::FormatError;
use crate::model::*;
use crate::sources::*;

/// Default amount of encoded events per chunk.
pub const DEFAULT_CHUNK_SIZE: usize = 64 * 1024;
/// Upper bound on the chunk size, so that every length fits its u32 field.
pub const MAX_CHUNK_SIZE: usize = 1 << 30;

pub struct TraceWriter<W: Write> {
    out: W,
    /// Names the output in errors.
    name: String,
    /// File offset of the next byte handed to `out`.
    offset: u64,
    chunk_size: usize,
    /// Table entries defined since the last chunk was written.
    defs: Vec<u8>,
    /// Encoded events of the current chunk; reused, never shrunk.
    events: Vec<u8>,
    chunk_events: u32,
    events_written: u64,
    enc: CodecState,
    sizes: TableSizes,
    chunk_index: Vec<ChunkIndexEntry>,
    /// The current chunk must not end before this many events are written:
    /// an actor defined in it names a creation event still to come.
    hold_open_until: u64,
}

/// How far ahead an actor's `created_by_event` may point and still hold the
/// chunk open; further is a caller bug, not worth unbounded buffering.
const MAX_FORWARD_CREATION: u64 = 64;

/// Number of entries defined so far in each table.
#[derive(Clone, Copy, Debug, Default)]
struct TableSizes {
    strings: u32,
    locs: u32,
    objects: u32,
    keys: u32,
    actors: u32,
}

/// Returns the id of the next entry and counts it.
fn next_id(count: &mut u32) -> u32 {
    let id = *count;
    *count = count
        .checked_add(1)
        .expect("trace table exceeds 2^32 entries");
    id
}

impl TraceWriter<BufWriter<File>> {
    /// Creates (or truncates) `path` and writes the header.
    pub fn create(path: &Path, header: &Header) -> Result<Self, FormatError> {
        let name = path.display().to_string();
        let file = File::create(path).map_err(|source| FormatError::Io {
            file: name.clone(),
            action: "cannot create trace file",
            source,
        })?;
        Self::with_name(BufWriter::new(file), header, name)
    }
}

impl<W: Write> TraceWriter<W> {
    /// Writes the header to `out`. The header's `format_version` is
    /// replaced by the version actually written (`FORMAT_VERSION`).
    pub fn new(out: W, header: &Header) -> Result<Self, FormatError> {
        Self::with_name(out, header, "<output>".to_string())
    }

    fn with_name(out: W, header: &Header, name: String) -> Result<Self, FormatError> {
        let mut w = TraceWriter {
            out,
            name,
            offset: 0,
            chunk_size: DEFAULT_CHUNK_SIZE,
            defs: Vec::new(),
            events: Vec::with_capacity(DEFAULT_CHUNK_SIZE + 2 * MAX_EVENT_BYTES),
            chunk_events: 0,
            events_written: 0,
            enc: CodecState::new(0),
            sizes: TableSizes::default(),
            chunk_index: Vec::new(),
            hold_open_until: 0,
        };
        let header = Header {
            format_version: crate::model::FORMAT_VERSION,
            ..header.clone()
        };
        let body = bincode::encode_to_vec(&header, BINCODE).map_err(|e| w.invalid(e))?;
        let len = u32::try_from(body.len()).map_err(|_| w.invalid("header too large"))?;
        let mut prefix = Vec::with_capacity(codec::HEADER_PREFIX_LEN);
        prefix.extend_from_slice(&codec::MAGIC);
        prefix.extend_from_slice(&crate::model::FORMAT_VERSION.to_le_bytes());
        prefix.extend_from_slice(&len.to_le_bytes());
        prefix.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        w.write_out(&prefix)?;
        w.write_out(&body)?;
        Ok(w)
    }

    /// Sets the amount of encoded events (plus definitions) after which a
    /// chunk is written. Clamped to 1 byte ..= 1 GiB. Smaller chunks lose
    /// less on a crash; larger ones compress slightly better.
    pub fn with_chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = bytes.clamp(1, MAX_CHUNK_SIZE);
        let want = self.chunk_size.min(DEFAULT_CHUNK_SIZE * 16) + 2 * MAX_EVENT_BYTES;
        self.events.reserve(want.saturating_sub(self.events.len()));
        self
    }

    /// Appends a table entry (tag + bincode) to the current defs section.
    fn push_def<T: bincode::Encode>(&mut self, tag: u8, entry: &T) {
        self.defs.push(tag);
        // Encoding these plain structs into a Vec has no failure path: the
        // derived encoders only fail when the writer does, and a Vec's
        // writer cannot.
        bincode::encode_into_std_write(entry, &mut self.defs, BINCODE)
            .expect("encoding a table entry into memory cannot fail");
    }

    /// Defines the next string; returns its id. Interning is the caller's job.
    pub fn add_string(&mut self, s: &str) -> StrId {
        self.push_def(codec::DEF_STRING, &s);
        StrId(next_id(&mut self.sizes.strings))
    }

    pub fn add_loc(&mut self, loc: CodeLoc) -> LocId {
        self.push_def(codec::DEF_LOC, &loc);
        let id = LocId(next_id(&mut self.sizes.locs));
        self.enc.set_loc_count(self.sizes.locs as usize);
        id
    }

    pub fn add_object(&mut self, obj: ObjectDesc) -> ObjId {
        self.push_def(codec::DEF_OBJECT, &obj);
        ObjId(next_id(&mut self.sizes.objects))
    }

    pub fn add_key(&mut self, key: KeyDesc) -> KeyId {
        self.push_def(codec::DEF_KEY, &key);
        KeyId(next_id(&mut self.sizes.keys))
    }

    /// Records what a source file held (format version 3). `source.file`
    /// must be a string already defined.
    pub fn add_source(&mut self, source: &SourceDesc) {
        self.push_def(codec::DEF_SOURCE, source);
    }

    /// Marks the point before the next event with `label` (a string
    /// already defined): the mark applies from the event `events_written()`
    /// on.
    pub fn add_mark(&mut self, label: StrId) {
        let mark = Mark {
            label,
            at_event: self.events_written,
        };
        self.push_def(codec::DEF_MARK, &mark);
    }

    /// Defines the next actor. A child can be defined right after its
    /// creation event or right before it (`created_by_event` =
    /// `events_written()`, the index the event is about to get); the chunk
    /// is held open until that event is written. The reader rejects a
    /// `created_by_event` that is not in the file.
    pub fn add_actor(&mut self, actor: ActorDesc) -> ActorId {
        if let Some(ev) = actor.created_by_event {
            if ev >= self.events_written && ev - self.events_written < MAX_FORWARD_CREATION {
                self.hold_open_until = self.hold_open_until.max(ev + 1);
            }
        }
        self.push_def(codec::DEF_ACTOR, &actor);
        ActorId(next_id(&mut self.sizes.actors))
    }

    /// Appends one event. Allocation-free: the chunk buffer is reused.
    ///
    /// The actor, the location, and key/object targets must already be
    /// defined; actor targets may be defined right after (a `Spawn` names
    /// the child before the child's entry exists).
    pub fn event(&mut self, ev: &Event) -> Result<(), FormatError> {
        if self.events.len() + self.defs.len() >= self.chunk_size
            && self.events_written >= self.hold_open_until
        {
            self.end_chunk()?;
        }
        self.check_event(ev)?;
        let mut buf = [0u8; MAX_EVENT_BYTES];
        let n = codec::encode_event(&mut self.enc, ev, &mut buf);
        self.events.extend_from_slice(&buf[..n]);
        self.chunk_events += 1;
        self.events_written += 1;
        Ok(())
    }

    #[inline]
    fn check_event(&self, ev: &Event) -> Result<(), FormatError> {
        let target_ok = match ev.kind.target_kind() {
            TargetKind::Key => ev.target < self.sizes.keys,
            TargetKind::Obj => ev.target < self.sizes.objects,
            // May be defined right after this event (see above); the
            // reader checks it against the final table.
            TargetKind::Actor => true,
        };
        if ev.actor.0 < self.sizes.actors && ev.loc.0 < self.sizes.locs && target_ok {
            return Ok(());
        }
        Err(self.invalid(format!(
            "event {} ({} by actor {} at loc {}, target {}) refers to an undefined id \
             (tables: {} actors, {} locs, {} keys, {} objects)",
            self.events_written,
            ev.kind.name(),
            ev.actor.0,
            ev.loc.0,
            ev.target,
            self.sizes.actors,
            self.sizes.locs,
            self.sizes.keys,
            self.sizes.objects
        )))
    }

    /// Index the next event will have (= number of events so far).
    pub fn events_written(&self) -> u64 {
        self.events_written
    }

    /// Ends the current chunk (if it holds anything), writes it and
    /// flushes the output, so everything so far survives a crash. (If an
    /// actor was just defined ahead of its creation event, the chunk stays
    /// open until that event is written.)
    pub fn flush(&mut self) -> Result<(), FormatError> {
        if self.events_written >= self.hold_open_until {
            self.end_chunk()?;
        }
        self.out.flush().map_err(|source| self.io("flush", source))
    }

    /// Writes the last chunk and the footer; returns the output.
    pub fn finish(mut self, outcome: &Outcome) -> Result<W, FormatError> {
        self.end_chunk()?;
        let footer = Footer {
            outcome: outcome.clone(),
            event_count: self.events_written,
            chunks: std::mem::take(&mut self.chunk_index),
            table_sizes: [
                u64::from(self.sizes.strings),
                u64::from(self.sizes.locs),
                u64::from(self.sizes.objects),
                u64::from(self.sizes.keys),
                u64::from(self.sizes.actors),
            ],
        };
        let body = bincode::encode_to_vec(&footer, BINCODE).map_err(|e| self.invalid(e))?;
        let len = u32::try_from(body.len()).map_err(|_| self.invalid("footer too large"))?;
        let footer_offset = self.offset;
        let mut frame = Vec::with_capacity(codec::FOOTER_FRAME_LEN);
        frame.push(codec::FOOTER_TAG);
        frame.extend_from_slice(&len.to_le_bytes());
        frame.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        self.write_out(&frame)?;
        self.write_out(&body)?;
        let mut trailer = Vec::with_capacity(codec::TRAILER_LEN);
        trailer.extend_from_slice(&footer_offset.to_le_bytes());
        trailer.extend_from_slice(&codec::END_MAGIC);
        self.write_out(&trailer)?;
        self.out
            .flush()
            .map_err(|source| self.io("flush", source))?;
        Ok(self.out)
    }

    /// Writes pending chunks but no footer and returns the output: the
    /// bytes a killed process leaves behind. For tests and tools.
    pub fn finish_without_footer(mut self) -> Result<W, FormatError> {
        self.flush()?;
        Ok(self.out)
    }

    /// Writes the current chunk, if it holds events or definitions.
    fn end_chunk(&mut self) -> Result<(), FormatError> {
        if self.chunk_events == 0 && self.defs.is_empty() {
            return Ok(());
        }
        let first_event = self.events_written - u64::from(self.chunk_events);
        let defs_len = u32::try_from(self.defs.len())
            .map_err(|_| self.invalid("more than 4 GiB of table entries in one chunk"))?;
        // events.len() < chunk_size + (1 + MAX_FORWARD_CREATION) *
        // MAX_EVENT_BYTES <= 2^30 + 2600: fits.
        let events_len = self.events.len() as u32;
        let mut frame = [0u8; codec::CHUNK_FRAME_LEN];
        frame[0] = codec::CHUNK_TAG;
        frame[1..9].copy_from_slice(&first_event.to_le_bytes());
        frame[9..13].copy_from_slice(&self.chunk_events.to_le_bytes());
        frame[13..17].copy_from_slice(&defs_len.to_le_bytes());
        frame[17..21].copy_from_slice(&events_len.to_le_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(&frame[1..21]);
        crc.update(&self.defs);
        crc.update(&self.events);
        frame[21..25].copy_from_slice(&crc.finalize().to_le_bytes());

        self.chunk_index.push(ChunkIndexEntry {
            offset: self.offset,
            first_event,
            event_count: self.chunk_events,
        });
        // Move the buffers out while writing so `write_out` can borrow self.
        let defs = std::mem::take(&mut self.defs);
        let events = std::mem::take(&mut self.events);
        let result = self
            .write_out(&frame)
            .and_then(|()| self.write_out(&defs))
            .and_then(|()| self.write_out(&events));
        self.defs = defs;
        self.events = events;
        result?;

        self.defs.clear();
        self.events.clear();
        self.chunk_events = 0;
        self.enc.reset();
        Ok(())
    }

    fn write_out(&mut self, bytes: &[u8]) -> Result<(), FormatError> {
        match self.out.write_all(bytes) {
            Ok(()) => {
                self.offset += bytes.len() as u64;
                Ok(())
            }
            Err(source) => Err(self.io("write", source)),
        }
    }

    fn io(&self, action: &'static str, source: std::io::Error) -> FormatError {
        FormatError::Io {
            file: self.name.clone(),
            action,
            source,
        }
    }

    fn invalid(&self, problem: impl std::fmt::Display) -> FormatError {
        FormatError::InvalidInput {
            file: self.name.clone(),
            offset: self.offset,
            problem: problem.to_string(),
        }
    }
}
