//! The functions `racetrace._native` exposes to the Python package
//! (`racetrace.recording` is their only caller).

use std::sync::{Mutex, MutexGuard};

use pyo3::exceptions::{PyOSError, PyRuntimeError};
use pyo3::prelude::*;
use racetrace_formats::{ActorId, CodeLoc, EventKind, LocId, Mode, Outcome};

use super::setup::{intern_unknown, make_header, static_tables};
use crate::cpython;
use crate::cpython::FrameApi as _;
use crate::hook::{self, ThreadCtx};
use crate::naming;
use crate::session::{self, StartOptions};

/// The trace function the recording thread had before recording (a
/// debugger's, a coverage tool's) and that thread's ident: put back at stop.
fn saved_trace() -> MutexGuard<'static, Option<(u64, cpython::SavedTrace)>> {
    static SAVED: Mutex<Option<(u64, cpython::SavedTrace)>> = Mutex::new(None);
    SAVED.lock().unwrap_or_else(|e| e.into_inner())
}

fn current_thread<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
    py.import("threading")?.call_method0("current_thread")
}

fn thread_name(thread: &Bound<'_, PyAny>) -> String {
    thread
        .getattr("name")
        .and_then(|n| n.extract())
        .unwrap_or_default()
}

/// `racetrace.config.RecordConfig`, field by field.
#[derive(FromPyObject)]
struct RecordConfig<'py> {
    path: String,
    program: String,
    include: Vec<String>,
    exclude: Vec<String>,
    recognized: Bound<'py, PyAny>,
    running_threads: Vec<(u64, Bound<'py, PyAny>)>,
}

/// Starts recording into `path` in the calling thread (which becomes actor 0).
#[pyfunction]
fn start(py: Python<'_>, config: RecordConfig<'_>) -> PyResult<()> {
    let RecordConfig {
        path,
        program,
        include,
        exclude,
        recognized,
        running_threads,
    } = config;
    if session::generation() != 0 {
        let path = session::with(|s| s.path.clone()).unwrap_or_default();
        return Err(PyRuntimeError::new_err(format!(
            "racetrace is already recording (into {path}); recordings cannot be nested"
        )));
    }
    naming::init(py)?;
    crate::identity::init(py)?;
    let tables = static_tables(&recognized)?;
    let header = make_header(py, Mode::Record, program)?;
    let generation = session::start(StartOptions {
        path,
        header,
        include,
        exclude,
        tables,
        controlled: false,
    })
    .map_err(PyOSError::new_err)?;
    begin(py, generation, &running_threads).inspect_err(|_| {
        // Leave nothing half-started: close the trace and unhook.
        unhook_current_thread(py);
        let _ = session::finish(Outcome::Aborted {
            reason: "recording failed to start".into(),
        });
    })
}

/// Everything after the trace is open: the recording actor, its frames, the
/// trace function in this thread and in running threads.
fn begin(
    py: Python<'_>,
    generation: u64,
    running_threads: &[(u64, Bound<'_, PyAny>)],
) -> PyResult<()> {
    // Id 0 of the string and location tables: "unknown".
    intern_unknown();

    let thread = current_thread(py)?;
    let name = thread_name(&thread);
    let weakref = crate::identity::watch(&thread);
    let actor = session::with(|s| {
        let a = s.new_actor(&name, None, None);
        s.bind_thread(&thread, a, weakref);
        a
    })
    .unwrap_or(ActorId(0));

    // The hook first (3.12+: the monitoring tool, which the frames below
    // ask for events of).
    cpython::prepare::<ThreadCtx>(py)?;
    // Trace the frames already running in this thread (the `with` body).
    let mut start_loc = None;
    cpython::for_each_frame(|f| {
        if let Some(info) = hook::ensure_info(py, f) {
            f.set_trace_flags(false, info.traced || info.intercept);
            if info.role != crate::codeinfo::Role::None {
                f.watch_returns();
            }
            if info.traced && start_loc.is_none() {
                let line = f.current_line(py);
                start_loc = session::with(|s| {
                    s.loc(CodeLoc {
                        file: info.file,
                        line,
                        function: info.function,
                        offset: (f.instr_index() * 2) as u32,
                    })
                });
            }
        }
    });
    let start_loc = start_loc.unwrap_or(LocId(0));
    session::with(|s| {
        s.main_start_loc = start_loc;
        s.emit(actor, EventKind::ActorStart, start_loc, actor.0, 0);
    });
    // A debugger's or coverage tool's trace function comes back at stop.
    let saved = cpython::save_trace(py);
    let ident: u64 = py
        .import("threading")?
        .call_method0("get_ident")?
        .extract()?;
    cpython::install(py, ThreadCtx::new(actor, generation, start_loc))?;
    // A Python-level tracer (pdb, coverage's Python tracer) keeps running
    // beside the recorder.
    cpython::adopt_python_tracer(py, &saved)?;
    *saved_trace() = Some((ident, saved));
    hook_running_threads(py, generation, running_threads)?;
    Ok(())
}

/// A thread that was running when recording started, as `hook_running_threads`
/// prepares it before walking the interpreter's thread states.
struct RunningThread<'a, 'py> {
    ident: u64,
    thread: &'a Bound<'py, PyAny>,
    name: String,
    weakref: Option<Bound<'py, PyAny>>,
}

/// Threads that were already running when recording started get the trace
/// function too (as actors without a parent), from their next instruction.
fn hook_running_threads(
    py: Python<'_>,
    generation: u64,
    running: &[(u64, Bound<'_, PyAny>)],
) -> PyResult<()> {
    // Names and weak references first: both may run Python code, which
    // must not happen while thread states are being walked (`make_ctx`).
    let mut named: Vec<RunningThread<'_, '_>> = running
        .iter()
        .map(|(ident, thread)| RunningThread {
            ident: *ident,
            thread,
            name: thread_name(thread),
            weakref: crate::identity::watch(thread),
        })
        .collect();
    let mut started = Vec::new();
    cpython::install_in_other_threads(
        py,
        |tid| {
            let t = named.iter_mut().find(|n| n.ident == tid)?;
            let weakref = t.weakref.take();
            let actor = session::with(|s| {
                let a = s.new_actor(&t.name, None, None);
                s.bind_thread(t.thread, a, weakref);
                a
            })?;
            started.push(actor);
            Some(ThreadCtx::new(actor, generation, LocId(0)))
        },
        |f| {
            if let Some(info) = hook::ensure_info(py, f) {
                f.set_trace_flags(false, info.traced || info.intercept);
                if info.role != crate::codeinfo::Role::None {
                    f.watch_returns();
                }
            }
        },
    )?;
    session::with(|s| {
        for a in started {
            s.emit(a, EventKind::ActorStart, LocId(0), a.0, 0);
        }
    });
    Ok(())
}

/// Stops recording: writes the outcome and closes the trace. `exception` is
/// (type name, message, traceback text) of an exception that ended the
/// recorded code; `aborted` says why recording was cut short. Returns
/// (events written, error text or None).
#[pyfunction]
#[pyo3(signature = (exception=None, aborted=None))]
fn stop(
    py: Python<'_>,
    exception: Option<(String, String, String)>,
    aborted: Option<String>,
) -> PyResult<(u64, Option<String>)> {
    if session::generation() == 0 {
        return Err(PyRuntimeError::new_err("racetrace is not recording"));
    }
    let thread = current_thread(py)?;
    let outcome = session::with(|s| {
        let actor = s.thread_actor(&thread).unwrap_or(ActorId(0));
        let failed = exception.is_some();
        let loc = s.main_start_loc;
        s.emit(actor, EventKind::ActorExit, loc, actor.0, failed as u64);
        if let Some(reason) = aborted {
            return Outcome::Aborted { reason };
        }
        match exception {
            Some((type_name, message, traceback)) => Outcome::Exception {
                actor,
                type_name,
                message,
                traceback,
            },
            None => s.worker_failure.take().unwrap_or(Outcome::Ok),
        }
    })
    .unwrap_or(Outcome::Ok);
    // After the exit event: a tracer freed before it would mean the actor
    // went on unrecorded (see `ThreadCtx`'s `Drop`).
    unhook_current_thread(py);
    cpython::for_each_frame(|f| f.set_trace_flags(true, false));
    let events = session::with(|s| s.events_written()).unwrap_or(0);
    let (alive, error) = session::finish(outcome).map_err(PyRuntimeError::new_err)?;
    drop(alive);
    Ok((events, error))
}

/// Removes the recorder's trace function from this thread, putting back the
/// program's: the one it installed while recorded, else the one recording
/// replaced if this is the thread that started recording.
fn unhook_current_thread(py: Python<'_>) {
    let ident: Option<u64> = py
        .import("threading")
        .and_then(|t| t.call_method0("get_ident"))
        .and_then(|i| i.extract())
        .ok();
    let saved = {
        let mut slot = saved_trace();
        match slot.take() {
            Some((owner, saved)) if Some(owner) == ident => Some(saved),
            other => {
                *slot = other;
                None
            }
        }
    };
    cpython::hand_back(py, saved);
}

/// Called from the `threading.settrace` bootstrap as a new thread's first
/// Python call (on interpreters whose hook does not see new threads by
/// itself): hooks this thread.
#[pyfunction]
fn thread_started(py: Python<'_>, frame: Bound<'_, PyAny>) -> PyResult<()> {
    cpython::with_frame_object(&frame, |f| hook::start_thread(py, f)).unwrap_or(Ok(()))
}

/// Forgets the calling thread's tracer (a thread kept for reuse, between
/// the actors it runs: what the end of the thread would do).
#[pyfunction]
fn forget_thread() {
    cpython::uninstall();
}

/// An exception escaped `thread`'s run(): remembered as the outcome (unless
/// an earlier one was) and marks the actor's exit as failed.
#[pyfunction]
fn note_exception(thread: Bound<'_, PyAny>, type_name: String, message: String, traceback: String) {
    session::with(|s| {
        let Some(actor) = s.thread_actor(&thread) else {
            return;
        };
        s.mark_failed(actor);
        if s.worker_failure.is_none() {
            s.worker_failure = Some(Outcome::Exception {
                actor,
                type_name,
                message,
                traceback,
            });
        }
    });
}

/// Registered with `os.register_at_fork(after_in_child=...)`.
#[pyfunction]
fn abandon_after_fork(py: Python<'_>) {
    session::abandon_after_fork(py);
}

/// Marks the point of the recording in progress before its next event with
/// `label` (`racetrace record -m pytest` marks each test's start with
/// `test NODE_ID`). Returns false when nothing is being recorded.
#[pyfunction]
fn mark(label: &str) -> bool {
    session::with(|s| s.mark(label)).is_some()
}

#[pyfunction]
fn is_recording() -> bool {
    session::generation() != 0
}

/// The trace file being written, if recording.
#[pyfunction]
fn recording_path() -> Option<String> {
    session::with(|s| s.path.clone())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    cpython::check_layout(m.py())?;
    m.add(
        "RunAborted",
        m.py().get_type::<crate::control::RunAborted>(),
    )?;
    m.add_function(wrap_pyfunction!(start, m)?)?;
    m.add_function(wrap_pyfunction!(mark, m)?)?;
    m.add_function(wrap_pyfunction!(stop, m)?)?;
    m.add_function(wrap_pyfunction!(thread_started, m)?)?;
    m.add_function(wrap_pyfunction!(forget_thread, m)?)?;
    // Whether the Python layer hands new threads over (3.11) or the hook
    // finds them itself (3.12+).
    m.add("HOOKS_NEW_THREADS", cpython::HOOKS_NEW_THREADS)?;
    cpython::set_new_thread_handler(hook::new_thread_call);
    m.add_function(wrap_pyfunction!(note_exception, m)?)?;
    m.add_function(wrap_pyfunction!(is_recording, m)?)?;
    m.add_function(wrap_pyfunction!(abandon_after_fork, m)?)?;
    m.add_function(wrap_pyfunction!(recording_path, m)?)?;
    Ok(())
}
