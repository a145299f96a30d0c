//! The DPOR engine on counting semaphores, tries and timed waits, against
//! the brute-force count of Mazurkiewicz classes: every class explored,
//! each once, both outcomes of a try (or a timed wait) whenever both are
//! possible.

mod dpor_sim;

use dpor_sim::{check, explore, sem, MOp, Program};
use proptest::prelude::*;
use racetrace_analyzer::dpor::DporConfig;
use racetrace_formats::{ActorId, Event, EventKind};

use MOp::*;

const X: u32 = 0;
const Y: u32 = 1;
const L: u32 = 100;
const EV: u32 = 200;
const Q: u32 = 300;

fn prog(actors: Vec<Vec<MOp>>) -> Program {
    Program { actors }
}

fn kinds_of(run: &[Event], actor: u32) -> Vec<EventKind> {
    run.iter()
        .filter(|e| e.actor == ActorId(actor))
        .map(|e| e.kind)
        .collect()
}

/// Whether some explored run has both actors' reads of X before either
/// write (the lost update inside a section two actors may share).
fn reads_interleave(p: &Program) -> bool {
    explore(p, DporConfig::default()).runs.iter().any(|run| {
        let first_write = run.iter().position(|e| e.kind == EventKind::Write);
        let reads = run
            .iter()
            .take(first_write.unwrap_or(run.len()))
            .filter(|e| e.kind == EventKind::Read)
            .count();
        reads == 2
    })
}

#[test]
fn a_semaphore_of_two_admits_two_actors_who_race_inside() {
    let s2 = sem(2, 0);
    let section = vec![SemAcquire(s2), Read(X), Write(X), SemRelease(s2)];
    let p = prog(vec![section.clone(), section]);
    let n = check(&p);
    assert!(reads_interleave(&p), "the race inside was never explored");
    // With one unit, the semaphore is a lock: the sections never overlap.
    let s1 = sem(1, 0);
    let section = vec![SemAcquire(s1), Read(X), Write(X), SemRelease(s1)];
    let q = prog(vec![section.clone(), section]);
    assert_eq!(check(&q), 2);
    assert!(!reads_interleave(&q));
    assert!(n > 2);
}

#[test]
fn a_semaphore_at_zero_blocks_until_released() {
    let s0 = sem(0, 0);
    let p = prog(vec![
        vec![Write(X), SemRelease(s0)],
        vec![SemAcquire(s0), Read(X)],
        vec![SemAcquire(s0), Write(Y)],
    ]);
    // One release, two acquirers: either gets it, the other stays blocked.
    assert_eq!(check(&p), 2);
    let s3 = sem(3, 0);
    let p = prog(vec![
        vec![SemAcquire(s3), SemAcquire(s3), Write(X), SemRelease(s3)],
        vec![SemAcquire(s3), SemAcquire(s3), Read(X), SemRelease(s3)],
        vec![SemRelease(s3)],
    ]);
    check(&p);
}

#[test]
fn a_try_acquire_succeeds_or_fails_by_order() {
    let p = prog(vec![
        vec![Acquire(L), Write(X), Release(L)],
        vec![TryAcquire(L), Read(X)],
    ]);
    check(&p);
    let got = explore(&p, DporConfig::default());
    let outcomes: Vec<EventKind> = got.runs.iter().map(|r| kinds_of(r, 1)[0]).collect();
    assert!(outcomes.contains(&EventKind::LockAcquire), "{outcomes:?}");
    assert!(
        outcomes.contains(&EventKind::LockAcquireFail),
        "{outcomes:?}"
    );
    // Two tries against each other: one may fail, or neither.
    let p = prog(vec![
        vec![TryAcquire(L), Write(X)],
        vec![TryAcquire(L), Write(X)],
    ]);
    check(&p);
}

#[test]
fn a_timed_wait_times_out_or_sees_the_set() {
    let p = prog(vec![vec![Write(X), Set(EV)], vec![TimedWait(EV), Read(X)]]);
    let n = check(&p);
    let got = explore(&p, DporConfig::default());
    let outcomes: Vec<EventKind> = got.runs.iter().map(|r| kinds_of(r, 1)[0]).collect();
    assert!(outcomes.contains(&EventKind::EventWait), "{outcomes:?}");
    assert!(
        outcomes.contains(&EventKind::EventWaitTimeout),
        "{outcomes:?}"
    );
    assert!(n >= 3, "{n}");
    // A poll of a queue: an item, or `Empty`.
    let p = prog(vec![
        vec![Write(X), Put(Q)],
        vec![TimedGet(Q), Read(X)],
        vec![TimedGet(Q)],
    ]);
    check(&p);
    // A timed semaphore acquire against the holder.
    let s1 = sem(1, 0);
    let p = prog(vec![
        vec![SemAcquire(s1), Write(X), SemRelease(s1)],
        vec![TrySemAcquire(s1), Read(X)],
    ]);
    check(&p);
}

fn arb_sync_program() -> impl Strategy<Value = Program> {
    let s1 = sem(1, 0);
    let s2 = sem(2, 0);
    let access = prop_oneof![Just(Read(X)), Just(Write(X)), Just(Write(Y))];
    let item = prop_oneof![
        3 => access.clone().prop_map(|a| vec![a]),
        2 => (access.clone(), prop_oneof![Just(s1), Just(s2)])
            .prop_map(|(a, s)| vec![SemAcquire(s), a, SemRelease(s)]),
        1 => prop_oneof![Just(SemRelease(s1)), Just(SemAcquire(s2))].prop_map(|o| vec![o]),
        2 => (access.clone()).prop_map(|a| vec![TryAcquire(L), a]),
        1 => (access).prop_map(|a| vec![Acquire(L), a, Release(L)]),
        1 => prop_oneof![Just(TimedWait(EV)), Just(Set(EV)), Just(Clear(EV))].prop_map(|o| vec![o]),
        1 => prop_oneof![Just(TimedGet(Q)), Just(Put(Q)), Just(TrySemAcquire(s1))].prop_map(|o| vec![o]),
    ];
    let actor = prop::collection::vec(item, 1..=3).prop_map(|v| v.concat());
    prop::collection::vec(actor, 2..=3).prop_map(|actors| Program { actors })
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_programs_with_semaphores_tries_and_timeouts(p in arb_sync_program()) {
        check(&p);
    }
}

#[test]
fn three_actors_in_a_semaphore_of_two() {
    let s2 = sem(2, 0);
    let section = vec![SemAcquire(s2), Read(X), Write(X), SemRelease(s2)];
    let p = prog(vec![section.clone(), section.clone(), section]);
    assert_eq!(check(&p), 318);
}

#[test]
fn spawned_actors_in_a_semaphore_of_two() {
    let s2 = sem(2, 0);
    let section = vec![
        Read(Y),
        SemAcquire(s2),
        Read(X),
        Write(X),
        Read(Y),
        SemRelease(s2),
    ];
    let p = prog(vec![vec![
        Spawn(section.clone()),
        Spawn(section.clone()),
        Spawn(section),
        Join(0),
        Join(1),
        Join(2),
    ]]);
    assert_eq!(check(&p), 318);
}
