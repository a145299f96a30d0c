//! The byte layout of trace format v1, shared by the writer and the reader.
//!
//! ```text
//! file    = header chunk* [footer trailer]
//! header  = MAGIC(8) version:u32 len:u32 crc:u32 bincode(Header)[len]
//! chunk   = 'C' first_event:u64 event_count:u32 defs_len:u32 events_len:u32 crc:u32
//!           defs[defs_len] events[events_len]
//! footer  = 'F' len:u32 crc:u32 bincode(Footer)[len]
//! trailer = footer_offset:u64 END_MAGIC(8)
//! ```
//! Fixed-width integers are little-endian. A chunk's CRC32 covers its frame
//! fields after the tag plus both sections, so any flipped bit in a complete
//! chunk is detected. `defs` is a sequence of table entries (one tag byte
//! naming the table, then the bincode-encoded entry); entries are numbered
//! in order of appearance across the whole file. `events` is the compact
//! event encoding below; its delta state starts afresh in every chunk so a
//! chunk decodes on its own.
//!
//! Event records (one tag byte, then varints):
//! - `1 k p ddddd`: a Read (k=0) or Write (k=1) without aux, at location
//!   previous + zigzag(ddddd) (-16..=15). If `p` is set the key is the one
//!   the last keyed event at that same location touched in this chunk (a
//!   code location nearly always touches the same attribute), and nothing
//!   follows: 1 byte. Otherwise zigzag(key - previous key) follows as a
//!   varint: usually 2 bytes.
//! - `0 a kkkkkk` with kkkkkk a kind (0..=28): any event. Followed by
//!   zigzag(loc - previous loc), the target (keys: zigzag delta vs the
//!   previous key; objects: the id; actors: zigzag(target - actor)), and
//!   the aux value if the `a` bit is set (aux == 0 otherwise).
//! - `0x7F` + actor: SWITCH, the following events belong to `actor`.
//!   Written only when the actor changes, instead of an actor per event.
//!
//! "Previous" means the previous event of the chunk, whatever its actor.

use crate::model::{Event, EventKind, Outcome, TargetKind};

/// Starts every trace file. The non-ASCII first byte and the CR LF / ^Z
/// catch files mangled by text-mode transfers (the PNG trick).
pub const MAGIC: [u8; 8] = [0x89, b'R', b'T', b'R', b'C', b'\r', b'\n', 0x1a];
/// Ends a complete file, after the footer offset.
pub const END_MAGIC: [u8; 8] = *b"RTRCEND\n";

/// Fixed header prefix: magic, version, header length, header CRC.
pub const HEADER_PREFIX_LEN: usize = 8 + 4 + 4 + 4;

pub const CHUNK_TAG: u8 = b'C';
pub const FOOTER_TAG: u8 = b'F';
/// Tag, first_event, event_count, defs_len, events_len, crc.
pub const CHUNK_FRAME_LEN: usize = 1 + 8 + 4 + 4 + 4 + 4;
/// Tag, len, crc.
pub const FOOTER_FRAME_LEN: usize = 1 + 4 + 4;
/// Footer offset + END_MAGIC.
pub const TRAILER_LEN: usize = 8 + 8;

/// Table-entry tags inside a defs section.
pub const DEF_STRING: u8 = 0;
pub const DEF_LOC: u8 = 1;
pub const DEF_OBJECT: u8 = 2;
pub const DEF_KEY: u8 = 3;
pub const DEF_ACTOR: u8 = 4;
/// A source file's digests (format version 3).
pub const DEF_SOURCE: u8 = 5;
/// A mark (format version 3).
pub const DEF_MARK: u8 = 6;

/// Event-record tags.
pub const TAG_SHORT: u8 = 0x80;
pub const TAG_SHORT_WRITE: u8 = 0x40;
pub const TAG_SHORT_PREDICTED: u8 = 0x20;
pub const TAG_SHORT_LOC_MASK: u8 = 0x1F;
pub const TAG_HAS_AUX: u8 = 0x40;
pub const TAG_KIND_MASK: u8 = 0x3F;
pub const TAG_SWITCH: u8 = 0x7F;

/// Longest encoding of one event including a preceding SWITCH:
/// switch (1 + 5) + tag (1) + loc (10) + target (10) + aux (10).
pub const MAX_EVENT_BYTES: usize = 40;

/// The bincode configuration used for every framed record.
pub const BINCODE: bincode::config::Configuration = bincode::config::standard();

/// The footer: how the run ended, plus an index of the chunks and table
/// sizes that the reader cross-checks against what it scanned.
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Footer {
    pub outcome: Outcome,
    pub event_count: u64,
    pub chunks: Vec<ChunkIndexEntry>,
    /// Sizes of the string, loc, object, key and actor tables.
    pub table_sizes: [u64; 5],
}

/// One entry of the footer's chunk index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct ChunkIndexEntry {
    /// File offset of the chunk's tag byte.
    pub offset: u64,
    pub first_event: u64,
    pub event_count: u32,
}

#[inline]
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Writes `v` as LEB128 into `buf` at `*n`. `buf` must have 10 free bytes.
#[inline]
pub fn put_varint(buf: &mut [u8; MAX_EVENT_BYTES], n: &mut usize, mut v: u64) {
    while v >= 0x80 {
        buf[*n] = (v as u8) | 0x80;
        *n += 1;
        v >>= 7;
    }
    buf[*n] = v as u8;
    *n += 1;
}

/// Reads a LEB128 varint from `buf` at `*pos`. `None` if it runs past the
/// end or does not fit in 64 bits.
#[inline]
pub fn get_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let b = *buf.get(*pos)?;
    *pos += 1;
    if b < 0x80 {
        return Some(u64::from(b));
    }
    get_varint_slow(buf, pos, b)
}

#[cold]
fn get_varint_slow(buf: &[u8], pos: &mut usize, first: u8) -> Option<u64> {
    let mut value = u64::from(first & 0x7F);
    let mut shift = 7;
    loop {
        let b = *buf.get(*pos)?;
        *pos += 1;
        if shift == 63 && b > 1 {
            return None; // more than 64 bits
        }
        value |= u64::from(b & 0x7F) << shift;
        if b < 0x80 {
            return Some(value);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

/// State of the event encoding, shared in spirit by encoder and decoder:
/// both update it identically after every event. Reset at the start of
/// every chunk so that chunks decode independently.
#[derive(Clone, Debug)]
pub struct CodecState {
    pub actor: u32,
    pub loc: u32,
    pub key: u32,
    /// Chunk generation: an entry of `loc_keys` is valid in this chunk only
    /// if its high half equals it, so a reset does not touch the table.
    generation: u32,
    /// Per location: `generation << 32 | key` of the last keyed event there.
    loc_keys: Vec<u64>,
}

impl CodecState {
    /// State for a trace with `n_locs` code locations.
    pub fn new(n_locs: usize) -> CodecState {
        CodecState {
            actor: 0,
            loc: 0,
            key: 0,
            generation: 1,
            loc_keys: vec![0; n_locs],
        }
    }

    /// Starts a new chunk.
    pub fn reset(&mut self) {
        self.actor = 0;
        self.loc = 0;
        self.key = 0;
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            // Wrapped after 2^32 chunks: stale entries could look valid.
            self.loc_keys.fill(0);
            self.generation = 1;
        }
    }

    /// Makes room for locations defined after the state was created.
    pub fn set_loc_count(&mut self, n_locs: usize) {
        if n_locs > self.loc_keys.len() {
            self.loc_keys.resize(n_locs, 0);
        }
    }

    /// The key last touched at `loc` in this chunk.
    #[inline]
    pub fn predicted_key(&self, loc: u32) -> Option<u32> {
        let slot = *self.loc_keys.get(loc as usize)?;
        ((slot >> 32) as u32 == self.generation).then_some(slot as u32)
    }

    /// Records a keyed event: updates the previous key and the prediction.
    #[inline]
    pub fn remember_key(&mut self, loc: u32, key: u32) {
        self.key = key;
        if let Some(slot) = self.loc_keys.get_mut(loc as usize) {
            *slot = u64::from(self.generation) << 32 | u64::from(key);
        }
    }
}

/// Encodes one event (and a SWITCH first if its actor differs from the
/// current one) into `out`, updating `st`. Returns the number of bytes.
/// `ev.loc` must be below the location count given to `st`.
#[inline]
pub fn encode_event(st: &mut CodecState, ev: &Event, out: &mut [u8; MAX_EVENT_BYTES]) -> usize {
    let mut n = 0;
    if ev.actor.0 != st.actor {
        out[0] = TAG_SWITCH;
        n = 1;
        put_varint(out, &mut n, u64::from(ev.actor.0));
        st.actor = ev.actor.0;
    }
    let loc_delta = i64::from(ev.loc.0) - i64::from(st.loc);
    st.loc = ev.loc.0;
    let is_rw = matches!(ev.kind, EventKind::Read | EventKind::Write);
    if is_rw && ev.aux == 0 && (-16..=15).contains(&loc_delta) {
        let mut tag = TAG_SHORT | zigzag(loc_delta) as u8;
        if ev.kind == EventKind::Write {
            tag |= TAG_SHORT_WRITE;
        }
        if st.predicted_key(ev.loc.0) == Some(ev.target) {
            out[n] = tag | TAG_SHORT_PREDICTED;
            n += 1;
        } else {
            out[n] = tag;
            n += 1;
            put_varint(
                out,
                &mut n,
                zigzag(i64::from(ev.target) - i64::from(st.key)),
            );
        }
        st.remember_key(ev.loc.0, ev.target);
        return n;
    }
    let aux_bit = if ev.aux != 0 { TAG_HAS_AUX } else { 0 };
    out[n] = ev.kind as u8 | aux_bit;
    n += 1;
    put_varint(out, &mut n, zigzag(loc_delta));
    match ev.kind.target_kind() {
        TargetKind::Key => {
            put_varint(
                out,
                &mut n,
                zigzag(i64::from(ev.target) - i64::from(st.key)),
            );
            st.remember_key(ev.loc.0, ev.target);
        }
        TargetKind::Obj => put_varint(out, &mut n, u64::from(ev.target)),
        TargetKind::Actor => put_varint(
            out,
            &mut n,
            zigzag(i64::from(ev.target) - i64::from(ev.actor.0)),
        ),
    }
    if ev.aux != 0 {
        put_varint(out, &mut n, ev.aux);
    }
    n
}

/// Decodes `bytes` with bincode, refusing to allocate more than
/// `factor` times their size, plus `SCALAR_SLACK` (rounded up to a power
/// of 16): bincode pre-allocates strings and vectors from their encoded
/// length, so a corrupt length must not turn into a multi-gigabyte
/// allocation. Records holding only strings need factor 1 (each allocated
/// byte is an encoded byte); the footer's chunk index needs more (24 bytes
/// in memory per entry of at least 3 encoded bytes).
///
/// The limit also counts every integer at its full width (a string's
/// length and a `u64` field count 8 bytes, even when their varint takes
/// one): the slack covers that for the few scalars of a header or a table
/// entry, so that a string of 250 bytes, or a header with a long program,
/// is not refused.
pub fn decode_bounded<T: bincode::Decode<()>>(
    bytes: &[u8],
    factor: usize,
) -> Result<(T, usize), bincode::error::DecodeError> {
    let budget = bytes
        .len()
        .saturating_mul(factor)
        .saturating_add(SCALAR_SLACK);
    // The limit is a const generic, so pick the smallest fitting bucket.
    macro_rules! limited {
        ($($limit:expr),*) => {{
            $(
                if budget <= $limit {
                    return bincode::decode_from_slice(bytes, BINCODE.with_limit::<{ $limit }>());
                }
            )*
        }};
    }
    limited!(
        1 << 8,
        1 << 12,
        1 << 16,
        1 << 20,
        1 << 24,
        1 << 28,
        1 << 32,
        1 << 36
    );
    bincode::decode_from_slice(bytes, BINCODE.with_limit::<{ 1 << 40 }>())
}

/// What `decode_bounded` allows beyond `factor` times the encoded size:
/// the full width of a record's integers (at most 8 bytes each).
pub const SCALAR_SLACK: usize = 1024;

/// Allocation factor for records made of strings and scalars.
pub const STRINGS_ONLY: usize = 1;
/// Allocation factor for a source entry: its line digests take 4 bytes in
/// memory each, encoded in at least 1.
pub const SOURCE_FACTOR: usize = 4;
/// Allocation factor for the footer (see `decode_bounded`).
pub const FOOTER_FACTOR: usize = 8;

/// Hex-escapes a few bytes for error messages.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut s = String::from("\"");
    for &b in bytes {
        s.extend(std::ascii::escape_default(b).map(char::from));
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trips_edges() {
        for v in [
            0,
            1,
            127,
            128,
            16383,
            16384,
            u32::MAX as u64,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut buf = [0u8; MAX_EVENT_BYTES];
            let mut n = 0;
            put_varint(&mut buf, &mut n, v);
            let mut pos = 0;
            assert_eq!(get_varint(&buf[..n], &mut pos), Some(v));
            assert_eq!(pos, n);
            // Any cut is detected.
            for cut in 0..n {
                let mut pos = 0;
                assert_eq!(get_varint(&buf[..cut], &mut pos), None);
            }
        }
    }

    #[test]
    fn varint_rejects_overflow() {
        let too_long = [0xFFu8; 11];
        assert_eq!(get_varint(&too_long, &mut 0), None);
        let mut ten = [0xFFu8; 10];
        ten[9] = 0x02; // bit 64
        assert_eq!(get_varint(&ten, &mut 0), None);
    }

    #[test]
    fn zigzag_round_trips() {
        for v in [0i64, 1, -1, 31, -32, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
    }
}
