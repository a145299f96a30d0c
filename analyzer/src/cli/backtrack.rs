//! `racetrace backtrack TRACE`: the schedule prefixes DPOR would explore
//! next from a recorded execution, one per reversible race (the same
//! computation exploration runs in-process).

use std::fmt::Write as _;

use racetrace_formats::{Event, TraceFile};
use serde_json::{json, Value};

use super::{json_text, CliError, Output, EXIT_OK};
use crate::dpor::backtrack_points;

pub fn backtrack(trace: &TraceFile, as_json: bool) -> Result<Output, CliError> {
    let tables = trace.tables();
    let events = trace.events().collect::<Result<Vec<Event>, _>>()?;
    let points = backtrack_points(tables, &events);
    let text = if as_json {
        let items: Vec<Value> = points
            .iter()
            .map(|b| {
                json!({
                    "first": {"index": b.first, "actor": b.first_actor.0, "kind": b.first_kind.name(),
                              "location": tables.loc_display(b.first_loc)},
                    "second": {"index": b.second, "actor": b.second_actor.0, "kind": b.second_kind.name(),
                               "location": tables.loc_display(b.second_loc)},
                    "prefix": b.prefix.to_text(),
                })
            })
            .collect();
        json_text(&json!({"events": events.len(), "backtrack_points": items}))
    } else {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} reversible race{} in {} events",
            points.len(),
            if points.len() == 1 { "" } else { "s" },
            events.len()
        );
        for b in &points {
            let _ = writeln!(
                out,
                "#{} {} {} at {}  <->  #{} {} {} at {}\n  explore: {}",
                b.first,
                tables.actor_display(b.first_actor),
                b.first_kind.name(),
                tables.loc_display(b.first_loc),
                b.second,
                tables.actor_display(b.second_actor),
                b.second_kind.name(),
                tables.loc_display(b.second_loc),
                b.prefix.to_text()
            );
        }
        out
    };
    Ok(Output {
        text,
        code: EXIT_OK,
    })
}
