//! racetrace analyzer library: happens-before, data races, potential
//! deadlocks and the happens-before graph of a trace.
//!
//! # Public API
//!
//! - [`analyze_file`]`(&TraceFile) -> Result<Analysis, FormatError>` and
//!   [`analyze`]`(&Tables, events) -> Analysis`: one streaming pass computing
//!   happens-before, races ([`Analysis::races`], one [`races::RaceGroup`] per
//!   key) and lock-order cycles ([`Analysis::deadlocks`], one
//!   [`lockorder::PotentialDeadlock`] per cycle). [`Analyzer`] is the same,
//!   push-style (`on_event` then `finish`), for callers that produce events
//!   one by one.
//! - Text: [`report::render_races`], [`report::render_deadlocks`],
//!   [`report::render_summary`]. JSON: every report type is `Serialize`
//!   (ids plus rendered names and `file:line` strings).
//! - The segment graph: [`graph::HbGraph::build_file`] (or `build`, or the
//!   push-style [`graph::GraphBuilder`]), exported by [`export::to_dot`],
//!   [`export::to_json`] and [`export::write_perfetto_file`] /
//!   [`export::write_perfetto`].
//! - Building blocks: [`hb::HbTracker`] (vector clocks per actor),
//!   [`races::RaceDetector`], [`lockorder::LockOrder`], and [`sync::effect`],
//!   which says what each synchronization event means for happens-before.
//!
//! Event indices in reports are positions in the trace, from 0. Nothing is
//! stored per event: memory grows with keys, actors, in-flight queue items
//! and distinct findings (the graph excepted, which has a node per segment).

/// The `racetrace` command line (used by the binary and by `racetrace._native`).
pub mod awaits;
pub mod cli;
pub mod clock;
pub mod dpor;
pub mod explain;
pub mod export;
pub mod fasthash;
pub mod graph;
pub mod hb;
pub mod items;
pub mod lockorder;
pub mod races;
pub mod report;
pub mod shrink;
pub mod sync;

pub use report::{analyze, analyze_file, Analysis, Analyzer};
