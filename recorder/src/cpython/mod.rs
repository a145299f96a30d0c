//! Interpreter-specific code. One module per supported CPython version; the
//! rest of the recorder only sees the safe functions they export.

pub mod py311;

pub use py311::*;
