//! The analysis of a whole trace, and its text rendering.
//!
//! [`analyze`] runs happens-before, race detection and lock-order analysis in
//! one pass over the events; [`Analyzer`] is the same thing push-style, for
//! callers that produce events one at a time (the recorder during
//! exploration). The result, [`Analysis`], is plain data with `Serialize`
//! (for `--json`): ids plus rendered names and `file:line` strings.

use std::fmt::Write as _;

use racetrace_formats::{Event, FormatError, Tables, TraceFile};
use serde::Serialize;

use crate::awaits::{AwaitChecker, AwaitViolation};
use crate::hb::HbTracker;
use crate::lockorder::{LockOrder, PotentialDeadlock};
use crate::races::{RaceClass, RaceDetector, RaceGroup};

/// Everything the analyzer found in one trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Analysis {
    /// Number of events analyzed.
    pub events: u64,
    /// Number of actors that had at least one event.
    pub actors: usize,
    /// Data races, one group per key, in order of first detection.
    pub races: Vec<RaceGroup>,
    /// Racing access pairs detected, before deduplication by location pair.
    pub race_detections: u64,
    /// Lock-order cycles between different actors.
    pub deadlocks: Vec<PotentialDeadlock>,
    /// Distinct (held lock, acquired lock) pairs seen.
    pub lock_order_edges: usize,
    /// asyncio tasks whose read and write of a key an `await` split while
    /// another task wrote it (see `awaits`).
    pub await_violations: Vec<AwaitViolation>,
}

impl Analysis {
    /// Whether anything worth a non-zero exit status was found.
    pub fn has_findings(&self) -> bool {
        !self.races.is_empty() || !self.deadlocks.is_empty() || !self.await_violations.is_empty()
    }
}

/// Push-style analysis: call [`Analyzer::on_event`] for each event in trace
/// order, then [`Analyzer::finish`]. Memory grows with keys, actors and
/// distinct findings, not with events.
pub struct Analyzer {
    hb: HbTracker,
    races: RaceDetector,
    locks: LockOrder,
    awaits: AwaitChecker,
    next_index: u64,
}

impl Analyzer {
    pub fn new(tables: &Tables) -> Self {
        Analyzer {
            hb: HbTracker::new(),
            races: RaceDetector::new(tables),
            locks: LockOrder::new(),
            awaits: AwaitChecker::new(tables),
            next_index: 0,
        }
    }

    /// Analyzes the next event. Its index in the trace is the number of
    /// events passed before it.
    #[inline]
    pub fn on_event(&mut self, ev: &Event) {
        let index = self.next_index;
        self.next_index += 1;
        self.hb.on_event(ev);
        self.awaits.on_event(index, ev);
        if ev.kind.is_access() {
            self.races.on_access(index, ev, self.hb.clock(ev.actor));
        } else {
            self.locks.on_event(index, ev);
        }
    }

    /// Number of events analyzed so far.
    pub fn events(&self) -> u64 {
        self.next_index
    }

    /// The happens-before state so far (clocks per actor).
    pub fn hb(&self) -> &HbTracker {
        &self.hb
    }

    /// The findings, with names resolved from `tables`.
    pub fn finish(&self, tables: &Tables) -> Analysis {
        Analysis {
            events: self.next_index,
            actors: self.hb.actors(),
            races: self.races.finish(tables),
            race_detections: self.races.detections(),
            deadlocks: self.locks.finish(tables),
            lock_order_edges: self.locks.edge_count(),
            await_violations: self.awaits.finish(tables),
        }
    }
}

/// Analyzes a whole trace given its tables and its events in trace order.
pub fn analyze(tables: &Tables, events: impl IntoIterator<Item = Event>) -> Analysis {
    let mut a = Analyzer::new(tables);
    for ev in events {
        a.on_event(&ev);
    }
    a.finish(tables)
}

/// Analyzes a trace file (streaming its events: nothing per event is kept).
/// A truncated trace is analyzed up to its last complete chunk (see
/// `TraceFile::truncation`); an event that fails to decode is an error.
pub fn analyze_file(file: &TraceFile) -> Result<Analysis, FormatError> {
    let tables = file.tables();
    let mut a = Analyzer::new(tables);
    for ev in file.events() {
        a.on_event(&ev?);
    }
    Ok(a.finish(tables))
}

/// Text report of the races: per key, each racing pair of locations with the
/// actors and access kinds, e.g.
///
/// ```text
/// Data race on Counter.value (2 location pairs, 2 detections)
///     1) read     by T2 (worker-2) at app.py:10 in bump   [event 6]
///        write    by T1 (worker-1) at app.py:11 in bump   [event 7]
///     2) write    by T1 (worker-1) at app.py:11 in bump   [event 7]
///        write    by T2 (worker-2) at app.py:11 in bump   [event 8]
/// ```
///
/// Each numbered pair is two accesses no happens-before edge orders; the
/// first one came first in the trace. For a container's whole key, member
/// accesses show their own key in parentheses.
///
/// Atomicity violations come first; order-only races (two atomic writes,
/// see `RaceClass`) are counted, and listed only with `all`.
pub fn render_races(analysis: &Analysis, _tables: &Tables, all: bool) -> String {
    let mut out = render_await_violations(analysis);
    if analysis.races.is_empty() {
        out.push_str("No data races found.\n");
        return out;
    }
    let order_only = analysis
        .races
        .iter()
        .filter(|g| g.class == RaceClass::OrderOnly)
        .count();
    let atomicity = analysis.races.len() - order_only;
    let _ = writeln!(
        out,
        "{} data race{} found: {} atomicity violation{}, {} order-only{}",
        analysis.races.len(),
        plural(analysis.races.len()),
        atomicity,
        plural(atomicity),
        order_only,
        if order_only > 0 && !all {
            " (two atomic writes whose order alone varies; --all lists them)"
        } else {
            ""
        }
    );
    for g in &analysis.races {
        if g.class == RaceClass::OrderOnly && !all {
            continue;
        }
        let _ = writeln!(
            out,
            "\nData race on {}, {} ({} location pair{}, {} detection{})",
            g.key_name,
            g.class.name(),
            g.pairs.len(),
            plural(g.pairs.len()),
            g.occurrences,
            plural(g.occurrences as usize)
        );
        for (i, p) in g.pairs.iter().enumerate() {
            for (side, a) in [&p.first, &p.second].into_iter().enumerate() {
                let member = if a.key == g.key {
                    String::new()
                } else {
                    format!(" ({})", a.key_name)
                };
                let number = if side == 0 {
                    format!("{:>3})", i + 1)
                } else {
                    "    ".to_string()
                };
                let _ = writeln!(
                    out,
                    "  {number} {:<8} by {} at {} in {}{}   [event {}]",
                    a.kind.name(),
                    a.actor_name,
                    a.location,
                    if a.function.is_empty() {
                        "?"
                    } else {
                        &a.function
                    },
                    member,
                    a.event
                );
            }
            if p.occurrences > 1 {
                let _ = writeln!(out, "       (this pair seen {} times)", p.occurrences);
            }
        }
    }
    out
}

/// Text report of the atomicity violations across an await (empty when
/// there are none), e.g.
///
/// ```text
/// Atomicity violation across an await on Counter.value (1 seen)
///   T1 (task-1) read it at app.py:9   [event 4]
///   T1 (task-1) awaited at app.py:10; meanwhile
///   T2 (task-2) wrote it at app.py:11   [event 8]
///   T1 (task-1) then wrote it at app.py:11   [event 11]
/// ```
pub fn render_await_violations(analysis: &Analysis) -> String {
    let mut out = String::new();
    for v in &analysis.await_violations {
        let _ = writeln!(
            out,
            "Atomicity violation across an await on {} ({} seen)",
            v.key_name, v.occurrences
        );
        let _ = writeln!(
            out,
            "  {} read it at {}   [event {}]",
            v.actor_name, v.read_location, v.read_event
        );
        let _ = writeln!(
            out,
            "  {} awaited at {}; meanwhile",
            v.actor_name, v.await_location
        );
        let _ = writeln!(
            out,
            "  {} wrote it at {}   [event {}]",
            v.other_name, v.other_location, v.other_event
        );
        let _ = writeln!(
            out,
            "  {} then wrote it at {}   [event {}]\n",
            v.actor_name, v.write_location, v.write_event
        );
    }
    out
}

/// Text report of the potential deadlocks: each cycle with, per edge, the
/// actor, where it took the held lock and where it then acquired the next.
pub fn render_deadlocks(analysis: &Analysis, _tables: &Tables) -> String {
    let mut out = String::new();
    if analysis.deadlocks.is_empty() {
        out.push_str("No potential deadlocks found.\n");
        return out;
    }
    let _ = writeln!(
        out,
        "{} potential deadlock{} (inconsistent lock order):",
        analysis.deadlocks.len(),
        plural(analysis.deadlocks.len())
    );
    for (i, d) in analysis.deadlocks.iter().enumerate() {
        let names: Vec<&str> = d.locks.iter().map(|l| l.name.as_str()).collect();
        let _ = writeln!(
            out,
            "\nPotential deadlock #{}: {} -> {}",
            i + 1,
            names.join(" -> "),
            names.first().copied().unwrap_or("")
        );
        for e in &d.edges {
            let _ = writeln!(
                out,
                "  {} holds {} (acquired at {}) and acquires {} at {}   [events {}, {}]",
                e.actor_name,
                e.held.name,
                e.held_location,
                e.acquired.name,
                e.acquire_location,
                e.held_event,
                e.acquire_event
            );
        }
    }
    out
}

/// One-paragraph summary: event and actor counts and how many findings.
pub fn render_summary(analysis: &Analysis) -> String {
    format!(
        "{} events, {} actors: {} data race{} ({} location pair{}), {} potential deadlock{}\n",
        analysis.events,
        analysis.actors,
        analysis.races.len(),
        plural(analysis.races.len()),
        analysis.races.iter().map(|g| g.pairs.len()).sum::<usize>(),
        plural(analysis.races.iter().map(|g| g.pairs.len()).sum::<usize>()),
        analysis.deadlocks.len(),
        plural(analysis.deadlocks.len()),
    )
}

/// The name of a trace's mode, as reports show it.
pub fn mode_name(mode: racetrace_formats::Mode) -> &'static str {
    use racetrace_formats::Mode;
    match mode {
        Mode::Record => "record",
        Mode::Replay => "replay",
        Mode::Explore => "explore",
        Mode::Synthetic => "synthetic",
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
