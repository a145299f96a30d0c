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

/// Adds the CLI entry point to the `racetrace._native` module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run_cli, m)?)
}
