//! The second pass of `racetrace shrink`: partial moves remove a preemption
//! the search's edits cannot (when the preempted actor's next run blocks
//! partway), and shrinking with them is never worse than without, stays
//! within the budget (plus the one run a search always makes), and changes
//! nothing when the search alone gets down to one preemption.

mod shrink_sim;

use proptest::prelude::*;
use racetrace_analyzer::shrink::{
    partial_moves, shrink, shrink_with_partial_moves, ShrinkOptions, ShrinkProgress, ShrinkResult,
};
use racetrace_formats::{ActorId, Schedule};
use shrink_sim::Op::{Acquire, Load, Local, Release, StoreInc};
use shrink_sim::{check_result, failing_random, fails_within, random_program, run, Program, Rng};
use std::sync::Arc;

fn with_partial_moves(p: &Program, original: &Schedule, options: &ShrinkOptions) -> ShrinkResult {
    shrink_with_partial_moves(
        original,
        |s: &Schedule| run(p, s),
        options,
        |_: &ShrinkProgress| {},
    )
    .unwrap()
}

fn plain(p: &Program, original: &Schedule, options: &ShrinkOptions) -> ShrinkResult {
    shrink(
        original,
        |s: &Schedule| run(p, s),
        options,
        |_: &ShrinkProgress| {},
    )
    .unwrap()
}

/// Thread 1 increments `var1` without a lock, then `var0`, then takes
/// lock 0 to increment `var1` again; thread 0 increments `var1` holding
/// locks 1 and 0. The lost update needs one preemption: thread 0 reads
/// `var1`, thread 1 runs until lock 0 stops it, thread 0 writes.
///
/// From this original the search stops at two: thread 0 preempts thread 1
/// right after its read, and moving thread 1's whole next run up to that
/// point diverges at its `Acquire(0)`, which thread 0 holds. Moving only
/// the four steps before it is the partial move that works.
#[test]
fn partial_moves_remove_a_preemption_the_search_cannot() {
    let p = Program {
        threads: vec![
            vec![
                Acquire(1),
                Acquire(0),
                Load(1),
                Local,
                StoreInc(1),
                Release(0),
                Release(1),
            ],
            vec![
                Load(1),
                StoreInc(1),
                Load(0),
                Local,
                StoreInc(0),
                Acquire(0),
                Acquire(1),
                Load(1),
                Local,
                StoreInc(1),
                Release(1),
                Release(0),
            ],
        ],
        vars: 2,
        locks: 2,
        fail_fast: false,
        invariant: Arc::new(|v| (v[1] != 3).then(|| "var1 == 3".to_string())),
    };
    assert!(!fails_within(&p, 0));
    let original = Schedule::parse("rts1:0*2,1,0,1,0*2,1,0,1,0,1*8").unwrap();
    let report = run(&p, &original);
    let options = ShrinkOptions::default();

    let alone = plain(&p, &original, &options);
    check_result(&p, &report, &alone);
    assert_eq!(alone.preemptions, 2, "{}", alone.executed);

    let res = with_partial_moves(&p, &original, &options);
    check_result(&p, &report, &res);
    assert_eq!(res.preemptions, 1, "{}", res.executed);
    assert_eq!(res.schedule.to_text(), "rts1:0*3,1");
    // The first search, the run for the flags, five partial moves, and the
    // second search.
    assert!(res.candidates_run > alone.candidates_run + 6);
    assert!(!res.budget_exhausted);
}

/// Actors 0..3, so that runs of other actors come between an actor's runs.
fn steps_and_flags() -> impl Strategy<Value = (Vec<u32>, Vec<bool>)> {
    prop::collection::vec((0u32..3, any::<bool>()), 0..40).prop_map(|v| v.into_iter().unzip())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Each candidate moves `k` steps of the preempted actor up to the
    /// preemption and changes nothing else: the steps before it and after
    /// the moved ones are the same, every actor has as many steps, and
    /// there is one candidate per `k` of each flagged switch.
    #[test]
    fn partial_moves_move_only_the_first_steps_of_the_next_run((steps, flags) in steps_and_flags()) {
        let executed = Schedule::new(steps.iter().map(|&a| ActorId(a)).collect());
        let cands: Vec<Schedule> = partial_moves(&executed, &flags).collect();
        let count = |s: &[ActorId], a: u32| s.iter().filter(|&&x| x == ActorId(a)).count();
        let mut expected = Vec::new();
        for i in (1..steps.len()).filter(|&i| flags[i] && steps[i] != steps[i - 1]) {
            let p = steps[i - 1];
            let Some(j) = (i..steps.len()).find(|&x| steps[x] == p) else { continue };
            let len = steps[j..].iter().take_while(|&&a| a == p).count();
            expected.extend((1..len).map(|k| (i, j, k)));
        }
        prop_assert_eq!(cands.len(), expected.len());
        for (cand, &(i, j, k)) in cands.iter().zip(&expected) {
            let c = &cand.steps;
            prop_assert_eq!(c.len(), steps.len());
            prop_assert_eq!(&c[..i], &executed.steps[..i]);
            prop_assert!(c[i..i + k].iter().all(|&a| a == ActorId(steps[i - 1])));
            prop_assert_eq!(&c[i + k..j + k], &executed.steps[i..j]);
            prop_assert_eq!(&c[j + k..], &executed.steps[j + k..]);
            for a in 0..3 {
                prop_assert_eq!(count(c, a), count(&executed.steps, a));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    /// On random programs and budgets: the result reproduces, has no more
    /// preemptions than the search alone, spends at most one run more than
    /// the budget, and is the search's own when that has one preemption or
    /// none.
    #[test]
    fn partial_moves_are_never_worse_than_the_search_alone(
        seed in any::<u64>(),
        max_candidates in prop_oneof![Just(1000usize), 1usize..60],
    ) {
        let mut rng = Rng(seed);
        let p = random_program(&mut rng);
        let Some((original, report)) = failing_random(&p, rng.next(), 30) else {
            return Ok(());
        };
        let options = ShrinkOptions { jobs: 1, max_candidates };
        let alone = plain(&p, &original, &options);
        let res = with_partial_moves(&p, &original, &options);
        check_result(&p, &report, &res);
        prop_assert!(res.preemptions <= alone.preemptions);
        prop_assert!(res.candidates_run >= alone.candidates_run);
        prop_assert!(res.candidates_run <= max_candidates + 1);
        if alone.preemptions <= 1 {
            prop_assert_eq!(res, alone);
        }
    }
}

/// The same checks where the second pass has work to do: the first 40
/// random programs (of a fixed seed) on which the search alone stops at two
/// preemptions or more.
#[test]
fn partial_moves_where_the_search_stops_at_two_or_more() {
    let mut rng = Rng(11);
    let options = ShrinkOptions::default();
    let (mut cases, mut fewer) = (0, 0);
    while cases < 40 {
        let p = random_program(&mut rng);
        let Some((original, report)) = failing_random(&p, rng.next(), 30) else {
            continue;
        };
        let alone = plain(&p, &original, &options);
        if alone.preemptions < 2 {
            continue;
        }
        let res = with_partial_moves(&p, &original, &options);
        check_result(&p, &report, &res);
        assert!(res.preemptions <= alone.preemptions);
        assert!(res.candidates_run <= options.max_candidates + 1);
        cases += 1;
        fewer += usize::from(res.preemptions < alone.preemptions);
    }
    eprintln!("partial moves removed a preemption in {fewer} of {cases} programs");
}
