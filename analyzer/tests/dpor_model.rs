//! The DPOR engine against a brute-force count of Mazurkiewicz classes, on
//! simulated programs: every class explored, each exactly once, and no
//! execution wasted (no sleep-set-blocked run).

mod dpor_sim;

use dpor_sim::{brute_force, check, explore, preemptions, MOp, Program, ITEM0, WHOLE};
use proptest::prelude::*;
use racetrace_analyzer::dpor::DporConfig;

use MOp::*;

const X: u32 = 0;
const Y: u32 = 1;
const L: u32 = 100;
const M: u32 = 101;
const EV: u32 = 200;
const Q: u32 = 300;

fn prog(actors: Vec<Vec<MOp>>) -> Program {
    Program { actors }
}

#[test]
fn memoized_brute_force_agrees_with_plain_enumeration() {
    let programs = [
        prog(vec![vec![Read(X), Write(X)], vec![Read(X), Write(X)]]),
        prog(vec![
            vec![Acquire(L), Write(X), Release(L)],
            vec![Acquire(L), Read(X), Release(L)],
            vec![Read(Y)],
        ]),
        prog(vec![
            vec![Acquire(L), Acquire(M), Release(M), Release(L)],
            vec![Acquire(M), Acquire(L), Release(L), Release(M)],
        ]),
    ];
    for p in &programs {
        assert_eq!(brute_force(p, true), brute_force(p, false));
    }
}

#[test]
fn writers_of_their_own_attributes_make_one_class() {
    for n in 1..=4 {
        let p = prog((0..n).map(|i| vec![Write(i), Write(i)]).collect());
        assert_eq!(check(&p), 1);
    }
}

#[test]
fn readers_of_one_attribute_make_one_class() {
    for n in 1..=4 {
        let p = prog((0..n).map(|_| vec![Read(X), Read(X)]).collect());
        assert_eq!(check(&p), 1);
    }
}

#[test]
fn read_then_write_twice() {
    // Lost update: r1 w1 r2 w2, r2 w2 r1 w1, and both reads first with
    // either write last (the two reads commute).
    let p = prog(vec![vec![Read(X), Write(X)], vec![Read(X), Write(X)]]);
    assert_eq!(check(&p), 4);
}

#[test]
fn writers_and_a_reader() {
    for n in 1..=3 {
        let mut actors: Vec<Vec<MOp>> = (0..n).map(|_| vec![Write(X)]).collect();
        actors.push(vec![Read(X)]);
        let p = prog(actors);
        // n! orders of the writers, and the read after any of n+1 prefixes.
        let fact: usize = (1..=n as usize).product();
        assert_eq!(check(&p), fact * (n as usize + 1));
    }
}

#[test]
fn scan_reads_cells_written_by_others() {
    let scan = vec![Read(ITEM0), Read(ITEM0 + 1), Read(ITEM0 + 2)];
    let p = prog(vec![scan, vec![Write(ITEM0)], vec![Write(ITEM0 + 2)]]);
    assert_eq!(check(&p), 4);
    // A whole-list read (len, iteration) conflicts with every item write.
    let p = prog(vec![
        vec![Read(WHOLE), Read(ITEM0 + 1)],
        vec![Write(ITEM0)],
        vec![Write(ITEM0 + 1)],
    ]);
    check(&p);
    // A whole-list write against item reads and writes.
    let p = prog(vec![
        vec![Write(WHOLE)],
        vec![Read(ITEM0), Write(ITEM0 + 1)],
        vec![Read(ITEM0 + 3)],
    ]);
    check(&p);
}

#[test]
fn lock_protected_counters() {
    let worker = || vec![Acquire(L), Read(X), Write(X), Release(L)];
    assert_eq!(check(&prog(vec![worker(), worker()])), 2);
    assert_eq!(check(&prog(vec![worker(), worker(), worker()])), 6);
    // With an access outside the lock as well.
    let p = prog(vec![
        vec![Acquire(L), Write(X), Release(L), Read(Y)],
        vec![Write(Y), Acquire(L), Write(X), Release(L)],
    ]);
    check(&p);
}

#[test]
fn two_locks_in_opposite_orders_deadlock_is_a_class() {
    let p = prog(vec![
        vec![Acquire(L), Acquire(M), Release(M), Release(L)],
        vec![Acquire(M), Acquire(L), Release(L), Release(M)],
    ]);
    assert_eq!(check(&p), 3);
    let got = explore(&p, DporConfig::default());
    assert_eq!(got.stats.deadlocks, 1);
    // Three actors in a ring.
    let p = prog(vec![
        vec![Acquire(L), Acquire(M), Release(M), Release(L)],
        vec![Acquire(M), Acquire(M + 1), Release(M + 1), Release(M)],
        vec![Acquire(M + 1), Acquire(L), Release(L), Release(M + 1)],
    ]);
    check(&p);
}

#[test]
fn spawn_in_a_child_in_a_loop() {
    // Main starts two children in a loop; each starts a grandchild that
    // writes X, and joins it; main joins both and reads X.
    let child = || vec![Spawn(vec![Write(X)]), Join(0)];
    let p = prog(vec![vec![
        Spawn(child()),
        Spawn(child()),
        Join(0),
        Join(1),
        Read(X),
    ]]);
    check(&p);
    // Grandchildren racing with the main actor.
    let p = prog(vec![vec![
        Spawn(vec![Spawn(vec![Write(X)]), Write(Y)]),
        Spawn(vec![Read(Y)]),
        Write(X),
    ]]);
    check(&p);
}

#[test]
fn old_races_reach_past_the_branch_point() {
    // Found by the large random programs: a race between two events of the
    // replayed prefix must be reversed again after each new execution (its
    // reversal sequence includes later events, which changed).
    let p = prog(vec![
        vec![Acquire(M), Release(M)],
        vec![
            Spawn(vec![Spawn(vec![Read(WHOLE)]), Write(WHOLE)]),
            Write(WHOLE),
            Join(0),
            Read(X),
        ],
        vec![Write(X), Acquire(M), Read(WHOLE), Release(M)],
    ]);
    assert_eq!(check(&p), 48);
}

#[test]
fn event_set_and_wait() {
    let p = prog(vec![
        vec![Write(X), Set(EV)],
        vec![Wait(EV), Read(X)],
        vec![Wait(EV), Write(Y)],
    ]);
    check(&p);
    // A clear can make the wait block forever (a deadlock class).
    let p = prog(vec![
        vec![Set(EV)],
        vec![Clear(EV)],
        vec![Wait(EV), Read(X)],
    ]);
    check(&p);
    let p = prog(vec![
        vec![Set(EV), Write(X)],
        vec![Set(EV)],
        vec![Wait(EV), Read(X)],
    ]);
    check(&p);
}

#[test]
fn queue_hand_off() {
    let p = prog(vec![
        vec![Write(X), Put(Q), Put(Q)],
        vec![Get(Q), Read(X)],
        vec![Get(Q), Write(Y)],
    ]);
    check(&p);
    // One item, two consumers: one of them is left blocked.
    let p = prog(vec![vec![Put(Q)], vec![Get(Q)], vec![Get(Q)]]);
    assert_eq!(check(&p), 2);
}

#[test]
fn preemption_bound_zero_runs_actors_to_completion() {
    let programs = [
        prog((0..3).map(|_| vec![Read(X), Write(X)]).collect()),
        prog(vec![
            vec![Acquire(L), Read(X), Write(X), Release(L)],
            vec![Acquire(L), Read(X), Write(X), Release(L)],
        ]),
        prog(vec![vec![Write(X), Write(Y)], vec![Write(Y), Write(X)]]),
    ];
    for p in &programs {
        let full = explore(p, DporConfig::default()).runs.len();
        for bound in [0, 1] {
            let got = explore(
                p,
                DporConfig {
                    preemption_bound: Some(bound),
                },
            );
            assert!(!got.runs.is_empty());
            assert!(got.runs.len() <= full);
            assert_eq!(got.runs.len(), got.classes.len(), "duplicate class");
            for run in &got.runs {
                assert!(preemptions(p, run) <= bound, "{run:?}");
            }
        }
    }
    // Bound 0 on independent-order writers: each actor runs to its end, in
    // every order that matters.
    let p = prog((0..3).map(|_| vec![Read(X), Write(X)]).collect());
    let got = explore(
        &p,
        DporConfig {
            preemption_bound: Some(0),
        },
    );
    assert_eq!(got.runs.len(), 6);
    for run in &got.runs {
        let switches = run.windows(2).filter(|w| w[0].actor != w[1].actor).count();
        assert_eq!(switches, 2, "three actors, each run whole: {run:?}");
    }
}

#[test]
fn preemption_bound_one_finds_the_lost_update() {
    let p = prog(vec![vec![Read(X), Write(X)], vec![Read(X), Write(X)]]);
    let got = explore(
        &p,
        DporConfig {
            preemption_bound: Some(1),
        },
    );
    // r1 r2 w1 w2 needs one preemption.
    let lost = got.runs.iter().any(|r| {
        let reads_first = r
            .iter()
            .take(2)
            .all(|e| e.kind == racetrace_formats::EventKind::Read);
        reads_first
    });
    assert!(lost);
}

/// A random small program: 2-3 actors, 2-4 operations each over two keys,
/// with at most one critical section on one lock per actor.
fn arb_program() -> impl Strategy<Value = Program> {
    let access = prop_oneof![Just(Read(X)), Just(Write(X)), Just(Read(Y)), Just(Write(Y)),];
    let item = prop_oneof![
        3 => access.clone().prop_map(|a| vec![a]),
        1 => access.prop_map(|a| vec![Acquire(L), a, Release(L)]),
    ];
    let actor = prop::collection::vec(item, 1..=3).prop_map(|items| {
        let mut ops: Vec<MOp> = items.into_iter().flatten().collect();
        // Keep 2..=4 operations, never cutting a critical section.
        while ops.len() > 4 {
            let cut = ops
                .iter()
                .rposition(|o| matches!(o, Acquire(_)))
                .filter(|&i| i + 3 == ops.len())
                .map_or(ops.len() - 1, |i| i);
            ops.truncate(cut);
        }
        if ops.len() < 2 {
            ops.push(Read(Y));
        }
        ops
    });
    prop::collection::vec(actor, 2..=3).prop_map(|actors| Program { actors })
}

/// Random programs with spawn/join, events and queues.
fn arb_sync_program() -> impl Strategy<Value = Program> {
    let op = prop_oneof![
        Just(Read(X)),
        Just(Write(X)),
        Just(Set(EV)),
        Just(Clear(EV)),
        Just(Wait(EV)),
        Just(Put(Q)),
        Just(Get(Q)),
    ];
    let actor = prop::collection::vec(op, 1..=3);
    (prop::collection::vec(actor, 2..=3), any::<bool>()).prop_map(|(mut actors, spawn)| {
        if spawn {
            let child = actors.pop().expect("two actors");
            actors[0].insert(0, Spawn(child));
            actors[0].push(Join(0));
        }
        Program { actors }
    })
}

/// Random programs mixing everything: accesses, nested critical sections
/// on two locks in either order (deadlocks), events, queues, a child.
fn arb_mixed_program() -> impl Strategy<Value = Program> {
    let access = prop_oneof![Just(Read(X)), Just(Write(X)), Just(Read(Y)), Just(Write(Y))];
    let item = prop_oneof![
        4 => access.clone().prop_map(|a| vec![a]),
        2 => (access.clone(), prop_oneof![Just(L), Just(M)]).prop_map(|(a, l)| vec![Acquire(l), a, Release(l)]),
        1 => any::<bool>().prop_map(|lm| {
            let (a, b) = if lm { (L, M) } else { (M, L) };
            vec![Acquire(a), Acquire(b), Release(b), Release(a)]
        }),
        1 => prop_oneof![Just(Set(EV)), Just(Clear(EV)), Just(Wait(EV))].prop_map(|o| vec![o]),
        1 => prop_oneof![Just(Put(Q)), Just(Get(Q))].prop_map(|o| vec![o]),
    ];
    let actor = prop::collection::vec(item, 1..=2)
        .prop_map(|v| v.into_iter().flatten().collect::<Vec<_>>());
    (prop::collection::vec(actor, 2..=3), any::<bool>()).prop_map(|(mut actors, spawn)| {
        if spawn && actors.len() == 3 {
            let child = actors.pop().expect("three actors");
            actors[1].insert(0, Spawn(child));
            actors[1].push(Join(0));
        }
        Program { actors }
    })
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
    fn random_mixed_programs_explore_every_class_once(p in arb_mixed_program()) {
        check(&p);
    }

    #[test]
    fn random_programs_under_a_preemption_bound(p in arb_mixed_program(), bound in 0u32..3) {
        let full = explore(&p, DporConfig::default());
        let got = explore(&p, DporConfig { preemption_bound: Some(bound) });
        prop_assert!(!got.runs.is_empty());
        prop_assert_eq!(got.runs.len(), got.classes.len(), "a class twice");
        prop_assert!(got.classes.is_subset(&full.classes));
        for run in &got.runs {
            prop_assert!(preemptions(&p, run) <= bound);
        }
        // A bound never reached changes nothing.
        let loose = explore(&p, DporConfig { preemption_bound: Some(1000) });
        prop_assert_eq!(loose.classes, full.classes);
    }

    #[test]
    fn random_programs_explore_every_class_once(p in arb_program()) {
        check(&p);
    }

    #[test]
    fn random_sync_programs_explore_every_class_once(p in arb_sync_program()) {
        check(&p);
    }
}

/// Events a program runs at most (operations plus exits, children included).
fn size(ops: &[MOp]) -> usize {
    1 + ops
        .iter()
        .map(|o| match o {
            Spawn(child) => 1 + size(child),
            _ => 1,
        })
        .sum::<usize>()
}

/// Larger random programs: nested spawns, the list as a whole and its items,
/// everything else. Slow (brute force grows fast): run with
/// `cargo test --release -p racetrace-analyzer --test dpor_model -- --ignored`.
fn arb_large_program() -> impl Strategy<Value = Program> {
    let access = prop_oneof![
        Just(Read(X)),
        Just(Write(X)),
        Just(Read(Y)),
        Just(Write(Y)),
        Just(Read(WHOLE)),
        Just(Write(WHOLE)),
        Just(Read(ITEM0)),
        Just(Write(ITEM0 + 1)),
    ];
    let item = prop_oneof![
        4 => access.clone().prop_map(|a| vec![a]),
        2 => (access.clone(), prop_oneof![Just(L), Just(M)])
            .prop_map(|(a, l)| vec![Acquire(l), a, Release(l)]),
        1 => any::<bool>().prop_map(|lm| {
            let (a, b) = if lm { (L, M) } else { (M, L) };
            vec![Acquire(a), Acquire(b), Release(b), Release(a)]
        }),
        1 => prop_oneof![Just(Set(EV)), Just(Clear(EV)), Just(Wait(EV))].prop_map(|o| vec![o]),
        1 => prop_oneof![Just(Put(Q)), Just(Get(Q))].prop_map(|o| vec![o]),
        1 => prop::collection::vec(access.clone(), 1..=2).prop_map(|c| vec![Spawn(c)]),
        1 => (prop::collection::vec(access.clone(), 1..=2), access.clone())
            .prop_map(|(c, a)| vec![Spawn(vec![Spawn(c), a.clone(), Join(0)]), a, Join(0)]),
    ];
    let actor = prop::collection::vec(item, 1..=3)
        .prop_map(|v| v.into_iter().flatten().collect::<Vec<_>>());
    prop::collection::vec(actor, 2..=3)
        .prop_filter("small enough to brute-force", |actors| {
            actors.iter().map(|a| size(a)).sum::<usize>() <= 20
        })
        .prop_map(|actors| Program { actors })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    #[ignore]
    fn large_random_programs_explore_every_class_once(p in arb_large_program()) {
        check(&p);
    }
}

#[test]
fn progress_estimate_grows_to_the_total() {
    let p = prog((0..3).map(|_| vec![Read(X), Write(X)]).collect());
    let tables = dpor_sim::tables();
    let mut x = racetrace_analyzer::dpor::Explorer::new(DporConfig::default());
    let (mut en, mut bl) = (Vec::new(), Vec::new());
    let mut estimates = Vec::new();
    while x.begin_execution() {
        let mut st = dpor_sim::State::new(&p);
        loop {
            st.pending_all(&mut en, &mut bl);
            if en.is_empty() {
                break;
            }
            let a = x.choose(&en).expect("not redundant");
            let e = st.step(a.0);
            x.executed(&e, &tables);
        }
        x.end_execution(&bl);
        let s = x.stats();
        assert_eq!(s.estimated_total, s.executions + s.pending);
        estimates.push(s.estimated_total);
    }
    let total = x.stats().executions;
    assert_eq!(total as usize, brute_force(&p, true).len());
    assert!(x.is_done());
    // The estimate never exceeds the total and reaches it at the end.
    assert!(estimates.iter().all(|&e| e <= total));
    assert_eq!(*estimates.last().expect("ran"), total);
    assert!(
        estimates[0] > 1,
        "races of the first execution schedule more"
    );
}

/// lastzero(n), from the optimal-DPOR literature: actor 0 scans
/// `a[n]..a[0]` for the last zero (a read per step, stopping at the first
/// zero: control flow that depends on the values read), and actor `i` in
/// 1..=n does `a[i] = a[i-1] + 1`. The classes an exploration must visit
/// depend on what each scan step read.
fn lastzero(n: u32) -> Program {
    let mut actors = vec![vec![MOp::ScanDown(n), MOp::Write(7)]];
    for i in 1..=n {
        actors.push(vec![MOp::Load(i - 1), MOp::StoreInc(i)]);
    }
    prog(actors)
}

#[test]
fn lastzero_explores_every_class_once() {
    for n in 2..=5 {
        let p = lastzero(n);
        let explored = check(&p);
        eprintln!("lastzero({n}): {explored} classes");
    }
}

/// lastzero(n) as `explore_dpor` runs it: a main actor starts the workers
/// one by one, then joins them; each worker reads its list through an
/// attribute first (`s.a[i]`).
fn lastzero_spawned(n: u32) -> Program {
    let list = 6; // attribute key of `s.a` (only ever read)
    let mut workers = vec![vec![MOp::Read(list), MOp::ScanDown(n), MOp::Write(7)]];
    for i in 1..=n {
        workers.push(vec![
            MOp::Read(list),
            MOp::Load(i - 1),
            MOp::Read(list),
            MOp::StoreInc(i),
        ]);
    }
    let mut main: Vec<MOp> = workers.into_iter().map(MOp::Spawn).collect();
    main.extend((0..=n as usize).map(MOp::Join));
    prog(vec![main])
}

#[test]
fn lastzero_with_spawned_workers_explores_every_class_once() {
    for n in 2..=4 {
        let explored = check(&lastzero_spawned(n));
        eprintln!("lastzero_spawned({n}): {explored} classes");
    }
}
