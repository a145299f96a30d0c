//! Object identity without keeping objects alive: an object that supports
//! weak references is watched through one, and forgotten by the session when
//! it dies (so that a new object at the same address gets a new id). The
//! builtin containers that cannot be weakly referenced (dict, list, set,
//! bytearray, cells) are watched through their deallocator instead
//! (`cpython::watch_death`); only objects of other types without weak
//! reference support are kept alive until the recording ends.
//!
//! A weak reference is a Python object: it is made before the session is
//! taken, because making it may start a collection that runs finalizers.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyWeakrefReference;

use crate::session;

/// The weakref callback: the referent is being destroyed.
#[pyfunction]
fn object_died(weakref: Bound<'_, PyAny>) {
    session::object_died(weakref.as_ptr() as usize);
}

static CALLBACK: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Prepares the callback (when recording starts, outside any hook).
pub fn init(py: Python<'_>) -> PyResult<()> {
    CALLBACK.get_or_try_init(py, || {
        Ok::<_, PyErr>(wrap_pyfunction!(object_died, py)?.into_any().unbind())
    })?;
    Ok(())
}

/// A weak reference to `obj` that reports its death, or `None` if `obj`
/// does not support weak references (it is then kept alive instead).
pub fn watch<'py>(obj: &Bound<'py, PyAny>) -> Option<Bound<'py, PyAny>> {
    if !crate::cpython::supports_weakrefs(obj) {
        return None;
    }
    let py = obj.py();
    let callback = CALLBACK.get(py)?;
    PyWeakrefReference::new_with(obj, callback.bind(py))
        .ok()
        .map(|w| w.into_any())
}
