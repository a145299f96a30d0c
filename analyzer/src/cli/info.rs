//! `racetrace info TRACE`: what a trace holds and how the run ended.

use std::fmt::Write as _;

use racetrace_formats::{ActorId, ActorKind, EventKind, LocId, Outcome, TraceFile, EXIT_DETACHED};
use serde_json::{json, Value};

use super::{json_text, CliError, Output, EXIT_OK};

pub use crate::report::mode_name;

fn actor_kind_name(kind: ActorKind) -> &'static str {
    match kind {
        ActorKind::Thread => "thread",
        ActorKind::Task => "task",
    }
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC` (0 means "not recorded").
fn format_time(secs: u64) -> String {
    if secs == 0 {
        return "unknown".to_string();
    }
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// How the run ended, on one line; `None` when the footer is missing.
pub fn outcome_line(trace: &TraceFile) -> String {
    let tables = trace.tables();
    match (trace.outcome(), trace.truncation()) {
        (_, Some(t)) => format!(
            "TRUNCATED at offset {}: {} ({} complete chunk{})",
            t.offset,
            t.reason,
            t.complete_chunks,
            if t.complete_chunks == 1 { "" } else { "s" }
        ),
        (Some(Outcome::Ok), None) => "ok".to_string(),
        (
            Some(Outcome::Exception {
                actor,
                type_name,
                message,
                ..
            }),
            None,
        ) => {
            format!(
                "exception in {}: {type_name}: {message}",
                tables.actor_display(*actor)
            )
        }
        (Some(Outcome::Deadlock { description }), None) => format!("deadlock: {description}"),
        (Some(Outcome::Aborted { reason }), None) => format!("aborted: {reason}"),
        (None, None) => "unknown".to_string(),
    }
}

fn outcome_json(trace: &TraceFile) -> Value {
    match trace.outcome() {
        None => Value::Null,
        Some(Outcome::Ok) => json!({ "kind": "ok" }),
        Some(Outcome::Exception {
            actor,
            type_name,
            message,
            traceback,
        }) => json!({
            "kind": "exception",
            "actor": actor.0,
            "type_name": type_name,
            "message": message,
            "traceback": traceback,
        }),
        Some(Outcome::Deadlock { description }) => {
            json!({ "kind": "deadlock", "description": description })
        }
        Some(Outcome::Aborted { reason }) => json!({ "kind": "aborted", "reason": reason }),
    }
}

pub fn info(trace: &TraceFile, as_json: bool) -> Result<Output, CliError> {
    let header = trace.header();
    let tables = trace.tables();

    // Decode every event: counts per actor, and a malformed events section
    // is reported here rather than passed over.
    let mut per_actor = vec![0u64; tables.actors.len()];
    let mut exited = vec![false; tables.actors.len()];
    // Where an actor stopped being recorded while it ran (EXIT_DETACHED).
    let mut detached: Vec<Option<LocId>> = vec![None; tables.actors.len()];
    for ev in trace.events() {
        let ev = ev?;
        if let Some(n) = per_actor.get_mut(ev.actor.index()) {
            *n += 1;
        }
        if ev.kind == EventKind::ActorExit {
            if let Some(e) = exited.get_mut(ev.actor.index()) {
                *e = true;
            }
            if ev.aux == EXIT_DETACHED {
                if let Some(d) = detached.get_mut(ev.actor.index()) {
                    *d = Some(ev.loc);
                }
            }
        }
    }
    let detached_at = |i: usize| detached[i].map(|l| tables.loc_display(l));
    // An actor with no exit event in a complete trace was still running
    // when recording stopped (a daemon thread, a thread the program left
    // behind): what it did afterwards is not in the trace.
    let complete = trace.truncation().is_none();
    let running_at_end = |i: usize| complete && !exited[i];

    let text = if as_json {
        let actors: Vec<Value> = tables
            .actors
            .iter()
            .enumerate()
            .map(|(i, a)| {
                json!({
                    "id": i,
                    "name": tables.str(a.name),
                    "kind": actor_kind_name(a.kind),
                    "parent": a.parent.map(|p| p.0),
                    "created_by_event": a.created_by_event,
                    "events": per_actor[i],
                    "running_at_end": running_at_end(i),
                    "detached_at": detached_at(i),
                })
            })
            .collect();
        let truncation = trace.truncation().map(|t| {
            json!({
                "offset": t.offset,
                "reason": t.reason,
                "complete_chunks": t.complete_chunks,
            })
        });
        json_text(&json!({
            "file": trace.path(),
            "format_version": header.format_version,
            "python_version": header.python_version,
            "racetrace_version": header.racetrace_version,
            "mode": mode_name(header.mode),
            "program": header.program,
            "seed": header.seed,
            "started_at": header.started_at,
            "event_count": trace.event_count(),
            "chunk_count": trace.chunk_count(),
            "actors": actors,
            "outcome": outcome_json(trace),
            "truncated": truncation,
        }))
    } else {
        let mut s = String::new();
        let unknown = |v: &str| {
            if v.is_empty() {
                "unknown".to_string()
            } else {
                v.to_string()
            }
        };
        let _ = writeln!(s, "trace:      {}", trace.path());
        let _ = writeln!(s, "format:     version {}", header.format_version);
        let _ = writeln!(s, "python:     {}", unknown(&header.python_version));
        let _ = writeln!(s, "racetrace:  {}", unknown(&header.racetrace_version));
        let _ = writeln!(s, "mode:       {}", mode_name(header.mode));
        let _ = writeln!(s, "program:    {}", header.program);
        let _ = writeln!(s, "seed:       {}", header.seed);
        let _ = writeln!(s, "started:    {}", format_time(header.started_at));
        let _ = writeln!(s, "events:     {}", trace.event_count());
        let _ = writeln!(s, "chunks:     {}", trace.chunk_count());
        let _ = writeln!(s, "outcome:    {}", outcome_line(trace));
        if let Some(Outcome::Exception { traceback, .. }) = trace.outcome() {
            for line in traceback.lines() {
                let _ = writeln!(s, "    {line}");
            }
        }
        let _ = writeln!(s, "actors:     {}", tables.actors.len());
        for (i, a) in tables.actors.iter().enumerate() {
            let id = ActorId(i as u32);
            let parent = match a.parent {
                Some(p) => format!("parent {}", tables.actor_display(p)),
                None => "no parent".to_string(),
            };
            let _ = writeln!(
                s,
                "  {:<24} {:<6} {:<24} {} event{}{}",
                tables.actor_display(id),
                actor_kind_name(a.kind),
                parent,
                per_actor[i],
                if per_actor[i] == 1 { "" } else { "s" },
                if running_at_end(i) {
                    ", still running when recording stopped"
                } else {
                    ""
                }
            );
            if let Some(at) = detached_at(i) {
                let _ = writeln!(
                    s,
                    "    not recorded after {at}: its trace function was replaced from C"
                );
            }
        }
        s
    };
    Ok(Output {
        text,
        code: EXIT_OK,
    })
}

#[cfg(test)]
mod tests {
    use super::format_time;

    #[test]
    fn formats_unix_time_as_utc() {
        assert_eq!(format_time(0), "unknown");
        assert_eq!(format_time(1), "1970-01-01 00:00:01 UTC");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_time(1_767_225_599), "2025-12-31 23:59:59 UTC");
    }
}
