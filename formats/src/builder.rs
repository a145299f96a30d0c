//! Building traces event by event, for tests, benches and tools.
//!
//! `TraceBuilder` wraps a `TraceWriter<Vec<u8>>` and interns strings, code
//! locations and keys by value, so a test can say
//! `b.write(t1, b.key(counter, MemberKind::Attr, "value"), loc)` without
//! keeping ids around. It panics on misuse (an undefined actor), which is
//! what a test helper should do.

use std::collections::HashMap;
use std::path::Path;

use crate::model::*;
use crate::sources::*;
use crate::writer::TraceWriter;

pub struct TraceBuilder {
    writer: TraceWriter<Vec<u8>>,
    strings: HashMap<String, StrId>,
    locs: HashMap<(StrId, u32, StrId), LocId>,
    keys: HashMap<KeyDesc, KeyId>,
    /// Next actor id, to name the child of a `spawn` in its creation event.
    actors: u32,
}

impl TraceBuilder {
    /// A synthetic trace of `program` with the main actor 0 ("main").
    pub fn new(program: &str) -> Self {
        Self::with_header(&Header::new(Mode::Synthetic, program))
    }

    /// Same, with a caller-made header.
    pub fn with_header(header: &Header) -> Self {
        let writer = TraceWriter::new(Vec::new(), header).expect("writing to memory cannot fail");
        let mut b = TraceBuilder {
            writer,
            strings: HashMap::new(),
            locs: HashMap::new(),
            keys: HashMap::new(),
            actors: 0,
        };
        let name = b.string("main");
        b.define_actor(ActorDesc {
            kind: ActorKind::Thread,
            name,
            parent: None,
            created_by_event: None,
        });
        b
    }

    /// Sets the writer's chunk size (small chunks make multi-chunk traces
    /// out of a few events).
    pub fn with_chunk_size(mut self, bytes: usize) -> Self {
        self.writer = self.writer.with_chunk_size(bytes);
        self
    }

    /// Interns a string.
    pub fn string(&mut self, s: &str) -> StrId {
        if let Some(&id) = self.strings.get(s) {
            return id;
        }
        let id = self.writer.add_string(s);
        self.strings.insert(s.to_string(), id);
        id
    }

    /// Records what the source file `file` holds (`contents`), as the
    /// recorder does for each file its code locations name.
    pub fn source(&mut self, file: &str, contents: &[u8]) {
        let file = self.string(file);
        self.writer
            .add_source(&SourceDesc::of_contents(file, contents));
    }

    /// Marks the point before the next event with `label`.
    pub fn mark(&mut self, label: &str) {
        let label = self.string(label);
        self.writer.add_mark(label);
    }

    /// Interns a code location (bytecode offset 0).
    pub fn loc(&mut self, file: &str, line: u32, function: &str) -> LocId {
        let file = self.string(file);
        let function = self.string(function);
        if let Some(&id) = self.locs.get(&(file, line, function)) {
            return id;
        }
        let id = self.writer.add_loc(CodeLoc {
            file,
            line,
            function,
            offset: 0,
        });
        self.locs.insert((file, line, function), id);
        id
    }

    /// Defines a new object identity (every call is a distinct object).
    pub fn object(&mut self, kind: ObjKind, type_name: &str, label: &str) -> ObjId {
        let type_name = self.string(type_name);
        let label = self.string(label);
        self.writer.add_object(ObjectDesc {
            kind,
            type_name,
            label,
        })
    }

    /// Interns the key (obj, member).
    pub fn key(&mut self, obj: ObjId, member_kind: MemberKind, member: &str) -> KeyId {
        let member = self.string(member);
        let desc = KeyDesc {
            obj,
            member_kind,
            member,
        };
        if let Some(&id) = self.keys.get(&desc) {
            return id;
        }
        let id = self.writer.add_key(desc);
        self.keys.insert(desc, id);
        id
    }

    fn define_actor(&mut self, desc: ActorDesc) -> ActorId {
        let id = self.writer.add_actor(desc);
        self.actors += 1;
        id
    }

    /// `parent` starts a new thread: emits the parent's `Spawn` event and
    /// defines the child, created by that event.
    pub fn spawn(&mut self, parent: ActorId, name: &str, loc: LocId) -> ActorId {
        self.create(parent, name, loc, EventKind::Spawn, ActorKind::Thread)
    }

    /// `parent` creates an asyncio task (`TaskCreate`).
    pub fn spawn_task(&mut self, parent: ActorId, name: &str, loc: LocId) -> ActorId {
        self.create(parent, name, loc, EventKind::TaskCreate, ActorKind::Task)
    }

    fn create(
        &mut self,
        parent: ActorId,
        name: &str,
        loc: LocId,
        kind: EventKind,
        actor_kind: ActorKind,
    ) -> ActorId {
        let name = self.string(name);
        let child = ActorId(self.actors);
        let created_by = self.writer.events_written();
        self.event(parent, kind, loc, child.0, 0);
        let id = self.define_actor(ActorDesc {
            kind: actor_kind,
            name,
            parent: Some(parent),
            created_by_event: Some(created_by),
        });
        debug_assert_eq!(id, child);
        id
    }

    /// Appends any event. Panics if the actor, location or a key/object
    /// target is not defined.
    pub fn event(&mut self, actor: ActorId, kind: EventKind, loc: LocId, target: u32, aux: u64) {
        let ev = Event {
            actor,
            kind,
            loc,
            target,
            aux,
        };
        if let Err(e) = self.writer.event(&ev) {
            panic!("TraceBuilder: {e}");
        }
    }

    pub fn read(&mut self, actor: ActorId, key: KeyId, loc: LocId) {
        self.event(actor, EventKind::Read, loc, key.0, 0);
    }

    pub fn write(&mut self, actor: ActorId, key: KeyId, loc: LocId) {
        self.event(actor, EventKind::Write, loc, key.0, 0);
    }

    /// A plain lock acquire (depth 1).
    pub fn acquire(&mut self, actor: ActorId, lock: ObjId, loc: LocId) {
        self.event(actor, EventKind::LockAcquire, loc, lock.0, 1);
    }

    /// A plain lock release (depth 1 before the release).
    pub fn release(&mut self, actor: ActorId, lock: ObjId, loc: LocId) {
        self.event(actor, EventKind::LockRelease, loc, lock.0, 1);
    }

    /// The actor's first event.
    pub fn start(&mut self, actor: ActorId, loc: LocId) {
        self.event(actor, EventKind::ActorStart, loc, actor.0, 0);
    }

    /// The actor's last event (normal exit).
    pub fn exit(&mut self, actor: ActorId, loc: LocId) {
        self.event(actor, EventKind::ActorExit, loc, actor.0, 0);
    }

    pub fn join(&mut self, actor: ActorId, child: ActorId, loc: LocId) {
        self.event(actor, EventKind::Join, loc, child.0, 0);
    }

    /// Index the next event will have.
    pub fn events_written(&self) -> u64 {
        self.writer.events_written()
    }

    /// Direct access to the writer (for entries the helpers do not cover).
    pub fn writer(&mut self) -> &mut TraceWriter<Vec<u8>> {
        &mut self.writer
    }

    /// The complete trace file bytes.
    pub fn finish(self, outcome: &Outcome) -> Vec<u8> {
        self.writer
            .finish(outcome)
            .expect("writing to memory cannot fail")
    }

    /// Writes the complete trace to `path`.
    pub fn write_to(self, path: &Path, outcome: &Outcome) -> std::io::Result<()> {
        std::fs::write(path, self.finish(outcome))
    }

    /// The bytes a killed process would leave: every chunk, no footer.
    pub fn finish_truncated(self) -> Vec<u8> {
        self.writer
            .finish_without_footer()
            .expect("writing to memory cannot fail")
    }
}
