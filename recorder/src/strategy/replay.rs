//! Replay of a schedule: the actor of each step is forced; past its end the
//! default policy goes on.

use racetrace_formats::ActorId;

use super::{default_choice, Choice, Decision, Scheduler};

/// Forces a schedule (one actor per step), then follows the default policy.
pub struct Replay {
    steps: Vec<ActorId>,
}

impl Replay {
    pub fn new(steps: Vec<ActorId>) -> Replay {
        Replay { steps }
    }
}

impl Scheduler for Replay {
    fn next(&mut self, d: &Decision<'_>) -> Choice {
        match self.steps.get(d.step as usize) {
            Some(&a) if d.candidates.iter().any(|c| c.actor == a) => Choice::Actor(a),
            Some(&a) => Choice::Unavailable(a),
            None => Choice::Actor(default_choice(d)),
        }
    }
    fn name(&self) -> &'static str {
        "replay"
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::cand;
    use super::super::*;
    use super::*;

    #[test]
    fn replay_forces_then_defaults_and_reports_unavailable() {
        let mut r = Replay::new(vec![ActorId(1)]);
        let c = [cand(0, Readiness::Ready), cand(1, Readiness::Ready)];
        let mut dec = Decision {
            step: 0,
            current: Some(ActorId(0)),
            candidates: &c,
            actors: 2,
            atomic: None,
        };
        assert_eq!(r.next(&dec), Choice::Actor(ActorId(1)));
        dec.step = 1;
        assert_eq!(r.next(&dec), Choice::Actor(ActorId(0)));
        let mut r = Replay::new(vec![ActorId(5)]);
        dec.step = 0;
        assert_eq!(r.next(&dec), Choice::Unavailable(ActorId(5)));
    }
}
