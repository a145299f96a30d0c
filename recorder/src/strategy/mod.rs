//! Scheduling strategies: the one interface every way of choosing the next
//! actor implements (one file each: [`replay`] of a schedule, uniformly
//! [`random`], [`pct`], [`dpor`], [`markers`] written by people, and
//! [`choices`] drawn by a property-based testing library), in the manner of Shuttle's `Scheduler` trait. The control loop
//! (`control`) does the turn-taking, blocking, deadlock detection, timeouts
//! and tracing once for all of them.
//!
//! At every scheduling point the loop hands the strategy the *candidates*:
//! each actor that can perform its next visible operation now, with that
//! operation (an [`Event`] whose `target` may be unknown for a `Spawn`, as
//! in `racetrace_analyzer::dpor::PendingOp`). A candidate is either
//! [`Readiness::Ready`], or [`Readiness::Timeout`]: it can only go on by
//! letting its timeout expire (a timed wait that nothing has satisfied, or
//! a `time.sleep`). Choosing a `Timeout` candidate advances the virtual
//! clock to its deadline.

pub mod choices;
pub mod dpor;
pub mod journal;
pub mod markers;
pub mod pct;
pub mod random;
pub mod replay;

pub use random::Random;
pub use replay::Replay;

use racetrace_formats::{ActorId, Event};

/// Whether a candidate can go on by itself or only by timing out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Readiness {
    Ready,
    /// Only by letting the timeout expire at this virtual time (seconds):
    /// a `time.sleep`, or a timed wait that gives up (its `op` is then what
    /// it ends in: `LockAcquireFail`, `EventWaitTimeout`, ...).
    Timeout(f64),
}

/// Whether a candidate's wait could also end by giving up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GiveUp {
    /// It waits until it gets what it waits for (or it does not wait).
    Never,
    /// A try (`blocking=False`): it takes the resource if it is free when
    /// it goes, else fails; it never waits.
    Try,
    /// A timed wait: it may time out whenever what it waits for is not
    /// there.
    Timeout,
}

/// An actor able to take the next step.
#[derive(Clone, Copy, Debug)]
pub struct Candidate {
    pub actor: ActorId,
    /// The visible operation it is about to perform (predicted for an actor
    /// blocked inside a primitive: the event the primitive will record).
    /// What DPOR's `Explorer::choose` takes as a `PendingOp`.
    #[allow(dead_code)] // read by the DPOR strategy
    pub op: Event,
    pub readiness: Readiness,
    pub give_up: GiveUp,
    /// An asyncio task's step: the step (event index) that made it ready,
    /// if known (it cannot go before that one; plus `TASK_AFTER_ALL` when
    /// it cannot go before any step up to that one).
    #[allow(dead_code)] // read by the DPOR strategy
    pub waker: Option<u64>,
}

impl Candidate {
    pub fn is_ready(&self) -> bool {
        self.readiness == Readiness::Ready
    }
}

/// What the control loop knows at a scheduling point.
pub struct Decision<'a> {
    /// Index of the step about to be taken (= events written so far).
    pub step: u64,
    /// The actor of the previous step, if any.
    pub current: Option<ActorId>,
    /// Candidates in actor-id order; never empty.
    pub candidates: &'a [Candidate],
    /// Actors created so far (ids `0..actors`).
    #[allow(dead_code)] // for strategies that weigh actors (PCT)
    pub actors: u32,
    /// The step continues that asyncio task's step: the other tasks of its
    /// loop cannot come between, threads can (they are the other
    /// candidates). A strategy that takes task steps whole (DPOR, unless it
    /// splits them) chooses the task.
    pub atomic: Option<ActorId>,
}

/// The strategy's answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Choice {
    Actor(ActorId),
    /// The strategy insists on an actor that cannot take this step: the run
    /// stops (a replayed schedule that does not fit the program).
    Unavailable(ActorId),
    /// Nothing new can come of this execution (DPOR: every candidate is in
    /// the sleep set, or the preemption bound is reached): the run stops,
    /// with status `abandoned`.
    #[allow(dead_code)] // returned by the DPOR strategy (see the test below)
    Abandon,
}

/// One way of choosing who goes next.
pub trait Scheduler: Send {
    /// A new execution begins (the program restarts from its initial state).
    fn new_execution(&mut self) {}
    /// Which candidate takes `d.step`. Called again for the same step when
    /// the chosen actor, woken from a wait, found nothing to do and waits
    /// again (it then records a `Yield`, so every step still has one event).
    fn next(&mut self, d: &Decision<'_>) -> Choice;
    /// The event the chosen actor performed at the step (for a `Spawn`,
    /// with the child's id), as DPOR's `Explorer::executed` takes it.
    fn executed(&mut self, _ev: &Event) {}
    /// The execution is over; `blocked` lists what the actors still alive
    /// were waiting to do (a deadlock), as DPOR's `end_execution` takes it.
    fn end_execution(&mut self, _blocked: &[Event]) {}
    /// Short name, for reports.
    #[allow(dead_code)]
    fn name(&self) -> &'static str;
}

/// The default policy, used when a schedule runs out: keep the current
/// actor while it is ready, else the lowest ready id; when no actor is
/// ready, let the earliest timeout expire (lowest id on ties).
pub fn default_choice(d: &Decision<'_>) -> ActorId {
    if let Some(cur) = d.current {
        if d.candidates.iter().any(|c| c.actor == cur && c.is_ready()) {
            return cur;
        }
    }
    if let Some(c) = d.candidates.iter().find(|c| c.is_ready()) {
        return c.actor;
    }
    earliest_timeout(d.candidates)
}

/// How rarely a randomized strategy lets a timeout expire while some actor
/// can go on: one choice in `TIMEOUT_ODDS` where one could (a timed wait
/// may time out whenever it is blocked; poll loops should still advance).
pub const TIMEOUT_ODDS: u64 = 8;

/// For randomized strategies exploring timeouts: now and then (1 in
/// [`TIMEOUT_ODDS`] when some actor is ready, always when none is) a
/// candidate that can only go by timing out, chosen uniformly; `None` to
/// choose among the ready ones as usual. Draws from `rng` only when such a
/// candidate exists, so programs without timeouts get the same schedules.
pub fn random_timeout(d: &Decision<'_>, rng: &mut Rng) -> Option<ActorId> {
    let waiting = d.candidates.iter().filter(|c| !c.is_ready()).count();
    if waiting == 0 {
        return None;
    }
    let ready = d.candidates.len() - waiting;
    if ready > 0 && !rng.next_u64().is_multiple_of(TIMEOUT_ODDS) {
        return None;
    }
    let k = (rng.next_u64() % waiting as u64) as usize;
    d.candidates
        .iter()
        .filter(|c| !c.is_ready())
        .nth(k)
        .map(|c| c.actor)
}

/// The seed of the draws for timeouts, apart from the strategy's own.
pub fn timeout_seed(seed: u64) -> u64 {
    seed ^ 0x7469_6d65_6f75_7473
}

pub fn earliest_timeout(cands: &[Candidate]) -> ActorId {
    let mut best: Option<(f64, ActorId)> = None;
    for c in cands {
        if let Readiness::Timeout(t) = c.readiness {
            if best.is_none_or(|(bt, _)| t < bt) {
                best = Some((t, c.actor));
            }
        }
    }
    best.map(|b| b.1).unwrap_or(cands[0].actor)
}

/// splitmix64: small, fast, and the same on every platform, so a seed
/// names the same choices everywhere.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use racetrace_formats::{EventKind, LocId};

    pub(super) fn cand(a: u32, r: Readiness) -> Candidate {
        Candidate {
            actor: ActorId(a),
            op: Event {
                actor: ActorId(a),
                kind: EventKind::Read,
                loc: LocId(0),
                target: 0,
                aux: 0,
            },
            readiness: r,
            give_up: GiveUp::Never,
            waker: None,
        }
    }

    #[test]
    fn default_keeps_current_then_lowest_then_earliest_timeout() {
        let c = [cand(1, Readiness::Ready), cand(2, Readiness::Ready)];
        let d = |cur, cands: &[Candidate]| {
            default_choice(&Decision {
                step: 0,
                current: cur,
                candidates: cands,
                actors: 3,
                atomic: None,
            })
        };
        assert_eq!(d(Some(ActorId(2)), &c), ActorId(2));
        assert_eq!(d(Some(ActorId(0)), &c), ActorId(1));
        let t = [
            cand(0, Readiness::Timeout(5.0)),
            cand(1, Readiness::Timeout(2.0)),
        ];
        assert_eq!(d(Some(ActorId(0)), &t), ActorId(1));
        let mixed = [cand(0, Readiness::Timeout(1.0)), cand(3, Readiness::Ready)];
        assert_eq!(d(Some(ActorId(0)), &mixed), ActorId(3));
    }

    /// The DPOR engine plugs in as one more strategy: its `choose` takes the
    /// candidates' pending operations, `executed` and `end_execution` are
    /// called by the control loop. Driven here by hand over a two-actor
    /// program whose steps are two writes of one key each.
    #[test]
    fn dpor_engine_fits_the_interface() {
        use racetrace_analyzer::dpor::{DporConfig, Explorer};
        use racetrace_formats::Tables;

        struct Dpor(Explorer, Tables);
        impl Scheduler for Dpor {
            fn next(&mut self, d: &Decision<'_>) -> Choice {
                let ops: Vec<Event> = d
                    .candidates
                    .iter()
                    .filter(|c| c.is_ready())
                    .map(|c| c.op)
                    .collect();
                match self.0.choose(&ops) {
                    Some(a) => Choice::Actor(a),
                    None => Choice::Abandon,
                }
            }
            fn executed(&mut self, ev: &Event) {
                self.0.executed(ev, &self.1)
            }
            fn end_execution(&mut self, blocked: &[Event]) {
                self.0.end_execution(blocked)
            }
            fn name(&self) -> &'static str {
                "dpor"
            }
        }
        let write = |a: u32| Event {
            actor: ActorId(a),
            kind: EventKind::Write,
            loc: LocId(0),
            target: 0,
            aux: 0,
        };
        let mut dpor = Dpor(Explorer::new(DporConfig::default()), Tables::default());
        let mut orders = Vec::new();
        while dpor.0.begin_execution() {
            dpor.new_execution();
            let mut left = vec![1u32, 2];
            let mut order = Vec::new();
            for step in 0..2 {
                let cands: Vec<Candidate> = left
                    .iter()
                    .map(|&a| Candidate {
                        actor: ActorId(a),
                        op: write(a),
                        readiness: Readiness::Ready,
                        give_up: GiveUp::Never,
                        waker: None,
                    })
                    .collect();
                let d = Decision {
                    step,
                    current: None,
                    candidates: &cands,
                    actors: 3,
                    atomic: None,
                };
                let Choice::Actor(a) = dpor.next(&d) else {
                    panic!("abandoned")
                };
                dpor.executed(&write(a.0));
                left.retain(|&x| x != a.0);
                order.push(a.0);
            }
            dpor.end_execution(&[]);
            orders.push(order);
        }
        orders.sort();
        assert_eq!(orders, vec![vec![1, 2], vec![2, 1]]);
    }
}
