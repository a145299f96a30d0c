//! The in-memory model of a trace: ids, table entries, events, header and
//! outcome. Encoding lives in `codec`/`writer`/`reader`; this module only
//! says what a trace *is*.
//!
//! Events are small `Copy` values (24 bytes) so that the recorder can emit them
//! and the analyzer can stream them without allocating.

use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[derive(serde::Serialize, serde::Deserialize, bincode::Encode, bincode::Decode)]
        pub struct $name(pub u32);

        impl $name {
            #[inline]
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

id_type!(
    /// A thread or an asyncio task, numbered by creation order along the
    /// schedule; the main actor is 0.
    ActorId
);
id_type!(
    /// Index into the string table.
    StrId
);
id_type!(
    /// Index into the code-location table.
    LocId
);
id_type!(
    /// Index into the object table: one entry per distinct object identity
    /// seen in the run (never reused, even when Python reuses `id()`).
    ObjId
);
id_type!(
    /// Index into the key table: an (object, member) pair that accesses touch.
    KeyId
);

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A code location: file, line, function, plus the bytecode offset that
/// produced the event (so two events on one line stay distinct).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    bincode::Encode,
    bincode::Decode,
)]
pub struct CodeLoc {
    pub file: StrId,
    pub line: u32,
    pub function: StrId,
    pub offset: u32,
}

/// What kind of thing an object is. Drives naming in reports and tells the
/// analyzer which objects are synchronization primitives.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    bincode::Encode,
    bincode::Decode,
)]
#[repr(u8)]
pub enum ObjKind {
    /// A plain Python object (attributes).
    Instance = 0,
    List = 1,
    Dict = 2,
    Set = 3,
    Deque = 4,
    ByteArray = 5,
    /// Any other container accessed by subscript.
    Container = 6,
    /// A module namespace (globals).
    Module = 7,
    /// A closure cell.
    Cell = 8,
    Lock = 9,
    RLock = 10,
    Semaphore = 11,
    Event = 12,
    Condition = 13,
    Barrier = 14,
    Queue = 15,
    /// A thread or task handle (spawn / join target).
    ActorHandle = 16,
    /// An external resource: file path, socket peer.
    Resource = 17,
    Other = 18,
}

/// One object identity. `label` is how reports name it (`Counter`, `cache`,
/// `module app`, `lock_a`); `type_name` is its Python type.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    bincode::Encode,
    bincode::Decode,
)]
pub struct ObjectDesc {
    pub kind: ObjKind,
    pub type_name: StrId,
    pub label: StrId,
}

/// How a key's member is reached, for readable names:
/// `Counter.value`, `cache['k']`, `global counter`, `closure count in f`.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    bincode::Encode,
    bincode::Decode,
)]
#[repr(u8)]
pub enum MemberKind {
    Attr = 0,
    Item = 1,
    Global = 2,
    Cell = 3,
    /// The container as a whole (`len`, iteration, `append`, `clear`):
    /// conflicts with every member of the same object.
    Whole = 4,
    /// An I/O resource (file path, socket peer).
    Resource = 5,
}

/// An (object, member) pair.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    bincode::Encode,
    bincode::Decode,
)]
pub struct KeyDesc {
    pub obj: ObjId,
    pub member_kind: MemberKind,
    /// Attribute name, `repr` of the subscript key, variable name; empty for
    /// `Whole`.
    pub member: StrId,
}

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    bincode::Encode,
    bincode::Decode,
)]
#[repr(u8)]
pub enum ActorKind {
    Thread = 0,
    Task = 1,
}

/// An actor: its parent and the index of the event that created it (the
/// parent's `Spawn`/`TaskCreate`); both `None` for the main actor.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    bincode::Encode,
    bincode::Decode,
)]
pub struct ActorDesc {
    pub kind: ActorKind,
    pub name: StrId,
    pub parent: Option<ActorId>,
    pub created_by_event: Option<u64>,
}

mod kinds;
pub use kinds::{EventKind, TargetKind};

/// One visible operation of one actor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Event {
    pub actor: ActorId,
    pub kind: EventKind,
    pub loc: LocId,
    /// A `KeyId`, `ObjId` or `ActorId` according to `kind.target_kind()`.
    pub target: u32,
    /// Kind-specific extra value (see `EventKind`); 0 when unused.
    pub aux: u64,
}

/// What the recorder was doing.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    bincode::Encode,
    bincode::Decode,
)]
#[repr(u8)]
pub enum Mode {
    Record = 0,
    Replay = 1,
    Explore = 2,
    /// Built by a test helper or a tool, not by running Python.
    Synthetic = 3,
}

/// The format version this build writes (the header's `format_version`;
/// the byte codec of events is versioned with it). Version 2 added the
/// event kinds of operations that gave up (`LockAcquireFail`, ...) and the
/// semaphore's value in `aux`; version 3 the observations (`EventCheck`,
/// `QueueCheck`), source digests and marks (`crate::sources`). An older
/// trace is a valid trace of a newer version.
pub const FORMAT_VERSION: u32 = 3;

/// The oldest format version this build reads.
pub const OLDEST_READABLE_VERSION: u32 = 1;

/// File header. `format_version` is the version of the file format, checked
/// before anything else is decoded.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    bincode::Encode,
    bincode::Decode,
)]
pub struct Header {
    pub format_version: u32,
    pub python_version: String,
    pub racetrace_version: String,
    pub mode: Mode,
    /// What ran: script path and arguments, or a test node id.
    pub program: String,
    pub seed: u64,
    /// Seconds since the Unix epoch when recording started.
    pub started_at: u64,
}

impl Header {
    /// A header for this build (current format and racetrace versions);
    /// the Python version is empty and seed and start time are 0 until the
    /// caller fills them in.
    pub fn new(mode: Mode, program: impl Into<String>) -> Header {
        Header {
            format_version: FORMAT_VERSION,
            python_version: String::new(),
            racetrace_version: env!("CARGO_PKG_VERSION").to_string(),
            mode,
            program: program.into(),
            seed: 0,
            started_at: 0,
        }
    }
}

/// `ActorExit`'s aux: the actor ended normally.
pub const EXIT_OK: u64 = 0;
/// `ActorExit`'s aux: an exception escaped the actor.
pub const EXIT_FAILED: u64 = 1;
/// `ActorExit`'s aux: the actor was still running, but from this point on
/// it was no longer recorded (its trace function was replaced from C, as a
/// coverage tool's C tracer does). Nothing it did afterwards is in the trace.
pub const EXIT_DETACHED: u64 = 2;

/// `Yield`'s aux where an asyncio task suspends (an `await` that waits, or
/// a `sleep(0)`): its step ends there and its loop may run another task.
/// Threads may have come between the events of the step; the other tasks
/// of the loop may not.
pub const YIELD_SUSPEND: u64 = 2;

/// `Yield`'s aux where an actor reached a comment marker (`# racetrace:
/// NAME`) in a run with a marker schedule: this plus the marker's id. A
/// scheduling point of that run only (the program does nothing there): a
/// replay of the trace skips it ([`crate::ReplaySource`]), so that the
/// trace replays without the markers.
pub const YIELD_MARKER: u64 = 1 << 32;

/// How the run ended.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    bincode::Encode,
    bincode::Decode,
)]
pub enum Outcome {
    Ok,
    /// An exception escaped an actor (or the program).
    Exception {
        actor: ActorId,
        type_name: String,
        message: String,
        traceback: String,
    },
    /// Every live actor was blocked; `description` says who waits for what.
    Deadlock {
        description: String,
    },
    /// The run was stopped by a timeout or by the user.
    Aborted {
        reason: String,
    },
}

/// The interned tables of a trace, as read back. Entries are only ever
/// appended, so an id is an index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tables {
    pub strings: Vec<String>,
    pub locs: Vec<CodeLoc>,
    pub objects: Vec<ObjectDesc>,
    pub keys: Vec<KeyDesc>,
    pub actors: Vec<ActorDesc>,
}

impl Tables {
    /// The string with this id, or `"?"` if out of range (readers validate
    /// ids, so this only shows for hand-built tables).
    pub fn str(&self, id: StrId) -> &str {
        self.strings
            .get(id.index())
            .map(String::as_str)
            .unwrap_or("?")
    }

    /// `file:line` of a code location.
    pub fn loc_display(&self, id: LocId) -> String {
        match self.locs.get(id.index()) {
            Some(loc) => format!("{}:{}", self.str(loc.file), loc.line),
            None => format!("<loc {}>", id.0),
        }
    }

    /// Readable name of an object: its label, else its type name.
    pub fn object_display(&self, id: ObjId) -> String {
        match self.objects.get(id.index()) {
            Some(obj) if !self.str(obj.label).is_empty() => self.str(obj.label).to_string(),
            Some(obj) => self.str(obj.type_name).to_string(),
            None => format!("<object {}>", id.0),
        }
    }

    /// Readable name of a key: `Counter.value`, `cache['k']`,
    /// `global counter`, `closure count`, `items[*]`, `file /tmp/x`.
    pub fn key_display(&self, id: KeyId) -> String {
        let Some(key) = self.keys.get(id.index()) else {
            return format!("<key {}>", id.0);
        };
        let obj = self.object_display(key.obj);
        let member = self.str(key.member);
        match key.member_kind {
            MemberKind::Attr => format!("{obj}.{member}"),
            MemberKind::Item => format!("{obj}[{member}]"),
            MemberKind::Global => format!("global {member}"),
            MemberKind::Cell => format!("closure {member}"),
            MemberKind::Whole => format!("{obj} (whole)"),
            MemberKind::Resource => format!("{obj} {member}"),
        }
    }

    /// Readable name of an actor: `T1 (worker-1)`, or `T1` when it has no name.
    pub fn actor_display(&self, id: ActorId) -> String {
        match self.actors.get(id.index()) {
            Some(a) if !self.str(a.name).is_empty() => format!("T{} ({})", id.0, self.str(a.name)),
            _ => format!("T{}", id.0),
        }
    }
}
