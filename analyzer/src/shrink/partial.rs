//! Partial moves: a second pass for a preemption the search's edits cannot
//! remove.
//!
//! The search removes a preemption by moving the preempted actor's whole
//! next run up to it (`runs::extend_previous`). When that run blocks partway
//! (a main thread starting one more thread, then reaching a join on it), the
//! candidate diverges and the preemption stays. Moving only the first `k`
//! steps of that run up is the edit that works; when it fails the same way
//! with fewer preemptions, the search starts again from there.

use super::search::shrink;
use super::{RunReport, ShrinkError, ShrinkOptions, ShrinkProgress, ShrinkResult, Verdict};
use racetrace_formats::Schedule;

/// The candidates that move the first `k` steps of a preempted actor's next
/// run up to where it was preempted: for each preemption, in order (a step
/// `i` flagged in `preemptive` whose actor differs from that of step
/// `i - 1`, `p`), with `p`'s next run starting at step `j > i`, the schedule
/// `executed[..i]`, `k` steps of `p`, `executed[i..j]`, `executed[j + k..]`,
/// for `k` from 1 to that run's length minus one (moving the whole run is
/// the search's own edit). Like the search's edits, it keeps each actor's
/// steps in order.
///
/// `preemptive` is per step of `executed`, as [`RunReport::preemptive`];
/// flags past the end of `executed`, or on a step that is no switch, are
/// ignored.
pub fn partial_moves<'a>(
    executed: &'a Schedule,
    preemptive: &'a [bool],
) -> impl Iterator<Item = Schedule> + 'a {
    let steps = &executed.steps;
    let n = steps.len();
    (1..preemptive.len().min(n))
        .filter(|&i| preemptive[i] && steps[i] != steps[i - 1])
        .flat_map(move |i| {
            let p = steps[i - 1];
            let (j, end) = match (i..n).find(|&x| steps[x] == p) {
                Some(j) => (j, (j..n).find(|&x| steps[x] != p).unwrap_or(n)),
                None => (i, i),
            };
            (1..end - j).map(move |k| {
                let mut moved = Vec::with_capacity(n);
                moved.extend_from_slice(&steps[..i]);
                moved.extend(std::iter::repeat_n(p, k));
                moved.extend_from_slice(&steps[i..j]);
                moved.extend_from_slice(&steps[j + k..]);
                Schedule::new(moved)
            })
        })
}

/// [`shrink`], then partial moves while they help:
///
/// 1. Shrink `original`; its errors are this function's.
/// 2. While the result has more than one preemption and the budget
///    (`options.max_candidates`) is not spent: run its executed schedule
///    once more, for its preemption flags, then its [`partial_moves`] one
///    at a time, until one fails the same way with fewer preemptions than
///    the result, or the budget is spent. Each of these runs is counted;
///    none is cached or run in parallel.
/// 3. When one does, shrink again from the schedule it executed, with the
///    budget left (at least one candidate: a search always runs its
///    original, so the total may exceed the budget by one), and go back to
///    step 2. When that search fails (the schedule no longer fails when run
///    again), keep the previous result.
///
/// The result is the last search's, with `candidates_run` counting every
/// run of every step and `original_preemptions`/`original_switches` those
/// of `original`; `speculative_runs` and `budget_exhausted` are the last
/// search's.
pub fn shrink_with_partial_moves<R>(
    original: &Schedule,
    runner: R,
    options: &ShrinkOptions,
    mut progress: impl FnMut(&ShrinkProgress),
) -> Result<ShrinkResult, ShrinkError>
where
    R: Fn(&Schedule) -> RunReport + Sync,
{
    let max = options.max_candidates;
    let mut res = shrink(original, &runner, options, &mut progress)?;
    let first = (res.original_preemptions, res.original_switches);
    while res.preemptions > 1 && res.candidates_run < max {
        let (better, used) = partial_move_pass(&res, &runner, max - res.candidates_run);
        res.candidates_run += used;
        let Some(better) = better else { break };
        let spent = res.candidates_run;
        let left = ShrinkOptions {
            max_candidates: max.saturating_sub(spent).max(1),
            ..options.clone()
        };
        let Ok(again) = shrink(&better.executed, &runner, &left, &mut progress) else {
            break;
        };
        res = ShrinkResult {
            candidates_run: again.candidates_run + spent,
            ..again
        };
    }
    (res.original_preemptions, res.original_switches) = first;
    Ok(res)
}

/// Step 2 of [`shrink_with_partial_moves`]: the report of a partial move of
/// `res` that fails the same way with fewer preemptions (if any is found
/// within `budget` runs), and the runs made.
fn partial_move_pass<R>(res: &ShrinkResult, runner: &R, budget: usize) -> (Option<RunReport>, usize)
where
    R: Fn(&Schedule) -> RunReport,
{
    let again = runner(&res.executed);
    if !matches!(again.verdict, Verdict::Fail(_)) {
        return (None, 1);
    }
    let same = Verdict::Fail(res.signature.clone());
    let mut used = 1;
    for cand in partial_moves(&res.executed, &again.preemptive) {
        if used >= budget {
            break;
        }
        let r = runner(&cand);
        used += 1;
        if r.verdict == same && r.preemptions() < res.preemptions {
            return (Some(r), used);
        }
    }
    (None, used)
}

#[cfg(test)]
mod tests {
    use super::partial_moves;
    use racetrace_formats::{ActorId, Schedule};

    fn sched(v: &[u32]) -> Schedule {
        Schedule::new(v.iter().map(|&a| ActorId(a)).collect())
    }

    fn moves(v: &[u32], preemptive_at: &[usize]) -> Vec<Schedule> {
        let executed = sched(v);
        let mut flags = vec![false; v.len()];
        for &i in preemptive_at {
            flags[i] = true;
        }
        partial_moves(&executed, &flags).collect()
    }

    #[test]
    fn moves_the_first_steps_of_the_next_run_up() {
        // 0 0 | 1 1 | 0 0 0 | 1, preempted at step 2: move 1 or 2 of the
        // three steps of 0's next run up (all three is the search's edit).
        assert_eq!(
            moves(&[0, 0, 1, 1, 0, 0, 0, 1], &[2]),
            [
                sched(&[0, 0, 0, 1, 1, 0, 0, 1]),
                sched(&[0, 0, 0, 0, 1, 1, 0, 1]),
            ]
        );
        // With a third actor in between, both runs stay in order after
        // the moved steps.
        assert_eq!(moves(&[0, 1, 2, 0, 0], &[1]), [sched(&[0, 0, 1, 2, 0])]);
    }

    #[test]
    fn one_preemption_after_another() {
        // 0 | 1 1 | 0 0 | 1 | 0 0, preempted at steps 1 and 5 (the switch at
        // step 3 is not a preemption).
        assert_eq!(
            moves(&[0, 1, 1, 0, 0, 1, 0, 0], &[1, 5]),
            [
                sched(&[0, 0, 1, 1, 0, 1, 0, 0]),
                sched(&[0, 1, 1, 0, 0, 0, 1, 0]),
            ]
        );
    }

    #[test]
    fn nothing_to_move() {
        // The preempted actor never runs again, or its next run is one step.
        assert!(moves(&[0, 0, 1, 1], &[2]).is_empty());
        assert!(moves(&[0, 1, 0, 1], &[1]).is_empty());
        // Step 0 is no switch, nor is step 2 here, and unflagged switches
        // are not preemptions.
        assert!(moves(&[0, 1, 1, 0, 0], &[0, 2]).is_empty());
        assert!(moves(&[0, 1, 1, 0, 0], &[]).is_empty());
        // Flags past the end of the schedule are ignored.
        let executed = sched(&[0, 1, 0, 0]);
        assert_eq!(partial_moves(&executed, &[false; 9]).count(), 0);
        assert_eq!(
            partial_moves(&executed, &[false, true, false, false, true, true]).count(),
            1
        );
    }
}
