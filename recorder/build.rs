//! Selects the interpreter backend at build time: pyo3's build
//! configuration knows which CPython the extension is compiled for, and
//! `use_pyo3_cfgs` passes it on as `Py_3_11`, `Py_3_12`, ... cfgs (each set
//! for that version and every later one), which `src/cpython/mod.rs` matches.
fn main() {
    pyo3_build_config::use_pyo3_cfgs();
}
