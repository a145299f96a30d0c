//! The terminal rendering of an explanation.

use std::fmt::Write as _;

use super::{Detail, Explanation, Finding, Side};

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn changed_mark(changed: bool) -> &'static str {
    if changed {
        "   <- CHANGED since recording"
    } else {
        ""
    }
}

fn side(out: &mut String, s: &Side) {
    let _ = writeln!(
        out,
        "     {:<6} by {} at {} in {}   [event {}]",
        s.kind,
        s.actor_name,
        s.location,
        if s.function.is_empty() {
            "?"
        } else {
            &s.function
        },
        s.event
    );
    if let Some(src) = &s.source {
        let _ = writeln!(
            out,
            "       {:>5} | {src}{}",
            s.line,
            changed_mark(s.changed)
        );
    }
    if let Some(t) = &s.test {
        let _ = writeln!(out, "       during test {t}");
    }
    if s.stack.len() > 1 {
        let _ = writeln!(out, "       stack: {}", s.stack.join("; "));
    }
    let locks = if s.state.locks_held.is_empty() {
        "none".to_string()
    } else {
        s.state.locks_held.join(", ")
    };
    let _ = writeln!(out, "       locks held: {locks}");
}

fn finding(out: &mut String, f: &Finding, detailed: bool) {
    let why = if f.relevance.is_empty() {
        String::new()
    } else {
        format!(" — {}", f.relevance)
    };
    match &f.detail {
        Detail::Race {
            key_name,
            class,
            pairs,
            occurrences,
            first,
            second,
            why_unordered,
        } => {
            let _ = writeln!(
                out,
                "{:>2}) data race on {key_name}, {}{why}",
                f.rank,
                class.name()
            );
            if !detailed {
                let _ = writeln!(
                    out,
                    "     {} {} at {} / {} {} at {}",
                    first.kind,
                    first.actor_name,
                    first.location,
                    second.kind,
                    second.actor_name,
                    second.location
                );
                return;
            }
            side(out, first);
            side(out, second);
            if !why_unordered.is_empty() {
                let _ = writeln!(out, "     why unordered: {why_unordered}");
            }
            if *pairs > 1 || *occurrences > 1 {
                let _ = writeln!(
                    out,
                    "     ({pairs} location pair{} on this key, {occurrences} detection{}; `racetrace races` lists them)",
                    plural(*pairs),
                    plural(*occurrences as usize)
                );
            }
        }
        Detail::PotentialDeadlock { locks, edges } => {
            let cycle = format!("{} -> {}", locks.join(" -> "), locks[0]);
            let _ = writeln!(out, "{:>2}) potential deadlock {cycle}{why}", f.rank);
            for e in edges {
                let _ = writeln!(
                    out,
                    "     {} holds {} (acquired at {}) and acquires {} at {}   [events {}, {}]",
                    e.actor_name,
                    e.held,
                    e.held_location,
                    e.acquired,
                    e.acquire_location,
                    e.held_event,
                    e.acquire_event
                );
                if detailed {
                    if let Some(s) = &e.held_source {
                        let _ = writeln!(out, "       {} | {s}", e.held_location);
                    }
                    if let Some(s) = &e.acquire_source {
                        let _ = writeln!(out, "       {} | {s}", e.acquire_location);
                    }
                }
            }
        }
    }
}

/// The report, for a terminal.
pub fn render(x: &Explanation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "racetrace explain: {}", x.file);
    let _ = writeln!(out, "program:   {}", x.program);
    if let Some(t) = &x.test {
        let _ = writeln!(out, "test:      {t}");
    }
    let _ = writeln!(
        out,
        "recorded:  {} events, {} actor{}, mode {}, python {}, format version {}",
        x.events,
        x.actors.len(),
        plural(x.actors.len()),
        x.mode,
        if x.python_version.is_empty() {
            "unknown"
        } else {
            &x.python_version
        },
        x.format_version
    );
    for i in &x.incomplete {
        let _ = writeln!(out, "INCOMPLETE: {i}");
    }

    let _ = writeln!(out, "\n== How the run ended ==");
    let o = &x.outcome;
    match o.kind {
        "exception" => {
            let _ = writeln!(
                out,
                "exception in {}: {}: {}",
                o.actor.as_deref().unwrap_or("?"),
                o.type_name,
                o.message.lines().next().unwrap_or("")
            );
            if let Some(f) = &o.failing {
                let _ = writeln!(out, "failing line: {} in {}", f.location(), f.function);
            }
            for l in o.text.lines() {
                let _ = writeln!(out, "  {l}");
            }
        }
        "deadlock" => {
            let _ = writeln!(out, "deadlock:");
            for l in o.text.lines() {
                let _ = writeln!(out, "  {l}");
            }
        }
        "aborted" => {
            let _ = writeln!(out, "aborted: {}", o.message);
        }
        "ok" => {
            let _ = writeln!(
                out,
                "ok: the run did not fail (the findings below could make another run fail)"
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "unknown: the trace has no outcome (it was cut short before the run ended)"
            );
        }
    }

    let _ = writeln!(out, "\n== Findings, most relevant first ==");
    for v in &x.await_violations {
        let _ = writeln!(
            out,
            "atomicity violation across an await on {}: {} read it at {} (event {}), awaited at {}, {} wrote it meanwhile at {} (event {}), and {} then wrote it at {} (event {})",
            v.key_name,
            v.actor_name,
            v.read_location,
            v.read_event,
            v.await_location,
            v.other_name,
            v.other_location,
            v.other_event,
            v.actor_name,
            v.write_location,
            v.write_event
        );
    }
    if x.findings.is_empty() && x.await_violations.is_empty() {
        let _ = writeln!(
            out,
            "no data race and no potential deadlock in this trace: nothing unordered touched shared state{}",
            if x.incomplete.is_empty() {
                ""
            } else {
                " (in the part the trace holds)"
            }
        );
    }
    let _ = writeln!(
        out,
        "{} data race{} (by key), {} potential deadlock{}",
        x.race_count,
        plural(x.race_count),
        x.deadlock_count,
        plural(x.deadlock_count)
    );
    for (i, f) in x.findings.iter().enumerate() {
        if i == super::DETAILED {
            let _ = writeln!(out, "\nless relevant:");
        }
        if i < super::DETAILED {
            out.push('\n');
        }
        finding(&mut out, f, i < super::DETAILED);
    }

    if !x.steps.is_empty() {
        let _ = writeln!(out, "\n== The steps that matter ==");
        if let Some(l) = &x.lost_update {
            let _ = writeln!(out, "{}", super::lost_update_words(l));
        }
        let _ = writeln!(
            out,
            "  {:>8}  {:<16} {:<28} {:<32} source",
            "event", "actor", "location", "access"
        );
        for s in &x.steps {
            if s.skipped_before > 0 {
                let _ = writeln!(
                    out,
                    "  {:>8}  ... {} more step{} on the same keys and actors",
                    "",
                    s.skipped_before,
                    plural(s.skipped_before as usize)
                );
            }
            let access = format!("{} {}", s.kind, s.what);
            let _ = writeln!(
                out,
                "{} {:>8}  {:<16} {:<28} {:<32} {}{}",
                if s.highlighted { ">>" } else { "  " },
                s.event,
                s.actor_name,
                s.location,
                access,
                s.source.as_deref().unwrap_or(""),
                changed_mark(s.changed)
            );
        }
        if x.skipped_after > 0 {
            let _ = writeln!(
                out,
                "  {:>8}  ... {} more step{} on the same keys and actors",
                "",
                x.skipped_after,
                plural(x.skipped_after as usize)
            );
        }
        if !x.edges.is_empty() {
            let _ = writeln!(out, "  happens-before among these steps:");
            for e in &x.edges {
                let (a, b) = (&x.steps[e.from], &x.steps[e.to]);
                let _ = writeln!(
                    out,
                    "    {} {} (event {}) -> {} {} (event {}): {}",
                    a.actor_name, a.kind, a.event, b.actor_name, b.kind, b.event, e.kind
                );
            }
        }
        let _ = writeln!(
            out,
            "  (>> marks the two accesses of the most relevant finding)"
        );
    }

    let _ = writeln!(out, "\n== Reproduce ==");
    let r = &x.reproduce;
    if let Some(n) = &r.note {
        let _ = writeln!(out, "{n}");
    }
    let _ = writeln!(
        out,
        "  {:<48} re-runs it forcing this interleaving",
        r.replay
    );
    if !r.script.is_empty() {
        let _ = writeln!(
            out,
            "  {:<48} writes a replay script ({})",
            r.script, r.script_path
        );
    }
    let _ = writeln!(
        out,
        "  {:<48} the fewest preemptions that still fail",
        r.shrink
    );

    if !x.sources.is_empty() {
        let _ = writeln!(out, "\n== Sources ==");
        for s in &x.sources {
            let _ = writeln!(out, "  {}: {}", s.file, s.status.words());
        }
    }
    out
}
