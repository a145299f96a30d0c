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

/// Declares `EventKind` from one list, so that the enum, `ALL` (indexed
/// by the wire value, which `from_u8` relies on) and `name()` cannot drift
/// apart when a kind is added.
// `$value` is a `tt`, not a `literal`: the bincode derive does not accept
// a literal fragment as a discriminant.
macro_rules! event_kinds {
    ($($(#[$doc:meta])* $kind:ident = $value:tt => $name:literal,)*) => {
        /// Every visible operation. The meaning of `Event::target` and `Event::aux`
        /// depends on the kind and is given beside each variant.
        ///
        /// Target kinds: **key** = `KeyId`, **obj** = `ObjId`, **actor** = `ActorId`.
        #[derive(
            Clone,
            Copy,
            Debug,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            serde::Serialize,
            serde::Deserialize,
            bincode::Encode,
            bincode::Decode,
        )]
        #[repr(u8)]
        pub enum EventKind {
            $($(#[$doc])* $kind = $value,)*
        }

        impl EventKind {
            /// Every kind, in wire-value order: `ALL[k as usize] == k`.
            pub const ALL: [EventKind; [$($value),*].len()] = [$(EventKind::$kind),*];

            /// Short lower-case name used in reports and exports.
            pub fn name(self) -> &'static str {
                match self {
                    $(EventKind::$kind => $name,)*
                }
            }
        }
    };
}

// `from_u8` indexes `ALL` by the wire value: checked at compile time.
const _: () = {
    let mut i = 0;
    while i < EventKind::ALL.len() {
        assert!(
            EventKind::ALL[i] as usize == i,
            "EventKind values must be 0, 1, 2, ..."
        );
        i += 1;
    }
};

event_kinds! {
    // Shared-state accesses (target: key).
    Read = 0 => "read",
    Write = 1 => "write",

    // Locks (target: obj). A failed acquire is `LockAcquireFail`.
    /// Lock/RLock acquired; aux = recursion depth after the acquire (1 for a
    /// plain lock).
    LockAcquire = 2 => "acquire",
    /// aux = recursion depth before the release.
    LockRelease = 3 => "release",
    /// Semaphore / BoundedSemaphore; aux = 1 + the semaphore's value just
    /// before the operation (0: not known, as in format version 1).
    SemAcquire = 4 => "sem-acquire",
    SemRelease = 5 => "sem-release",

    // Events (target: obj).
    EventSet = 6 => "event-set",
    EventClear = 7 => "event-clear",
    /// A wait that returned true (a timed-out wait is `EventWaitTimeout`).
    EventWait = 8 => "event-wait",
    EventWaitTimeout = 9 => "event-wait-timeout",

    // Conditions (target: obj, the condition).
    /// Begin waiting (the lock is released).
    CondWait = 10 => "cond-wait",
    /// Woken (before re-acquiring); aux = 1 if notified, 0 if timed out.
    CondWake = 11 => "cond-wake",
    /// aux = number of waiters asked to wake (n of `notify(n)`).
    CondNotify = 12 => "notify",
    CondNotifyAll = 13 => "notify-all",

    // Barriers (target: obj); aux = generation.
    BarrierArrive = 14 => "barrier-arrive",
    BarrierLeave = 15 => "barrier-leave",
    BarrierAbort = 16 => "barrier-abort",

    // Queues (target: obj); aux = item token, the same on the put and the
    // get of one item.
    QueuePut = 17 => "put",
    QueueGet = 18 => "get",

    // Threads (target: actor).
    /// The parent started the child (`Thread.start`).
    Spawn = 19 => "spawn",
    /// First event of an actor (target: the actor itself).
    ActorStart = 20 => "start",
    /// Last event of an actor (target: the actor itself); aux says how it
    /// ended: [`EXIT_OK`], [`EXIT_FAILED`] (an exception) or
    /// [`EXIT_DETACHED`] (it went on running unrecorded).
    ActorExit = 21 => "exit",
    /// A join that returned with the target finished.
    Join = 22 => "join",

    // asyncio tasks (target: actor).
    TaskCreate = 23 => "task-create",
    /// Awaiting a task that has completed.
    TaskAwait = 24 => "task-await",
    /// The running task gives control back to the loop (target: self).
    TaskSwitch = 25 => "task-switch",

    // I/O on a resource (target: key with `MemberKind::Resource`).
    IoRead = 26 => "io-read",
    IoWrite = 27 => "io-write",

    /// A scheduling point with no memory effect (`time.sleep`, explicit
    /// yield); target: self actor.
    Yield = 28 => "yield",

    // Queue completion (target: obj, the queue).
    /// `Queue.task_done`: one item the consumer got is finished.
    QueueTaskDone = 29 => "task-done",
    /// `Queue.join` returned: every item put so far was marked done.
    QueueJoin = 30 => "queue-join",

    // Operations that gave up (format version 2): a try (`blocking=False`)
    // that found the resource taken, or a timed wait that timed out. They
    // read the state of what they waited for and change nothing.
    /// `Lock/RLock.acquire` returned False (target: obj, the lock).
    LockAcquireFail = 31 => "acquire-failed",
    /// `Semaphore.acquire` returned False (target: obj); aux as `SemAcquire`.
    SemAcquireFail = 32 => "sem-acquire-failed",
    /// `Queue.get` raised `Empty` (target: obj, the queue).
    QueueGetFail = 33 => "get-failed",
    /// `Queue.put` raised `Full` (target: obj, the queue).
    QueuePutFail = 34 => "put-failed",
    /// `Thread.join(timeout)` returned with the thread still running
    /// (target: actor, the thread).
    JoinTimeout = 35 => "join-timeout",
}

impl EventKind {
    /// Decodes a kind byte; `None` for an unknown value (corrupt input).
    #[inline]
    pub fn from_u8(b: u8) -> Option<EventKind> {
        Self::ALL.get(b as usize).copied()
    }

    /// What `Event::target` refers to for this kind.
    #[inline]
    pub fn target_kind(self) -> TargetKind {
        use EventKind::*;
        match self {
            Read | Write | IoRead | IoWrite => TargetKind::Key,
            Spawn | ActorStart | ActorExit | Join | JoinTimeout | TaskCreate | TaskAwait
            | TaskSwitch | Yield => TargetKind::Actor,
            _ => TargetKind::Obj,
        }
    }

    /// A shared-state or I/O access (the things races are made of).
    #[inline]
    pub fn is_access(self) -> bool {
        matches!(
            self,
            EventKind::Read | EventKind::Write | EventKind::IoRead | EventKind::IoWrite
        )
    }

    #[inline]
    pub fn is_write(self) -> bool {
        matches!(self, EventKind::Write | EventKind::IoWrite)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    Key,
    Obj,
    Actor,
}

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
/// semaphore's value in `aux`; version 3 source digests and marks
/// (`crate::sources`). An older trace is a valid newer one.
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
