//! What an event touches, for DPOR: its *footprint*, and the dependency
//! relation between footprints.
//!
//! Two events of different actors are dependent when swapping them (were they
//! adjacent) could change what either does or what the program state is
//! afterwards. The relation is over-approximated where being exact would need
//! values the trace does not carry (two `Event.set` calls are treated as
//! dependent although they commute); over-approximating costs extra
//! executions, never missed ones.
//!
//! Footprints are built once per event, are `Copy` and small, and compare
//! integers only (no strings, no look-ups), because the dependency check runs
//! in every inner loop of the engine.

use racetrace_formats::{Event, EventKind, MemberKind, Tables};

/// Sentinel for "no such index / id".
pub(crate) const NONE: u32 = u32::MAX;

/// Flag in the `aux` of the operation a timeout's actor is about to do (a
/// task step that fires it, see the recorder's controlled event loop):
/// like a timed wait that would give up, it is chosen freely only when no
/// other actor can go; firing earlier is explored as the reversal of its
/// races.
pub const TIMEOUT_STEP: u64 = 1 << 63;

/// Whether `ev`, an operation about to be done, is one that only times out
/// or gives up (see [`TIMEOUT_STEP`]).
pub fn only_gives_up(ev: &Event) -> bool {
    (matches!(ev.kind, EventKind::TaskSwitch | EventKind::LockAcquire)
        && ev.aux & TIMEOUT_STEP != 0)
        || Op::of(ev, &EMPTY_TABLES).gave_up
}

/// Footprints of pending operations never touch keys (blocking operations
/// are synchronization), so they need no key table.
pub(crate) static EMPTY_TABLES: Tables = Tables {
    strings: Vec::new(),
    locs: Vec::new(),
    objects: Vec::new(),
    keys: Vec::new(),
    actors: Vec::new(),
};

/// The thing an event touches, beyond its own actor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Cell {
    /// Only the actor's own state (start, exit, yield, re-entrant lock ops).
    Local,
    /// A shared-state key; `whole` keys conflict with every member of `obj`.
    Key { obj: u32, key: u32, whole: bool },
    /// A synchronization object (lock, semaphore, event, condition, barrier,
    /// queue).
    Sync(u32),
    /// An actor as an object: written by its creation, read by joins of it.
    /// Every event *of* that actor conflicts with it as well (a join waits
    /// for all of them, the creation precedes all of them).
    Actor(u32),
    /// Everything an atomic step of several events touches: footprint
    /// `id` of the exploration's `Footprints` (see `footprint`).
    Steps(u32),
    /// Not known before the operation runs: an atomic step moved to a place
    /// where it has not run yet (it may read other values there, and then
    /// touch other things). Dependent with every operation of another
    /// actor, so that nothing is judged covered on its account.
    Unknown,
}

/// The footprint of one event (or of an operation an actor is about to do).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Op {
    pub(crate) actor: u32,
    pub(crate) kind: EventKind,
    pub(crate) cell: Cell,
    pub(crate) write: bool,
    /// The operation gave up: a try that found the resource taken, a timed
    /// wait that timed out. It reads what it waited for and changes nothing.
    pub(crate) gave_up: bool,
    /// The operation needs no other event to go: it gave up, or it is a
    /// try or a timed wait, which, run before what let it succeed, would
    /// have given up instead of blocking.
    pub(crate) timed: bool,
}

impl Op {
    /// The footprint of `ev`; `tables` says which keys are whole-object keys
    /// (a key missing from it is treated as a plain member).
    pub fn of(ev: &Event, tables: &Tables) -> Op {
        use EventKind::*;
        let actor = ev.actor.0;
        let (cell, write) = match ev.kind {
            Read | Write | IoRead | IoWrite => {
                let (obj, whole) = match tables.keys.get(ev.target as usize) {
                    Some(k) => (k.obj.0, k.member_kind == MemberKind::Whole),
                    None => (NONE, false),
                };
                let cell = Cell::Key {
                    obj,
                    key: ev.target,
                    whole,
                };
                (cell, ev.kind.is_write())
            }
            // Re-entering an RLock (or leaving an inner level) never blocks
            // and nobody else can touch the lock meanwhile: purely local.
            LockAcquire | LockRelease if ev.aux & !TIMEOUT_STEP > 1 => (Cell::Local, false),
            // Waits that do not change the flag commute with each other;
            // so do operations that gave up (they only read the state).
            EventWait | EventWaitTimeout | LockAcquireFail | SemAcquireFail | QueueGetFail
            | QueuePutFail | EventCheck | QueueCheck => (Cell::Sync(ev.target), false),
            LockAcquire | LockRelease | SemAcquire | SemRelease | EventSet | EventClear
            | CondWait | CondWake | CondNotify | CondNotifyAll | BarrierArrive | BarrierLeave
            | BarrierAbort | QueuePut | QueueGet | QueueTaskDone | QueueJoin => {
                (Cell::Sync(ev.target), true)
            }
            Spawn | TaskCreate => (Cell::Actor(ev.target), true),
            Join | JoinTimeout | TaskAwait => (Cell::Actor(ev.target), false),
            ActorStart | ActorExit | TaskSwitch | Yield => (Cell::Local, false),
        };
        let gave_up = matches!(
            ev.kind,
            EventWaitTimeout
                | LockAcquireFail
                | SemAcquireFail
                | QueueGetFail
                | QueuePutFail
                | JoinTimeout
                | BarrierAbort
        ) || (ev.kind == CondWake && ev.aux == 0);
        // An observation never waits: run before what it saw, it sees the
        // state before instead (as a try that would have failed).
        let observes = matches!(ev.kind, EventCheck | QueueCheck);
        Op {
            actor,
            kind: ev.kind,
            cell,
            write,
            gave_up,
            timed: gave_up || observes,
        }
    }

    /// An atomic step of `actor` touching `cell` (`Local`, or `Steps`).
    pub(crate) fn step(actor: u32, cell: Cell) -> Op {
        Op {
            actor,
            kind: EventKind::TaskSwitch,
            cell,
            write: false,
            gave_up: false,
            timed: false,
        }
    }

    /// The next step of `actor` where it has not run yet: its footprint is
    /// unknown (see `Cell::Unknown`).
    pub(crate) fn unknown(actor: u32) -> Op {
        Op::step(actor, Cell::Unknown)
    }

    /// The same operation, marked as a try or a timed wait (see `timed`).
    #[inline]
    pub(crate) fn with_timed(mut self, timed: bool) -> Op {
        self.timed |= timed;
        self
    }

    /// Creates a new actor. Creations are mutually dependent because actor
    /// ids are given by creation order: swapping two creations renames the
    /// children, so it is a different execution.
    #[inline]
    pub(crate) fn creates(self) -> bool {
        matches!(self.kind, EventKind::Spawn | EventKind::TaskCreate)
    }

    /// Can this operation be blocked (not enabled) for a while? Used only to
    /// guess preemptions of schedules not run yet.
    #[inline]
    pub(crate) fn may_block(self) -> bool {
        use EventKind::*;
        matches!(
            self.kind,
            LockAcquire
                | SemAcquire
                | EventWait
                | CondWake
                | BarrierLeave
                | QueueGet
                | QueueJoin
                | Join
                | TaskAwait
        ) && self.cell != Cell::Local
    }
}

/// Whether two operations of *different* actors are dependent. (Operations
/// of one actor are ordered by program order; callers handle that.)
#[inline]
pub fn dependent(a: &Op, b: &Op) -> bool {
    debug_assert_ne!(a.actor, b.actor);
    if a.cell == Cell::Unknown || b.cell == Cell::Unknown {
        return true;
    }
    if a.creates() && b.creates() {
        return true;
    }
    if a.cell == Cell::Actor(b.actor) || b.cell == Cell::Actor(a.actor) {
        return true;
    }
    let either_writes = a.write || b.write;
    match (a.cell, b.cell) {
        (
            Cell::Key {
                obj: o1,
                key: k1,
                whole: w1,
            },
            Cell::Key {
                obj: o2,
                key: k2,
                whole: w2,
            },
        ) => either_writes && (k1 == k2 || (o1 == o2 && o1 != NONE && (w1 || w2))),
        (Cell::Sync(x), Cell::Sync(y)) | (Cell::Actor(x), Cell::Actor(y)) => {
            either_writes && x == y
        }
        _ => false,
    }
}

/// Whether the race "`earlier` then `later`" can be reversed: is `later`
/// still enabled when run before `earlier`? `avail_before` is the state of
/// `earlier`'s object just before it: the lock free, the semaphore's value
/// above 0, the event flag set, the queue non-empty.
///
/// The rule every case follows: an operation is never moved before the
/// operation that enabled it. A release enables the acquire after it, so
/// release→acquire is not reversed (unless the semaphore had a unit left
/// before the release); the acquire races with the previous *acquire*
/// instead (see `Execution::races_of`), which found the lock free. An acquire
/// that failed, or a wait that timed out, found the resource taken: a
/// blocking operation cannot go in its place either. A join waits for the
/// end of the actor it joins, an actor's events need its creation, a
/// condition wake-up needs a notify, leaving a barrier needs every arrival,
/// a queue join needs the `task_done` calls before it. A try or a timed
/// wait needs nothing: moved before its enabler, it gives up instead.
#[inline]
pub(crate) fn reversible(earlier: &Op, avail_before: bool, later: &Op) -> bool {
    use EventKind::*;
    if earlier.cell == Cell::Actor(later.actor) {
        return false;
    }
    if later.timed {
        return true;
    }
    match later.kind {
        Join | TaskAwait | CondWake | BarrierLeave => false,
        LockAcquire | SemAcquire | EventWait | QueueGet => avail_before,
        // A `task_done` may be what let the join return.
        QueueJoin => earlier.kind != QueueTaskDone,
        _ => true,
    }
}

/// Whether a semaphore had a unit left just before an operation on it
/// (`aux` = 1 + its value then; 0 when unknown: as a lock, an acquire found
/// it available and a release did not).
#[inline]
pub(crate) fn sem_available(kind: EventKind, aux: u64) -> bool {
    if aux == 0 {
        kind == EventKind::SemAcquire
    } else {
        aux > 1
    }
}

/// Whether a queue had an item just before an operation on it. The
/// explorer is given `aux` = 1 + the queue's length then (0 when unknown:
/// the items put before the execution began are then not counted, and
/// `level`, the puts minus the gets of the execution so far, decides). A
/// get that took an item found one.
#[inline]
pub(crate) fn queue_available(kind: EventKind, aux: u64, level: i64) -> bool {
    if kind == EventKind::QueueGet {
        true
    } else if aux == 0 {
        level > 0
    } else {
        aux > 1
    }
}
