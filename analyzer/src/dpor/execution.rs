//! One execution as the DPOR engine sees it: its events, their footprints
//! and their DPOR happens-before clocks, and the two questions asked of a
//! finished execution: which pairs of events are in a reversible race, and
//! which sequence of events reverses a race.
//!
//! Happens-before here is DPOR's, not the analyzer's synchronization order:
//! the transitive closure of program order and of *dependency* between the
//! events of the execution (two writes of one key are ordered, whatever locks
//! were held). It is kept as one vector clock per event, whose entry for
//! actor `a` is how many of `a`'s events precede (or are) the event.
//!
//! The log is rebuilt from scratch for every execution (the clocks of a
//! replayed prefix come out the same); cells are reset by a generation stamp
//! and every buffer keeps its capacity, so steady state does not allocate.

use racetrace_formats::{Event, Tables};

use super::footprint::{dependent_in, reversible_in, Footprints};
use super::op::{queue_available, sem_available, Cell, Op, NONE};
use super::wakeup::Seq;

/// Per-event record.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rec {
    pub ev: Event,
    pub op: Op,
    /// 1-based position of the event among its actor's events.
    pub local: u32,
    /// Event whose clock is this actor's knowledge just before this event:
    /// its previous event, or for a first event its creation; `NONE` if none.
    pub pre: u32,
    /// The object available just before this event: lock free, semaphore
    /// above 0, event flag set, queue non-empty (synchronization events).
    pub avail_before: bool,
    /// For an atomic step that an earlier step made ready (the task it
    /// resumes was woken by that step): that step, which it cannot precede;
    /// `NONE` otherwise. Its clock is part of this step's knowledge before
    /// it (as a creation is for a first event).
    pub wake: u32,
    /// An atomic step (see `push_step`): what it touches depends on what it
    /// read, so moved elsewhere it may touch other things.
    pub atomic: bool,
}

/// State of one shared cell within the current execution.
#[derive(Default)]
struct CellState {
    gen: u32,
    last_write: u32,
    /// Join of the clocks of the reads since `last_write`.
    reads: Vec<u32>,
}

impl CellState {
    fn fresh(&mut self, gen: u32) -> &mut Self {
        if self.gen != gen {
            self.gen = gen;
            self.last_write = NONE;
            self.reads.clear();
        }
        self
    }
}

/// Per-object state: whole-object accesses and the member accesses they
/// conflict with, plus what synchronization objects need.
#[derive(Default)]
struct ObjState {
    gen: u32,
    whole: CellState,
    /// Joins of member writes / reads since the last whole write.
    member_writes: Vec<u32>,
    member_reads: Vec<u32>,
    /// Synchronization object used as such.
    sync: CellState,
    /// Event flag (1/0) or queue length.
    level: i64,
}

impl ObjState {
    fn fresh(&mut self, gen: u32) -> &mut Self {
        if self.gen != gen {
            self.gen = gen;
            self.member_writes.clear();
            self.member_reads.clear();
            self.level = 0;
        }
        self.whole.fresh(gen);
        self.sync.fresh(gen);
        self
    }
}

#[derive(Clone, Copy, Default)]
struct ActorState {
    gen: u32,
    last_event: u32,
    created_by: u32,
    events: u32,
}

/// The events of one execution with their DPOR clocks.
#[derive(Default)]
pub(crate) struct Execution {
    pub recs: Vec<Rec>,
    /// `clocks[i]`: the clock of event `i` (vectors reused across executions).
    clocks: Vec<Vec<u32>>,
    gen: u32,
    keys: Vec<CellState>,
    objs: Vec<ObjState>,
    actors: Vec<ActorState>,
    last_creation: u32,
    scratch: Vec<u32>,
    /// The footprints of atomic steps, kept for the whole exploration.
    pub fp: Footprints,
    /// Scratch for the join of the clocks of a prefix (see `WAKE_ALL`).
    frontier: Vec<u32>,
}

/// Set in `Rec::wake` (with the index of a step) for a step that could
/// only come after every step up to that one (an asyncio task woken by a
/// timer, which fires only once no task is ready).
pub(crate) const WAKE_ALL: u32 = 1 << 31;

#[inline]
fn join_into(dst: &mut Vec<u32>, src: &[u32]) {
    if src.len() > dst.len() {
        dst.resize(src.len(), 0);
    }
    for (d, s) in dst.iter_mut().zip(src) {
        if *s > *d {
            *d = *s;
        }
    }
}

#[inline]
fn slot<T: Default>(v: &mut Vec<T>, i: usize) -> &mut T {
    if i >= v.len() {
        v.resize_with(i + 1, T::default);
    }
    &mut v[i]
}

impl Execution {
    /// Forgets the events (keeps every buffer).
    pub fn reset(&mut self) {
        self.recs.clear();
        self.gen = self.gen.wrapping_add(1);
        if self.gen == 0 {
            // Stamps wrapped: make sure no cell looks current.
            self.gen = 1;
            self.keys.iter_mut().for_each(|c| c.gen = 0);
            self.objs.iter_mut().for_each(|o| {
                o.gen = 0;
                o.whole.gen = 0;
                o.sync.gen = 0;
            });
            self.actors.iter_mut().for_each(|a| a.gen = 0);
        }
        self.last_creation = NONE;
    }

    pub fn len(&self) -> usize {
        self.recs.len()
    }

    #[inline]
    pub fn clock(&self, i: usize) -> &[u32] {
        &self.clocks[i]
    }

    /// Whether event `i` happens before (or is) the point whose clock is `c`.
    #[inline]
    pub fn in_clock(&self, i: usize, c: &[u32]) -> bool {
        let r = &self.recs[i];
        c.get(r.ev.actor.index()).is_some_and(|&t| t >= r.local)
    }

    /// Whether event `i` happens before event `j`.
    #[inline]
    pub fn hb(&self, i: usize, j: usize) -> bool {
        self.in_clock(i, &self.clocks[j])
    }

    fn actor(&mut self, a: u32) -> &mut ActorState {
        let gen = self.gen;
        let st = slot(&mut self.actors, a as usize);
        if st.gen != gen {
            *st = ActorState {
                gen,
                last_event: NONE,
                created_by: NONE,
                events: 0,
            };
        }
        st
    }

    /// Knowledge of actor `a` before its next event: the clock of its last
    /// event, or of its creation.
    fn pre_of(&mut self, a: u32) -> u32 {
        let st = *self.actor(a);
        if st.last_event != NONE {
            st.last_event
        } else {
            st.created_by
        }
    }

    /// The clock an actor would have before performing `op` next: joined
    /// into `out` (cleared first).
    pub fn pre_clock_into(&mut self, actor: u32, out: &mut Vec<u32>) {
        out.clear();
        let pre = self.pre_of(actor);
        if pre != NONE {
            out.extend_from_slice(&self.clocks[pre as usize]);
        }
    }

    /// Appends the next event of the execution; `timed`: it was a try or a
    /// timed wait (see `Op::timed`).
    pub fn push(&mut self, ev: &Event, tables: &Tables, timed: bool) -> Op {
        let op = Op::of(ev, tables).with_timed(timed);
        self.push_op(ev, op);
        op
    }

    pub fn push_op(&mut self, ev: &Event, op: Op) {
        self.push_parts(ev, op, &[], None, NONE);
    }

    /// [`Execution::push`] for an event made ready by step `wake` (see
    /// [`Execution::push_step`]).
    pub fn push_woken(&mut self, ev: &Event, tables: &Tables, wake: u32) -> Op {
        let op = Op::of(ev, tables);
        self.push_parts(ev, op, &[], None, wake);
        op
    }

    /// Appends an atomic step of `events` (one actor's, nothing between
    /// them), made ready by step `wake` (`NONE`: by nothing): one record
    /// whose footprint is the union of its events' (see `footprint`).
    pub fn push_step(&mut self, events: &[Event], tables: &Tables, wake: u32) -> Op {
        let first = events.first().expect("a step has at least one event");
        let op = self.fp.of_step(first.actor.0, events, tables);
        // The event that stands for the step: the one of its only part, if
        // it has one, else the first.
        let ev = match op.cell {
            Cell::Steps(_) | Cell::Local | Cell::Unknown => *first,
            _ => *events
                .iter()
                .find(|e| Op::of(e, tables) == op)
                .unwrap_or(first),
        };
        self.push_parts(&ev, op, events, Some(tables), wake);
        op
    }

    /// Appends `op` (performed as `ev`; for an atomic step of several
    /// parts, as `events`, whose keys `tables` resolves).
    fn push_parts(
        &mut self,
        ev: &Event,
        op: Op,
        events: &[Event],
        tables: Option<&Tables>,
        wake: u32,
    ) {
        let idx = self.recs.len() as u32;
        let a = ev.actor.0;
        let pre = self.pre_of(a);
        let local = self.actor(a).events + 1;

        let mut c = std::mem::take(&mut self.scratch);
        c.clear();
        if pre != NONE {
            c.extend_from_slice(&self.clocks[pre as usize]);
        }
        self.wake_into(wake, &mut c);
        let avail_before = match tables {
            Some(tables) => {
                // Every event's dependencies (each with its own `aux`, and
                // moving levels as it did), then every event published with
                // the step's whole clock (no part sees its own step).
                let mut avail = None;
                for e in events {
                    let p = Op::of(e, tables);
                    let got = self.deps_into(e, &p, &mut c);
                    if p == op && avail.is_none() {
                        avail = Some(got);
                    }
                }
                avail.unwrap_or(false)
            }
            None => self.deps_into(ev, &op, &mut c),
        };
        // Own entry.
        if c.len() <= a as usize {
            c.resize(a as usize + 1, 0);
        }
        c[a as usize] = local;
        match tables {
            Some(tables) => {
                for e in events {
                    self.publish(idx, &Op::of(e, tables), &c);
                }
            }
            None => self.publish(idx, &op, &c),
        }
        let st = self.actor(a);
        st.last_event = idx;
        st.events = local;

        let i = idx as usize;
        if i < self.clocks.len() {
            std::mem::swap(&mut self.clocks[i], &mut c);
        } else {
            self.clocks.push(std::mem::take(&mut c));
        }
        self.scratch = c;
        self.recs.push(Rec {
            ev: *ev,
            op,
            local,
            pre,
            avail_before,
            wake,
            atomic: tables.is_some(),
        });
    }

    /// Joins into `c` what a step woken by `wake` knows from its waker: the
    /// waker's clock, or with `WAKE_ALL`, every clock up to the step named.
    pub fn wake_into(&mut self, wake: u32, c: &mut Vec<u32>) {
        if wake == NONE {
            return;
        }
        let w = (wake & !WAKE_ALL) as usize;
        if wake & WAKE_ALL == 0 {
            join_into(c, &self.clocks[w]);
            return;
        }
        let mut f = std::mem::take(&mut self.frontier);
        f.clear();
        for clock in &self.clocks[..=w.min(self.recs.len().saturating_sub(1))] {
            join_into(&mut f, clock);
        }
        join_into(c, &f);
        self.frontier = f;
    }

    /// Joins into `c` the clocks `op` depends on; returns whether its
    /// synchronization object was available just before it. Updates the
    /// object's level (a lock held, an event's flag, a queue's length).
    fn deps_into(&mut self, ev: &Event, op: &Op, c: &mut Vec<u32>) -> bool {
        let gen = self.gen;
        let a = op.actor;
        let mut avail_before = false;
        if op.creates() && self.last_creation != NONE {
            join_into(c, &self.clocks[self.last_creation as usize]);
        }
        match op.cell {
            Cell::Local | Cell::Steps(_) | Cell::Unknown => {}
            Cell::Key { obj, key, whole } => {
                if obj != NONE {
                    let o = slot(&mut self.objs, obj as usize).fresh(gen);
                    if whole {
                        if o.whole.last_write != NONE {
                            join_into(c, &self.clocks[o.whole.last_write as usize]);
                        }
                        join_into(c, &o.member_writes);
                        if op.write {
                            join_into(c, &o.whole.reads);
                            join_into(c, &o.member_reads);
                        }
                    } else {
                        if o.whole.last_write != NONE {
                            join_into(c, &self.clocks[o.whole.last_write as usize]);
                        }
                        if op.write {
                            join_into(c, &o.whole.reads);
                        }
                    }
                }
                if !whole {
                    let k = slot(&mut self.keys, key as usize).fresh(gen);
                    if k.last_write != NONE {
                        join_into(c, &self.clocks[k.last_write as usize]);
                    }
                    if op.write {
                        join_into(c, &k.reads);
                    }
                }
            }
            Cell::Sync(obj) => {
                let o = slot(&mut self.objs, obj as usize).fresh(gen);
                if o.sync.last_write != NONE {
                    join_into(c, &self.clocks[o.sync.last_write as usize]);
                }
                if op.write {
                    join_into(c, &o.sync.reads);
                }
                use racetrace_formats::EventKind::*;
                avail_before = match op.kind {
                    // `level` of a lock: 1 while held.
                    LockAcquire | LockRelease | LockAcquireFail => o.level == 0,
                    SemAcquire | SemRelease | SemAcquireFail => sem_available(op.kind, ev.aux),
                    QueuePut | QueueGet | QueueGetFail | QueuePutFail | QueueCheck => {
                        queue_available(op.kind, ev.aux, o.level)
                    }
                    _ => o.level > 0,
                };
                match op.kind {
                    EventSet | LockAcquire => o.level = 1,
                    EventClear | LockRelease => o.level = 0,
                    QueuePut => o.level += 1,
                    QueueGet => o.level -= 1,
                    _ => {}
                }
            }
            Cell::Actor(target) => {
                // A join learns the joined actor's whole history.
                let t = self.pre_of(target);
                if t != NONE && target != a {
                    join_into(c, &self.clocks[t as usize]);
                }
            }
        }
        avail_before
    }

    /// Publishes `op`, performed at `idx` with clock `c`, into its cells.
    fn publish(&mut self, idx: u32, op: &Op, c: &[u32]) {
        let a = op.actor;
        if op.creates() {
            self.last_creation = idx;
        }
        match op.cell {
            Cell::Local | Cell::Steps(_) | Cell::Unknown => {}
            Cell::Key { obj, key, whole } => {
                if obj != NONE {
                    let o = &mut self.objs[obj as usize];
                    if whole {
                        if op.write {
                            o.whole.last_write = idx;
                            o.whole.reads.clear();
                            o.member_writes.clear();
                            o.member_reads.clear();
                        } else {
                            join_into(&mut o.whole.reads, c);
                        }
                    } else if op.write {
                        join_into(&mut o.member_writes, c);
                    } else {
                        join_into(&mut o.member_reads, c);
                    }
                }
                if !whole {
                    let k = &mut self.keys[key as usize];
                    if op.write {
                        k.last_write = idx;
                        k.reads.clear();
                    } else {
                        join_into(&mut k.reads, c);
                    }
                }
            }
            Cell::Sync(obj) => {
                let o = &mut self.objs[obj as usize];
                if op.write {
                    o.sync.last_write = idx;
                    o.sync.reads.clear();
                } else {
                    join_into(&mut o.sync.reads, c);
                }
            }
            Cell::Actor(target) => {
                if op.creates() && target != a {
                    self.actor(target).created_by = idx;
                }
            }
        }
    }

    /// A fingerprint of the execution's Mazurkiewicz class: of every event,
    /// its actor, its place among the actor's events and its clock (which
    /// together are the happens-before order); independent of the order the
    /// events ran in, so equivalent executions get the same one.
    pub fn class_fingerprint(&self) -> u128 {
        #[inline]
        fn mix(mut z: u64) -> u64 {
            // splitmix64's finalizer.
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        let (mut lo, mut hi) = (0u64, 0u64);
        for (r, clock) in self.recs.iter().zip(&self.clocks) {
            let mut h = mix(u64::from(r.ev.actor.0) << 32 | u64::from(r.local));
            let mut g = mix(h ^ 0x9e37_79b9_7f4a_7c15);
            for (a, &t) in clock.iter().enumerate().filter(|(_, &t)| t != 0) {
                h = mix(h ^ (a as u64) << 32 ^ u64::from(t));
                g = mix(g.rotate_left(17) ^ (a as u64) << 40 ^ u64::from(t));
            }
            // A sum: the events' order does not count.
            lo = lo.wrapping_add(h);
            hi = hi.wrapping_add(g);
        }
        u128::from(hi) << 64 | u128::from(lo)
    }

    /// The reversible races whose later event is `later` (an event of this
    /// execution at index `before`, or — for an actor left blocked at the
    /// end — the operation it could not perform, with `before` the length of
    /// the execution), given the clock `pre` of its actor just before it.
    /// Pushes the indices of the earlier events into `out`, latest first.
    ///
    /// A race is a pair of dependent events of different actors, the first
    /// happening before the second but not through the second's actor's own
    /// past. Of those, only the ones with no other *reversible* race partner
    /// in between are kept (the others come out of that partner's reversal).
    /// An event that enabled `later` (the release before an acquire, the set
    /// before a wait on a cleared event) is not reversible and does not hide
    /// what is behind it: the acquire races with the previous acquire, the
    /// wait with the clear before the set — those reversals are possible.
    pub fn races_of(
        &self,
        before: usize,
        later: &Op,
        pre: &[u32],
        acc: &mut Vec<u32>,
        out: &mut Vec<u32>,
    ) {
        out.clear();
        acc.clear();
        for i in (0..before).rev() {
            let r = &self.recs[i];
            if r.op.actor == later.actor || !dependent_in(&self.fp, &r.op, later) {
                continue;
            }
            if self.in_clock(i, pre) || self.in_clock(i, acc) {
                continue;
            }
            if reversible_in(&self.fp, &r.op, r.avail_before, later) {
                out.push(i as u32);
                join_into(acc, &self.clocks[i]);
            }
        }
    }

    /// The events that reverse the race (`e`, later): every event after `e`
    /// that does not happen after it (`notdep(e, E)`), in execution order;
    /// the caller appends the later event itself.
    pub fn notdep_into(&self, e: usize, out: &mut Vec<u32>) {
        out.clear();
        for x in e + 1..self.recs.len() {
            if !self.hb(e, x) {
                out.push(x as u32);
            }
        }
    }
}

/// Builds the sequence that reverses the race (`i`, later) into `seq`:
/// notdep(i) in execution order, then `later` (after `later_wake`, the step
/// that made it ready, `NONE` if none). `notdep` receives the event
/// indices (without `later`). Shared by the explorer and by
/// `backtrack_points`.
pub(crate) fn build_reversal(
    exec: &Execution,
    i: usize,
    later: Op,
    later_wake: u32,
    notdep: &mut Vec<u32>,
    seq: &mut Seq,
) {
    exec.notdep_into(i, notdep);
    seq.begin(notdep.len() + 1);
    for (x, &ex) in notdep.iter().enumerate() {
        let op = exec.recs[ex as usize].op;
        seq.push(op, |y| exec.hb(notdep[y] as usize, ex as usize));
        debug_assert_eq!(seq.len(), x + 1);
    }
    // The waker must precede; with `WAKE_ALL`, every step up to it.
    let w = later_wake & !WAKE_ALL;
    let all = later_wake != NONE && later_wake & WAKE_ALL != 0;
    let one = later_wake != NONE && !all;
    seq.push_last(&exec.fp, later, |y| {
        let x = notdep[y];
        (one && x == w) || (all && x <= w)
    });
}
