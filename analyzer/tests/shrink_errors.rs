//! The shrinker given what it cannot use: an original that does not fail
//! (or diverges), a runner whose report is inconsistent, and candidates
//! that hang and are stopped by the runner's timeout.

mod shrink_sim;

use racetrace_analyzer::shrink::{
    shrink, RunReport, ShrinkError, ShrinkOptions, ShrinkProgress, Verdict,
};
use racetrace_formats::Schedule;
use shrink_sim::{check_result, failing_random, lost_update, run, sched};
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

#[test]
fn non_failing_original_is_an_error() {
    let p = lost_update(2, 1, 1);
    let n = p.threads[0].len();
    // Thread 0 entirely, then thread 1: no lost update.
    let serial = sched(&[vec![0; n], vec![1; n]].concat());
    let err = shrink(
        &serial,
        |s: &Schedule| run(&p, s),
        &ShrinkOptions::default(),
        |_: &ShrinkProgress| {},
    )
    .unwrap_err();
    assert!(matches!(
        err,
        ShrinkError::NotFailing {
            verdict: Verdict::Pass,
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        format!("nothing to shrink: the original schedule {serial} does not fail, it passed")
    );
    // A schedule naming a finished thread diverges: also nothing to shrink.
    let too_long = sched(&[vec![0; n + 1], vec![1; n]].concat());
    let err = shrink(
        &too_long,
        |s: &Schedule| run(&p, s),
        &ShrinkOptions::default(),
        |_: &ShrinkProgress| {},
    )
    .unwrap_err();
    assert!(
        err.to_string().contains(&format!("diverged at step {n}")),
        "{err}"
    );
}

#[test]
fn inconsistent_runner_report_is_an_error() {
    let p = lost_update(2, 1, 1);
    let (original, _) = failing_random(&p, 1, 1000).unwrap();
    let liar = |s: &Schedule| {
        let mut r = run(&p, s);
        r.preemptive.pop();
        r
    };
    let err = shrink(
        &original,
        liar,
        &ShrinkOptions::default(),
        |_: &ShrinkProgress| {},
    )
    .unwrap_err();
    assert!(matches!(err, ShrinkError::BadReport { .. }), "{err}");
}

/// A runner whose candidates sometimes hang: the runner's timeout stops
/// them and they count as passing. The search must still end with a
/// schedule that fails.
#[test]
fn hanging_candidates_count_as_passing() {
    let p = lost_update(8, 12, 4);
    let (original, report) = failing_random(&p, 1, 100).unwrap();
    let hangs = |s: &Schedule| {
        let mut h = DefaultHasher::new();
        s.steps.hash(&mut h);
        *s != original && h.finish() % 3 == 1
    };
    let flaky = |s: &Schedule| {
        if hangs(s) {
            RunReport {
                verdict: Verdict::Pass,
                executed: Schedule::default(),
                preemptive: Vec::new(),
            }
        } else {
            run(&p, s)
        }
    };
    let res = shrink(
        &original,
        flaky,
        &ShrinkOptions::default(),
        |_: &ShrinkProgress| {},
    )
    .unwrap();
    assert!(!res.budget_exhausted);
    assert!(!hangs(&res.schedule));
    check_result(&p, &report, &res);
    assert!(res.preemptions < report.preemptions());
    eprintln!(
        "with hangs: {} preemptions in {} candidates",
        res.preemptions, res.candidates_run
    );
}
