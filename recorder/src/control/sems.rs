//! Counting semaphores (`threading.Semaphore`, `BoundedSemaphore`): the
//! model keeps each one's value, so that an acquire takes its turn before
//! the value changes and waits only at 0, and a try (`blocking=False`)
//! succeeds or fails by the order the strategy chose.
//!
//! The standard library's semaphore is a condition and a counter; without
//! this model its acquire would decrement the counter before the actor's
//! turn to record it, and a unit taken by one actor would look, to the
//! strategy, like a lock held.
//!
//! The value is read from the semaphore itself at each call (the calling
//! actor holds the turn, so what it reads is current) and updated by the
//! decisions; a semaphore used only inside library code is followed, not
//! gated (its operations are not steps).

use pyo3::prelude::*;
use racetrace_formats::{ActorId, Event, LocId};

use super::*;

/// Everything a `Semaphore.acquire` call tells the model.
pub struct SemAcquire<'a, 'py> {
    pub obj: &'a Bound<'py, PyAny>,
    /// `_value` when the call starts.
    pub value_now: u64,
    pub blocking: bool,
    pub timeout: Option<f64>,
    /// Whether the acquire is a step of its own (it records `SemAcquire`
    /// or `SemAcquireFail` when it returns): the turn is taken first.
    pub gate: bool,
    pub op: Event,
    pub site: LocId,
    pub what: String,
    pub label: String,
}

/// `Semaphore.acquire` by `actor`, before the call runs. `Proceed`: the
/// unit is the actor's (the call finds the value above 0); `TimedOut`: the
/// call must give up (a try that found 0 returns at once; a timed wait
/// makes its inner wait expire, see [`expire_wait`]); `Unmodelled`: not a
/// step, the call runs as it is.
pub fn sem_acquire(
    py: Python<'_>,
    actor: ActorId,
    req: SemAcquire<'_, '_>,
) -> Result<Resume, Abort> {
    let a = actor.0;
    let addr = req.obj.as_ptr() as usize;
    {
        let mut g = lock();
        let Some(run) = own(&mut g) else {
            return Err(Abort);
        };
        if run.status != Status::Running {
            return Err(Abort);
        }
        let e = run
            .sems
            .entry(addr)
            .or_insert_with(|| (0, Some(req.obj.clone().unbind())));
        e.0 = req.value_now;
        if !req.gate {
            // Followed, not gated: the call takes a unit now if there is one.
            e.0 = e.0.saturating_sub(1);
            return Ok(Resume::Unmodelled);
        }
    }
    let try_only = !req.blocking || req.timeout == Some(0.0);
    block(
        py,
        a,
        Blocked {
            wait: vec![WaitOn::Sem(addr)],
            deadline: if try_only { None } else { req.timeout },
            op: req.op,
            site: req.site,
            what: req.what,
            keep: None,
            reentrant: false,
            count: 1,
            label: req.label,
            try_only,
        },
    )
}

/// Before `Semaphore.release` runs: the actor takes the turn of its
/// `SemRelease` step first, so that the value recorded with the event (and
/// the change) is the one when the step is taken, not one read before
/// other actors went.
pub fn sem_release_turn(
    py: Python<'_>,
    actor: ActorId,
    op: Event,
    what: String,
) -> Result<(), Abort> {
    take_turn(py, actor, op, what, false, None)
}

/// Takes the turn of the step whose event (`op`, predicted) the actor
/// records later in the call it is making: what the call does happens
/// within that step, after the actors the strategy lets go first. `try_only`:
/// the call never waits, and its outcome depends on what went before (a
/// `get_nowait`, an observation): the strategy may run it before what it
/// would have seen. `timeout`: the call was given one, so that run before
/// what lets it go on, it would have timed out (a timed get of a queue
/// that has an item now).
pub fn take_turn(
    py: Python<'_>,
    actor: ActorId,
    op: Event,
    what: String,
    try_only: bool,
    timeout: Option<f64>,
) -> Result<(), Abort> {
    let site = op.loc;
    block(
        py,
        actor.0,
        Blocked {
            wait: vec![WaitOn::Turn],
            deadline: timeout,
            op,
            site,
            what,
            keep: None,
            reentrant: false,
            count: 1,
            label: String::new(),
            try_only,
        },
    )
    .map(|_| ())
}

/// `Semaphore.release(n)` by the actor holding the turn (after its
/// `SemRelease` step, before the value changes): `value_now` is `_value`
/// then; a `BoundedSemaphore` (`bound` = its initial value) released past
/// its bound raises and changes nothing.
pub fn sem_release(obj: &Bound<'_, PyAny>, value_now: u64, n: u64, bound: Option<u64>) {
    let addr = obj.as_ptr() as usize;
    let mut g = lock();
    let Some(run) = own(&mut g) else { return };
    let after = value_now.saturating_add(n);
    let value = if bound.is_some_and(|b| after > b) {
        value_now
    } else {
        after
    };
    run.sems
        .entry(addr)
        .or_insert_with(|| (0, Some(obj.clone().unbind())))
        .0 = value;
}

/// The strategy made a timed semaphore acquire give up: the wait inside
/// the call (on the semaphore's condition) expires at once, and the
/// virtual clock moves past its `timeout`, so that the call's own
/// remaining-time check ends it.
pub fn expire_wait(timeout: Option<f64>) {
    if let Some(run) = own(&mut lock()) {
        if let Some(t) = timeout.filter(|t| t.is_finite() && *t > 0.0) {
            run.vt += t;
        }
    }
}
