//! What the worker processes of a parallel exploration need from the
//! extension: the schedule journal that tells which schedule crashed a
//! worker, and PCT's count of shared-state steps.

use std::path::Path;

use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;

use crate::strategy::{journal, pct};

/// Opens this process's schedule journal at `path` (room for `capacity`
/// steps): every controlled run from now on writes each step to it.
#[pyfunction]
fn journal_open(path: &str, capacity: usize) -> PyResult<()> {
    journal::open(Path::new(path), capacity)
        .map_err(|e| PyOSError::new_err(format!("{path}: cannot make the schedule journal: {e}")))
}

/// Reads a journal another process wrote: (execution number, schedule
/// text, truncated), or None if there is none.
#[pyfunction]
fn journal_read(path: &str) -> Option<(u64, String, bool)> {
    racetrace_formats::journal::read_journal(Path::new(path))
        .map(|e| (e.execution, e.schedule.to_text(), e.truncated))
}

/// Steps touching shared state in the last PCT run of this process.
#[pyfunction]
fn pct_shared_steps() -> u64 {
    pct::last_shared_steps()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(journal_open, m)?)?;
    m.add_function(wrap_pyfunction!(journal_read, m)?)?;
    m.add_function(wrap_pyfunction!(pct_shared_steps, m)?)?;
    Ok(())
}
