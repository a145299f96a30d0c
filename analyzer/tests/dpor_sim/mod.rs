//! A tiny simulated concurrent program for testing and benchmarking the DPOR
//! engine without Python: actors are lists of operations (accesses, locks,
//! spawn/join, events, queues), run under the engine's control, plus an
//! independent brute-force count of the Mazurkiewicz classes.
//!
//! Object layout of every simulated program (the key table the engine gets):
//! object 0 is an instance with attribute keys 0..8; object 1 is a list whose
//! key 8 is the list as a whole (`len`, iteration) and keys 9..16 its items.
//! Locks, events, queues and semaphores are objects named by any number
//! (they need no table entry); a semaphore starts with its number modulo
//! 10 as its value ([`sem`]).

#![allow(dead_code)]

use std::collections::HashSet;

use racetrace_analyzer::dpor::{DporConfig, Explorer, Stats};
use racetrace_formats::{
    ActorId, Event, EventKind, KeyDesc, KeyId, LocId, MemberKind, ObjId, StrId, Tables,
};

/// Key of the whole list (conflicts with its items 9..16).
pub const WHOLE: u32 = 8;
pub const ITEM0: u32 = 9;

/// A semaphore starting at `value` (< 10); `copy` tells apart semaphores
/// with the same initial value.
pub fn sem(value: u32, copy: u32) -> u32 {
    400 + 10 * copy + value % 10
}

#[derive(Clone, Debug)]
pub enum MOp {
    Read(u32),
    Write(u32),
    Acquire(u32),
    Release(u32),
    /// Start a child running these operations (after its `Start`).
    Spawn(Vec<MOp>),
    /// A spawned actor's first step, as a thread's `ActorStart`: it
    /// touches nothing but the actor itself.
    Start,
    /// Join the n-th child this actor spawned (from 0).
    Join(usize),
    Set(u32),
    Clear(u32),
    Wait(u32),
    Put(u32),
    Get(u32),
    /// Read key `k` into the actor's register.
    Load(u32),
    /// Write the register plus one into key `k`.
    StoreInc(u32),
    /// Value-dependent control flow: read key `k` (from `k` = the given
    /// start, downwards) until one holds 0, one read per step (lastzero's
    /// scan).
    ScanDown(u32),
    /// Counting semaphore (see [`sem`]): blocks at 0.
    SemAcquire(u32),
    SemRelease(u32),
    /// `lock.acquire(blocking=False)`, or a timed acquire: never blocks;
    /// takes the lock if it is free (and releases it as its next step),
    /// else fails.
    TryAcquire(u32),
    /// `sem.acquire(timeout=...)`: the same for a semaphore.
    TrySemAcquire(u32),
    /// `event.wait(timeout)`: returns at once if set, else times out.
    TimedWait(u32),
    /// `queue.get(timeout=...)`: takes an item if there is one, else
    /// raises `Empty`.
    TimedGet(u32),
}

#[derive(Clone, Debug)]
pub struct Program {
    /// The actors running from the start (ids 0..n).
    pub actors: Vec<Vec<MOp>>,
}

pub fn tables() -> Tables {
    let mut keys = Vec::new();
    for k in 0..8 {
        keys.push(KeyDesc {
            obj: ObjId(0),
            member_kind: MemberKind::Attr,
            member: StrId(k),
        });
    }
    keys.push(KeyDesc {
        obj: ObjId(1),
        member_kind: MemberKind::Whole,
        member: StrId(0),
    });
    for k in 0..8 {
        keys.push(KeyDesc {
            obj: ObjId(1),
            member_kind: MemberKind::Item,
            member: StrId(k),
        });
    }
    Tables {
        keys,
        ..Tables::default()
    }
}

#[derive(Clone)]
struct Actor {
    ops: Vec<MOp>,
    pc: usize,
    children: Vec<u32>,
    exited: bool,
    reg: i64,
    /// The next key of a `ScanDown` in progress.
    cursor: Option<u32>,
}

/// The running state of a program.
#[derive(Clone)]
pub struct State {
    actors: Vec<Actor>,
    holder: Vec<(u32, u32)>,
    flags: Vec<u32>,
    queues: Vec<(u32, u64, u64)>,
    next_token: u64,
    /// Values of keys (0 until written by `StoreInc`).
    vals: Vec<i64>,
    /// Semaphore values (absent: its initial value).
    sems: Vec<(u32, u64)>,
}

fn ev(actor: u32, kind: EventKind, target: u32, aux: u64) -> Event {
    Event {
        actor: ActorId(actor),
        kind,
        loc: LocId(0),
        target,
        aux,
    }
}

impl State {
    pub fn new(p: &Program) -> State {
        State {
            actors: p
                .actors
                .iter()
                .map(|ops| Actor {
                    ops: ops.clone(),
                    pc: 0,
                    children: Vec::new(),
                    exited: false,
                    reg: 0,
                    cursor: None,
                })
                .collect(),
            holder: Vec::new(),
            flags: Vec::new(),
            queues: Vec::new(),
            next_token: 0,
            vals: vec![0; 32],
            sems: Vec::new(),
        }
    }

    fn sem_value(&self, s: u32) -> u64 {
        self.sems
            .iter()
            .find(|x| x.0 == s)
            .map_or(u64::from(s % 10), |x| x.1)
    }

    fn set_sem(&mut self, s: u32, v: u64) {
        match self.sems.iter_mut().find(|x| x.0 == s) {
            Some(x) => x.1 = v,
            None => self.sems.push((s, v)),
        }
    }

    /// Whether the next operation of `a` is a try or a timed wait.
    pub fn timed(&self, a: u32) -> bool {
        let act = &self.actors[a as usize];
        matches!(
            act.ops.get(act.pc),
            Some(MOp::TryAcquire(_) | MOp::TrySemAcquire(_) | MOp::TimedWait(_) | MOp::TimedGet(_))
        )
    }

    fn held(&self, l: u32) -> bool {
        self.holder.iter().any(|&(x, _)| x == l)
    }

    fn queue_len(&self, q: u32) -> u64 {
        self.queues
            .iter()
            .find(|x| x.0 == q)
            .map_or(0, |x| x.1 - x.2)
    }

    /// The next operation of `a` as an event, and whether it is enabled;
    /// `None` once the actor has exited.
    pub fn pending(&self, a: u32) -> Option<(Event, bool)> {
        let act = &self.actors[a as usize];
        if act.exited {
            return None;
        }
        let Some(op) = act.ops.get(act.pc) else {
            return Some((ev(a, EventKind::ActorExit, a, 0), true));
        };
        Some(match op {
            MOp::Read(k) => (ev(a, EventKind::Read, *k, 0), true),
            MOp::Write(k) => (ev(a, EventKind::Write, *k, 0), true),
            MOp::Acquire(l) => (ev(a, EventKind::LockAcquire, *l, 1), !self.held(*l)),
            MOp::Release(l) => (ev(a, EventKind::LockRelease, *l, 1), true),
            MOp::Spawn(_) => (ev(a, EventKind::Spawn, self.actors.len() as u32, 0), true),
            MOp::Start => (ev(a, EventKind::ActorStart, a, 0), true),
            MOp::Join(n) => {
                let c = act.children[*n];
                (ev(a, EventKind::Join, c, 0), self.actors[c as usize].exited)
            }
            MOp::Set(e) => (ev(a, EventKind::EventSet, *e, 0), true),
            MOp::Clear(e) => (ev(a, EventKind::EventClear, *e, 0), true),
            MOp::Wait(e) => (ev(a, EventKind::EventWait, *e, 0), self.flags.contains(e)),
            // The explorer is given 1 + the queue's length before each of
            // its operations (the recorder's DPOR strategy does the same).
            MOp::Put(q) => (ev(a, EventKind::QueuePut, *q, 1 + self.queue_len(*q)), true),
            MOp::Get(q) => {
                let len = self.queue_len(*q);
                (ev(a, EventKind::QueueGet, *q, 1 + len), len > 0)
            }
            MOp::Load(k) => (ev(a, EventKind::Read, *k, 0), true),
            MOp::StoreInc(k) => (ev(a, EventKind::Write, *k, 0), true),
            MOp::ScanDown(k) => (ev(a, EventKind::Read, act.cursor.unwrap_or(*k), 0), true),
            MOp::SemAcquire(s) => {
                let v = self.sem_value(*s);
                (ev(a, EventKind::SemAcquire, *s, v + 1), v > 0)
            }
            MOp::SemRelease(s) => (
                ev(a, EventKind::SemRelease, *s, self.sem_value(*s) + 1),
                true,
            ),
            MOp::TrySemAcquire(s) => {
                let v = self.sem_value(*s);
                let kind = if v > 0 {
                    EventKind::SemAcquire
                } else {
                    EventKind::SemAcquireFail
                };
                (ev(a, kind, *s, v + 1), true)
            }
            MOp::TryAcquire(l) => {
                if self.held(*l) {
                    (ev(a, EventKind::LockAcquireFail, *l, 0), true)
                } else {
                    (ev(a, EventKind::LockAcquire, *l, 1), true)
                }
            }
            MOp::TimedWait(e) => {
                if self.flags.contains(e) {
                    (ev(a, EventKind::EventWait, *e, 0), true)
                } else {
                    (ev(a, EventKind::EventWaitTimeout, *e, 0), true)
                }
            }
            MOp::TimedGet(q) => {
                let len = self.queue_len(*q);
                if len > 0 {
                    (ev(a, EventKind::QueueGet, *q, 1 + len), true)
                } else {
                    (ev(a, EventKind::QueueGetFail, *q, 1), true)
                }
            }
        })
    }

    /// Enabled and blocked actors' pending operations.
    pub fn pending_all(&self, enabled: &mut Vec<Event>, blocked: &mut Vec<Event>) {
        enabled.clear();
        blocked.clear();
        for a in 0..self.actors.len() as u32 {
            match self.pending(a) {
                Some((e, true)) => enabled.push(e),
                Some((e, false)) => blocked.push(e),
                None => {}
            }
        }
    }

    /// Runs the next operation of `a` (which must be enabled).
    pub fn step(&mut self, a: u32) -> Event {
        let (e, ok) = self.pending(a).expect("actor has exited");
        assert!(ok, "stepping a blocked actor");
        let act = &mut self.actors[a as usize];
        let op = act.ops.get(act.pc).cloned();
        act.pc += 1;
        match op {
            Some(MOp::Load(k)) => act.reg = self.vals[k as usize],
            Some(MOp::StoreInc(k)) => self.vals[k as usize] = act.reg + 1,
            Some(MOp::ScanDown(k)) => {
                let cur = act.cursor.unwrap_or(k);
                if self.vals[cur as usize] != 0 && cur > 0 {
                    act.cursor = Some(cur - 1);
                    act.pc -= 1; // the scan goes on
                } else {
                    act.cursor = None;
                }
            }
            None => act.exited = true,
            Some(MOp::Spawn(ops)) => {
                let id = self.actors.len() as u32;
                self.actors[a as usize].children.push(id);
                self.actors.push(Actor {
                    ops: std::iter::once(MOp::Start).chain(ops).collect(),
                    pc: 0,
                    children: Vec::new(),
                    exited: false,
                    reg: 0,
                    cursor: None,
                });
            }
            Some(MOp::Acquire(l)) => self.holder.push((l, a)),
            Some(MOp::Release(l)) => self.holder.retain(|&(x, h)| !(x == l && h == a)),
            Some(MOp::Set(e)) if !self.flags.contains(&e) => self.flags.push(e),
            Some(MOp::Clear(e)) => self.flags.retain(|&f| f != e),
            Some(MOp::Put(q)) => {
                self.next_token += 1;
                match self.queues.iter_mut().find(|x| x.0 == q) {
                    Some(x) => x.1 += 1,
                    None => self.queues.push((q, 1, 0)),
                }
            }
            Some(MOp::Get(q)) => {
                self.queues.iter_mut().find(|x| x.0 == q).expect("queue").2 += 1;
            }
            Some(MOp::SemAcquire(s)) => {
                let v = self.sem_value(s);
                self.set_sem(s, v - 1);
            }
            Some(MOp::SemRelease(s)) => {
                let v = self.sem_value(s);
                self.set_sem(s, v + 1);
            }
            // A successful try holds what it took for one step.
            Some(MOp::TryAcquire(l)) if e.kind == EventKind::LockAcquire => {
                self.holder.push((l, a));
                let act = &mut self.actors[a as usize];
                act.ops.insert(act.pc, MOp::Release(l));
            }
            Some(MOp::TrySemAcquire(s)) if e.kind == EventKind::SemAcquire => {
                let v = self.sem_value(s);
                self.set_sem(s, v - 1);
                let act = &mut self.actors[a as usize];
                act.ops.insert(act.pc, MOp::SemRelease(s));
            }
            Some(MOp::TimedGet(q)) if e.kind == EventKind::QueueGet => {
                self.queues.iter_mut().find(|x| x.0 == q).expect("queue").2 += 1;
            }
            _ => {}
        }
        e
    }
}

/// Dependency of two events of different actors, written from the model's
/// meaning (independently of the engine's own relation).
pub fn model_dependent(a: &Event, b: &Event) -> bool {
    use EventKind::*;
    assert_ne!(a.actor, b.actor);
    let creates = |e: &Event| e.kind == Spawn;
    let about_actor = |e: &Event, x: ActorId| matches!(e.kind, Spawn | Join) && e.target == x.0;
    if creates(a) && creates(b) || about_actor(a, b.actor) || about_actor(b, a.actor) {
        return true;
    }
    // Starting an actor and joining it (two joins commute).
    if matches!((a.kind, b.kind), (Spawn, Join) | (Join, Spawn)) && a.target == b.target {
        return true;
    }
    let is_access = |e: &Event| matches!(e.kind, Read | Write);
    if is_access(a) && is_access(b) {
        let writes = a.kind == Write || b.kind == Write;
        let on_list = |k: u32| (WHOLE..ITEM0 + 8).contains(&k);
        let overlap = a.target == b.target
            || (on_list(a.target) && on_list(b.target) && (a.target == WHOLE || b.target == WHOLE));
        return writes && overlap;
    }
    let group = |e: &Event| match e.kind {
        LockAcquire | LockRelease | LockAcquireFail => Some(0),
        EventSet | EventClear | EventWait | EventWaitTimeout => Some(1),
        QueuePut | QueueGet | QueueGetFail => Some(2),
        // Every operation of a semaphore conflicts with every other (but
        // two that gave up): conservative, as the engine is.
        SemAcquire | SemRelease | SemAcquireFail => Some(3),
        _ => None,
    };
    // Waits, and operations that gave up, only look at the state.
    let looks = |e: &Event| {
        matches!(
            e.kind,
            EventWait | EventWaitTimeout | LockAcquireFail | QueueGetFail | SemAcquireFail
        )
    };
    match (group(a), group(b)) {
        (Some(x), Some(y)) => x == y && a.target == b.target && !(looks(a) && looks(b)),
        _ => false,
    }
}

/// The Mazurkiewicz class of an execution: per actor, its events; then every
/// ordered pair of dependent events of different actors, by (actor, n-th).
pub fn class_of(events: &[Event]) -> Vec<u64> {
    let mut local = Vec::with_capacity(events.len());
    let mut counts: Vec<u32> = Vec::new();
    for e in events {
        let a = e.actor.index();
        if a >= counts.len() {
            counts.resize(a + 1, 0);
        }
        local.push(counts[a]);
        counts[a] += 1;
    }
    let mut per_actor: Vec<(u32, u32, u64)> = events
        .iter()
        .zip(&local)
        .map(|(e, &l)| (e.actor.0, l, (e.kind as u64) << 40 | u64::from(e.target)))
        .collect();
    per_actor.sort_unstable();
    let mut key: Vec<u64> = per_actor
        .iter()
        .map(|&(a, l, k)| u64::from(a) << 48 ^ u64::from(l) << 40 ^ k)
        .collect();
    key.push(u64::MAX);
    let id = |i: usize| u64::from(events[i].actor.0) << 16 | u64::from(local[i]);
    let mut pairs = Vec::new();
    for j in 0..events.len() {
        for i in 0..j {
            if events[i].actor != events[j].actor && model_dependent(&events[i], &events[j]) {
                pairs.push(id(i) << 32 | id(j));
            }
        }
    }
    pairs.sort_unstable();
    key.extend(pairs);
    key
}

/// Every Mazurkiewicz class of complete executions (every actor exited or
/// blocked), by enumerating interleavings. Prefixes in the same class reach
/// the same state and have the same futures, so each prefix class is
/// expanded once (`memo`); without it, every interleaving is enumerated.
pub fn brute_force(p: &Program, memo: bool) -> HashSet<Vec<u64>> {
    let mut classes = HashSet::new();
    let mut seen = HashSet::new();
    let mut events = Vec::new();
    fn go(
        st: &State,
        events: &mut Vec<Event>,
        classes: &mut HashSet<Vec<u64>>,
        seen: &mut HashSet<Vec<u64>>,
        memo: bool,
    ) {
        if memo && !seen.insert(class_of(events)) {
            return;
        }
        let mut enabled = Vec::new();
        let mut blocked = Vec::new();
        st.pending_all(&mut enabled, &mut blocked);
        if enabled.is_empty() {
            classes.insert(class_of(events));
            return;
        }
        for e in enabled {
            let mut next = st.clone();
            let done = next.step(e.actor.0);
            events.push(done);
            go(&next, events, classes, seen, memo);
            events.pop();
        }
    }
    go(&State::new(p), &mut events, &mut classes, &mut seen, memo);
    classes
}

/// What an exploration did.
pub struct Explored {
    pub classes: HashSet<Vec<u64>>,
    /// Complete executions (each one's events).
    pub runs: Vec<Vec<Event>>,
    pub stats: Stats,
}

/// Preemptions of a complete run (a switch away from an actor that was
/// enabled), recomputed by replaying it.
pub fn preemptions(p: &Program, run: &[Event]) -> u32 {
    let mut st = State::new(p);
    let mut count = 0;
    let (mut en, mut bl) = (Vec::new(), Vec::new());
    let mut prev: Option<ActorId> = None;
    for e in run {
        st.pending_all(&mut en, &mut bl);
        if let Some(pa) = prev {
            if pa != e.actor && en.iter().any(|x| x.actor == pa) {
                count += 1;
            }
        }
        st.step(e.actor.0);
        prev = Some(e.actor);
    }
    count
}

/// Runs the program under the engine until it has explored everything.
pub fn explore(p: &Program, config: DporConfig) -> Explored {
    let tables = tables();
    let mut x = Explorer::new(config);
    let mut out = Explored {
        classes: HashSet::new(),
        runs: Vec::new(),
        stats: Stats::default(),
    };
    let (mut enabled, mut blocked) = (Vec::new(), Vec::new());
    while x.begin_execution() {
        let mut st = State::new(p);
        let mut events = Vec::new();
        let mut complete = true;
        loop {
            st.pending_all(&mut enabled, &mut blocked);
            if enabled.is_empty() {
                break;
            }
            match x.choose(&enabled) {
                Some(a) => {
                    let timed = st.timed(a.0);
                    let e = st.step(a.0);
                    x.executed_timed(&e, &tables, timed);
                    events.push(e);
                }
                None => {
                    complete = false;
                    break;
                }
            }
        }
        if complete {
            x.end_execution(&blocked);
            out.classes.insert(class_of(&events));
            out.runs.push(events);
        } else {
            x.end_execution(&[]);
        }
        assert!(out.runs.len() < 1_000_000, "runaway exploration");
    }
    out.stats = x.stats();
    out
}

/// Explores `p` without a bound, checks it against brute force, returns the
/// number of classes.
pub fn check(p: &Program) -> usize {
    let expected = brute_force(p, true);
    let got = explore(p, DporConfig::default());
    let s = got.stats;
    assert_eq!(s.sleep_blocked, 0, "sleep-set-blocked executions: {s:?}");
    assert_eq!(s.infeasible, 0, "infeasible wakeup sequences: {s:?}");
    assert_eq!(s.diverged, 0, "replay diverged: {s:?}");
    assert_eq!(s.bound_pruned, 0);
    assert_eq!(
        got.runs.len(),
        got.classes.len(),
        "a class was explored twice ({s:?})"
    );
    assert_eq!(
        got.classes.len(),
        expected.len(),
        "explored {} classes, brute force finds {} ({s:?})",
        got.classes.len(),
        expected.len()
    );
    assert_eq!(got.classes, expected);
    assert_eq!(s.executions as usize, got.runs.len());
    assert_eq!(s.pending, 0);
    expected.len()
}

/// Runs the program under the engine and counts executions only (for the
/// benchmark: no class bookkeeping).
pub fn explore_count(p: &Program, config: DporConfig) -> u64 {
    let tables = tables();
    let mut x = Explorer::new(config);
    let (mut enabled, mut blocked) = (Vec::new(), Vec::new());
    let mut n = 0;
    while x.begin_execution() {
        let mut st = State::new(p);
        loop {
            st.pending_all(&mut enabled, &mut blocked);
            if enabled.is_empty() {
                break;
            }
            let a = x.choose(&enabled).expect("optimal DPOR never abandons");
            let timed = st.timed(a.0);
            let e = st.step(a.0);
            x.executed_timed(&e, &tables, timed);
        }
        x.end_execution(&blocked);
        n += 1;
    }
    n
}

/// Keys of the model for the `KeyId`-typed helpers.
pub fn key(k: u32) -> KeyId {
    KeyId(k)
}
