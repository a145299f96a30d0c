//! The functions `racetrace._native` exposes for controlled runs
//! (`racetrace.control` is their only caller): start a run with a
//! strategy, wait for it, finish it; read a trace as a schedule to replay.

use std::path::Path;
use std::time::Duration;

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use racetrace_formats::{ActorId, Mode, Outcome, ReplaySource, Schedule, TraceFile};

use super::pool;
use super::setup::{intern_unknown, make_header, static_tables};
use crate::control::{self, Config, Status};
use crate::naming;
use crate::session::{self, StartOptions};

/// A trace error, named by its file once.
fn trace_error(path: &str, e: impl std::fmt::Display) -> PyErr {
    let msg = e.to_string();
    if msg.starts_with(path) {
        PyValueError::new_err(msg)
    } else {
        PyValueError::new_err(format!("{path}: {msg}"))
    }
}

/// A trace read as something to replay (`ReplaySource`), its errors as
/// `ValueError`s.
fn read_trace(path: &str) -> PyResult<(TraceFile, ReplaySource)> {
    ReplaySource::open(Path::new(path)).map_err(|e| trace_error(path, e))
}

/// A trace is replayed by the interpreter version that recorded it: what
/// a run does between its events (bytecode, the standard library) differs
/// between versions, so another version would not follow it. A trace that
/// does not say (a synthetic one) is accepted.
fn check_same_interpreter(py: Python<'_>, path: &str, trace: &TraceFile) -> PyResult<()> {
    let recorded = trace.header().python_version.as_str();
    let mut parts = recorded
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u8>());
    let (Some(Ok(major)), Some(Ok(minor))) = (parts.next(), parts.next()) else {
        return Ok(());
    };
    let ours = py.version_info();
    if (major, minor) != (ours.major, ours.minor) {
        return Err(PyValueError::new_err(format!(
            "{path}: recorded by Python {major}.{minor}, cannot be replayed by Python {}.{}: \
             replay it with Python {major}.{minor} (the trace can still be analyzed anywhere)",
            ours.major, ours.minor
        )));
    }
    Ok(())
}

/// A schedule no program can follow, as a `ValueError`.
fn check_schedule(s: &Schedule) -> PyResult<()> {
    s.check_feasible()
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Parses a schedule text (or reads a trace) into what `control_start`
/// replays; raises `ValueError` with a clear message on bad input. Returns
/// (schedule text, steps, program of the trace or None).
#[pyfunction]
fn replay_source(py: Python<'_>, source: &str) -> PyResult<(String, usize, Option<String>)> {
    let text = source.trim();
    if text.starts_with(racetrace_formats::schedule::TEXT_PREFIX) {
        let s = Schedule::parse(text).map_err(|e| PyValueError::new_err(e.to_string()))?;
        check_schedule(&s)?;
        return Ok((s.to_text(), s.len(), None));
    }
    let (trace, src) = read_trace(source)?;
    check_same_interpreter(py, source, &trace)?;
    let s = Schedule::new(src.steps);
    Ok((s.to_text(), s.len(), Some(trace.header().program.clone())))
}

/// `racetrace.config.RunConfig`, field by field.
#[derive(FromPyObject)]
struct RunConfig<'py> {
    path: String,
    program: String,
    include: Vec<String>,
    exclude: Vec<String>,
    recognized: Bound<'py, PyAny>,
    main_thread: Bound<'py, PyAny>,
    schedule: Option<String>,
    trace: Option<String>,
    seed: Option<u64>,
    dpor: Option<PyRef<'py, super::dpor::DporExplorer>>,
    markers: Option<PyRef<'py, super::markers::MarkerPlan>>,
    choices: Option<Vec<u32>>,
    pct: Option<(u64, u32, u64)>,
    deadlock_timeout: f64,
    run_timeout: Option<f64>,
    max_steps: u64,
    start_time: f64,
    explore_timeouts: bool,
}

/// Starts a controlled run. The calling thread is the driver (not an
/// actor); `main_thread` (a `threading.Thread` not started yet) becomes
/// actor 0. The strategy: replay `trace` (checking every step against its
/// events) or `schedule`, then DPOR, PCT, random choices with `seed`, a
/// marker schedule (`markers`, whose marked lines are scheduling points in
/// a replay too), a sequence of `choices` (`strategy::choices`), or the
/// default policy.
#[pyfunction]
fn control_start(py: Python<'_>, config: RunConfig<'_>) -> PyResult<()> {
    let RunConfig {
        path,
        program,
        include,
        exclude,
        recognized,
        main_thread,
        schedule,
        trace,
        seed,
        dpor,
        markers,
        choices,
        pct,
        deadlock_timeout,
        run_timeout,
        max_steps,
        start_time,
        explore_timeouts,
    } = config;
    if session::generation() != 0 {
        return Err(PyRuntimeError::new_err(
            "racetrace is already recording or controlling a run; runs cannot be nested",
        ));
    }
    if let Some(t) = run_timeout.filter(|t| !(*t > 0.0 && t.is_finite())) {
        return Err(PyValueError::new_err(format!(
            "timeout_per_run must be a positive number of seconds or None, not {t}"
        )));
    }
    if !(deadlock_timeout > 0.0 && deadlock_timeout.is_finite()) {
        return Err(PyValueError::new_err(format!(
            "deadlock_timeout must be a positive number of seconds, not {deadlock_timeout}"
        )));
    }
    let (steps, expected) = match (&trace, &schedule) {
        (Some(t), _) => {
            let (trace, src) = read_trace(t)?;
            check_same_interpreter(py, t, &trace)?;
            (src.steps, src.expected)
        }
        (None, Some(text)) => {
            let s = Schedule::parse(text).map_err(|e| PyValueError::new_err(e.to_string()))?;
            check_schedule(&s)?;
            (s.steps, Vec::new())
        }
        (None, None) => (Vec::new(), Vec::new()),
    };
    // PCT: (seed, depth, estimated steps of a run).
    let strategy: Box<dyn control::Scheduler> = match (seed, dpor) {
        (_, Some(d)) => Box::new(d.dpor.clone()),
        (None, None) if choices.is_some() => Box::new(crate::strategy::choices::Choices::new(
            choices.clone().unwrap_or_default(),
        )),
        // A marker schedule, unless a run of one is replayed step by step.
        (None, None) if markers.is_some() && schedule.is_none() && trace.is_none() => Box::new(
            markers
                .as_ref()
                .map(|m| m.markers.clone())
                .unwrap_or_else(|| crate::strategy::markers::Markers::new(Vec::new(), &[])),
        ),
        (_, None) if pct.is_some() => {
            let (s, depth, k) = pct.unwrap_or_default();
            Box::new(crate::strategy::pct::Pct::new(
                s,
                depth,
                k,
                explore_timeouts,
            ))
        }
        (Some(seed), None) => Box::new(crate::strategy::Random::new(seed, steps, explore_timeouts)),
        (None, None) => Box::new(crate::strategy::Replay::new(steps)),
    };
    let strategy = crate::strategy::journal::wrap(strategy);
    naming::init(py)?;
    crate::identity::init(py)?;
    let tables = static_tables(&recognized)?;
    let mode = if seed.is_some() || pct.is_some() {
        Mode::Explore
    } else {
        Mode::Replay
    };
    let mut header = make_header(py, mode, program)?;
    header.seed = seed.or(pct.map(|p| p.0)).unwrap_or(0);
    session::start(StartOptions {
        path,
        header,
        include,
        exclude,
        tables,
        controlled: true,
    })
    .map_err(PyOSError::new_err)?;
    if let Some(m) = &markers {
        crate::marks::set(session::generation(), m.lines.clone());
    }
    intern_unknown();
    let name: String = main_thread
        .getattr("name")
        .and_then(|n| n.extract())
        .unwrap_or_default();
    let weakref = crate::identity::watch(&main_thread);
    session::with(|s| {
        let a = s.new_actor(&name, None, None);
        s.bind_thread(&main_thread, a, weakref);
    });
    let cfg = Config {
        strategy,
        expected,
        deadlock_timeout: Duration::from_secs_f64(deadlock_timeout),
        run_timeout: run_timeout.map(Duration::from_secs_f64),
        max_steps,
        start_time,
    };
    if let Err(e) = control::begin(cfg, name) {
        let _ = session::finish(Outcome::Aborted { reason: e.clone() });
        return Err(PyRuntimeError::new_err(e));
    }
    // The actors' threads are hooked as they start (3.12+: the monitoring
    // tool must be there before the first one does).
    if let Err(e) = crate::cpython::prepare::<crate::hook::ThreadCtx>(py) {
        let _ = session::finish(Outcome::Aborted {
            reason: e.to_string(),
        });
        return Err(e);
    }
    Ok(())
}

/// Waits (GIL released) until the run ends. Ctrl-C stops the run.
/// `first`: the parked pooled thread of actor 0, handed its job once the
/// GIL is released (see `py::pool`).
#[pyfunction]
#[pyo3(signature = (first=None))]
fn control_wait(py: Python<'_>, first: Option<Py<pool::Parker>>) -> PyResult<()> {
    let mut pending = first.is_some();
    loop {
        let over = py.detach(|| {
            // The first actor's thread starts now, with the GIL free.
            if let (true, Some(p)) = (pending, first.as_ref()) {
                pending = false;
                pool::start(p.get());
            }
            let over = control::wait_end(Duration::from_millis(50));
            if over {
                pool::settle();
            }
            over
        });
        if over {
            return Ok(());
        }
        if let Err(e) = py.check_signals() {
            control::interrupt("interrupted (KeyboardInterrupt)");
            return Err(e);
        }
    }
}

/// Ends the run and closes its trace. `exception` is (type name, message,
/// traceback) of an exception that escaped actor 0. Returns a dict: status
/// (`ok`, `exception`, `deadlock`, `divergence`, `timeout`, `step_limit`,
/// `interrupted`), message, schedule (text), steps, preemptions, elapsed,
/// events, trace_error, limits (what the model could not see, in words),
/// stuck_thread (the ident of the thread a `timeout` found stuck, or None),
/// timeouts_offered (steps at which a timed wait was among the candidates).
#[pyfunction]
#[pyo3(signature = (exception=None))]
fn control_finish<'py>(
    py: Python<'py>,
    exception: Option<(String, String, String)>,
) -> PyResult<Bound<'py, PyDict>> {
    let Some(summary) = control::end() else {
        return Err(PyRuntimeError::new_err("no controlled run in progress"));
    };
    let (status, message) = match &summary.status {
        Status::Running | Status::Finished => ("ok", String::new()),
        Status::Deadlock(d) => ("deadlock", d.clone()),
        Status::Divergence(d) => ("divergence", d.clone()),
        Status::Timeout(d) => ("timeout", d.clone()),
        Status::StepLimit(d) => ("step_limit", d.clone()),
        Status::Interrupted(d) => ("interrupted", d.clone()),
        Status::Abandoned => ("abandoned", String::new()),
    };
    let outcome = session::with(|s| match &summary.status {
        Status::Deadlock(d) => Outcome::Deadlock {
            description: d.clone(),
        },
        Status::Running | Status::Finished => match exception.clone() {
            Some((type_name, message, traceback)) => Outcome::Exception {
                actor: ActorId(0),
                type_name,
                message,
                traceback,
            },
            None => s.worker_failure.take().unwrap_or(Outcome::Ok),
        },
        _ => Outcome::Aborted {
            reason: message.clone(),
        },
    })
    .unwrap_or(Outcome::Ok);
    let status = match (&outcome, status) {
        (Outcome::Exception { .. }, "ok") => "exception",
        (_, s) => s,
    };
    let worker_exc = match &outcome {
        Outcome::Exception {
            actor,
            type_name,
            message,
            ..
        } if actor.0 != 0 => Some((actor.0, type_name.clone(), message.clone())),
        _ => None,
    };
    let events = session::with(|s| s.events_written()).unwrap_or(0);
    let (alive, error) = session::finish(outcome).map_err(PyRuntimeError::new_err)?;
    drop(alive);
    let d = PyDict::new(py);
    d.set_item("status", status)?;
    d.set_item("message", message)?;
    d.set_item(
        "schedule",
        Schedule::new(summary.executed.clone()).to_text(),
    )?;
    d.set_item("steps", summary.steps)?;
    d.set_item(
        "preemptions",
        summary.preemptive.iter().filter(|&&p| p).count(),
    )?;
    // Per step: switched away from an actor that could still run (what
    // schedule shrinking counts as a preemption).
    d.set_item("preemptive", summary.preemptive.clone())?;
    d.set_item("elapsed", summary.elapsed.as_secs_f64())?;
    d.set_item("events", events)?;
    d.set_item("trace_error", error)?;
    d.set_item("worker_exception", worker_exc)?;
    d.set_item("limits", summary.limits.clone())?;
    d.set_item("stuck_thread", summary.stuck_thread)?;
    d.set_item("timeouts_offered", summary.timeouts_offered)?;
    Ok(d)
}

/// The virtual clock of the run (what `threading`'s and `queue`'s
/// `monotonic` return under control), or None outside a run.
#[pyfunction]
fn control_time() -> Option<f64> {
    control::virtual_time()
}

/// Every step of a trace, for replay scripts: (actor id, actor name, event
/// kind, file, line, function, what it touched). Plus the header's program
/// and the outcome as (kind, text).
#[allow(clippy::type_complexity)]
#[pyfunction]
fn trace_steps(
    path: &str,
) -> PyResult<(
    Vec<(u32, String, String, String, u32, String, String)>,
    String,
    (String, String),
)> {
    let (trace, src) = read_trace(path)?;
    let tables = trace.tables();
    let steps = src
        .steps
        .iter()
        .zip(src.expected)
        .map(|(a, e)| {
            (
                a.0,
                tables.actor_display(*a),
                e.kind.name().to_string(),
                e.file,
                e.line,
                e.function,
                e.what,
            )
        })
        .collect();
    let outcome = match trace.outcome() {
        None => ("truncated".to_string(), String::new()),
        Some(Outcome::Ok) => ("ok".into(), String::new()),
        Some(Outcome::Exception {
            actor,
            type_name,
            message,
            ..
        }) => (
            "exception".into(),
            format!(
                "{type_name}: {message} (in {})",
                tables.actor_display(*actor)
            ),
        ),
        Some(Outcome::Deadlock { description }) => ("deadlock".into(), description.clone()),
        Some(Outcome::Aborted { reason }) => ("aborted".into(), reason.clone()),
    };
    Ok((steps, trace.header().program.clone(), outcome))
}

/// The source files a trace describes (format version 3): (file, size in
/// bytes, CRC-32 of the contents) as they were when recorded. A replay
/// compares them with the files as they are now.
#[pyfunction]
fn trace_sources(path: &str) -> PyResult<Vec<(String, u64, u32)>> {
    let trace = TraceFile::open(Path::new(path)).map_err(|e| trace_error(path, e))?;
    let tables = trace.tables();
    Ok(trace
        .sources()
        .iter()
        .map(|s| (tables.str(s.file).to_string(), s.size, s.digest))
        .collect())
}

/// Forgets the `threading.local` data of the calling thread, as the end
/// of the thread would: a pooled thread that ran one actor must start the
/// next one with none. Returns how many objects had some (at least 1 if
/// any had, where the interpreter does not say how many).
#[pyfunction]
fn clear_thread_locals(py: Python<'_>) -> PyResult<usize> {
    crate::cpython::forget_thread_locals(py)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(clear_thread_locals, m)?)?;
    m.add_function(wrap_pyfunction!(replay_source, m)?)?;
    m.add_function(wrap_pyfunction!(control_start, m)?)?;
    m.add_function(wrap_pyfunction!(control_wait, m)?)?;
    m.add_function(wrap_pyfunction!(control_finish, m)?)?;
    m.add_function(wrap_pyfunction!(control_time, m)?)?;
    m.add_function(wrap_pyfunction!(trace_steps, m)?)?;
    m.add_function(wrap_pyfunction!(trace_sources, m)?)?;
    m.add(
        "DEFAULT_DEADLOCK_TIMEOUT",
        control::DEFAULT_DEADLOCK_TIMEOUT,
    )?;
    Ok(())
}
