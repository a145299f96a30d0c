//! Canonicalization: among schedules of the same cost, the one with the
//! earliest preemptions and the shortest forced prefix, so that the result
//! reads well in a replay script and does not depend on where, inside a
//! window that fails, the original happened to preempt.

use super::runs;
use super::search::{cost, Need, Search};
use super::{RunReport, ShrinkError, ShrinkPhase, ShrinkProgress, Verdict};
use racetrace_formats::Schedule;

impl<R, P> Search<'_, R, P>
where
    R: Fn(&Schedule) -> RunReport + Sync,
    P: FnMut(&ShrinkProgress),
{
    pub(super) fn canonicalize(&mut self) -> Result<(), ShrinkError> {
        self.ev.phase = ShrinkPhase::Canonicalize;
        self.earliest_preemptions()?;
        if !self.ev.exhausted {
            self.shortest_prefix()?;
        }
        Ok(())
    }

    /// Moves each preemption, in order, as early as it still fails: the
    /// preempted run loses its last `d` steps to its actor's next run. The
    /// failing `d` usually form a window from 0 (the interruption must fall
    /// between two operations), so gallop then bisect for its end: about
    /// 2·log2(window) candidates rather than one per step.
    fn earliest_preemptions(&mut self) -> Result<(), ShrinkError> {
        let mut idx = 0;
        loop {
            let pre = self.best.preemption_runs();
            let Some(&j) = pre.get(idx) else {
                return Ok(());
            };
            idx += 1;
            let base = self.best.runs.clone();
            let len = base[j - 1].len;
            let cand = |d: usize| {
                let mut runs = base.clone();
                runs::preempt_earlier(&mut runs, j, d);
                Schedule::new(runs::to_steps(&runs))
            };
            let (mut good, mut bad) = (0, len);
            let mut step = 1;
            while good + step < bad {
                let d = good + step;
                if self.try_batch(vec![cand(d)], Need::NoWorse)?.is_some() {
                    good = d;
                    step *= 2;
                } else {
                    bad = d;
                }
                if self.ev.exhausted {
                    return Ok(());
                }
            }
            while bad - good > 1 {
                let mid = good + (bad - good) / 2;
                if self.try_batch(vec![cand(mid)], Need::NoWorse)?.is_some() {
                    good = mid;
                } else {
                    bad = mid;
                }
                if self.ev.exhausted {
                    return Ok(());
                }
            }
        }
    }

    /// Cuts the schedule to the shortest prefix whose default continuation
    /// still fails. Everything after the last preemption is switches the
    /// default policy may well make by itself; the first cut tried keeps
    /// just the first step after that preemption. Where the default chose
    /// differently from the best run, the cut moves past that choice.
    fn shortest_prefix(&mut self) -> Result<(), ShrinkError> {
        let exec = self.best.report.executed.steps.clone();
        let mut cut = match self.best.report.preemptive.iter().rposition(|&p| p) {
            Some(i) => i + 1,
            None => 0,
        };
        while cut < exec.len().min(self.best.schedule.len()) {
            let cand = Schedule::new(exec[..cut].to_vec());
            let Some(report) = self.ev.run_one(&cand)? else {
                return Ok(());
            };
            let fails = matches!(&report.verdict, Verdict::Fail(s) if *s == self.signature);
            if fails && self.acceptable(cost(&report), Need::NoWorse) {
                self.adopt(cand, report);
                return Ok(());
            }
            // The first step where the default policy left the best run, if
            // the runner reported the steps it took after the cut.
            let seen = &report.executed.steps;
            let left = (seen.len() > cut)
                .then(|| (cut..exec.len()).find(|&i| seen.get(i) != Some(&exec[i])))
                .flatten();
            let next_switch = (cut.max(1)..exec.len()).find(|&i| exec[i] != exec[i - 1]);
            cut = match (left, next_switch) {
                (Some(d), _) => d + 1,
                (None, Some(s)) => s + 1,
                (None, None) => return Ok(()),
            };
        }
        Ok(())
    }
}
