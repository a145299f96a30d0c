//! `sys.settrace` under the `sys.monitoring` backend: the recorder is a
//! monitoring tool and never occupies a thread's trace slot, so the
//! program's trace functions are its own and nothing needs to be kept
//! beside the recorder (the 3.11 backend's `chain.rs`). These are the
//! contract's functions for that, each doing what the interpreter does.

use pyo3::prelude::*;

use super::hook::{uninstall, SavedTrace};

/// Nothing to learn: the trace slot is not ours.
pub fn learn_trampoline(_py: Python<'_>) -> PyResult<()> {
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

pub fn real_settrace(py: Python<'_>, func: &Bound<'_, PyAny>) -> PyResult<()> {
    py.import("sys")?
        .call_method1("settrace", (func,))
        .map(drop)
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
