//! The `racetrace` command line, callable from Python.
//!
//! The console script `racetrace` (and `python -m racetrace`) hands its
//! arguments to [`run_cli`], which runs the same CLI as the cargo-built
//! binary. The GIL is released meanwhile: the CLI never touches Python.

use pyo3::prelude::*;
use racetrace_analyzer::cli::ExternalCommand;

/// Runs `racetrace ARGV...` and returns its exit code (0 nothing found,
/// 1 findings, 2 bad usage or bad input). `python_commands` lists the
/// subcommands implemented in Python as `(name, one-line help)`, so that
/// `racetrace --help` shows them; the Python side dispatches them itself.
#[pyfunction]
#[pyo3(signature = (argv, python_commands = None))]
pub fn run_cli(
    py: Python<'_>,
    argv: Vec<String>,
    python_commands: Option<Vec<(String, String)>>,
) -> i32 {
    let args: Vec<String> = std::iter::once("racetrace".to_string())
        .chain(argv)
        .collect();
    let external: Vec<ExternalCommand> = python_commands
        .unwrap_or_default()
        .into_iter()
        .map(|(name, about)| ExternalCommand { name, about })
        .collect();
    py.detach(move || racetrace_analyzer::cli::run_with_external(args, &external))
}

/// `racetrace explain TRACE --json`, returned as a string instead of
/// printed (the pytest plugin's summary reads it). Raises `ValueError`
/// with the CLI's one-line message for a trace that cannot be read.
#[pyfunction]
pub fn explain_json(py: Python<'_>, path: String) -> PyResult<String> {
    py.detach(move || racetrace_analyzer::explain::explain_file_json(&path))
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.replace(['\r', '\n'], " ")))
}

/// Adds the CLI entry points to the `racetrace._native` module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run_cli, m)?)?;
    m.add_function(wrap_pyfunction!(explain_json, m)?)
}
