use pyo3::prelude::*;

mod cli_bridge;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    cli_bridge::register(m)?;
    Ok(())
}
