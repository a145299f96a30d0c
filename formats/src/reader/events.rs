//! Event decoding: `Events`, the iterator that turns the events sections
//! of complete chunks into `Event`s, lazily and straight from the bytes.
//!
//! It is the reader's hot path (one `decode` per event, no allocation),
//! shaped for the optimizer: an out-parameter instead of a returned
//! `Option<Event>`, boxed errors, and a `fold` loop that `for_each` and
//! friends run. It is kept apart from the one pass `TraceFile::open`
//! makes over the file, which skips events sections without decoding
//! them: that pass only bounds each section inside the file, and this
//! module checks every record and id as it decodes it.

use crate::codec::{self, CodecState};
use crate::error::{FormatError, TableName};
use crate::model::*;

use super::{ChunkInfo, TraceFile};

/// Streaming decoder over the events of complete chunks.
///
/// Yields `Err` once (then ends) if an events section is malformed or an
/// event refers to an id outside its table.
#[derive(Clone)]
pub struct Events<'a> {
    file: &'a TraceFile,
    data: &'a [u8],
    chunks: &'a [ChunkInfo],
    next_chunk: usize,
    /// Events section of the current chunk.
    buf: &'a [u8],
    /// File offset of `buf[0]`, for errors.
    buf_offset: usize,
    pos: usize,
    /// Events not yet decoded in the current chunk.
    left: u32,
    /// Events not yet yielded in all chunks.
    remaining: u64,
    /// Index of the next event in the whole trace.
    index: u64,
    st: CodecState,
    n_actors: u32,
    n_locs: u32,
    n_keys: u32,
    n_objects: u32,
    failed: bool,
}

fn table_len(n: usize) -> u32 {
    // Ids are u32, so a table can never need more.
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl<'a> Events<'a> {
    pub(super) fn new(file: &'a TraceFile, chunks: &'a [ChunkInfo]) -> Events<'a> {
        let t = &file.tables;
        Events {
            file,
            data: file.bytes.as_slice(),
            chunks,
            next_chunk: 0,
            buf: &[],
            buf_offset: 0,
            pos: 0,
            left: 0,
            remaining: chunks.iter().map(|c| u64::from(c.event_count)).sum(),
            index: chunks.first().map_or(0, |c| c.first_event),
            st: CodecState::new(t.locs.len()),
            n_actors: table_len(t.actors.len()),
            n_locs: table_len(t.locs.len()),
            n_keys: table_len(t.keys.len()),
            n_objects: table_len(t.objects.len()),
            failed: false,
        }
    }

    /// Index (in the whole trace) of the event `next()` will return.
    pub fn next_index(&self) -> u64 {
        self.index
    }

    fn malformed(&self, pos: usize, problem: impl Into<String>) -> FormatError {
        FormatError::Malformed {
            file: self.file.path.clone(),
            offset: (self.buf_offset + pos) as u64,
            problem: problem.into(),
        }
    }

    #[cold]
    fn out_of_range(
        &self,
        pos: usize,
        table: TableName,
        id: u64,
        size: u32,
        context: &'static str,
    ) -> FormatError {
        FormatError::IndexOutOfRange {
            file: self.file.path.clone(),
            offset: (self.buf_offset + pos) as u64,
            table,
            id,
            size: size.into(),
            context,
        }
    }

    #[cold]
    fn bad_varint(&self, pos: usize) -> FormatError {
        self.malformed(pos, "bad or truncated varint in event record")
    }

    /// Moves to the next chunk; false at the end.
    fn start_next_chunk(&mut self) -> Result<bool, FormatError> {
        if self.left != 0 {
            return Err(self.malformed(
                self.pos,
                format!(
                    "events section ends {} events short of its declared count",
                    self.left
                ),
            ));
        }
        let Some(chunk) = self.chunks.get(self.next_chunk) else {
            return Ok(false);
        };
        self.next_chunk += 1;
        // The scanner checked that the section lies inside the file.
        self.buf = &self.data[chunk.events_start..chunk.events_start + chunk.events_len];
        self.buf_offset = chunk.events_start;
        self.pos = 0;
        self.left = chunk.event_count;
        self.st.reset();
        Ok(true)
    }

    /// Decodes records until one event is complete, stores it in `out` and
    /// counts it (`left`, `remaining`, `index`).
    /// Requires `pos < buf.len()`; returns `Ok(false)` if the section ended
    /// after a SWITCH record. (An out-parameter rather than a returned
    /// `Option<Event>`: the optimizer keeps a plain struct in registers,
    /// but spills an enum wrapping it to the stack, and reading it back
    /// costs a store-forwarding stall per event.)
    #[inline(always)]
    fn decode(&mut self, out: &mut Event) -> Result<bool, Box<FormatError>> {
        let buf = self.buf;
        let mut pos = self.pos;
        let mut tag = buf[pos];
        pos += 1;
        if tag == codec::TAG_SWITCH {
            let rec = pos - 1;
            let actor =
                codec::get_varint(buf, &mut pos).ok_or_else(|| Box::new(self.bad_varint(rec)))?;
            if actor >= u64::from(self.n_actors) {
                return fail(self.out_of_range(
                    rec,
                    TableName::Actors,
                    actor,
                    self.n_actors,
                    "event actor (switch record)",
                ));
            }
            self.st.actor = actor as u32;
            let Some(&next) = buf.get(pos) else {
                self.pos = pos;
                return Ok(false);
            };
            tag = next;
            pos += 1;
        }
        let rec = pos - 1;
        if self.left == 0 {
            return fail(self.malformed(rec, "events section holds more events than declared"));
        }
        let (kind, loc, target, aux);
        if tag & codec::TAG_SHORT != 0 {
            // Read/Write with a small location delta: the hot path.
            kind = if tag & codec::TAG_SHORT_WRITE != 0 {
                EventKind::Write
            } else {
                EventKind::Read
            };
            loc = i64::from(self.st.loc)
                + codec::unzigzag(u64::from(tag & codec::TAG_SHORT_LOC_MASK));
            target = if tag & codec::TAG_SHORT_PREDICTED != 0 {
                // `predicted_key` is None for an out-of-range loc too; the
                // loc check below must win, so only complain if it is valid.
                match u32::try_from(loc)
                    .ok()
                    .and_then(|l| self.st.predicted_key(l))
                {
                    Some(key) => i64::from(key),
                    None if (0..i64::from(self.n_locs)).contains(&loc) => {
                        return fail(self.malformed(
                            rec,
                            format!(
                            "event reuses the key of location {loc}, which has none in this chunk"
                        ),
                        ))
                    }
                    None => -1,
                }
            } else {
                let d = codec::get_varint(buf, &mut pos)
                    .ok_or_else(|| Box::new(self.bad_varint(rec)))?;
                // Saturating: a hostile delta must stay out of range,
                // not overflow (or wrap into range).
                i64::from(self.st.key).saturating_add(codec::unzigzag(d))
            };
            aux = 0;
        } else {
            kind = EventKind::from_u8(tag & codec::TAG_KIND_MASK)
                .ok_or_else(|| Box::new(self.unknown_kind(rec, tag)))?;
            let d =
                codec::get_varint(buf, &mut pos).ok_or_else(|| Box::new(self.bad_varint(rec)))?;
            loc = i64::from(self.st.loc).saturating_add(codec::unzigzag(d));
            let t =
                codec::get_varint(buf, &mut pos).ok_or_else(|| Box::new(self.bad_varint(rec)))?;
            target = match kind.target_kind() {
                TargetKind::Key => i64::from(self.st.key).saturating_add(codec::unzigzag(t)),
                // Clamp: anything above u32 is out of range anyway.
                TargetKind::Obj => t.min(u64::from(u32::MAX) + 1) as i64,
                TargetKind::Actor => i64::from(self.st.actor).saturating_add(codec::unzigzag(t)),
            };
            aux = if tag & codec::TAG_HAS_AUX != 0 {
                codec::get_varint(buf, &mut pos).ok_or_else(|| Box::new(self.bad_varint(rec)))?
            } else {
                0
            };
        }
        if !(0..i64::from(self.n_locs)).contains(&loc) {
            return fail(self.out_of_range(
                rec,
                TableName::Locs,
                loc as u64,
                self.n_locs,
                "event location",
            ));
        }
        let (table, limit) = match kind.target_kind() {
            TargetKind::Key => (TableName::Keys, self.n_keys),
            TargetKind::Obj => (TableName::Objects, self.n_objects),
            TargetKind::Actor => (TableName::Actors, self.n_actors),
        };
        if !(0..i64::from(limit)).contains(&target) {
            return fail(self.out_of_range(rec, table, target as u64, limit, "event target"));
        }
        if kind.target_kind() == TargetKind::Key {
            self.st.remember_key(loc as u32, target as u32);
        }
        // The actor of the first events of a chunk is the reset value 0,
        // which must exist too.
        if self.st.actor >= self.n_actors {
            return fail(self.out_of_range(
                rec,
                TableName::Actors,
                self.st.actor.into(),
                self.n_actors,
                "event actor",
            ));
        }
        self.st.loc = loc as u32;
        self.pos = pos;
        self.left -= 1;
        self.remaining -= 1;
        self.index += 1;
        *out = Event {
            actor: ActorId(self.st.actor),
            kind,
            loc: LocId(loc as u32),
            target: target as u32,
            aux,
        };
        Ok(true)
    }

    /// Ends the iteration after an error (the iterator is fused).
    fn stop(&mut self) {
        self.failed = true;
        self.buf = &[];
        self.pos = 0;
    }

    /// `next` at a chunk boundary (or after an error).
    #[inline(never)]
    fn next_across_chunks(&mut self) -> Option<Result<Event, FormatError>> {
        if self.failed {
            return None;
        }
        loop {
            if self.pos < self.buf.len() {
                let mut ev = PLACEHOLDER;
                match self.decode(&mut ev) {
                    Ok(true) => return Some(Ok(ev)),
                    Ok(false) => {}
                    Err(e) => {
                        self.stop();
                        return Some(Err(*e));
                    }
                }
            }
            if self.pos >= self.buf.len() {
                match self.start_next_chunk() {
                    Ok(true) => {}
                    Ok(false) => return None,
                    Err(e) => {
                        self.stop();
                        return Some(Err(e));
                    }
                }
            }
        }
    }

    /// Streams the remaining events into `f`, stopping at the first error.
    /// The fastest way to read a trace: the loop hands `f` a plain `Event`,
    /// with no `Option<Result<..>>` per event for the optimizer to spill.
    // `fold` (not `try_fold`) on purpose: ours is the fast loop, and it
    // already stops at the first error.
    #[allow(clippy::manual_try_fold)]
    pub fn try_for_each_event(self, mut f: impl FnMut(Event)) -> Result<(), FormatError> {
        self.fold(Ok(()), |acc, ev| match ev {
            Ok(ev) => {
                f(ev);
                acc
            }
            Err(e) => Err(e),
        })
    }

    #[cold]
    fn unknown_kind(&self, rec: usize, tag: u8) -> FormatError {
        FormatError::UnknownEventKind {
            file: self.file.path.clone(),
            offset: (self.buf_offset + rec) as u64,
            tag,
        }
    }
}

/// Initial value of the event `decode` fills in.
const PLACEHOLDER: Event = Event {
    actor: ActorId(0),
    kind: EventKind::Read,
    loc: LocId(0),
    target: 0,
    aux: 0,
};

/// Boxes a decode error: keeps the hot path's result small (an `Event` and
/// a pointer), which lets it stay in registers.
#[cold]
fn fail<T>(e: FormatError) -> Result<T, Box<FormatError>> {
    Err(Box::new(e))
}

impl Iterator for Events<'_> {
    type Item = Result<Event, FormatError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        // The common case, kept free of loops so that the optimizer can
        // keep the returned event in registers.
        if self.pos < self.buf.len() {
            let mut ev = PLACEHOLDER;
            match self.decode(&mut ev) {
                Ok(true) => return Some(Ok(ev)),
                Ok(false) => {}
                Err(e) => {
                    self.stop();
                    return Some(Err(*e));
                }
            }
        }
        self.next_across_chunks()
    }

    /// `for_each`, `count`, `sum`, ... run this tight loop instead of
    /// calling `next` per event.
    fn fold<B, F>(mut self, init: B, mut f: F) -> B
    where
        F: FnMut(B, Self::Item) -> B,
    {
        let mut acc = init;
        if self.failed {
            return acc;
        }
        loop {
            while self.pos < self.buf.len() {
                let mut ev = PLACEHOLDER;
                match self.decode(&mut ev) {
                    Ok(true) => acc = f(acc, Ok(ev)),
                    Ok(false) => break,
                    Err(e) => return f(acc, Err(*e)),
                }
            }
            match self.start_next_chunk() {
                Ok(true) => {}
                Ok(false) => return acc,
                Err(e) => return f(acc, Err(e)),
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.failed {
            return (0, Some(0));
        }
        // An error may end the iteration early, so only an upper bound.
        (0, usize::try_from(self.remaining).ok())
    }
}

impl std::iter::FusedIterator for Events<'_> {}
