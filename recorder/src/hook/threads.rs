//! Hooking a thread started while recording: at its first Python call
//! after the standard library's bootstrap (`Thread._bootstrap_inner`
//! calling `run`), the thread becomes an actor (the one `Thread.start`
//! announced, or a new actor without a parent) and gets a tracer.
//!
//! Where that first call is seen depends on the interpreter backend: the
//! 3.11 trace function is per thread, so the Python layer installs a
//! bootstrap with `threading.settrace` that hands the thread over
//! (`_native.thread_started`); `sys.monitoring` sees every thread, so the
//! backend reports each function start in a thread without a tracer to
//! [`new_thread_call`], which recognizes the bootstrap itself.

use std::cell::Cell;

use super::*;

fn current_thread<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
    py.import("threading")?.call_method0("current_thread")
}

thread_local! {
    /// The frame of this thread's `Thread._bootstrap_inner`, once it has
    /// started and until the thread is hooked (0: none).
    static BOOTSTRAP: Cell<usize> = const { Cell::new(0) };
}

/// A function starts in a thread that has no tracer (backends that hook
/// new threads themselves). The thread is hooked at the first call its
/// bootstrap makes that is not part of the bootstrap's own work (setting
/// the ident, the started event...): `run`, or whatever the thread class
/// runs in its place.
pub fn new_thread_call(py: Python<'_>, f: Frame<'_>) {
    if session::generation() == 0 {
        return;
    }
    let code = f.code(py);
    let role = session::with(|s| s.tables.code_roles.of_code(code.as_ptr() as usize)).flatten();
    if role == Some(Role::ThreadBootstrapInner) {
        BOOTSTRAP.with(|b| b.set(f.addr()));
        // Its return is the thread's exit event.
        f.watch_returns();
        return;
    }
    let bootstrap = BOOTSTRAP.with(|b| b.get());
    if bootstrap == 0 || f.caller().map(|c| c.addr()) != Some(bootstrap) {
        return;
    }
    let Some(info) = ensure_info(py, f) else {
        return;
    };
    if info.sync_lib && !info.qualname.ends_with(".run") {
        return; // `_set_ident`, `_started.set()`, ...
    }
    BOOTSTRAP.with(|b| b.set(0));
    if let Err(e) = start_thread(py, f) {
        // A stopped controlled run: the actor unwinds.
        e.restore(py);
    }
}

/// Hooks the current thread, whose first call after its bootstrap is `f`.
pub fn start_thread(py: Python<'_>, f: Frame<'_>) -> PyResult<()> {
    let generation = session::generation();
    if generation == 0 {
        return Ok(());
    }
    let thread = current_thread(py)?;
    let name: String = thread
        .getattr("name")
        .and_then(|n| n.extract())
        .unwrap_or_default();
    let code = thread
        .getattr("_target")
        .ok()
        .and_then(|t| t.getattr("__code__").ok())
        .unwrap_or_else(|| f.code(py));
    let loc = code_entry_loc(py, &code);
    let mark = |f: Frame<'_>| {
        if let Some(info) = ensure_info(py, f) {
            f.set_trace_flags(false, info.traced || info.intercept);
            if info.role != crate::codeinfo::Role::None {
                f.watch_returns();
            }
        }
    };
    if crate::control::active() {
        // Only threads spawned by actors (or the run's main actor) are
        // controlled; others (started by threads outside the run) are left
        // alone.
        let Some(actor) = session::with(|s| s.thread_actor(&thread)).flatten() else {
            return Ok(());
        };
        // Naming the thread and its target ran Python code: if the run
        // this thread was started by ended meanwhile (a later one may have
        // begun), the actor is not this run's and takes no turn in it.
        if session::generation() != generation {
            return Err(crate::control::run_aborted());
        }
        let loc = if actor.0 == 0 { LocId(0) } else { loc };
        // From here on, this thread acts in this recording's run only.
        crate::control::acts_for(generation);
        let ident: u64 = thread.getattr("ident")?.extract().unwrap_or(0);
        let op = racetrace_formats::Event {
            actor,
            kind: EventKind::ActorStart,
            loc,
            target: actor.0,
            aux: 0,
        };
        if crate::control::arrive(py, actor, ident).is_err()
            || crate::control::before_emit(py, actor, op, None).is_err()
        {
            return Err(crate::control::run_aborted());
        }
        session::with(|s| s.emit(actor, EventKind::ActorStart, loc, actor.0, 0));
        cpython::install(py, ThreadCtx::new(actor, generation, loc))?;
        mark(f);
        return Ok(());
    }
    let known = session::with(|s| s.thread_actor(&thread)).flatten();
    let actor = match known {
        Some(a) => Some(a),
        None => {
            // Started by a thread the recorder does not see: no parent.
            let weakref = crate::identity::watch(&thread);
            session::with(|s| {
                let a = s.new_actor(&name, None, None);
                s.bind_thread(&thread, a, weakref);
                a
            })
        }
    };
    let Some(actor) = actor else {
        return Ok(());
    };
    session::with(|s| s.emit(actor, EventKind::ActorStart, loc, actor.0, 0));
    cpython::install(py, ThreadCtx::new(actor, generation, loc))?;
    mark(f);
    Ok(())
}
