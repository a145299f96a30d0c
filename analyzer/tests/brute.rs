//! The race detector against a brute-force reference on small random traces.
//!
//! The reference computes, for every event, the full set of events that
//! happen before it (program order plus every synchronization edge, found by
//! scanning the trace), and compares every pair of conflicting accesses.
//! FastTrack reports a subset of racing *pairs*, so we check that (1) the set
//! of racy keys is the same and (2) every reported pair really races. The
//! segment graph is checked against the same reference: a path between two
//! events' segments exactly when one happens before the other.

mod common;

use common::{Trace, MAIN};
use proptest::prelude::*;
use racetrace_analyzer::graph::HbGraph;
use racetrace_formats::{ActorId, Event, EventKind, KeyId, MemberKind, ObjKind};
use std::collections::BTreeSet;

struct Sim {
    t: Trace,
    keys: Vec<KeyId>,
    whole: KeyId,
    locks: [u32; 2],
    event_obj: u32,
    queue: u32,
    cond: u32,
    started: Vec<bool>,
    exited: Vec<bool>,
    joined: Vec<bool>,
    held: Vec<Vec<u32>>,
    lock_owner: [Option<usize>; 2],
    event_set: bool,
    queue_items: std::collections::VecDeque<u64>,
    next_token: u64,
    notifies: u32,
}

const MAX_ACTORS: usize = 4;

impl Sim {
    fn new() -> Sim {
        let mut t = Trace::new();
        let a = t.object(ObjKind::Instance, "A");
        let kx = t.key(a, MemberKind::Attr, "x");
        let ky = t.key(a, MemberKind::Attr, "y");
        let items = t.object(ObjKind::List, "items");
        let whole = t.key(items, MemberKind::Whole, "");
        let i0 = t.key(items, MemberKind::Item, "0");
        let i1 = t.key(items, MemberKind::Item, "1");
        let l0 = t.lock("l0").0;
        let l1 = t.lock("l1").0;
        let event_obj = t.object(ObjKind::Event, "ev").0;
        let queue = t.object(ObjKind::Queue, "q").0;
        let cond = t.object(ObjKind::Condition, "cond").0;
        for line in 0..16 {
            t.line(line);
        }
        Sim {
            t,
            keys: vec![kx, ky, whole, i0, i1],
            whole,
            locks: [l0, l1],
            event_obj,
            queue,
            cond,
            started: vec![true],
            exited: vec![false],
            joined: vec![false],
            held: vec![vec![]],
            lock_owner: [None, None],
            event_set: false,
            queue_items: Default::default(),
            next_token: 1,
            notifies: 0,
        }
    }

    fn emit(&mut self, a: usize, kind: EventKind, target: u32, aux: u64, line: u8) {
        let loc = racetrace_formats::LocId((line % 16) as u32);
        self.t.event(ActorId(a as u32), kind, loc, target, aux);
    }

    // `%` rather than `is_multiple_of`, which is newer than the workspace's
    // minimum Rust version.
    #[allow(clippy::manual_is_multiple_of)]
    fn step(&mut self, pick: u8, op: u8, arg: u8) {
        let alive: Vec<usize> = (0..self.started.len())
            .filter(|&a| !self.exited[a])
            .collect();
        let a = alive[pick as usize % alive.len()];
        if !self.started[a] {
            self.started[a] = true;
            self.emit(a, EventKind::ActorStart, a as u32, 0, arg);
            return;
        }
        use EventKind::*;
        match op % 14 {
            0 | 1 => {
                let k = self.keys[arg as usize % self.keys.len()];
                self.emit(a, Read, k.0, 0, op ^ arg);
            }
            2 | 3 => {
                let k = self.keys[arg as usize % self.keys.len()];
                self.emit(a, Write, k.0, 0, op ^ arg);
            }
            4 => {
                let l = arg as usize % 2;
                if self.lock_owner[l].is_none() {
                    self.lock_owner[l] = Some(a);
                    self.held[a].push(self.locks[l]);
                    self.emit(a, LockAcquire, self.locks[l], 1, arg);
                }
            }
            5 => {
                if let Some(lock) = self.held[a].pop() {
                    let l = self.locks.iter().position(|&x| x == lock).unwrap();
                    self.lock_owner[l] = None;
                    self.emit(a, LockRelease, lock, 1, arg);
                }
            }
            6 => {
                if self.started.len() < MAX_ACTORS {
                    let child = self.started.len();
                    self.started.push(false);
                    self.exited.push(false);
                    self.joined.push(false);
                    self.held.push(vec![]);
                    let name = self.t.str("w");
                    self.t.tables.actors.push(racetrace_formats::ActorDesc {
                        kind: racetrace_formats::ActorKind::Thread,
                        name,
                        parent: Some(ActorId(a as u32)),
                        created_by_event: Some(self.t.events.len() as u64),
                    });
                    self.emit(a, Spawn, child as u32, 0, arg);
                }
            }
            7 => {
                self.event_set = true;
                self.emit(a, EventSet, self.event_obj, 0, arg);
            }
            8 => {
                if self.event_set {
                    self.emit(a, EventWait, self.event_obj, 0, arg);
                } else if arg & 1 == 0 {
                    self.emit(a, EventWaitTimeout, self.event_obj, 0, arg);
                }
                if arg % 3 == 0 {
                    self.event_set = false;
                    self.emit(a, EventClear, self.event_obj, 0, arg);
                }
            }
            9 => {
                let token = self.next_token;
                self.next_token += 1;
                self.queue_items.push_back(token);
                self.emit(a, QueuePut, self.queue, token, arg);
            }
            10 => {
                if let Some(token) = self.queue_items.pop_front() {
                    self.emit(a, QueueGet, self.queue, token, arg);
                }
            }
            11 => {
                if arg & 1 == 0 {
                    self.notifies += 1;
                    self.emit(a, CondNotify, self.cond, 1, arg);
                } else if self.notifies > 0 {
                    self.notifies -= 1;
                    self.emit(a, CondWake, self.cond, 1, arg);
                } else {
                    self.emit(a, CondWake, self.cond, 0, arg);
                }
            }
            12 => {
                if a != 0 && self.held[a].is_empty() {
                    self.exited[a] = true;
                    self.emit(a, ActorExit, a as u32, 0, arg);
                }
            }
            _ => {
                let target =
                    (0..self.started.len()).find(|&c| c != a && self.exited[c] && !self.joined[c]);
                if let Some(c) = target {
                    self.joined[c] = true;
                    self.emit(a, Join, c as u32, 0, arg);
                }
            }
        }
    }
}

/// `before[j][i]`: event `i` happens before event `j`.
fn reference_hb(events: &[Event]) -> Vec<Vec<bool>> {
    use EventKind::*;
    let n = events.len();
    let mut before = vec![vec![false; n]; n];
    for j in 0..n {
        let ej = events[j];
        let mut preds: Vec<usize> = Vec::new();
        let same_actor = |i: usize| events[i].actor == ej.actor;
        if let Some(p) = (0..j).rev().find(|&i| same_actor(i)) {
            preds.push(p);
        } else if let Some(s) = (0..j).find(|&i| {
            matches!(events[i].kind, Spawn | TaskCreate) && events[i].target == ej.actor.0
        }) {
            preds.push(s);
        }
        match ej.kind {
            LockAcquire if ej.aux <= 1 => preds.extend((0..j).filter(|&i| {
                events[i].kind == LockRelease && events[i].aux <= 1 && events[i].target == ej.target
            })),
            EventWait => {
                let from = (0..j)
                    .rev()
                    .find(|&i| events[i].kind == EventClear && events[i].target == ej.target)
                    .map_or(0, |c| c + 1);
                preds.extend(
                    (from..j)
                        .filter(|&i| events[i].kind == EventSet && events[i].target == ej.target),
                );
            }
            CondWake if ej.aux == 1 => preds.extend((0..j).filter(|&i| {
                matches!(events[i].kind, CondNotify | CondNotifyAll)
                    && events[i].target == ej.target
            })),
            QueueGet => preds.extend((0..j).filter(|&i| {
                events[i].kind == QueuePut
                    && events[i].target == ej.target
                    && events[i].aux == ej.aux
            })),
            Join | TaskAwait => {
                preds.extend((0..j).rev().find(|&i| events[i].actor.0 == ej.target));
            }
            _ => {}
        }
        for p in preds {
            before[j][p] = true;
            let (lo, hi) = before.split_at_mut(j);
            for (i, b) in lo[p].iter().enumerate() {
                if *b {
                    hi[0][i] = true;
                }
            }
        }
    }
    before
}

/// The key a race between accesses to `a` and `b` is reported under, if they
/// conflict: the same key, or a container's whole key and one of its members.
fn group(sim: &Sim, a: KeyId, b: KeyId) -> Option<KeyId> {
    let members = [sim.keys[3], sim.keys[4], sim.whole];
    if a == b {
        Some(a)
    } else if (a == sim.whole && members.contains(&b)) || (b == sim.whole && members.contains(&a)) {
        Some(sim.whole)
    } else {
        None
    }
}

fn check(steps: &[(u8, u8, u8)]) {
    let mut sim = Sim::new();
    for &(p, o, a) in steps {
        sim.step(p, o, a);
    }
    let events = &sim.t.events;
    let before = reference_hb(events);
    let mut racy: BTreeSet<KeyId> = BTreeSet::new();
    let races_between = |i: usize, j: usize| -> Option<KeyId> {
        let (a, b) = (events[i], events[j]);
        if !a.kind.is_access() || !b.kind.is_access() || a.actor == b.actor {
            return None;
        }
        if !a.kind.is_write() && !b.kind.is_write() {
            return None;
        }
        let g = group(&sim, KeyId(a.target), KeyId(b.target))?;
        let (lo, hi) = if i < j { (i, j) } else { (j, i) };
        if before[hi][lo] {
            None
        } else {
            Some(g)
        }
    };
    for j in 0..events.len() {
        for i in 0..j {
            if let Some(g) = races_between(i, j) {
                racy.insert(g);
            }
        }
    }
    // The segment graph orders exactly the events the reference orders.
    let graph = HbGraph::build(events.iter().copied());
    for j in 0..events.len() {
        for i in 0..j {
            let (a, b) = (events[i].actor, events[j].actor);
            if a == b {
                continue;
            }
            let si = graph.segment_of(a, i as u64).unwrap();
            let sj = graph.segment_of(b, j as u64).unwrap();
            assert_eq!(
                graph.happens_before(si, sj),
                before[j][i],
                "graph and reference disagree on events {i} -> {j}; trace: {events:#?}"
            );
        }
    }

    let an = sim.t.analyze();
    let reported: BTreeSet<KeyId> = an.races.iter().map(|g| g.key).collect();
    assert_eq!(reported, racy, "racy keys differ; trace: {events:#?}");
    for g in &an.races {
        for p in &g.pairs {
            let (i, j) = (p.first.event as usize, p.second.event as usize);
            assert!(i < j);
            assert_eq!(
                races_between(i, j),
                Some(g.key),
                "reported pair {i},{j} is not a race on {:?}; trace: {events:#?}",
                g.key
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn fasttrack_agrees_with_brute_force(steps in prop::collection::vec((any::<u8>(), any::<u8>(), any::<u8>()), 0..80)) {
        check(&steps);
    }
}

#[test]
fn simple_trace_through_the_reference() {
    // Sanity check of the generator and the reference themselves.
    let steps = [(0, 6, 0), (1, 0, 0), (1, 2, 0), (0, 2, 0)];
    check(&steps);
    let mut sim = Sim::new();
    for (p, o, a) in steps {
        sim.step(p, o, a);
    }
    assert_eq!(sim.t.events[0].actor, MAIN);
    assert_eq!(sim.t.analyze().races.len(), 1);
}
