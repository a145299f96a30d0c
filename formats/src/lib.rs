//! racetrace trace and schedule file formats.
//!
//! No Python and no analysis here: only what a trace is (`model`), how it
//! is written (`writer`, `builder`) and read (`reader`), and the schedule
//! format (`schedule`). The byte layout is described in `codec`.
//!
//! ```
//! use racetrace_formats::builder::TraceBuilder;
//! use racetrace_formats::{ActorId, MemberKind, ObjKind, Outcome, TraceFile};
//!
//! // Build a trace event by event (tests, tools)...
//! let mut b = TraceBuilder::new("demo.py");
//! let main = ActorId(0);
//! let loc = b.loc("demo.py", 3, "main");
//! let counter = b.object(ObjKind::Instance, "Counter", "counter");
//! let value = b.key(counter, MemberKind::Attr, "value");
//! let worker = b.spawn(main, "worker", loc);
//! b.start(worker, loc);
//! b.read(worker, value, loc);
//! b.write(main, value, loc);
//! let bytes = b.finish(&Outcome::Ok);
//!
//! // ...and read it back, never trusting the bytes.
//! let trace = TraceFile::from_bytes(bytes)?;
//! assert_eq!(trace.event_count(), 4);
//! assert_eq!(trace.tables().key_display(value), "counter.value");
//! for ev in trace.events() {
//!     let ev = ev?;
//!     println!("{} {} at {}", trace.tables().actor_display(ev.actor), ev.kind.name(),
//!              trace.tables().loc_display(ev.loc));
//! }
//! // A file cut short (a killed process) still reads, up to its last
//! // complete chunk:
//! assert!(trace.truncation().is_none());
//! # Ok::<(), racetrace_formats::FormatError>(())
//! ```

pub mod builder;
pub mod codec;
pub mod error;
pub mod journal;
pub mod model;
pub mod reader;
pub mod replay;
pub mod schedule;
pub mod sources;
pub mod synthetic;
pub mod writer;

pub use error::FormatError;
pub use model::FORMAT_VERSION;
pub use model::*;
pub use reader::{ChunkInfo, Events, TraceFile, Truncation};
pub use replay::{ExpectedStep, ReplaySource};
pub use schedule::{Schedule, ScheduleError};
pub use sources::{line_digests, Mark, SourceDesc};
pub use writer::TraceWriter;
