//! The happens-before graph of *segments*: maximal runs of one actor's events
//! between synchronization operations, linked by program order and by the
//! synchronization edges of `sync::effect` (the same ones the vector clocks
//! use).
//!
//! An acquire-like event (lock acquire, wait, get, join, barrier leave, an
//! actor's first event) *starts* a segment, so the incoming edge points at
//! the segment it orders; any other synchronization event *ends* its segment,
//! so an outgoing edge leaves from the segment it publishes. Accesses never
//! split segments. The graph grows with synchronization events (it is the
//! graph); it is for export and queries, not for the streaming analyses.

use petgraph::algo::has_path_connecting;
use petgraph::graph::{DiGraph, NodeIndex};
use racetrace_formats::{ActorId, Event, EventKind, FormatError, LocId, Tables, TraceFile};
use serde::Serialize;

use crate::sync::{self, Channel, ChannelStore, ChannelValue, EdgeKind, SyncEffect};

/// A run of one actor's events with no synchronization inside (it may begin
/// with an acquire-like event and end with a release-like one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Segment {
    pub actor: ActorId,
    /// Index of the first and last event (inclusive).
    pub first_event: u64,
    pub last_event: u64,
    /// Number of events in the segment (the actor's events only).
    pub events: u64,
    pub first_loc: LocId,
    pub last_loc: LocId,
    pub first_kind: EventKind,
    pub last_kind: EventKind,
}

/// Why the source segment happens before the target: the edge kind and the
/// two events it connects (for program order: the source's last event and
/// the target's first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct HbEdge {
    pub kind: EdgeKind,
    pub from_event: u64,
    pub to_event: u64,
}

/// The segment graph of one trace.
#[derive(Clone, Debug, Default)]
pub struct HbGraph {
    pub graph: DiGraph<Segment, HbEdge>,
    /// Number of events the graph covers.
    pub events: u64,
    /// Each actor's segments in trace order, for look-ups by event.
    by_actor: Vec<Vec<NodeIndex>>,
}

impl HbGraph {
    /// Builds the graph from a trace's events in order.
    pub fn build(events: impl IntoIterator<Item = Event>) -> HbGraph {
        let mut b = GraphBuilder::new();
        for ev in events {
            b.on_event(&ev);
        }
        b.finish()
    }

    /// Builds the graph of a trace file; a decode error is returned as is.
    pub fn build_file(file: &TraceFile) -> Result<HbGraph, FormatError> {
        let mut b = GraphBuilder::new();
        for ev in file.events() {
            b.on_event(&ev?);
        }
        Ok(b.finish())
    }

    pub fn segments(&self) -> usize {
        self.graph.node_count()
    }

    /// The segment of `actor` that contains event `index`, if any. (Segments
    /// of different actors interleave, so the actor is needed.)
    pub fn segment_of(&self, actor: ActorId, index: u64) -> Option<NodeIndex> {
        let segs = self.by_actor.get(actor.index())?;
        // An actor's segments are disjoint and in trace order.
        let i = segs.partition_point(|&n| self.graph[n].last_event < index);
        segs.get(i)
            .copied()
            .filter(|&n| self.graph[n].first_event <= index)
    }

    /// The segments of `actor`, in trace order.
    pub fn actor_segments(&self, actor: ActorId) -> &[NodeIndex] {
        self.by_actor
            .get(actor.index())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Whether segment `a` happens before segment `b` (a path of edges).
    pub fn happens_before(&self, a: NodeIndex, b: NodeIndex) -> bool {
        a != b && has_path_connecting(&self.graph, a, b, None)
    }

    /// Number of edges of each kind, in `EdgeKind` order of first appearance.
    pub fn edge_counts(&self) -> Vec<(EdgeKind, usize)> {
        let mut counts: Vec<(EdgeKind, usize)> = Vec::new();
        for e in self.graph.edge_weights() {
            match counts.iter_mut().find(|(k, _)| *k == e.kind) {
                Some((_, n)) => *n += 1,
                None => counts.push((e.kind, 1)),
            }
        }
        counts
    }

    /// Number of actors (one more than the highest actor id with events).
    pub fn actor_count(&self) -> usize {
        self.by_actor.len()
    }
}

/// Release-side sources waiting in a channel: (actor, segment, event).
#[derive(Default)]
struct Sources(Vec<(u32, NodeIndex, u64, EdgeKind)>);

impl ChannelValue for Sources {
    fn reset(&mut self) {
        self.0.clear();
    }
}

/// Push-style graph construction.
pub struct GraphBuilder {
    graph: DiGraph<Segment, HbEdge>,
    /// The open segment of each actor (accepting more events).
    open: Vec<Option<NodeIndex>>,
    /// The latest segment of each actor, open or closed.
    last: Vec<Option<NodeIndex>>,
    started: Vec<bool>,
    channels: ChannelStore<Sources>,
    next_index: u64,
}

impl Default for GraphBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl GraphBuilder {
    pub fn new() -> Self {
        GraphBuilder {
            graph: DiGraph::new(),
            open: Vec::new(),
            last: Vec::new(),
            started: Vec::new(),
            channels: ChannelStore::new(),
            next_index: 0,
        }
    }

    pub fn on_event(&mut self, ev: &Event) {
        let index = self.next_index;
        self.next_index += 1;
        let a = ev.actor.index();
        if a >= self.started.len() {
            self.started.resize(a + 1, false);
            self.open.resize(a + 1, None);
            self.last.resize(a + 1, None);
        }
        let first = !self.started[a];
        self.started[a] = true;
        let eff = if ev.kind.is_access() {
            SyncEffect::None
        } else {
            sync::effect(ev)
        };
        if eff.is_acquire() || first {
            self.open[a] = None;
        }
        let node = match self.open[a] {
            Some(n) => {
                let s = &mut self.graph[n];
                s.last_event = index;
                s.last_loc = ev.loc;
                s.last_kind = ev.kind;
                s.events += 1;
                n
            }
            None => self.new_segment(ev, index),
        };
        if first {
            self.incoming(Channel::Start(ev.actor), node, index, a as u32);
        }
        match eff {
            SyncEffect::None => {}
            SyncEffect::Acquire(ch, _) => self.incoming(ch, node, index, a as u32),
            SyncEffect::JoinActor(child, kind) => {
                if let Some(Some(src)) = self.last.get(child.index()).copied() {
                    if child.index() != a {
                        self.edge_from_end(src, node, kind, index);
                    }
                }
            }
            SyncEffect::Release(ch, kind) => {
                let sources = self.channels.publish(ch);
                // A lock's releases are totally ordered: the latest one
                // carries all earlier ones. Other channels keep the latest
                // release of each actor.
                if ev.kind == EventKind::LockRelease {
                    sources.0.clear();
                } else {
                    sources.0.retain(|s| s.0 != a as u32);
                }
                sources.0.push((a as u32, node, index, kind));
            }
            SyncEffect::Reset(ch) => self.channels.reset(ch),
        }
        if !ev.kind.is_access() && !eff.is_acquire() {
            self.open[a] = None;
        }
    }

    fn new_segment(&mut self, ev: &Event, index: u64) -> NodeIndex {
        let a = ev.actor.index();
        let n = self.graph.add_node(Segment {
            actor: ev.actor,
            first_event: index,
            last_event: index,
            events: 1,
            first_loc: ev.loc,
            last_loc: ev.loc,
            first_kind: ev.kind,
            last_kind: ev.kind,
        });
        if let Some(prev) = self.last[a] {
            self.edge_from_end(prev, n, EdgeKind::ProgramOrder, index);
        }
        self.open[a] = Some(n);
        self.last[a] = Some(n);
        n
    }

    /// An edge from the last event of segment `src` to event `to_event` of
    /// `dst`.
    fn edge_from_end(&mut self, src: NodeIndex, dst: NodeIndex, kind: EdgeKind, to_event: u64) {
        let from_event = self.graph[src].last_event;
        self.graph.add_edge(
            src,
            dst,
            HbEdge {
                kind,
                from_event,
                to_event,
            },
        );
    }

    fn incoming(&mut self, ch: Channel, node: NodeIndex, index: u64, actor: u32) {
        let graph = &mut self.graph;
        self.channels.acquire(ch, |sources| {
            for &(src_actor, src, from_event, kind) in
                sources.map(|s| s.0.as_slice()).unwrap_or(&[])
            {
                if src_actor == actor {
                    continue; // program order already covers it
                }
                graph.add_edge(
                    src,
                    node,
                    HbEdge {
                        kind,
                        from_event,
                        to_event: index,
                    },
                );
            }
        });
    }

    pub fn finish(self) -> HbGraph {
        let mut by_actor: Vec<Vec<NodeIndex>> = vec![Vec::new(); self.started.len()];
        for n in self.graph.node_indices() {
            by_actor[self.graph[n].actor.index()].push(n);
        }
        HbGraph {
            graph: self.graph,
            events: self.next_index,
            by_actor,
        }
    }
}

/// Human-readable one-line description of a segment:
/// `T1 (worker) events 4..9 app.py:10 .. app.py:12`.
pub fn segment_label(seg: &Segment, tables: &Tables) -> String {
    if seg.first_event == seg.last_event {
        format!(
            "{} event {} {} {}",
            tables.actor_display(seg.actor),
            seg.first_event,
            seg.first_kind.name(),
            tables.loc_display(seg.first_loc)
        )
    } else {
        format!(
            "{} events {}..{} {} .. {}",
            tables.actor_display(seg.actor),
            seg.first_event,
            seg.last_event,
            tables.loc_display(seg.first_loc),
            tables.loc_display(seg.last_loc)
        )
    }
}
