//! The search: ddmin over preemptions, then single removals of preemptions
//! and of switches (see the module documentation for the order);
//! canonicalization follows in `canon`.

use super::eval::{BestView, Evaluator};
use super::runs::{self, Run};
use super::{
    FailureSignature, RunReport, ShrinkError, ShrinkOptions, ShrinkPhase, ShrinkProgress,
    ShrinkResult, Verdict,
};
use racetrace_formats::Schedule;
use std::sync::Arc;

/// Compared in field order: preemptions first, then switches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Cost {
    preemptions: usize,
    switches: usize,
}

pub(super) fn cost(r: &RunReport) -> Cost {
    Cost {
        preemptions: r.preemptions(),
        switches: r.switches(),
    }
}

/// The best failing run so far.
pub(super) struct Best {
    /// The candidate that produced it (what a replay forces).
    pub(super) schedule: Schedule,
    pub(super) report: Arc<RunReport>,
    pub(super) cost: Cost,
    /// Runs of `report.executed`: what the edits start from.
    pub(super) runs: Vec<Run>,
}

impl Best {
    fn new(mut schedule: Schedule, report: Arc<RunReport>) -> Best {
        // A failure that stopped the run never reached the candidate's
        // later steps: replaying without them runs the same.
        schedule.steps.truncate(report.executed.len());
        Best {
            cost: cost(&report),
            runs: runs::runs_of(&report.executed.steps),
            schedule,
            report,
        }
    }

    /// Indices of the runs that start with a preemption, in order.
    pub(super) fn preemption_runs(&self) -> Vec<usize> {
        self.switch_runs(true)
    }

    fn switch_runs(&self, preemptive: bool) -> Vec<usize> {
        let mut out = Vec::new();
        let mut start = 0;
        for (j, r) in self.runs.iter().enumerate() {
            if j > 0 && self.report.preemptive[start] == preemptive {
                out.push(j);
            }
            start += r.len;
        }
        out
    }

    fn edited(&self, edit: impl FnOnce(&mut Vec<Run>)) -> Schedule {
        let mut runs = self.runs.clone();
        edit(&mut runs);
        Schedule::new(runs::to_steps(&runs))
    }
}

/// Shrinks `original` (see the module documentation). `progress` is called
/// after every counted candidate.
pub fn shrink<R>(
    original: &Schedule,
    runner: R,
    options: &ShrinkOptions,
    progress: impl FnMut(&ShrinkProgress),
) -> Result<ShrinkResult, ShrinkError>
where
    R: Fn(&Schedule) -> RunReport + Sync,
{
    let mut ev = Evaluator::new(&runner, options, progress);
    let report = ev.run_original(original)?;
    let signature = match &report.verdict {
        Verdict::Fail(sig) => sig.clone(),
        other => {
            return Err(ShrinkError::NotFailing {
                schedule: original.to_text(),
                verdict: other.clone(),
            })
        }
    };
    let best = Best::new(original.clone(), report);
    let mut search = Search {
        limit: best.cost,
        best,
        signature,
        ev,
    };
    search.show_best();
    search.ev.report_progress();
    search.minimize()?;
    if !search.ev.exhausted {
        search.canonicalize()?;
    }
    let Search {
        best,
        signature,
        ev,
        limit,
    } = search;
    Ok(ShrinkResult {
        schedule: best.schedule,
        executed: best.report.executed.clone(),
        signature,
        preemptions: best.cost.preemptions,
        switches: best.cost.switches,
        original_preemptions: limit.preemptions,
        original_switches: limit.switches,
        candidates_run: ev.candidates_run,
        speculative_runs: ev.speculative_runs(),
        budget_exhausted: ev.exhausted,
    })
}

pub(super) struct Search<'a, R, P> {
    pub(super) ev: Evaluator<'a, R, P>,
    pub(super) signature: FailureSignature,
    pub(super) best: Best,
    /// The original's cost: no result may have more preemptions or more
    /// switches, even when it trades one for the other.
    pub(super) limit: Cost,
}

/// Whether a candidate must be strictly cheaper than the best (the search
/// passes, which must terminate) or may cost the same (canonicalization,
/// which trades equal cost for a canonical shape).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Need {
    Cheaper,
    NoWorse,
}

impl<R, P> Search<'_, R, P>
where
    R: Fn(&Schedule) -> RunReport + Sync,
    P: FnMut(&ShrinkProgress),
{
    fn show_best(&mut self) {
        self.ev.best = BestView {
            preemptions: self.best.cost.preemptions,
            switches: self.best.cost.switches,
            length: self.best.report.executed.len(),
        };
    }

    pub(super) fn acceptable(&self, c: Cost, need: Need) -> bool {
        acceptable(c, self.limit, self.best.cost, need)
    }

    pub(super) fn adopt(&mut self, schedule: Schedule, report: Arc<RunReport>) {
        self.best = Best::new(schedule, report);
        self.show_best();
    }

    /// Runs the batch until the first acceptable candidate, adopts it and
    /// returns its index.
    pub(super) fn try_batch(
        &mut self,
        cands: Vec<Schedule>,
        need: Need,
    ) -> Result<Option<usize>, ShrinkError> {
        let (limit, best) = (self.limit, self.best.cost);
        let accept = move |r: &RunReport| acceptable(cost(r), limit, best, need);
        let found = self.ev.first_accepted(&cands, &self.signature, accept)?;
        Ok(found.map(|(i, report)| {
            self.adopt(cands[i].clone(), report);
            i
        }))
    }

    /// Steps 2 and 3, repeated while any of them improves.
    fn minimize(&mut self) -> Result<(), ShrinkError> {
        loop {
            let before = self.best.cost;
            self.ddmin_preemptions()?;
            if !self.ev.exhausted {
                self.single_preemptions()?;
            }
            if !self.ev.exhausted {
                self.switches()?;
            }
            if self.ev.exhausted || self.best.cost == before {
                return Ok(());
            }
        }
    }

    /// ddmin over the preemptions of the best run. Removing a set of them
    /// applies `extend_previous` from the last to the first, so that each
    /// edit leaves the runs before it (where the earlier ones are) alone.
    fn ddmin_preemptions(&mut self) -> Result<(), ShrinkError> {
        self.ev.phase = ShrinkPhase::Preemptions;
        let mut n = 2;
        loop {
            let pre = self.best.preemption_runs();
            let m = pre.len();
            if m == 0 {
                return Ok(());
            }
            n = n.min(m);
            let chunks = split(&pre, n);
            let without = |remove: &[usize]| {
                self.best.edited(|runs| {
                    for &j in remove.iter().rev() {
                        runs::extend_previous(runs, j);
                    }
                })
            };
            let cands: Vec<Schedule> = chunks.iter().map(|c| without(c)).collect();
            match self.try_batch(cands, Need::Cheaper)? {
                Some(_) => n = (n - 1).max(2),
                None if self.ev.exhausted || n >= m => return Ok(()),
                None => n = (2 * n).min(m),
            }
        }
    }

    /// Each remaining preemption alone, three ways: the preempted actor goes
    /// on; the preempting run waits for its actor's next run (not the same
    /// as the first with more than two actors); or the preempted run itself
    /// waits for its actor's next run, as when an actor ran a few steps too
    /// early and was then preempted by the one that should have gone first.
    fn single_preemptions(&mut self) -> Result<(), ShrinkError> {
        self.ev.phase = ShrinkPhase::SinglePreemptions;
        loop {
            let mut cands = Vec::new();
            for j in self.best.preemption_runs() {
                cands.push(self.best.edited(|r| runs::extend_previous(r, j)));
                cands.push(self.best.edited(|r| runs::delay_run(r, j)));
                cands.push(self.best.edited(|r| runs::delay_run(r, j - 1)));
            }
            if self.try_batch(cands, Need::Cheaper)?.is_none() {
                return Ok(());
            }
        }
    }

    /// Each non-preemptive switch alone: the actor that stopped could not
    /// go on, so the only edit is to delay the run switched to.
    fn switches(&mut self) -> Result<(), ShrinkError> {
        self.ev.phase = ShrinkPhase::Switches;
        loop {
            let cands: Vec<Schedule> = self
                .best
                .switch_runs(false)
                .into_iter()
                .map(|j| self.best.edited(|r| runs::delay_run(r, j)))
                .collect();
            if self.try_batch(cands, Need::Cheaper)?.is_none() {
                return Ok(());
            }
        }
    }
}

fn acceptable(c: Cost, limit: Cost, best: Cost, need: Need) -> bool {
    let within = c.preemptions <= limit.preemptions && c.switches <= limit.switches;
    within
        && match need {
            Need::Cheaper => c < best,
            Need::NoWorse => c <= best,
        }
}

/// `items` in `n` contiguous chunks whose sizes differ by at most one.
fn split(items: &[usize], n: usize) -> Vec<Vec<usize>> {
    let (base, extra) = (items.len() / n, items.len() % n);
    let mut out = Vec::with_capacity(n);
    let mut at = 0;
    for i in 0..n {
        let size = base + usize::from(i < extra);
        out.push(items[at..at + size].to_vec());
        at += size;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn split_is_balanced_and_ordered() {
        assert_eq!(split(&[1, 2, 3, 4, 5], 2), vec![vec![1, 2, 3], vec![4, 5]]);
        assert_eq!(split(&[1, 2, 3], 3), vec![vec![1], vec![2], vec![3]]);
    }
}
