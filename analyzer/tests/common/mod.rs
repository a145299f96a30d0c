//! Hand-built traces for tests: tables plus events, no file round-trip.
//! Helpers for one group of test files are submodules: `cli` for the tests
//! of the `racetrace` binary.
#![allow(dead_code)]

pub mod cli;

use racetrace_formats::{
    ActorDesc, ActorId, ActorKind, CodeLoc, Event, EventKind, KeyDesc, KeyId, LocId, MemberKind,
    ObjId, ObjKind, ObjectDesc, StrId, Tables,
};

pub struct Trace {
    pub tables: Tables,
    pub events: Vec<Event>,
}

impl Default for Trace {
    fn default() -> Self {
        Self::new()
    }
}

impl Trace {
    /// A trace with the main actor (0) and the file `app.py`.
    pub fn new() -> Self {
        let mut t = Trace {
            tables: Tables::default(),
            events: Vec::new(),
        };
        let name = t.str("main");
        t.tables.actors.push(ActorDesc {
            kind: ActorKind::Thread,
            name,
            parent: None,
            created_by_event: None,
        });
        t
    }

    pub fn str(&mut self, s: &str) -> StrId {
        if let Some(i) = self.tables.strings.iter().position(|x| x == s) {
            return StrId(i as u32);
        }
        self.tables.strings.push(s.to_string());
        StrId(self.tables.strings.len() as u32 - 1)
    }

    /// A location `app.py:line` in function `f`.
    pub fn line(&mut self, line: u32) -> LocId {
        self.loc("app.py", line, "f")
    }

    pub fn loc(&mut self, file: &str, line: u32, func: &str) -> LocId {
        let file = self.str(file);
        let function = self.str(func);
        self.tables.locs.push(CodeLoc {
            file,
            line,
            function,
            offset: 0,
        });
        LocId(self.tables.locs.len() as u32 - 1)
    }

    pub fn object(&mut self, kind: ObjKind, label: &str) -> ObjId {
        let label = self.str(label);
        let type_name = self.str("object");
        self.tables.objects.push(ObjectDesc {
            kind,
            type_name,
            label,
        });
        ObjId(self.tables.objects.len() as u32 - 1)
    }

    pub fn key(&mut self, obj: ObjId, member_kind: MemberKind, member: &str) -> KeyId {
        let member = self.str(member);
        self.tables.keys.push(KeyDesc {
            obj,
            member_kind,
            member,
        });
        KeyId(self.tables.keys.len() as u32 - 1)
    }

    /// A plain attribute `label.attr` on a fresh object.
    pub fn attr(&mut self, label: &str, attr: &str) -> KeyId {
        let o = self.object(ObjKind::Instance, label);
        self.key(o, MemberKind::Attr, attr)
    }

    pub fn lock(&mut self, label: &str) -> ObjId {
        self.object(ObjKind::Lock, label)
    }

    pub fn event(&mut self, actor: ActorId, kind: EventKind, loc: LocId, target: u32, aux: u64) {
        self.events.push(Event {
            actor,
            kind,
            loc,
            target,
            aux,
        });
    }

    /// `parent` starts a new thread; also records the child's `ActorStart`.
    pub fn spawn(&mut self, parent: ActorId, name: &str, loc: LocId) -> ActorId {
        let child = ActorId(self.tables.actors.len() as u32);
        let name = self.str(name);
        self.tables.actors.push(ActorDesc {
            kind: ActorKind::Thread,
            name,
            parent: Some(parent),
            created_by_event: Some(self.events.len() as u64),
        });
        self.event(parent, EventKind::Spawn, loc, child.0, 0);
        self.event(child, EventKind::ActorStart, loc, child.0, 0);
        child
    }

    pub fn read(&mut self, a: ActorId, k: KeyId, loc: LocId) {
        self.event(a, EventKind::Read, loc, k.0, 0);
    }

    pub fn write(&mut self, a: ActorId, k: KeyId, loc: LocId) {
        self.event(a, EventKind::Write, loc, k.0, 0);
    }

    pub fn acquire(&mut self, a: ActorId, l: ObjId, loc: LocId) {
        self.event(a, EventKind::LockAcquire, loc, l.0, 1);
    }

    pub fn release(&mut self, a: ActorId, l: ObjId, loc: LocId) {
        self.event(a, EventKind::LockRelease, loc, l.0, 1);
    }

    pub fn exit(&mut self, a: ActorId, loc: LocId) {
        self.event(a, EventKind::ActorExit, loc, a.0, 0);
    }

    pub fn join(&mut self, a: ActorId, child: ActorId, loc: LocId) {
        self.event(a, EventKind::Join, loc, child.0, 0);
    }

    pub fn analyze(&self) -> racetrace_analyzer::Analysis {
        racetrace_analyzer::analyze(&self.tables, self.events.iter().copied())
    }
}

pub const MAIN: ActorId = ActorId(0);
