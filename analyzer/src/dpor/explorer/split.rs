//! Splitting one exploration into disjoint subtrees (for worker processes
//! and shards), stopping before steps that must not run, and the progress
//! estimate.
//!
//! # Splitting
//!
//! With [`Explorer::split`]`(d)`, the first `d` *branching points* of every
//! execution (points where at least two actors could go, not asleep) are
//! *fully expanded*: every such actor is explored there, each with the
//! sleep set of the ones before it, and race reversals that land there are
//! dropped (an alternative they could add is explored anyway). The next
//! branching point is a *frontier*: an execution reaching one stops
//! ([`Explorer::frontier`] gives its schedule prefix), and the driver says
//! with [`Explorer::claim`] whether this explorer takes the subtree below
//! it. A claimed subtree is explored by optimal DPOR as usual, from that
//! point's sleep set.
//!
//! Why the union is every class exactly once: sleep sets make the subtrees
//! of a fully expanded point disjoint (a class belongs to the first of its
//! siblings that can start it), and a DPOR exploration from a point with a
//! sleep set explores every class there that no sleeper can start, whatever
//! happens elsewhere (the races that lead to them are found inside). So
//! explorers that see the same program make the same expansions and the
//! same frontiers, and any assignment of frontiers to explorers (each to
//! exactly one) partitions the classes. An execution that ends before its
//! frontier (a *top leaf*, [`Explorer::reached_frontier`] false) is claimed
//! the same way, by its whole schedule.
//!
//! Below a frontier, some sleepers never make a race reversal look
//! covered: those inherited from above the frontier and the alternatives
//! explored at the frontier itself (*untrusted* sleepers). Optimal DPOR
//! may drop a reversal that a sleeper seems to cover because, in one
//! sequential exploration, a wakeup sequence inserted higher up reaches
//! the classes it would have; here such sequences enter a subtree through
//! its frontier (they are dropped above it, or come from another
//! explorer), so the subtree inserts those reversals itself. Untrusted
//! sleepers still do their other job, at run time: a sleeper never runs
//! (a wakeup sequence that would run one is cut there, its class being
//! another's), which keeps every class to one execution. What it costs:
//! some executions abandoned because every actor is asleep (counted in
//! `sleep_blocked`; about a tenth of the classes on the programs measured,
//! below four fully expanded branching points).
//!
//! Executions stopped because every actor is asleep have their races
//! analysed (as source-DPOR finds races while an execution runs): below a
//! fully expanded point such executions can happen, and what their races
//! lead to must not be lost.

use racetrace_formats::{ActorId, EventKind, Schedule};

use super::{Explorer, Phase, EMPTY_TABLES};
use crate::dpor::footprint::{dependent_in, Footprints};
use crate::dpor::op::{Op, NONE};
use crate::dpor::PendingOp;

/// Why the current execution was abandoned, when that matters afterwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reason {
    /// Every enabled actor was asleep.
    SleepBlocked,
    /// The next step is one the driver asked to avoid ([`Explorer::avoid`]).
    Avoided,
    /// A frontier of the split region.
    Frontier,
}

/// Exploration-wide splitting state.
#[derive(Default)]
pub(super) struct Split {
    /// Branching points fully expanded before the frontier (None: no split).
    top_depth: Option<u32>,
    pub(super) abandoned: Option<Reason>,
    /// The frontier point where the last execution stopped.
    frontier: Option<usize>,
    /// Schedule prefixes whose last step must not run.
    avoid: Vec<Vec<u32>>,
}

impl Split {
    pub(super) fn active(&self) -> bool {
        self.top_depth.is_some()
    }

    pub(super) fn abandoned_with_races(&self) -> bool {
        matches!(self.abandoned, Some(Reason::SleepBlocked | Reason::Avoided))
    }

    /// Whether running `actor` after the steps `path` is to be avoided.
    pub(super) fn is_avoided(&self, path: &[super::Point], actor: u32) -> bool {
        !self.avoid.is_empty()
            && self.avoid.iter().any(|p| {
                p.len() == path.len() + 1
                    && p[path.len()] == actor
                    && p.iter().zip(path).all(|(&a, q)| a == q.actor)
            })
    }
}

/// A scheduling point's splitting and estimating state.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct PointSplit {
    /// Fully expanded: reversals landing here are dropped.
    pub(super) top: bool,
    /// A frontier (an execution first stopped here).
    frontier: bool,
    /// A frontier claimed and not entered yet: an alternative left.
    pub(super) claimed: bool,
    /// Whether the point has been looked at by `split_point`.
    seen: bool,
    /// Branching points before this one on the path, and whether this one
    /// is one.
    branching: u32,
    branch_here: bool,
    /// For the estimate: a child is being explored, how many were before
    /// it and how many executions they ran; executions when the current
    /// child began.
    pub(super) has_child: bool,
    done_children: u32,
    done_execs: u64,
    start_execs: u64,
    /// Executions of the last child done.
    last_execs: u64,
}

impl Explorer {
    /// Splits the exploration (see the module docs): the first `top_depth`
    /// branching points are fully expanded, the next one is a frontier.
    /// Call before the first execution.
    pub fn split(&mut self, top_depth: u32) {
        assert_eq!(self.phase, Phase::Fresh, "split after the first execution");
        self.split.top_depth = Some(top_depth);
    }

    /// After an execution stopped at a frontier: the schedule that reaches
    /// it (the steps before the frontier point). Answer with
    /// [`Explorer::claim`] before the next execution.
    pub fn frontier(&self) -> Option<Schedule> {
        self.split.frontier.map(|k| self.prefix(k))
    }

    /// Whether this explorer explores the subtree below the frontier the
    /// last execution stopped at (not claimed: it is left to another).
    pub fn claim(&mut self, mine: bool) {
        assert_eq!(self.phase, Phase::Ended, "claim between executions");
        if let Some(k) = self.split.frontier.take() {
            self.points[k].split.claimed = mine;
        }
    }

    /// Whether the last execution went through a frontier; false for an
    /// execution that ended above every frontier (a top leaf, to be
    /// claimed by its whole schedule), and always false without a split.
    pub fn reached_frontier(&self) -> bool {
        let n = self.exec.len().min(self.points.len());
        self.points[..n].iter().any(|p| p.split.frontier)
    }

    /// Never runs the last step of `prefix` after the steps before it: an
    /// execution that gets there stops (as if every actor were asleep,
    /// its races analysed). For a step that crashed the process running
    /// it: the alternatives around it are still explored.
    pub fn avoid(&mut self, prefix: &[ActorId]) {
        if !prefix.is_empty() {
            self.split.avoid.push(prefix.iter().map(|a| a.0).collect());
        }
    }

    /// The schedule of the steps before point `k` (an atomic step's actor
    /// once per event, as a controlled run counts steps).
    pub(super) fn prefix(&self, k: usize) -> Schedule {
        Schedule::new(
            self.points[..k]
                .iter()
                .flat_map(|p| std::iter::repeat_n(ActorId(p.actor), p.events.max(1) as usize))
                .collect(),
        )
    }

    /// A point just made at step `k` (its sleep set and top sleepers were
    /// set by the step before).
    pub(super) fn fresh_point(&mut self, k: usize) {
        let branching = match k.checked_sub(1) {
            Some(q) => {
                let q = &self.points[q].split;
                q.branching + u32::from(q.branch_here)
            }
            None => 0,
        };
        self.points[k].split = PointSplit {
            branching,
            start_execs: self.stats.executions,
            ..PointSplit::default()
        };
    }

    /// At step `k` of a split exploration, before choosing: fully expands a
    /// top branching point (its actors become its wakeup tree); returns
    /// false at a frontier not claimed yet (the execution stops there).
    pub(super) fn split_point(
        &mut self,
        k: usize,
        enabled: &[PendingOp],
        prev: u32,
        prev_enabled: bool,
    ) -> bool {
        let Some(top_depth) = self.split.top_depth else {
            return true;
        };
        let s = &mut self.points[k].split;
        if s.seen {
            // Entered again: a claimed frontier, or a point with
            // alternatives of its own.
            s.claimed = false;
            return true;
        }
        s.seen = true;
        let branching = s.branching;
        if branching > top_depth {
            return true; // below the frontier: plain DPOR
        }
        let p = &self.points[k];
        let at_bound = prev_enabled
            && self
                .config
                .preemption_bound
                .is_some_and(|b| p.preemptions >= b);
        // Every actor that can go here, in the order a free choice prefers
        // them: the previous one (no preemption), then by id, those that
        // would give up last.
        let mut awake: Vec<Op> = enabled
            .iter()
            .filter(|e| {
                let a = e.actor.0;
                !p.sleep.iter().any(|o| o.actor == a) && (!at_bound || a == prev)
            })
            .map(|e| Op::of(e, &EMPTY_TABLES))
            .collect();
        // Above the frontier every point drops the reversals that land on
        // it: the alternatives of a branching point are all explored, and
        // those of a point where one actor can go are asleep or taken.
        self.points[k].split.top = true;
        if awake.len() < 2 {
            return true;
        }
        awake.sort_by_key(|o| (o.actor != prev || o.gave_up, o.gave_up, o.actor));
        // A thread's start touches nothing but the thread itself: it
        // commutes with every other actor's operations and comes before
        // all of its own, so every class here has an execution that starts
        // that thread first. Where one can start, it is the only choice
        // explored (the other choices would hold no class of their own:
        // with the start asleep, every execution below them would end with
        // it asleep), and the point does not count as branching. Counted,
        // the starts of a program's threads would use up the split's depth,
        // with nearly every class below one frontier. (A creation is not
        // such an operation: two creations are dependent, since the
        // children's ids follow their order.)
        if let Some(start) = awake.iter().find(|o| o.kind == EventKind::ActorStart) {
            let start = *start;
            self.forest.push_branch(&mut self.points[k].wut, start);
            return true;
        }
        self.points[k].split.branch_here = true;
        if branching == top_depth {
            let p = &mut self.points[k];
            p.split.top = false;
            p.split.frontier = true;
            p.untrusted.clear();
            p.untrusted.extend(p.sleep.iter().map(|o| o.actor));
            self.split.frontier = Some(k);
            self.stats.frontiers += 1;
            return false;
        }
        debug_assert_eq!(self.points[k].wut, NONE, "a reversal above the frontier");
        for op in awake {
            self.forest.push_branch(&mut self.points[k].wut, op);
        }
        true
    }

    /// The driver moves to the next child of point `k`: the one before is
    /// done (for the estimate).
    pub(super) fn next_child(&mut self, k: usize) {
        let ex = self.stats.executions;
        let s = &mut self.points[k].split;
        if s.has_child {
            s.done_children += 1;
            s.last_execs = ex - s.start_execs;
            s.done_execs += s.last_execs;
            s.has_child = false;
        }
        s.start_execs = ex;
    }

    /// Point `k` explores `actor` next. At a frontier it becomes a sleeper
    /// that must not make reversals look covered below (see the module
    /// docs).
    pub(super) fn taken_at(&mut self, k: usize, actor: u32) {
        let p = &mut self.points[k];
        p.split.has_child = true;
        if p.split.frontier && !p.untrusted.contains(&actor) {
            p.untrusted.push(actor);
        }
    }

    /// After an avoided step was chosen: its subtree is dropped.
    pub(super) fn drop_follow(&mut self) {
        self.forest.free_list(self.follow);
        self.follow = NONE;
    }

    /// Concuerror-style estimate of the executions of the whole
    /// exploration: bottom-up along the current path, a point's subtree is
    /// what its explored children ran, plus what the current one is
    /// estimated to run, plus as much again for each alternative left as
    /// the last child done ran.
    pub(super) fn estimate(&self) -> u64 {
        let ex = self.stats.executions;
        let n = self.depth.min(self.points.len());
        if n == 0 || self.phase == Phase::Done {
            return ex;
        }
        let mut below = ex.saturating_sub(self.points[n - 1].split.start_execs) as f64;
        for p in self.points[..n].iter().rev() {
            let s = &p.split;
            let left = self.forest.branches(p.wut) + u64::from(s.claimed);
            // Later siblings have larger sleep sets, so smaller subtrees:
            // each alternative left is taken to be like the last one done
            // (or the current one, for the first).
            let like = if s.done_children > 0 {
                s.last_execs as f64
            } else {
                below
            };
            below = s.done_execs as f64 + below + left as f64 * like;
        }
        (below.round() as u64).max(ex)
    }
}

/// In a split exploration, the free choice prefers an actor that wakes a
/// sleeper (its next operation depends on the sleeper's): an execution in
/// which a sleeper stays asleep to the end is abandoned, so waking them
/// early wastes fewer. The previous actor first, then by id; never one
/// that would give up.
pub(super) fn waker(
    fp: &Footprints,
    enabled: &[PendingOp],
    sleep: &[Op],
    prev: u32,
) -> Option<u32> {
    let wakes = |p: &&PendingOp| {
        let op = Op::of(p, &EMPTY_TABLES);
        !op.gave_up
            && !sleep.iter().any(|s| s.actor == op.actor)
            && sleep.iter().any(|s| dependent_in(fp, s, &op))
    };
    let mut best: Option<u32> = None;
    for p in enabled.iter().filter(wakes) {
        let a = p.actor.0;
        if a == prev {
            return Some(a);
        }
        if best.is_none_or(|b| a < b) {
            best = Some(a);
        }
    }
    best
}

/// The untrusted sleepers of the point after `prev`: those of `prev` still
/// in `next`'s sleep set.
pub(super) fn inherit_untrusted(prev: &super::Point, next: &mut super::Point) {
    next.untrusted.clear();
    if prev.untrusted.is_empty() {
        return;
    }
    let (sleep, out) = (&next.sleep, &mut next.untrusted);
    out.extend(
        prev.untrusted
            .iter()
            .filter(|&&a| sleep.iter().any(|s| s.actor == a)),
    );
}
