//! Running candidates: a cache, the budget, progress, and the parallel
//! fan-out that must not change the result.
//!
//! The search asks "which is the first candidate of this batch that is
//! accepted?". One at a time, candidates are run in order until one is.
//! With `jobs > 1` the next few not-yet-run candidates are run together;
//! their reports go into the cache marked *uncounted*, and the batch is then
//! walked in order exactly as one at a time would, counting a candidate when
//! the walk reaches it. So the accepted candidate, `candidates_run` and the
//! point where the budget stops are the same for every `jobs`.

use super::runs::{self, Run};
use super::{
    FailureSignature, RunReport, ShrinkError, ShrinkOptions, ShrinkPhase, ShrinkProgress, Verdict,
};
use racetrace_formats::Schedule;
use rayon::prelude::*;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Cache key: length plus two independent 64-bit hashes of the steps, so
/// long candidates are not kept twice in memory. `DefaultHasher::new()` has
/// fixed keys, which keeps the search deterministic.
type Fingerprint = (usize, u64, u64);

fn fingerprint(s: &Schedule) -> Fingerprint {
    let mut a = DefaultHasher::new();
    s.steps.hash(&mut a);
    let mut b = DefaultHasher::new();
    0x5eed_u64.hash(&mut b);
    s.steps.hash(&mut b);
    (s.len(), a.finish(), b.finish())
}

struct Entry {
    report: Stored,
    /// Reached by the in-order walk (and so counted in `candidates_run`).
    counted: bool,
}

/// A report kept in the cache as runs and preemption positions: its size
/// follows the number of switches, not the schedule's length.
struct Stored {
    verdict: Verdict,
    runs: Vec<Run>,
    preemptive_at: Vec<usize>,
    /// `preemptive.len()`, in case a broken runner gave the wrong length
    /// (so that the check on counting still sees it).
    flags: usize,
}

impl Stored {
    fn new(r: RunReport) -> Stored {
        Stored {
            runs: runs::runs_of(&r.executed.steps),
            preemptive_at: (0..r.preemptive.len())
                .filter(|&i| r.preemptive[i])
                .collect(),
            flags: r.preemptive.len(),
            verdict: r.verdict,
        }
    }

    fn report(&self) -> Arc<RunReport> {
        let mut preemptive = vec![false; self.flags];
        for &i in &self.preemptive_at {
            preemptive[i] = true;
        }
        Arc::new(RunReport {
            verdict: self.verdict.clone(),
            executed: Schedule::new(runs::to_steps(&self.runs)),
            preemptive,
        })
    }
}

/// The best failing run so far, as progress reports it.
#[derive(Clone, Copy, Default)]
pub(crate) struct BestView {
    pub preemptions: usize,
    pub switches: usize,
    pub length: usize,
}

pub(crate) struct Evaluator<'a, R, P> {
    runner: &'a R,
    pool: Option<rayon::ThreadPool>,
    jobs: usize,
    max_candidates: usize,
    cache: HashMap<Fingerprint, Entry>,
    pub candidates_run: usize,
    real_runs: usize,
    pub exhausted: bool,
    progress: P,
    pub phase: ShrinkPhase,
    pub best: BestView,
}

impl<'a, R, P> Evaluator<'a, R, P>
where
    R: Fn(&Schedule) -> RunReport + Sync,
    P: FnMut(&ShrinkProgress),
{
    pub fn new(runner: &'a R, options: &ShrinkOptions, progress: P) -> Self {
        let jobs = options.jobs.max(1);
        // Without a pool (building one failed) the search still runs, one
        // candidate at a time, with the same result.
        let pool = (jobs > 1)
            .then(|| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(jobs)
                    .build()
                    .ok()
            })
            .flatten();
        Evaluator {
            runner,
            pool,
            jobs,
            max_candidates: options.max_candidates,
            cache: HashMap::new(),
            candidates_run: 0,
            real_runs: 0,
            exhausted: false,
            progress,
            phase: ShrinkPhase::Original,
            best: BestView::default(),
        }
    }

    pub fn speculative_runs(&self) -> usize {
        self.real_runs - self.candidates_run
    }

    /// Runs the original: counted even when the budget is 0, since there is
    /// nothing to return without it. Progress is reported by the caller,
    /// once it knows the original's cost.
    pub fn run_original(&mut self, s: &Schedule) -> Result<Arc<RunReport>, ShrinkError> {
        let report = self.run_uncached(std::slice::from_ref(s)).remove(0);
        check_report(s, &report)?;
        self.cache.insert(
            fingerprint(s),
            Entry {
                report: Stored::new(report.clone()),
                counted: true,
            },
        );
        self.candidates_run += 1;
        Ok(Arc::new(report))
    }

    /// The first candidate, in order, whose report fails with `signature`
    /// and satisfies `accept`, with its index and report. `None` when none
    /// does or the budget ran out (then `exhausted` is set).
    pub fn first_accepted(
        &mut self,
        candidates: &[Schedule],
        signature: &FailureSignature,
        accept: impl Fn(&RunReport) -> bool,
    ) -> Result<Option<(usize, Arc<RunReport>)>, ShrinkError> {
        for i in 0..candidates.len() {
            let Some(report) = self.counted_report(candidates, i)? else {
                return Ok(None);
            };
            if matches!(&report.verdict, Verdict::Fail(sig) if sig == signature) && accept(&report)
            {
                return Ok(Some((i, report)));
            }
        }
        Ok(None)
    }

    /// The report of one candidate, whatever it is (counted like any other).
    /// `None` when the budget is spent.
    pub fn run_one(&mut self, cand: &Schedule) -> Result<Option<Arc<RunReport>>, ShrinkError> {
        self.counted_report(std::slice::from_ref(cand), 0)
    }

    /// The report of `candidates[i]`, running it (and, in parallel, the
    /// next few unknown candidates) if needed and counting it if this is
    /// the first time the walk reaches it. `None` when the budget is spent.
    fn counted_report(
        &mut self,
        candidates: &[Schedule],
        i: usize,
    ) -> Result<Option<Arc<RunReport>>, ShrinkError> {
        let fp = fingerprint(&candidates[i]);
        if let Some(e) = self.cache.get(&fp) {
            if e.counted {
                return Ok(Some(e.report.report()));
            }
        }
        if self.candidates_run >= self.max_candidates {
            self.exhausted = true;
            return Ok(None);
        }
        if !self.cache.contains_key(&fp) {
            self.prefetch(candidates, i);
        }
        let e = self.cache.get_mut(&fp).expect("prefetch ran the candidate");
        e.counted = true;
        let report = e.report.report();
        // Checked when counted, not when run: a bad report from a candidate
        // run ahead but never reached must not change the outcome.
        check_report(&candidates[i], &report)?;
        self.candidates_run += 1;
        self.report_progress();
        Ok(Some(report))
    }

    /// Runs `candidates[i]` and, with `jobs > 1`, the next unknown
    /// candidates after it, never more than the budget could still count.
    fn prefetch(&mut self, candidates: &[Schedule], i: usize) {
        let room = self.max_candidates - self.candidates_run;
        let mut batch: Vec<&Schedule> = Vec::new();
        let mut seen: Vec<Fingerprint> = Vec::new();
        // Uncounted candidates ahead in the walk, each of which the budget
        // must still cover if the walk reaches it.
        let mut ahead = 0;
        for cand in &candidates[i..] {
            if batch.len() == self.jobs || ahead == room {
                break;
            }
            let fp = fingerprint(cand);
            if seen.contains(&fp) {
                continue;
            }
            seen.push(fp);
            match self.cache.get(&fp) {
                Some(e) if e.counted => continue,
                Some(_) => ahead += 1,
                None => {
                    ahead += 1;
                    batch.push(cand);
                }
            }
        }
        let owned: Vec<Schedule> = batch.into_iter().cloned().collect();
        let reports = self.run_uncached(&owned);
        for (cand, report) in owned.iter().zip(reports) {
            self.cache.insert(
                fingerprint(cand),
                Entry {
                    report: Stored::new(report),
                    counted: false,
                },
            );
        }
    }

    fn run_uncached(&mut self, batch: &[Schedule]) -> Vec<RunReport> {
        let runner = self.runner;
        self.real_runs += batch.len();
        match &self.pool {
            Some(pool) if batch.len() > 1 => {
                pool.install(|| batch.par_iter().map(runner).collect())
            }
            _ => batch.iter().map(runner).collect(),
        }
    }

    pub fn report_progress(&mut self) {
        (self.progress)(&ShrinkProgress {
            phase: self.phase,
            candidates_run: self.candidates_run,
            max_candidates: self.max_candidates,
            best_preemptions: self.best.preemptions,
            best_switches: self.best.switches,
            best_length: self.best.length,
        });
    }
}

/// A failing report is used as the next starting point, so it must make
/// sense; a broken runner gets a clear error instead of a wrong result.
fn check_report(cand: &Schedule, r: &RunReport) -> Result<(), ShrinkError> {
    if !matches!(r.verdict, Verdict::Fail(_)) {
        return Ok(());
    }
    let bad = |problem: String| {
        Err(ShrinkError::BadReport {
            schedule: cand.to_text(),
            problem,
        })
    };
    let (c, e) = (&cand.steps, &r.executed.steps);
    let common = c.len().min(e.len());
    if c[..common] != e[..common] {
        return bad(format!(
            "the executed schedule {} does not follow the candidate",
            r.executed
        ));
    }
    if r.preemptive.len() != e.len() {
        return bad(format!(
            "{} preemption flags for {} executed steps",
            r.preemptive.len(),
            e.len()
        ));
    }
    if let Some(i) = (0..e.len()).find(|&i| r.preemptive[i] && (i == 0 || e[i] == e[i - 1])) {
        return bad(format!(
            "step {i} is flagged as a preemption but is not a switch"
        ));
    }
    Ok(())
}
