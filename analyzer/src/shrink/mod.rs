//! Schedule shrinking: from a failing schedule, find one that fails the same
//! way with the fewest preemptions, then the fewest context switches, then
//! the shortest prefix — the schedule a replay script forces.
//!
//! # Model
//!
//! A [`Schedule`] lists the actor chosen at each scheduling point. A runner
//! (supplied by the caller: the controlled execution of the real program, or
//! a simulation in tests) runs a *candidate* schedule; when the candidate
//! runs out it continues with the **default policy**: keep the current actor
//! while it can run, otherwise the lowest runnable id. So a candidate may be
//! a prefix, and the runner reports the full schedule it *executed*. A
//! candidate naming an actor that cannot run at some step is *diverged*.
//!
//! A *context switch* is a step whose actor differs from the previous
//! step's; a *preemption* is a switch away from an actor that could still
//! run. Only the runner knows what could run, so it flags each preemptive
//! step in [`RunReport::preemptive`]. A candidate *fails the same way* when
//! its [`FailureSignature`] equals the original's.
//!
//! # API
//!
//! [`shrink`]`(original, runner, &ShrinkOptions, progress) ->
//! Result<ShrinkResult, ShrinkError>` with `runner: Fn(&Schedule) ->
//! RunReport + Sync`. The runner must be deterministic: the same candidate
//! gives the same report. A candidate that hangs must be stopped by the
//! runner's own timeout and reported as [`Verdict::Pass`] (it did not fail
//! the same way); the shrinker then simply does not use it.
//!
//! [`shrink_with_partial_moves`] takes the same arguments: [`shrink`], then
//! a second pass of edits the search does not make ([`partial_moves`]: move
//! only the first steps of a preempted actor's next run up, for when the
//! whole run blocks partway), shrinking again from any that removes a
//! preemption. `racetrace shrink` uses it.
//!
//! # Algorithm
//!
//! 1. Run the original; it must fail ([`ShrinkError::NotFailing`]).
//! 2. Delta debugging (ddmin) over the preemptions of the best failing run:
//!    split them into n chunks, try removing each chunk (n = 2 first, then
//!    n - 1 after a success, 2n after none, down to single preemptions).
//!    Removing a preemption lets the preempted actor run on through its
//!    next run (`runs::extend_previous`): the runs in between move after
//!    it and everything later is untouched, so a failure further on keeps
//!    its interleaving. (Only complements are tried, not "keep one chunk":
//!    bugs needing several preemptions almost never survive that, and it
//!    costs n candidates per round.)
//! 3. Try to remove each remaining preemption alone, three ways (let the
//!    preempted actor go on; delay the preempting run to its actor's next
//!    run; delay the preempted run itself), then each non-preemptive
//!    switch (delay the run switched to). Steps 2–3 repeat while they
//!    improve.
//! 4. Canonicalize: move each preemption as early as it can go (fewer steps
//!    before the interruption), then cut the schedule to the shortest prefix
//!    whose default continuation still fails: everything after the last
//!    preemption is left to the default policy, which prefers the lowest id.
//!
//! A candidate is kept when it fails the same way with fewer (preemptions,
//! switches) in that order — in step 4, with no more — and never with more
//! preemptions or switches than the original. All choices are made in a
//! fixed order, so the result depends only on the original and the runner.
//!
//! The search is local: it edits the schedule it started from, so the
//! result is 1-minimal for these edits, not always the global minimum (a
//! failure reachable only with another actor as the racing partner can be
//! missed). Against a brute-force search over small random programs it
//! finds the minimum in the large majority of cases (see the tests).
//!
//! # Parallelism and budget
//!
//! With `jobs > 1`, each batch of candidates is run on a rayon pool, `jobs`
//! at a time, and the first success in batch order is taken: the result,
//! including `candidates_run` and where the budget stops, is the same as
//! with `jobs = 1`. Runs made ahead of a success and never needed are
//! counted in [`ShrinkResult::speculative_runs`] only.

mod canon;
mod eval;
mod partial;
mod runs;
mod search;

use racetrace_formats::Schedule;
use std::fmt;

pub use partial::{partial_moves, shrink_with_partial_moves};
pub use search::shrink;

/// How a failing run failed, e.g. kind `"AssertionError"` and location
/// `"test_bank.py:42"`. Two runs fail the same way when these are equal,
/// so it should not include values that vary from run to run.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct FailureSignature {
    pub kind: String,
    pub location: String,
}

impl FailureSignature {
    pub fn new(kind: impl Into<String>, location: impl Into<String>) -> Self {
        FailureSignature {
            kind: kind.into(),
            location: location.into(),
        }
    }
}

impl fmt::Display for FailureSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.kind, self.location)
    }
}

/// The outcome of running one candidate.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Verdict {
    Fail(FailureSignature),
    /// Ran to the end without failing, or hung and was stopped by the
    /// runner's timeout.
    Pass,
    /// The candidate chose an actor that could not run at this step.
    Diverged {
        step: usize,
    },
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Fail(sig) => write!(f, "failed: {sig}"),
            Verdict::Pass => f.write_str("passed"),
            Verdict::Diverged { step } => write!(
                f,
                "diverged at step {step} (the scheduled actor could not run)"
            ),
        }
    }
}

/// What the runner reports for one candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunReport {
    pub verdict: Verdict,
    /// Every step actually taken: the candidate, then the default policy's
    /// choices (or a prefix of the candidate, when the failure stopped the
    /// run early). Read for failing runs; for others it may be left empty,
    /// and when given it lets canonicalization skip candidates.
    pub executed: Schedule,
    /// Per step of `executed`: this step switched away from an actor that
    /// could still run. Same length as `executed`; only read for failing runs.
    pub preemptive: Vec<bool>,
}

impl RunReport {
    pub fn preemptions(&self) -> usize {
        self.preemptive.iter().filter(|&&p| p).count()
    }

    pub fn switches(&self) -> usize {
        count_switches(&self.executed)
    }
}

/// Steps whose actor differs from the previous step's.
pub fn count_switches(s: &Schedule) -> usize {
    s.steps.windows(2).filter(|w| w[0] != w[1]).count()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShrinkOptions {
    /// Candidates run at once (0 and 1 both mean one at a time).
    pub jobs: usize,
    /// Most runner calls that count toward the result, the original's
    /// included. When reached, the best schedule so far is returned with
    /// [`ShrinkResult::budget_exhausted`] set.
    pub max_candidates: usize,
}

impl Default for ShrinkOptions {
    fn default() -> Self {
        ShrinkOptions {
            jobs: 1,
            max_candidates: 1000,
        }
    }
}

/// Which step of the algorithm is running, for progress displays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum ShrinkPhase {
    Original,
    Preemptions,
    SinglePreemptions,
    Switches,
    Canonicalize,
}

/// Reported after every counted candidate.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ShrinkProgress {
    pub phase: ShrinkPhase,
    pub candidates_run: usize,
    pub max_candidates: usize,
    pub best_preemptions: usize,
    pub best_switches: usize,
    /// Steps of the best failing run (executed, not the prefix).
    pub best_length: usize,
}

/// Serializes (for `--json`) with schedules in their text form.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ShrinkResult {
    /// The schedule to force when replaying: a prefix of `executed`, after
    /// which the default policy reproduces the rest.
    #[serde(serialize_with = "schedule_text")]
    pub schedule: Schedule,
    /// The full schedule that running `schedule` executes.
    #[serde(serialize_with = "schedule_text")]
    pub executed: Schedule,
    pub signature: FailureSignature,
    /// Preemptions and switches of `executed`.
    pub preemptions: usize,
    pub switches: usize,
    pub original_preemptions: usize,
    pub original_switches: usize,
    /// Runner calls in the order a one-at-a-time search makes them, the
    /// original's included; identical for any `jobs`.
    pub candidates_run: usize,
    /// Extra runner calls made ahead in parallel and never needed.
    pub speculative_runs: usize,
    /// The search stopped at `max_candidates`: `schedule` fails the same
    /// way but may not be minimal.
    pub budget_exhausted: bool,
}

fn schedule_text<S: serde::Serializer>(s: &Schedule, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(&s.to_text())
}

#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum ShrinkError {
    #[error("nothing to shrink: the original schedule {schedule} does not fail, it {verdict}")]
    NotFailing { schedule: String, verdict: Verdict },
    #[error("inconsistent runner report for {schedule}: {problem}")]
    BadReport { schedule: String, problem: String },
}
