//! Shared test helpers: random valid traces for property tests, and a way
//! to re-seal checksums after deliberately damaging a file (so the decoder,
//! not just the CRC, gets tested against garbage).

#![allow(dead_code)]

use proptest::prelude::*;
use racetrace_formats::codec;
use racetrace_formats::*;

/// Raw random material; `build` turns it into a valid trace.
#[derive(Clone, Debug)]
pub struct Recipe {
    pub strings: Vec<String>,
    pub locs: Vec<(u32, u32, u32, u32)>,
    pub objects: Vec<(u8, u32, u32)>,
    pub keys: Vec<(u32, u8, u32)>,
    pub actors: Vec<(bool, u32, u32, u64)>,
    pub events: Vec<(u32, u8, u32, u32, u64)>,
    pub chunk_size: usize,
    pub header: Header,
    pub outcome: Outcome,
}

/// What a reader must give back.
#[derive(Clone, Debug, PartialEq)]
pub struct Expected {
    pub header: Header,
    pub tables: Tables,
    pub events: Vec<Event>,
    pub outcome: Outcome,
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        Just(Mode::Record),
        Just(Mode::Replay),
        Just(Mode::Explore),
        Just(Mode::Synthetic)
    ]
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        Just(Outcome::Ok),
        (any::<u32>(), ".{0,10}", ".{0,20}", ".{0,40}").prop_map(|(a, t, m, tb)| {
            Outcome::Exception {
                actor: ActorId(a),
                type_name: t,
                message: m,
                traceback: tb,
            }
        }),
        ".{0,30}".prop_map(|d| Outcome::Deadlock { description: d }),
        ".{0,30}".prop_map(|r| Outcome::Aborted { reason: r }),
    ]
}

fn header() -> impl Strategy<Value = Header> {
    (
        ".{0,8}",
        ".{0,8}",
        mode(),
        ".{0,30}",
        any::<u64>(),
        any::<u64>(),
    )
        .prop_map(|(py, rt, mode, program, seed, started_at)| Header {
            format_version: FORMAT_VERSION,
            python_version: py,
            racetrace_version: rt,
            mode,
            program,
            seed,
            started_at,
        })
}

prop_compose! {
    pub fn recipe(max_events: usize)(
        strings in proptest::collection::vec(".{0,12}", 1..12),
        locs in proptest::collection::vec(any::<(u32, u32, u32, u32)>(), 1..60),
        objects in proptest::collection::vec(any::<(u8, u32, u32)>(), 0..8),
        keys in proptest::collection::vec(any::<(u32, u8, u32)>(), 0..20),
        actors in proptest::collection::vec(any::<(bool, u32, u32, u64)>(), 1..7),
        events in proptest::collection::vec(any::<(u32, u8, u32, u32, u64)>(), 0..max_events),
        chunk_size in prop_oneof![1usize..64, 64usize..4096],
        header in header(),
        outcome in outcome(),
    ) -> Recipe {
        Recipe { strings, locs, objects, keys, actors, events, chunk_size, header, outcome }
    }
}

const OBJ_KINDS: [ObjKind; 19] = [
    ObjKind::Instance,
    ObjKind::List,
    ObjKind::Dict,
    ObjKind::Set,
    ObjKind::Deque,
    ObjKind::ByteArray,
    ObjKind::Container,
    ObjKind::Module,
    ObjKind::Cell,
    ObjKind::Lock,
    ObjKind::RLock,
    ObjKind::Semaphore,
    ObjKind::Event,
    ObjKind::Condition,
    ObjKind::Barrier,
    ObjKind::Queue,
    ObjKind::ActorHandle,
    ObjKind::Resource,
    ObjKind::Other,
];
const MEMBER_KINDS: [MemberKind; 6] = [
    MemberKind::Attr,
    MemberKind::Item,
    MemberKind::Global,
    MemberKind::Cell,
    MemberKind::Whole,
    MemberKind::Resource,
];

/// Defines table entries on demand, in id order, dependencies first,
/// keeping the expected tables in step with what was written.
struct Definer<'r> {
    r: &'r Recipe,
    t: Tables,
    /// Whether an actor may be defined ahead of its creation event (the
    /// event about to be written), as the recorder does.
    forward: bool,
}

impl Definer<'_> {
    fn string(&mut self, w: &mut TraceWriter<Vec<u8>>, raw: u32) -> StrId {
        let i = raw as usize % self.r.strings.len();
        while self.t.strings.len() <= i {
            let s = &self.r.strings[self.t.strings.len()];
            w.add_string(s);
            self.t.strings.push(s.clone());
        }
        StrId(i as u32)
    }

    fn loc(&mut self, w: &mut TraceWriter<Vec<u8>>, raw: u32) -> LocId {
        let i = raw as usize % self.r.locs.len();
        while self.t.locs.len() <= i {
            let (file, line, function, offset) = self.r.locs[self.t.locs.len()];
            let loc = CodeLoc {
                file: self.string(w, file),
                line,
                function: self.string(w, function),
                offset,
            };
            w.add_loc(loc);
            self.t.locs.push(loc);
        }
        LocId(i as u32)
    }

    fn object(&mut self, w: &mut TraceWriter<Vec<u8>>, raw: u32) -> ObjId {
        let i = raw as usize % self.r.objects.len();
        while self.t.objects.len() <= i {
            let (kind, ty, label) = self.r.objects[self.t.objects.len()];
            let obj = ObjectDesc {
                kind: OBJ_KINDS[kind as usize % OBJ_KINDS.len()],
                type_name: self.string(w, ty),
                label: self.string(w, label),
            };
            w.add_object(obj);
            self.t.objects.push(obj);
        }
        ObjId(i as u32)
    }

    fn key(&mut self, w: &mut TraceWriter<Vec<u8>>, raw: u32) -> KeyId {
        let i = raw as usize % self.r.keys.len();
        while self.t.keys.len() <= i {
            let (obj, mk, member) = self.r.keys[self.t.keys.len()];
            let key = KeyDesc {
                obj: self.object(w, obj),
                member_kind: MEMBER_KINDS[mk as usize % MEMBER_KINDS.len()],
                member: self.string(w, member),
            };
            w.add_key(key);
            self.t.keys.push(key);
        }
        KeyId(i as u32)
    }

    fn actor(&mut self, w: &mut TraceWriter<Vec<u8>>, raw: u32) -> ActorId {
        let i = raw as usize % self.r.actors.len();
        while self.t.actors.len() <= i {
            let n = self.t.actors.len();
            let (task, name, parent, created) = self.r.actors[n];
            let written = w.events_written();
            let (parent, created_by_event) = if n == 0 || created % 5 == 0 {
                (None, None)
            } else {
                let ev = if self.forward && created % 3 == 0 {
                    Some(written)
                } else {
                    (written > 0).then(|| created % written)
                };
                (Some(ActorId(parent % n as u32)), ev)
            };
            let actor = ActorDesc {
                kind: if task {
                    ActorKind::Task
                } else {
                    ActorKind::Thread
                },
                name: self.string(w, name),
                parent,
                created_by_event,
            };
            w.add_actor(actor);
            self.t.actors.push(actor);
        }
        ActorId(i as u32)
    }
}

/// Writes the trace a recipe describes; returns the file and what must be
/// read back.
pub fn build(r: &Recipe) -> (Vec<u8>, Expected) {
    let mut w = TraceWriter::new(Vec::new(), &r.header)
        .unwrap()
        .with_chunk_size(r.chunk_size);
    let mut d = Definer {
        r,
        t: Tables::default(),
        forward: true,
    };
    let mut events = Vec::new();
    for &(actor, kind, loc, target, aux) in &r.events {
        let mut kind = EventKind::ALL[kind as usize % EventKind::ALL.len()];
        let target_kind = kind.target_kind();
        if (target_kind == TargetKind::Key && (r.keys.is_empty() || r.objects.is_empty()))
            || (target_kind == TargetKind::Obj && r.objects.is_empty())
        {
            kind = EventKind::Yield;
        }
        let actor = d.actor(&mut w, actor);
        let loc = d.loc(&mut w, loc);
        let target = match kind.target_kind() {
            TargetKind::Key => d.key(&mut w, target).0,
            TargetKind::Obj => d.object(&mut w, target).0,
            TargetKind::Actor => d.actor(&mut w, target).0,
        };
        let aux = match aux % 4 {
            0 => 0,
            1 => aux % 300,
            2 => u64::MAX,
            _ => aux,
        };
        let ev = Event {
            actor,
            kind,
            loc,
            target,
            aux,
        };
        w.event(&ev).unwrap();
        events.push(ev);
    }
    // Everything left undefined is defined at the end (last chunk), with
    // creation events in the past: no event follows.
    d.forward = false;
    for i in 0..r.strings.len() {
        d.string(&mut w, i as u32);
    }
    for i in 0..r.locs.len() {
        d.loc(&mut w, i as u32);
    }
    for i in 0..r.objects.len() {
        d.object(&mut w, i as u32);
    }
    if !r.objects.is_empty() {
        for i in 0..r.keys.len() {
            d.key(&mut w, i as u32);
        }
    }
    for i in 0..r.actors.len() {
        d.actor(&mut w, i as u32);
    }
    let bytes = w.finish(&r.outcome).unwrap();
    let expected = Expected {
        header: r.header.clone(),
        tables: d.t,
        events,
        outcome: r.outcome.clone(),
    };
    (bytes, expected)
}

/// Reads everything; panics on nothing, returns the first error.
pub fn read_all(bytes: Vec<u8>) -> Result<(TraceFile, Vec<Event>), FormatError> {
    let f = TraceFile::from_bytes(bytes)?;
    let events = f.events().collect::<Result<Vec<_>, _>>()?;
    Ok((f, events))
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Recomputes the header, chunk and footer checksums of a (possibly
/// damaged) file, following its (possibly damaged) lengths as far as they
/// go, so that damage reaches the decoders behind the checksums.
pub fn reseal(b: &mut [u8]) {
    let Some(len) = le_u32(b, 12) else { return };
    let start = codec::HEADER_PREFIX_LEN;
    let Some(end) = start.checked_add(len as usize).filter(|&e| e <= b.len()) else {
        return;
    };
    let crc = crc32fast::hash(&b[start..end]);
    b[16..20].copy_from_slice(&crc.to_le_bytes());
    let mut pos = end;
    while pos < b.len() {
        match b[pos] {
            codec::CHUNK_TAG => {
                let (Some(defs), Some(events)) = (le_u32(b, pos + 13), le_u32(b, pos + 17)) else {
                    return;
                };
                let total = codec::CHUNK_FRAME_LEN + defs as usize + events as usize;
                if pos + total > b.len() {
                    return;
                }
                let mut h = crc32fast::Hasher::new();
                h.update(&b[pos + 1..pos + 21]);
                h.update(&b[pos + codec::CHUNK_FRAME_LEN..pos + total]);
                let crc = h.finalize();
                b[pos + 21..pos + 25].copy_from_slice(&crc.to_le_bytes());
                pos += total;
            }
            codec::FOOTER_TAG => {
                let Some(len) = le_u32(b, pos + 1) else {
                    return;
                };
                let body = pos + codec::FOOTER_FRAME_LEN;
                if body + len as usize > b.len() {
                    return;
                }
                let crc = crc32fast::hash(&b[body..body + len as usize]);
                b[pos + 5..pos + 9].copy_from_slice(&crc.to_le_bytes());
                return;
            }
            _ => return,
        }
    }
}

/// Replaces the events section of the last chunk of a footerless file
/// (fixing the frame's lengths, count and checksum), to feed the decoder
/// hand-made records.
pub fn with_last_events(mut bytes: Vec<u8>, events: &[u8], count: u32) -> Vec<u8> {
    let f = TraceFile::from_bytes(bytes.clone()).unwrap();
    let chunk = *f.chunks().last().unwrap();
    let at = chunk.offset as usize;
    bytes.truncate(chunk.events_offset() as usize);
    bytes.extend_from_slice(events);
    bytes[at + 9..at + 13].copy_from_slice(&count.to_le_bytes());
    bytes[at + 17..at + 21].copy_from_slice(&(events.len() as u32).to_le_bytes());
    reseal(&mut bytes);
    bytes
}
