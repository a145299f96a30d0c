//! The explorer's settings, counters and what it tells of the current
//! execution.

use racetrace_formats::{ActorId, Schedule};

use super::{Explorer, Phase};

/// Exploration settings.
#[derive(Clone, Debug, Default)]
pub struct DporConfig {
    /// Most preemptions (switches away from an actor that could have gone
    /// on) per execution; `None` explores without a bound. With a bound the
    /// exploration is no longer exhaustive over Mazurkiewicz classes: a class
    /// whose every schedule needs more preemptions is skipped, and so can a
    /// class that has a schedule within the bound when the race reversal
    /// that would reach it needs more (DPOR reverses races at fixed points).
    pub preemption_bound: Option<u32>,
}

/// Progress and health of an exploration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Executions run to their end (every actor finished or blocked).
    pub executions: u64,
    /// Of those, the ones that ended with actors blocked (deadlocks).
    pub deadlocks: u64,
    /// Executions abandoned because every enabled actor was in the sleep set
    /// (a class already explored). Optimal DPOR keeps this at 0.
    pub sleep_blocked: u64,
    /// Executions abandoned because the next step would exceed the
    /// preemption bound.
    pub bound_pruned: u64,
    /// Times a wakeup sequence named an actor that was not enabled: the
    /// program did not behave the same under the same schedule prefix
    /// (nondeterminism outside the scheduler's control). 0 when all is well.
    pub infeasible: u64,
    /// Replayed steps whose event differed from the one recorded for the
    /// same schedule prefix before (same cause; results may be incomplete).
    pub diverged: u64,
    /// Of the executions, those whose Mazurkiewicz class an earlier one had
    /// (explorations of atomic steps only: a step moved where it has not
    /// run has an unknown footprint, see `wakeup`). They are not reported
    /// again; 0 for threads.
    pub repeated: u64,
    /// Reversible races found in the executions.
    pub races: u64,
    /// Race reversals added to wakeup trees (new executions scheduled).
    pub scheduled: u64,
    /// Executions already scheduled and not run yet: a lower bound on what
    /// is left (races in future executions schedule more).
    pub pending: u64,
    /// `executions + pending`: the estimated total, growing as the
    /// exploration discovers more.
    pub estimated_total: u64,
    /// Longest execution, in scheduling points.
    pub max_steps: u64,
    /// A converging estimate of the executions the whole exploration will
    /// run (in the manner of Concuerror): at each scheduling point of the
    /// current path, the alternatives still to explore are taken to be as
    /// large as those explored so far. Unlike `estimated_total`, it may
    /// overshoot; it equals `executions` once the exploration is done.
    pub estimate: u64,
    /// Executions stopped at a frontier of the split region (see
    /// [`super::Explorer::split`]), each waiting for a claim.
    pub frontiers: u64,
    /// Race reversals not scheduled because they fell in the fully expanded
    /// region above the frontiers (every alternative there is explored
    /// anyway).
    pub top_dropped: u64,
}

impl Explorer {
    /// Counters and the progress estimate.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats;
        s.pending = (0..self.depth.min(self.points.len()))
            .map(|k| self.forest.leaves(self.points[k].wut))
            .sum();
        s.estimated_total = s.executions + s.pending;
        s.estimate = self.estimate();
        s
    }

    /// The schedule of the current (or last) execution so far.
    pub fn schedule(&self) -> Schedule {
        Schedule::new(
            self.points[..self.step.min(self.points.len())]
                .iter()
                .flat_map(|p| std::iter::repeat_n(ActorId(p.actor), p.events.max(1) as usize))
                .collect(),
        )
    }

    /// Whether the exploration is complete.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }
}
