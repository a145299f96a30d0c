//! `racetrace._native`: the native recorder (a C-level trace function for
//! CPython 3.11 that writes visible operations into a trace file) and the
//! bridge to the Rust CLI.

use pyo3::prelude::*;

mod calls;
mod codeinfo;
mod control;
mod cpython;
mod fasthash;
mod filter;
mod hook;
mod identity;
mod marks;
mod naming;
mod py;
mod reach;
mod session;
mod strategy;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    py::register(m)
}
