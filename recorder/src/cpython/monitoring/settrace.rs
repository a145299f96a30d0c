//! `sys.settrace` under the `sys.monitoring` backend: the recorder is a
//! monitoring tool and never occupies a thread's trace slot, so the
//! program's trace functions are its own and nothing needs to be kept
//! beside the recorder (the 3.11 backend's `chain.rs`). These are the
//! contract's functions for that, each doing what the interpreter does.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use super::hook::{uninstall, SavedTrace};

/// The interpreter's own `sys.settrace` (racetrace puts `settrace` of
/// `racetrace._native` in its place while it records: see `real_settrace`).
static REAL_SETTRACE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The trace slot is not ours; what is learnt is the interpreter's
/// `sys.settrace`, before anything replaces it.
pub fn learn_trampoline(py: Python<'_>) -> PyResult<()> {
    REAL_SETTRACE.get_or_try_init(py, || {
        Ok::<_, PyErr>(py.import("sys")?.getattr("settrace")?.unbind())
    })?;
    Ok(())
}

/// Never handled here: the interpreter's own `sys.settrace` does it.
pub fn program_settrace(_py: Python<'_>, _func: &Bound<'_, PyAny>) -> PyResult<bool> {
    Ok(false)
}

/// Never handled here: the interpreter's own `sys.gettrace` answers.
pub fn program_gettrace(_py: Python<'_>) -> Option<Option<Bound<'_, PyAny>>> {
    None
}

/// The interpreter's `sys.settrace(func)`, then `sys.monitoring.restart_events()`.
///
/// CPython 3.12 and 3.13 drop the INSTRUCTION events another tool set on
/// the code objects that are running when legacy tracing is turned on or
/// off inside them (a function of the program that calls `sys.settrace`,
/// and its callers). The recorder's events there stopped: an exploration of
/// two threads that each set a tracer, then lost an update, saw one class
/// and no race, and a controlled run whose threads did so could hang in a
/// `join` it no longer saw return. `restart_events` gives every tool its
/// events back (and re-enables what the tools had disabled, which they
/// disable again at their next event there).
pub fn real_settrace(py: Python<'_>, func: &Bound<'_, PyAny>) -> PyResult<()> {
    let set = match REAL_SETTRACE.get(py) {
        Some(set) => set.bind(py).clone(),
        None => py.import("sys")?.getattr("settrace")?,
    };
    let done = set.call1((func,)).map(drop);
    py.import("sys")?
        .getattr("monitoring")?
        .call_method0("restart_events")?;
    done
}

pub fn real_gettrace(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    py.import("sys")?.call_method0("gettrace")
}

/// A Python trace function the thread had goes on running by itself.
pub fn adopt_python_tracer(_py: Python<'_>, _saved: &SavedTrace) -> PyResult<()> {
    Ok(())
}

/// Removes the recorder's tracer from the current thread at the end of a
/// recording; the thread's trace function was never touched.
pub fn hand_back(_py: Python<'_>, _saved: Option<SavedTrace>) {
    uninstall();
}
