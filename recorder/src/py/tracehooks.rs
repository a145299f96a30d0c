//! `sys.settrace` and `sys.gettrace` as the program sees them while
//! racetrace traces its threads (installed in their place by
//! `racetrace.tracehooks`). Native functions, so that replacing the
//! builtins adds no Python frame a program's tracer could see.

use pyo3::prelude::*;

use crate::cpython;

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

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    cpython::learn_trampoline(m.py())?;
    m.add_function(wrap_pyfunction!(settrace, m)?)?;
    m.add_function(wrap_pyfunction!(gettrace, m)?)?;
    Ok(())
}
