//! Semaphores in controlled runs: `Semaphore.acquire` takes its turn
//! before it runs, as the model of the semaphore's value decides (see
//! `control::sems`); `release` updates that value once its step is taken.

use super::*;
use crate::control::{self as ctl, Resume};

/// `_value` of a semaphore (0 if it cannot be read).
fn value(sem: &Bound<'_, PyAny>) -> u64 {
    sem.getattr("_value")
        .and_then(|v| v.extract::<u64>())
        .unwrap_or(0)
}

/// `aux` of a semaphore event: 1 + the value before the operation, read
/// before it (`taken`: after an acquire that took a unit).
pub(super) fn aux(sem: &Bound<'_, PyAny>, taken: bool) -> u64 {
    value(sem) + 1 + u64::from(taken)
}

/// On the call of `Semaphore.acquire` (its `Prim` just pushed).
pub(super) fn acquire_call(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>, sem: &Bound<'_, PyAny>) {
    let Some((id, site, label)) = ctx
        .prims
        .borrow()
        .last()
        .map(|p| (p.id, p.site, p.label.clone()))
    else {
        return;
    };
    let blocking = f
        .local(py, 1)
        .map(|b| b.is_truthy().unwrap_or(true))
        .unwrap_or(true);
    let timeout = f
        .local(py, 2)
        .filter(|t| !t.is_none())
        .and_then(|t| t.extract::<f64>().ok())
        .map(|t| t.max(0.0));
    if !blocking && timeout.is_some() {
        return; // raises ValueError before doing anything
    }
    let value_now = value(sem);
    let op = racetrace_formats::Event {
        actor: ctx.actor(),
        kind: EventKind::SemAcquire,
        loc: site.unwrap_or_default(),
        target: id,
        aux: value_now + 1,
    };
    let req = ctl::SemAcquire {
        obj: sem,
        value_now,
        blocking,
        timeout,
        // A step of its own when its event is recorded (a user's call).
        gate: site.is_some() && id != u32::MAX,
        op,
        site: site.unwrap_or_default(),
        what: format!(
            "semaphore {} to be released (Semaphore.acquire)",
            quoted(&label)
        ),
        label,
    };
    match ctl::sem_acquire(py, ctx.actor(), req) {
        Ok(Resume::TimedOut) => {
            if let Some(p) = ctx.prims.borrow_mut().last_mut() {
                p.gave_up = true;
                // A timed acquire would wait inside: that wait expires.
                p.expire = blocking;
            }
        }
        Ok(_) => {}
        Err(_) => set_abort(),
    }
}

/// On the call of `Semaphore.release` (its `Prim` just pushed): the turn
/// of its `SemRelease` step, before the event's value is read.
pub(super) fn release_turn(py: Python<'_>, ctx: &ThreadCtx, sem: &Bound<'_, PyAny>) {
    let Some((id, Some(site), label)) = ctx
        .prims
        .borrow()
        .last()
        .map(|p| (p.id, p.site, p.label.clone()))
    else {
        return;
    };
    if id == u32::MAX {
        return;
    }
    let op = racetrace_formats::Event {
        actor: ctx.actor(),
        kind: EventKind::SemRelease,
        loc: site,
        target: id,
        aux: aux(sem, false),
    };
    let what = format!("its turn to release semaphore {}", quoted(&label));
    if ctl::sem_release_turn(py, ctx.actor(), op, what).is_err() {
        set_abort();
    }
}

/// On the call of `Semaphore.release(n)`, once its `SemRelease` step is
/// taken (the actor holds the turn until the value has changed).
pub(super) fn release_call(py: Python<'_>, f: Frame<'_>, sem: &Bound<'_, PyAny>) {
    let n = f
        .local(py, 1)
        .and_then(|n| n.extract::<i64>().ok())
        .unwrap_or(1)
        .max(0) as u64;
    let bound = sem
        .getattr("_initial_value")
        .and_then(|v| v.extract::<u64>())
        .ok();
    ctl::sem_release(sem, value(sem), n, bound);
}
