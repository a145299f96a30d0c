//! The functions `racetrace._native` exposes to the controlled event loop
//! (`racetrace.aio` is their only caller): asyncio tasks as actors of a
//! controlled run (see `control::tasks`).

use pyo3::prelude::*;
use racetrace_formats::{ActorId, EventKind};

use crate::control::{self, run_aborted};
use crate::hook::tasks::{self, loc_of, set_task};

/// `creator` creates a task named `name` at `file:line` in `function`,
/// run by the loop of actor `base`'s thread; returns the task's actor id.
#[pyfunction]
fn task_create(
    py: Python<'_>,
    base: u32,
    creator: u32,
    name: &str,
    file: &str,
    line: u32,
    function: &str,
) -> PyResult<u32> {
    let loc = loc_of(file, line, function, 0);
    tasks::task_create(py, ActorId(base), ActorId(creator), name, loc)
        .map(|a| a.0)
        .ok_or_else(run_aborted)
}

/// Task `actor` has a step to run, made ready by the event `waker` (`None`:
/// by its own past only).
/// Task `actor` is not ready any more (a timeout held back, see
/// `racetrace/aio_timeouts.py`).
#[pyfunction]
fn task_hold(actor: u32) {
    control::task_hold(ActorId(actor));
}

/// `timeout`: the actor of a timeout, which expires in that many seconds.
#[pyfunction]
#[pyo3(signature = (actor, waker, timeout=None))]
fn task_ready(actor: u32, waker: Option<u64>, timeout: Option<f64>) {
    control::task_ready(ActorId(actor), waker, timeout);
}

/// The index of the last event written (a waker to remember).
#[pyfunction]
fn task_now() -> Option<u64> {
    control::task_now()
}

/// Between two steps of the loop of actor `base`'s thread: returns the
/// task the strategy chose (the thread acts as it from now on), or `base`
/// when the loop's timers fire, and whether other actors (threads) were
/// alive. `idle`: no task of the loop is ready, only other actors can go
/// (`timers`: in how long its earliest timer fires, if it has one;
/// `what`: who waits for what).
#[pyfunction]
#[pyo3(signature = (base, idle=None))]
fn task_switch(
    py: Python<'_>,
    base: u32,
    idle: Option<(Option<f64>, String)>,
) -> PyResult<(u32, bool)> {
    set_task(None);
    let idle = idle.map(|(timers, what)| control::LoopIdle { timers, what });
    let s = control::task_switch(py, ActorId(base), idle).map_err(|_| run_aborted())?;
    if s.actor.0 != base {
        set_task(Some(s.actor));
    }
    Ok((s.actor.0, s.others))
}

/// Whether actors other than the loop of actor `base`'s thread and its
/// tasks are alive (threads that may make one of its tasks ready).
#[pyfunction]
fn loop_others(base: u32) -> bool {
    control::loop_others(ActorId(base))
}

/// The actor the calling thread acts as (its task, else `thread`'s own
/// actor), if it is one of the run's.
#[pyfunction]
fn acting_actor(thread: &Bound<'_, PyAny>) -> Option<u32> {
    tasks::acting_actor(thread).map(|a| a.0)
}

/// The step of task `actor` begins on the loop of actor `base`'s thread,
/// resuming at `file:line` in `function` (its `TaskSwitch`).
#[pyfunction]
fn task_begin(
    py: Python<'_>,
    base: u32,
    actor: u32,
    file: &str,
    line: u32,
    function: &str,
) -> PyResult<()> {
    let loc = loc_of(file, line, function, 0);
    let on = u64::from(base) + 1;
    if tasks::task_event(py, ActorId(actor), EventKind::TaskSwitch, loc, actor, on) {
        Ok(())
    } else {
        Err(run_aborted())
    }
}

/// The step of task `actor` ends: it suspends, waiting at `file:line`
/// (a `Yield` with [`racetrace_formats::YIELD_SUSPEND`]).
#[pyfunction]
fn task_suspend(py: Python<'_>, actor: u32, file: &str, line: u32, function: &str) -> PyResult<()> {
    let loc = loc_of(file, line, function, 0);
    let aux = racetrace_formats::YIELD_SUSPEND;
    if tasks::task_event(py, ActorId(actor), EventKind::Yield, loc, actor, aux) {
        Ok(())
    } else {
        Err(run_aborted())
    }
}

/// Task `actor` finished in the step in progress (its `ActorExit`).
#[pyfunction]
fn task_exit(py: Python<'_>, actor: u32, file: &str, line: u32, function: &str) -> PyResult<()> {
    let loc = loc_of(file, line, function, 0);
    let ok = tasks::task_event(py, ActorId(actor), EventKind::ActorExit, loc, actor, 0);
    control::task_exited(ActorId(actor));
    if ok {
        Ok(())
    } else {
        Err(run_aborted())
    }
}

/// The loop of actor `base`'s thread returns; the thread is `base` again.
/// True when a thread could have gone inside the last task step.
#[pyfunction]
#[pyo3(signature = (base, close=true))]
fn task_leave(base: u32, close: bool) -> bool {
    set_task(None);
    control::task_leave(ActorId(base), close)
}

/// The loop made by actor `old`'s thread is run by actor `new`'s from now
/// on (its tasks with it).
#[pyfunction]
fn task_rebase(old: u32, new: u32) {
    control::task_rebase(ActorId(old), ActorId(new));
}

/// The loop of actor `base`'s thread is closed: its pending tasks are
/// dropped.
#[pyfunction]
fn task_close(base: u32) {
    control::task_close(ActorId(base));
}

/// `actor` (the loop's thread, after its loop returned) waits for task
/// `task`, which has finished (its `TaskAwait`, at `file:line`).
#[pyfunction]
fn task_await(
    py: Python<'_>,
    actor: u32,
    task: u32,
    file: &str,
    line: u32,
    function: &str,
) -> PyResult<()> {
    let loc = loc_of(file, line, function, 0);
    if tasks::task_event(py, ActorId(actor), EventKind::TaskAwait, loc, task, 0) {
        Ok(())
    } else {
        Err(run_aborted())
    }
}

/// Every task of a loop waits and nothing is pending: the run stops with a
/// deadlock described by `what`.
#[pyfunction]
fn task_deadlock(what: String) {
    set_task(None);
    control::task_deadlock(what);
}

/// Recording: a task named `name` is created at `file:line` on `thread`;
/// its actor id (`None` when the thread is not recorded).
#[pyfunction]
fn record_task_create(
    thread: &Bound<'_, PyAny>,
    name: &str,
    file: &str,
    line: u32,
    function: &str,
) -> Option<u32> {
    let loc = loc_of(file, line, function, 0);
    tasks::record_task_create(thread, name, loc).map(|a| a.0)
}

/// Recording: a step of task `actor` begins on `thread`, resuming at
/// `file:line`.
#[pyfunction]
fn record_task_begin(thread: &Bound<'_, PyAny>, actor: u32, file: &str, line: u32, function: &str) {
    tasks::record_task_begin(thread, ActorId(actor), loc_of(file, line, function, 0));
}

/// Recording: the step of task `actor` ends (and the task, if `done`).
#[pyfunction]
fn record_task_end(actor: u32, done: bool, file: &str, line: u32, function: &str) {
    tasks::record_task_end(ActorId(actor), done, loc_of(file, line, function, 0));
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("TASK_AFTER_ALL", control::TASK_AFTER_ALL)?;
    m.add_function(wrap_pyfunction!(task_create, m)?)?;
    m.add_function(wrap_pyfunction!(task_ready, m)?)?;
    m.add_function(wrap_pyfunction!(task_hold, m)?)?;
    m.add_function(wrap_pyfunction!(task_now, m)?)?;
    m.add_function(wrap_pyfunction!(task_switch, m)?)?;
    m.add_function(wrap_pyfunction!(loop_others, m)?)?;
    m.add_function(wrap_pyfunction!(acting_actor, m)?)?;
    m.add_function(wrap_pyfunction!(task_begin, m)?)?;
    m.add_function(wrap_pyfunction!(task_exit, m)?)?;
    m.add_function(wrap_pyfunction!(task_suspend, m)?)?;
    m.add_function(wrap_pyfunction!(task_leave, m)?)?;
    m.add_function(wrap_pyfunction!(task_close, m)?)?;
    m.add_function(wrap_pyfunction!(task_rebase, m)?)?;
    m.add_function(wrap_pyfunction!(task_await, m)?)?;
    m.add_function(wrap_pyfunction!(task_deadlock, m)?)?;
    m.add_function(wrap_pyfunction!(record_task_create, m)?)?;
    m.add_function(wrap_pyfunction!(record_task_begin, m)?)?;
    m.add_function(wrap_pyfunction!(record_task_end, m)?)?;
    Ok(())
}
