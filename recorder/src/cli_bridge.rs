//! The `racetrace` command line, callable from Python.
//!
//! The console script `racetrace` (and `python -m racetrace`) hands its
//! arguments to [`run_cli`], which runs the same CLI as the cargo-built
//! binary. The GIL is released meanwhile: the CLI never touches Python.

use pyo3::prelude::*;

/// Runs `racetrace ARGV...` and returns its exit code (0 nothing found,
/// 1 findings, 2 bad usage or bad input).
#[pyfunction]
pub fn run_cli(py: Python<'_>, argv: Vec<String>) -> i32 {
    let args: Vec<String> = std::iter::once("racetrace".to_string())
        .chain(argv)
        .collect();
    py.detach(move || racetrace_analyzer::cli::run(args))
}

/// Adds the CLI entry point to the `racetrace._native` module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run_cli, m)?)
}
