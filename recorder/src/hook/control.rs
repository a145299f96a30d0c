//! Controlled runs: the calls that can block or that release something
//! (`_thread` lock methods, `SimpleQueue`, `time.sleep`) are handed to the
//! scheduler's model (`crate::control`) before they run, in user code and
//! inside the standard library alike; the primitives being called are kept
//! on a small stack so that a wait can be described in the user's terms
//! ("event `ready`", "queue `jobs`") and its next event predicted.

use super::*;
use crate::control::{self as ctl, Acquire, Resume};
use crate::cpython::CallArgs;

/// Where the parameters of a call are on the value stack.
struct Args<'a, 'py> {
    call: &'a CallArgs<'py>,
    /// 1 when `self` is the first argument (an unbound method descriptor).
    rest: usize,
}

impl Args<'_, '_> {
    /// Stack depth (0 = TOS) of parameter `pos` (after self) or keyword `name`.
    fn param(&self, pos: usize, name: &str) -> Option<usize> {
        self.call.param(self.rest, pos, name)
    }
}

fn is_rlock(obj: &Bound<'_, PyAny>) -> bool {
    naming::type_name(obj) == "RLock"
}

/// A call of a recognized C method about to run, in traced or intercepted
/// code.
pub(super) fn precall(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>, info: &CodeInfo, ins: &Instr) {
    let Some(c) = f.call_args(py, ins) else {
        return;
    };
    let Some((def, bound)) = cpython::builtin_method(&c.callable) else {
        return;
    };
    let Some(role) = session::with(|s| s.tables.calls.method(def)).flatten() else {
        return;
    };
    let (self_obj, rest) = match bound {
        Some(b) if !b.is_instance_of::<pyo3::types::PyModule>() => (Some(b), 0),
        Some(_) => (None, 0),
        None => (c.depth_of(0).and_then(|d| f.peek(py, d)), 1),
    };
    let args = Args { call: &c, rest };
    let Some(obj) = self_obj else { return };
    match role {
        CallRole::LockAcquire => {
            let blocking_at = args.param(0, "blocking");
            let timeout_at = args.param(1, "timeout");
            let blocking = blocking_at
                .and_then(|d| f.peek(py, d))
                .map(|b| b.is_truthy().unwrap_or(true))
                .unwrap_or(true);
            let timeout = timeout_at
                .and_then(|d| f.peek(py, d))
                .and_then(|t| t.extract::<f64>().ok())
                .filter(|&t| t >= 0.0);
            let r = acquire(py, ctx, f, info, &obj, blocking, timeout, 1);
            rewrite(py, f, r, blocking_at, timeout_at);
        }
        CallRole::LockAcquireRestore => {
            // `_acquire_restore((count, owner))`
            let count = args
                .param(0, "state")
                .and_then(|d| f.peek(py, d))
                .and_then(|s| s.get_item(0).ok())
                .and_then(|c| c.extract::<u32>().ok())
                .unwrap_or(1);
            let _ = acquire(py, ctx, f, info, &obj, true, None, count);
        }
        CallRole::LockRelease => ctl::release(ctx.actor(), &obj, false),
        CallRole::LockReleaseSave => ctl::release(ctx.actor(), &obj, true),
        CallRole::HandleJoin => {
            // Like the state lock `join` acquires and releases up to 3.12:
            // the model gives the handle to the child until its exit.
            let timeout_at = args.param(0, "timeout");
            let timeout = timeout_at
                .and_then(|d| f.peek(py, d))
                .filter(|t| !t.is_none())
                .and_then(|t| t.extract::<f64>().ok())
                .filter(|&t| t >= 0.0);
            match acquire(py, ctx, f, info, &obj, true, timeout, 1) {
                Resume::TimedOut => rewrite(py, f, Resume::TimedOut, None, timeout_at),
                _ => ctl::release(ctx.actor(), &obj, false),
            }
        }
        CallRole::QueuePut => {
            let size = queue_size(&obj);
            ctl::queue_put(&obj, size);
        }
        CallRole::QueueGet => {
            let name = cpython::method_def_name(def);
            let nowait = name == "get_nowait";
            let block_at = args.param(0, "block");
            let timeout_at = args.param(1, "timeout");
            let blocking = !nowait
                && block_at
                    .and_then(|d| f.peek(py, d))
                    .map(|b| b.is_truthy().unwrap_or(true))
                    .unwrap_or(true);
            let timeout = timeout_at
                .and_then(|d| f.peek(py, d))
                .filter(|t| !t.is_none())
                .and_then(|t| t.extract::<f64>().ok());
            let site = user_site(py, ctx, f, info);
            let (mut id, label) = traced_object(py, f, info, &obj);
            if id == u32::MAX {
                // A get in library code (a thread pool's worker) is an
                // event too (`hook::intercept_only`): the same queue id.
                id = object(py, Some(&f), &obj).map_or(u32::MAX, |(o, _)| o.0);
            }
            let op = racetrace_formats::Event {
                actor: ctx.actor(),
                kind: EventKind::QueueGet,
                loc: site,
                target: id,
                aux: 0,
            };
            let what = format!("an item in queue {} (SimpleQueue.get)", quoted(&label));
            let size = queue_size(&obj);
            let turn_first = id != u32::MAX;
            match ctl::queue_get(
                py,
                ctx.actor(),
                &obj,
                size,
                blocking,
                timeout,
                op,
                site,
                what,
                turn_first,
            ) {
                Ok(r) => {
                    if r == Resume::TimedOut {
                        if let Some(d) = timeout_at {
                            replace(
                                py,
                                f,
                                d,
                                0.0f64.into_pyobject(py).ok().map(|v| v.into_any()),
                            );
                        }
                    }
                }
                Err(_) => set_abort(),
            }
        }
        _ => {}
    }
}

fn queue_size(q: &Bound<'_, PyAny>) -> u64 {
    q.call_method0("qsize")
        .and_then(|n| n.extract::<u64>())
        .unwrap_or(0)
}

fn replace(py: Python<'_>, f: Frame<'_>, depth: usize, v: Option<Bound<'_, PyAny>>) {
    if let Some(v) = v {
        f.replace(py, depth, &v);
    }
}

/// Makes the pending call behave as the model decided.
fn rewrite(
    py: Python<'_>,
    f: Frame<'_>,
    r: Resume,
    blocking_at: Option<usize>,
    timeout_at: Option<usize>,
) {
    match r {
        Resume::TimedOut => {
            if let Some(d) = timeout_at {
                replace(
                    py,
                    f,
                    d,
                    0.0f64.into_pyobject(py).ok().map(|v| v.into_any()),
                );
            } else if let Some(d) = blocking_at {
                replace(
                    py,
                    f,
                    d,
                    Some(pyo3::types::PyBool::new(py, false).to_owned().into_any()),
                );
            }
        }
        Resume::ProceedBlocking => {
            if let Some(d) = blocking_at {
                replace(
                    py,
                    f,
                    d,
                    Some(pyo3::types::PyBool::new(py, true).to_owned().into_any()),
                );
            }
        }
        Resume::Proceed | Resume::Unmodelled => {}
    }
}

/// `f(*args, **kwargs)` of a lock method (`Condition.__exit__` releases
/// with `self._lock.__exit__(*args)`). Acquires through it are taken as
/// blocking (their arguments are not rewritten).
pub(super) fn call_ex(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>, info: &CodeInfo, ins: &Instr) {
    let Some(c) = f.call_ex_args(py, ins) else {
        return;
    };
    let callable = c.callable;
    let Some((def, Some(obj))) = cpython::builtin_method(&callable) else {
        return;
    };
    match session::with(|s| s.tables.calls.method(def)).flatten() {
        Some(CallRole::LockRelease) => ctl::release(ctx.actor(), &obj, false),
        Some(CallRole::LockReleaseSave) => ctl::release(ctx.actor(), &obj, true),
        Some(CallRole::LockAcquire) => {
            let _ = acquire(py, ctx, f, info, &obj, true, None, 1);
        }
        _ => {}
    }
}

/// `with lock:` (BEFORE_WITH): a blocking acquire.
pub(super) fn before_with(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>, info: &CodeInfo) {
    let Some(obj) = f.peek(py, 0) else { return };
    if !is_lock(&obj) {
        return;
    }
    let _ = acquire(py, ctx, f, info, &obj, true, None, 1);
}

/// The `__exit__` of a `with lock:` left by an exception.
pub(super) fn with_except(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>) {
    let Some(exit) = f.peek(py, 3) else { return };
    if let Some((def, Some(owner))) = cpython::builtin_method(&exit) {
        if session::with(|s| s.tables.calls.method(def)).flatten() == Some(CallRole::LockRelease) {
            ctl::release(ctx.actor(), &owner, false);
        }
    }
}

fn is_lock(obj: &Bound<'_, PyAny>) -> bool {
    matches!(naming::type_name(obj).as_str(), "lock" | "RLock")
}

/// The trace id and label of an object used in traced code (registered as
/// the recorder would); nothing for library code.
fn traced_object(
    py: Python<'_>,
    f: Frame<'_>,
    info: &CodeInfo,
    obj: &Bound<'_, PyAny>,
) -> (u32, String) {
    if !info.traced {
        return (u32::MAX, String::new());
    }
    match object(py, Some(&f), obj) {
        Some((id, _)) => (id.0, session::with(|s| s.label_of(id)).unwrap_or_default()),
        None => (u32::MAX, String::new()),
    }
}

/// The user's location of what the actor is doing: the instruction in
/// traced code, else the call site of the primitive being called, else the
/// nearest traced caller.
pub(super) fn user_site(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>, info: &CodeInfo) -> LocId {
    if info.traced {
        let idx = f.instr_index();
        if let Some(ins) = info.instrs.get(idx) {
            return instr_loc(info, ins, || f.current_line(py), idx);
        }
    }
    if let Some(site) = ctx.prims.borrow().iter().find_map(|p| p.site) {
        return site;
    }
    let mut c = f.caller();
    for _ in 0..12 {
        let Some(cur) = c else { break };
        if caller_info(py, cur).is_some_and(|i| i.traced) {
            return caller_loc(py, cur);
        }
        c = cur.caller();
    }
    // No traced code on the stack (a library calling the primitive itself,
    // as an executor's worker runs `lock.acquire` handed to it): where in
    // that library (a controlled run has ids for all code but its own).
    if info.intercept {
        let loc = CodeLoc {
            file: info.file,
            line: f.current_line(py),
            function: info.function,
            offset: (f.instr_index() * 2) as u32,
        };
        return session::with(|s| s.loc(loc)).unwrap_or_default();
    }
    LocId(0)
}

/// A lock acquire by the actor; returns what the call must do.
#[allow(clippy::too_many_arguments)]
fn acquire(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    info: &CodeInfo,
    obj: &Bound<'_, PyAny>,
    blocking: bool,
    timeout: Option<f64>,
    count: u32,
) -> Resume {
    if blocking && timeout.is_some() && ctx.prims.borrow().iter().any(|p| p.expire) {
        // The strategy decided the primitive around this wait gives up.
        ctl::expire_wait(timeout);
        return Resume::TimedOut;
    }
    let reentrant = is_rlock(obj);
    let first_sight = if ctl::is_tracked(obj) {
        None
    } else {
        Some(lock_state(obj, reentrant))
    };
    let site = user_site(py, ctx, f, info);
    let (id, mut label) = traced_object(py, f, info, obj);
    if label.is_empty() {
        // Called from untraced code: named as traced code named it before.
        label = ctl::lock_label(obj).unwrap_or_default();
    }
    let addr = obj.as_ptr() as usize;
    // What the actor waits for, in the user's terms.
    let prims = ctx.prims.borrow();
    let outer = prims.iter().find(|p| p.site.is_some());
    let cond_lock = prims
        .iter()
        .rev()
        .find(|p| p.role == Role::CondWait)
        .and_then(|p| p.cond_lock)
        .filter(|&l| l != addr);
    let (kind, target, what, site) = match outer {
        Some(p) => {
            let l = quoted(&p.label);
            let (kind, what) = match p.role {
                Role::EventWait => (
                    EventKind::EventWait,
                    format!("event {l} to be set (Event.wait)"),
                ),
                Role::CondWait | Role::CondWaitFor => (
                    EventKind::CondWake,
                    format!("condition {l} to be notified (Condition.wait)"),
                ),
                Role::CondEnter => (EventKind::LockAcquire, format!("the lock of condition {l}")),
                Role::SemAcquire => (
                    EventKind::SemAcquire,
                    format!("semaphore {l} to be released (Semaphore.acquire)"),
                ),
                Role::BarrierWait => (
                    EventKind::BarrierLeave,
                    format!("the other parties of barrier {l} (Barrier.wait)"),
                ),
                Role::QueueGet => (
                    EventKind::QueueGet,
                    format!("an item in queue {l} (Queue.get)"),
                ),
                Role::QueuePut => (
                    EventKind::QueuePut,
                    format!("room in queue {l} (Queue.put)"),
                ),
                Role::QueueJoin => (
                    EventKind::QueueJoin,
                    format!("every item of queue {l} to be marked done (Queue.join)"),
                ),
                Role::ThreadJoin => (
                    EventKind::Join,
                    format!("thread {} to finish (Thread.join)", p.label),
                ),
                _ => (EventKind::LockAcquire, format!("lock {l}")),
            };
            if p.role == Role::CondEnter && label.is_empty() {
                label = format!("lock of {}", p.label);
            }
            (kind, p.id, what, p.site.unwrap_or(site))
        }
        None => (
            EventKind::LockAcquire,
            id,
            format!("lock {}", quoted(&label)),
            site,
        ),
    };
    // Re-acquiring the lock after a wake-up already recorded (a timeout):
    // what comes next is the acquire of the condition's lock.
    let (kind, target) = match prims.iter().rev().find(|p| p.role == Role::CondWait) {
        Some(p) if kind == EventKind::CondWake && ctx.woken_waits.borrow().contains(&p.frame) => {
            let lock = ctx
                .cond_waits
                .borrow()
                .iter()
                .find(|w| w.frame == p.frame)
                .and_then(|w| w.lock)
                .map_or(u32::MAX, |(l, _)| l.0);
            (EventKind::LockAcquire, lock)
        }
        _ => (kind, target),
    };
    // Entering a condition (`with cond:`) records the acquire of its lock
    // just as a plain acquire does.
    let turn_first = match outer {
        None => id != u32::MAX,
        Some(p) => p.role == Role::CondEnter,
    };
    drop(prims);
    let op = racetrace_formats::Event {
        actor: ctx.actor(),
        kind,
        loc: site,
        target,
        // A wake-up predicted is a notified one (1); a timed-out one is 0.
        aux: u64::from(kind == EventKind::CondWake),
    };
    let req = Acquire {
        obj,
        reentrant,
        count,
        blocking,
        timeout,
        also: cond_lock.into_iter().collect(),
        op,
        site,
        what,
        label,
        first_sight,
        turn_first,
    };
    match ctl::acquire(py, ctx.actor(), req) {
        Ok(r) => {
            if r == Resume::TimedOut {
                // The primitive the user called ends by giving up.
                if let Some(p) = ctx.prims.borrow_mut().iter_mut().find(|p| p.site.is_some()) {
                    p.gave_up = true;
                }
                super::prims::timed_out_wake(ctx);
            }
            r
        }
        Err(_) => {
            set_abort();
            Resume::Proceed
        }
    }
}

/// (locked, owner thread ident) of a lock seen for the first time.
fn lock_state(obj: &Bound<'_, PyAny>, reentrant: bool) -> (bool, u64) {
    if !reentrant {
        let locked = obj
            .call_method0("locked")
            .and_then(|l| l.is_truthy())
            .unwrap_or(false);
        return (locked, 0);
    }
    // `<locked _thread.RLock object owner=123 count=1 at 0x...>`
    let text = obj.repr().map(|r| r.to_string()).unwrap_or_default();
    let field = |name: &str| -> u64 {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("count=") > 0, field("owner="))
}

/// `time.sleep(secs)` in traced code: a `Yield` that may go once the
/// virtual clock reaches now + secs; the real call then returns at once.
pub(super) fn sleep(
    py: Python<'_>,
    ctx: &ThreadCtx,
    f: Frame<'_>,
    loc: LocId,
    secs: &Bound<'_, PyAny>,
) {
    let Ok(d) = secs.extract::<f64>() else { return };
    let controlled = ctx.in_control();
    if !gate_at(ctx, EventKind::Yield, loc, ctx.actor().0, 0, Some(d)) {
        return;
    }
    session::with_gen(ctx.generation, |s| {
        s.emit(ctx.actor(), EventKind::Yield, loc, ctx.actor().0, 0)
    });
    // `time.sleep(s)` at PRECALL: `s` is on top of the stack.
    if controlled && f.peek(py, 0).is_some_and(|top| top.is(secs)) {
        replace(py, f, 0, 0i64.into_pyobject(py).ok().map(|v| v.into_any()));
    }
}

/// The first instruction of a line marked `# racetrace: NAME`: a
/// scheduling point with no effect (a `Yield` naming the marker), where a
/// marker schedule holds the actor back until its turn.
pub(super) fn marker(ctx: &ThreadCtx, loc: LocId, id: u32) {
    let aux = crate::strategy::markers::MARK_AUX + u64::from(id);
    if gate(ctx, EventKind::Yield, loc, ctx.actor().0, aux) {
        session::with_gen(ctx.generation, |s| {
            s.emit(ctx.actor(), EventKind::Yield, loc, ctx.actor().0, aux)
        });
    }
}

/// `Thread.start` returned: the handshake with the child is over; its
/// state lock is the child's until it exits.
pub(super) fn thread_started_return(py: Python<'_>, ctx: &ThreadCtx, f: Frame<'_>, failed: bool) {
    let _ = py;
    let Some(thread) = f.local(py, 0) else { return };
    let Some(child) = session::with(|s| s.thread_actor(&thread)).flatten() else {
        return;
    };
    // What `join` waits on: the thread's state lock, or (3.13) its handle.
    let waited = thread
        .getattr("_tstate_lock")
        .ok()
        .filter(|l| !l.is_none())
        .or_else(|| thread.getattr("_handle").ok());
    match waited {
        Some(l) if !l.is_none() && !failed => ctl::register_tstate(&l, child),
        _ => {
            if failed {
                ctl::never_started(child);
            }
        }
    }
    let _ = ctx;
}
