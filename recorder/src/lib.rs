//! `racetrace._native`: the native recorder (a C-level trace function for
//! CPython 3.11 that writes visible operations into a trace file) and the
//! bridge to the Rust CLI.

use pyo3::prelude::*;

mod api;
mod api_control;
mod api_dpor;
mod api_shrink;
mod calls;
mod cli_bridge;
mod codeinfo;
mod control;
mod cpython;
mod fasthash;
mod filter;
mod hook;
mod identity;
mod naming;
mod session;
mod setup;
mod strategy;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    cli_bridge::register(m)?;
    api::register(m)?;
    api_control::register(m)?;
    api_dpor::register(m)?;
    api_shrink::register(m)?;
    Ok(())
}
