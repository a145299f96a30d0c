//! The exploration driver: optimal DPOR as a step-by-step state machine that
//! a scheduler (or a simulated program, in tests) calls at every scheduling
//! point. See the module docs of `dpor` for the protocol.
//!
//! The recursion of the algorithm (explore E, then for each wakeup-tree
//! child p explore E.p) is kept as a stack of scheduling points that lives
//! across executions: after one execution ends, the deepest point that still
//! has a wakeup-tree child is where the next execution branches off; the
//! steps before it are replayed.

use std::collections::HashSet;

use racetrace_formats::{ActorId, Event, Tables};

use super::execution::{build_reversal, Execution};
use super::footprint::may_read_from;
use super::op::{only_gives_up, Op, EMPTY_TABLES, NONE};
use super::wakeup::{Forest, Seq};

mod bounded;
mod split;
mod stats;
mod steps;

pub use stats::{DporConfig, Stats};

/// An actor's next visible operation, as the scheduler sees it before
/// letting it run: `actor`, `kind`, `target`, `aux` (and `loc`) mean what
/// they mean in an [`Event`]. The target of a `Spawn` may be unknown yet
/// (any value); the engine takes the real one from [`Explorer::executed`].
pub type PendingOp = Event;

/// One scheduling point of the current execution.
#[derive(Default)]
struct Point {
    /// The actor chosen here.
    actor: u32,
    /// Events of the step taken here (more than one for an atomic step,
    /// see [`Explorer::executed_step`]); the schedule repeats its actor.
    events: u32,
    /// Sleep set: actors (with their next operation) whose continuations
    /// from here are covered already — inherited from above, plus the
    /// alternatives explored (or being explored) at this point.
    sleep: Vec<Op>,
    /// Wakeup-tree alternatives still to explore from here.
    wut: u32,
    /// Whether the actor of the previous step was enabled here (a switch is
    /// then a preemption).
    prev_enabled: bool,
    /// Preemptions in the steps before this one.
    preemptions: u32,
    /// Splitting and estimating (see `split`): set when the point is made.
    split: split::PointSplit,
    /// Split: sleepers that never make a reversal look covered here.
    untrusted: Vec<u32>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// No execution begun yet.
    Fresh,
    Running,
    /// The current execution was abandoned (`choose` returned `None`).
    Abandoned,
    /// Between executions.
    Ended,
    Done,
}

/// The optimal-DPOR engine. See the `dpor` module docs for how to drive it.
pub struct Explorer {
    config: DporConfig,
    exec: Execution,
    points: Vec<Point>,
    /// Scheduling points valid for the current execution.
    depth: usize,
    forest: Forest,
    /// Steps taken in the current execution.
    step: usize,
    /// First step that differs from the previous execution; steps before it
    /// are replayed.
    branch: usize,
    /// Wakeup subtree handed to the next scheduling point.
    follow: u32,
    phase: Phase,
    stats: Stats,
    // Buffers reused by `end_execution`.
    seq: Seq,
    races: Vec<u32>,
    acc: Vec<u32>,
    pre: Vec<u32>,
    notdep: Vec<u32>,
    sleepers: Vec<Op>,
    /// Splitting the exploration into subtrees (see `split`).
    split: split::Split,
    /// Fingerprints of the classes explored, kept once an atomic step ran
    /// (see `Stats::repeated`).
    classes: HashSet<u128>,
    atomic: bool,
    /// The last execution repeated a class.
    repeated: bool,
}

impl Explorer {
    pub fn new(config: DporConfig) -> Self {
        Explorer {
            config,
            exec: Execution::default(),
            points: Vec::new(),
            depth: 0,
            forest: Forest::default(),
            step: 0,
            branch: 0,
            follow: NONE,
            phase: Phase::Fresh,
            stats: Stats::default(),
            seq: Seq::default(),
            races: Vec::new(),
            acc: Vec::new(),
            pre: Vec::new(),
            notdep: Vec::new(),
            sleepers: Vec::new(),
            split: split::Split::default(),
            classes: HashSet::new(),
            atomic: false,
            repeated: false,
        }
    }

    /// Starts the next execution; `false` when the whole space is explored
    /// (then nothing else may be called but `stats`). The program must be
    /// run again from its initial state.
    pub fn begin_execution(&mut self) -> bool {
        match self.phase {
            Phase::Fresh => {}
            Phase::Done => return false,
            Phase::Running | Phase::Abandoned => {
                // Ended without `end_execution`: treat as abandoned.
                self.phase = Phase::Abandoned;
                self.end_execution(&[]);
                return self.begin_execution();
            }
            Phase::Ended => {
                if !self.next_branch() {
                    self.phase = Phase::Done;
                    return false;
                }
            }
        }
        self.phase = Phase::Running;
        self.repeated = false;
        self.step = 0;
        self.follow = NONE;
        self.exec.reset();
        true
    }

    /// Finds the deepest scheduling point with an alternative left; drops
    /// the points below it.
    fn next_branch(&mut self) -> bool {
        let n = self.depth;
        for k in (0..n).rev() {
            if self.points[k].wut != NONE || self.points[k].split.claimed {
                self.branch = k;
                self.depth = k + 1;
                self.next_child(k);
                return true;
            }
        }
        self.depth = 0;
        false
    }

    /// At a scheduling point: `enabled` lists the actors that can run now,
    /// each with the operation it is about to perform (order irrelevant).
    /// Returns the actor to run, or `None` when this execution is redundant
    /// (every enabled actor asleep: only possible with a preemption bound or
    /// a program that does not replay deterministically) or would exceed the
    /// preemption bound: the scheduler should then stop the program and call
    /// `end_execution`.
    ///
    /// Panics if called outside an execution or with no enabled actor (then
    /// the execution is over: call `end_execution`).
    pub fn choose(&mut self, enabled: &[PendingOp]) -> Option<ActorId> {
        let a = self.choose_actor(enabled)?;
        if self.split.is_avoided(&self.points[..self.step], a.0) {
            self.drop_follow();
            return self.abandon_as(split::Reason::Avoided);
        }
        Some(a)
    }

    fn choose_actor(&mut self, enabled: &[PendingOp]) -> Option<ActorId> {
        assert_eq!(self.phase, Phase::Running, "choose outside an execution");
        assert!(!enabled.is_empty(), "choose with no enabled actor");
        let k = self.step;
        let is_enabled = |a: u32| enabled.iter().any(|p| p.actor.0 == a);
        let prev = if k == 0 {
            NONE
        } else {
            self.points[k - 1].actor
        };
        let prev_enabled = prev != NONE && is_enabled(prev);

        if k < self.branch {
            // Replaying the prefix the previous execution shares.
            let a = self.points[k].actor;
            if !is_enabled(a) {
                self.stats.infeasible += 1;
                return self.abandon();
            }
            return Some(ActorId(a));
        }
        if k >= self.depth {
            // A fresh point (its sleep set was prepared by `executed`).
            if k >= self.points.len() {
                self.points.push(Point::default());
            }
            let preemptions = if k == 0 {
                0
            } else {
                let q = &self.points[k - 1];
                let switched = k >= 2 && self.points[k - 2].actor != q.actor;
                q.preemptions + u32::from(q.prev_enabled && switched)
            };
            let p = &mut self.points[k];
            if k == 0 {
                p.sleep.clear();
            }
            p.wut = self.follow;
            p.preemptions = preemptions;
            self.depth = k + 1;
            self.fresh_point(k);
        }
        self.follow = NONE;
        let preemptions = self.points[k].preemptions;
        self.points[k].prev_enabled = prev_enabled;
        if self.split.active() && !self.split_point(k, enabled, prev, prev_enabled) {
            return self.abandon_as(split::Reason::Frontier);
        }
        let over_bound = |cost: bool| {
            cost && self
                .config
                .preemption_bound
                .is_some_and(|b| preemptions >= b)
        };

        // Follow the wakeup tree if it has something here.
        while let Some((op, children)) = self.forest.take_first(&mut self.points[k].wut) {
            if !is_enabled(op.actor) {
                self.stats.infeasible += 1;
                self.forest.free_list(children);
                continue;
            }
            if self.split.active() && self.points[k].sleep.iter().any(|s| s.actor == op.actor) {
                // Split: sequences are not checked against sleep sets (see
                // `split`); one that would run a sleeper is cut there.
                self.forest.free_list(children);
                continue;
            }
            if over_bound(prev_enabled && op.actor != prev) {
                self.forest.free_list(children);
                self.stats.bound_pruned += 1;
                return self.abandon();
            }
            self.points[k].actor = op.actor;
            self.points[k].sleep.push(op);
            self.taken_at(k, op.actor);
            self.follow = children;
            return Some(ActorId(op.actor));
        }

        // Free choice: an enabled actor not asleep, preferably the previous
        // one (no preemption); one that would give up (time out) only when
        // no other can go, so that a poll loop does not spin while the
        // actor it waits for could run. Giving up earlier is explored as
        // the reversal of the race with what let the wait succeed.
        let asleep = |a: u32, sleep: &[Op]| sleep.iter().any(|o| o.actor == a);
        let gives_up = |a: u32| enabled.iter().any(|p| p.actor.0 == a && only_gives_up(p));
        let sleep = &self.points[k].sleep;
        let awake = |a: &u32| !asleep(*a, sleep);
        let prev_ok = prev_enabled && !asleep(prev, sleep);
        let waker = (self.split.active() && !sleep.is_empty() && !over_bound(prev_enabled))
            .then(|| split::waker(&self.exec.fp, enabled, sleep, prev))
            .flatten();
        let pick = if waker.is_some() {
            waker
        } else if prev_ok && !gives_up(prev) {
            Some(prev)
        } else if over_bound(prev_enabled) {
            prev_ok.then_some(prev)
        } else {
            let ids = || enabled.iter().map(|p| p.actor.0).filter(awake);
            ids()
                .filter(|&a| !gives_up(a))
                .min()
                .or_else(|| prev_ok.then_some(prev))
                .or_else(|| ids().min())
        };
        match pick {
            Some(a) => {
                self.points[k].actor = a;
                // Placeholder footprint; `executed` puts the real one.
                let placeholder = enabled.iter().find(|p| p.actor.0 == a).copied();
                let op = Op {
                    actor: a,
                    ..Op::of(
                        &placeholder.expect("picked an enabled actor"),
                        &EMPTY_TABLES,
                    )
                };
                self.points[k].sleep.push(op);
                self.taken_at(k, a);
                Some(ActorId(a))
            }
            None => {
                if over_bound(prev_enabled) {
                    self.stats.bound_pruned += 1;
                    self.abandon()
                } else {
                    self.stats.sleep_blocked += 1;
                    self.abandon_as(split::Reason::SleepBlocked)
                }
            }
        }
    }

    fn abandon(&mut self) -> Option<ActorId> {
        self.phase = Phase::Abandoned;
        self.split.abandoned = None;
        None
    }

    /// Abandons the execution for `reason`, which says what `end_execution`
    /// does with it.
    fn abandon_as(&mut self, reason: split::Reason) -> Option<ActorId> {
        self.phase = Phase::Abandoned;
        self.split.abandoned = Some(reason);
        None
    }

    /// Reports the event the chosen actor performed (for a spawn, with the
    /// child's id). `tables` resolves keys (whole-object keys conflict with
    /// every member): ids of keys, objects and actors must mean the same
    /// thing in every execution of one exploration.
    pub fn executed(&mut self, ev: &Event, tables: &Tables) {
        self.executed_timed(ev, tables, false)
    }

    /// As [`Explorer::executed`], for an event that was a try or a timed
    /// wait when `timed` (a lock acquire with `blocking=False` or a timeout,
    /// a wait with a timeout): had it run before what let it succeed, it
    /// would have given up rather than blocked, so its races with its
    /// enablers are reversed too (giving up is a class of its own).
    pub fn executed_timed(&mut self, ev: &Event, tables: &Tables, timed: bool) {
        assert_eq!(self.phase, Phase::Running, "executed outside an execution");
        let k = self.step;
        debug_assert_eq!(
            ev.actor.0, self.points[k].actor,
            "executed by another actor"
        );
        let op = self.exec.push(ev, tables, timed);
        self.after_step(k, op, 1);
    }

    /// Ends the current execution. `blocked` lists the actors still alive
    /// but unable to run (a deadlock, or waiting when the execution was
    /// abandoned), each with the operation it waits to perform; empty when
    /// every actor finished. Computes the races of the execution and
    /// schedules their reversals.
    pub fn end_execution(&mut self, blocked: &[PendingOp]) {
        let n = self.exec.len();
        match self.phase {
            Phase::Running => {
                self.stats.executions += 1;
                if self.atomic && !self.classes.insert(self.exec.class_fingerprint()) {
                    self.stats.repeated += 1;
                    self.repeated = true;
                }
                if !blocked.is_empty() {
                    self.stats.deadlocks += 1;
                }
                self.stats.max_steps = self.stats.max_steps.max(n as u64);
                self.depth = self.depth.min(n);
                self.analyze(n, blocked);
            }
            Phase::Abandoned => {
                // The points past the abandoned step keep nothing to explore.
                self.depth = self.depth.min(self.step + 1);
                if self.split.abandoned_with_races() {
                    // Blocked by sleep sets, or stopped before a step that
                    // must not run: the races of the steps taken (and of
                    // the actors waiting, `blocked`) still lead elsewhere
                    // (as source-DPOR finds them while an execution runs).
                    self.analyze(self.exec.len(), blocked);
                }
            }
            _ => panic!("end_execution outside an execution"),
        }
        self.phase = Phase::Ended;
    }

    /// Whether the execution just ended had the class of an earlier one
    /// (possible only with atomic steps, see `Stats::repeated`): its
    /// outcome was reported already.
    pub fn repeated(&self) -> bool {
        self.repeated
    }

    /// Computes the races of the first `n` steps of the execution (and of
    /// the `blocked` operations after them) and schedules their reversals.
    fn analyze(&mut self, n: usize, blocked: &[PendingOp]) {
        // Every race of the execution, not only those among the new
        // steps: a reversal runs `notdep(e)`, which reaches past the
        // branch point, so an old race yields a new sequence.
        for j in 0..n {
            let r = self.exec.recs[j];
            self.exec_pre(r.pre, r.wake);
            self.exec
                .races_of(j, &r.op, &self.pre, &mut self.acc, &mut self.races);
            let races = std::mem::take(&mut self.races);
            for &i in &races {
                self.reverse(i as usize, r.op, Some(j));
            }
            self.races = races;
        }
        for b in blocked {
            let op = Op::of(b, &EMPTY_TABLES);
            let mut pre = std::mem::take(&mut self.pre);
            self.exec.pre_clock_into(op.actor, &mut pre);
            self.exec
                .races_of(n, &op, &pre, &mut self.acc, &mut self.races);
            self.pre = pre;
            let races = std::mem::take(&mut self.races);
            for &i in &races {
                self.reverse(i as usize, op, None);
            }
            self.races = races;
        }
    }

    /// The knowledge of an actor before a step: the clock of its `pre`,
    /// joined with that of the step that woke it (`wake`), if any.
    fn exec_pre(&mut self, pre: u32, wake: u32) {
        self.pre.clear();
        if pre != NONE {
            self.pre.extend_from_slice(self.exec.clock(pre as usize));
        }
        let mut c = std::mem::take(&mut self.pre);
        self.exec.wake_into(wake, &mut c);
        self.pre = c;
    }

    /// Schedules the reversal of the race (`i`, later): at point `i`, the
    /// sequence notdep(i).later, unless the sleep set or the wakeup tree
    /// there already covers its class.
    fn reverse(&mut self, i: usize, later: Op, later_idx: Option<usize>) {
        self.stats.races += 1;
        let wake = later_idx.map_or(NONE, |j| self.exec.recs[j].wake);
        // An atomic step may branch on what it read: moved before a step
        // whose writes it read, it may read something else and touch
        // other things, so its footprint there is not the one it had here.
        // Taken as unknown, only its actor is known (how the wakeup trees
        // treat it: `wakeup`); once it runs there, its footprint is known.
        let later = match later_idx {
            Some(j)
                if self.exec.recs[j].atomic
                    && may_read_from(&self.exec.fp, &later, &self.exec.recs[i].op) =>
            {
                Op::unknown(later.actor)
            }
            _ => later,
        };
        build_reversal(&self.exec, i, later, wake, &mut self.notdep, &mut self.seq);
        if let Some(bound) = self.config.preemption_bound {
            if self.guess_preemptions(i) > bound {
                self.reverse_bounded(i, bound, later, later_idx);
                return;
            }
        }
        self.schedule_seq(i);
    }

    /// Inserts `self.seq` at point `i` unless already covered.
    fn schedule_seq(&mut self, i: usize) {
        if self.points[i].split.top {
            self.stats.top_dropped += 1;
            return;
        }
        self.sleepers.clear();
        let p = &self.points[i];
        let trusted = |s: &&Op| !p.untrusted.contains(&s.actor);
        self.sleepers.extend(p.sleep.iter().filter(trusted));
        if self.seq.covered_by_sleeper(&self.exec.fp, &self.sleepers) {
            return;
        }
        if self.forest.insert(
            &self.exec.fp,
            &mut self.points[i].wut,
            &mut self.seq,
            &self.sleepers,
        ) {
            self.stats.scheduled += 1;
        }
    }
}
