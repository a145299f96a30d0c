//! Lock acquire/release, including acquires that are recorded once the C
//! call has returned successfully.

use super::*;

pub(super) fn lock_of(
    py: Python<'_>,
    f: Option<&dyn Scope>,
    obj: &Bound<'_, PyAny>,
) -> Option<(ObjId, bool)> {
    let (id, k) = object(py, f, obj)?;
    match k {
        ObjKind::Lock => Some((id, false)),
        ObjKind::RLock => Some((id, true)),
        _ => None,
    }
}

/// The turn of a lock event is taken with the depth it records (`aux`):
/// the strategy must see the event the trace gets (an inner level of an
/// RLock is an operation of the actor alone, an outer one is not).
pub(super) fn emit_acquire(ctx: &ThreadCtx, lock: ObjId, reentrant: bool, loc: LocId) {
    let depth = session::with(|s| s.lock_depth_after_acquire(lock, reentrant)).unwrap_or(1);
    if !gate(ctx, EventKind::LockAcquire, loc, lock.0, u64::from(depth)) {
        return;
    }
    session::with_gen(ctx.generation, |s| {
        let depth = s.lock_acquired(lock, reentrant);
        s.emit(
            ctx.actor(),
            EventKind::LockAcquire,
            loc,
            lock.0,
            depth as u64,
        );
    });
}

pub(super) fn emit_release(ctx: &ThreadCtx, lock: ObjId, loc: LocId) {
    let depth = session::with(|s| s.lock_depth_before_release(lock)).unwrap_or(1);
    if !gate(ctx, EventKind::LockRelease, loc, lock.0, u64::from(depth)) {
        return;
    }
    session::with_gen(ctx.generation, |s| {
        let depth = s.lock_released(lock);
        s.emit(
            ctx.actor(),
            EventKind::LockRelease,
            loc,
            lock.0,
            depth as u64,
        );
    });
}

pub(super) fn resolve_pending(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>) {
    let Some(p) = ctx.pending.get() else { return };
    if p.frame != f.addr() {
        return;
    }
    ctx.pending.set(None);
    if f.stack_depth() != p.depth {
        return; // the call raised: we are in a handler
    }
    match p.what {
        PendingOp::Acquire { lock, reentrant } => {
            if f.peek_is_true(0) {
                emit_acquire(ctx, lock, reentrant, p.loc);
            } else {
                // A try, or a timed acquire, that gave up.
                emit(ctx, EventKind::LockAcquireFail, p.loc, lock.0, 0);
            }
        }
        PendingOp::QueueGet { queue } => {
            let Some(item) = f.peek(py, 0) else { return };
            let addr = item.as_ptr() as usize;
            let Some(Some(token)) = session::with(|s| s.queue_get(queue, addr)) else {
                return;
            };
            if gate(ctx, EventKind::QueueGet, p.loc, queue.0, token) {
                session::with_gen(ctx.generation, |s| {
                    s.emit(ctx.actor(), EventKind::QueueGet, p.loc, queue.0, token)
                });
            }
        }
    }
}

pub(super) fn clear_pending_in(ctx: &ThreadCtx, f: Frame<'_>) {
    if let Some(p) = ctx.pending.get() {
        if p.frame == f.addr() {
            ctx.pending.set(None);
        }
    }
}
