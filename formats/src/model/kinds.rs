//! The kinds of events: one list gives the enum, its wire values and its
//! names, and what each kind's `target` refers to.

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
    /// A step of the task begins: the loop switched to it, at the `await`
    /// it resumes from (target: self; aux: 1 + the actor of the thread
    /// whose loop runs it, 0 when unknown).
    TaskSwitch = 25 => "task-switch",

    // I/O on a resource (target: key with `MemberKind::Resource`).
    IoRead = 26 => "io-read",
    IoWrite = 27 => "io-write",

    /// A scheduling point with no memory effect (`time.sleep`, explicit
    /// yield); target: self actor. aux: 0 for a sleep, 1 for a wake-up
    /// that found nothing to do, [`crate::YIELD_SUSPEND`] where a task
    /// suspends, [`crate::YIELD_MARKER`] plus its id for a comment marker.
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

    // Observations (format version 3): a call that reads the state of a
    // synchronization object and changes nothing, ordered with what
    // changes it.
    /// `Event.is_set()`, `Future.done()` (target: obj); aux = 1 if it saw
    /// the flag set (the future finished), else 0.
    EventCheck = 36 => "event-check",
    /// `Queue.qsize()`, `empty()`, `full()` (target: obj, the queue); aux =
    /// the number of items it saw.
    QueueCheck = 37 => "queue-check",
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
