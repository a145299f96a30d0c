//! A recorded trace read as something to replay: the actor of each event
//! (the schedule) and what each step is expected to do, so that a replay
//! can say where the program stopped following the trace.

use std::path::Path;

use crate::error::FormatError;
use crate::model::{ActorId, Event, EventKind, KeyId, ObjId, Tables, TargetKind};
use crate::reader::TraceFile;

/// One recorded step, in the words a divergence report uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedStep {
    pub kind: EventKind,
    pub file: String,
    pub line: u32,
    pub function: String,
    /// What the event touched, as the recorded trace names it.
    pub what: String,
}

/// The schedule of a trace and the step expected at each point.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplaySource {
    pub steps: Vec<ActorId>,
    pub expected: Vec<ExpectedStep>,
}

/// What a recorded event touched, as the trace names it.
pub fn target_text(tables: &Tables, ev: &Event) -> String {
    match ev.kind.target_kind() {
        TargetKind::Key => tables.key_display(KeyId(ev.target)),
        TargetKind::Obj => tables.object_display(ObjId(ev.target)),
        TargetKind::Actor => tables.actor_display(ActorId(ev.target)),
    }
}

impl ReplaySource {
    /// Every event of `trace`, in order (of a truncated trace, the events
    /// it kept). A damaged event is an error: a replay of a run with a hole
    /// in it would diverge at the hole, which says nothing about the
    /// program.
    pub fn of(trace: &TraceFile) -> Result<ReplaySource, FormatError> {
        let tables = trace.tables();
        let mut src = ReplaySource::default();
        for ev in trace.events() {
            let ev = ev?;
            if ev.kind == crate::EventKind::Yield && ev.aux >= crate::YIELD_MARKER {
                // A comment marker's scheduling point: not the program's.
                continue;
            }
            src.steps.push(ev.actor);
            let (file, line, function) = match tables.locs.get(ev.loc.index()) {
                Some(l) => (
                    tables.str(l.file).to_string(),
                    l.line,
                    tables.str(l.function).to_string(),
                ),
                None => ("<unknown>".into(), 0, String::new()),
            };
            src.expected.push(ExpectedStep {
                kind: ev.kind,
                file,
                line,
                function,
                what: target_text(tables, &ev),
            });
        }
        Ok(src)
    }

    /// Opens the trace at `path` and reads it as a replay source.
    pub fn open(path: &Path) -> Result<(TraceFile, ReplaySource), FormatError> {
        let trace = TraceFile::open(path)?;
        let src = ReplaySource::of(&trace)?;
        Ok((trace, src))
    }
}
