//! The events of calls that gave up: a `Semaphore.acquire` that returned
//! False, a `Queue.get`/`put` that raised `Empty`/`Full` after its wait
//! timed out (or without waiting), a `Thread.join(timeout)` that returned
//! with the thread still running. Each reads the state of what it waited
//! for, so an explorer can put it on either side of what would have
//! satisfied it.

use super::*;

/// On the call of `Queue.get` in a controlled run: a get that cannot wait
/// (`block=False`, or `timeout=0`) on an empty queue raises `Empty`, a
/// call that gave up.
pub(super) fn queue_get_call(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>, q: &Bound<'_, PyAny>) {
    let block = f
        .local(py, 1)
        .map(|b| b.is_truthy().unwrap_or(true))
        .unwrap_or(true);
    let timeout = f
        .local(py, 2)
        .filter(|t| !t.is_none())
        .and_then(|t| t.extract::<f64>().ok());
    if block && timeout.is_none_or(|t| t > 0.0) {
        return;
    }
    let empty = q
        .call_method0("qsize")
        .and_then(|n| n.extract::<u64>())
        .is_ok_and(|n| n == 0);
    if empty {
        if let Some(p) = ctx.prims.borrow_mut().last_mut() {
            p.gave_up = true;
        }
    }
}

/// On the call of `Queue.put` with a timeout (or `block=False`): a put on a
/// full queue is recorded when called, before it waits, so whether it
/// would time out is not a choice the explorers can make; the run says so.
pub(super) fn queue_put_call(ctx: &ThreadCtx, q: &Bound<'_, PyAny>) {
    let size = |name: &str| q.getattr(name).and_then(|n| n.extract::<u64>()).ok();
    let full = match (
        size("maxsize"),
        q.call_method0("qsize")
            .and_then(|n| n.extract::<u64>())
            .ok(),
    ) {
        (Some(max), Some(n)) => max > 0 && n >= max,
        _ => false,
    };
    let site = ctx.prims.borrow().last().and_then(|p| p.site);
    if full {
        crate::control::note_limit(format!(
            "a timed Queue.put on a full queue at {}: whether it times out is not explored (the put is recorded when called)",
            crate::control::loc_text(site.unwrap_or_default())
        ));
    }
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
