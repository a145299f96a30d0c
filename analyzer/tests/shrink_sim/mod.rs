//! A simulated concurrent program for the shrinker's tests.
//!
//! The model: threads are lists of operations on shared integer variables
//! and locks, each operation one scheduling point. The runner executes a
//! candidate schedule on it exactly as the real controlled execution is
//! specified to: the candidate's choices, then the default policy (keep the
//! current thread while it can run, else the lowest runnable id), divergence
//! when a chosen thread cannot run, a preemption flag per step, and an
//! invariant checked at the end (or a deadlock when nothing can run).
//!
//! Also here: seeded random schedules and programs, a brute-force search by
//! preemption bound, two programs with a known minimum (a lost update, a bug
//! needing three preemptions), and the shrinker run on them with the check
//! that its result reproduces.

#![allow(dead_code)]

use racetrace_analyzer::shrink::{
    shrink, FailureSignature, RunReport, ShrinkOptions, ShrinkPhase, ShrinkProgress, ShrinkResult,
    Verdict,
};
use racetrace_formats::{ActorId, Schedule};
use std::collections::HashSet;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Thread-local work: a scheduling point that touches nothing shared.
    Local,
    /// `reg = vars[v]`
    Load(usize),
    /// `vars[v] = reg + 1`
    StoreInc(usize),
    /// `vars[v] = reg`
    StoreReg(usize),
    /// `vars[v] = c`
    Set(usize, i64),
    Acquire(usize),
    Release(usize),
}

/// Returns the failure location when the final variables are wrong.
pub type Invariant = Arc<dyn Fn(&[i64]) -> Option<String> + Send + Sync>;

#[derive(Clone)]
pub struct Program {
    pub threads: Vec<Vec<Op>>,
    pub vars: usize,
    pub locks: usize,
    pub invariant: Invariant,
    /// Check the invariant after every step and stop at the first violation,
    /// like an assertion inside a thread: the failing run then executes only
    /// a prefix of the candidate.
    pub fail_fast: bool,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct State {
    pc: Vec<usize>,
    reg: Vec<i64>,
    vars: Vec<i64>,
    owner: Vec<Option<usize>>,
}

impl State {
    fn new(p: &Program) -> State {
        State {
            pc: vec![0; p.threads.len()],
            reg: vec![0; p.threads.len()],
            vars: vec![0; p.vars],
            owner: vec![None; p.locks],
        }
    }

    fn runnable(&self, p: &Program, t: usize) -> bool {
        match p.threads[t].get(self.pc[t]) {
            None => false,
            Some(Op::Acquire(l)) => self.owner[*l].is_none(),
            Some(_) => true,
        }
    }

    fn runnable_set(&self, p: &Program) -> Vec<usize> {
        (0..p.threads.len())
            .filter(|&t| self.runnable(p, t))
            .collect()
    }

    fn step(&mut self, p: &Program, t: usize) {
        match p.threads[t][self.pc[t]] {
            Op::Local => {}
            Op::Load(v) => self.reg[t] = self.vars[v],
            Op::StoreInc(v) => self.vars[v] = self.reg[t] + 1,
            Op::StoreReg(v) => self.vars[v] = self.reg[t],
            Op::Set(v, c) => self.vars[v] = c,
            Op::Acquire(l) => self.owner[l] = Some(t),
            Op::Release(l) => self.owner[l] = None,
        }
        self.pc[t] += 1;
    }

    /// Call when nothing can run: a deadlock, or the invariant's verdict.
    fn outcome(&self, p: &Program) -> Option<FailureSignature> {
        let stuck: Vec<String> = (0..p.threads.len())
            .filter_map(|t| match p.threads[t].get(self.pc[t]) {
                Some(Op::Acquire(l)) => Some(format!("t{t} waits for lock {l}")),
                _ => None,
            })
            .collect();
        if !stuck.is_empty() {
            return Some(FailureSignature::new("deadlock", stuck.join(", ")));
        }
        (p.invariant)(&self.vars).map(|loc| FailureSignature::new("assertion", loc))
    }
}

pub fn sched(v: &[usize]) -> Schedule {
    Schedule::new(v.iter().map(|&a| ActorId(a as u32)).collect())
}

/// The runner: executes `cand` on the program as specified in the module
/// documentation.
pub fn run(p: &Program, cand: &Schedule) -> RunReport {
    let mut st = State::new(p);
    let mut executed = Vec::new();
    let mut preemptive = Vec::new();
    let mut cur: Option<usize> = None;
    loop {
        let step = executed.len();
        let runnable = st.runnable_set(p);
        let choice = if let Some(a) = cand.steps.get(step) {
            let a = a.0 as usize;
            if a >= p.threads.len() || !st.runnable(p, a) {
                return RunReport {
                    verdict: Verdict::Diverged { step },
                    executed: sched(&executed),
                    preemptive,
                };
            }
            a
        } else {
            match cur
                .filter(|c| runnable.contains(c))
                .or(runnable.first().copied())
            {
                Some(a) => a,
                None => break,
            }
        };
        preemptive.push(cur.is_some_and(|c| c != choice && st.runnable(p, c)));
        st.step(p, choice);
        executed.push(choice);
        cur = Some(choice);
        if p.fail_fast {
            if let Some(loc) = (p.invariant)(&st.vars) {
                return RunReport {
                    verdict: Verdict::Fail(FailureSignature::new("assertion", loc)),
                    executed: sched(&executed),
                    preemptive,
                };
            }
        }
    }
    let verdict = match st.outcome(p) {
        Some(sig) => Verdict::Fail(sig),
        None => Verdict::Pass,
    };
    RunReport {
        verdict,
        executed: sched(&executed),
        preemptive,
    }
}

/// splitmix64: a small seeded generator, so the tests need no RNG crate.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// A uniform random scheduler: at each point, any runnable thread.
pub fn random_schedule(p: &Program, seed: u64) -> Schedule {
    let mut rng = Rng(seed);
    let mut st = State::new(p);
    let mut steps = Vec::new();
    loop {
        let runnable = st.runnable_set(p);
        if runnable.is_empty() {
            return sched(&steps);
        }
        let t = runnable[(rng.next() % runnable.len() as u64) as usize];
        st.step(p, t);
        steps.push(t);
    }
}

/// The first seed from `seed` on whose random schedule fails.
pub fn failing_random(p: &Program, seed: u64, tries: u64) -> Option<(Schedule, RunReport)> {
    (seed..seed + tries).find_map(|s| {
        let cand = random_schedule(p, s);
        let report = run(p, &cand);
        matches!(report.verdict, Verdict::Fail(_)).then_some((cand, report))
    })
}

/// Whether some execution with at most `bound` preemptions fails: every
/// reachable (state, current thread, preemptions used) is visited once.
pub fn fails_within(p: &Program, bound: usize) -> bool {
    fails_within_as(p, bound, |_| true)
}

/// Like [`fails_within`], for failures `wanted` accepts.
pub fn fails_within_as(
    p: &Program,
    bound: usize,
    wanted: impl Fn(&FailureSignature) -> bool,
) -> bool {
    let mut seen = HashSet::new();
    let mut stack = vec![(State::new(p), None::<usize>, 0usize)];
    while let Some((st, cur, used)) = stack.pop() {
        if !seen.insert((st.clone(), cur, used)) {
            continue;
        }
        let runnable = st.runnable_set(p);
        if runnable.is_empty() {
            if st.outcome(p).is_some_and(|sig| wanted(&sig)) {
                return true;
            }
            continue;
        }
        for &t in &runnable {
            let cost = usize::from(cur.is_some_and(|c| c != t && runnable.contains(&c)));
            if used + cost <= bound {
                let mut next = st.clone();
                next.step(p, t);
                stack.push((next, Some(t), used + cost));
            }
        }
    }
    false
}

/// Two threads each add 1 to a shared counter `rounds` times, reading and
/// writing it in separate steps with local work around: a lost update.
pub fn lost_update(rounds: usize, before: usize, between: usize) -> Program {
    let mut ops = Vec::new();
    for _ in 0..rounds {
        ops.extend(std::iter::repeat_n(Op::Local, before));
        ops.push(Op::Load(0));
        ops.extend(std::iter::repeat_n(Op::Local, between));
        ops.push(Op::StoreInc(0));
    }
    let expected = 2 * rounds as i64;
    Program {
        threads: vec![ops.clone(), ops],
        vars: 1,
        locks: 0,
        fail_fast: false,
        invariant: Arc::new(move |v| (v[0] != expected).then(|| format!("counter == {expected}"))),
    }
}

/// Thread 0 sets `x` to 1, 2, 3 and back to 0, with local work between;
/// threads 1, 2, 3 each read `x` once (after different amounts of local
/// work) and publish what they saw. The failure — they saw 1, 2 and 3 —
/// needs a read inside each of three windows of thread 0, so thread 0 must
/// be interrupted three times while it could run.
pub fn three_windows() -> Program {
    let gap = 8;
    let mut writer = vec![Op::Set(0, 1)];
    for c in [2, 3, 0] {
        writer.extend(std::iter::repeat_n(Op::Local, gap));
        writer.push(Op::Set(0, c));
    }
    let reader = |slot: usize, pre: usize| {
        let mut ops = vec![Op::Local; pre];
        ops.extend([Op::Load(0), Op::StoreReg(slot), Op::Local, Op::Local]);
        ops
    };
    Program {
        threads: vec![writer, reader(1, 3), reader(2, 12), reader(3, 21)],
        vars: 4,
        locks: 0,
        fail_fast: false,
        invariant: Arc::new(|v| (v[1..] == [1, 2, 3]).then(|| "readers saw 1, 2, 3".to_string())),
    }
}

pub fn shrink_with(p: &Program, original: &Schedule, jobs: usize) -> ShrinkResult {
    shrink_counting(p, original, jobs).0
}

/// Also returns the candidates run in each phase, in order of phases.
pub fn shrink_counting(
    p: &Program,
    original: &Schedule,
    jobs: usize,
) -> (ShrinkResult, Vec<(ShrinkPhase, usize)>) {
    let options = ShrinkOptions {
        jobs,
        ..ShrinkOptions::default()
    };
    let mut phases: Vec<(ShrinkPhase, usize)> = Vec::new();
    let res = shrink(
        original,
        |s: &Schedule| run(p, s),
        &options,
        |pr: &ShrinkProgress| match phases.last_mut() {
            Some((phase, n)) if *phase == pr.phase => *n += 1,
            _ => phases.push((pr.phase, 1)),
        },
    )
    .unwrap();
    (res, phases)
}

/// Re-running the result reproduces it: same failure, same executed run,
/// same counts; and it is no worse than the original.
pub fn check_result(p: &Program, original: &RunReport, res: &ShrinkResult) {
    let Verdict::Fail(sig) = &original.verdict else {
        panic!("original passes")
    };
    assert_eq!(&res.signature, sig);
    assert!(res.executed.steps.starts_with(&res.schedule.steps));
    let again = run(p, &res.schedule);
    assert_eq!(again.verdict, Verdict::Fail(sig.clone()));
    assert_eq!(again.executed, res.executed);
    assert_eq!(again.preemptions(), res.preemptions);
    assert_eq!(again.switches(), res.switches);
    assert_eq!(res.original_preemptions, original.preemptions());
    assert_eq!(res.original_switches, original.switches());
    assert!(res.preemptions <= res.original_preemptions);
    assert!(res.switches <= res.original_switches);
}

/// Everything but the count of runs made ahead in parallel.
pub fn comparable(mut r: ShrinkResult) -> ShrinkResult {
    r.speculative_runs = 0;
    r
}

/// One item of a generated thread.
#[derive(Clone, Debug)]
pub enum Item {
    Local(usize),
    /// Add one to `var`, holding `locks` (acquired in this order), with
    /// `gap` local steps between the read and the write.
    Inc {
        var: usize,
        gap: usize,
        locks: Vec<usize>,
    },
}

pub fn program(threads: &[Vec<Item>]) -> Program {
    let mut expected = [0i64; 2];
    let threads = threads
        .iter()
        .map(|items| {
            let mut ops = Vec::new();
            for it in items {
                match it {
                    Item::Local(n) => ops.extend(std::iter::repeat_n(Op::Local, *n)),
                    Item::Inc { var, gap, locks } => {
                        expected[*var] += 1;
                        ops.extend(locks.iter().map(|&l| Op::Acquire(l)));
                        ops.push(Op::Load(*var));
                        ops.extend(std::iter::repeat_n(Op::Local, *gap));
                        ops.push(Op::StoreInc(*var));
                        ops.extend(locks.iter().rev().map(|&l| Op::Release(l)));
                    }
                }
            }
            ops
        })
        .collect();
    Program {
        threads,
        vars: 2,
        locks: 2,
        fail_fast: false,
        invariant: Arc::new(move |v| {
            (0..2)
                .find(|&i| v[i] != expected[i])
                .map(|i| format!("var{i} == {}", expected[i]))
        }),
    }
}

/// A random program of the kind the proptest in `shrink_results.rs`
/// generates, from a seed.
pub fn random_program(rng: &mut Rng) -> Program {
    let mut below = |n: u64| (rng.next() % n) as usize;
    let threads: Vec<Vec<Item>> = (0..2 + below(2))
        .map(|_| {
            (0..1 + below(4))
                .map(|_| {
                    if below(4) == 0 {
                        Item::Local(1 + below(3))
                    } else {
                        let locks = match below(6) {
                            0..=2 => vec![],
                            3 => vec![0],
                            4 => vec![0, 1],
                            _ => vec![1, 0],
                        };
                        Item::Inc {
                            var: below(2),
                            gap: below(3),
                            locks,
                        }
                    }
                })
                .collect()
        })
        .collect();
    program(&threads)
}
