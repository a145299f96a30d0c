//! The events of asyncio tasks in a controlled run, written for the
//! controlled event loop (`racetrace/aio.py`, through `py::tasks`): a
//! task's creation, the switch to it that begins each of its steps (at the
//! `await` it resumes from), its end, and the loop thread's wait for it.
//! Each takes its actor's turn like any event (`control::before_emit`).

use pyo3::prelude::*;
use racetrace_formats::{ActorId, ActorKind, CodeLoc, Event, EventKind, LocId};

use crate::session;

pub use super::ctx::{current_task, set_task};

/// A location named by its parts (interned on first use).
pub fn loc_of(file: &str, line: u32, function: &str, offset: u32) -> LocId {
    session::with(|s| {
        let loc = CodeLoc {
            file: s.string(file),
            line,
            function: s.string(function),
            offset,
        };
        s.loc(loc)
    })
    .unwrap_or_default()
}

/// Takes `actor`'s turn for an event and writes it; false when the run
/// was stopped (the caller unwinds).
pub fn task_event(
    py: Python<'_>,
    actor: ActorId,
    kind: EventKind,
    loc: LocId,
    target: u32,
    aux: u64,
) -> bool {
    let op = Event {
        actor,
        kind,
        loc,
        target,
        aux,
    };
    if crate::control::before_emit(py, actor, op, None).is_err() {
        return false;
    }
    session::with(|s| s.emit(actor, kind, loc, target, aux));
    true
}

/// `creator` creates a task named `name`, run by the loop of the thread of
/// actor `base`: its `TaskCreate`, then the new actor. `None` when the run
/// was stopped.
pub fn task_create(
    py: Python<'_>,
    base: ActorId,
    creator: ActorId,
    name: &str,
    loc: LocId,
) -> Option<ActorId> {
    let op = Event {
        actor: creator,
        kind: EventKind::TaskCreate,
        loc,
        target: u32::MAX,
        aux: 0,
    };
    crate::control::before_emit(py, creator, op, None).ok()?;
    let child = session::with(|s| {
        let at = s.events_written();
        let child = s.new_actor_of(ActorKind::Task, name, Some(creator), Some(at));
        s.emit(creator, EventKind::TaskCreate, loc, child.0, 0);
        child
    })?;
    let create = Event {
        target: child.0,
        ..op
    };
    crate::control::task_created(base, create, child, name.to_string());
    Some(child)
}

/// The actor the calling thread acts as: the task it runs a step of, else
/// `thread`'s own actor (`None` when the thread is not one of the run's).
pub fn acting_actor(thread: &Bound<'_, PyAny>) -> Option<ActorId> {
    current_task().or_else(|| session::with(|s| s.thread_actor(thread)).flatten())
}

// ---------------------------------------------------------------------------
// Free-running recording (`racetrace.aio_record`): the same events, written
// as they happen; nobody takes turns.

/// A task named `name` is created by whoever runs on the calling thread
/// (the task it acts as, else `thread`'s actor): its `TaskCreate` and the
/// new actor. `None` when the thread is not recorded.
pub fn record_task_create(thread: &Bound<'_, PyAny>, name: &str, loc: LocId) -> Option<ActorId> {
    session::with(|s| {
        let creator = current_task().or_else(|| s.thread_actor(thread))?;
        let at = s.events_written();
        let child = s.new_actor_of(ActorKind::Task, name, Some(creator), Some(at));
        s.emit(creator, EventKind::TaskCreate, loc, child.0, 0);
        Some(child)
    })
    .flatten()
}

/// A step of task `actor` begins on the calling thread (`thread`, whose
/// loop runs it), resuming at `loc`: the thread's events are the task's
/// until [`record_task_end`].
pub fn record_task_begin(thread: &Bound<'_, PyAny>, actor: ActorId, loc: LocId) {
    set_task(Some(actor));
    session::with(|s| {
        let on = s.thread_actor(thread).map_or(0, |t| u64::from(t.0) + 1);
        s.emit(actor, EventKind::TaskSwitch, loc, actor.0, on)
    });
}

/// The step of task `actor` ends (with the task, if `done`: its exit).
pub fn record_task_end(actor: ActorId, done: bool, loc: LocId) {
    if done {
        session::with(|s| s.emit(actor, EventKind::ActorExit, loc, actor.0, 0));
    }
    set_task(None);
}
