//! Lock-order analysis: potential deadlocks from inconsistent lock ordering,
//! whether or not the recorded run deadlocked.
//!
//! Over the whole trace we build a graph over locks with an edge A→B whenever
//! an actor acquires B while holding A. A cycle whose edges come from pairwise
//! different actors is a potential deadlock (each actor could stop holding its
//! first lock while waiting for the next), unless a *gate* lock was held by
//! every one of those actors before it took the edge's first lock: the gate
//! serialises them, so the cycle cannot close.
//!
//! A cycle is also dropped when thread creation and joining alone order two
//! of its edges (one actor's request is over before the other actor took its
//! first lock, e.g. `t1.start(); t1.join(); t2.start()`): those two can never
//! hold their locks at the same time, whatever the schedule. Lock edges do
//! not count for that, since a different schedule could reverse them.
//!
//! Only `Lock`/`RLock` acquires (`LockAcquire`) take part; an RLock re-entry
//! (recursion depth > 1) is not a new acquire. Work is done only at
//! synchronization events, and memory is per lock pair, bounded per pair.

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use racetrace_formats::{ActorId, Event, EventKind, LocId, ObjId, Tables};
use serde::Serialize;

use crate::clock::{Epoch, VClock};
use crate::fasthash::{IdMap, IdSet};
use crate::sync::{self, Channel, ChannelStore, SyncEffect};

/// Witnesses kept per lock pair beyond the first one of each actor.
const MAX_WITNESSES_PER_EDGE: usize = 32;
/// Longest cycle searched for (deadlocks among more actors are rare and the
/// search is exponential in the length).
const MAX_CYCLE_LEN: usize = 6;
/// Upper bound on cycles examined, to keep pathological traces fast.
const MAX_CYCLES: usize = 1000;
/// Upper bound on search steps (cycle enumeration plus witness choice).
const MAX_STEPS: usize = 1_000_000;

#[derive(Clone, Copy)]
struct Held {
    lock: u32,
    loc: u32,
    index: u64,
    /// The actor's fork-join generation when it took the lock.
    fj_gen: u32,
}

/// One occurrence of "acquire `to` while holding `from`".
#[derive(Clone, Debug)]
struct Witness {
    actor: u32,
    held_loc: u32,
    held_event: u64,
    acquire_loc: u32,
    acquire_event: u64,
    /// Locks the actor held before it took `from`, sorted.
    gates: Vec<u32>,
    /// Fork-join time of the request for `to`.
    request: Epoch,
    /// Fork-join clock when `from` was taken (`None` if the actor joined
    /// something in between and that clock is gone: then no filtering).
    held_clock: Option<VClock>,
}

struct LockEdge {
    from: u32,
    to: u32,
    witnesses: Vec<Witness>,
}

/// Happens-before through thread/task creation and join only.
#[derive(Default)]
struct ForkJoin {
    clocks: Vec<VClock>,
    /// Bumped whenever an actor's clock takes in another's (start, join).
    generation: Vec<u32>,
    started: Vec<bool>,
    starts: ChannelStore<VClock>,
}

impl ForkJoin {
    fn on_event(&mut self, ev: &Event) {
        let a = ev.actor.index();
        if a >= self.clocks.len() {
            self.clocks.resize_with(a + 1, VClock::new);
            self.generation.resize(a + 1, 0);
            self.started.resize(a + 1, false);
        }
        if !self.started[a] {
            self.started[a] = true;
            self.clocks[a].set(ev.actor.0, 1);
            let mine = &mut self.clocks[a];
            self.starts.acquire(Channel::Start(ev.actor), |v| {
                if let Some(v) = v {
                    mine.join(v);
                }
            });
            self.generation[a] += 1;
        }
        match sync::effect(ev) {
            SyncEffect::Release(ch @ Channel::Start(_), _) => {
                self.starts.publish(ch).join(&self.clocks[a]);
                self.clocks[a].tick(ev.actor.0);
            }
            SyncEffect::JoinActor(child, _)
                if child.index() < self.clocks.len() && child.index() != a =>
            {
                let theirs = self.clocks[child.index()].clone();
                self.clocks[a].join(&theirs);
                self.generation[a] += 1;
            }
            _ => {}
        }
    }
}

/// Streaming lock-order graph builder. Feed every event (accesses may be
/// skipped); `finish` finds the cycles.
#[derive(Default)]
pub struct LockOrder {
    held: Vec<Vec<Held>>,
    fj: ForkJoin,
    edge_of: IdMap<(u32, u32), u32>,
    edges: Vec<LockEdge>,
    /// (edge, actor, held loc, acquire loc, gates hash) already recorded.
    witness_seen: IdSet<(u32, u32, u32, u32, u64)>,
}

impl LockOrder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `ev` if it is a lock acquire or release; ignores anything else.
    #[inline]
    pub fn on_event(&mut self, index: u64, ev: &Event) {
        if ev.kind.is_access() {
            return;
        }
        self.fj.on_event(ev);
        match ev.kind {
            EventKind::LockAcquire if ev.aux <= 1 => self.acquire(index, ev),
            EventKind::LockRelease if ev.aux <= 1 => self.release(ev),
            _ => {}
        }
    }

    fn acquire(&mut self, index: u64, ev: &Event) {
        let a = ev.actor.index();
        if a >= self.held.len() {
            self.held.resize_with(a + 1, Vec::new);
        }
        let lock = ev.target;
        let held = std::mem::take(&mut self.held[a]);
        for (i, h) in held.iter().enumerate() {
            if h.lock == lock {
                continue;
            }
            self.add_witness(h, i, &held, ev, index);
        }
        self.held[a] = held;
        self.held[a].push(Held {
            lock,
            loc: ev.loc.0,
            index,
            fj_gen: self.fj.generation[a],
        });
    }

    fn add_witness(&mut self, h: &Held, pos: usize, held: &[Held], ev: &Event, index: u64) {
        let key = (h.lock, ev.target);
        let next = self.edges.len() as u32;
        let e = *self.edge_of.entry(key).or_insert(next);
        if e == next {
            self.edges.push(LockEdge {
                from: h.lock,
                to: ev.target,
                witnesses: Vec::new(),
            });
        }
        let mut gates: Vec<u32> = held[..pos]
            .iter()
            .map(|g| g.lock)
            .filter(|&g| g != h.lock && g != ev.target)
            .collect();
        gates.sort_unstable();
        gates.dedup();
        let gates_hash = gates.iter().fold(0xcbf2_9ce4_8422_2325u64, |acc, &g| {
            (acc ^ g as u64).wrapping_mul(0x1000_0000_01b3)
        });
        if !self
            .witness_seen
            .insert((e, ev.actor.0, h.loc, ev.loc.0, gates_hash))
        {
            return;
        }
        let edge = &mut self.edges[e as usize];
        let actor_known = edge.witnesses.iter().any(|w| w.actor == ev.actor.0);
        // Keep every actor's first witness (cycles need distinct actors), and
        // a bounded number of further ones (other locations, other gates).
        if actor_known && edge.witnesses.len() >= MAX_WITNESSES_PER_EDGE {
            return;
        }
        let a = ev.actor.index();
        let clock = &self.fj.clocks[a];
        edge.witnesses.push(Witness {
            actor: ev.actor.0,
            held_loc: h.loc,
            held_event: h.index,
            acquire_loc: ev.loc.0,
            acquire_event: index,
            gates,
            request: Epoch::new(ev.actor, clock.get(ev.actor.0)),
            held_clock: (h.fj_gen == self.fj.generation[a]).then(|| clock.clone()),
        });
    }

    fn release(&mut self, ev: &Event) {
        if let Some(held) = self.held.get_mut(ev.actor.index()) {
            // Usually the innermost lock, but releases need not nest.
            if let Some(pos) = held.iter().rposition(|h| h.lock == ev.target) {
                held.remove(pos);
            }
        }
    }

    /// Number of distinct lock pairs (edges) seen.
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// The potential deadlocks: every elementary cycle of the lock graph (up
    /// to a bounded length and count) that some choice of witnesses from
    /// pairwise different actors with no common gate lock realises. Each
    /// cycle is reported once, rotated to start at its smallest lock id.
    pub fn finish(&self, tables: &Tables) -> Vec<PotentialDeadlock> {
        let mut graph: DiGraph<u32, u32> = DiGraph::new();
        let mut node_of: IdMap<u32, NodeIndex> = IdMap::default();
        let mut node = |g: &mut DiGraph<u32, u32>, lock: u32| {
            *node_of.entry(lock).or_insert_with(|| g.add_node(lock))
        };
        for (i, e) in self.edges.iter().enumerate() {
            let a = node(&mut graph, e.from);
            let b = node(&mut graph, e.to);
            graph.add_edge(a, b, i as u32);
        }
        let mut budget = Budget {
            steps: MAX_STEPS,
            cycles: MAX_CYCLES,
        };
        let mut found = Vec::new();
        for scc in tarjan_scc(&graph) {
            if scc.len() < 2 {
                continue;
            }
            let mut members: Vec<NodeIndex> = scc;
            members.sort_by_key(|n| graph[*n]);
            let in_scc: IdSet<NodeIndex> = members.iter().copied().collect();
            for (i, &start) in members.iter().enumerate() {
                // Cycles whose smallest lock is `start`: only visit larger ones.
                let allowed: IdSet<NodeIndex> = members[i + 1..].iter().copied().collect();
                let mut path_edges = Vec::new();
                let mut on_path = IdSet::default();
                self.cycles_from(
                    &graph,
                    start,
                    start,
                    &allowed,
                    &in_scc,
                    &mut path_edges,
                    &mut on_path,
                    &mut budget,
                    &mut |edges: &[u32], budget: &mut Budget| {
                        if let Some(choice) = self.realise(edges, budget) {
                            found.push(self.report(tables, edges, &choice));
                        }
                    },
                );
                if budget.exhausted() {
                    break;
                }
            }
        }
        found
    }

    #[allow(clippy::too_many_arguments)]
    fn cycles_from(
        &self,
        graph: &DiGraph<u32, u32>,
        start: NodeIndex,
        at: NodeIndex,
        allowed: &IdSet<NodeIndex>,
        in_scc: &IdSet<NodeIndex>,
        path: &mut Vec<u32>,
        on_path: &mut IdSet<NodeIndex>,
        budget: &mut Budget,
        emit: &mut dyn FnMut(&[u32], &mut Budget),
    ) {
        for edge in graph.edges(at) {
            if budget.exhausted() {
                return;
            }
            budget.steps -= 1;
            use petgraph::visit::EdgeRef;
            let next = edge.target();
            if !in_scc.contains(&next) {
                continue;
            }
            path.push(*edge.weight());
            if next == start {
                budget.cycles -= 1;
                emit(path, budget);
            } else if allowed.contains(&next)
                && !on_path.contains(&next)
                && path.len() < MAX_CYCLE_LEN
            {
                on_path.insert(next);
                self.cycles_from(
                    graph, start, next, allowed, in_scc, path, on_path, budget, emit,
                );
                on_path.remove(&next);
            }
            path.pop();
        }
    }

    /// Picks one witness per edge: pairwise different actors, no lock held
    /// as a gate by all of them.
    fn realise(&self, cycle: &[u32], budget: &mut Budget) -> Option<Vec<usize>> {
        let mut choice = Vec::with_capacity(cycle.len());
        if self.choose(cycle, &mut choice, None, budget) {
            Some(choice)
        } else {
            None
        }
    }

    fn choose(
        &self,
        cycle: &[u32],
        choice: &mut Vec<usize>,
        common_gates: Option<&[u32]>,
        budget: &mut Budget,
    ) -> bool {
        let depth = choice.len();
        if depth == cycle.len() {
            return match common_gates {
                None => true,
                Some(g) => g.is_empty(),
            };
        }
        let edge = &self.edges[cycle[depth] as usize];
        for (wi, w) in edge.witnesses.iter().enumerate() {
            if budget.steps == 0 {
                return false;
            }
            budget.steps -= 1;
            let clash = choice.iter().zip(cycle).any(|(&c, &e)| {
                let other = &self.edges[e as usize].witnesses[c];
                other.actor == w.actor || fork_join_ordered(w, other)
            });
            if clash {
                continue;
            }
            let gates: Vec<u32> = match common_gates {
                None => w.gates.clone(),
                Some(g) => g.iter().copied().filter(|x| w.gates.contains(x)).collect(),
            };
            choice.push(wi);
            if self.choose(cycle, choice, Some(&gates), budget) {
                return true;
            }
            choice.pop();
        }
        false
    }

    fn report(&self, tables: &Tables, cycle: &[u32], choice: &[usize]) -> PotentialDeadlock {
        let edges: Vec<LockOrderEdge> = cycle
            .iter()
            .zip(choice)
            .map(|(&e, &c)| {
                let edge = &self.edges[e as usize];
                let w = &edge.witnesses[c];
                LockOrderEdge {
                    held: LockRef::new(tables, edge.from),
                    acquired: LockRef::new(tables, edge.to),
                    actor: ActorId(w.actor),
                    actor_name: tables.actor_display(ActorId(w.actor)),
                    held_event: w.held_event,
                    held_loc: LocId(w.held_loc),
                    held_location: tables.loc_display(LocId(w.held_loc)),
                    acquire_event: w.acquire_event,
                    acquire_loc: LocId(w.acquire_loc),
                    acquire_location: tables.loc_display(LocId(w.acquire_loc)),
                }
            })
            .collect();
        PotentialDeadlock {
            locks: edges.iter().map(|e| e.held.clone()).collect(),
            edges,
        }
    }
}

/// Whether creation/join order alone keeps the two witnesses from holding
/// their first locks at the same time: one's request happened before the
/// other took its held lock.
fn fork_join_ordered(a: &Witness, b: &Witness) -> bool {
    let before = |x: &Witness, y: &Witness| y.held_clock.as_ref().is_some_and(|c| x.request.hb(c));
    before(a, b) || before(b, a)
}

struct Budget {
    steps: usize,
    cycles: usize,
}

impl Budget {
    fn exhausted(&self) -> bool {
        self.steps == 0 || self.cycles == 0
    }
}

/// A lock, by object id and readable name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LockRef {
    pub obj: ObjId,
    pub name: String,
}

impl LockRef {
    fn new(tables: &Tables, obj: u32) -> Self {
        LockRef {
            obj: ObjId(obj),
            name: tables.object_display(ObjId(obj)),
        }
    }
}

/// One edge of a cycle: `actor` acquired `acquired` at `acquire_location`
/// while holding `held`, which it had acquired at `held_location`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LockOrderEdge {
    pub held: LockRef,
    pub acquired: LockRef,
    pub actor: ActorId,
    pub actor_name: String,
    pub held_event: u64,
    pub held_loc: LocId,
    pub held_location: String,
    pub acquire_event: u64,
    pub acquire_loc: LocId,
    pub acquire_location: String,
}

/// A cycle in the lock-order graph that different actors could close at the
/// same time. `locks[i]` is held by `edges[i].actor` while it acquires
/// `locks[i + 1]` (wrapping around).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PotentialDeadlock {
    pub locks: Vec<LockRef>,
    pub edges: Vec<LockOrderEdge>,
}
