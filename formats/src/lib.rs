//! racetrace trace and schedule file formats.
//!
//! No Python and no analysis here: only what a trace is (`model`), how it
//! is written (`writer`, `builder`) and read (`reader`), and the schedule
//! format (`schedule`). The byte layout is described in `codec`.

pub mod builder;
pub mod codec;
pub mod error;
pub mod model;
pub mod reader;
pub mod schedule;
pub mod synthetic;
pub mod writer;

pub use codec::FORMAT_VERSION;
pub use error::FormatError;
pub use model::*;
pub use reader::{Events, TraceFile, Truncation};
pub use schedule::{Schedule, ScheduleError};
pub use writer::TraceWriter;
