//! Exports of the happens-before graph: Graphviz DOT, JSON, and the
//! Chrome/Perfetto trace-event format (opens in ui.perfetto.dev or
//! chrome://tracing).

use std::fmt::Write as _;
use std::io::{self, Write};

use petgraph::visit::EdgeRef;
use racetrace_formats::{
    ActorId, Event, FormatError, KeyId, LocId, ObjId, Tables, TargetKind, TraceFile,
};
use serde::Serialize;

use crate::graph::{segment_label, HbGraph};
use crate::sync::EdgeKind;

/// Graphviz DOT: one node per segment, grouped in a cluster per actor;
/// program-order edges are grey, synchronization edges are labelled with
/// their kind.
pub fn to_dot(graph: &HbGraph, tables: &Tables) -> String {
    let mut out = String::from("digraph hb {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n  edge [fontname=\"monospace\", fontsize=9];\n");
    let g = &graph.graph;
    for actor in 0..graph.actor_count() {
        let actor = ActorId(actor as u32);
        let _ = writeln!(
            out,
            "  subgraph cluster_{} {{\n    label={};",
            actor.0,
            dot_str(&tables.actor_display(actor))
        );
        for n in g.node_indices().filter(|&n| g[n].actor == actor) {
            let _ = writeln!(
                out,
                "    s{} [label={}];",
                n.index(),
                dot_str(&segment_label(&g[n], tables))
            );
        }
        out.push_str("  }\n");
    }
    for e in g.edge_references() {
        let w = e.weight();
        if w.kind == EdgeKind::ProgramOrder {
            let _ = writeln!(
                out,
                "  s{} -> s{} [color=grey];",
                e.source().index(),
                e.target().index()
            );
        } else {
            let _ = writeln!(
                out,
                "  s{} -> s{} [label={}, color=blue];",
                e.source().index(),
                e.target().index(),
                dot_str(w.kind.name())
            );
        }
    }
    out.push_str("}\n");
    out
}

/// A DOT string literal.
fn dot_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The graph as plain data (see [`to_json`]).
#[derive(Clone, Debug, Serialize)]
pub struct GraphJson {
    pub events: u64,
    pub actors: Vec<ActorJson>,
    pub nodes: Vec<NodeJson>,
    pub edges: Vec<EdgeJson>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ActorJson {
    pub id: ActorId,
    pub name: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct NodeJson {
    /// Index of the node, referred to by `EdgeJson::from`/`to`.
    pub id: usize,
    pub actor: ActorId,
    pub first_event: u64,
    pub last_event: u64,
    pub events: u64,
    pub first_loc: LocId,
    pub first_location: String,
    pub last_loc: LocId,
    pub last_location: String,
    pub first_kind: &'static str,
    pub last_kind: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct EdgeJson {
    pub from: usize,
    pub to: usize,
    pub kind: EdgeKind,
    pub from_event: u64,
    pub to_event: u64,
}

/// The graph as JSON-ready data: actors, nodes (segments) with their event
/// range and first/last location, edges with their kind. Serialize it with
/// `serde_json`.
pub fn to_json(graph: &HbGraph, tables: &Tables) -> GraphJson {
    let g = &graph.graph;
    GraphJson {
        events: graph.events,
        actors: (0..graph.actor_count())
            .map(|a| ActorJson {
                id: ActorId(a as u32),
                name: tables.actor_display(ActorId(a as u32)),
            })
            .collect(),
        nodes: g
            .node_indices()
            .map(|n| {
                let s = &g[n];
                NodeJson {
                    id: n.index(),
                    actor: s.actor,
                    first_event: s.first_event,
                    last_event: s.last_event,
                    events: s.events,
                    first_loc: s.first_loc,
                    first_location: tables.loc_display(s.first_loc),
                    last_loc: s.last_loc,
                    last_location: tables.loc_display(s.last_loc),
                    first_kind: s.first_kind.name(),
                    last_kind: s.last_kind.name(),
                }
            })
            .collect(),
        edges: g
            .edge_references()
            .map(|e| EdgeJson {
                from: e.source().index(),
                to: e.target().index(),
                kind: e.weight().kind,
                from_event: e.weight().from_event,
                to_event: e.weight().to_event,
            })
            .collect(),
    }
}

/// An export that reads events from a trace file can fail either way.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error(transparent)]
    Format(#[from] FormatError),
}

/// Name caches so the per-event strings are built once per key/location.
struct Names<'t> {
    tables: &'t Tables,
    keys: Vec<Option<String>>,
    objects: Vec<Option<String>>,
    locs: Vec<Option<String>>,
}

impl<'t> Names<'t> {
    fn new(tables: &'t Tables) -> Self {
        Names {
            tables,
            keys: Vec::new(),
            objects: Vec::new(),
            locs: Vec::new(),
        }
    }

    fn cached(cache: &mut Vec<Option<String>>, i: usize, make: impl FnOnce() -> String) -> &str {
        if i >= cache.len() {
            cache.resize(i + 1, None);
        }
        cache[i].get_or_insert_with(make)
    }

    fn target(&mut self, ev: &Event) -> String {
        let t = self.tables;
        match ev.kind.target_kind() {
            TargetKind::Key => Self::cached(&mut self.keys, ev.target as usize, || {
                t.key_display(KeyId(ev.target))
            })
            .to_string(),
            TargetKind::Obj => Self::cached(&mut self.objects, ev.target as usize, || {
                t.object_display(ObjId(ev.target))
            })
            .to_string(),
            TargetKind::Actor => t.actor_display(ActorId(ev.target)),
        }
    }

    fn loc(&mut self, loc: LocId) -> &str {
        let t = self.tables;
        Self::cached(&mut self.locs, loc.index(), || t.loc_display(loc))
    }
}

#[derive(Serialize)]
struct TraceEvent<'a> {
    name: &'a str,
    cat: &'a str,
    ph: &'a str,
    ts: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    dur: Option<u64>,
    pid: u32,
    tid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bp: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<Args<'a>>,
}

#[derive(Serialize)]
struct Args<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<u64>,
}

/// Writes a Chrome/Perfetto trace-event JSON document
/// (`{"traceEvents":[...]}`): one track per actor (pid 1, tid = actor id,
/// named by `thread_name` metadata), one 1 µs slice per event at
/// ts = event index µs, named `kind target` with its `file:line` in args,
/// and, when `graph` is given, a flow arrow ("s"/"f") per synchronization
/// edge. Streams: memory does not grow with the number of events beyond the
/// graph itself.
pub fn write_perfetto<W: Write>(
    out: &mut W,
    tables: &Tables,
    events: impl IntoIterator<Item = Event>,
    graph: Option<&HbGraph>,
) -> io::Result<()> {
    write_perfetto_fallible(out, tables, events.into_iter().map(Ok), graph).map_err(|e| match e {
        ExportError::Io(e) => e,
        ExportError::Format(e) => io::Error::other(e),
    })
}

/// [`write_perfetto`] over a trace file's events.
pub fn write_perfetto_file<W: Write>(
    out: &mut W,
    file: &TraceFile,
    graph: Option<&HbGraph>,
) -> Result<(), ExportError> {
    write_perfetto_fallible(out, file.tables(), file.events(), graph)
}

fn write_perfetto_fallible<W: Write>(
    out: &mut W,
    tables: &Tables,
    events: impl Iterator<Item = Result<Event, FormatError>>,
    graph: Option<&HbGraph>,
) -> Result<(), ExportError> {
    let mut names = Names::new(tables);
    out.write_all(b"{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n")?;
    let mut first = true;
    let mut emit = |out: &mut W, e: &TraceEvent| -> Result<(), ExportError> {
        if !first {
            out.write_all(b",\n")?;
        }
        first = false;
        serde_json::to_writer(&mut *out, e).map_err(io::Error::from)?;
        Ok(())
    };
    let meta =
        |name: &'static str,
         tid: u32,
         value: &str,
         out: &mut W,
         emit: &mut dyn FnMut(&mut W, &TraceEvent) -> Result<(), ExportError>| {
            emit(
                out,
                &TraceEvent {
                    name,
                    cat: "__metadata",
                    ph: "M",
                    ts: 0,
                    dur: None,
                    pid: 1,
                    tid,
                    id: None,
                    bp: None,
                    args: Some(Args {
                        name: Some(value),
                        location: None,
                        event: None,
                    }),
                },
            )
        };
    meta("process_name", 0, "racetrace", out, &mut emit)?;
    let mut named: Vec<bool> = Vec::new();
    for (index, ev) in (0u64..).zip(events) {
        let ev = ev?;
        let a = ev.actor.index();
        if a >= named.len() {
            named.resize(a + 1, false);
        }
        if !named[a] {
            named[a] = true;
            meta(
                "thread_name",
                ev.actor.0,
                &tables.actor_display(ev.actor),
                out,
                &mut emit,
            )?;
        }
        let label = format!("{} {}", ev.kind.name(), names.target(&ev));
        let cat = if ev.kind.is_access() {
            "access"
        } else {
            "sync"
        };
        let location = names.loc(ev.loc).to_string();
        emit(
            out,
            &TraceEvent {
                name: &label,
                cat,
                ph: "X",
                ts: index,
                dur: Some(1),
                pid: 1,
                tid: ev.actor.0,
                id: None,
                bp: None,
                args: Some(Args {
                    name: None,
                    location: Some(&location),
                    event: Some(index),
                }),
            },
        )?;
    }
    if let Some(graph) = graph {
        let g = &graph.graph;
        for (flow, e) in g
            .edge_references()
            .filter(|e| e.weight().kind != EdgeKind::ProgramOrder)
            .enumerate()
        {
            let w = e.weight();
            let name = w.kind.name();
            for (ph, ts, tid, bp) in [
                ("s", w.from_event, g[e.source()].actor.0, None),
                ("f", w.to_event, g[e.target()].actor.0, Some("e")),
            ] {
                emit(
                    out,
                    &TraceEvent {
                        name,
                        cat: "hb",
                        ph,
                        ts,
                        dur: None,
                        pid: 1,
                        tid,
                        id: Some(flow as u64),
                        bp,
                        args: None,
                    },
                )?;
            }
        }
    }
    out.write_all(b"\n]}\n")?;
    Ok(())
}
