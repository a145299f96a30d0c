//! racetrace trace and schedule file formats.
//!
//! No Python and no analysis here: only what a trace is (`model`) and how it
//! is written and read.

pub mod model;

pub use model::*;
