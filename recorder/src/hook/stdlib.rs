//! Recognized standard-library functions (threads, Event, Condition,
//! Semaphore, Barrier, Queue, futures): their call and return events are
//! synchronization operations.

use super::*;

pub(super) fn sync_call(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>, role: Role) {
    let Some(this) = f.local(py, 0) else { return };
    match role {
        Role::ThreadStart => thread_start(py, ctx, f, &this),
        Role::EventSet | Role::EventClear => {
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            let Some((id, _)) = object(py, scope(py, f).as_ref().map(|c| c as &dyn Scope), &this)
            else {
                return;
            };
            let kind = if role == Role::EventSet {
                EventKind::EventSet
            } else {
                EventKind::EventClear
            };
            emit(ctx, kind, loc, id.0, 0);
        }
        Role::CondExit => {
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            if let Some((lock, _)) = cond_lock(py, f, &this) {
                emit_release(ctx, lock, loc);
            }
        }
        Role::CondWait => {
            let Some(loc) = user_call_site(py, f) else {
                ctx.cond_waits.borrow_mut().push(CondWaitState {
                    frame: f.addr(),
                    lock: None,
                });
                return;
            };
            let Some((cond, _)) = object(py, scope(py, f).as_ref().map(|c| c as &dyn Scope), &this)
            else {
                return;
            };
            let lock = cond_lock(py, f, &this);
            emit(ctx, EventKind::CondWait, loc, cond.0, 0);
            if aborting() {
                return;
            }
            let saved = lock.map(|(lock, _)| {
                let _ = gate(ctx, EventKind::LockRelease, loc, lock.0, 1);
                let depth = session::with_gen(ctx.generation, |s| {
                    let d = s.lock_released_fully(lock);
                    s.emit(ctx.actor(), EventKind::LockRelease, loc, lock.0, 1);
                    d
                })
                .unwrap_or(1);
                (lock, depth)
            });
            ctx.cond_waits.borrow_mut().push(CondWaitState {
                frame: f.addr(),
                lock: saved,
            });
        }
        Role::CondNotify | Role::CondNotifyAll => {
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            let Some((cond, _)) = object(py, scope(py, f).as_ref().map(|c| c as &dyn Scope), &this)
            else {
                return;
            };
            if role == Role::CondNotify {
                let n: u64 = f.local(py, 1).and_then(|n| n.extract().ok()).unwrap_or(1);
                emit(ctx, EventKind::CondNotify, loc, cond.0, n);
            } else {
                emit(ctx, EventKind::CondNotifyAll, loc, cond.0, 0);
            }
        }
        Role::SemRelease => {
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            let Some((id, _)) = object(py, scope(py, f).as_ref().map(|c| c as &dyn Scope), &this)
            else {
                return;
            };
            emit(
                ctx,
                EventKind::SemRelease,
                loc,
                id.0,
                super::sems::aux(&this, false),
            );
        }
        Role::BarrierWait => {
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            let Some((id, _)) = object(py, scope(py, f).as_ref().map(|c| c as &dyn Scope), &this)
            else {
                return;
            };
            let parties: u64 = this
                .getattr("parties")
                .and_then(|p| p.extract())
                .unwrap_or(1);
            if !gate(ctx, EventKind::BarrierArrive, loc, id.0, 0) {
                return;
            }
            let Some(gen) = session::with_gen(ctx.generation, |s| {
                let g = s.barrier_arrive(id, parties);
                s.emit(ctx.actor(), EventKind::BarrierArrive, loc, id.0, g);
                g
            }) else {
                return;
            };
            ctx.barrier_waits.borrow_mut().push((f.addr(), id, gen));
        }
        // Futures hand results between the executor's threads and the
        // caller; modelled as an event set by the producer side and waited
        // on by the consumer side. Recorded wherever they are called from
        // (the executor machinery calls them), at the caller's location.
        Role::FutureSubmit | Role::FutureRun | Role::FutureSet => {
            let future = match role {
                Role::FutureSubmit => f.local(py, 1),
                Role::FutureRun => this.getattr("future").ok(),
                _ => Some(this.clone()),
            };
            let Some(future) = future else { return };
            let Some((id, _)) = object(py, scope(py, f).as_ref().map(|c| c as &dyn Scope), &future)
            else {
                return;
            };
            let loc = future_site(py, f);
            let kind = if role == Role::FutureRun {
                EventKind::EventWait
            } else {
                EventKind::EventSet
            };
            emit(ctx, kind, loc, id.0, 0);
        }
        Role::FutureResult => {
            if let Some((id, _)) = object(py, scope(py, f).as_ref().map(|c| c as &dyn Scope), &this)
            {
                ctx.future_calls.borrow_mut().push((f.addr(), id));
            }
        }
        // Before the call: a consumer's `task_done` may let a `join`
        // return at once, in another thread.
        Role::QueueTaskDone => {
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            if let Some((id, _)) = object(py, scope(py, f).as_ref().map(|c| c as &dyn Scope), &this)
            {
                emit(ctx, EventKind::QueueTaskDone, loc, id.0, 0);
            }
        }
        Role::QueuePut => {
            if !ctx.controlled && queue_full(&this) && waits(py, f, 2, 3) {
                ctx.deferred_puts.borrow_mut().push(f.addr());
            }
            if super::prims::put_deferred(ctx, f, false) {
                return; // recorded when it returns
            }
            queue_put_event(py, ctx, f, &this);
        }
        // Recording: a call that will wait first records what it found, as
        // a controlled run does (`giveup::wait_begins`), so that the trace
        // replays as it is.
        Role::EventWait if !ctx.controlled => {
            let set = this
                .getattr("_flag")
                .is_ok_and(|v| v.is_truthy().unwrap_or(false));
            if !set {
                observe_wait(py, ctx, f, &this, EventKind::EventCheck);
            }
        }
        Role::QueueGet if !ctx.controlled => {
            let empty = this
                .call_method0("_qsize")
                .and_then(|n| n.extract::<u64>())
                .is_ok_and(|n| n == 0);
            if empty && waits(py, f, 1, 2) {
                observe_wait(py, ctx, f, &this, EventKind::QueueCheck);
            }
        }
        _ => {}
    }
}

pub(super) fn sync_return(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    role: Role,
    retval: Option<&Bound<'_, PyAny>>,
) {
    let returned_true = retval
        .map(|r| r.is_truthy().unwrap_or(false))
        .unwrap_or(false);
    match role {
        Role::ThreadBootstrapInner => {
            let failed = session::with(|s| s.has_failed(ctx.actor())).unwrap_or(false);
            emit(
                ctx,
                EventKind::ActorExit,
                ctx.start_loc.get(),
                ctx.actor().0,
                failed as u64,
            );
            if ctx.controlled && !ctx.finished.get() {
                // The thread is ending: never raise in it, hand the turn on.
                take_abort();
                ctx.finished.set(true);
                crate::control::exited(ctx.actor());
            }
            return;
        }
        Role::CondWait => {
            let state = {
                let mut waits = ctx.cond_waits.borrow_mut();
                let pos = waits.iter().rposition(|w| w.frame == f.addr());
                pos.map(|p| waits.remove(p))
            };
            let Some(CondWaitState {
                lock: Some((lock, depth)),
                ..
            }) = state
            else {
                return;
            };
            let Some(this) = f.local(py, 0) else { return };
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            let Some((cond, _)) = object(py, scope(py, f).as_ref().map(|c| c as &dyn Scope), &this)
            else {
                return;
            };
            // A timed-out wake-up may have been recorded when it timed out
            // (see `control::timed_out_wake`).
            if !super::prims::take_woken(ctx, f.addr()) {
                if !gate(ctx, EventKind::CondWake, loc, cond.0, returned_true as u64) {
                    return;
                }
                session::with_gen(ctx.generation, |s| {
                    s.emit(
                        ctx.actor(),
                        EventKind::CondWake,
                        loc,
                        cond.0,
                        returned_true as u64,
                    )
                });
            }
            if !gate(ctx, EventKind::LockAcquire, loc, lock.0, 1) {
                return;
            }
            session::with_gen(ctx.generation, |s| {
                s.lock_restore(lock, depth);
                s.emit(ctx.actor(), EventKind::LockAcquire, loc, lock.0, 1);
            });
            return;
        }
        Role::QueuePut => {
            // A put that found the queue full, once it has put its item
            // (one that raised `Full` records that: `giveup`).
            if super::prims::put_deferred(ctx, f, true) && retval.is_some() {
                if let Some(this) = f.local(py, 0) {
                    queue_put_event(py, ctx, f, &this);
                }
            }
            return;
        }
        Role::FutureResult => {
            // `result` sets `self = None` before returning: use the future
            // remembered when the call started.
            let entry = {
                let mut calls = ctx.future_calls.borrow_mut();
                let pos = calls.iter().rposition(|w| w.0 == f.addr());
                pos.map(|p| calls.remove(p))
            };
            let Some((_, id)) = entry else { return };
            if retval.is_none() {
                return;
            }
            let loc = future_site(py, f);
            emit(ctx, EventKind::EventWait, loc, id.0, 0);
            return;
        }
        Role::BarrierWait => {
            let entry = {
                let mut waits = ctx.barrier_waits.borrow_mut();
                let pos = waits.iter().rposition(|w| w.0 == f.addr());
                pos.map(|p| waits.remove(p))
            };
            let Some((_, id, gen)) = entry else { return };
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            let kind = if retval.is_some() {
                EventKind::BarrierLeave
            } else {
                EventKind::BarrierAbort
            };
            emit(ctx, kind, loc, id.0, gen);
            return;
        }
        _ => {}
    }
    let Some(retval) = retval else { return };
    // Like `Future.result` returning, for every future known to be done.
    match role {
        Role::FuturesWait => {
            if let Ok(done) = retval.getattr("done").and_then(|d| d.try_iter()) {
                let loc = future_site(py, f);
                for future in done.flatten() {
                    future_done(py, ctx, f, loc, &future);
                }
            }
            return;
        }
        Role::FuturesAsCompleted => {
            // Each yield is a return event carrying the finished future.
            let loc = future_site(py, f);
            future_done(py, ctx, f, loc, retval);
            return;
        }
        _ => {}
    }
    let Some(this) = f.local(py, 0) else { return };
    match role {
        Role::ThreadJoin => thread_join(py, ctx, f, &this),
        Role::EventWait => {
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            let Some((id, _)) = object(py, scope(py, f).as_ref().map(|c| c as &dyn Scope), &this)
            else {
                return;
            };
            let kind = if returned_true {
                EventKind::EventWait
            } else {
                EventKind::EventWaitTimeout
            };
            emit(ctx, kind, loc, id.0, 0);
        }
        Role::CondEnter => {
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            if let Some((lock, reentrant)) = cond_lock(py, f, &this) {
                emit_acquire(ctx, lock, reentrant, loc);
            }
        }
        Role::QueueJoin => {
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            if let Some((id, _)) = object(py, scope(py, f).as_ref().map(|c| c as &dyn Scope), &this)
            {
                emit(ctx, EventKind::QueueJoin, loc, id.0, 0);
            }
        }
        Role::SemAcquire => {
            if !returned_true {
                return;
            }
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            let Some((id, _)) = object(py, scope(py, f).as_ref().map(|c| c as &dyn Scope), &this)
            else {
                return;
            };
            emit(
                ctx,
                EventKind::SemAcquire,
                loc,
                id.0,
                super::sems::aux(&this, true),
            );
        }
        Role::EventCheck | Role::QueueCheck => {
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            let Some((id, _)) = object(py, scope(py, f).as_ref().map(|c| c as &dyn Scope), &this)
            else {
                return;
            };
            let (kind, aux) = if role == Role::EventCheck {
                (EventKind::EventCheck, u64::from(returned_true))
            } else {
                let len = this
                    .call_method0("_qsize")
                    .and_then(|n| n.extract::<u64>())
                    .unwrap_or(0);
                (EventKind::QueueCheck, len)
            };
            emit(ctx, kind, loc, id.0, aux);
        }
        Role::QueueGet => {
            let Some(loc) = user_call_site(py, f) else {
                return;
            };
            let Some((id, _)) = object(py, scope(py, f).as_ref().map(|c| c as &dyn Scope), &this)
            else {
                return;
            };
            let addr = retval.as_ptr() as usize;
            let Some(Some(token)) = session::with(|s| s.queue_get(id, addr)) else {
                return;
            };
            if gate(ctx, EventKind::QueueGet, loc, id.0, token) {
                session::with_gen(ctx.generation, |s| {
                    s.emit(ctx.actor(), EventKind::QueueGet, loc, id.0, token)
                });
            }
        }
        _ => {}
    }
}

/// The caller learned that `future` is finished: it receives what the
/// future's producer did before setting it.
fn future_done(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    loc: LocId,
    future: &Bound<'_, PyAny>,
) {
    let sc = scope(py, f);
    if let Some((id, _)) = object(py, sc.as_ref().map(|c| c as &dyn Scope), future) {
        emit(ctx, EventKind::EventWait, loc, id.0, 0);
    }
}

/// The first caller outside the futures machinery (the user's `submit`
/// or `result` line), else the immediate caller.
pub(super) fn future_site(py: Python<'_>, f: Frame<'_>) -> LocId {
    let Some(first) = f.caller() else {
        return LocId::default();
    };
    let mut c = first;
    for _ in 0..4 {
        match caller_info(py, c) {
            Some(info) if info.traced => return caller_loc(py, c),
            _ => match c.caller() {
                Some(next) => c = next,
                None => break,
            },
        }
    }
    caller_loc(py, first)
}

/// The lock under a `threading.Condition`.
fn cond_lock(py: Python<'_>, f: Frame<'_>, cond: &Bound<'_, PyAny>) -> Option<(ObjId, bool)> {
    let lock = cond.getattr("_lock").ok()?;
    lock_of(py, scope(py, f).as_ref().map(|c| c as &dyn Scope), &lock)
}

/// The nearest traced caller: where the user's variables are, to name a
/// primitive seen first inside the standard library.
pub(super) fn scope<'f>(py: Python<'_>, f: Frame<'f>) -> Option<Caller<'f>> {
    let mut c = f.caller()?;
    for _ in 0..4 {
        if caller_info(py, c).is_some_and(|i| i.traced) {
            return Some(c);
        }
        c = c.caller()?;
    }
    None
}

pub(super) fn thread_start(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    thread: &Bound<'_, PyAny>,
) {
    let loc = f.caller().map(|c| caller_loc(py, c)).unwrap_or_default();
    let name: String = thread
        .getattr("name")
        .and_then(|n| n.extract())
        .unwrap_or_default();
    if session::with(|s| s.thread_actor(thread).is_some()).unwrap_or(true) {
        return;
    }
    if !gate(ctx, EventKind::Spawn, loc, u32::MAX, 0) {
        return;
    }
    let weakref = crate::identity::watch(thread);
    let Some(child) = session::with_gen(ctx.generation, |s| {
        let at = s.events_written();
        let child = s.new_actor(&name, Some(ctx.actor()), Some(at));
        s.bind_thread(thread, child, weakref);
        s.emit(ctx.actor(), EventKind::Spawn, loc, child.0, 0);
        child
    }) else {
        return;
    };
    if ctx.in_control() {
        let daemon = thread
            .getattr("daemon")
            .and_then(|d| d.is_truthy())
            .unwrap_or(false);
        let spawn = racetrace_formats::Event {
            actor: ctx.actor(),
            kind: EventKind::Spawn,
            loc,
            target: child.0,
            aux: 0,
        };
        crate::control::spawned(spawn, child, name, daemon);
    }
}

pub(super) fn thread_join(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    thread: &Bound<'_, PyAny>,
) {
    let alive = thread
        .call_method0("is_alive")
        .and_then(|a| a.is_truthy())
        .unwrap_or(true);
    if alive {
        return;
    }
    let Some(child) = session::with(|s| s.thread_actor(thread)).flatten() else {
        return;
    };
    let loc = f.caller().map(|c| caller_loc(py, c)).unwrap_or_default();
    emit(ctx, EventKind::Join, loc, child.0, 0);
}
