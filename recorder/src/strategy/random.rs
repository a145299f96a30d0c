//! Uniformly random choices, seeded: one seed names one schedule of a
//! deterministic program, on every platform.

use racetrace_formats::ActorId;

use super::{earliest_timeout, random_timeout, timeout_seed, Choice, Decision, Rng, Scheduler};

/// Uniformly random among the ready candidates (after an optional forced
/// prefix); timeouts expire only when nothing is ready, unless `timeouts`:
/// then now and then at any step (`random_timeout`). Seeded, so a seed
/// names one schedule of a deterministic program.
pub struct Random {
    prefix: Vec<ActorId>,
    seed: u64,
    rng: Rng,
    timeouts: Option<Rng>,
}

impl Random {
    pub fn new(seed: u64, prefix: Vec<ActorId>, timeouts: bool) -> Random {
        Random {
            prefix,
            seed,
            rng: Rng::new(seed),
            timeouts: timeouts.then(|| Rng::new(timeout_seed(seed))),
        }
    }
}

impl Scheduler for Random {
    fn new_execution(&mut self) {
        self.rng = Rng::new(self.seed);
        if let Some(t) = &mut self.timeouts {
            *t = Rng::new(timeout_seed(self.seed));
        }
    }
    fn next(&mut self, d: &Decision<'_>) -> Choice {
        if let Some(&a) = self.prefix.get(d.step as usize) {
            return if d.candidates.iter().any(|c| c.actor == a) {
                Choice::Actor(a)
            } else {
                Choice::Unavailable(a)
            };
        }
        if let Some(a) = self.timeouts.as_mut().and_then(|t| random_timeout(d, t)) {
            return Choice::Actor(a);
        }
        let ready = d.candidates.iter().filter(|c| c.is_ready()).count();
        if ready == 0 {
            return Choice::Actor(earliest_timeout(d.candidates));
        }
        let k = (self.rng.next_u64() % ready as u64) as usize;
        let c = d.candidates.iter().filter(|c| c.is_ready()).nth(k);
        Choice::Actor(c.map(|c| c.actor).unwrap_or(d.candidates[0].actor))
    }
    fn name(&self) -> &'static str {
        "random"
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::cand;
    use super::super::*;
    use super::*;

    #[test]
    fn random_is_seeded() {
        let c = [
            cand(0, Readiness::Ready),
            cand(1, Readiness::Ready),
            cand(2, Readiness::Ready),
        ];
        let run = |seed| {
            let mut r = Random::new(seed, vec![], false);
            (0..32)
                .map(|i| {
                    let d = Decision {
                        step: i,
                        current: None,
                        candidates: &c,
                        actors: 3,
                        atomic: None,
                    };
                    match r.next(&d) {
                        Choice::Actor(a) => a.0,
                        _ => 99,
                    }
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        assert!(run(7).iter().all(|&a| a < 3));
    }
}
