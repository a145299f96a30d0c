//! `queue.Queue` calls seen by the hook: the items a queue holds when
//! first used, a put on a full queue (recorded when it has put its item),
//! and what a call that is about to wait records first.

use super::*;

/// Whether a queue is bounded and full.
pub(super) fn queue_full(q: &Bound<'_, PyAny>) -> bool {
    let max = q
        .getattr("maxsize")
        .and_then(|n| n.extract::<i64>())
        .unwrap_or(0);
    let len = q
        .call_method0("_qsize")
        .and_then(|n| n.extract::<i64>())
        .unwrap_or(0);
    max > 0 && len >= max
}

/// Whether the call of frame `f` (its `block` and `timeout` parameters at
/// locals `block` and `timeout`) waits when it must.
pub(super) fn waits(py: Python<'_>, f: Frame<'_>, block: usize, timeout: usize) -> bool {
    let block = f
        .local(py, block)
        .map(|b| b.is_truthy().unwrap_or(true))
        .unwrap_or(true);
    let timeout = f
        .local(py, timeout)
        .filter(|t| !t.is_none())
        .and_then(|t| t.extract::<f64>().ok());
    block && timeout.is_none_or(|t| t > 0.0)
}

/// The observation of a call that is about to wait (aux 0: it found
/// nothing), at the user's call site.
pub(super) fn observe_wait(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    this: &Bound<'_, PyAny>,
    kind: EventKind,
) {
    let Some(loc) = user_call_site(py, f) else {
        return;
    };
    if let Some((id, _)) = object(py, scope(py, f).as_ref().map(|c| c as &dyn Scope), this) {
        emit(ctx, kind, loc, id.0, 0);
    }
}

/// A `Queue.put` of its second argument (`item`) by the call of frame `f`.
pub(super) fn queue_put_event(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    this: &Bound<'_, PyAny>,
) {
    let Some(loc) = user_call_site(py, f) else {
        return;
    };
    let Some(item) = f.local(py, 1) else { return };
    let Some((id, _)) = object(py, scope(py, f).as_ref().map(|c| c as &dyn Scope), this) else {
        return;
    };
    let addr = item.as_ptr() as usize;
    if gate(ctx, EventKind::QueuePut, loc, id.0, 0) {
        session::with_gen(ctx.generation, |s| {
            let token = s.queue_put(id, addr);
            s.emit(ctx.actor(), EventKind::QueuePut, loc, id.0, token);
        });
    }
}

/// Before the first operation of a run on a `queue.Queue` (called by the
/// user): the items it holds already (put in `setup`, or before the
/// recording) are registered as if put then, so that their gets are
/// matched and recorded.
pub(super) fn queue_first_sight(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>) {
    let Some(this) = f.local(py, 0) else { return };
    if user_call_site(py, f).is_none() {
        return;
    }
    let Some((id, _)) = object(py, scope(py, f).as_ref().map(|c| c as &dyn Scope), &this) else {
        return;
    };
    if session::with(|s| s.queue_known(id)).unwrap_or(true) {
        return;
    }
    let items: Vec<usize> = match this.getattr("queue").and_then(|q| q.try_iter()) {
        Ok(it) => it.flatten().map(|i| i.as_ptr() as usize).collect(),
        Err(_) => Vec::new(),
    };
    session::with_gen(ctx.generation, |s| s.queue_seen(id, &items));
}
