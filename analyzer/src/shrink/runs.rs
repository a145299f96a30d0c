//! A schedule as runs of one actor, and the edits the shrinker makes to it.
//!
//! Every edit keeps each actor's steps in order: an actor's k-th step in a
//! schedule is its k-th scheduling point, so moving a run later does not
//! change *what* the actor does there, only *when*. That is why the edits
//! move whole runs (or the tail of one) instead of deleting steps: a deleted
//! step would shift every later step of that actor onto a different
//! operation and scramble the interleaving after it.
//!
//! Lists are edited without merging neighbours (an edit may leave two runs
//! of one actor side by side); [`to_steps`] flattens them. A *switch j* is
//! the boundary between run `j - 1` and run `j`.

use racetrace_formats::ActorId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub actor: ActorId,
    pub len: usize,
}

/// Runs of equal consecutive actors (each of length >= 1).
pub(crate) fn runs_of(steps: &[ActorId]) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for &actor in steps {
        match runs.last_mut() {
            Some(r) if r.actor == actor => r.len += 1,
            _ => runs.push(Run { actor, len: 1 }),
        }
    }
    runs
}

pub(crate) fn to_steps(runs: &[Run]) -> Vec<ActorId> {
    let mut steps = Vec::with_capacity(runs.iter().map(|r| r.len).sum());
    for r in runs {
        steps.extend(std::iter::repeat_n(r.actor, r.len));
    }
    steps
}

/// The next run of `actor` at index `from` or later.
fn next_run_of(runs: &[Run], actor: ActorId, from: usize) -> Option<usize> {
    (from..runs.len()).find(|&k| runs[k].actor == actor)
}

/// Removes switch `j` by letting the actor of run `j - 1` go on: its next
/// run is pulled forward and joined to run `j - 1`, so everything between
/// now happens after it. Everything after that next run is untouched, which
/// keeps a failure that happens later in the schedule intact.
///
/// When that actor has no later run, the schedule is cut at `j`: the default
/// policy (keep the current actor while it can run) then does the same.
pub(crate) fn extend_previous(runs: &mut Vec<Run>, j: usize) {
    debug_assert!(j >= 1 && j < runs.len());
    let actor = runs[j - 1].actor;
    match next_run_of(runs, actor, j) {
        Some(k) => {
            let moved = runs.remove(k);
            runs[j - 1].len += moved.len;
        }
        None => runs.truncate(j),
    }
}

/// Removes run `j` by merging it into its actor's next run: that actor's
/// steps happen later, everyone else's earlier. Without a later run of that
/// actor the steps are dropped, and the default policy runs them after the
/// schedule ends.
pub(crate) fn delay_run(runs: &mut Vec<Run>, j: usize) {
    debug_assert!(j < runs.len());
    let run = runs.remove(j);
    if let Some(k) = next_run_of(runs, run.actor, j) {
        runs[k].len += run.len;
    }
}

/// Moves the preemption at switch `j` earlier by `d` steps: the last `d`
/// steps of run `j - 1` move to the start of its actor's next run (or are
/// left to the default policy when there is none). Requires `d` to be less
/// than the run's length, so the switch itself stays.
pub(crate) fn preempt_earlier(runs: &mut [Run], j: usize, d: usize) {
    debug_assert!(j >= 1 && d < runs[j - 1].len);
    let actor = runs[j - 1].actor;
    runs[j - 1].len -= d;
    if let Some(k) = next_run_of(runs, actor, j) {
        runs[k].len += d;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(v: &[u32]) -> Vec<ActorId> {
        v.iter().map(|&a| ActorId(a)).collect()
    }

    fn edit(v: &[u32], f: impl FnOnce(&mut Vec<Run>)) -> Vec<ActorId> {
        let mut runs = runs_of(&steps(v));
        f(&mut runs);
        to_steps(&runs)
    }

    #[test]
    fn runs_round_trip() {
        let s = steps(&[0, 0, 1, 2, 2, 2, 0]);
        let runs = runs_of(&s);
        assert_eq!(runs.len(), 4);
        assert_eq!(to_steps(&runs), s);
    }

    #[test]
    fn extend_pulls_the_next_run_forward() {
        // 0 0 | 1 | 0 | 1 1  ->  0 0 0 | 1 | 1 1
        assert_eq!(
            edit(&[0, 0, 1, 0, 1, 1], |r| extend_previous(r, 1)),
            steps(&[0, 0, 0, 1, 1, 1])
        );
        // With a third actor in between, both runs move after actor 0's run.
        assert_eq!(
            edit(&[0, 1, 2, 0, 1], |r| extend_previous(r, 1)),
            steps(&[0, 0, 1, 2, 1])
        );
        // No later run of 0: cut, the default policy continues 0.
        assert_eq!(
            edit(&[1, 0, 1, 1], |r| extend_previous(r, 2)),
            steps(&[1, 0])
        );
    }

    #[test]
    fn delay_merges_into_the_actors_next_run() {
        assert_eq!(
            edit(&[0, 1, 1, 0, 2, 1], |r| delay_run(r, 1)),
            steps(&[0, 0, 2, 1, 1, 1])
        );
        assert_eq!(edit(&[0, 1, 0], |r| delay_run(r, 1)), steps(&[0, 0]));
    }

    #[test]
    fn preempt_earlier_moves_the_tail() {
        assert_eq!(
            edit(&[0, 0, 0, 1, 0], |r| preempt_earlier(r, 1, 2)),
            steps(&[0, 1, 0, 0, 0])
        );
        assert_eq!(
            edit(&[0, 0, 0, 1], |r| preempt_earlier(r, 1, 1)),
            steps(&[0, 0, 1])
        );
    }
}
