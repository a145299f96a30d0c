//! DPOR over atomic steps (the code of an asyncio task between two
//! suspension points): each actor is a list of steps, each step several
//! accesses that no other actor can come between; a step may wait for a
//! signal (a future's result) that another step sets, and is not ready
//! before. The engine must explore exactly one execution per class of step
//! orders, every class, none twice, against a brute-force enumeration of
//! every step order the program can take.

use std::collections::{BTreeSet, HashSet};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use racetrace_analyzer::dpor::{DporConfig, Explorer, Stats};
use racetrace_formats::{ActorId, Event, EventKind, LocId, Tables};

#[derive(Clone, Debug)]
enum Part {
    Read(u32),
    Write(u32),
    /// Sets signal `s` (a write of its key; the first setter wakes the
    /// waiters).
    Signal(u32),
    /// Reads key `k`, and writes key `w` only if `k` still holds 0 (a step
    /// whose accesses depend on what it read: moved before a write of `k`,
    /// it writes `w` too).
    IfZero(u32, u32),
    /// Takes key `k` (`dict.pop`: recorded as a write only, though it
    /// returns the value) and writes key `w` if it held 0.
    PopIfZero(u32, u32),
}

#[derive(Clone, Debug)]
struct Step {
    /// Not ready before signal `s` is set.
    wait: Option<u32>,
    /// Comes after a sleep: ready once a timer fires, which happens when
    /// no other step is ready (virtual time); it stays ready after.
    timer: bool,
    parts: Vec<Part>,
}

type Program = Vec<Vec<Step>>;

const SIGNAL_KEY: u32 = 100;

/// An access as run: key, and whether it wrote.
type Access = (u32, bool);

/// Whether two steps, as they ran, conflict.
fn conflict(a: &[Access], b: &[Access]) -> bool {
    a.iter()
        .any(|&(k1, w1)| b.iter().any(|&(k2, w2)| k1 == k2 && (w1 || w2)))
}

/// A run of the program: which steps are ready, who set which signal.
struct State<'a> {
    prog: &'a Program,
    pc: Vec<usize>,
    /// Signal → index of the step (in this run) that first set it.
    set_at: Vec<Option<usize>>,
    steps: Vec<(usize, usize)>,
    /// The accesses of each step run, in order.
    ran: Vec<Vec<Access>>,
    /// Values of the keys (a write stores its actor's number + 1).
    vals: Vec<u32>,
    /// Per actor: its next step is a timer step that fired after this many
    /// steps.
    fired: Vec<Option<usize>>,
}

impl<'a> State<'a> {
    fn new(prog: &'a Program) -> Self {
        State {
            prog,
            pc: vec![0; prog.len()],
            set_at: vec![None; 8],
            steps: Vec::new(),
            ran: Vec::new(),
            vals: vec![0; 8],
            fired: vec![None; prog.len()],
        }
    }

    /// The actors whose next step can go; fires the timers when nothing
    /// else can.
    fn ready(&mut self) -> Vec<usize> {
        let normal = |st: &Self, a: usize| {
            st.prog[a]
                .get(st.pc[a])
                .is_some_and(|s| !s.timer && s.wait.is_none_or(|w| st.set_at[w as usize].is_some()))
        };
        let n = self.prog.len();
        if !(0..n).any(|a| normal(self, a) || self.fired[a].is_some()) {
            for a in 0..n {
                if self.prog[a].get(self.pc[a]).is_some_and(|s| s.timer) {
                    self.fired[a] = Some(self.steps.len());
                }
            }
        }
        (0..n)
            .filter(|&a| normal(self, a) || self.fired[a].is_some())
            .collect()
    }

    /// Runs actor `a`'s next step: its events, and the step that woke it.
    fn run(&mut self, a: usize) -> (Vec<Event>, Option<usize>) {
        let step = &self.prog[a][self.pc[a]];
        let woken_by = match self.fired[a].take() {
            // After every step before the timer fired.
            Some(n) => n.checked_sub(1).map(|last| last + Explorer::AFTER_ALL),
            None => step.wait.and_then(|w| self.set_at[w as usize]),
        };
        let idx = self.steps.len();
        let mut events = vec![Event {
            actor: ActorId(a as u32),
            kind: EventKind::TaskSwitch,
            loc: LocId(0),
            target: 0,
            aux: 0,
        }];
        let mut accesses = Vec::new();
        for p in &step.parts {
            match *p {
                Part::Read(k) => accesses.push((k, false)),
                Part::Write(k) => accesses.push((k, true)),
                Part::Signal(s) => {
                    self.set_at[s as usize].get_or_insert(idx);
                    accesses.push((SIGNAL_KEY + s, true));
                }
                Part::IfZero(k, w) => {
                    accesses.push((k, false));
                    if self.vals[k as usize] == 0 {
                        accesses.push((w, true));
                    }
                }
                Part::PopIfZero(k, w) => {
                    let was = self.vals[k as usize];
                    accesses.push((k, true));
                    self.vals[k as usize] = 0;
                    if was == 0 {
                        accesses.push((w, true));
                    }
                }
            }
            let stored = match *p {
                Part::PopIfZero(k, _) => accesses.last().filter(|&&(last, _)| last != k),
                _ => accesses.last(),
            };
            if let Some(&(k, true)) = stored {
                if k < SIGNAL_KEY {
                    self.vals[k as usize] = a as u32 + 1;
                }
            }
        }
        for &(key, write) in &accesses {
            events.push(Event {
                actor: ActorId(a as u32),
                kind: if write {
                    EventKind::Write
                } else {
                    EventKind::Read
                },
                loc: LocId(0),
                target: key,
                aux: 0,
            });
        }
        self.steps.push((a, self.pc[a]));
        self.ran.push(accesses);
        self.pc[a] += 1;
        (events, woken_by)
    }
}

/// The class of a run: the order of every pair of steps of different
/// actors that conflict as they ran.
fn class(st: &State<'_>) -> BTreeSet<((usize, usize), (usize, usize))> {
    let mut out = BTreeSet::new();
    for (i, &x) in st.steps.iter().enumerate() {
        for (j, &y) in st.steps.iter().enumerate().skip(i + 1) {
            if x.0 != y.0 && conflict(&st.ran[i], &st.ran[j]) {
                out.insert((x, y));
            }
        }
    }
    out
}

type Class = BTreeSet<((usize, usize), (usize, usize))>;

/// Every class of complete runs (a run ends when no step is ready).
fn brute_force(prog: &Program) -> HashSet<Class> {
    fn go(st: &mut State<'_>, out: &mut HashSet<Class>) {
        let ready = st.ready();
        if ready.is_empty() {
            out.insert(class(st));
            return;
        }
        for a in ready {
            let (pc, set_at, n, fired, vals) = (
                st.pc.clone(),
                st.set_at.clone(),
                st.steps.len(),
                st.fired.clone(),
                st.vals.clone(),
            );
            st.run(a);
            go(st, out);
            st.pc = pc;
            st.set_at = set_at;
            st.steps.truncate(n);
            st.ran.truncate(n);
            st.fired = fired;
            st.vals = vals;
        }
    }
    let mut out = HashSet::new();
    go(&mut State::new(prog), &mut out);
    out
}

/// Every run DPOR explores (its class and schedule), and its counters.
fn explore(prog: &Program) -> (Vec<(Class, String, bool)>, Stats) {
    let tables = Tables::default();
    let mut dpor = Explorer::new(DporConfig::default());
    let mut runs = Vec::new();
    let cap = 4 * brute_force(prog).len() + 20;
    while dpor.begin_execution() {
        assert!(runs.len() < cap, "runaway: {prog:?}");
        let mut st = State::new(prog);
        let mut complete = true;
        loop {
            let ready = st.ready();
            if ready.is_empty() {
                break;
            }
            // What a task will do is not known before it runs.
            let pending: Vec<Event> = ready
                .iter()
                .map(|&a| Event {
                    actor: ActorId(a as u32),
                    kind: EventKind::TaskSwitch,
                    loc: LocId(0),
                    target: 0,
                    aux: 0,
                })
                .collect();
            let Some(a) = dpor.choose(&pending) else {
                complete = false;
                break;
            };
            let (events, woken_by) = st.run(a.index());
            dpor.executed_step(&events, woken_by, &tables);
        }
        dpor.end_execution(&[]);
        if std::env::var("DBG").is_ok() {
            eprintln!(
                "RUN {complete} {} {:?}",
                dpor.schedule().to_text(),
                class(&st)
            );
        }
        if complete {
            runs.push((class(&st), dpor.schedule().to_text(), dpor.repeated()));
        }
    }
    (runs, dpor.stats())
}

/// Explores `prog` and checks it against the brute force: every class
/// once. Returns the number of classes.
fn check(prog: &Program) -> usize {
    check_stats(prog).0
}

/// As `check`; also returns the explorer's counters. A step whose
/// accesses depend on what it read may cost executions abandoned as
/// redundant (`sleep_blocked`), never a class run twice.
fn check_stats(prog: &Program) -> (usize, Stats) {
    let expected = brute_force(prog);
    let (runs, stats) = explore(prog);
    let seen: HashSet<Class> = runs.iter().map(|(c, _, _)| c.clone()).collect();
    assert_eq!(seen, expected, "classes differ: {prog:?}");
    assert_eq!(stats.executions as usize, runs.len(), "{prog:?}");
    // The explorer tells which runs repeated a class.
    let fresh = runs.iter().filter(|r| !r.2).count();
    assert_eq!(fresh, expected.len(), "a repeated class not told: {prog:?}");
    (expected.len(), stats)
}

fn step(wait: Option<u32>, parts: Vec<Part>) -> Step {
    Step {
        wait,
        timer: false,
        parts,
    }
}

fn after_sleep(parts: Vec<Part>) -> Step {
    Step {
        wait: None,
        timer: true,
        parts,
    }
}

use Part::*;

#[test]
fn no_await_between_read_and_write_is_one_step() {
    // Two tasks each read and write x in one step: the steps conflict, so
    // two orders, and never a lost update (the brute force agrees).
    let p = vec![
        vec![step(None, vec![Read(0), Write(0)])],
        vec![step(None, vec![Read(0), Write(0)])],
    ];
    assert_eq!(check(&p), 2);
}

#[test]
fn await_between_read_and_write_splits_the_steps() {
    // r / w in two steps each: the lost update's four classes.
    let p = vec![
        vec![step(None, vec![Read(0)]), step(None, vec![Write(0)])],
        vec![step(None, vec![Read(0)]), step(None, vec![Write(0)])],
    ];
    assert_eq!(check(&p), 4);
}

#[test]
fn independent_steps_are_one_class() {
    let p = vec![
        vec![
            step(None, vec![Read(0), Write(1)]),
            step(None, vec![Write(1)]),
        ],
        vec![step(None, vec![Read(0), Write(2), Read(3)])],
        vec![step(None, vec![Write(4)]), step(None, vec![Read(0)])],
    ];
    assert_eq!(check(&p), 1);
}

#[test]
fn a_conflict_late_in_a_step_reverses_the_whole_step() {
    // The steps conflict only through their last parts.
    let p = vec![
        vec![step(None, vec![Write(1), Read(0)])],
        vec![step(None, vec![Write(2), Write(0)])],
    ];
    assert_eq!(check(&p), 2);
}

#[test]
fn a_woken_step_never_goes_before_its_waker() {
    // A sets the signal in its second step; B waits for it, then writes x,
    // which A's first step reads: A's first step and B's step race, but B
    // can only go after A's second step.
    let p = vec![
        vec![step(None, vec![Read(0)]), step(None, vec![Signal(0)])],
        vec![step(Some(0), vec![Write(0)])],
    ];
    assert_eq!(check(&p), 1);
}

#[test]
fn the_first_of_two_setters_wakes() {
    let p = vec![
        vec![step(None, vec![Signal(0), Write(0)])],
        vec![step(None, vec![Signal(0)])],
        vec![step(Some(0), vec![Read(0)])],
    ];
    check(&p);
}

#[test]
fn a_step_after_a_timer_never_goes_before_what_ran_before_it_fired() {
    // Both check, sleep, then act (a cache stampede): the timers fire once
    // both checks ran, so no act goes before the other's check.
    let p = vec![
        vec![step(None, vec![Read(0)]), after_sleep(vec![Write(0)])],
        vec![step(None, vec![Read(0)]), after_sleep(vec![Write(0)])],
    ];
    assert_eq!(check(&p), 2);
}

#[test]
fn schedules_repeat_the_actor_of_a_step_per_event() {
    let p = vec![
        vec![step(None, vec![Read(0), Write(0)])],
        vec![step(None, vec![Write(0)])],
    ];
    let (runs, _) = explore(&p);
    let schedules: Vec<&str> = runs.iter().map(|(_, s, _)| s.as_str()).collect();
    assert_eq!(schedules, ["rts1:0*3,1*2", "rts1:1*2,0*3"]);
}

/// x, y, z = keys 0, 1, 2. q: y = 1; z = 1 / e: x = 1 / w: z = 2 / l:
/// `l_part` on x (writes y when x held 0). Only w, q, l, e leaves y == 2
/// and z == 1: l runs before e (so it writes y) and after q, and w before
/// q. Where l ran after e it wrote nothing, and its reversal must not be
/// taken as covered by the order of q and w it was independent of there.
fn only_one_order_writes_y_late(l_part: Part) -> Program {
    vec![
        vec![step(None, vec![Write(1), Write(2)])],
        vec![step(None, vec![Write(0)])],
        vec![step(None, vec![Write(2)])],
        vec![step(None, vec![l_part])],
    ]
}

#[test]
fn a_step_that_writes_only_after_reading_zero_is_reversed_with_what_it_would_write() {
    check(&only_one_order_writes_y_late(IfZero(0, 1)));
}

#[test]
fn a_step_whose_write_returns_a_value_is_reversed_with_what_it_would_write() {
    // l takes x with a pop: recorded as a write of x, it still reads x.
    check(&only_one_order_writes_y_late(PopIfZero(0, 1)));
}

#[test]
fn steps_that_do_not_read_what_the_other_wrote_waste_no_execution() {
    // Each reversed step touches only what the other read: it does the
    // same wherever it runs, so its footprint is trusted.
    let p = vec![
        vec![step(None, vec![Read(0), Read(1)])],
        vec![step(None, vec![Write(0), Write(1)])],
        vec![step(None, vec![Read(2)]), step(None, vec![Read(1)])],
    ];
    let (_, stats) = check_stats(&p);
    assert_eq!(stats.sleep_blocked + stats.repeated, 0);
}

#[test]
fn value_dependent_steps_waste_few_executions() {
    // Over many generated programs, executions abandoned as redundant
    // stay a small share of the complete ones.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut classes, mut executions, mut wasted) = (0u64, 0u64, 0u64);
    for _ in 0..300 {
        let prog = arb_program().new_tree(&mut runner).unwrap().current();
        let (n, stats) = check_stats(&prog);
        classes += n as u64;
        executions += stats.executions;
        wasted += stats.sleep_blocked + stats.repeated;
    }
    eprintln!("{classes} classes, {executions} executions, {wasted} repeated or blocked");
    assert!(wasted * 20 <= classes, "{wasted} for {classes} classes");
}

fn arb_part() -> impl Strategy<Value = Part> {
    prop_oneof![
        (0..3u32).prop_map(Read),
        (0..3u32).prop_map(Write),
        (0..2u32).prop_map(Signal),
        (0..3u32, 0..3u32).prop_map(|(k, w)| IfZero(k, w)),
        (0..3u32, 0..3u32).prop_map(|(k, w)| PopIfZero(k, w)),
    ]
}

fn arb_step() -> impl Strategy<Value = Step> {
    (
        prop::option::weighted(0.25, 0..2u32),
        prop::bool::weighted(0.25),
        prop::collection::vec(arb_part(), 1..4),
    )
        .prop_map(|(wait, timer, parts)| Step {
            wait: wait.filter(|_| !timer),
            timer,
            parts,
        })
}

fn arb_program() -> impl Strategy<Value = Program> {
    prop::collection::vec(prop::collection::vec(arb_step(), 1..4), 2..4)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn generated_step_programs_match_the_brute_force(prog in arb_program()) {
        check(&prog);
    }
}
