//! `racetrace races TRACE` and `racetrace deadlocks TRACE`: run the
//! analyzer over the trace's events and render what it found.

use racetrace_formats::TraceFile;
use serde_json::{json, Value};

use super::progress::Progress;
use super::{json_text, CliError, Output, EXIT_FINDINGS, EXIT_OK};
use crate::races::RaceClass;
use crate::report::{self, Analysis, Analyzer};

/// Analyzes every event of the complete chunks of `trace`.
pub fn analyze(trace: &TraceFile) -> Result<Analysis, CliError> {
    let tables = trace.tables();
    let mut analyzer = Analyzer::new(tables);
    let mut progress = Progress::new("analyzing", trace.event_count());
    for ev in trace.events() {
        analyzer.on_event(&ev?);
        progress.tick();
    }
    progress.finish();
    Ok(analyzer.finish(tables))
}

fn code(found: bool) -> i32 {
    if found {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    }
}

/// Exit status: findings when an atomicity violation was found (or, with
/// `all`, any race): what the text report shows.
pub fn races(trace: &TraceFile, as_json: bool, all: bool) -> Result<Output, CliError> {
    let analysis = analyze(trace)?;
    let order_only = analysis
        .races
        .iter()
        .filter(|g| g.class == RaceClass::OrderOnly)
        .count();
    let found = analysis.races.len() > order_only
        || (all && order_only > 0)
        || !analysis.await_violations.is_empty();
    let text = if as_json {
        findings_json(
            trace,
            &analysis,
            json!({
                "race_count": analysis.races.len(),
                "atomicity_violation_count": analysis.races.len() - order_only,
                "order_only_count": order_only,
                "race_detections": analysis.race_detections,
                "races": analysis.races,
                "await_violations": analysis.await_violations,
            }),
        )
    } else {
        report::render_races(&analysis, trace.tables(), all)
    };
    Ok(Output {
        text,
        code: code(found),
    })
}

pub fn deadlocks(trace: &TraceFile, as_json: bool) -> Result<Output, CliError> {
    let analysis = analyze(trace)?;
    let found = !analysis.deadlocks.is_empty();
    let text = if as_json {
        findings_json(
            trace,
            &analysis,
            json!({
                "deadlock_count": analysis.deadlocks.len(),
                "lock_order_edges": analysis.lock_order_edges,
                "deadlocks": analysis.deadlocks,
            }),
        )
    } else {
        report::render_deadlocks(&analysis, trace.tables())
    };
    Ok(Output {
        text,
        code: code(found),
    })
}

/// The JSON of `races` and `deadlocks`: what was analyzed, then `findings`'
/// fields.
fn findings_json(trace: &TraceFile, analysis: &Analysis, findings: Value) -> String {
    let mut doc = json!({
        "file": trace.path(),
        "truncated": trace.truncation().is_some(),
        "events": analysis.events,
        "actors": analysis.actors,
    });
    if let (Value::Object(doc), Value::Object(findings)) = (&mut doc, findings) {
        doc.extend(findings);
    }
    json_text(&doc)
}
