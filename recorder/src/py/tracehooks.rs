//! `sys.settrace` and `sys.gettrace` as the program sees them while
//! racetrace traces its threads (installed in their place by
//! `racetrace.tracehooks`). Native functions, so that replacing the
//! builtins adds no Python frame a program's tracer could see.

use std::cell::RefCell;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::cpython;

thread_local! {
    /// The tracers `untraced` took out of this thread's slot, innermost
    /// last (`traced` puts the innermost back for a while).
    static SUSPENDED: RefCell<Vec<cpython::SavedTrace>> = const { RefCell::new(Vec::new()) };
}

/// `sys.settrace(func)`: kept beside racetrace's tracer in a traced thread
/// (it gets its events as without racetrace), the interpreter's own
/// `sys.settrace` elsewhere.
#[pyfunction]
fn settrace(py: Python<'_>, func: Bound<'_, PyAny>) -> PyResult<()> {
    if cpython::program_settrace(py, &func)? {
        return Ok(());
    }
    cpython::real_settrace(py, &func)
}

/// `sys.gettrace()`: what the program installed (or `None`) in a traced
/// thread, the interpreter's own answer elsewhere.
#[pyfunction]
fn gettrace(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    match cpython::program_gettrace(py) {
        Some(Some(func)) => Ok(func),
        Some(None) => Ok(py.None().into_bound(py)),
        None => cpython::real_gettrace(py),
    }
}

/// `fn(*args, **kwargs)` without racetrace's tracer in the calling thread: for the
/// controlled event loop's own work between the steps it runs
/// (`racetrace.aio`), code the recorder ignores but which, on 3.11, would
/// still pay for every call, line and return reported to it. What must be
/// seen inside (a step, a callback, a mark) runs through `traced`. Does
/// only the call where the tracer takes no trace slot (3.12+).
#[pyfunction]
#[pyo3(signature = (func, *args, **kwargs))]
fn untraced<'py>(
    py: Python<'py>,
    func: Bound<'py, PyAny>,
    args: Bound<'py, PyTuple>,
    kwargs: Option<Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let Some(saved) = cpython::suspend_trace(py) else {
        return func.call(args, kwargs.as_ref());
    };
    SUSPENDED.with(|s| s.borrow_mut().push(saved));
    let out = func.call(args, kwargs.as_ref());
    if let Some(saved) = SUSPENDED.with(|s| s.borrow_mut().pop()) {
        cpython::resume_trace(py, &saved);
    }
    out
}

/// `fn(*args)` with the tracer the innermost `untraced` took out back in
/// place (just the call when nothing is suspended).
#[pyfunction]
#[pyo3(signature = (func, *args))]
fn traced<'py>(
    py: Python<'py>,
    func: Bound<'py, PyAny>,
    args: Bound<'py, PyTuple>,
) -> PyResult<Bound<'py, PyAny>> {
    // Out of the list while it is back in place: a `traced` inside
    // `func` (with no `untraced` between) finds nothing suspended.
    let Some(saved) = SUSPENDED.with(|s| s.borrow_mut().pop()) else {
        return func.call1(args);
    };
    cpython::resume_trace(py, &saved);
    let out = func.call1(args);
    cpython::suspend_again(&saved);
    SUSPENDED.with(|s| s.borrow_mut().push(saved));
    out
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(untraced, m)?)?;
    m.add_function(wrap_pyfunction!(traced, m)?)?;
    cpython::learn_trampoline(m.py())?;
    m.add_function(wrap_pyfunction!(settrace, m)?)?;
    m.add_function(wrap_pyfunction!(gettrace, m)?)?;
    Ok(())
}
