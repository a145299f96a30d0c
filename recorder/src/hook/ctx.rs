//! The per-thread state the installed trace function owns, the turn-taking
//! gate of controlled runs, and the [`Tracer`] implementation through which
//! the interpreter backend hands events to the hook.

use std::cell::{Cell, RefCell};

use pyo3::prelude::*;
use racetrace_formats::{ActorId, EventKind, LocId, ObjId};

use crate::codeinfo::Role;
use crate::cpython::{Frame, Tracer};
use crate::session;

thread_local! {
    /// The asyncio task this thread's event loop is running a step of, if
    /// any: the thread's events are that task's (see `control::tasks`).
    static TASK: Cell<Option<ActorId>> = const { Cell::new(None) };
}

/// The calling thread now acts as task `task` (`None`: as itself again).
pub fn set_task(task: Option<ActorId>) {
    TASK.with(|t| t.set(task));
}

/// The task the calling thread acts as, if any.
pub fn current_task() -> Option<ActorId> {
    TASK.with(|t| t.get())
}

/// Per-thread recorder state, owned by the installed trace function.
pub struct ThreadCtx {
    /// The thread's own actor (see [`ThreadCtx::actor`]).
    pub actor: ActorId,
    pub generation: u64,
    /// A lock acquire waiting to learn whether it succeeded.
    pub(super) pending: Cell<Option<Pending>>,
    pub(super) cond_waits: RefCell<Vec<CondWaitState>>,
    /// `Condition.wait` calls (by frame) that timed out and recorded their
    /// wake-up then, before re-acquiring the lock (held by another actor).
    pub(super) woken_waits: RefCell<Vec<usize>>,
    pub(super) barrier_waits: RefCell<Vec<(usize, ObjId, u64)>>,
    /// Futures whose `result()`/`exception()` call is in progress (by frame).
    pub(super) future_calls: RefCell<Vec<(usize, ObjId)>>,
    /// `Queue.put` calls (by frame) that found the queue full: their put is
    /// recorded when they return, once the item is in (or as given up),
    /// not when called.
    pub(super) deferred_puts: RefCell<Vec<usize>>,
    /// Where the actor started (also used for its exit event).
    pub(super) start_loc: Cell<LocId>,
    /// Whether this actor takes turns (a controlled run).
    pub controlled: bool,
    /// Inside `Thread.start`: the handshake with the new thread runs
    /// unmodelled (the child is not an actor yet).
    pub(super) uncontrolled: Cell<u32>,
    /// The actor recorded its exit: nothing of it is controlled any more.
    pub finished: Cell<bool>,
    /// Recognized primitives being called (controlled runs): what a wait
    /// inside them is for, in the user's terms.
    pub(super) prims: RefCell<Vec<Prim>>,
}

/// A recognized primitive call in progress (controlled runs).
#[derive(Clone)]
pub(crate) struct Prim {
    pub(super) frame: usize,
    pub(super) role: Role,
    /// The primitive's trace id (or the joined actor's).
    pub(super) id: u32,
    /// The user's call site (None when called from inside the library).
    pub(super) site: Option<LocId>,
    /// The lock a `Condition.wait` re-acquires.
    pub(super) cond_lock: Option<usize>,
    pub(super) label: String,
    /// A wait inside it gave up (timed out, or a try failed): the call
    /// ends in the event of giving up (`QueueGetFail`, ...).
    pub(super) gave_up: bool,
    /// The strategy already decided that it gives up (a timed semaphore
    /// acquire): a timed wait inside it expires at once.
    pub(super) expire: bool,
    /// Called with a timeout (or as a try): the event it ends in could
    /// have been the one of giving up.
    pub(super) timed: bool,
}

impl Prim {
    /// Whether `kind` is an event this primitive ends in.
    fn ends_in(&self, kind: EventKind) -> bool {
        use EventKind::*;
        matches!(
            (self.role, kind),
            (Role::EventWait, EventWait | EventWaitTimeout)
                | (Role::CondWait | Role::CondWaitFor, CondWake)
                | (Role::QueueGet, QueueGet | QueueGetFail)
                | (Role::QueuePut, QueuePut | QueuePutFail)
                | (Role::ThreadJoin, Join | JoinTimeout)
                | (Role::BarrierWait, BarrierLeave | BarrierAbort)
                | (Role::SemAcquire, SemAcquire | SemAcquireFail)
                | (Role::EventCheck, EventCheck)
                | (Role::QueueCheck, QueueCheck)
        )
    }
}

/// A C call whose effect is recorded once it has returned: at the next
/// instruction of the same frame, where its result is on top of the stack.
#[derive(Clone, Copy)]
pub(super) struct Pending {
    pub(super) frame: usize,
    /// Stack depth once the call has replaced its operands by its result.
    pub(super) depth: isize,
    pub(super) what: PendingOp,
    pub(super) loc: LocId,
}

#[derive(Clone, Copy)]
pub(super) enum PendingOp {
    /// Lock acquire: recorded if the result is `True`.
    Acquire { lock: ObjId, reentrant: bool },
    /// `SimpleQueue.get`: the result is the item.
    QueueGet { queue: ObjId },
}

pub(super) struct CondWaitState {
    pub(super) frame: usize,
    pub(super) lock: Option<(ObjId, u32)>,
}

/// The tracer is freed when its thread's trace function is removed. While
/// the actor still runs in a recording, that means something replaced the
/// recorder from C (`PyEval_SetTrace`, as coverage.py's C tracer does;
/// Python-level `sys.settrace` is kept beside the recorder, see
/// `racetrace.tracehooks`): the trace says that the actor goes on
/// unrecorded from here, rather than just falling silent.
impl Drop for ThreadCtx {
    fn drop(&mut self) {
        if !crate::cpython::HOOK_IN_TRACE_SLOT
            || self.controlled
            || self.generation != session::generation()
        {
            return;
        }
        let loc = super::tables::innermost_traced_loc();
        session::with(|s| {
            if !s.has_exited(self.actor) {
                let loc = loc.unwrap_or(self.start_loc.get());
                s.emit(
                    self.actor,
                    EventKind::ActorExit,
                    loc,
                    self.actor.0,
                    racetrace_formats::EXIT_DETACHED,
                );
            }
        });
    }
}

impl ThreadCtx {
    /// The actor the thread's events belong to: the task its event loop is
    /// running a step of, else the thread's own.
    #[inline]
    pub fn actor(&self) -> ActorId {
        TASK.with(|t| t.get()).unwrap_or(self.actor)
    }

    pub fn new(actor: ActorId, generation: u64, start_loc: LocId) -> ThreadCtx {
        ThreadCtx {
            actor,
            generation,
            pending: Cell::new(None),
            cond_waits: RefCell::new(Vec::new()),
            woken_waits: RefCell::new(Vec::new()),
            barrier_waits: RefCell::new(Vec::new()),
            future_calls: RefCell::new(Vec::new()),
            deferred_puts: RefCell::new(Vec::new()),
            start_loc: Cell::new(start_loc),
            controlled: crate::control::active(),
            uncontrolled: Cell::new(0),
            finished: Cell::new(false),
            prims: RefCell::new(Vec::new()),
        }
    }

    /// Whether this actor's operations go through the scheduler now.
    #[inline]
    pub fn in_control(&self) -> bool {
        self.controlled && self.uncontrolled.get() == 0 && !self.finished.get()
    }
}

thread_local! {
    /// Set when the controlled run was stopped under this thread: the trace
    /// function raises `RunAborted` so that the actor unwinds.
    static ABORTING: Cell<bool> = const { Cell::new(false) };
}

/// Whether the run was stopped during this callback (cleared).
pub(super) fn take_abort() -> bool {
    ABORTING.with(|a| a.replace(false))
}

pub(crate) fn aborting() -> bool {
    ABORTING.with(|a| a.get())
}

pub(crate) fn set_abort() {
    ABORTING.with(|a| a.set(true));
}

/// Takes the turn for one event (a no-op when the run is not controlled).
/// False when the run was stopped: the event must not be written.
#[inline]
pub(crate) fn gate(ctx: &ThreadCtx, kind: EventKind, loc: LocId, target: u32, aux: u64) -> bool {
    gate_at(ctx, kind, loc, target, aux, None)
}

pub(crate) fn gate_at(
    ctx: &ThreadCtx,
    kind: EventKind,
    loc: LocId,
    target: u32,
    aux: u64,
    deadline: Option<f64>,
) -> bool {
    // A thread of an earlier recording or run that let the GIL go in the
    // middle of an event (naming an object runs Python code) must not
    // write it, nor take a turn, in the session that started meanwhile:
    // its ids are the old session's.
    if !ctx_is_current(ctx) {
        return false;
    }
    if !ctx.in_control() {
        return true;
    }
    if !ctx_is_current(ctx) {
        // The actor's run is over (a later one may have begun while this
        // callback ran Python code): it takes no turn in another run.
        set_abort();
        return false;
    }
    // Hooks and the native API run with the GIL held.
    let py = crate::cpython::gil_held();
    let op = racetrace_formats::Event {
        actor: ctx.actor(),
        kind,
        loc,
        target,
        aux,
    };
    // The end of a timed wait (the innermost primitive called by the user
    // that ends in this kind of event was given a timeout).
    let timed = ctx
        .prims
        .borrow()
        .iter()
        .rev()
        .find(|p| p.site.is_some() && p.ends_in(kind))
        .is_some_and(|p| p.timed);
    match crate::control::before_emit_timed(py, ctx.actor(), op, deadline, timed) {
        Ok(()) => ctx_is_current(ctx),
        Err(_) => {
            set_abort();
            false
        }
    }
}

#[inline]
pub fn ctx_is_current(ctx: &ThreadCtx) -> bool {
    ctx.generation == session::generation()
}

pub fn internal_error(what: &str) {
    session::with(|s| {
        s.write_error
            .get_or_insert_with(|| format!("internal recorder error: {what}"));
    });
}

impl Tracer for ThreadCtx {
    #[inline]
    fn is_current(&self) -> bool {
        ctx_is_current(self)
    }
    fn on_call(&self, py: Python<'_>, f: Frame<'_>) {
        super::on_call(py, self, f)
    }
    fn on_return(&self, py: Python<'_>, f: Frame<'_>, retval: Option<&Bound<'_, PyAny>>) {
        super::on_return(py, self, f, retval)
    }
    fn on_opcode(&self, py: Python<'_>, f: Frame<'_>) {
        super::on_opcode(py, self, f)
    }
    fn on_panic(&self) {
        internal_error("panic in the trace function");
    }
    fn take_abort(&self) -> Option<PyErr> {
        if !take_abort() {
            return None;
        }
        // The controlled run was stopped: the actor unwinds, once; what it
        // runs while unwinding is no longer controlled.
        self.finished.set(true);
        Some(crate::control::run_aborted())
    }
}
