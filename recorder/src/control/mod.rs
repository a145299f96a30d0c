//! Controlled execution: actors take turns at visible operations.
//!
//! # Model
//!
//! Exactly one actor runs Python code at a time; every other actor is
//! paused, with the GIL released, on its own condition variable. An actor
//! pauses at a *scheduling point*:
//!
//! * before each event it records (an access, a release, a notify, a
//!   spawn, ...): it has performed nothing of that operation yet, and
//!   [`before_emit`] returns when the strategy has chosen it;
//! * at a call that would block according to the model (a `_thread` lock
//!   held by another actor, a `SimpleQueue` that is empty, a thread not
//!   finished): [`acquire`] returns when the resource is free (or, for a
//!   timed call, when the strategy let the timeout expire). The actor then
//!   holds a *credit*: its next event takes no further turn, so a step is
//!   still exactly one event. A woken actor that waits again before
//!   recording anything records a `Yield` (a wasted wake-up: another actor
//!   took what it was woken for).
//!
//! `time.sleep(s)` is a `Yield` that may only go once the virtual clock
//! reaches now + s (see [`Readiness::Timeout`]); it never waits for real.
//!
//! A timed wait that is blocked may time out at any step: it is offered to
//! the strategy as a [`Readiness::Timeout`] candidate whose operation is the
//! one it ends in by giving up (`LockAcquireFail`, `EventWaitTimeout`, ...),
//! never decided by real time. A try (`lock.acquire(blocking=False)`,
//! `sem.acquire(blocking=False)`) takes its turn like a blocking acquire
//! and succeeds or fails by what the model says when it goes. Semaphores
//! are counted by the model (`sems.rs`), so an acquire waits only at 0.
//!
//! Blocking is modelled at the `_thread` level: every acquire and release
//! of a `_thread.lock`/`RLock` made by an actor, in user code or inside
//! `threading`/`queue` (Event, Condition, Semaphore, Barrier, Queue are all
//! built on them), updates who holds what; `Thread.join` waits on the
//! thread's state lock, which the model gives to the child until it exits.
//!
//! When no actor can go on and some are still alive, that is a deadlock,
//! reported at once with who waits for what and who holds what. A turn
//! that does not reach its next scheduling point within `deadlock_timeout`
//! (a C extension or real I/O blocking where the model cannot see) ends
//! the run with a timeout.
//!
//! Locking order: the run mutex may be held while taking the session mutex
//! (to render locations), never the other way round; Python is never
//! called with the run mutex held.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use racetrace_formats::{ActorId, Event, EventKind, LocId};

pub use crate::strategy::{Candidate, Choice, Decision, GiveUp, Readiness, Scheduler};

use crate::session;

/// Whether a controlled run is in progress (checked on every event).
static ACTIVE: AtomicBool = AtomicBool::new(false);
static RUN: Mutex<Option<Run>> = Mutex::new(None);
/// Wakes the driver (the thread waiting for the run to end).
static DRIVER: wake::Wake = wake::Wake::new();
/// How often sleeping threads look at the watchdog.
const POLL: Duration = Duration::from_millis(20);

/// How long a turn may go without reaching its next scheduling point before
/// the run ends as blocked where the model cannot see (seconds). The one
/// definition: the Python layer and the command line read it from here.
pub const DEFAULT_DEADLOCK_TIMEOUT: f64 = 5.0;

#[inline]
pub fn active() -> bool {
    ACTIVE.load(Ordering::Acquire)
}

fn lock() -> MutexGuard<'static, Option<Run>> {
    RUN.lock().unwrap_or_else(|e| e.into_inner())
}

thread_local! {
    /// The recording generation (`session::generation`) whose run this
    /// thread is an actor of (0: none).
    static ACTS_FOR: Cell<u64> = const { Cell::new(0) };
}

/// The calling thread is an actor of the run of recording `generation`
/// (set when the thread is hooked, before its first turn).
pub fn acts_for(generation: u64) {
    ACTS_FOR.with(|c| c.set(generation));
}

/// The run in progress, if the calling thread is one of its actors.
///
/// Every call an actor makes into the model goes through here. A thread of
/// an earlier run can still be on its way out when the next run begins: it
/// let the GIL go (before taking the run lock, or while waiting for a
/// turn), or its bootstrap returns late. Its actor id means another actor
/// in the new run, so nothing it does may touch that run: not take a turn,
/// not arrive, not exit, not release a lock that has the same address.
fn own(g: &mut Option<Run>) -> Option<&mut Run> {
    let mine = ACTS_FOR.with(|c| c.get());
    g.as_mut().filter(|r| r.generation == mine)
}

/// [`own`], to read.
fn own_ref(g: &Option<Run>) -> Option<&Run> {
    let mine = ACTS_FOR.with(|c| c.get());
    g.as_ref().filter(|r| r.generation == mine)
}

/// The run was stopped (deadlock, divergence, timeout, ...): the actor must
/// unwind (the hook raises `RunAborted` in it).
#[derive(Debug, Clone, Copy)]
pub struct Abort;

pyo3::create_exception!(
    _native,
    RunAborted,
    pyo3::exceptions::PyBaseException,
    "Raised inside the actors of a controlled run that racetrace stopped (deadlock, divergence, timeout): they unwind. Never caught by `except Exception`."
);

/// The exception raised in an actor whose run was stopped.
pub fn run_aborted() -> PyErr {
    RunAborted::new_err("racetrace stopped this controlled run")
}

/// A step the replay expected (read from the trace by the formats crate).
pub use racetrace_formats::ExpectedStep as Expected;

/// Why a run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    Running,
    /// Every actor finished (daemon threads left blocked or runnable once
    /// the others finished are abandoned, as the interpreter would).
    Finished,
    Deadlock(String),
    /// The program did not follow the replayed schedule.
    Divergence(String),
    /// A turn did not reach a scheduling point within `deadlock_timeout`,
    /// or the run took longer than `run_timeout`.
    Timeout(String),
    /// More steps than `max_steps`.
    StepLimit(String),
    Interrupted(String),
    /// The strategy gave the execution up as redundant.
    Abandoned,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum WaitOn {
    Lock(usize),
    SimpleQueue(usize),
    /// A unit of a semaphore (`threading.Semaphore`, counted by the model).
    Sem(usize),
    /// Nothing: only the turn (an operation whose effect must follow its
    /// turn, such as a semaphore's release).
    Turn,
}

enum State {
    /// Spawned; its thread has not reached its first event yet.
    Starting {
        arrived: bool,
    },
    /// Paused before recording `op`; a sleep may only go at `deadline`;
    /// `timed`: `op` ends a timed wait (that could have timed out).
    AtEvent {
        op: Event,
        deadline: Option<f64>,
        timed: bool,
    },
    /// Waiting in a call the model says would block.
    Blocked(Box<Blocked>),
    Running,
    Finished,
    /// An asyncio task between its steps: `ready` when its loop has a step
    /// of it to run (made ready by the event `waker`, if known).
    Task {
        ready: bool,
        waker: Option<u64>,
    },
    /// A thread whose event loop runs tasks (it acts as them, one step at a
    /// time): not a candidate itself until the loop returns.
    InLoop,
}

struct Blocked {
    /// `wait[0]` is what the call takes; the rest must be free as well for
    /// the actor to get to its next event (the lock of the condition a
    /// `Condition.wait` re-acquires after its waiter).
    wait: Vec<WaitOn>,
    deadline: Option<f64>,
    op: Event,
    /// Where, in the user's code, the actor waits; and on what, in words.
    site: LocId,
    what: String,
    /// Keeps the lock alive (moved into the lock's state once taken).
    keep: Option<Py<PyAny>>,
    reentrant: bool,
    /// Levels taken at once (`RLock._acquire_restore`).
    count: u32,
    label: String,
    /// A try (`blocking=False`): never waits; when it goes, it takes what it
    /// asks for if that is free, else fails (`Resume::TimedOut`).
    try_only: bool,
}

/// How a wait ended, for the hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume {
    /// The call may go ahead: the resource is free (and now taken).
    Proceed,
    /// The timeout expired (or a try found the resource taken): the hook
    /// makes the call return at once.
    TimedOut,
    /// The model says the lock is free but the interpreter may not have
    /// released it yet (a thread's state lock while it exits): the hook
    /// makes a non-blocking call block, briefly.
    ProceedBlocking,
    /// Not modelled (the lock is held outside the run): the call runs as
    /// it is, a wait the scheduler cannot see.
    Unmodelled,
}

struct Slot {
    state: State,
    cv: Arc<wake::Wake>,
    credit: bool,
    resume: Resume,
    daemon: bool,
    name: String,
    preempt: bool,
    last_loc: LocId,
    /// A task: the actor whose thread runs its loop.
    loop_of: Option<u32>,
    /// A task made ready again during its own step (a `sleep(0)`): its
    /// waker, applied when the step ends.
    task_wake: Option<Option<u64>>,
    /// A loop's thread whose tasks all wait while other actors run (see
    /// `tasks::LoopIdle`).
    idle: Option<tasks::LoopIdle>,
    /// The loop's timers fire: nobody else could go (set by `decide`).
    fire_timers: bool,
    /// A timeout's actor: when it expires (see `tasks::task_ready`).
    task_deadline: Option<f64>,
    /// A loop's thread: the task taking a step on it, and the run's step
    /// at which that began (see `tasks`). One per loop: the loops of two
    /// threads may each be inside a step, when a thread came between.
    stepping: Option<(u32, u64)>,
}

impl Slot {
    fn new(name: String, daemon: bool) -> Slot {
        Slot {
            state: State::Starting { arrived: false },
            cv: Arc::new(wake::Wake::new()),
            credit: false,
            resume: Resume::Proceed,
            daemon,
            name,
            preempt: false,
            last_loc: LocId(0),
            loop_of: None,
            task_wake: None,
            idle: None,
            fire_timers: false,
            task_deadline: None,
            stepping: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Owner {
    Actor(u32),
    /// Held by a thread outside the run (seen locked on first sight).
    External,
}

struct LockState {
    owner: Owner,
    count: u32,
    reentrant: bool,
    /// A thread's state lock: held by the thread until it exits.
    tstate: bool,
    label: String,
    since: LocId,
    _keep: Option<Py<PyAny>>,
}

struct Run {
    /// The recording this run writes (`session::generation`).
    generation: u64,
    strategy: Box<dyn Scheduler>,
    slots: Vec<Slot>,
    turn: Option<u32>,
    turn_since: Instant,
    locks: HashMap<usize, LockState>,
    queues: HashMap<usize, (u64, Option<Py<PyAny>>)>,
    /// Semaphore values, by address (kept alive while modelled).
    sems: HashMap<usize, (u64, Option<Py<PyAny>>)>,
    /// What made this run less than fully modelled (a wait the scheduler
    /// could not see), in words; each said once.
    limits: Vec<String>,
    vt: f64,
    step: u64,
    last_actor: Option<u32>,
    executed: Vec<ActorId>,
    preemptive: Vec<bool>,
    expected: Vec<Expected>,
    status: Status,
    deadlock_timeout: Duration,
    /// Wall-clock limit of the whole run (`timeout_per_run`), if any.
    run_timeout: Option<Duration>,
    max_steps: u64,
    started: Instant,
    /// Thread ident → actor, to give locks held by actors seen late an owner.
    idents: HashMap<u64, u32>,
    /// Catch-up resumes since the last step (replays of a trace only).
    catchups: u32,
    /// The actor whose turn outlasted `deadlock_timeout`, if any.
    stuck: Option<u32>,
    /// Steps at which a timed wait was among the candidates (it could have
    /// timed out, had it been blocked).
    timeouts_offered: u64,
    /// Another actor than the loop's tasks (a thread) could have gone
    /// during a task's step in progress (see `tasks::Switch::others`).
    passed_over: bool,
}

/// Most catch-up resumes for one step of a trace replay.
const MAX_CATCHUPS: u32 = 64;

/// What the driver sets up.
pub struct Config {
    pub strategy: Box<dyn Scheduler>,
    pub expected: Vec<Expected>,
    pub deadlock_timeout: Duration,
    /// Ends the run as a timeout once it has taken this much wall time,
    /// however many steps it made (a busy program that never blocks).
    pub run_timeout: Option<Duration>,
    pub max_steps: u64,
    pub start_time: f64,
}

/// Starts the control of a run; actor 0 (`main_name`) is the first to go.
pub fn begin(cfg: Config, main_name: String) -> Result<(), String> {
    let mut g = lock();
    if g.is_some() {
        return Err("a controlled run is already in progress".into());
    }
    let mut strategy = cfg.strategy;
    strategy.new_execution();
    let mut run = Run {
        generation: session::generation(),
        strategy,
        slots: vec![Slot::new(main_name, false)],
        turn: None,
        turn_since: Instant::now(),
        locks: HashMap::new(),
        queues: HashMap::new(),
        sems: HashMap::new(),
        limits: Vec::new(),
        vt: cfg.start_time,
        step: 0,
        last_actor: None,
        executed: Vec::new(),
        preemptive: Vec::new(),
        expected: cfg.expected,
        status: Status::Running,
        deadlock_timeout: cfg.deadlock_timeout,
        run_timeout: cfg.run_timeout,
        max_steps: cfg.max_steps,
        started: Instant::now(),
        idents: HashMap::new(),
        catchups: 0,
        stuck: None,
        timeouts_offered: 0,
        passed_over: false,
    };
    run.decide();
    *g = Some(run);
    ACTIVE.store(true, Ordering::Release);
    Ok(())
}

/// Result of a finished run, for the driver.
pub struct Summary {
    pub status: Status,
    pub executed: Vec<ActorId>,
    pub preemptive: Vec<bool>,
    pub steps: u64,
    pub elapsed: Duration,
    /// What the model could not see in this run (see `Run::limits`).
    pub limits: Vec<String>,
    /// The thread (ident) of the actor whose turn outlasted
    /// `deadlock_timeout`: where it is stuck tells what the model missed.
    pub stuck_thread: Option<u64>,
    /// Steps at which a timed wait was among the candidates (whether or not
    /// the strategy let it time out).
    pub timeouts_offered: u64,
}

/// Ends the control (the driver calls it once the run is over or given up).
pub fn end() -> Option<Summary> {
    let mut g = lock();
    let run = g.take()?;
    ACTIVE.store(false, Ordering::Release);
    for s in &run.slots {
        s.cv.notify_all();
    }
    let Run {
        status,
        executed,
        preemptive,
        step,
        started,
        locks,
        queues,
        sems,
        limits,
        stuck,
        idents,
        timeouts_offered,
        ..
    } = run;
    let stuck_thread = stuck.and_then(|a| {
        idents
            .iter()
            .find(|(_, &x)| x == a)
            .map(|(&ident, _)| ident)
    });
    drop(g);
    // Python references are released here, with the GIL (the caller holds it).
    drop(locks);
    drop(queues);
    drop(sems);
    Some(Summary {
        status,
        executed,
        preemptive,
        steps: step,
        elapsed: started.elapsed(),
        limits,
        stuck_thread,
        timeouts_offered,
    })
}

/// Blocks the driver until the run ends; returns false on a poll interval
/// without an end (so the caller can check for signals).
pub fn wait_end(poll: Duration) -> bool {
    let mut g = lock();
    let Some(run) = g.as_mut() else { return true };
    if run.status != Status::Running {
        return true;
    }
    run.watchdog();
    if run.status != Status::Running {
        return true;
    }
    let mut g = DRIVER.wait_spinning(g, lock, poll, wake::DRIVER_SPIN);
    match g.as_mut() {
        Some(run) => {
            run.watchdog();
            run.status != Status::Running
        }
        None => true,
    }
}

/// Stops the run from outside (Ctrl-C in the driver).
pub fn interrupt(reason: &str) {
    if let Some(run) = lock().as_mut() {
        run.stop(Status::Interrupted(reason.to_string()));
    }
}

/// The virtual clock (seconds): `threading`'s and `queue`'s `monotonic`
/// while a run is controlled.
pub fn virtual_time() -> Option<f64> {
    lock().as_ref().map(|r| r.vt)
}

// ---------------------------------------------------------------------------
// Actors.

/// A new actor was spawned by the current one (its `Spawn` was recorded,
/// `spawn` is that event).
pub fn spawned(spawn: Event, child: ActorId, name: String, daemon: bool) {
    if let Some(run) = own(&mut lock()) {
        run.strategy.executed(&spawn);
        let i = child.index();
        while run.slots.len() <= i {
            run.slots.push(Slot::new(String::new(), false));
        }
        run.slots[i] = Slot::new(name, daemon);
    }
}

/// `Thread.start` failed: the child will never arrive.
pub fn never_started(child: ActorId) {
    if let Some(run) = own(&mut lock()) {
        if let Some(s) = run.slots.get_mut(child.index()) {
            if matches!(s.state, State::Starting { arrived: false }) {
                s.state = State::Finished;
            }
        }
    }
}

/// The thread of `actor` reached its first instruction; waits for its
/// first turn (its `ActorStart`, which takes the turn without pausing
/// again).
pub fn arrive(py: Python<'_>, actor: ActorId, ident: u64) -> Result<(), Abort> {
    let a = actor.0;
    py.detach(|| {
        let mut g = lock();
        let Some(run) = own(&mut g) else {
            return Err(Abort);
        };
        run.idents.insert(ident, a);
        let Some(slot) = run.slots.get_mut(a as usize) else {
            return Err(Abort);
        };
        slot.state = State::Starting { arrived: true };
        slot.credit = true;
        let cv = slot.cv.clone();
        wait_turn(g, a, &cv).map(|_| ())
    })
}

/// The actor recorded its last event: hand the turn on, never wait again.
pub fn exited(actor: ActorId) {
    let mut g = lock();
    let Some(run) = own(&mut g) else { return };
    let a = actor.0;
    if let Some(s) = run.slots.get_mut(a as usize) {
        s.state = State::Finished;
    }
    // Its state lock is free now (joins may proceed); locks it still holds
    // stay held, as they would.
    // Freed state locks stay in the model (as free), so that a late acquire
    // knows the interpreter may still be releasing them.
    for l in run.locks.values_mut() {
        if l.tstate && l.owner == Owner::Actor(a) {
            l.count = 0;
        }
    }
    if run.status == Status::Running && (run.turn == Some(a) || run.turn.is_none()) {
        run.turn = None;
        run.decide();
    }
}

mod candidates;
mod locks;
mod report;
mod sems;
mod tasks;
mod turns;
pub mod wake;

pub use locks::{
    acquire, is_tracked, lock_label, queue_get, queue_put, register_tstate, release, Acquire,
};
pub use report::{loc_text, same_file};
pub use sems::{expire_wait, sem_acquire, sem_release, sem_release_turn, take_turn, SemAcquire};
pub use tasks::{
    loop_others, task_close, task_created, task_deadlock, task_exited, task_hold, task_leave,
    task_now, task_ready, task_rebase, task_switch, LoopIdle, TASK_AFTER_ALL,
};
pub use turns::{before_emit, before_emit_timed};
use turns::{block, wait_turn, wait_until};
