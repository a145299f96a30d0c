//! A schedule as a sequence of small choices, one per scheduling point, as
//! a property-based testing library draws them (`racetrace.hypothesis`):
//! choice `k` at a step takes the `k`-th actor (modulo their number) in the
//! order "the current actor first, if it can go on, then the others by
//! id"; past the end of the sequence, choice 0. So 0 everywhere is the
//! default policy (no preemption), every sequence is a schedule the
//! program can follow, and a shrinker that makes choices smaller and the
//! sequence shorter makes the schedule have fewer preemptions.

use racetrace_formats::ActorId;

use super::{earliest_timeout, Choice, Decision, Scheduler};

pub struct Choices {
    choices: Vec<u32>,
}

impl Choices {
    pub fn new(choices: Vec<u32>) -> Choices {
        Choices { choices }
    }
}

/// The actor choice `k` names at `d` (ready candidates only; when none is
/// ready, the earliest timeout expires).
pub fn nth_choice(d: &Decision<'_>, k: u32) -> ActorId {
    let ready = d.candidates.iter().filter(|c| c.is_ready()).count();
    if ready == 0 {
        return earliest_timeout(d.candidates);
    }
    let cur = d
        .current
        .filter(|&a| d.candidates.iter().any(|c| c.actor == a && c.is_ready()));
    let k = k as usize % ready;
    if let Some(cur) = cur {
        if k == 0 {
            return cur;
        }
        // The others by id, the current one left out.
        return d
            .candidates
            .iter()
            .filter(|c| c.is_ready() && c.actor != cur)
            .nth(k - 1)
            .map_or(cur, |c| c.actor);
    }
    d.candidates
        .iter()
        .filter(|c| c.is_ready())
        .nth(k)
        .map_or(d.candidates[0].actor, |c| c.actor)
}

impl Scheduler for Choices {
    fn next(&mut self, d: &Decision<'_>) -> Choice {
        let k = self.choices.get(d.step as usize).copied().unwrap_or(0);
        Choice::Actor(nth_choice(d, k))
    }
    fn name(&self) -> &'static str {
        "choices"
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::cand;
    use super::super::*;
    use super::*;

    #[test]
    fn zero_keeps_the_current_actor_and_others_follow_by_id() {
        let c = [
            cand(0, Readiness::Ready),
            cand(1, Readiness::Ready),
            cand(2, Readiness::Ready),
        ];
        let d = Decision {
            step: 0,
            current: Some(ActorId(1)),
            candidates: &c,
            actors: 3,
            atomic: None,
        };
        let picks: Vec<u32> = (0..4).map(|k| nth_choice(&d, k).0).collect();
        assert_eq!(picks, vec![1, 0, 2, 1]);
        let d = Decision { current: None, ..d };
        assert_eq!(nth_choice(&d, 2), ActorId(2));
        let t = [
            cand(0, Readiness::Timeout(3.0)),
            cand(1, Readiness::Timeout(1.0)),
        ];
        let d = Decision {
            candidates: &t,
            ..d
        };
        assert_eq!(nth_choice(&d, 0), ActorId(1));
        let mut s = Choices::new(vec![1]);
        let d = Decision {
            step: 0,
            current: Some(ActorId(0)),
            candidates: &c,
            actors: 3,
            atomic: None,
        };
        assert_eq!(s.next(&d), Choice::Actor(ActorId(1)));
        let d = Decision { step: 5, ..d };
        assert_eq!(s.next(&d), Choice::Actor(ActorId(0)));
    }
}
