//! Recognized primitives being called, in controlled runs: what each is
//! (to describe and predict a wait inside it in the user's terms), whether
//! it was given a timeout, whether it gave up, and the steps some of them
//! take before they run (semaphores, tries of a queue).

use super::*;

/// On the call of a recognized primitive (controlled runs): remember what
/// it is, to describe and predict waits inside it.
pub(super) fn prim_call(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>, role: Role) {
    if !matches!(
        role,
        Role::EventWait
            | Role::CondWait
            | Role::CondWaitFor
            | Role::CondEnter
            | Role::SemAcquire
            | Role::SemRelease
            | Role::BarrierWait
            | Role::QueueGet
            | Role::QueuePut
            | Role::QueueJoin
            | Role::ThreadJoin
            | Role::EventCheck
            | Role::QueueCheck
    ) {
        return;
    }
    let Some(this) = f.local(py, 0) else { return };
    let site = user_call_site(py, f);
    let (id, label) = if role == Role::ThreadJoin {
        let child = session::with(|s| s.thread_actor(&this)).flatten();
        let name: String = this
            .getattr("name")
            .and_then(|n| n.extract())
            .unwrap_or_default();
        let label = match child {
            Some(c) => format!("T{} ({name})", c.0),
            None => name,
        };
        (child.map_or(u32::MAX, |c| c.0), label)
    } else if site.is_some() {
        let sc = scope(py, f);
        match object(py, sc.as_ref().map(|c| c as &dyn Scope), &this) {
            Some((id, _)) => (id.0, session::with(|s| s.label_of(id)).unwrap_or_default()),
            None => (u32::MAX, String::new()),
        }
    } else {
        (u32::MAX, String::new())
    };
    let cond_lock = if role == Role::CondWait {
        this.getattr("_lock").ok().map(|l| l.as_ptr() as usize)
    } else {
        None
    };
    // Called with a timeout, or as a try: it could end by giving up.
    let given = |i: usize| f.local(py, i).is_some_and(|v| !v.is_none());
    let off = |i: usize| {
        f.local(py, i)
            .is_some_and(|b| !b.is_truthy().unwrap_or(true))
    };
    let timed = match role {
        Role::EventWait | Role::CondWait | Role::ThreadJoin => given(1),
        Role::CondWaitFor => given(2),
        Role::QueueGet | Role::SemAcquire => off(1) || given(2),
        Role::QueuePut => off(2) || given(3),
        Role::BarrierWait => given(1) || this.getattr("_timeout").is_ok_and(|t| !t.is_none()),
        _ => false,
    };
    ctx.prims.borrow_mut().push(Prim {
        frame: f.addr(),
        role,
        id,
        site,
        cond_lock,
        label,
        gave_up: false,
        expire: false,
        timed,
    });
    if aborting() {
        return;
    }
    match role {
        Role::SemAcquire => super::sems::acquire_call(py, ctx, f, &this),
        Role::SemRelease => super::sems::release_turn(py, ctx, &this),
        Role::QueueGet => super::giveup::queue_get_call(py, ctx, f, &this),
        Role::EventWait => super::giveup::event_wait_call(py, ctx, f, &this),
        Role::QueuePut => super::giveup::queue_put_call(py, ctx, f, &this),
        Role::EventCheck | Role::QueueCheck => super::giveup::check_call(ctx, &this, role),
        _ => {}
    }
}

/// Whether the `Queue.put` call of frame `f` records its put when it
/// returns (see `ThreadCtx::deferred_puts`); forgotten once asked with
/// `take`.
pub(super) fn put_deferred(ctx: &ThreadCtx, f: Frame<'_>, take: bool) -> bool {
    let mut d = ctx.deferred_puts.borrow_mut();
    match d.iter().rposition(|&fr| fr == f.addr()) {
        Some(i) => {
            if take {
                d.remove(i);
            }
            true
        }
        None => false,
    }
}

/// Whether the primitive call of frame `f` gave up (see `Prim::gave_up`).
pub(super) fn prim_gave_up(ctx: &ThreadCtx, f: Frame<'_>) -> bool {
    ctx.prims
        .borrow()
        .iter()
        .rev()
        .find(|p| p.frame == f.addr())
        .is_some_and(|p| p.gave_up)
}

pub(super) fn prim_return(ctx: &ThreadCtx, f: Frame<'_>) {
    let mut prims = ctx.prims.borrow_mut();
    if let Some(pos) = prims.iter().rposition(|p| p.frame == f.addr()) {
        prims.truncate(pos);
    }
}

/// A user's `Condition.wait(timeout)` timed out: its wake-up is recorded
/// now, as the step the strategy chose, since re-acquiring the condition's
/// lock may wait (another actor may hold it: a timeout does not need it).
pub(super) fn timed_out_wake(ctx: &ThreadCtx) {
    let found = ctx
        .prims
        .borrow()
        .iter()
        .rev()
        .find(|p| p.role == Role::CondWait)
        .and_then(|p| Some((p.frame, p.site?, p.id)));
    let Some((frame, site, cond)) = found else {
        return;
    };
    if cond == u32::MAX {
        return;
    }
    let recorded = ctx
        .cond_waits
        .borrow()
        .iter()
        .any(|w| w.frame == frame && w.lock.is_some());
    if !recorded || !gate(ctx, EventKind::CondWake, site, cond, 0) {
        return;
    }
    session::with_gen(ctx.generation, |s| {
        s.emit(ctx.actor(), EventKind::CondWake, site, cond, 0)
    });
    ctx.woken_waits.borrow_mut().push(frame);
}

/// Whether the `Condition.wait` of `frame` recorded its wake-up already
/// (forgotten once asked).
pub(super) fn take_woken(ctx: &ThreadCtx, frame: usize) -> bool {
    let mut w = ctx.woken_waits.borrow_mut();
    match w.iter().position(|&f| f == frame) {
        Some(i) => {
            w.swap_remove(i);
            true
        }
        None => false,
    }
}
