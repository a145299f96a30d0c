//! How the shrinker runs candidates: the result is deterministic and the
//! same for any number of parallel jobs (which really run at once), the
//! budget stops it at the same point for any jobs, progress is reported
//! for every candidate, and the result serializes for `--json`.

mod shrink_sim;

use racetrace_analyzer::shrink::{shrink, ShrinkOptions, ShrinkProgress};
use racetrace_formats::Schedule;
use shrink_sim::{comparable, failing_random, lost_update, run, shrink_with, three_windows};

#[test]
fn result_is_deterministic_and_independent_of_jobs() {
    for (p, tries) in [(lost_update(8, 12, 4), 100), (three_windows(), 100_000)] {
        let (original, _) = failing_random(&p, 7, tries).expect("a failing seed");
        let one = shrink_with(&p, &original, 1);
        assert_eq!(one.speculative_runs, 0);
        assert_eq!(shrink_with(&p, &original, 1), one);
        let four = shrink_with(&p, &original, 4);
        eprintln!(
            "jobs=4: {} candidates as with jobs=1, plus {} run ahead",
            four.candidates_run, four.speculative_runs
        );
        assert_eq!(comparable(four), one.clone());
    }
}

/// With `jobs > 1` candidates really run at the same time.
#[test]
fn jobs_run_candidates_concurrently() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let p = lost_update(8, 12, 4);
    let (original, _) = failing_random(&p, 1, 100).unwrap();
    let (inflight, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let runner = |s: &Schedule| {
        let now = inflight.fetch_add(1, Ordering::SeqCst) + 1;
        most.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let r = run(&p, s);
        inflight.fetch_sub(1, Ordering::SeqCst);
        r
    };
    let options = ShrinkOptions {
        jobs: 4,
        ..ShrinkOptions::default()
    };
    let res = shrink(&original, runner, &options, |_: &ShrinkProgress| {}).unwrap();
    assert_eq!(comparable(res), shrink_with(&p, &original, 1));
    assert!(most.load(Ordering::SeqCst) > 1);
}

#[test]
fn result_serializes_with_text_schedules() {
    let p = lost_update(2, 1, 1);
    let (original, _) = failing_random(&p, 1, 1000).unwrap();
    let res = shrink_with(&p, &original, 1);
    let json = serde_json::to_value(&res).unwrap();
    assert_eq!(json["schedule"], res.schedule.to_text());
    assert_eq!(json["signature"]["kind"], "assertion");
    assert_eq!(json["preemptions"], 1);
}

#[test]
fn budget_gives_same_stop_for_any_jobs_and_a_failing_schedule() {
    let p = lost_update(8, 12, 4);
    let (original, report) = failing_random(&p, 1, 100).unwrap();
    for max in [1, 2, 5, 9] {
        let options = |jobs| ShrinkOptions {
            jobs,
            max_candidates: max,
        };
        let runner = |s: &Schedule| run(&p, s);
        let one = shrink(&original, runner, &options(1), |_: &ShrinkProgress| {}).unwrap();
        let four = shrink(&original, runner, &options(4), |_: &ShrinkProgress| {}).unwrap();
        assert!(one.budget_exhausted);
        assert_eq!(one.candidates_run, max);
        assert_eq!(comparable(four), one);
        // Whatever it stopped at fails the same way.
        let again = run(&p, &one.schedule);
        assert_eq!(again.verdict, report.verdict);
    }
}

#[test]
fn progress_reports_every_candidate() {
    let p = lost_update(4, 6, 3);
    let (original, _) = failing_random(&p, 1, 100).unwrap();
    let mut seen: Vec<ShrinkProgress> = Vec::new();
    let res = shrink(
        &original,
        |s: &Schedule| run(&p, s),
        &ShrinkOptions::default(),
        |pr: &ShrinkProgress| seen.push(pr.clone()),
    )
    .unwrap();
    let counts: Vec<usize> = seen.iter().map(|pr| pr.candidates_run).collect();
    assert_eq!(counts, (1..=res.candidates_run).collect::<Vec<_>>());
    let last = seen.last().unwrap();
    assert_eq!(last.best_preemptions, res.preemptions);
    assert_eq!(last.best_switches, res.switches);
    assert_eq!(last.best_length, res.executed.len());
    // The best only gets better.
    assert!(seen
        .windows(2)
        .all(|w| w[1].best_preemptions <= w[0].best_preemptions));
}
