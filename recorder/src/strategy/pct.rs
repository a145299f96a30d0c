//! PCT (probabilistic concurrency testing, Burckhardt et al., ASPLOS 2010)
//! as one more [`Scheduler`]: every actor gets a random priority when it is
//! first seen, the highest-priority ready actor always runs, and at `d - 1`
//! random steps (the *change points*, drawn over the estimated length `k`
//! of a run) the actor about to run drops to a priority below every initial
//! one. A bug that needs `d` ordering constraints is then hit with
//! probability at least `1 / (n * k^(d-1))` per run, whatever its shape —
//! far better than uniform choices for bugs that need a long stretch of one
//! actor running undisturbed.
//!
//! Only steps that touch shared state count (accesses and synchronization,
//! not the start, exit, spawn or join of actors, nor yields): `k` is their
//! number in a run and change points fall on them, so the bound stays
//! useful for programs whose runs are mostly thread bookkeeping.

use std::sync::atomic::{AtomicU64, Ordering};

use racetrace_formats::{ActorId, EventKind};

use super::{earliest_timeout, random_timeout, timeout_seed, Choice, Decision, Rng, Scheduler};

/// Initial priorities sit above this; change point `i` lowers an actor to
/// `i`, so later change points put actors below earlier ones.
const BASE: u64 = 1 << 32;

pub struct Pct {
    seed: u64,
    depth: u32,
    /// Estimated scheduling points of one run (change points fall in 0..k).
    k: u64,
    rng: Rng,
    /// Priority per actor id (None: not seen yet).
    prio: Vec<Option<u64>>,
    /// Steps at which the running actor's priority drops, sorted.
    changes: Vec<u64>,
    /// The last step counted (the loop may ask twice for one step; the
    /// drop must happen once).
    applied: Option<u64>,
    /// Steps touching shared state so far in this run.
    shared: u64,
    /// Draws for letting timed waits time out (see `random_timeout`), when
    /// timeouts are explored.
    timeouts: Option<Rng>,
}

impl Pct {
    /// One PCT run: `seed` fixes the priorities and change points;
    /// `timeouts`: timed waits may time out at any step, now and then.
    pub fn new(seed: u64, depth: u32, k: u64, timeouts: bool) -> Pct {
        let mut p = Pct {
            seed,
            depth: depth.max(1),
            k: k.max(1),
            rng: Rng::new(seed),
            prio: Vec::new(),
            changes: Vec::new(),
            applied: None,
            shared: 0,
            timeouts: timeouts.then(|| Rng::new(timeout_seed(seed))),
        };
        p.new_execution();
        p
    }

    fn priority(&mut self, a: ActorId) -> u64 {
        let i = a.0 as usize;
        if self.prio.len() <= i {
            self.prio.resize(i + 1, None);
        }
        if let Some(p) = self.prio[i] {
            return p;
        }
        // Random above BASE; equal draws are broken by actor id below.
        let p = BASE + (self.rng.next_u64() >> 33);
        self.prio[i] = Some(p);
        p
    }

    fn highest_ready(&mut self, d: &Decision<'_>) -> Option<ActorId> {
        let mut best: Option<(u64, ActorId)> = None;
        for c in d.candidates.iter().filter(|c| c.is_ready()) {
            let p = self.priority(c.actor);
            if best.is_none_or(|(bp, ba)| p > bp || (p == bp && c.actor.0 < ba.0)) {
                best = Some((p, c.actor));
            }
        }
        best.map(|b| b.1)
    }
}

impl Scheduler for Pct {
    fn new_execution(&mut self) {
        self.rng = Rng::new(self.seed);
        self.prio.clear();
        self.applied = None;
        self.shared = 0;
        if let Some(t) = &mut self.timeouts {
            *t = Rng::new(timeout_seed(self.seed));
        }
        self.changes = (0..self.depth - 1)
            .map(|_| self.rng.next_u64() % self.k)
            .collect();
        self.changes.sort_unstable();
    }

    fn next(&mut self, d: &Decision<'_>) -> Choice {
        // Everyone seen gets a priority now, in id order, so the draws do
        // not depend on who happens to be ready.
        for c in d.candidates {
            self.priority(c.actor);
        }
        if let Some(a) = self.timeouts.as_mut().and_then(|t| random_timeout(d, t)) {
            return Choice::Actor(a);
        }
        let Some(mut a) = self.highest_ready(d) else {
            return Choice::Actor(earliest_timeout(d.candidates));
        };
        let shared = d
            .candidates
            .iter()
            .any(|c| c.actor == a && touches_shared(c.op.kind));
        if shared && self.applied != Some(d.step) {
            self.applied = Some(d.step);
            let n = self.shared;
            self.shared += 1;
            if let Some(i) = self.changes.iter().position(|&s| s == n) {
                self.prio[a.0 as usize] = Some((self.depth as u64 - 1) - i as u64);
                a = self.highest_ready(d).unwrap_or(a);
            }
        }
        Choice::Actor(a)
    }

    fn end_execution(&mut self, _blocked: &[racetrace_formats::Event]) {
        LAST_SHARED_STEPS.store(self.shared, Ordering::Relaxed);
    }

    fn name(&self) -> &'static str {
        "pct"
    }
}

/// Shared-state steps of the last PCT run that ended in this process: what
/// the explorer takes as `k` for the runs after it.
static LAST_SHARED_STEPS: AtomicU64 = AtomicU64::new(0);

pub fn last_shared_steps() -> u64 {
    LAST_SHARED_STEPS.load(Ordering::Relaxed)
}

/// Whether a step performing `kind` touches state other actors see: an
/// access or a synchronization, not an actor's own bookkeeping.
fn touches_shared(kind: EventKind) -> bool {
    use EventKind::*;
    !matches!(
        kind,
        Spawn
            | ActorStart
            | ActorExit
            | Join
            | JoinTimeout
            | Yield
            | TaskCreate
            | TaskAwait
            | TaskSwitch
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::{Candidate, Readiness};
    use racetrace_formats::{Event, EventKind, LocId};

    fn cands(ids: &[u32]) -> Vec<Candidate> {
        ids.iter()
            .map(|&a| Candidate {
                actor: ActorId(a),
                op: Event {
                    actor: ActorId(a),
                    kind: EventKind::Read,
                    loc: LocId(0),
                    target: 0,
                    aux: 0,
                },
                readiness: Readiness::Ready,
                give_up: crate::strategy::GiveUp::Never,
                waker: None,
            })
            .collect()
    }

    fn run(p: &mut Pct, steps: u64) -> Vec<u32> {
        p.new_execution();
        let c = cands(&[0, 1, 2]);
        (0..steps)
            .map(|step| {
                let d = Decision {
                    step,
                    current: None,
                    candidates: &c,
                    actors: 3,
                    atomic: None,
                };
                match p.next(&d) {
                    Choice::Actor(a) => a.0,
                    _ => 99,
                }
            })
            .collect()
    }

    #[test]
    fn same_seed_same_schedule_and_depth_bounds_switches() {
        let a = run(&mut Pct::new(5, 3, 50, false), 50);
        assert_eq!(a, run(&mut Pct::new(5, 3, 50, false), 50));
        // All three always ready: one actor runs until a change point, so
        // there are at most d - 1 switches.
        let switches = a.windows(2).filter(|w| w[0] != w[1]).count();
        assert!(switches <= 2, "{a:?}");
        let differ = (0..20u64).any(|s| run(&mut Pct::new(s, 3, 50, false), 50) != a);
        assert!(differ);
    }

    #[test]
    fn asking_twice_for_a_step_applies_its_change_once() {
        let mut p = Pct::new(1, 2, 1, false);
        let c = cands(&[0, 1]);
        let d = Decision {
            step: 0,
            current: None,
            candidates: &c,
            actors: 2,
            atomic: None,
        };
        let first = p.next(&d);
        assert_eq!(p.next(&d), first);
    }
}
