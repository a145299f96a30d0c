//! racetrace analyzer library: happens-before, data races, potential
//! deadlocks and the happens-before graph of a trace.
//!
//! Entry point for most callers: [`report::analyze`] (or
//! [`report::analyze_file`]) returns an [`Analysis`] with races and potential
//! deadlocks; [`report::render_races`] and [`report::render_deadlocks`] turn it
//! into text. The graph of segments is built separately by
//! [`graph::HbGraph::build`] and exported by the [`export`] functions.

/// The `racetrace` command line (used by the binary and by `racetrace._native`).
pub mod cli;
pub mod clock;
pub mod export;
pub mod fasthash;
pub mod graph;
pub mod hb;
pub mod lockorder;
pub mod races;
pub mod report;
pub mod sync;

pub use report::{analyze, analyze_file, Analysis, Analyzer};
