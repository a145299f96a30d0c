//! `racetrace explain`: why did this run fail?
//!
//! One report from a trace: the outcome with its traceback; the races and
//! potential deadlocks ranked by relevance to the failure (`rank`), each
//! with both source lines, the actors' stacks as far as the trace knows
//! them, and why nothing orders the two accesses; the steps of the
//! interleaving that matter (`window`); and how to reproduce the run.
//!
//! Two streaming passes over the events (memory grows with keys, actors
//! and findings, not with events): the analysis (happens-before, races,
//! lock order) plus what was accessed on the failure's lines, then the
//! steps around the most relevant finding. Rendering is separate: `text`
//! for the terminal, `html` for a self-contained page, serde for `--json`.

use racetrace_formats::{ActorId, EventKind, FormatError, LocId, TraceFile, EXIT_DETACHED};
use serde::Serialize;

use crate::races::RaceClass;
use crate::Analyzer;

pub mod failure;
pub mod html;
pub mod order;
pub mod rank;
pub mod reproduce;
pub mod source;
pub mod text;
pub mod window;

pub use failure::{Failure, Frame};
pub use reproduce::Reproduce;
pub use source::FileStatus;
pub use window::{ActorState, LostUpdate, Step};

use rank::{RankedKind, Touches, NOT_A_FRAME};
use source::Sources;
use window::Focus;

/// Findings explained in detail (the others are listed in one line each).
pub const DETAILED: usize = 5;

/// One actor, as the report introduces it.
#[derive(Clone, Debug, Serialize)]
pub struct ActorSummary {
    pub id: ActorId,
    pub name: String,
    /// `T0 (MainThread)`.
    pub parent: Option<String>,
    /// Where its parent started it.
    pub started_at: Option<String>,
    pub events: u64,
    /// Still running when recording stopped (its later steps are not in
    /// the trace).
    pub running_at_end: bool,
    /// Where it stopped being recorded while it went on running.
    pub detached_at: Option<String>,
}

/// One side of a race, with what the report knows around it.
#[derive(Clone, Debug, Serialize)]
pub struct Side {
    pub event: u64,
    pub actor: ActorId,
    pub actor_name: String,
    pub kind: &'static str,
    pub key_name: String,
    pub location: String,
    pub file: String,
    pub line: u32,
    pub function: String,
    pub source: Option<String>,
    pub changed: bool,
    /// Innermost first: the function and line of the access, then each
    /// actor's start up to the main actor. The trace records no Python
    /// call stacks, so the callers within one actor are not known.
    pub stack: Vec<String>,
    pub state: ActorState,
    pub test: Option<String>,
}

/// A finding, ranked.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// 1 for the most relevant.
    pub rank: usize,
    pub score: u32,
    /// Why it ranks where it does ("" when nothing ties it to the failure).
    pub relevance: String,
    #[serde(flatten)]
    pub detail: Detail,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Detail {
    Race {
        key_name: String,
        class: RaceClass,
        /// Location pairs racing on this key, and detections of them.
        pairs: usize,
        occurrences: u64,
        first: Box<Side>,
        second: Box<Side>,
        /// Why happens-before does not order the two accesses.
        why_unordered: String,
    },
    PotentialDeadlock {
        locks: Vec<String>,
        edges: Vec<DeadlockEdge>,
    },
}

#[derive(Clone, Debug, Serialize)]
pub struct DeadlockEdge {
    pub actor_name: String,
    pub held: String,
    pub acquired: String,
    pub held_location: String,
    pub acquire_location: String,
    pub held_source: Option<String>,
    pub acquire_source: Option<String>,
    pub held_event: u64,
    pub acquire_event: u64,
}

/// A happens-before edge between two steps shown.
#[derive(Clone, Debug, Serialize)]
pub struct ShownEdge {
    /// Indices into `Explanation::steps`.
    pub from: usize,
    pub to: usize,
    pub kind: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct SourceInfo {
    pub file: String,
    pub status: FileStatus,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    pub file: String,
    pub program: String,
    pub mode: &'static str,
    pub python_version: String,
    pub racetrace_version: String,
    pub format_version: u32,
    /// The pytest test the trace is of, if any.
    pub test: Option<String>,
    pub events: u64,
    pub actors: Vec<ActorSummary>,
    /// Why the trace may not show the whole run (truncated, actors left
    /// running, aborted); empty when it is complete.
    pub incomplete: Vec<String>,
    pub outcome: Failure,
    pub race_count: usize,
    pub deadlock_count: usize,
    pub findings: Vec<Finding>,
    /// asyncio tasks whose read and write an `await` split while another
    /// task wrote the key (see `awaits`).
    pub await_violations: Vec<crate::awaits::AwaitViolation>,
    pub steps: Vec<Step>,
    /// Relevant steps after the last one shown.
    pub skipped_after: u64,
    pub edges: Vec<ShownEdge>,
    /// The lost update the steps show, on the most relevant race's key.
    pub lost_update: Option<LostUpdate>,
    pub sources: Vec<SourceInfo>,
    pub reproduce: Reproduce,
}

/// What the first pass learns besides the analysis.
struct FirstPass {
    analysis: crate::Analysis,
    touches: Touches,
    per_actor: Vec<u64>,
    exited: Vec<bool>,
    detached: Vec<Option<LocId>>,
    /// Where each actor was started (its parent's spawn).
    spawned_at: Vec<Option<LocId>>,
    /// The last event on the failing line.
    last_on_failing_line: Option<u64>,
}

fn first_pass(
    trace: &TraceFile,
    depths: &[u8],
    progress: &mut dyn FnMut(&'static str, u64, u64),
) -> Result<FirstPass, FormatError> {
    let tables = trace.tables();
    let total = trace.event_count();
    let n = tables.actors.len();
    let mut p = FirstPass {
        analysis: crate::report::analyze(tables, std::iter::empty()),
        touches: Touches::default(),
        per_actor: vec![0; n],
        exited: vec![false; n],
        detached: vec![None; n],
        spawned_at: vec![None; n],
        last_on_failing_line: None,
    };
    let mut analyzer = Analyzer::new(tables);
    for (i, ev) in trace.events().enumerate() {
        let ev = ev?;
        let index = i as u64;
        if index & 0xFFFF == 0 && index > 0 {
            progress("analyzing", index, total);
        }
        analyzer.on_event(&ev);
        if let Some(c) = p.per_actor.get_mut(ev.actor.index()) {
            *c += 1;
        }
        let depth = depths.get(ev.loc.index()).copied().unwrap_or(NOT_A_FRAME);
        if depth != NOT_A_FRAME {
            if ev.kind.is_access() {
                if let Some(k) = tables.keys.get(ev.target as usize) {
                    p.touches.note(ev.target, k.obj.0, depth);
                }
            }
            if depth == 0 {
                p.last_on_failing_line = Some(index);
            }
        }
        match ev.kind {
            EventKind::ActorExit => {
                if let Some(e) = p.exited.get_mut(ev.actor.index()) {
                    *e = true;
                }
                if ev.aux == EXIT_DETACHED {
                    if let Some(d) = p.detached.get_mut(ev.actor.index()) {
                        *d = Some(ev.loc);
                    }
                }
            }
            EventKind::Spawn | EventKind::TaskCreate => {
                if let Some(s) = p.spawned_at.get_mut(ev.target as usize) {
                    *s = Some(ev.loc);
                }
            }
            _ => {}
        }
    }
    progress("analyzing", total, total);
    p.analysis = analyzer.finish(tables);
    Ok(p)
}

/// Explains `trace`. `trace_arg` is how the user named the file (for the
/// commands the report suggests). `progress(phase, done, total)` is called
/// now and then during the passes over the events.
pub fn explain(
    trace: &TraceFile,
    trace_arg: &str,
    progress: &mut dyn FnMut(&'static str, u64, u64),
) -> Result<Explanation, FormatError> {
    let tables = trace.tables();
    let header = trace.header();
    let failure = Failure::of(trace);
    let depths = rank::frame_depths(tables, &failure);
    let fp = first_pass(trace, &depths, progress)?;
    let ranked = rank::rank(&fp.analysis, tables, &depths, &fp.touches, &failure);

    // What the second pass looks at: the most relevant finding's events,
    // and the state of the actors at each detailed race's accesses.
    let mut focus = Focus::default();
    for (i, r) in ranked.iter().take(DETAILED).enumerate() {
        match r.finding {
            RankedKind::Race { group, pair } => {
                let g = &fp.analysis.races[group];
                let p = &g.pairs[pair];
                focus.watch.extend([p.first.event, p.second.event]);
                if i == 0 {
                    focus.anchors.extend([p.first.event, p.second.event]);
                    focus.keys.extend([g.key.0, p.first.key.0, p.second.key.0]);
                    if tables
                        .keys
                        .get(g.key.index())
                        .is_some_and(|k| k.member_kind == racetrace_formats::MemberKind::Whole)
                    {
                        focus.objects.extend(g.object.map(|o| o.0));
                    }
                    focus.actors.extend([p.first.actor.0, p.second.actor.0]);
                    focus.follow = Some((
                        p.first.event.max(p.second.event),
                        vec![p.first.actor.0, p.second.actor.0],
                    ));
                }
            }
            RankedKind::PotentialDeadlock { index } if i == 0 => {
                let d = &fp.analysis.deadlocks[index];
                for e in &d.edges {
                    focus.anchors.extend([e.held_event, e.acquire_event]);
                    focus.actors.insert(e.actor.0);
                }
                focus.locks.extend(d.locks.iter().map(|l| l.obj.0));
            }
            RankedKind::PotentialDeadlock { .. } => {}
        }
    }
    focus.anchors.extend(fp.last_on_failing_line);
    focus.anchors.sort_unstable();
    focus.anchors.dedup();
    let total = trace.event_count();
    let mut win = window::collect(trace, &focus, &mut |done| {
        progress("collecting steps", done, total)
    })?;
    progress("collecting steps", total, total);

    let mut sources = Sources::new(trace);
    let highlighted: Vec<u64> = match ranked.first().map(|r| &r.finding) {
        Some(RankedKind::Race { group, pair }) => {
            let p = &fp.analysis.races[*group].pairs[*pair];
            vec![p.first.event, p.second.event]
        }
        Some(RankedKind::PotentialDeadlock { index }) => fp.analysis.deadlocks[*index]
            .edges
            .iter()
            .map(|e| e.acquire_event)
            .collect(),
        None => Vec::new(),
    };
    for s in &mut win.steps {
        let (text, changed) = sources.line(&s.file, s.line);
        s.source = text.map(|t| t.trim().to_string());
        s.changed = changed;
        s.highlighted = highlighted.contains(&s.event);
    }
    let edges = order::shown_edges(&win.steps);

    let actor_name = |a: ActorId| tables.actor_display(a);
    let stack_of = |actor: ActorId| -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = Some(actor);
        let mut guard = 0;
        while let Some(a) = cur {
            guard += 1;
            if guard > 64 {
                break;
            }
            let desc = tables.actors.get(a.index());
            let parent = desc.and_then(|d| d.parent);
            match (parent, fp.spawned_at.get(a.index()).copied().flatten()) {
                (Some(p), Some(loc)) => out.push(format!(
                    "{} was started by {} at {}",
                    actor_name(a),
                    actor_name(p),
                    tables.loc_display(loc)
                )),
                (Some(p), None) => out.push(format!(
                    "{} was started by {}",
                    actor_name(a),
                    actor_name(p)
                )),
                (None, _) => out.push(format!(
                    "{} (the {})",
                    actor_name(a),
                    if a.0 == 0 {
                        "main actor"
                    } else {
                        "thread was already running when recording started"
                    }
                )),
            }
            cur = parent;
        }
        out
    };

    let mut findings = Vec::new();
    for (i, r) in ranked.iter().enumerate() {
        let detail = match r.finding {
            RankedKind::Race { group, pair } => {
                let g = &fp.analysis.races[group];
                let p = &g.pairs[pair];
                let mut side = |a: &crate::races::AccessInfo| -> Side {
                    let (file, line, _) = window::loc_parts(tables, a.loc);
                    let (text, changed) = if i < DETAILED {
                        sources.line(&file, line)
                    } else {
                        (None, false)
                    };
                    let mut stack = vec![format!(
                        "{} ({}) in {}",
                        if a.function.is_empty() {
                            "?"
                        } else {
                            &a.function
                        },
                        a.location,
                        a.actor_name
                    )];
                    stack.extend(stack_of(a.actor));
                    Side {
                        event: a.event,
                        actor: a.actor,
                        actor_name: a.actor_name.clone(),
                        kind: a.kind.name(),
                        key_name: a.key_name.clone(),
                        location: a.location.clone(),
                        file,
                        line,
                        function: a.function.clone(),
                        source: text.map(|t| t.trim().to_string()),
                        changed,
                        stack,
                        state: win.states.get(&a.event).cloned().unwrap_or_default(),
                        test: trace.mark_at(a.event).map(window::test_of_mark),
                    }
                };
                let first = side(&p.first);
                let second = side(&p.second);
                let why = order::why_unordered(&first, &second, i < DETAILED);
                Detail::Race {
                    key_name: g.key_name.clone(),
                    class: g.class,
                    pairs: g.pairs.len(),
                    occurrences: g.occurrences,
                    first: Box::new(first),
                    second: Box::new(second),
                    why_unordered: why,
                }
            }
            RankedKind::PotentialDeadlock { index } => {
                let d = &fp.analysis.deadlocks[index];
                let mut src = |loc: LocId| {
                    let (file, line, _) = window::loc_parts(tables, loc);
                    sources.line(&file, line).0.map(|t| t.trim().to_string())
                };
                Detail::PotentialDeadlock {
                    locks: d.locks.iter().map(|l| l.name.clone()).collect(),
                    edges: d
                        .edges
                        .iter()
                        .map(|e| DeadlockEdge {
                            actor_name: e.actor_name.clone(),
                            held: e.held.name.clone(),
                            acquired: e.acquired.name.clone(),
                            held_location: e.held_location.clone(),
                            acquire_location: e.acquire_location.clone(),
                            held_source: src(e.held_loc),
                            acquire_source: src(e.acquire_loc),
                            held_event: e.held_event,
                            acquire_event: e.acquire_event,
                        })
                        .collect(),
                }
            }
        };
        findings.push(Finding {
            rank: i + 1,
            score: r.score,
            relevance: r.relevance.clone(),
            detail,
        });
    }

    // The failing line's source too, so its file's status is known.
    if let Some(f) = &failure.failing {
        sources.line(&f.file, f.line);
    }
    let complete = trace.truncation().is_none();
    let actors: Vec<ActorSummary> = tables
        .actors
        .iter()
        .enumerate()
        .map(|(i, a)| ActorSummary {
            id: ActorId(i as u32),
            name: tables.actor_display(ActorId(i as u32)),
            parent: a.parent.map(actor_name),
            started_at: fp.spawned_at[i].map(|l| tables.loc_display(l)),
            events: fp.per_actor[i],
            running_at_end: complete && !fp.exited[i],
            detached_at: fp.detached[i].map(|l| tables.loc_display(l)),
        })
        .collect();
    let mut incomplete = Vec::new();
    if let Some(t) = trace.truncation() {
        incomplete.push(format!(
            "TRUNCATED at offset {}: {} ({} complete chunk{}): the process ended before the trace was closed (killed, or crashed); its last moments are missing",
            t.offset,
            t.reason,
            t.complete_chunks,
            if t.complete_chunks == 1 { "" } else { "s" }
        ));
    }
    for a in &actors {
        if a.running_at_end {
            incomplete.push(format!(
                "{} was still running when recording stopped: what it did afterwards is not in the trace",
                a.name
            ));
        }
        if let Some(at) = &a.detached_at {
            incomplete.push(format!(
                "{} was no longer recorded after {at} (its trace function was replaced)",
                a.name
            ));
        }
    }
    if failure.kind == "aborted" {
        incomplete.push(format!("the run was stopped: {}", failure.message));
    }

    let reproduce = Reproduce::of(&header.program, trace_arg);
    let test = reproduce.test.clone().or_else(|| {
        highlighted
            .first()
            .and_then(|&e| trace.mark_at(e))
            .map(window::test_of_mark)
    });
    Ok(Explanation {
        file: trace.path().to_string(),
        program: header.program.clone(),
        mode: crate::report::mode_name(header.mode),
        python_version: header.python_version.clone(),
        racetrace_version: header.racetrace_version.clone(),
        format_version: header.format_version,
        test,
        events: fp.analysis.events,
        actors,
        incomplete,
        outcome: failure,
        race_count: fp.analysis.races.len(),
        deadlock_count: fp.analysis.deadlocks.len(),
        findings,
        await_violations: fp.analysis.await_violations.clone(),
        steps: win.steps,
        skipped_after: win.skipped_after,
        lost_update: win.lost_update,
        edges,
        sources: sources
            .statuses()
            .into_iter()
            .map(|(file, status)| SourceInfo { file, status })
            .collect(),
        reproduce,
    })
}

/// A lost update in words.
pub fn lost_update_words(l: &LostUpdate) -> String {
    format!(
        "lost update: {} read {} at {} (event {}), {} then wrote it (event {}), and {} wrote it at {} (event {}) without reading it again: if that write used the value read before, the update in between is lost",
        l.reader,
        l.key,
        l.read_location,
        l.read,
        l.other,
        l.other_write,
        l.reader,
        l.stale_location,
        l.stale_write
    )
}

/// Explains the trace at `path` and returns the JSON of `racetrace explain
/// --json` (no progress shown); the error is the CLI's one-line message.
pub fn explain_file_json(path: &str) -> Result<String, String> {
    let trace = TraceFile::open(std::path::Path::new(path)).map_err(|e| e.to_string())?;
    let x = explain(&trace, path, &mut |_, _, _| {}).map_err(|e| e.to_string())?;
    serde_json::to_string(&x).map_err(|e| e.to_string())
}
