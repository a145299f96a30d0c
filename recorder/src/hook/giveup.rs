//! The events of calls that gave up: a `Semaphore.acquire` that returned
//! False, a `Queue.get`/`put` that raised `Empty`/`Full` after its wait
//! timed out (or without waiting), a `Thread.join(timeout)` that returned
//! with the thread still running. Each reads the state of what it waited
//! for, so an explorer can put it on either side of what would have
//! satisfied it.

use super::*;

/// The length of a `queue.Queue` (`_qsize()`, without its mutex: the
/// actor holds the turn), if it can be read.
fn queue_len(q: &Bound<'_, PyAny>) -> Option<u64> {
    q.call_method0("_qsize")
        .and_then(|n| n.extract::<u64>())
        .ok()
}

/// The user's call of the primitive just pushed: (its trace id, the call
/// site, its label); none for a call from inside the library or an
/// object the trace does not know.
fn user_prim(ctx: &ThreadCtx) -> Option<(u32, LocId, String)> {
    let prims = ctx.prims.borrow();
    let p = prims.last()?;
    (p.id != u32::MAX).then(|| Some((p.id, p.site?, p.label.clone())))?
}

/// Takes the turn of the step of the call just pushed, whose event (`kind`
/// on the primitive) it records when it returns.
fn turn(
    ctx: &ThreadCtx,
    kind: EventKind,
    try_only: bool,
    timeout: Option<f64>,
    what: &str,
) -> bool {
    let Some((id, site, label)) = user_prim(ctx) else {
        return false;
    };
    let op = racetrace_formats::Event {
        actor: ctx.actor(),
        kind,
        loc: site,
        target: id,
        aux: 0,
    };
    let what = format!("its turn to {what} {}", quoted(&label));
    let py = crate::cpython::gil_held();
    if crate::control::take_turn(py, ctx.actor(), op, what, try_only, timeout).is_err() {
        set_abort();
        return false;
    }
    true
}

/// On the call of `Queue.get` in a controlled run: a get that will not wait
/// takes the turn of its step before it looks at the queue (a try, when it
/// cannot wait at all: `block=False`, `timeout=0`), so that the item it
/// takes, or its `Empty`, is the one of the order explored; then a try on
/// an empty queue raises `Empty`, a call that gave up. A get that will wait
/// takes its step when it is woken (its wait is modelled).
pub(super) fn queue_get_call(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>, q: &Bound<'_, PyAny>) {
    let block = f
        .local(py, 1)
        .map(|b| b.is_truthy().unwrap_or(true))
        .unwrap_or(true);
    let timeout = f
        .local(py, 2)
        .filter(|t| !t.is_none())
        .and_then(|t| t.extract::<f64>().ok());
    let at_once = !block || timeout.is_some_and(|t| t <= 0.0);
    let items = queue_len(q).unwrap_or(0);
    if at_once {
        let kind = if items > 0 {
            EventKind::QueueGet
        } else {
            EventKind::QueueGetFail
        };
        turn(ctx, kind, true, None, "get from queue");
        if aborting() {
            return;
        }
        if queue_len(q) == Some(0) {
            if let Some(p) = ctx.prims.borrow_mut().last_mut() {
                p.gave_up = true;
            }
        }
    } else if items > 0 {
        turn(ctx, EventKind::QueueGet, false, timeout, "get from queue");
    } else {
        wait_begins(ctx, EventKind::QueueCheck, "get from queue", || {
            queue_len(q) == Some(0)
        });
    }
}

/// A blocking call about to wait (a `Queue.get` of an empty queue, an
/// `Event.wait` of a cleared event) first records what it found, as an
/// observation (`kind`, aux 0) at its own step: whether it began waiting
/// before or after the operation that would have let it go on is then an
/// order the explorer sees (another consumer may come after the put and
/// take the item before the woken waiter does). If what it waits for is
/// there by the time the step is taken (`still_waits` false), the call
/// goes on and its step is the one of its event.
fn wait_begins(ctx: &ThreadCtx, kind: EventKind, what: &str, still_waits: impl Fn() -> bool) {
    let Some((id, site, _)) = user_prim(ctx) else {
        return;
    };
    if !turn(ctx, kind, true, None, what) || aborting() || !still_waits() {
        return;
    }
    emit(ctx, kind, site, id, 0);
}

/// On the call of `Queue.put` in a controlled run. A put with room takes
/// its step when called (its event, recorded then, takes the turn). A put
/// on a full queue records nothing when called: a blocking one waits for
/// room (modelled, a timed one may time out) and records its put when it
/// returns; a try (`block=False`) takes its turn first, then puts or fails.
pub(super) fn queue_put_call(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>, q: &Bound<'_, PyAny>) {
    let full = |q: &Bound<'_, PyAny>| {
        let max = q
            .getattr("maxsize")
            .and_then(|n| n.extract::<i64>())
            .unwrap_or(0);
        max > 0 && queue_len(q).is_some_and(|n| n as i64 >= max)
    };
    if user_prim(ctx).is_none() || !full(q) {
        return;
    }
    let block = f
        .local(py, 2)
        .map(|b| b.is_truthy().unwrap_or(true))
        .unwrap_or(true);
    let timeout = f
        .local(py, 3)
        .filter(|t| !t.is_none())
        .and_then(|t| t.extract::<f64>().ok());
    let at_once = !block || timeout.is_some_and(|t| t <= 0.0);
    if at_once {
        if !turn(ctx, EventKind::QueuePutFail, true, None, "put into queue") || aborting() {
            return;
        }
        if !full(q) {
            return; // room now: its put is recorded as the call goes on
        }
    }
    ctx.deferred_puts.borrow_mut().push(f.addr());
    if let Some(p) = ctx.prims.borrow_mut().last_mut() {
        p.gave_up = at_once;
    }
}

/// On the call of `Event.wait` in a controlled run: a wait that finds the
/// flag set returns at once, having read it: it takes the turn of its step
/// first (a timed one could have timed out, had it run before the `set`).
/// A wait that will wait records so first (`wait_begins`), and takes the
/// step of its event when it is woken.
pub(super) fn event_wait_call(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    ev: &Bound<'_, PyAny>,
) {
    let is_set = |ev: &Bound<'_, PyAny>| {
        ev.getattr("_flag")
            .is_ok_and(|v| v.is_truthy().unwrap_or(false))
    };
    if !is_set(ev) {
        wait_begins(ctx, EventKind::EventCheck, "wait for event", || !is_set(ev));
        return;
    }
    let timeout = f
        .local(py, 1)
        .filter(|t| !t.is_none())
        .and_then(|t| t.extract::<f64>().ok())
        .map(|t| t.max(0.0));
    turn(ctx, EventKind::EventWait, false, timeout, "wait for event");
}

/// On the call of an observation (`Event.is_set`, `Future.done`,
/// `Queue.qsize`/`empty`/`full`) in a controlled run: the turn of its step
/// is taken before it reads anything (a try: run before what it would see,
/// it sees the state before).
pub(super) fn check_call(ctx: &ThreadCtx, _obj: &Bound<'_, PyAny>, role: Role) {
    let (kind, what) = if role == Role::EventCheck {
        (EventKind::EventCheck, "look at")
    } else {
        (EventKind::QueueCheck, "look at queue")
    };
    turn(ctx, kind, true, None, what);
}

/// On the return of a recognized primitive (after `sync_return`):
/// `gave_up` says whether a wait inside it gave up (controlled runs).
pub(super) fn on_return(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    role: Role,
    retval: Option<&Bound<'_, PyAny>>,
    gave_up: bool,
) {
    let kind = match (role, retval) {
        (Role::SemAcquire, Some(r)) if !r.is_truthy().unwrap_or(true) => EventKind::SemAcquireFail,
        (Role::QueueGet, None) if gave_up => EventKind::QueueGetFail,
        (Role::QueuePut, None) if gave_up => EventKind::QueuePutFail,
        (Role::ThreadJoin, Some(_)) => return join_returned(py, ctx, f),
        _ => return,
    };
    let Some(this) = f.local(py, 0) else { return };
    let Some(loc) = user_call_site(py, f) else {
        return;
    };
    let Some((id, _)) = object(py, scope(py, f).as_ref().map(|c| c as &dyn Scope), &this) else {
        return;
    };
    let aux = if kind == EventKind::SemAcquireFail {
        super::sems::aux(&this, false)
    } else {
        0
    };
    emit(ctx, kind, loc, id.0, aux);
}

/// `Thread.join` returned with the thread still running: it timed out.
fn join_returned(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>) {
    let Some(thread) = f.local(py, 0) else { return };
    let alive = thread
        .call_method0("is_alive")
        .and_then(|a| a.is_truthy())
        .unwrap_or(false);
    if !alive {
        return;
    }
    let Some(child) = session::with(|s| s.thread_actor(&thread)).flatten() else {
        return;
    };
    let loc = f.caller().map(|c| caller_loc(py, c)).unwrap_or_default();
    emit(ctx, EventKind::JoinTimeout, loc, child.0, 0);
}
